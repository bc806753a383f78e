"""A chat reply whose answer is lost in a connection drop: Telethon sends it again, Telegram answers
RANDOM_ID_DUPLICATE (the reply is there), and the bot takes it as sent at once, not as a 500 to
re-send 5 more times, 2 s apart, then "not sent" with the reply's later parts dropped (real
TelegramClient and ChatBot, faked server)."""

from __future__ import annotations

import csv
import inspect
import io
import logging
from pathlib import Path
from typing import Any

import telethon
from telethon import TelegramClient
from telethon.tl import types as tl

from .fake_telegram import FakeTelegram, eventually
from .test_chat import ANALYST, DESERTION, GROUP, SHOT, alerts, button_data, run, running
from .test_live_sender_faults import _lose_reply_once

# A query long enough that the proposal /add_rule answers with comes in 3 parts (Confirm under the last)
LONG = " OR ".join(f"слово{chr(0x430 + i % 32)}{chr(0x430 + i // 32)}" for i in range(600))


def test_canary_telethon_builds_a_files_media_as_send_file_does() -> None:
    """`ChatBot.send` sends a file through `call_unrepeated` with the media Telethon 1.45's private
    `_file_to_media` builds for send_file (the upload, a photo or a named document): an upgrade
    that moves it must fail here first."""
    assert telethon.__version__ == "1.45.0"
    assert list(inspect.signature(TelegramClient._file_to_media).parameters)[:3] == ["self", "file", "force_document"]


async def answered_after_a_loss(fake: FakeTelegram, service: Any, command: str, request: str = "SendMessageRequest",
                                **kw: Any) -> tuple[Any, list[Any], int]:
    """Send `command` to the bot with the answer to its reply's first `request` lost: once Telethon
    has sent that again and the bot has nothing more to ask, the lost request, what the chat got
    and the command's message id."""
    lost = _lose_reply_once(fake, service.bot, request)
    before = len(fake.chat)
    command_id = fake.message_to_bot(ANALYST, command, **kw)
    await eventually(lambda: lost and seen(fake, lost[0].random_id) >= 2)  # sent, lost, sent again
    await fake.idle()
    return lost[0], fake.chat[before:], command_id


def seen(fake: FakeTelegram, random_id: int) -> int:
    """How many requests carrying this random_id reached the server."""
    return sum(getattr(r, "random_id", None) == random_id for r in fake.requests)


def not_sent(caplog: Any) -> list[str]:
    """What tgwatch logged at WARNING or above ("the answer to /help was not sent (…)" among them)."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("bot.")]


def test_a_long_reply_whose_first_answer_is_lost_arrives_whole_once(fake: FakeTelegram, tmp_path: Path,
                                                                   telethon_sleeps: Any, caplog: Any) -> None:
    """The proposal for a long query, in 3 parts: the first part's answer is lost. Each part is in
    the chat once, in order, Confirm under the last; the first went to Telegram only as sent and
    re-sent by the connection (refused once), with no back-off slept and no warning logged."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            caplog.set_level(logging.INFO)
            lost, got, _ = await answered_after_a_loss(fake, service, f"/add_rule longrule {LONG}")
            heads = [m.text.split("\n")[0][:26] for m in got]
            assert heads[:2] == ["Add rule longrule in longr", "after: словоаа OR словоба "]
            assert len(got) == 3 and [m.random_id for m in got][0] == lost.random_id
            assert "".join(m.text for m in got).count("слово") == 600 and got[-1].text.endswith("would match.")
            assert [m.reply_markup is not None for m in got] == [False, False, True]
            assert {button_data(b)[:3] for row in got[-1].reply_markup.rows for b in row.buttons} == {b"ok:", b"no:"}
            assert any(isinstance(e, tl.MessageEntityBold) for e in got[0].entities)
            assert all(m.peer == ANALYST and m.no_webpage and m.reply_to is None for m in got)
            assert seen(fake, lost.random_id) == 2
            assert telethon_sleeps.sleeps == []
            assert not_sent(caplog) == []
    run(go())


def test_an_answer_in_a_group_whose_answer_is_lost_stays_a_reply_to_the_command(
        fake: FakeTelegram, tmp_path: Path, telethon_sleeps: Any, caplog: Any) -> None:
    """/help in the analysts' group: the answer is there once, replying to the command (which keeps
    it in the command's forum topic), with no back-off slept and no warning logged."""
    async def go() -> None:
        async with running(fake, tmp_path, chats=(ANALYST, -GROUP)) as service:
            caplog.set_level(logging.INFO)
            lost, got, command = await answered_after_a_loss(fake, service, "/help", chat_id=GROUP)
            assert [(m.peer, m.reply_to, m.random_id) for m in got] == [(-GROUP, command, lost.random_id)]
            assert "/export" in got[0].text and got[0].no_webpage
            assert seen(fake, lost.random_id) == 2
            assert telethon_sleeps.sleeps == []
            assert not_sent(caplog) == []
    run(go())


def test_a_file_whose_answer_is_lost_arrives_once(fake: FakeTelegram, tmp_path: Path, telethon_sleeps: Any,
                                                  caplog: Any) -> None:
    """/export csv, the answer to the file's send lost: the file is in the chat once, named, with its
    caption, no back-off slept, no warning logged, and its temporary copy is gone."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2 and service.store.count("posts") == 1)
            caplog.set_level(logging.INFO)
            lost, got, _ = await answered_after_a_loss(fake, service, "/export desertion 7d csv", "SendMediaRequest")
            assert [m.random_id for m in got] == [lost.random_id]
            assert got[0].file_name.endswith(".csv") and "1 matched post of desertion" in got[0].text
            assert [row["text"] for row in csv.DictReader(io.StringIO(got[0].file.decode("utf-8-sig")))] == [DESERTION]
            assert seen(fake, lost.random_id) == 2
            assert telethon_sleeps.sleeps == []
            assert not_sent(caplog) == []
            assert [p.name for p in tmp_path.iterdir() if "export" in p.name] == []
    run(go())
