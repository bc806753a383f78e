"""The live path against an offline Telegram: real TelegramClients, only the server is faked
(tests/fake_telegram.py). Each test asserts what the analyst's chat shows."""

from __future__ import annotations

import asyncio
import logging
import contextlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config
from bot.live.dbfaults import LIVE_BUSY_TIMEOUT
from bot.live.service import Service
from bot.live.session import CLIENT_OPTIONS, WATCH_OPTIONS, NotLoggedIn
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, hold_clock_jobs, served, stop_service

ROOT = Path(__file__).resolve().parents[1]
# the watching user client as `tgwatch run` builds it, minus endless retries
OPTIONS = {**{k: v for k, v in CLIENT_OPTIONS.items() if k != "connection_retries"}, **WATCH_OPTIONS}
SHOT, MASH, TOPOR = 1800000001, 1800000002, 1800000003
DESERTION = "В Краснодаре задержали троих дезертиров, сбежавших из воинской части"
DESERTION_2 = "Трое дезертиров из воинской части в Краснодаре задержаны полицией, сообщают источники"
NEUTRAL = "Погода в Москве: завтра до +5, без осадков"


class Killed(BaseException):
    """The process dies here (a BaseException: nothing may catch it)."""


def config(tmp_path: Path, **kw: Any) -> Config:
    base: dict[str, Any] = dict(db=tmp_path / "tgwatch.db", rules=ROOT / "rules", channels=("shot_shot", "mash", "topor"), chats=("me",),
                                resolve_delay_seconds=0, edit_every_seconds=0, poll_minutes=60, edit_lookback=5)
    base.update(kw)
    return Config(**base)


def channels(fake: FakeTelegram, *, mash_joined: bool = True) -> None:
    fake.add_channel(SHOT, "shot_shot", "SHOT")
    fake.add_channel(MASH, "mash", "Mash", joined=mash_joined)
    fake.add_channel(TOPOR, "topor", "Топор")


async def start(fake: FakeTelegram, tmp_path: Path, *, busy_timeout: float = LIVE_BUSY_TIMEOUT,
                clock_jobs: bool = False, **kw: Any) -> Service:
    """A started service over tmp_path/tgwatch.db, opened as `tgwatch run` opens it (a shorter
    `busy_timeout` keeps tests that hold the database's lock quick). `clock_jobs`: the digest,
    heartbeat and retention keep their times of day (else held: `hold_clock_jobs`)."""
    user = await fake.client(session=tmp_path / "user.session", **OPTIONS)
    service = Service(config(tmp_path, **kw), Store(tmp_path / "tgwatch.db", busy_timeout=busy_timeout), user,
                      scheduler=AsyncIOScheduler(timezone=timezone.utc))
    await service.start()
    if not clock_jobs:
        hold_clock_jobs(service)
    return service


def running(fake: FakeTelegram, tmp_path: Path, *args: Any, **kw: Any) -> contextlib.AbstractAsyncContextManager[Service]:
    """A started service, stopped (clients disconnected, store closed) however the test ends."""
    return served(start(fake, tmp_path, *args, **kw))


def alerts(fake: FakeTelegram) -> list[Any]:
    """Alert messages in the chat (not the one-line notices)."""
    return [m for m in fake.chat if "matched:" in m.text]


def notices(fake: FakeTelegram) -> list[str]:
    return [m.text for m in fake.chat if "matched:" not in m.text]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_live_post_produces_one_alert_and_the_poll_adds_none(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, NEUTRAL)
            msg = fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)  # desertion and regiment
            await service.poll()
            await deliver_alone(service)  # sends whatever the poll queued
            assert len(alerts(fake)) == 2
            a = alerts(fake)[0]
            assert f"https://t.me/shot_shot/{msg}" in [getattr(e, "url", None) for e in a.entities] and a.no_webpage
            assert "дезертиров" in a.text and "Дезертирство" in a.text
            assert service.store.count("posts") == 2
    run(go())


def test_an_album_is_one_post_and_one_alert(fake: FakeTelegram, tmp_path: Path, fast_updates: None) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            ids = fake.publish_album(SHOT, [DESERTION, "", ""], media=True)
            await eventually(lambda: len(alerts(fake)) == 2)
            await service.poll()
            await deliver_alone(service)  # sends whatever the poll queued
            assert len(alerts(fake)) == 2
            rows = list(service.store.db.query("SELECT message_id, media FROM posts"))
            assert rows == [{"message_id": min(ids), "media": "album"}]
    run(go())


def test_an_edit_that_adds_a_keyword_alerts_once_and_reactions_do_nothing(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            msg = fake.publish(SHOT, "Срочно: в Краснодаре что-то случилось, подробности позже")
            await eventually(lambda: service.store.count("posts") == 1)
            fake.edit(SHOT, msg, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            fake.react(SHOT, msg)
            fake.edit(SHOT, msg, DESERTION + ".")  # a second edit: the story already alerted
            await service.poll()
            await deliver_alone(service)  # sends whatever the poll queued
            assert len(alerts(fake)) == 2
    run(go())


def test_an_edit_telegram_never_pushes_is_read_by_the_next_poll(fake: FakeTelegram, tmp_path: Path) -> None:
    """The reconcile poll reads the channel's last posts again (`edit_lookback`), not only new ones:
    an edit no update told of (nor a gap revealed) is matched at the next poll."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            msg = fake.publish(SHOT, NEUTRAL)
            fake.publish(SHOT, NEUTRAL + "!")
            await eventually(lambda: service.store.count("posts") == 2)
            await service.poll()  # the channel read once: the next poll reads on from its last post
            fake.edit(SHOT, msg, DESERTION, push=False)
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) == 2  # desertion and regiment
            text = service.store.db.execute("SELECT text FROM posts WHERE message_id = ?", [msg]).fetchone()[0]
            assert text == DESERTION
    run(go())


def test_a_silent_gap_is_filled(fake: FakeTelegram, tmp_path: Path, fast_updates: None) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, NEUTRAL)  # Telethon learns the channel's pts from the first push
            await eventually(lambda: service.store.count("posts") == 1)
            fake.publish(SHOT, DESERTION, push=False)  # Telegram never pushes it
            fake.publish(SHOT, NEUTRAL + "!")  # the next push reveals the pts gap
            await eventually(lambda: len(alerts(fake)) == 2)
            assert service.store.count("posts") == 3
            assert fake.count("GetChannelDifferenceRequest") >= 1 and fake.count("GetHistoryRequest") == 3
    run(go())


def test_channel_difference_too_long_is_recovered_by_the_poll(fake: FakeTelegram, tmp_path: Path, fast_updates: None) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: service.store.count("posts") == 1)
            fake.publish(SHOT, DESERTION, push=False)
            for i in range(30):
                fake.publish(SHOT, f"{NEUTRAL} ({i})", push=False)
            fake.too_long(SHOT)
            fake.publish(SHOT, NEUTRAL + " (last)")
            await eventually(lambda: fake.count("GetChannelDifferenceRequest") >= 1)
            await fake.idle()  # (what the difference brought is stored, matched and sent by now)
            assert alerts(fake) == []  # Telethon jumped ahead: the event path lost the post
            await service.poll()
            await eventually(lambda: len(alerts(fake)) == 2)
            assert service.store.count("posts") == 33
    run(go())


def test_posts_published_while_stopped_are_recovered_once(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path)
        fake.publish(SHOT, NEUTRAL)
        await eventually(lambda: service.store.count("posts") == 1)
        await stop_service(service)
        fake.publish(SHOT, DESERTION)
        fake.publish(MASH, DESERTION_2)
        fake.publish(TOPOR, NEUTRAL)
        resolved = fake.count("ResolveUsernameRequest")
        async with running(fake, tmp_path) as service:
            assert fake.count("ResolveUsernameRequest") == resolved  # ids and access hashes come from the store
            await eventually(lambda: any("recovered" in n for n in notices(fake)))
            assert [n for n in notices(fake) if "recovered" in n] == ["recovered 3 posts from 3 channels"]
            assert len(alerts(fake)) == 2  # SHOT and Mash tell one story: one alert per rule
            await service.poll()
            assert len(alerts(fake)) == 2 and service.store.count("posts") == 4
    run(go())


def test_a_channel_the_account_has_not_joined_is_polled(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake, mash_joined=False)
        async with running(fake, tmp_path) as service:
            assert not service.ingest.watched[MASH].joined
            fake.publish(MASH, DESERTION)
            await fake.idle()
            assert alerts(fake) == []  # no live update for a channel not joined
            await service.poll()
            await eventually(lambda: len(alerts(fake)) == 2)
    run(go())


def test_story_growth_edits_the_sent_alert(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            fake.publish(MASH, DESERTION_2)
            await eventually(lambda: all(m.edits for m in alerts(fake)))
            assert len(alerts(fake)) == 2
            assert all("also Mash" in m.edits[-1][1] for m in alerts(fake))
    run(go())


def test_flood_wait_on_send_is_slept_through_and_delivers_once(fake: FakeTelegram, tmp_path: Path, telethon_sleeps: Any) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path):
            fake.flood("SendMessageRequest", 7)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            assert 7 in telethon_sleeps.sleeps
            assert len({m.random_id for m in alerts(fake)}) == 2
    run(go())


def test_a_long_flood_wait_pauses_delivery_then_delivers_once(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path)
        clock = [datetime.now(timezone.utc)]
        service.sender.clock = lambda: clock[0]
        try:
            fake.flood("SendMessageRequest", 600)  # above flood_sleep_threshold: Telethon raises
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)
            await deliver_alone(service)
            assert alerts(fake) == []
            clock[0] += timedelta(seconds=601)
            service.user._flood_waited_requests.clear()  # Telethon's own deadline, kept in real time
            await deliver_alone(service)
            assert len(alerts(fake)) == 2
            await deliver_alone(service)
            assert len(alerts(fake)) == 2
        finally:
            await stop_service(service)
    run(go())


async def killed_after_a_send(fake: FakeTelegram, tmp_path: Path, **start_kw: Any) -> None:
    """Mash's desertion alerts, and the process is killed after Telegram took the message but before
    the store recorded it (its random_id planned, sent_at empty). Mash is polled: the post arrives
    through reconcile, in this task."""
    channels(fake, mash_joined=False)
    service = await start(fake, tmp_path, **start_kw)
    store = service.store
    real = store.mark_delivered

    def crash(*a: Any, **kw: Any) -> None:
        raise Killed("killed after the send")

    store.mark_delivered = crash  # type: ignore[method-assign]
    try:
        fake.publish(MASH, DESERTION)
        with pytest.raises(Killed):
            await service.ingest.reconcile()
        assert len(alerts(fake)) == 1  # it reached the chat, but the store never heard
    finally:
        store.mark_delivered = real  # type: ignore[method-assign]
        await stop_service(service)


def test_a_crash_between_send_and_marking_sent_shows_no_second_copy(fake: FakeTelegram, tmp_path: Path,
                                                                    telethon_sleeps: Any) -> None:
    async def go() -> None:
        await killed_after_a_send(fake, tmp_path)
        service = await start(fake, tmp_path)  # the restart retries with the stored random_id
        try:
            await deliver_alone(service)
            assert len(alerts(fake)) == 2
            assert {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"sent"}
        finally:
            await stop_service(service)
    run(go())


def test_a_channel_that_turns_private_is_reported_once(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.make_private(MASH)
            await service.poll()
            await service.poll()
            gone = [n for n in notices(fake) if "mash" in n.lower()]
            assert len(gone) == 1 and "private" in gone[0]
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)  # the others keep running
            assert service.store.channel(MASH)["status"] == "private"  # type: ignore[index]
    run(go())


def test_not_logged_in_fails_fast(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        user = await fake.client(authorized=False)
        service = Service(config(tmp_path), Store(tmp_path / "t.db"), user)
        with pytest.raises(NotLoggedIn, match="tgwatch login"):
            await service.start()
        await user.disconnect()
    run(go())


def test_an_unknown_channel_is_reported_and_the_rest_run(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, channels=("shot_shot", "no_such_channel")):
            assert any("no_such_channel" in n for n in notices(fake))
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
    run(go())


def test_a_story_that_grows_while_its_alert_is_sent_gets_the_update(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            real = service.sender._send
            grown: list[int] = []

            async def slow_send(*a: Any, **kw: Any) -> Any:
                if not grown:  # while the first alert is in flight, Mash reports the same story
                    grown.append(fake.publish(MASH, DESERTION_2))
                    await eventually(lambda: service.store.count("posts") == 2)
                return await real(*a, **kw)

            service.sender._send = slow_send  # type: ignore[method-assign]
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            await deliver_alone(service)
            await eventually(lambda: all("also Mash" in (m.edits[-1][1] if m.edits else m.text) for m in alerts(fake)))
            assert any(m.edits for m in alerts(fake))  # the one in flight was edited afterwards
            assert {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"sent"}
    run(go())


def test_every_caption_of_an_album_is_matched(fake: FakeTelegram, tmp_path: Path, fast_updates: None) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.publish_album(SHOT, [NEUTRAL, DESERTION, ""], media=True)
            await eventually(lambda: len(alerts(fake)) == 2)
            await service.poll()
            assert service.store.count("posts") == 1 and len(alerts(fake)) == 2
    run(go())


def test_a_name_that_does_not_resolve_is_not_looked_up_every_poll(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, channels=("shot_shot", "no_such_channel")) as service:
            before = fake.count("ResolveUsernameRequest")
            for _ in range(3):
                await service.poll()
            assert fake.count("ResolveUsernameRequest") == before
    run(go())


def test_a_flood_wait_on_one_name_leaves_known_channels_watched(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, channels=("shot_shot",)):
            pass  # SHOT is now stored with its access hash
        fake.flood("ResolveUsernameRequest", 3600, times=10)
        async with running(fake, tmp_path, channels=("topor", "shot_shot")) as service:
            assert list(service.ingest.watched) == [SHOT] and "flood wait" in service.ingest.unresolved["topor"]
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
    run(go())


def test_login_with_phone_and_code_then_run_needs_no_prompt(fake: FakeTelegram, tmp_path: Path) -> None:
    from bot.live.session import log_in

    from .fake_telegram import LOGIN_CODE

    async def go() -> None:
        channels(fake)
        client = await fake.client(session=tmp_path / "user.session", authorized=False, **OPTIONS)
        with pytest.raises(RuntimeError, match="sign-in attempts failed"):  # Telethon asks 3 times, then gives up
            await log_in(client, phone=lambda: "+447700900123", code=lambda: "00000", password=lambda: "")
        said = await log_in(client, phone=lambda: "+447700900123", code=lambda: LOGIN_CODE, password=lambda: "")
        assert said.startswith("logged in as") and await client.is_user_authorized()
        assert (await log_in(client, phone=lambda: "", code=lambda: "", password=lambda: "")).startswith("already")
        await client.disconnect()
        async with running(fake, tmp_path) as service:  # the saved session is used as it is
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            assert service.store.count("posts") == 1
    run(go())


def test_a_new_channel_backfills_but_alerts_only_on_the_last_day(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        old = datetime.now(timezone.utc) - timedelta(days=3)
        fake.publish(SHOT, DESERTION, date=old)
        fake.publish(MASH, DESERTION_2.replace("Трое", "Пятеро").replace("Краснодаре", "Самаре"))
        async with running(fake, tmp_path) as service:
            await eventually(lambda: service.store.count("posts") == 2)
            await deliver_alone(service)
            assert {m.text.split("\n")[1].split(" ·")[0] for m in alerts(fake)} == {"Mash"}
            states = {r["channel_id"]: r["state"] for r in service.store.db.query("SELECT channel_id, state FROM alerts")}
            assert states[SHOT] == "muted"  # stored and exportable, not pushed
    run(go())


def test_a_keyless_session_file_is_not_a_login_but_a_saved_one_is(fake: FakeTelegram, tmp_path: Path) -> None:
    """Canary for telethon 1.45: a session saved before any login reloads as an AuthKey whose key is
    None (not as None), which `tgwatch run` must still read as "not logged in"."""
    from telethon import TelegramClient

    from bot.live.session import has_auth_key

    async def go() -> None:
        TelegramClient(str(tmp_path / "none.session"), 1, "0" * 32).session.close()
        reloaded = TelegramClient(str(tmp_path / "none.session"), 1, "0" * 32).session
        assert reloaded.auth_key is not None and not has_auth_key(reloaded)
        reloaded.close()
        client = await fake.client(session=tmp_path / "user.session", **OPTIONS)
        await client.disconnect()
        saved = TelegramClient(str(tmp_path / "user.session"), 1, "0" * 32).session
        assert has_auth_key(saved)
        saved.close()
    run(go())


def test_a_store_locked_by_another_program_costs_a_log_line_and_the_poll_stores_the_post_once(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Another program (a replay, sqlite3) holds the database's write lock past the busy timeout:
    the pushed post gives one warning (the poll meanwhile adds none), no traceback; once the lock
    is gone the poll stores the post and it alerts once."""
    import sqlite3

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, busy_timeout=0.05) as service:  # the test needs no 2 s waits
            other = sqlite3.connect(tmp_path / "tgwatch.db", isolation_level=None)
            other.execute("BEGIN IMMEDIATE")
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: "not stored now (database: database is locked)" in caplog.text)
            await service.ingest.reconcile()  # stops at the post it keeps: the outage was said once
            assert "SHOT: its posts cannot be stored now" in " ".join(service.ingest.failing.values())
            assert caplog.text.count("database is locked") == 1 and service.store.count("posts") == 0
            other.execute("ROLLBACK")
            other.close()
            await service.ingest.reconcile()
            assert service.store.count("posts") == 1 and not service.ingest.failing
            await deliver_alone(service)
            await eventually(lambda: len(alerts(fake)) == 2)  # desertion and regiment, once each
            await service.ingest.reconcile()
            await deliver_alone(service)
            assert len(alerts(fake)) == 2
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    run(go())
