"""A resend Telegram answers RANDOM_ID_DUPLICATE (an earlier attempt, or run, got there) goes to the
server once: Telethon takes that answer for a server hiccup (a 500) and would send it again
`request_retries` times, 2 s apart, holding every alert behind it (real TelegramClient, faked server)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
import telethon
from telethon import TelegramClient, errors
from telethon.tl import functions

from bot.live.randomid import call_unrepeated
from bot.live.session import CLIENT_OPTIONS

from .fake_telegram import FakeTelegram
from .test_live import NEUTRAL, SHOT, channels, run


def test_canary_telethon_call_takes_the_sender_it_retries_over() -> None:
    """`call_unrepeated` hands Telethon 1.45's private `_call` a sender of its own: an upgrade that
    moves it must fail here first."""
    assert telethon.__version__ == "1.45.0"
    assert list(inspect.signature(TelegramClient._call).parameters)[:3] == ["self", "sender", "request"]
    assert issubclass(errors.RandomIdDuplicateError, errors.ServerError)  # why Telethon retries it


def test_while_a_duplicate_waits_for_its_answer_other_requests_keep_their_retries(
        fake: FakeTelegram, telethon_sleeps: Any) -> None:
    """The client is shared (sender, polling, chat): while a duplicate send waits for Telegram's
    answer, a history read that meets a real 500 is still retried by Telethon and succeeds; the
    duplicate then raises at its first answer, sent once."""
    channels(fake)

    async def go() -> None:
        fake.publish(SHOT, NEUTRAL)
        client = await fake.client(**{k: v for k, v in CLIENT_OPTIONS.items() if k != "connection_retries"})
        send = functions.messages.SendMessageRequest(peer="me", message="alert", random_id=42)
        await client(send)
        gate = fake.hold("SendMessageRequest")
        duplicate = asyncio.ensure_future(call_unrepeated(client, send))
        fake.fail("GetHistoryRequest", "INTERNAL", code=500)
        got = await client.get_messages("shot_shot", limit=5)
        assert [m.message for m in got] == [NEUTRAL] and fake.count("GetHistoryRequest") == 2
        assert telethon_sleeps.sleeps == [2] and not duplicate.done()
        gate.set()
        with pytest.raises(errors.RandomIdDuplicateError):
            await duplicate
        assert fake.count("SendMessageRequest") == 2 and len(fake.chat) == 1 and telethon_sleeps.sleeps == [2]
        fake.fail("SendMessageRequest", "INTERNAL", code=500)  # and the send's own hiccups are retried
        await call_unrepeated(client, functions.messages.SendMessageRequest(peer="me", message="next", random_id=43))
        assert [m.text for m in fake.chat] == ["alert", "next"] and telethon_sleeps.sleeps == [2, 2]
        await client.disconnect()
    run(go())
