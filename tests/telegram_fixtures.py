"""pytest fixtures for tests that run real TelegramClients against tests/fake_telegram.FakeTelegram.

Import them into a test module (``from .telegram_fixtures import fake, fast_updates, telethon_sleeps``) or
re-export them from conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TYPE_CHECKING, Any
from unittest import mock

import pytest
import telethon._updates.messagebox as _messagebox
import telethon.client.users as _users
import telethon.events.album as _album
from apscheduler.triggers.cron import CronTrigger

from .fake_telegram import FakeTelegram, eventually

if TYPE_CHECKING:
    from bot.live.service import Service


@pytest.fixture
def fake() -> FakeTelegram:
    """A fresh in-memory fake server (pass a state_path to FakeTelegram yourself to test persistence)."""
    return FakeTelegram()


@pytest.fixture
def fast_updates(monkeypatch):
    """Shrink Telethon's update timers (module globals read at call time) so gap tests take milliseconds:
    the 0.5 s wait for a possible gap to resolve itself before getChannelDifference, and the 0.5 s album window."""
    monkeypatch.setattr(_messagebox, "POSSIBLE_GAP_TIMEOUT", 0.02)
    monkeypatch.setattr(_album, "_HACK_DELAY", 0.05)


class SleepRecorder:
    """Stands in for the ``asyncio`` module inside telethon.client.users: ``sleep`` is recorded and skipped
    (flood waits, the 2 s pause before retrying a ServerError); everything else is the real asyncio."""

    def __init__(self):
        self.sleeps: list[float] = []

    def __getattr__(self, name):
        return getattr(asyncio, name)

    async def sleep(self, delay, result=None):
        self.sleeps.append(delay)
        await asyncio.sleep(0)
        return result


@pytest.fixture
def telethon_sleeps(monkeypatch) -> SleepRecorder:
    rec = SleepRecorder()
    monkeypatch.setattr(_users, "asyncio", rec)
    return rec


async def stop_service(service: Service) -> None:
    """Stop a live service as a test leaves it: jobs, both clients, the store."""
    await service.stop()
    await service.user.disconnect()
    if service.bot is not None:
        await service.bot.disconnect()
    service.store.close()


def hold_clock_jobs(service: Service) -> None:
    """Pause the jobs set to a time of day (the hourly digest at xx:00, the heartbeat, retention):
    a test run across that time met one it did not drive (a digest of half its posts). Their funcs
    stay for a test to call."""
    for job in service.scheduler.get_jobs():
        if isinstance(job.trigger, CronTrigger):
            job.pause()


@contextlib.contextmanager
def clock_jobs_held() -> Iterator[None]:
    """While held, every Service started holds its time-of-day jobs once `start` returns
    (`hold_clock_jobs`): for a test that runs the real `_serve` (or `tgwatch run`), which builds the
    service itself. A run across xx:00 (or with the clock at 03:30) otherwise met them mid-test."""
    from bot.live.service import Service

    start = Service.start

    async def started(service: Service) -> None:
        await start(service)
        hold_clock_jobs(service)

    with mock.patch.object(Service, "start", started):
        yield


async def deliver_alone(service: Service) -> int:
    """One sender pass run by the test itself. A pass the service started (after storing a post, or
    on its schedule) may still be running: `deliver()` would then only ask it for one more pass and
    return at once, before anything is sent, and the test would look too early."""
    await eventually(lambda: not service.sender._lock.locked())
    return await service.sender.deliver()


@contextlib.asynccontextmanager
async def served(starting: Awaitable[Service]) -> AsyncIterator[Service]:
    """The service `starting` yields, stopped however the test ends."""
    service = await starting
    try:
        yield service
    finally:
        await stop_service(service)


def fail_forgetting_deliveries(store: Any) -> None:
    """Make `store` fail the statement that forgets a sent notice's deliveries rows: the reply has
    reached the chat and recording it fails, as a crash between the two would."""
    execute = store.db.execute

    def lost(sql: str, *a: Any, **kw: Any) -> Any:
        if sql.startswith("DELETE FROM deliveries"):
            raise sqlite3.OperationalError("disk I/O error")
        return execute(sql, *a, **kw)
    store.db.execute = lost


class Held:
    """A function held in its worker thread until `release` is set (`hold`): what the event loop
    does meanwhile shows whether the work really runs off it. `waited`: each call's wait, False when
    it ran out (the loop stood still until then)."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self.waited: list[bool] = []


def hold(monkeypatch: Any, module: Any, name: str) -> Held:
    """Replace `module.name` with a version that waits for `Held.release` before it runs."""
    h = Held()
    real = getattr(module, name)

    def held(*args: Any, **kw: Any) -> Any:
        h.entered.set()
        h.waited.append(h.release.wait(60))
        return real(*args, **kw)

    monkeypatch.setattr(module, name, held)
    return h


@contextlib.contextmanager
def history_flooded(fake: FakeTelegram, channel: int, seconds: int = 3600) -> Iterator[None]:
    """While held, reading `channel`'s history asks for a flood wait of `seconds` (the other channels
    are served): a start-up read cut short there."""
    from .fake_telegram import RpcFail

    served = fake._on_GetHistoryRequest

    def flooded(account: int, r: Any) -> Any:
        if r.peer.channel_id == channel:
            raise RpcFail(420, f"FLOOD_WAIT_{seconds}")
        return served(account, r)

    fake._on_GetHistoryRequest = flooded  # type: ignore[method-assign]
    try:
        yield
    finally:
        fake._on_GetHistoryRequest = served  # type: ignore[method-assign]
