"""helper-192: what analysts see in Telegram (alerts, their updates, digests), checked as the chat
shows them: through the real TelegramClient and the fake server side (tests/fake_telegram.py)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.alert.outbox import Alert
from bot.live.sender import _digest_parts

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, DESERTION_2, MASH, SHOT, TOPOR, alerts, run, running
from .test_live_edit_story import CORDON

# -- bidi: a channel's name must not turn the alert's own words round ----------------------------------

_EMBED = "\u202a\u202b\u202d\u202e"  # LRE RLE LRO RLO: in force up to a PDF or the line's end
_ISOLATE = "\u2066\u2067\u2068"  # LRI RLI FSI: up to a PDI or the line's end
_PDF, _PDI = "\u202c", "\u2069"
RLO_TITLE = "SHOT \u202eлортнок"  # an override its name never closes: «SHOT контрол», and all after it
ARABIC_TITLE = "أخبار"  # a name in Arabic letters, first on the alert's channel line


def _open_at(line: str, at: int) -> int:
    """How many embeddings, overrides and isolates are in force at `line[at]` (Unicode's bidi
    algorithm, rules X1-X8): text in one is drawn in its direction, not the line's."""
    stack: list[str] = []
    for c in line[:at]:
        if c in _EMBED:
            stack.append("e")
        elif c in _ISOLATE:
            stack.append("i")
        elif c == _PDF and stack and stack[-1] == "e":
            stack.pop()
        elif c == _PDI and "i" in stack:
            while stack.pop() != "i":
                pass
    return len(stack)


def _right_to_left(line: str) -> bool:
    """Does the client lay `line` out right to left? Its first strong letter decides, skipping what
    isolates hold (rule P2)."""
    depth = 0
    for c in line:
        if c in _ISOLATE:
            depth += 1
        elif c == _PDI and depth:
            depth -= 1
        elif not depth and unicodedata.bidirectional(c) in ("L", "R", "AL"):
            return unicodedata.bidirectional(c) != "L"
    return False


def _times_read_in_order(text: str) -> None:
    """Every time the message gives («09:04») stands in a line laid out left to right, under no
    override or embedding a name opened: as the analyst expects to read it."""
    for line in text.splitlines():
        for m in re.finditer(r"\d\d:\d\d", line):
            assert _open_at(line, m.start()) == 0 and not _right_to_left(line), (line, m.group())


def test_a_channel_name_with_bidi_controls_or_arabic_letters_leaves_the_alerts_own_words_in_order(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """A channel named with an override it never closes (U+202E) reads the rest of the alert's
    channel line backwards («CTU 40:90 02-11-4202 · SHOT»), and a story line after it; a name in
    Arabic letters first on the line lays that line out right to left. Alerts and their updates
    when the story grows must read as for any other channel."""
    async def go() -> None:
        fake.add_channel(SHOT, "shot_shot", RLO_TITLE)
        fake.add_channel(MASH, "mash", ARABIC_TITLE)
        fake.add_channel(TOPOR, "topor", "Топор " + RLO_TITLE)
        async with running(fake, tmp_path):
            fake.publish(MASH, DESERTION)  # its Arabic name opens the alert's channel line
            await eventually(lambda: len(alerts(fake)) == 2)
            fake.publish(SHOT, DESERTION_2)  # the story grows: its line names SHOT
            await eventually(lambda: all(m.edits for m in alerts(fake)))
            fake.publish(TOPOR, CORDON)  # another event: its alert's channel line names Топор
            await eventually(lambda: len(alerts(fake)) == 3)
            shown = [m.text for m in alerts(fake)] + [m.edits[-1][1] for m in alerts(fake) if m.edits]
            assert sum("story #1 (2 posts)" in t for t in shown) >= 2  # the updates' story line names both
            for text in shown:
                _times_read_in_order(text)
    run(go())


def test_a_digest_item_of_such_a_channel_reads_in_order() -> None:
    alerts_ = [Alert(id=1 + i, rule="weather", title="Weather", severity="low", channel_id=1700000000 + i,
                     channel_title=title, username=None, message_id=5, link=f"https://t.me/c/{1700000000 + i}/5",
                     date="2026-11-29T10:00:00+00:00", text="Погода: завтра метель",
                     hits=(("погода", "Погода", 0, 6, 1.0, "form"),), story_id=1 + i, story_size=1)
               for i, title in enumerate((RLO_TITLE, ARABIC_TITLE))]
    for part in _digest_parts(alerts_, None):
        for line in part.text.splitlines():
            if re.match(r"[0-9]+\. ", line):
                at = line.index(": Погода")  # the item's own words after the channel's name
                assert _open_at(line, at) == 0 and not _right_to_left(line), line



_BIDI_TEXT = st.lists(st.sampled_from([*"ab <&", *_EMBED, *_ISOLATE, _PDF, _PDI, "\u200f", "أ", "١", "\n"]), max_size=16)


@given(_BIDI_TEXT.map("".join), st.data())
def test_whatever_controls_a_post_holds_the_words_after_its_snippet_read_in_order(text: str, data: st.DataObject) -> None:
    """Unclosed openers, closers with nothing to close (a stray U+2069 would close the isolate around
    it), bold spans anywhere: the alert's own words after the post's are under no override."""
    from telethon.extensions import html as tl_html

    from bot.alert.html import bold_spans

    n = len(text)
    spans = data.draw(st.lists(st.tuples(st.integers(0, n), st.integers(0, n)).filter(lambda p: p[0] < p[1]), max_size=3))
    plain = tl_html.parse("x " + bold_spans(text, spans) + " 12:04")[0]
    line = plain.splitlines()[-1]
    assert _open_at(line, line.rindex("12:04")) == 0, repr(plain)

# -- a snippet's edges: never inside a flag or an emoji made of several ---------------------------------

FLAGS = "🇷🇺🇺🇦"  # regional-indicator letters read in pairs from where a run of them starts
FAMILY = "👨\u200d👩\u200d👧"  # one emoji: three joined by U+200D


def _flags(text: str) -> list[str]:
    """The flags a client draws: each run of regional-indicator letters read two by two."""
    out: list[str] = []
    for letters in re.findall("[\U0001F1E6-\U0001F1FF]+", text):
        out += [letters[i:i + 2] for i in range(0, len(letters), 2)]
    return out


def _snippet_line(text: str, hit: str) -> str:
    from telethon.extensions import html as tl_html

    from bot.alert.html import render_html

    from .test_alert_html import alert

    s = text.index(hit)
    return tl_html.parse(render_html(alert(text, [(s, s + len(hit))])))[0].splitlines()[3]


def test_a_snippet_cut_in_a_run_of_flags_shows_the_posts_flags_not_others() -> None:
    """Cut after the first letter of a flag, a run of 🇷🇺🇺🇦 read from there pairs as 🇺🇺 🇦🇷 (Argentina's);
    cut before its second, the snippet ends on a lone letter."""
    text = FLAGS * 75 + " Задержан дезертир " + FLAGS * 200
    line = _snippet_line(text, "дезертир")
    shown = _flags(line)
    assert shown and set(shown) <= {"🇷🇺", "🇺🇦"}, sorted(set(shown))


def test_a_snippet_cut_in_an_emoji_of_several_shows_it_whole_or_not_at_all() -> None:
    """A family (👨‍👩‍👧) the window's end cuts after 👨‍👩 is drawn as two other emoji."""
    text = "Задержан дезертир " + "слово " * 63
    text = text[:397] + FAMILY + " и ещё " + "слово " * 40
    line = _snippet_line(text, "дезертир")
    parts = [c for c in FAMILY if c != "\u200d"]
    assert FAMILY in line or not any(c in line for c in parts), line[-20:]
