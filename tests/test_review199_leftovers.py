"""helper-199: leftovers in what analysts get (alerts split past 4096, file captions), read the way
Telegram reads them: through the real TelegramClient and the fake server side (tests/fake_telegram.py)."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telethon.helpers import add_surrogate

from bot.alert.html import MAX_LENGTH, to_parts

from .fake_telegram import FakeTelegram, eventually
from .test_live import SHOT, channels, run, running

# -- a line of over 4096 units with no space: the alert is split, and every part is whole text -----------

RUNNER_CHAIN = "🏃\u200d" * 2500 + "🏃"  # emoji joined by U+200D: one character drawn, 7,501 UTF-16 units


@pytest.mark.parametrize("pad", ["", "!", "!!"])  # moves the 4096th unit along the chain's surrogate pairs
def test_an_alert_whose_post_is_a_wall_of_joined_emoji_arrives_in_parts_within_4096_with_nothing_lost(
        fake: FakeTelegram, tmp_path: Path, pad: str) -> None:
    """A post of a desertion and a chain of emoji joined by U+200D (one grapheme, so the alert's
    snippet keeps it whole): the alert is over 4096 UTF-16 units on one line with no space. Telethon's
    splitter cut it at any code unit, inside an emoji's surrogate pair, and failed to decode the part:
    the alert was retried and given up, never shown."""
    text = f"В Краснодаре задержали троих дезертиров{pad} {RUNNER_CHAIN}"

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path):
            fake.publish(SHOT, text)
            await eventually(lambda: any("matched:" in m.text for m in fake.chat))
            sent = [m.text for m in fake.chat]
            assert len(sent) >= 2 and all(len(add_surrogate(t)) <= MAX_LENGTH for t in sent)
            assert RUNNER_CHAIN in "".join(sent)  # every emoji and joiner of the chain, in order
    run(go())


_PIECES = st.sampled_from(["🏃", "\u200d", "a", "中", "&amp;", "й", "\u0306", "🇷🇺", "👍🏻", "\ufe0f", "&lt;",
                           "https://t.me/x?a=1&amp;b=2"])


@given(st.lists(_PIECES, min_size=1, max_size=30), st.integers(0, 3))
@settings(max_examples=60, deadline=None)
def test_a_long_line_with_no_space_splits_into_parts_telegram_takes_and_keeps_every_character(
        pieces: list[str], pad: int) -> None:
    """Any line with no space nor newline past 4096 UTF-16 units, in bold: each part is within 4096
    units, holds no half of a surrogate pair, and the parts joined are the line."""
    unit = "".join(pieces)
    body = "x" * pad + unit * (9000 // len(html.unescape(unit)) + 1)
    markup = "<b>" + body + "</b>"
    parts = to_parts(markup)
    assert len(parts) > 1 and all(0 < len(add_surrogate(t)) <= MAX_LENGTH for t, _ in parts)
    for t, _ in parts:
        t.encode("utf-8")  # a lone surrogate cannot be sent
    assert "".join(t for t, _ in parts) == to_parts(markup, limit=10**9)[0][0]
