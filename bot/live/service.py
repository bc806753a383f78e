"""`tgwatch run`: one asyncio loop runs the Telethon user client, the optional bot client and an
APScheduler AsyncIOScheduler (the reconcile poll and the sender's retries)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import datetime, time, timezone
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telethon import TelegramClient

from ..config import Config, Secrets
from ..match.matcher import Matcher
from ..match.rules import RuleSet
from ..pipeline import Pipeline, Processed
from ..store.db import Store
from .ingest import Ingest
from .sender import Sender
from .session import NotLoggedIn, make_client

__all__ = ["Service", "run", "quiet_silencer"]

log = logging.getLogger(__name__)


def quiet_silencer(config: Config) -> Callable[[str, datetime], bool]:
    """Which alerts go out without sound: normal and low ones during the quiet hours."""
    if config.quiet_hours is None:
        return lambda severity, now: False
    start, end = config.quiet_hours
    zone = config.zone

    def silent(severity: str, now: datetime) -> bool:
        if severity == "high":
            return False
        t: time = now.astimezone(zone).time()
        return start <= t < end if start <= end else (t >= start or t < end)

    return silent


class Service:
    """The live service over one store: ingest -> pipeline -> outbox -> sender, on one loop."""

    def __init__(self, config: Config, store: Store, ruleset: RuleSet, user: TelegramClient, *,
                 bot: TelegramClient | None = None, scheduler: AsyncIOScheduler | None = None,
                 resolve_delay: float | None = None) -> None:
        self.config = config
        self.store = store
        self.ruleset = ruleset
        self.user = user
        self.bot = bot
        self.pipeline = Pipeline(store, Matcher(ruleset, groups=config.groups), window_hours=config.story_window_hours)
        sending = bot if (bot is not None and config.send_via == "bot") else user
        self.sender = Sender(sending, store, config.chats, titles={r.name: r.title for r in ruleset.rules},
                             tz=config.zone, edit_every=config.edit_every_seconds, silent=quiet_silencer(config))
        self.ingest = Ingest(user, self.pipeline, config.channels, on_processed=self._after, notify=self.sender.notify,
                             resolve_delay=config.resolve_delay_seconds if resolve_delay is None else resolve_delay,
                             edit_lookback=config.edit_lookback)
        self.scheduler = scheduler or AsyncIOScheduler(timezone=timezone.utc)
        self.recovered: tuple[int, int] = (0, 0)

    async def _after(self, processed: list[Processed]) -> None:
        if any(p.alert_ids or p.update_ids for p in processed):
            await self.sender.deliver()

    async def start(self) -> None:
        """Check the login, resolve channels, listen, catch up on what happened while stopped,
        then schedule the poll and the sender."""
        if not await self.user.is_user_authorized():
            raise NotLoggedIn("not logged in: run `tgwatch login` first")
        await self.ingest.resolve()
        self.ingest.listen()
        self.recovered = await self.ingest.reconcile()
        n, m = self.recovered
        if n:
            await self.sender.notify(f"recovered {n} post{'s' * (n != 1)} from {m} channel{'s' * (m != 1)}")
        await self.sender.deliver()
        grace = max(30, int(self.config.poll_minutes * 30))
        self.scheduler.add_job(self.poll, "interval", minutes=self.config.poll_minutes, id="reconcile",
                               coalesce=True, max_instances=1, misfire_grace_time=grace)
        self.scheduler.add_job(self.sender.deliver, "interval", seconds=15, id="sender",
                               coalesce=True, max_instances=1, misfire_grace_time=60)
        self.scheduler.start()
        log.info("watching %d channels (%d joined, %d polled only)", len(self.ingest.watched),
                 sum(w.joined for w in self.ingest.watched.values()),
                 sum(not w.joined for w in self.ingest.watched.values()))

    async def poll(self) -> None:
        """The scheduled reconcile: posts Telegram never pushed are found here."""
        n, m = await self.ingest.reconcile()
        if n:
            log.info("reconcile found %d posts from %d channels that no live update brought", n, m)
        await self.sender.deliver()

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


async def _serve(config: Config, secrets: Secrets, ruleset: RuleSet, make: Callable[..., TelegramClient]) -> None:
    user = make(config, secrets)
    if user.session.auth_key is None:  # never logged in: say so now, not after connecting
        user.session.close()
        raise NotLoggedIn("not logged in: run `tgwatch login` first")
    store = Store(config.db)
    bot = make(config, secrets, bot=True) if secrets.bot_token else None
    try:
        await user.connect()
        if bot is not None:
            await bot.start(bot_token=secrets.bot_token)  # type: ignore[arg-type]
        service = Service(config, store, ruleset, user, bot=bot)
        await service.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        waiters: list[Any] = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(user.disconnected)]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        await service.stop()
    finally:
        for c in (user, bot):
            if c is not None:
                await c.disconnect()
        store.close()


def run(config: Config, secrets: Secrets, ruleset: RuleSet, *, make: Callable[..., TelegramClient] = make_client) -> None:
    """Run the service until SIGINT/SIGTERM; raises NotLoggedIn when there is no session."""
    asyncio.run(_serve(config, secrets, ruleset, make))
