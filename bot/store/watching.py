"""What the live service watches: each run numbered, the channels it watches and since when (one
put back in the config starts afresh), and the channels it has warned about as gone silent."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlite_utils

__all__ = ["Watching"]

RUN_KEY = "live_run"  # meta row: how many runs of the live service this store has seen (`begin_run`)


class Watching:
    """`Store`'s records of the live runs' watch (a mixin: it works on the connection `Store.__init__` opens)."""

    db: sqlite_utils.Database

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Store` has them all
        @contextmanager
        def transaction(self) -> Iterator[None]: ...
        def get_meta(self, key: str) -> str | None: ...
        def set_meta(self, key: str, value: str) -> None: ...

    def begin_run(self, channel_ids: Collection[int], now: str) -> tuple[int, set[int]]:
        """Number a new run of the live service (meta `live_run`) and record that it watches
        `channel_ids` (the configured channels known already: one a flood wait keeps from resolving
        is still watched without a break). Returns the run's number and the channels the run before
        watched."""
        with self.transaction():
            run = int(self.get_meta(RUN_KEY) or 0) + 1
            before = {int(r[0]) for r in self.db.execute("SELECT id FROM channels WHERE watched_run = ?", [run - 1])}
            self.set_meta(RUN_KEY, str(run))
            self.watch_channels(channel_ids, run, now)
        return run, before

    def watch_channels(self, channel_ids: Collection[int], run: int, now: str) -> dict[int, str | None]:
        """Record that live run `run` watches these channels. One the run before did not watch begins
        being watched at `now` (`watched_since`); one watched before that (taken out of the config,
        then put back) also forgets its high-water mark, so its first read takes its latest posts as a
        new channel's does, not every post of its absence. Returns each channel's `watched_since`
        (None: watched since before tgwatch kept it)."""
        ids = list(channel_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self.transaction():
            self.db.execute(f"UPDATE channels SET watched_since = ?, last_message_id = CASE WHEN watched_run IS NULL "
                            f"THEN last_message_id END WHERE id IN ({marks}) AND (watched_run IS NULL OR watched_run < ?)",
                            [now, *ids, run - 1])
            self.db.execute(f"UPDATE channels SET watched_run = ? WHERE id IN ({marks})", [run, *ids])
            return {int(cid): since for cid, since in
                    self.db.execute(f"SELECT id, watched_since FROM channels WHERE id IN ({marks})", ids)}

    def marked_never_watched(self, channel_ids: Collection[int]) -> set[int]:
        """Those of `channel_ids` with a high-water mark (a replay's) that no live run has watched yet."""
        ids = list(channel_ids)
        if not ids:
            return set()
        return {int(cid) for (cid,) in self.db.execute(
            f"SELECT id FROM channels WHERE id IN ({','.join('?' * len(ids))}) AND watched_run IS NULL "
            "AND last_message_id IS NOT NULL", ids)}

    def silence_warned(self) -> set[int]:
        """The channels the analysts have been warned about as silent, and not seen posting since."""
        return {int(r[0]) for r in self.db.execute("SELECT channel_id FROM silence_warnings")}

    def warn_silence(self, channel_id: int, at: str) -> None:
        """Record that the analysts are being warned that a channel went silent (at `at`, ISO)."""
        self.db.execute("INSERT OR REPLACE INTO silence_warnings (channel_id, warned_at) VALUES (?, ?)", [channel_id, at])

    def clear_silence(self, channel_ids: Collection[int]) -> None:
        """The channels posting again: a later silence of theirs is warned about anew."""
        if channel_ids:
            self.db.execute(f"DELETE FROM silence_warnings WHERE channel_id IN ({','.join('?' * len(channel_ids))})",
                            list(channel_ids))
