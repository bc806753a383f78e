"""Mutes: a rule (or every rule) silenced until a time, everywhere or for one channel, as the chat's
/mute sets them; the sender asks `muted` before it sends an alert."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

import sqlite_utils

from .dates import utcnow

__all__ = ["Mute", "Mutes"]


class Mute(NamedTuple):
    """A mute running: a rule ('*': every rule) silenced until an ISO time, everywhere (channel_id
    None) or for one channel."""

    rule: str
    channel_id: int | None
    until: str  # ISO, UTC (`iso`)


class Mutes:
    """`Store`'s mute rows (a mixin: it works on the connection `Store.__init__` opens)."""

    db: sqlite_utils.Database

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Store` has them all
        @contextmanager
        def transaction(self) -> Iterator[None]: ...

    def mute(self, rule: str, until: str, *, channel_id: int | None = None, by_user: int | None = None) -> None:
        """Mute a rule (everywhere, or for one channel; rule '*': every rule) until an ISO time. (One
        transaction: a lock taken between the two statements would lose the mute running now.)"""
        with self.transaction():
            self.db.execute("DELETE FROM mutes WHERE rule = ? AND channel_id IS ?", [rule, channel_id])
            self.db.execute("INSERT INTO mutes (rule, channel_id, until, by_user, created_at) VALUES (?,?,?,?,?)",
                            [rule, channel_id, until, by_user, utcnow()])

    def unmute(self, rule: str, now: str = "") -> int:
        """Lift every mute of a rule; returns how many were still running at `now`."""
        return self._lift("rule = ?", rule, now)

    def unmute_channel(self, channel_id: int, now: str = "") -> int:
        """Lift every mute of a channel (for all rules or one); returns how many were still running at `now`."""
        return self._lift("channel_id = ?", channel_id, now)

    def _lift(self, where: str, value: object, now: str) -> int:
        with self.transaction():
            running = self.db.execute(f"SELECT count(*) FROM mutes WHERE {where} AND until > ?", [value, now]).fetchone()[0]
            self.db.execute(f"DELETE FROM mutes WHERE {where}", [value])
        return int(running)

    def muted(self, rule: str, channel_id: int, now: str) -> str | None:
        """Until when a rule is muted for a channel (None: not muted)."""
        row = self.db.execute("SELECT max(until) FROM mutes WHERE rule IN (?, '*') AND (channel_id IS NULL OR channel_id = ?) "
                              "AND until > ?", [rule, channel_id, now]).fetchone()
        return row[0] if row else None

    def channel_mutes(self, now: str) -> list[Mute]:
        """The mutes of one channel (for a rule or every rule) still running at `now` (ISO), the
        soonest to end first: what /rules lists, as nothing else shows them."""
        return [Mute(str(rule), int(cid), str(until)) for cid, rule, until in self.db.execute(
            "SELECT channel_id, rule, until FROM mutes WHERE channel_id IS NOT NULL AND until > ? ORDER BY until, rule",
            [now])]

    def newest_mute_by(self, user_id: int, now: str, since: str = "") -> Mute | None:
        """The newest mute `user_id` made at or after `since` (ISO; "" for any) that still runs at
        `now`: what /undo names instead of taking back an older rule change."""
        row = self.db.execute(
            "SELECT rule, channel_id, until FROM mutes WHERE by_user = ? AND until > ? AND created_at >= ? "
            "ORDER BY created_at DESC, id DESC LIMIT 1", [user_id, now, since]).fetchone()
        return None if row is None else Mute(str(row[0]), None if row[1] is None else int(row[1]), str(row[2]))
