"""The live service on a laptop's clock: the daily jobs (digests, heartbeat, retention) slept through
run once on waking, late rather than a day later; a weekend asleep is told as a restart tells it. Fake wall and monotonic
clocks (APScheduler's too: tests/test_review178_clock.py), real clients, real SQLite files."""

from __future__ import annotations

import logging
from datetime import time, timedelta
from pathlib import Path

import pytest

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, SHOT, notices, run
from .test_live_sender_faults import digests
from .test_review178_clock import Clocks, clocks, fire_due_jobs, heartbeats, low_alert_waiting, one_night

__all__ = ["clocks"]  # (the fixture, used by name)


def test_two_nights_asleep_bring_one_hourly_digest_one_heartbeat_and_one_prune_on_waking(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks, caplog: pytest.LogCaptureFixture) -> None:
    """Shut at 20:00 with a low alert waiting, opened at 10:45 two days on: the 38 hourly digests, two
    heartbeats and two prunes the sleep covered come as one of each, at once."""
    async def go() -> None:
        async with low_alert_waiting(fake, tmp_path, clocks, 20, 2, digest="hourly", heartbeat_at=time(9, 0),
                                     retention_days=30) as service:
            clocks.sleep(timedelta(hours=38, minutes=45).total_seconds())  # 10:45 two days on
            with caplog.at_level(logging.INFO, logger="bot.live.service"):
                await fire_due_jobs(service)
                await fire_due_jobs(service)  # (the scheduler wakes again: nothing more is due)
            assert len(digests(fake)) == 1
            assert len(heartbeats(fake)) == 1
            assert len([r for r in caplog.records if r.getMessage().startswith("retention:")]) == 1
    run(go())


def test_a_weekend_asleep_is_told_as_a_restart_tells_it_recovered_posts_and_the_old_ones_not_alerted(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks) -> None:
    """Woken on Monday, the catch-up poll's line is a restart's: what it recovered, and that the
    matched post from Friday night was not alerted, with the export that lists it."""
    async def go() -> None:
        t0 = clocks.wall
        async with one_night(fake, tmp_path, clocks, timedelta(hours=1)) as (service, _):
            fake.publish(SHOT, DESERTION, date=t0 + timedelta(hours=2), push=False)  # Friday night
            clocks.sleep(timedelta(days=2, hours=12).total_seconds())
            await fake.reconnect(service.user)
            await eventually(lambda: service.store.count("posts") == 12 + 5 + 1)
            await eventually(lambda: service.ingest._reconnect_poll is not None and service.ingest._reconnect_poll.done())
            assert [n for n in notices(fake) if n.startswith("recovered")] == [
                f"recovered 6 posts from 1 channel; 1 matched post older than a day was not alerted: "
                f"tgwatch export --since {t0.date().isoformat()}"]
    run(go())


def test_a_daily_digest_sent_late_after_midnight_still_comes_that_evening(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks) -> None:
    """Digest daily at 23:30, the lid shut at 22:00, opened at 00:10: yesterday's digest goes then,
    and tonight's at 23:30 still goes (a late run is for the day whose time it was, not today)."""
    async def go() -> None:
        async with low_alert_waiting(fake, tmp_path, clocks, 22, 1, digest="daily", digest_at=time(23, 30)) as service:
            clocks.sleep(timedelta(hours=2, minutes=10).total_seconds())  # 00:10
            await fire_due_jobs(service)
            assert len(digests(fake)) == 1
            fake.publish(SHOT, "Синоптики: погода в Сочи на выходных будет штормовой, ветер до 25 м/с",
                         date=clocks.wall + timedelta(hours=22), push=False)  # another story
            clocks.run(timedelta(hours=23).total_seconds())  # 23:10
            await service.poll()
            assert service.store.count("alerts") == 2
            clocks.run(timedelta(minutes=20).total_seconds())  # 23:30
            await fire_due_jobs(service)
            assert len(digests(fake)) == 2
    run(go())
