"""/status, /stats, /digest and /release: how the watch is doing, and the sends it holds sent now."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from ...report.stats import stats_png, stats_text
from ...store.db import Store
from .common import Common
from .replies import Caller, Reply
from .spans import parse_span

__all__ = ["Status"]


class Status(Common):
    """The service's state and its held sends, as the analysts ask for them."""

    status: Callable[[datetime], str | Awaitable[str]]
    digest: Callable[[datetime], Awaitable[int]]
    release: Callable[[], Awaitable[int]] | None
    chats_down: Callable[[], dict[str, str]]

    async def cmd_status(self, args: str, caller: Caller) -> Reply:
        text = self.status(self.clock())
        return Reply(html.escape(text if isinstance(text, str) else await text))

    async def cmd_stats(self, args: str, caller: Caller) -> Reply:
        span = parse_span(args) if args.strip() else timedelta(days=7)
        now = self.clock()
        tz = self.config.zone

        def chart(store: Store) -> tuple[str, bytes]:
            return (stats_text(store, since=now - span, now=now, tz=tz),
                    stats_png(store, since=now - span, now=now, tz=tz))

        text, png = await self._off_loop(chart)
        return Reply(html.escape(text), file=png, file_name=f"tgwatch-stats-{now.astimezone(tz):%Y%m%d}.png")

    async def cmd_digest(self, args: str, caller: Caller) -> Reply:
        n = await self.digest(self.clock())
        if n:  # it goes to the alert chats, which need not be the chat asking: say where, and how much
            chats = len(self.config.chats)
            return Reply(f"Digest sent to the alert chat{'s' * (chats != 1)}: {n} low-priority "
                         f"stor{'y' if n == 1 else 'ies'}.")
        if self.store.digests_waiting():  # collected, not sent: a flood wait or an unreachable chat holds it
            if down := self.chats_down():  # say which chat cannot be written to, and why
                held = ", ".join(f"{chat} ({why})" for chat, why in down.items())
                return Reply(html.escape(f"A digest is waiting to be sent: alert chat{'s' * (len(down) != 1)} {held} "
                                         f"cannot be written to; it goes out as soon as it can."))
            return Reply("A digest is waiting to be sent (Telegram asked to wait, or an alert chat cannot be "
                         "written to); it goes out as soon as it can.")
        return Reply("Nothing waiting for the digest.")

    async def cmd_release(self, args: str, caller: Caller) -> Reply:
        """The alerts held after a restore (the bot could not tell which the chat had) go out now."""
        n = await self.release() if self.release is not None else 0
        if not n:
            return Reply("No alerts are held.")
        return Reply(f"Released {n} held alert{'s' * (n != 1)}: {'they go' if n != 1 else 'it goes'} to the alert chats now.")
