"""An alert the sender held (a flood wait) whose post the channel then edits so its rule no longer
matches it, live: as replay does (tests/test_alert_edited_before_shown.py), the story's one alert
quotes another channel's report of the event that still matches, however far into a big story
that report is; muted only when no post of the story matches; and muted so, it is news again when
the channel edits the words back. Real TelegramClient against the offline server, a real SQLite store."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from telethon.helpers import add_surrogate, del_surrogate
from telethon.tl.types import MessageEntityBold

from bot.alert.outbox import NO_MATCH
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone
from .test_live import DESERTION, DESERTION_2, MASH, SHOT, TOPOR, alerts, channels, run, running
from .test_live_rule_off import RULE_OFF, held, resumed, rules

EDITED = "В Краснодаре задержали троих, сбежавших из воинской части"  # «дезертиров» taken out
OTHER = 1700000077  # a channel not watched, whose posts an earlier run stored
FILLER = "В Краснодаре задержали троих военных, сбежавших из воинской части"  # the story's, without the rule's word


def states(service: Any) -> list[tuple[int, int, str, str | None]]:
    return [(r["channel_id"], r["message_id"], r["state"], r["error"])
            for r in service.store.db.query("SELECT channel_id, message_id, state, error FROM alerts ORDER BY id")]


def stored_text(service: Any, channel_id: int, message_id: int) -> str | None:
    row = service.store.db.execute("SELECT text FROM posts WHERE channel_id = ? AND message_id = ?",
                                   [channel_id, message_id]).fetchone()
    return None if row is None else str(row[0])


def bold(message: Any) -> list[str]:
    """The words an alert message shows in bold (its hits), its first line (the rule) left out; entity
    offsets count UTF-16 units."""
    text, head = add_surrogate(message.text), len(add_surrogate(message.text.split("\n", 1)[0]))
    return [del_surrogate(text[e.offset:e.offset + e.length]) for e in message.entities
            if isinstance(e, MessageEntityBold) and e.offset > head]


def seed_fillers(tmp_path: Path, n: int) -> None:
    """`n` posts of the story (an unwatched channel's, stored by an earlier run half an hour ago) that
    do not have the rule's word: the story's oldest posts."""
    t0 = datetime.now(timezone.utc) - timedelta(minutes=30)
    store = Store(tmp_path / "tgwatch.db")
    with Pipeline(store, Matcher(load_rules(tmp_path / "rules"))) as pipeline:
        list(pipeline.process([Post(OTHER, i, t0 + timedelta(seconds=i), FILLER, channel_title="Другой")
                               for i in range(1, n + 1)]))
    store.close()


def edited_while_held(fake: FakeTelegram, tmp_path: Path, *others: tuple[int, str]) -> int:
    """SHOT's desertion post, whose alert a long flood wait holds, then `others` (channel, text) of
    its story; SHOT edits «дезертиров» out before the service stops. SHOT's message id."""
    async def go() -> int:
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            fake.flood("SendMessageRequest", 3600)
            mid = fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 1)
            await deliver_alone(service)
            await eventually(lambda: service.sender.paused_until is not None)
            posts = service.store.count("posts")
            for channel, text in others:
                fake.publish(channel, text)
            await eventually(lambda: service.store.count("posts") == posts + len(others))
            fake.edit(SHOT, mid, EDITED)
            await eventually(lambda: stored_text(service, SHOT, mid) == EDITED)
            assert alerts(fake) == [] and service.store.count("alerts") == 1
            return mid
    return run(go())


@pytest.mark.parametrize("fillers", [0, 200])
def test_a_held_alert_whose_post_is_edited_away_alerts_with_another_channels_report(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture, fillers: int) -> None:
    """Mash and Топор told the event too: the analyst hears of it, by Mash's report (the oldest that
    matches), its words in bold; the story's later posts edit that one alert, never a second. With
    200 older posts of the story that lack the word, Mash's is past the story's first 200."""
    channels(fake)
    rules(tmp_path)
    seed_fillers(tmp_path, fillers)
    mid = edited_while_held(fake, tmp_path, (MASH, DESERTION_2), (TOPOR, DESERTION_2 + ", пишут местные каналы"))
    caplog.set_level(logging.INFO, logger="bot")

    async def go() -> None:
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            await deliver_alone(service)
            await fake.idle()
            assert len(alerts(fake)) == 1, states(service)
            [(channel, message, state, error)] = states(service)
            assert (channel, state, error) == (MASH, "sent", None)
            assert stored_text(service, channel, message) == DESERTION_2
            fake.publish(TOPOR, "Дезертиров из воинской части в Краснодаре задержали, сообщают источники")
            fake.edit(SHOT, mid, DESERTION)  # the words back in SHOT's: still the one alert
            await eventually(lambda: bool(alerts(fake)[0].edits))
            await deliver_alone(service)
            await fake.idle()
    run(go())
    [alert] = alerts(fake)
    assert alert.text.split("\n")[1].startswith("Mash"), alert.text
    assert "https://t.me/mash/" in str([getattr(e, "url", "") for e in alert.entities])
    assert bold(alert) == ["дезертиров"] and DESERTION_2[:40] in alert.text
    assert f"post {mid} of channel {SHOT} no longer matches; it quotes post" in caplog.text


def test_a_low_alert_whose_post_is_edited_away_goes_in_the_digest_with_another_channels_report(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """The digest checks the alerts it collects the same way: its item links Mash's post, not none."""
    from .test_live_sender_faults import digests

    channels(fake)

    async def go() -> None:
        async with running(fake, tmp_path, rules=rules(tmp_path, severity="low")) as service:
            mid = fake.publish(SHOT, DESERTION)
            fake.publish(MASH, DESERTION_2)
            await eventually(lambda: service.store.count("posts") == 2 and service.store.count("alerts") == 1)
            fake.edit(SHOT, mid, EDITED)
            await eventually(lambda: stored_text(service, SHOT, mid) == EDITED)
            assert await service.sender.send_digest() == 1
            assert [(r[0], r[2]) for r in states(service)] == [(MASH, "digested")]
    run(go())
    [digest] = digests(fake)
    assert "Mash" in digest.text and "https://t.me/mash/" in str([getattr(e, "url", "") for e in digest.entities])


def test_a_held_alert_whose_story_has_no_other_matching_post_is_muted(fake: FakeTelegram, tmp_path: Path) -> None:
    channels(fake)
    rules(tmp_path)
    mid = edited_while_held(fake, tmp_path, (MASH, EDITED + " полицией"))

    async def go() -> list[tuple[int, int, str, str | None]]:
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            await deliver_alone(service)
            await fake.idle()
            return states(service)
    assert run(go()) == [(SHOT, mid, "muted", NO_MATCH)] and alerts(fake) == []


def test_an_alert_muted_for_its_post_edited_away_is_news_again_when_the_words_come_back(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """As a new post with the words would be: the alert goes out, quoting the post as it is now."""
    channels(fake)
    rules(tmp_path)
    mid = edited_while_held(fake, tmp_path)

    async def go() -> None:
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            await deliver_alone(service)
            assert states(service) == [(SHOT, mid, "muted", NO_MATCH)] and alerts(fake) == []
            fake.edit(SHOT, mid, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 1)
            assert states(service) == [(SHOT, mid, "sent", None)]
    run(go())
    [alert] = alerts(fake)
    assert alert.text.split("\n")[1].startswith("SHOT") and bold(alert) == ["дезертиров"]


def test_the_other_posts_of_the_story_are_matched_off_the_loop(fake: FakeTelegram, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding the post to quote instead matches the story's posts as the alert's own post is matched:
    in a worker thread, holding the pipeline's `matching` lock (a costly rule must not freeze the loop)."""
    channels(fake)
    rules(tmp_path)
    seed_fillers(tmp_path, 3)
    edited_while_held(fake, tmp_path, (MASH, DESERTION_2))
    seen: list[tuple[str, bool, bool]] = []  # (post text, on the loop?, lock held?) of the service's matches
    pipelines: list[Pipeline] = []
    make, match = Pipeline.__init__, Matcher.match

    def made(self: Pipeline, *a: Any, **kw: Any) -> None:
        make(self, *a, **kw)
        pipelines.append(self)

    def spied(self: Matcher, post: Any, *a: Any, **kw: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:
            on_loop = False
        seen.append((post.text, on_loop, any(p.matching.locked() for p in pipelines)))
        return match(self, post, *a, **kw)

    monkeypatch.setattr(Pipeline, "__init__", made)
    monkeypatch.setattr(Matcher, "match", spied)

    async def go() -> None:
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            await deliver_alone(service)
            await fake.idle()
            assert states(service)[0][::2] == (MASH, "sent")
    run(go())
    assert {text for text, _, _ in seen} >= {EDITED, FILLER, DESERTION_2}  # its own, then the story's, oldest first
    assert [call for call in seen if call[1] or not call[2]] == []


def test_an_edit_of_the_post_of_an_alert_muted_for_its_rule_switched_off_does_not_send_it(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Only the words coming back make the post news again: an edit of a post whose alert was muted
    for another reason (here its rule was off while the alert waited) is no new report."""
    channels(fake)
    rules(tmp_path)
    held(fake, tmp_path)
    rules(tmp_path, extra="enabled = false\n")
    assert run(resumed(fake, tmp_path)) == [("muted", RULE_OFF)]
    rules(tmp_path)

    async def go() -> None:
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            [(channel, mid, _, _)] = states(service)
            fake.edit(SHOT, mid, DESERTION + " Подробности позже.")
            await eventually(lambda: stored_text(service, SHOT, mid) != DESERTION)
            await deliver_alone(service)
            await fake.idle()
            assert states(service) == [(SHOT, mid, "muted", RULE_OFF)] and alerts(fake) == []
    run(go())
