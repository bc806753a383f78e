"""Review 178: time and clocks in the live service as analysts run it: a laptop that sleeps, a clock
NTP steps back, a zone with DST. Real TelegramClients against the offline server, real SQLite
files; the service's wall and monotonic clocks (and APScheduler's wall clock) are the test's, so
nothing here waits for time to pass. Each test fails on the code it was written against."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import apscheduler.executors.base
import apscheduler.schedulers.base
import apscheduler.triggers.interval
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.live.service import Service
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import served
from .test_live import DESERTION, NEUTRAL, OPTIONS, SHOT, alerts, channels, config, notices, run, running
from .test_live_sender_faults import digests, low_rules


class Clocks:
    """The wall clock (the service's and APScheduler's) and the monotonic one, moved by the test.
    A suspended machine moves the wall clock on and leaves the monotonic one where it was (Linux's
    CLOCK_MONOTONIC, which Python's `time.monotonic` reads, stops while suspended)."""

    def __init__(self, wall: datetime) -> None:
        self.wall = wall
        self.mono = 1000.0

    def run(self, seconds: float) -> None:
        """Time passes with the machine awake: both clocks move."""
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds

    def sleep(self, seconds: float) -> None:
        """The machine is suspended: only the wall clock moves."""
        self.wall += timedelta(seconds=seconds)


@pytest.fixture
def clocks(monkeypatch: pytest.MonkeyPatch) -> Clocks:
    """Clocks starting now, APScheduler reading their wall clock."""
    c = Clocks(datetime.now(timezone.utc).replace(microsecond=0))

    class Wall(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return c.wall.astimezone(tz) if tz else c.wall.replace(tzinfo=None)

    for module in (apscheduler.schedulers.base, apscheduler.triggers.interval, apscheduler.executors.base):
        monkeypatch.setattr(module, "datetime", Wall)
    return c


async def _start(fake: FakeTelegram, tmp_path: Path, clocks: Clocks, **kw: Any) -> Service:
    user = await fake.client(session=tmp_path / "user.session", **OPTIONS)
    service = Service(config(tmp_path, **kw), Store(tmp_path / "tgwatch.db"), user,
                      scheduler=AsyncIOScheduler(timezone=timezone.utc),
                      clock=lambda: clocks.wall, monotonic=lambda: clocks.mono)
    await service.start()
    return service


def serving(fake: FakeTelegram, tmp_path: Path, clocks: Clocks, **kw: Any) -> contextlib.AbstractAsyncContextManager[Service]:
    return served(_start(fake, tmp_path, clocks, **kw))


async def fire_due_jobs(service: Service) -> None:
    """What the scheduler does when its timer wakes it: run every job due by the wall clock now
    (APScheduler's own coalescing and misfire rules), and let those jobs finish."""
    before = set(asyncio.all_tasks())
    service.scheduler.wakeup()
    await asyncio.sleep(0)
    started = set(asyncio.all_tasks()) - before
    if started:
        await asyncio.wait(started, timeout=60)


def heartbeats(fake: FakeTelegram) -> list[str]:
    return [n for n in notices(fake) if n.startswith("💓")]


@contextlib.asynccontextmanager
async def low_alert_waiting(fake: FakeTelegram, tmp_path: Path, clocks: Clocks, shut: int, days: int,
                            **kw: Any) -> AsyncIterator[Service]:
    """The lid about to close at `shut` o'clock `days` ago, with a low-severity alert (for the
    digest) read and waiting: a service on the shipped-like low rules, `kw` its config."""
    clocks.wall = clocks.wall.replace(hour=shut, minute=0, second=0) - timedelta(days=days)
    channels(fake)
    async with serving(fake, tmp_path, clocks, rules=low_rules(tmp_path), **kw) as service:
        fake.publish(SHOT, NEUTRAL, date=clocks.wall - timedelta(minutes=5), push=False)
        await service.poll()
        assert service.store.count("alerts") == 1  # «weather», low: for the digest
        yield service


@contextlib.asynccontextmanager
async def one_night(fake: FakeTelegram, tmp_path: Path, clocks: Clocks, night: timedelta,
                    **kw: Any) -> AsyncIterator[tuple[Service, list[int]]]:
    """SHOT posts every 10 minutes; the service reads it, then the laptop sleeps for `night` with
    the connection dead while SHOT goes on posting; then it wakes (connection still down)."""
    t0 = clocks.wall
    channels(fake)
    for i in range(12):  # the two hours before the lid closes
        fake.publish(SHOT, f"{NEUTRAL} ({i})", date=t0 - timedelta(minutes=10 * (12 - i)), push=False)
    async with serving(fake, tmp_path, clocks, **kw) as service:
        service.ingest.reconnect_poll_delay = 0
        await service.poll()
        assert service.store.count("posts") == 12
        await fake.disconnect(service.user)  # the lid closes: the connection is dead on waking
        gap = []
        for i in range(1, int(night / timedelta(minutes=10))):
            gap.append(fake.publish(SHOT, f"{NEUTRAL} (ночь {i})", date=t0 + timedelta(minutes=10 * i), push=False))
        clocks.sleep(night.total_seconds())
        yield service, gap


# -- 1. suspend and resume -----------------------------------------------------------------------------------

def test_after_a_nights_sleep_the_watchdog_never_calls_a_channel_that_posted_all_night_silent(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks) -> None:
    """Woken after 8 h, the watchdog (due by the wall clock, run at the scheduler's first wake-up,
    before the network is back) judged each channel's silence from the store, which had not read
    the night yet: «⚠️ SHOT (@shot_shot) has been silent for 8.2 h (it usually posts every 10 min)», though SHOT
    posted 47 times meanwhile. Silence can only be judged up to the last read of every channel."""
    async def go() -> None:
        async with one_night(fake, tmp_path, clocks, timedelta(hours=8)) as (service, gap):
            woken = asyncio.ensure_future(service.watchdog())  # the 15-min job, due at the wake-up
            # it judges, then any warning waits for the network (held, stored, sent after the reconnect)
            await eventually(lambda: woken.done() or bool(service.sender._unsent))
            await fake.reconnect(service.user)
            await woken
            await eventually(lambda: service.store.count("posts") == 12 + len(gap))
            await service.watchdog()
            assert [n for n in notices(fake) if "silent" in n] == []
    run(go())


def test_after_the_catch_up_poll_read_every_channel_the_watchdog_does_not_say_tgwatch_fell_behind(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks) -> None:
    """The poll after a reconnect read every channel, all night's posts are stored, yet the next
    watchdog said «⚠️ tgwatch has fallen behind: no channel poll has finished since <the lid closed>»: only
    the scheduled poll counts as one (`Service.last_poll`), not the catch-up that finished. (The
    same after any network drop longer than three poll intervals.)"""
    async def go() -> None:
        async with one_night(fake, tmp_path, clocks, timedelta(hours=8), poll_minutes=5) as (service, gap):
            await fake.reconnect(service.user)
            await eventually(lambda: service.store.count("posts") == 12 + len(gap))
            await eventually(lambda: service.ingest._reconnect_poll is not None and service.ingest._reconnect_poll.done())
            await service.watchdog()
            assert [n for n in notices(fake) if "fallen behind" in n] == []
    run(go())


def test_a_weekend_asleep_does_not_alert_the_chat_on_posts_days_old(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks) -> None:
    """A laptop shut on Friday evening and opened on Monday: the running process catches up on the
    weekend's posts, and every one a rule matches alerted as news, days late, ringing. Stopped and
    started instead, the service stores and counts those over a day old without alerting them
    (README, «No post missed»: old news, `recovered N posts …; M matched posts older than a day were
    not alerted`); asleep is the same downtime. A post of the last day still alerts."""
    async def go() -> None:
        t0 = clocks.wall
        async with one_night(fake, tmp_path, clocks, timedelta(hours=1)) as (service, _):
            fake.publish(SHOT, DESERTION, date=t0 + timedelta(hours=2), push=False)  # Friday night
            clocks.sleep(timedelta(days=2, hours=12).total_seconds())
            fresh = "Ещё двое дезертиров покинули воинскую часть под Белгородом этим утром"
            fake.publish(SHOT, fresh, date=clocks.wall - timedelta(hours=1), push=False)  # Monday morning
            await fake.reconnect(service.user)
            await eventually(lambda: service.store.count("posts") == 12 + 5 + 2)
            await eventually(lambda: service.ingest._reconnect_poll is not None and service.ingest._reconnect_poll.done())
            await eventually(lambda: not service.sender._lock.locked())
            await service.sender.deliver()
            assert any("Белгород" in m.text for m in alerts(fake))  # Monday's post is news
            assert [m.text for m in alerts(fake) if "Краснодар" in m.text] == []  # Friday's is not
    run(go())


# -- 2. a clock stepped back --------------------------------------------------------------------------------

def test_a_clock_stepped_back_after_the_heartbeat_does_not_send_a_second_heartbeat_that_day(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks) -> None:
    """The machine's clock ran 10 min fast; NTP steps it back just after the 09:00 heartbeat.
    `check_clock` moved every cron job to «its next time by the clock as it reads now», which for
    a job that has just run is the same 09:00 again: a second «💓» (and a second daily digest,
    and a second retention prune) the same morning."""
    async def go() -> None:
        clocks.wall = clocks.wall.replace(hour=8, minute=59, second=50)
        channels(fake)
        async with serving(fake, tmp_path, clocks, heartbeat_at=time(9, 0)) as service:
            clocks.run(11)  # 09:00:01
            await fire_due_jobs(service)
            assert len(heartbeats(fake)) == 1
            clocks.run(20)
            clocks.wall -= timedelta(minutes=10)  # NTP: 08:50:21
            assert service.check_clock() > 0
            clocks.run(10 * 60 + 5)  # 09:00:26 again
            await fire_due_jobs(service)
            assert len(heartbeats(fake)) == 1, heartbeats(fake)
    run(go())


# -- 3. DST ----------------------------------------------------------------------------------------------------

def test_the_daily_heartbeat_comes_once_on_the_night_the_clocks_go_back(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks) -> None:
    """Europe/Berlin, heartbeat (and digest) at 02:30: on 25 Oct 2026 02:00-03:00 happens twice, and
    APScheduler's cron fires at both 02:30 CEST and 02:30 CET: two heartbeats, two daily digests."""
    async def go() -> None:
        clocks.wall = datetime(2026, 10, 24, 23, 0, tzinfo=timezone.utc)  # 01:00 CEST
        channels(fake)
        async with serving(fake, tmp_path, clocks, timezone="Europe/Berlin", heartbeat_at=time(2, 30),
                           digest="daily", digest_at=time(2, 30)) as service:
            for _ in range(3 * 60 // 15):  # three hours of the scheduler waking every 15 min
                clocks.run(15 * 60)
                await fire_due_jobs(service)
            assert clocks.wall == datetime(2026, 10, 25, 2, 0, tzinfo=timezone.utc)  # 03:00 CET
            assert len(heartbeats(fake)) == 1, heartbeats(fake)
    run(go())


def test_a_laptop_opened_after_the_daily_digest_time_gets_the_digest_then_not_a_day_later(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks) -> None:
    """Digest daily at 09:00; the lid closed at 20:00 with a low-severity alert waiting, opened at
    12:30. APScheduler gives the digest 3 h of grace, so at 12:30 it was dropped as missed: the
    evening's low alerts waited for tomorrow's 09:00, 37 h after they were raised. Late is better
    than a day later; and it goes once, however many digest times the sleep covered."""
    async def go() -> None:
        async with low_alert_waiting(fake, tmp_path, clocks, 20, 1, digest="daily", digest_at=time(9, 0)) as service:
            clocks.sleep(timedelta(hours=16, minutes=30).total_seconds())  # 12:30 the next day
            await fire_due_jobs(service)
            assert len(digests(fake)) == 1
    run(go())


# -- 4. odd Telegram dates -------------------------------------------------------------------------------------

def test_a_post_pushed_with_date_0_is_stored_but_not_alerted_as_news_from_1970(fake: FakeTelegram, tmp_path: Path) -> None:
    """A message whose date is 0 (1970-01-01: a placeholder, as replay takes an earlier one) pushed
    live after the channel's first read alerted, ringing, «SHOT · 1970-01-01 00:00 UTC»: once a
    channel has been read in order, a post of any age alerts (the same gap as the weekend asleep
    above). It is stored and searchable; it is no news."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: service.store.count("posts") == 1)
            await service.poll()  # SHOT read in order: its posts alert from now on
            fake.publish(SHOT, DESERTION, date=datetime(1970, 1, 1, tzinfo=timezone.utc))
            await eventually(lambda: service.store.count("posts") == 2)
            await service.poll()
            await eventually(lambda: not service.sender._lock.locked())
            await service.sender.deliver()
            assert [m.text.splitlines()[1] for m in alerts(fake)] == []
    run(go())


def test_a_days_old_post_edited_now_to_match_is_news(fake: FakeTelegram, tmp_path: Path) -> None:
    """Posts over a day old are muted as no news (above), but an edit is news when it is made: a
    channel that adds the rule's words to last week's post now gets its alert, as README's edits
    promise (a rule that newly matches after an edit alerts), by the edit's date, not the post's."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            now = datetime.now(timezone.utc).replace(microsecond=0)
            old = fake.publish(SHOT, NEUTRAL, date=now - timedelta(days=6))
            await eventually(lambda: service.store.count("posts") == 1)
            fake.edit(SHOT, old, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)  # (its words match desertion and regiment)
            assert {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"sent"}
    run(go())
