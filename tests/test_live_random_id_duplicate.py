"""A resend Telegram answers RANDOM_ID_DUPLICATE (an earlier attempt, or run, got there) goes to the
server once: Telethon takes that answer for a server hiccup (a 500) and would send it again
`request_retries` times, 2 s apart, holding every alert behind it (real TelegramClient, faked server)."""

from __future__ import annotations

import asyncio
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
import telethon
from telethon import TelegramClient, errors
from telethon.tl import functions

import bot.live.sender.digestsend as digestsend
from bot.live.randomid import call_unrepeated
from bot.live.sender.notices import NOTICES_KEY
from bot.live.session import CLIENT_OPTIONS

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, stop_service
from .test_live import NEUTRAL, SHOT, Killed, alerts, channels, killed_after_a_send, notices, run, start
from .test_live_sender_faults import digests, low_rules


def test_canary_telethon_call_takes_the_sender_it_retries_over() -> None:
    """`call_unrepeated` hands Telethon 1.45's private `_call` a sender of its own: an upgrade that
    moves it must fail here first."""
    assert telethon.__version__ == "1.45.0"
    assert list(inspect.signature(TelegramClient._call).parameters)[:3] == ["self", "sender", "request"]
    assert issubclass(errors.RandomIdDuplicateError, errors.ServerError)  # why Telethon retries it


def sends(fake: FakeTelegram, since: int = 0) -> list[Any]:
    """The SendMessage requests that reached the server, in order, from request number `since` on."""
    return [r for r in fake.requests[since:] if type(r).__name__ == "SendMessageRequest"]


def test_an_alert_resent_after_a_crash_reaches_telegram_once_and_the_next_goes_at_once(
        fake: FakeTelegram, tmp_path: Path, telethon_sleeps: Any) -> None:
    """Killed after Telegram took the first of two alerts, before the store heard: the restart sends
    it again under its stored random_id, once; the alert queued behind it follows straight away,
    with no back-off slept, and the chat shows each alert once."""
    async def go() -> None:
        await killed_after_a_send(fake, tmp_path)
        [landed] = alerts(fake)
        since = len(fake.requests)
        service = await start(fake, tmp_path)  # its start-up pass sends what is queued
        try:
            await deliver_alone(service)
            resent = sends(fake, since)
            assert [r.random_id for r in resent].count(landed.random_id) == 1
            assert len(resent) == 2 and resent[0].random_id == landed.random_id  # then the next alert
            assert telethon_sleeps.sleeps == []  # Telethon slept no retry back-off on the way
            assert len(alerts(fake)) == 2 and len({a.random_id for a in alerts(fake)}) == 2
            assert {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"sent"}
        finally:
            await stop_service(service)
    run(go())


GONE = "канал @mash недоступен"


def test_a_notice_resent_after_a_crash_reaches_telegram_once(fake: FakeTelegram, tmp_path: Path,
                                                             telethon_sleeps: Any) -> None:
    """Killed after Telegram took a notice, before the store forgot it as held: the restart sends it
    again under its stored random_id, once, and holds it no longer; the chat shows it once."""
    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path)
        store, real = service.store, service.store.set_meta

        def crash(key: str, value: str) -> None:
            if key == NOTICES_KEY and json.loads(value) == []:
                raise Killed("killed after the notice went")
            real(key, value)

        store.set_meta = crash  # type: ignore[method-assign]
        try:
            with pytest.raises(Killed):
                await service.sender.notify(GONE)
        finally:
            store.set_meta = real  # type: ignore[method-assign]
            await stop_service(service)
        [landed] = [m for m in fake.chat if m.text == GONE]
        since = len(fake.requests)
        service = await start(fake, tmp_path)
        try:
            await deliver_alone(service)
            assert [r.random_id for r in sends(fake, since)].count(landed.random_id) == 1
            assert telethon_sleeps.sleeps == []
            assert notices(fake).count(GONE) == 1 and json.loads(service.store.get_meta(NOTICES_KEY) or "") == []
        finally:
            await stop_service(service)
    run(go())


def test_a_digest_resent_after_a_crash_reaches_telegram_once(fake: FakeTelegram, tmp_path: Path,
                                                             telethon_sleeps: Any, monkeypatch: Any) -> None:
    """Killed after Telegram took a digest, before the store recorded what it carried: the restart
    sends it again under the same random_id, once, and records it sent; the chat shows it once."""
    rules = low_rules(tmp_path)

    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path, rules=rules)
        try:
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: service.store.count("alerts") == 1)  # a low alert: it waits for the digest
            def killed(*a: Any, **kw: Any) -> None:
                raise Killed("killed after the digest went")

            with monkeypatch.context() as m:
                m.setattr(digestsend, "record_digest_items", killed)
                with pytest.raises(Killed):
                    await service.sender.send_digest()
        finally:
            await stop_service(service)
        [landed] = digests(fake)
        since = len(fake.requests)
        service = await start(fake, tmp_path, rules=rules)
        try:
            await deliver_alone(service)
            assert [r.random_id for r in sends(fake, since)].count(landed.random_id) == 1
            assert telethon_sleeps.sleeps == []
            assert len(digests(fake)) == 1
            assert [r["sent_at"] is not None for r in service.store.db.query("SELECT sent_at FROM digests")] == [True]
        finally:
            await stop_service(service)
    run(go())


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
