"""Flood waits, timed by two clocks: a wait Telegram sets on a send pauses every send until either
the wall clock or the monotonic one says it is over (a clock stepped back never holds us longer)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from telethon import TelegramClient, errors

__all__ = ["FloodWaits"]

log = logging.getLogger("bot.live.sender")  # the parts of Sender log under one name, as one job


_Due = tuple[datetime, float]  # a time to wait for: wall clock (shown, stored) and monotonic


class FloodWaits:
    """`Sender`'s pause for a flood wait and its two-clock times (a mixin: it works on the state
    `Sender.__init__` sets)."""

    client: TelegramClient
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]
    paused_until: datetime | None
    _paused_mono: float
    _flood_requests: set[int]

    def _after(self, seconds: float) -> _Due:
        """The time `seconds` from now, by both clocks."""
        return self.clock() + timedelta(seconds=seconds), self.monotonic() + seconds

    def _waiting(self, due: _Due) -> bool:
        """Is `due` still ahead? Over when either clock says so: a wall clock stepped back never
        holds anything longer than it was meant to wait."""
        return self.clock() < due[0] and self.monotonic() < due[1]

    def _paused(self) -> bool:
        """True while a flood wait runs; the first call after it ends lets Telethon send again."""
        if self.paused_until is None:
            return False
        if self._waiting((self.paused_until, self._paused_mono)):
            return True
        self.paused_until = None
        # Telethon keeps its own deadline in wall-clock time and refuses to send before it; Telegram's
        # wait is over by now, so a clock stepped back must not hold us there (telethon 1.45).
        waited = getattr(self.client, "_flood_waited_requests", None)
        if isinstance(waited, dict):
            for constructor in self._flood_requests:
                waited.pop(constructor, None)
        self._flood_requests.clear()
        log.info("flood wait over: sending resumes")
        return False

    def _pause(self, e: errors.FloodError) -> None:
        seconds = int(getattr(e, "seconds", None) or 60)  # a 420 without a wait: a minute
        until, mono = self._after(seconds)
        if self.paused_until is None or until > self.paused_until:
            self.paused_until = until
        self._paused_mono = max(self._paused_mono, mono)
        request = getattr(e, "request", None)
        if request is not None and hasattr(request, "CONSTRUCTOR_ID"):
            self._flood_requests.add(request.CONSTRUCTOR_ID)
