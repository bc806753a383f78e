"""helper-199: leftovers in what analysts get (alerts split past 4096, file captions), read the way
Telegram reads them: through the real TelegramClient and the fake server side (tests/fake_telegram.py)."""

from __future__ import annotations

import html
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from telethon.helpers import add_surrogate, del_surrogate
from telethon.tl import types

from bot.alert.html import MAX_LENGTH, to_parts
from bot.chat.commands import Reply
from bot.cli import cli
from bot.chat.telegram import ChatBot

from .fake_telegram import BOT_ID, LOGIN_CODE, FakeTelegram, access_hash, eventually
from .test_cli_login_flows import login_cli, one_line  # noqa: F401
from .test_live import ROOT, SHOT, channels, config, run, running

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


# -- a file's caption: cut on the text Telegram counts (1024 UTF-16 units), never on its markup -----------

ANALYST = 424242


async def _send_file(fake: FakeTelegram, tmp_path: Path, caption_html: str) -> Any:
    """`caption_html` sent as a CSV's caption by the bot as it answers an analyst (ChatBot.send);
    what the chat shows."""
    fake.add_user(ANALYST, "Analyst")
    fake.message_to_bot(ANALYST, "/export")  # the analyst writes first: the bot may answer
    bot = await fake.client(bot=True)
    try:
        chat = ChatBot(bot, Any, config(tmp_path, analysts=(ANALYST,)))  # type: ignore[arg-type]
        peer = types.InputPeerUser(ANALYST, access_hash(BOT_ID, ANALYST))
        await chat.send(peer, Reply(caption_html, file=b"id,post\n1,2\n", file_name="tgwatch-export.csv"))  # type: ignore[arg-type]
    finally:
        await bot.disconnect()
    [sent] = [m for m in fake.chat if m.file is not None]
    assert sent.file == b"id,post\n1,2\n"
    return sent


def _links(sent: Any) -> list[tuple[str, str]]:
    units = add_surrogate(sent.text)
    return [(del_surrogate(units[e.offset:e.offset + e.length]), e.url) for e in sent.entities or []
            if isinstance(e, types.MessageEntityTextUrl)]


def test_a_caption_full_of_links_shows_all_its_text_when_that_text_fits(fake: FakeTelegram, tmp_path: Path) -> None:
    """60 linked post numbers: 3,800 characters of markup, 530 of text. The markup was cut at 1023
    characters: 18 links shown, the rest and the «…» lost in the tag the cut fell in."""
    links = [(f"post {i}", f"https://t.me/c/1700000000/{i}") for i in range(60)]
    markup = "<b>60 posts</b>: " + " · ".join(f'<a href="{url}">{label}</a>' for label, url in links)
    sent = run(_send_file(fake, tmp_path, markup))
    assert sent.text == "60 posts: " + " · ".join(label for label, _ in links)
    assert _links(sent) == links


def test_a_caption_past_1024_units_is_cut_there_with_its_links_whole(fake: FakeTelegram, tmp_path: Path) -> None:
    """Linked names of «Сводка 🔥 N» (an emoji counts two units) past 1024 units of text: the caption
    is cut within 1024 units, after a whole word, with «…»; every link shown keeps its address, the cut
    one is shortened with the text."""
    links = [(f"Сводка 🔥 {i} &amp; co", f"https://t.me/c/1700000000/{i}?a=1&amp;b=2") for i in range(80)]
    markup = "Export: " + ", ".join(f'<a href="{url}">{label}</a>' for label, url in links)
    full = "Export: " + ", ".join(html.unescape(label) for label, _ in links)
    sent = run(_send_file(fake, tmp_path, markup))
    assert sent.text.endswith("…") and 1000 < len(add_surrogate(sent.text)) <= 1024, len(add_surrogate(sent.text))
    assert full.startswith(sent.text[:-1].rstrip())
    shown = _links(sent)
    assert len(shown) > 30 and all(url == html.unescape(links[i][1]) for i, (_, url) in enumerate(shown))
    assert all(label == html.unescape(links[i][0]) for i, (label, _) in enumerate(shown[:-1]))


def test_a_caption_of_emoji_within_1024_characters_but_past_1024_units_still_sends_the_file(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """1,000 emoji are 1,000 characters and 2,000 UTF-16 units: Telegram refused the caption
    (MEDIA_CAPTION_TOO_LONG) and the file with it."""
    sent = run(_send_file(fake, tmp_path, "🔥" * 1000))
    assert sent.text == "🔥" * 511 + "…"


def test_a_caption_with_no_formatting_is_shown_as_written(fake: FakeTelegram, tmp_path: Path) -> None:
    """A plain caption (no entity once parsed) is not read again as Markdown: rule names with __ or **
    stay as they are."""
    sent = run(_send_file(fake, tmp_path, "2 matched posts of night__watch__, **day**, last 7 d"))
    assert sent.text == "2 matched posts of night__watch__, **day**, last 7 d" and not sent.entities


# -- JSON Lines: a forward origin of channel 0 is no channel's post ---------------------------------------

@pytest.mark.parametrize("raw, shown", [("0", "0"), ("-0", "0"), ('"0"', '"0"'), ('"-0"', '"-0"')])
def test_a_jsonl_forward_from_channel_0_is_a_warning_and_the_post_is_kept_without_it(tmp_path: Path, raw: str,
                                                                                      shown: str) -> None:
    """forward_channel_id 0 (-0 in JSON, "0", "-0") names no channel: it was stored, and every post
    «forwarded from channel 0, post 5» was one origin to the story index. As a bad forward_post_id,
    a forwarded_from that is not a name in a Desktop export: one warning naming the file and line,
    the post stored without its forward origin."""
    f, db = tmp_path / "in.jsonl", tmp_path / "s.db"
    base = '{"channel_id": 1700000001, "date": "2026-11-20T08:00:00Z", "text": "пост"'
    f.write_text(f'{base}, "message_id": 1}}\n'
                 f'{base}, "message_id": 2, "forward_channel_id": {raw}, "forward_post_id": 5, "forward_name": "Mash"}}\n'
                 f'{base}, "message_id": 3, "forward_channel_id": 1700000002, "forward_post_id": 5}}\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["replay", str(f), "--db", str(db), "--rules", str(ROOT / "rules"), "--alerts", "none"])
    assert r.exit_code == 0 and r.exception is None, r.output
    assert [ln for ln in r.stderr.splitlines() if ln.startswith("warning")] == [
        f"warning {f}: line 2: forward_channel_id {shown} is no channel's id: the post is kept without its forward origin"]
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT message_id, forward_channel_id, forward_post_id, forward_name FROM posts "
                         "ORDER BY 1").fetchall() == [(1, None, None, None), (2, None, None, None),
                                                      (3, 1700000002, 5, None)]


# -- tgwatch login for an account with a 2FA password, standard input not a terminal ------------------------

TWO_FA = "correct horse 🐎 battery"


def test_a_2fa_login_with_no_terminal_says_how_to_give_the_password_in_one_line(
        login_cli: Any, fake: FakeTelegram) -> None:  # noqa: F811 (login_cli: the fixture imported above)
    """`tgwatch login < answers` (a script, cron): the code is read, then the 2FA password was asked
    with getpass, which reads /dev/tty when there is one (the script waits for a keyboard) or else
    the script's input with «Password input may be echoed», and at its end said «login cancelled»."""
    fake.password = TWO_FA
    r = login_cli("--phone", "+447700900123", input=LOGIN_CODE + "\n")
    one_line(r, "2FA password", "not a terminal", "TGWATCH_2FA_PASSWORD")
    assert fake.count("CheckPasswordRequest") == 0 and "echoed" not in r.output


def test_a_2fa_password_from_tgwatch_2fa_password_logs_in_and_is_never_shown(
        login_cli: Any, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    fake.password = TWO_FA
    monkeypatch.setenv("TGWATCH_2FA_PASSWORD", TWO_FA)
    r = login_cli("--phone", "+447700900123", input=LOGIN_CODE + "\n")
    assert r.exit_code == 0 and "logged in as Watcher" in r.output, r.output
    assert TWO_FA not in r.output and fake.count("CheckPasswordRequest") == 1


def test_a_wrong_tgwatch_2fa_password_is_tried_once_and_named(
        login_cli: Any, fake: FakeTelegram, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Not three tries of the same wrong value, each «Invalid password. Please try again»."""
    fake.password = TWO_FA
    monkeypatch.setenv("TGWATCH_2FA_PASSWORD", "wrong " + TWO_FA)
    r = login_cli("--phone", "+447700900123", input=LOGIN_CODE + "\n")
    one_line(r, "PASSWORD_HASH_INVALID", "wrong 2FA password", "TGWATCH_2FA_PASSWORD")
    assert TWO_FA not in r.output and fake.count("CheckPasswordRequest") == 1
    assert "Please try again" not in r.output
