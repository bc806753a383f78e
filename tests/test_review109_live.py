"""rlive: review of the live path's start-up (the start-up difference, the 1-day rule for channels
never read, the «recovered» count) through the real TelegramClient and the fake server."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.live.dbfaults import LIVE_BUSY_TIMEOUT
from bot.live.service import Service
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import stop_service
from .test_live import DESERTION, MASH, NEUTRAL, OPTIONS, SHOT, TOPOR, alerts, channels, config, notices, run, start


async def start_at(fake: FakeTelegram, tmp_path: Path, offset: timedelta, **kw: Any) -> Service:
    """`start`, for a service whose clock reads `offset` from now."""
    user = await fake.client(session=tmp_path / "user.session", **OPTIONS)
    service = Service(config(tmp_path, **kw), Store(tmp_path / "tgwatch.db", busy_timeout=LIVE_BUSY_TIMEOUT), user,
                      scheduler=AsyncIOScheduler(timezone=timezone.utc), clock=lambda: datetime.now(timezone.utc) + offset)
    await service.start()
    return service


AWOL = "В Туле военная полиция ищет двух дезертиров: они самовольно оставили часть неделю назад"


def test_posts_a_flood_wait_kept_from_the_start_up_read_are_never_counted_as_recovered(fake: FakeTelegram,
                                                                                      tmp_path: Path) -> None:
    """Mash (polled only) posts while tgwatch is stopped. The start-up read is stopped by an hour's
    flood wait, so the start counts nothing; yet the start (and the stop) move the «last running»
    mark past Mash's post. The next start reads it and counts nothing either, as it is dated before
    the mark: the analysts never hear that tgwatch recovered a post of its downtime."""
    async def go() -> None:
        channels(fake, mash_joined=False)
        # the run before was a minute ago (a clock of its own, not a wait: dates are kept to the second)
        service = await start_at(fake, tmp_path, timedelta(minutes=-1))  # every channel read: Mash has a high-water mark
        await stop_service(service)
        fake.publish(MASH, DESERTION, date=datetime.now(timezone.utc) - timedelta(seconds=30))  # while tgwatch is down
        fake.flood("GetHistoryRequest", 3600)  # the start-up read stops at its first channel
        service = await start(fake, tmp_path)
        try:
            assert service.ingest.failing  # nothing was read
        finally:
            await stop_service(service)
        service = await start(fake, tmp_path)  # the hour has passed (a new client, the flood used up)
        try:
            await eventually(lambda: service.store.count("posts") == 1)  # Mash's downtime post, read now
            assert [n for n in notices(fake) if "recovered" in n] == ["recovered 1 post from 1 channel"]
        finally:
            await stop_service(service)
    run(go())
