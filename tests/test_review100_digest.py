"""helper-100: a digest item's buttons go under the message that shows it (08216a6)."""

from __future__ import annotations

import re

from bot.alert.outbox import Alert
from bot.live.sender import _digest_parts

from .test_review97_chat import weather_reports

LONG_TITLE = "Очень длинное название канала " * 4
TEXTS = weather_reports(40)


def _alert(i: int, rule: str, cid: int, mid: int) -> Alert:
    return Alert(id=100 + i, rule=rule, title=rule.title(), severity="low", channel_id=cid, channel_title=LONG_TITLE,
                 username=None, message_id=mid, link=f"https://t.me/c/{cid}/{mid}", date="2026-11-29T10:00:00+00:00",
                 text=TEXTS[mid % 40], hits=(("погода", "Погода", 0, 6, 1.0, "form"),), story_id=mid, story_size=1)


def test_one_post_in_two_low_rules_across_a_split_keeps_each_items_buttons_under_its_message() -> None:
    """One post matched by two low-severity rules is two items with one link. When the split past
    4096 falls between them, the second item is looked for from the first one's part, which has
    its link: its buttons go under the message before the one that shows it, and its deletion
    notice would reply to that message (`_digest_items`)."""
    alerts = [_alert(i, "aaa", 1700000000 + i, i + 1) for i in range(16)]
    alerts.append(_alert(50, "aaa", 1700000099, 99))  # item 17: the post, under rule aaa
    alerts.append(_alert(51, "bbb", 1700000099, 99))  # item 18: the same post, under rule bbb
    alerts += [_alert(60 + i, "bbb", 1700000200 + i, 200 + i) for i in range(2)]
    parts = _digest_parts(alerts, None)
    assert len(parts) == 2
    for p in parts:
        shown = [int(n) for n in re.findall(r"^([0-9]+)\. ", p.text, flags=re.MULTILINE)]
        assert [n for n, _ in p.items] == shown
