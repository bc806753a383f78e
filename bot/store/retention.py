"""Retention: posts older than the kept period that matched nothing are deleted, in batches the
live service can write between; matched posts and what the outbox refers to stay."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

import sqlite_utils

from .schema import ROWID_FLOOR
from .searchindex import SEARCH_PRUNED

__all__ = ["Retention"]

# The posts retention may delete among those `where` picks: matched by no rule
_UNMATCHED = ("SELECT rowid FROM posts p WHERE {where} AND NOT EXISTS (SELECT 1 FROM matches m "
              "WHERE m.channel_id = p.channel_id AND m.message_id = p.message_id)")


class Retention:
    """`Store`'s `prune` (a mixin: it works on the state `Store.__init__` sets)."""

    db: sqlite_utils.Database
    prunes: int

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Store` has them all
        @contextmanager
        def transaction(self) -> Iterator[None]: ...
        def get_meta(self, key: str) -> str | None: ...
        def set_meta(self, key: str, value: str) -> None: ...
        def sync_search(self, *, told: Callable[[str], None] | None = None) -> int: ...
        def _search_high_water(self) -> int: ...
        def _stale(self, rowid: int) -> None: ...

    def prune(self, before: str, *, batch: int | None = None, stop: Callable[[], bool] = lambda: False) -> int:
        """Delete the posts dated before `before` (ISO) that match nothing; matched posts (a deleted one
        too: the evidence) and everything the outbox refers to are kept. Returns how many were deleted.
        `batch`: commit every this many, each batch taken out of the search index before the next,
        `stop()` asked between: the live service prunes in its worker thread, its posts written meanwhile
        (else one transaction); a post a rule's catch-up matches meanwhile is kept."""
        with self.transaction() if batch is None else nullcontext():
            ids = array("q", (r for (r,) in self.db.execute(_UNMATCHED.format(where="date < ?"), [before])))
            done, size = 0, batch or max(len(ids), 1)
            for start in range(0, len(ids), size):
                if start and stop():
                    break
                with self.transaction():
                    hw = self._search_high_water()
                    part: Sequence[int] = ids[start:start + size]
                    if batch is not None:  # (matched since the list was read: kept)
                        part = [r for i in range(0, len(part), 900) for (r,) in self.db.execute(
                            _UNMATCHED.format(where=f"rowid IN ({','.join('?' * len(part[i:i + 900]))})"), list(part[i:i + 900]))]
                    for rowid in part:
                        if rowid <= hw:
                            self._stale(rowid)
                    if part:  # (counted with them: a merge that fails later loses no night's count)
                        self._raise_rowid_floor()
                        self.set_meta(SEARCH_PRUNED, str(int(self.get_meta(SEARCH_PRUNED) or 0) + len(part)))
                    for i in range(0, len(part), 900):
                        chunk = list(part[i:i + 900])
                        self.db.execute(f"DELETE FROM posts WHERE rowid IN ({','.join('?' * len(chunk))})", chunk)
                done += len(part)
                self.sync_search()  # (in one transaction: nothing; the pipeline's next sync takes them out)
        self.prunes += bool(done)
        return done

    def _raise_rowid_floor(self) -> None:
        """Before posts are deleted: no later post may take a rowid up to the newest one's (`Posts._POST_SQL`)."""
        top = self.db.execute("SELECT max(rowid) FROM posts").fetchone()[0] or 0
        if top > int(self.get_meta(ROWID_FLOOR) or 0):
            self.set_meta(ROWID_FLOOR, str(top))
