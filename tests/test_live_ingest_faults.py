"""Ingest faults against the offline Telegram (real TelegramClient, fake server): a channel that
changes its username, errors on the album-edit path, polls stopped by flood waits, posts pushed
during a connection drop. Each test asserts what the analysts see and what the log says."""

from __future__ import annotations

import logging
from dataclasses import replace
from zoneinfo import ZoneInfo
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from telethon import TelegramClient

from bot.live.ingest import Ingest
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, MASH, NEUTRAL, SHOT, alerts, channels, notices, run, running


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]


# -- finding 1: a channel that changes its username --------------------------------------------------

def test_a_renamed_channel_stays_watched_across_restarts(fake: FakeTelegram, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        channels(fake)  # the config watches "mash"
        async with running(fake, tmp_path):
            pass
        fake._channels[MASH].username = "mash_news"
        caplog.set_level(logging.INFO)
        async with running(fake, tmp_path) as service:  # 1st restart: found by its stored access hash
            assert MASH in service.ingest.watched
            await service.poll()
        renamed = [n for n in notices(fake) if "now @mash_news" in n]
        assert len(renamed) == 1 and "@mash " in renamed[0]
        assert sum("now @mash_news" in m for m in warnings(caplog)) == 1
        caplog.clear()
        fake.chat.clear()
        resolves = fake.count("ResolveUsernameRequest")
        async with running(fake, tmp_path) as service:  # 2nd restart: "mash" is no one's username now
            assert MASH in service.ingest.watched
            msg = fake.publish(MASH, DESERTION)
            await service.poll()
            await eventually(lambda: len(alerts(fake)) == 2)
            assert service.store.channel(MASH)["username"] == "mash_news"  # type: ignore[index]
            assert f"https://t.me/mash_news/{msg}" in [getattr(e, "url", None) for e in alerts(fake)[0].entities]
        assert fake.count("ResolveUsernameRequest") == resolves  # never looked up by name again
        assert not any("cannot watch" in m for m in warnings(caplog) + notices(fake))
        assert not any("now @mash_news" in n for n in notices(fake))  # said once, not on every restart
    run(go())


def test_a_rename_while_running_is_noticed_by_the_poll_and_links_follow(fake: FakeTelegram, tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        channels(fake, mash_joined=False)  # read by the poll alone
        async with running(fake, tmp_path) as service:
            fake.publish(MASH, NEUTRAL)
            await service.poll()
            caplog.set_level(logging.WARNING)
            fake._channels[MASH].username = "mash_news"
            msg = fake.publish(MASH, DESERTION)
            await service.poll()
            await eventually(lambda: len(alerts(fake)) == 2)
            assert [n for n in notices(fake) if "now @mash_news" in n] == [notices(fake)[-1]]
            assert f"https://t.me/mash_news/{msg}" in [getattr(e, "url", None) for e in alerts(fake)[0].entities]
            await service.poll()
            assert sum("now @mash_news" in n for n in notices(fake)) == 1
        # and the next start finds it by the configured name without resolving anything
        async with running(fake, tmp_path) as service:
            assert MASH in service.ingest.watched
        assert not any("cannot watch" in m for m in warnings(caplog) + notices(fake))
    run(go())


def test_a_store_from_before_the_name_map_keeps_its_channels(tmp_path: Path) -> None:
    """Migration 4 maps every stored username to its channel, so an upgrade followed by a rename
    still finds the channel under the configured name."""
    store = Store(tmp_path / "tgwatch.db")
    store.mark_resolved(MASH, "Mash", "Mash", 42)
    store.db.execute("DROP TABLE channel_refs")
    store.db.execute("PRAGMA user_version = 3")
    store.close()
    store = Store(tmp_path / "tgwatch.db")
    store.mark_resolved(MASH, "Mash", "mash_news", 42)  # renamed, as the first restart stores it
    assert store.channel("mash") is None
    assert store.channel_by_ref("mash")["id"] == MASH  # type: ignore[index]
    assert store.channel_by_ref("mash_news")["id"] == MASH  # type: ignore[index]
    store.close()


# -- finding 2: errors on the album-edit path ------------------------------------------------------------

@pytest.mark.parametrize(("error", "fail"), [
    ("CHANNEL_PRIVATE", lambda fake: fake.fail("GetMessagesRequest", "CHANNEL_PRIVATE")),
    ("FLOOD_WAIT 3000 s", lambda fake: fake.flood("GetMessagesRequest", 3000)),
])
def test_an_album_edit_that_cannot_be_read_logs_one_line_and_the_poll_reads_it(
        fake: FakeTelegram, tmp_path: Path, fast_updates: None, caplog: pytest.LogCaptureFixture, error: str, fail) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            ids = fake.publish_album(SHOT, [NEUTRAL, "", ""], media=True)
            await eventually(lambda: service.store.count("posts") == 1)
            caplog.set_level(logging.WARNING)
            fail(fake)
            fake.edit(SHOT, ids[0], DESERTION)
            await eventually(lambda: any("edit of an album" in m for m in warnings(caplog)))
            assert tracebacks(caplog) == []
            lines = [m for m in warnings(caplog) if "edit of an album" in m]
            assert len(lines) == 1 and "SHOT" in lines[0] and error in lines[0]
            assert alerts(fake) == []
            await service.poll()  # re-reads the last posts: the edit is found there
            await eventually(lambda: len(alerts(fake)) == 2)
            assert tracebacks(caplog) == []
    run(go())


# -- finding 3: polls stopped by flood waits ---------------------------------------------------------------

def test_a_poll_stopped_by_a_flood_wait_does_not_count_as_complete(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            assert service.ingest.complete
            fake.flood("GetHistoryRequest", 3000, times=100)
            for i in range(3):
                service.user._flood_waited_requests.clear()
                fake.publish(MASH, f"{NEUTRAL} {i}", push=False)
                await service.poll()
                assert not service.ingest.complete
            fake._faults.clear()
            service.user._flood_waited_requests.clear()
            await service.poll()
            assert service.ingest.complete and service.store.count("posts") == 3
    run(go())


def test_the_watchdog_says_fallen_behind_when_every_poll_is_flooded(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clock = [datetime.now(timezone.utc)]
            service.clock = lambda: clock[0]
            fake.flood("GetHistoryRequest", 3000, times=100)
            for i in range(4):  # four hourly polls, each stopped by a flood wait: nothing read
                service.user._flood_waited_requests.clear()
                clock[0] += timedelta(minutes=60)
                await service.poll()
            clock[0] += timedelta(minutes=15)
            await service.watchdog()
            assert any("fallen behind" in n and "flood wait 3000 s" in n for n in notices(fake))
    run(go())


def test_fallen_behind_names_the_channel_whose_reads_fail(fake: FakeTelegram, tmp_path: Path) -> None:
    """One channel fails every poll while the others are read: the notice says which, and why."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clock = [datetime.now(timezone.utc)]
            service.clock = lambda: clock[0]
            for _ in range(4):
                fake.fail("GetHistoryRequest", "OFFSET_PEER_ID_INVALID")  # the first channel read
                clock[0] += timedelta(minutes=60)
                await service.poll()
            assert service.store.high_water(MASH) is not None
            clock[0] += timedelta(minutes=15)
            service.config = replace(service.config, timezone="Europe/Moscow")
            await service.watchdog()
            (behind,) = [n for n in notices(fake) if "fallen behind" in n]
            assert service.last_poll is not None
            moscow = service.last_poll.astimezone(ZoneInfo("Europe/Moscow"))
            assert f"finished since {moscow:%Y-%m-%d %H:%M} MSK" in behind  # the analysts' clock, not UTC
            failing = [w.title for w in service.ingest.watched.values() if w.id in service.ingest.failing]
            assert len(failing) == 1 and f"failing: {failing[0]}: " in behind
            fake.publish(MASH, NEUTRAL, push=False)
            await service.poll()  # every channel read again: nothing is failing
            assert service.ingest.failing == {}
    run(go())


# -- finding 4: a poll soon after a reconnect ----------------------------------------------------------------

def test_a_post_pushed_during_a_drop_alerts_soon_after_the_reconnect(fake: FakeTelegram, tmp_path: Path,
                                                                    fast_updates: None) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            service.ingest.reconnect_poll_delay = 0.05
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: service.store.count("posts") == 1)
            await fake.disconnect(service.user)
            fake.publish(SHOT, DESERTION)  # its push is lost
            assert alerts(fake) == []
            await fake.reconnect(service.user)
            await eventually(lambda: len(alerts(fake)) == 2)  # the reconnect's poll (the scheduled one is an hour away)
            await service.poll()
            fake.publish(SHOT, NEUTRAL + "!")  # the next push: Telethon finds the gap as well
            await eventually(lambda: service.store.count("posts") == 3)
            assert len(alerts(fake)) == 2  # the recovered post alerted once
    run(go())


def test_canary_telethon_reconnect_callback(tmp_path: Path) -> None:
    """The reconnect hook rests on private Telethon names (checked against telethon 1.45): the
    client's `_handle_auto_reconnect`, which its MTProtoSender keeps as `_auto_reconnect_callback`."""
    async def go() -> None:
        client = TelegramClient(None, 1, "0" * 32)  # built, never connected
        assert client._sender._auto_reconnect_callback == client._handle_auto_reconnect
        store = Store(":memory:")

        class _Pipeline:
            pass

        pipeline = _Pipeline()
        pipeline.store = store  # type: ignore[attr-defined]

        async def nothing(*_: object) -> None:
            return None

        ingest = Ingest(client, pipeline, [], on_processed=nothing, notify=nothing)  # type: ignore[arg-type]
        ingest.listen()
        hook = client._sender._auto_reconnect_callback
        assert hook is client._handle_auto_reconnect and hook.__qualname__.endswith("on_reconnect")
        store.close()
    run(go())


def test_a_new_channel_that_takes_a_renamed_channels_old_name_is_watched_too(fake: FakeTelegram,
                                                                           tmp_path: Path) -> None:
    new = 1800000009
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            assert SHOT in service.ingest.watched
        fake._channels[SHOT].username = "shot_renamed"
        fake.add_channel(new, "shot_shot", "Another channel")
        fake._save()
        async with running(fake, tmp_path, channels=("shot_renamed", "shot_shot", "mash")) as service:
            assert {SHOT, new} <= set(service.ingest.watched) and not service.ingest.unresolved
    run(go())
