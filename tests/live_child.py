"""A tgwatch live service against the offline fake Telegram, run as a subprocess by the SIGKILL
test: it publishes a fixed script of posts (resuming where the server's persisted state says it
stopped), lets the service take them live or by polling, and prints a line at every step so the
parent can kill it at a random one. `python -m tests.live_child STATE_DIR`."""

from __future__ import annotations

import asyncio
import sys
from datetime import timezone
from pathlib import Path

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config
from bot.live.service import Service
from bot.live.session import CLIENT_OPTIONS, WATCH_OPTIONS
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import hold_clock_jobs

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = {1800000001: ("shot_shot", "SHOT", True), 1800000002: ("mash", "Mash", True), 1800000003: ("topor", "Топор", False)}
STORIES = [
    "В Краснодаре задержали троих дезертиров, сбежавших из воинской части",
    "Полк мобилизованных самовольно оставил позиции под Угледаром, сообщают родственники",
    "В Белгороде ввели режим КТО, въезд в город ограничен",
    "Военная прокуратура возбудила дело о самовольном оставлении части двумя контрактниками",
]
NEUTRAL = ["Погода в Москве: завтра до +{n}, без осадков", "Курс доллара на торгах {n} ноября", "В зоопарке родился слонёнок №{n}"]


def script() -> list[tuple[int, str, bool]]:
    """(channel, text, pushed live?): each story told by every channel (some copies never pushed),
    neutral posts between them."""
    out: list[tuple[int, str, bool]] = []
    ids = list(CHANNELS)
    for s, story in enumerate(STORIES):
        for k, ch in enumerate(ids):
            out.append((ch, story, (s + k) % 3 != 0))
            out.append((ids[(s + k + 1) % 3], NEUTRAL[(s + k) % 3].format(n=s * 3 + k + 1), True))
    return out


async def main(state: Path) -> None:
    fake = FakeTelegram(state / "telegram.json")
    for cid, (username, title, joined) in CHANNELS.items():
        if cid not in fake._channels:
            fake.add_channel(cid, username, title, joined=joined)
    options = {k: v for k, v in CLIENT_OPTIONS.items() if k != "connection_retries"}
    user = await fake.client(session=state / "user.session", **options, **WATCH_OPTIONS)
    config = Config(db=state / "tgwatch.db", rules=ROOT / "rules", channels=tuple(u for u, _, _ in CHANNELS.values()), chats=("me",),
                    resolve_delay_seconds=0, edit_every_seconds=0, poll_minutes=60, edit_lookback=3)
    store = Store(config.db)
    service = Service(config, store, user, scheduler=AsyncIOScheduler(timezone=timezone.utc))
    await service.start()
    hold_clock_jobs(service)  # the parent counts every alert: no digest of the wall clock's
    print("started", flush=True)
    steps = script()
    done = sum(len(fake.messages(c)) for c in CHANNELS)
    for i in range(done, len(steps)):
        channel, text, push = steps[i]
        fake.publish(channel, text, push=push)
        print("published", i, flush=True)
        await fake.idle()  # the live update has been handled (stored, matched, sent), or waits behind a gap
        if i % 4 == 3:
            await service.poll()
            print("polled", flush=True)
    await service.poll()
    await eventually(lambda: not store.queued_alerts())
    print("done", flush=True)
    await service.stop()
    await user.disconnect()
    store.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
