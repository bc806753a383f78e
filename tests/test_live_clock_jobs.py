"""The daily jobs (digests, heartbeat, retention) on a laptop's clock: slept through, they run once
on waking, late rather than a day later; never twice for one local day. Fake wall and monotonic
clocks (APScheduler's too: tests/test_review178_clock.py), real clients, real SQLite files."""

from __future__ import annotations

import logging
from datetime import time, timedelta
from pathlib import Path

import pytest

from .fake_telegram import FakeTelegram
from .test_live import NEUTRAL, SHOT, channels, run
from .test_live_sender_faults import low_rules
from .test_review178_clock import Clocks, clocks, fire_due_jobs, heartbeats, serving

__all__ = ["clocks"]  # (the fixture, used by name)


def test_two_nights_asleep_bring_one_hourly_digest_one_heartbeat_and_one_prune_on_waking(
        fake: FakeTelegram, tmp_path: Path, clocks: Clocks, caplog: pytest.LogCaptureFixture) -> None:
    """Shut at 20:00 with a low alert waiting, opened at 10:45 two days on: the 38 hourly digests, two
    heartbeats and two prunes the sleep covered come as one of each, at once."""
    async def go() -> None:
        clocks.wall = clocks.wall.replace(hour=20, minute=0, second=0) - timedelta(days=2)
        channels(fake)
        async with serving(fake, tmp_path, clocks, rules=low_rules(tmp_path), digest="hourly",
                           heartbeat_at=time(9, 0), retention_days=30) as service:
            fake.publish(SHOT, NEUTRAL, date=clocks.wall - timedelta(minutes=5), push=False)
            await service.poll()
            assert service.store.count("alerts") == 1  # low: for the digest
            clocks.sleep(timedelta(hours=38, minutes=45).total_seconds())  # 10:45 two days on
            with caplog.at_level(logging.INFO, logger="bot.live.service"):
                await fire_due_jobs(service)
                await fire_due_jobs(service)  # (the scheduler wakes again: nothing more is due)
            assert len([m for m in fake.chat if "Digest" in m.text]) == 1
            assert len(heartbeats(fake)) == 1
            assert len([r for r in caplog.records if r.getMessage().startswith("retention:")]) == 1
    run(go())
