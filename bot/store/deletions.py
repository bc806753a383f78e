"""Posts a channel deleted: marked (never removed: the evidence stays), unmarked when Telegram shows
them after all, and their alerts queued to say so."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlite_utils

__all__ = ["Deletions"]

log = logging.getLogger("bot.store.db")  # the parts of Store log under one name, as one job


class Deletions:
    """`Store`'s deletion marks on posts (a mixin: it works on the connection `Store.__init__` opens)."""

    db: sqlite_utils.Database

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Store` has them all
        @contextmanager
        def transaction(self) -> Iterator[None]: ...

    def deleted_at(self, channel_id: int, message_id: int) -> str | None:
        """When tgwatch learnt that the channel deleted a stored post (ISO, UTC); None: not deleted."""
        row = self.db.execute("SELECT deleted_at FROM posts WHERE channel_id = ? AND message_id = ?",
                              [channel_id, message_id]).fetchone()
        return row[0] if row else None

    def mark_deleted(self, channel_id: int, message_ids: Collection[int], at: str) -> list[int]:
        """The channel deleted these posts (`at`: when we learnt it, ISO UTC): the stored ones not
        marked yet are marked, nothing is removed, and their sent alerts are queued for an update
        that says so (and those of their stories, whose story line marks them). Returns the ids newly marked."""
        ids = sorted(set(message_ids))
        marked: list[int] = []
        with self.transaction():
            for i in range(0, len(ids), 900):
                chunk = ids[i:i + 900]
                marks = ",".join("?" * len(chunk))
                marked += [r[0] for r in self.db.execute(
                    f"SELECT message_id FROM posts WHERE channel_id = ? AND message_id IN ({marks}) AND deleted_at IS NULL "
                    "ORDER BY message_id", [channel_id, *chunk])]
            for i in range(0, len(marked), 900):
                chunk = marked[i:i + 900]
                self.db.execute(f"UPDATE posts SET deleted_at = ? WHERE channel_id = ? AND message_id IN ({','.join('?' * len(chunk))})",
                                [at, channel_id, *chunk])
            if marked:
                self._alerts_changed(channel_id, marked, at)
        return marked

    def unmark_deleted(self, channel_id: int, message_ids: Collection[int], now: str) -> list[int]:
        """Telegram showed these posts after they were marked deleted (the signal was wrong): the marks
        go and their sent alerts are queued to lose the deleted line. Returns the ids un-marked; takes
        no write lock when none is marked (a locked store is never waited for)."""
        ids = sorted(set(message_ids))
        marked = self._deleted_among(channel_id, ids)
        if not marked:
            return []
        with self.transaction():
            marked = self._deleted_among(channel_id, marked)
            for i in range(0, len(marked), 900):
                chunk = marked[i:i + 900]
                self.db.execute(f"UPDATE posts SET deleted_at = NULL WHERE channel_id = ? AND message_id IN ({','.join('?' * len(chunk))})",
                                [channel_id, *chunk])
            if marked:
                self._alerts_changed(channel_id, marked, now)
        for mid in marked:
            log.info("post %d of channel %d was marked deleted but Telegram shows it: it is not deleted", mid, channel_id)
        return marked

    def _deleted_among(self, channel_id: int, ids: Sequence[int]) -> list[int]:
        """The ids among `ids` of the channel's stored posts marked deleted."""
        out: list[int] = []
        for i in range(0, len(ids), 900):
            chunk = list(ids[i:i + 900])
            out += [int(r[0]) for r in self.db.execute(
                f"SELECT message_id FROM posts WHERE channel_id = ? AND message_id IN ({','.join('?' * len(chunk))}) "
                "AND deleted_at IS NOT NULL ORDER BY message_id", [channel_id, *chunk])]
        return out

    def deleted_between(self, channel_id: int, low: int, high: int) -> list[tuple[int, int | None]]:
        """(message id, grouped id) of the channel's stored posts marked deleted with ids in [low, high]."""
        return [(int(m), g) for m, g in self.db.execute(
            "SELECT message_id, grouped_id FROM posts WHERE channel_id = ? AND message_id BETWEEN ? AND ? "
            "AND deleted_at IS NOT NULL ORDER BY message_id", [channel_id, low, high])]

    def _alerts_changed(self, channel_id: int, message_ids: Sequence[int], now: str) -> None:
        """The alerts of these posts' stories must show them again (deleted, or not deleted after all:
        the alerted post's own line, a follower's mark in the story line): a sent one is queued for an
        update; one being sent now is sent again after (as a story that grew)."""
        for i in range(0, len(message_ids), 900):
            chunk = list(message_ids[i:i + 900])
            where = (f"story_id IN (SELECT story_id FROM posts WHERE channel_id = ? AND story_id IS NOT NULL "
                     f"AND message_id IN ({','.join('?' * len(chunk))}))")
            self.db.execute(f"UPDATE alerts SET state = 'update_queued', updated_at = ? WHERE state = 'sent' AND {where}",
                            [now, channel_id, *chunk])
            self.db.execute(f"UPDATE alerts SET story_grew = 1 WHERE state IN ('queued', 'update_queued') AND {where}",
                            [channel_id, *chunk])

    def stored_between(self, channel_id: int, low: int, high: int) -> list[tuple[int, int | None]]:
        """(message id, grouped id) of the channel's stored posts not marked deleted with ids in [low, high]."""
        return [(int(m), g) for m, g in self.db.execute(
            "SELECT message_id, grouped_id FROM posts WHERE channel_id = ? AND message_id BETWEEN ? AND ? "
            "AND deleted_at IS NULL ORDER BY message_id", [channel_id, low, high])]
