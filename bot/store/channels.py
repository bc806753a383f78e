"""Channels as rows: their titles and usernames (one channel's at a time), the names a config
gave them, their status, and each one's high-water mark (the last message read in order)."""

from __future__ import annotations

from typing import NamedTuple

import sqlite_utils

from ..post import bare_id
from .dates import utcnow
from .outbox import REPLAY

__all__ = ["Channels", "KnownChannel"]


class KnownChannel(NamedTuple):
    """What a stored channel is known by: the names a rule's channel scope may give it."""

    username: str | None
    id: int
    title: str | None


class Channels:
    """`Store`'s channel rows (a mixin: it works on the state `Store.__init__` sets)."""

    db: sqlite_utils.Database
    owner: str

    def upsert_channel(self, channel_id: int, title: str = "", username: str | None = None) -> None:
        """Store a channel's title and username; a username is one channel's at a time, so another
        channel that had it loses it (`_release_username`): the newer claim wins."""
        if username:
            self._release_username(username, channel_id)
        self.db.execute(
            "INSERT INTO channels (id, title, username, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET title = coalesce(nullif(excluded.title, ''), title), "
            "username = coalesce(excluded.username, username), updated_at = excluded.updated_at",
            [channel_id, title, username, utcnow()],
        )

    def _release_username(self, username: str, keeper: int) -> None:
        """Take `username` from every channel but `keeper` (a handle passed on, or two files that
        disagree): their posts' stored links fall back to t.me/c/<id>/N, never opening the other
        channel's post of the same number."""
        for (cid,) in self.db.execute("SELECT id FROM channels WHERE lower(username) = lower(?) AND id != ?",
                                      [username.lstrip("@"), keeper]).fetchall():
            self.db.execute("UPDATE channels SET username = NULL WHERE id = ?", [cid])
            self.db.execute("UPDATE posts SET link = 'https://t.me/c/' || ? || '/' || message_id "
                            "WHERE channel_id = ? AND link NOT LIKE 'https://t.me/c/%'", [bare_id(cid), cid])

    def advance_high_water(self, channel_id: int, message_id: int) -> None:
        """Raise the channel's mark (`high_water`) to `message_id`. A replay's raises only the mark of a
        channel no live run has watched (its first live read starts there: `bot.live.seeded`): the
        service's is what it read, and a post past it is news to it, whoever stored it first."""
        self.db.execute(
            "UPDATE channels SET last_message_id = max(coalesce(last_message_id, 0), ?) WHERE id = ?"
            + " AND watched_run IS NULL" * (self.owner == REPLAY),
            [message_id, channel_id],
        )

    def channel(self, ref: str | int) -> dict[str, object] | None:
        """A channel row by bare id or (lower-case) username."""
        q = "SELECT * FROM channels WHERE id = ?" if isinstance(ref, int) else "SELECT * FROM channels WHERE lower(username) = ?"
        return next(self.db.query(q, [ref]), None)

    def channel_by_ref(self, ref: str | int) -> dict[str, object] | None:
        """The channel a configured name (or id) was watched as, even after it changed its
        username; else the channel that has that username (or id) now."""
        if isinstance(ref, str):
            row = next(self.db.query("SELECT c.* FROM channel_refs r JOIN channels c ON c.id = r.channel_id "
                                     "WHERE r.ref = ?", [ref.lower()]), None)
            if row is not None:
                return row
        return self.channel(ref)

    def remember_ref(self, ref: str | int, channel_id: int) -> None:
        """The configured name (or id) `ref` is watched as the channel `channel_id`."""
        key = ref.lower() if isinstance(ref, str) else str(ref)
        self.db.execute("INSERT INTO channel_refs (ref, channel_id, updated_at) VALUES (?, ?, ?) "
                        "ON CONFLICT(ref) DO UPDATE SET channel_id = excluded.channel_id, updated_at = excluded.updated_at "
                        "WHERE channel_id != excluded.channel_id", [key, channel_id, utcnow()])

    def mark_resolved(self, channel_id: int, title: str, username: str | None, access_hash: int | None = None) -> None:
        """Remember a resolved channel (id, title, username, the account's access hash), so a
        restart resolves nothing again."""
        self.upsert_channel(channel_id, title, username)
        self.db.execute("UPDATE channels SET resolved_at = ?, status = 'ok', error = NULL, "
                        "access_hash = coalesce(?, access_hash) WHERE id = ?", [utcnow(), access_hash, channel_id])

    def set_channel_status(self, channel_id: int, status: str, error: str | None = None) -> str | None:
        """Set a channel's status ('ok', 'private', 'banned', 'gone', ...); returns the previous one."""
        row = self.db.execute("SELECT status FROM channels WHERE id = ?", [channel_id]).fetchone()
        if row is None:
            self.upsert_channel(channel_id)
        self.db.execute("UPDATE channels SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                        [status, error, utcnow(), channel_id])
        return row[0] if row else None

    def high_water(self, channel_id: int) -> int | None:
        """The last message id read in order from the channel's history (None: never read)."""
        row = self.db.execute("SELECT last_message_id FROM channels WHERE id = ?", [channel_id]).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def first_fresh_id(self, channel_id: int, hours: float, since: str = "") -> int | None:
        """The lowest id among the channel's posts first stored (at or after `since`) within `hours`
        of their date (as Telegram pushed them, not a reaction on an old post); None when there is none."""
        return self.db.execute("SELECT min(message_id) FROM posts WHERE channel_id = ? AND first_seen >= ? "
                               "AND julianday(first_seen) - julianday(date) <= ? / 24.0",
                               [channel_id, since, hours]).fetchone()[0]

    def known_channels(self) -> list[KnownChannel]:
        """Every stored channel's username, id and title: a scope entry none of them is known by
        watches nothing (`Matcher.scope_warnings`)."""
        return [KnownChannel(*row) for row in self.db.execute("SELECT username, id, title FROM channels")]

    def first_username(self) -> str | None:
        """The username of the stored channel with the lowest id that has one (None: no channel has
        one): an example a user can type as it is written."""
        row = self.db.execute("SELECT username FROM channels WHERE username IS NOT NULL AND username != '' "
                              "ORDER BY id LIMIT 1").fetchone()
        return str(row[0]) if row else None
