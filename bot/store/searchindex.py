"""The full-text index (`posts_fts`) kept in step with the posts it derives from: new posts added,
edited and pruned ones taken out, a damaged index rebuilt, its segments merged after prunes."""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlite_utils

from .schema import FTS_TEXT

__all__ = ["SEARCH_PRUNED", "SearchIndex"]

log = logging.getLogger("bot.store.db")  # the parts of Store log under one name, as one job

SEARCH_PRUNED = "search_pruned"  # meta row: posts pruned since the search index was last merged whole (`prune`)


@functools.cache
def _fresh_index(definition: str) -> list[tuple[int, bytes]]:
    """The records (posts_fts_data rows) a new FTS5 table made by `definition`, its CREATE statement,
    starts with: its empty structure record among them, as the SQLite at hand writes it."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(definition)
        return conn.execute("SELECT id, block FROM posts_fts_data").fetchall()
    finally:
        conn.close()


class SearchIndex:
    """`Store`'s upkeep of the search index: `sync_search`, `repair_search_index`, `merge_search`
    (a mixin: it works on the connection `Store.__init__` opens)."""

    SEARCH_CHUNK = 5_000  # posts indexed per transaction: the live service waits 2 s at most for the write lock
    MERGE_PAGES = 500  # FTS5 pages (~2 MB) one step of `merge_search` writes, a transaction of its own

    db: sqlite_utils.Database
    path: str

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Store` has them all
        @contextmanager
        def transaction(self) -> Iterator[None]: ...
        def count(self, table: str) -> int: ...
        def get_meta(self, key: str) -> str | None: ...
        def set_meta(self, key: str, value: str) -> None: ...
        def delete_meta(self, key: str) -> None: ...

    def _search_high_water(self) -> int:
        """The newest posts rowid the index has taken in (meta `fts_rowid`; 0: none)."""
        return int(self.get_meta("fts_rowid") or 0)

    def sync_search(self, *, told: Callable[[str], None] | None = None) -> int:
        """Bring the full-text index up to date: add the posts stored since the last sync, index the
        edited ones again, take the pruned ones out; returns how many posts were added. The index is
        written only in transactions of its own: in a caller's transaction this does nothing (SQLite
        rolls a whole transaction back when FTS5 meets damage in its index: a batch of posts must not
        go with it). A damaged index is emptied and built again from the posts, the truth it derives
        from; one line naming the store says so (to `told`, else a warning in the log)."""
        if self.db.conn.in_transaction:
            return 0
        added, damaged, behind = 0, None, self._search_behind()
        while behind:
            try:
                with self.transaction():
                    n, behind = self._index_chunk()
                added += n
            except sqlite3.DatabaseError as e:
                if getattr(e, "sqlite_errorcode", None) != sqlite3.SQLITE_CORRUPT_VTAB or damaged is not None:
                    raise
                damaged = e
                self._empty_search_index()
        if damaged is not None:
            self._rebuilt(damaged, told)
        return added

    def repair_search_index(self, error: sqlite3.DatabaseError, told: Callable[[str], None] | None = None) -> None:
        """A read found the search index damaged (SQLITE_CORRUPT_VTAB: the index's own data, not the
        file's pages): build it again from the posts, and say so as `sync_search` does."""
        self._empty_search_index()
        self.sync_search()
        self._rebuilt(error, told)

    def _search_behind(self) -> bool:
        """Has the index posts to add, re-index or take out? (Asked without the write lock: a search
        over an index up to date never waits for one.)"""
        top = self.db.execute("SELECT max(rowid) FROM posts").fetchone()[0] or 0
        return top != self._search_high_water() or self.db.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone() is not None

    def _index_chunk(self) -> tuple[int, bool]:
        """In the caller's transaction: the edited and pruned posts (`_stale`), then up to
        `SEARCH_CHUNK` posts not indexed yet; how many of those, and whether more are left (the
        newest rowid is asked once per chunk, under the write lock)."""
        hw = self._search_high_water()
        for rowid, indexed in self.db.execute("SELECT post_rowid, indexed FROM search_pending").fetchall():
            self.db.execute("INSERT INTO posts_fts (posts_fts, rowid, text) VALUES ('delete', ?, ?)", [rowid, indexed])
            self.db.execute(f"INSERT INTO posts_fts (rowid, text) SELECT rowid, {FTS_TEXT} FROM posts WHERE rowid = ?", [rowid])
        self.db.execute("DELETE FROM search_pending")
        top = self.db.execute("SELECT max(rowid) FROM posts").fetchone()[0] or 0
        if top < hw:  # the newest posts were pruned: the next ones are stored above the mark (`Posts._POST_SQL`)
            self.set_meta("fts_rowid", str(top))
            return 0, False
        end = min(top, hw + self.SEARCH_CHUNK)
        if end <= hw:
            return 0, False
        self.db.execute(f"INSERT INTO posts_fts (rowid, text) SELECT rowid, {FTS_TEXT} FROM posts WHERE rowid > ? AND rowid <= ?",
                        [hw, end])
        self.set_meta("fts_rowid", str(end))
        return end - hw, end < top

    def _empty_search_index(self) -> None:
        """Empty the search index, its high-water mark and what it had still to take out, in a
        transaction of its own: `sync_search` then indexes every post again. FTS5 reads the index's
        structure record before anything else ('delete-all' and DROP TABLE too: «vtable constructor
        failed» when it is damaged), so the record a new table of the same definition starts with is
        written first; 'delete-all' then empties the rest (and FTS5's copy of it in this connection)."""
        with self.transaction():
            definition = self.db.execute("SELECT sql FROM sqlite_master WHERE name = 'posts_fts'").fetchone()[0]
            self.db.conn.executemany("INSERT OR REPLACE INTO posts_fts_data (id, block) VALUES (?, ?)",
                                     _fresh_index(definition))
            self.db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('delete-all')")
            self.delete_meta("fts_rowid")
            self.db.execute("DELETE FROM search_pending")

    def _rebuilt(self, error: sqlite3.DatabaseError, told: Callable[[str], None] | None) -> None:
        n = self.db.execute("SELECT count(*) FROM posts").fetchone()[0]
        (told or log.warning)(f"{self.path}: the search index was damaged ({error}); rebuilt it from the {n:,} "
                              "stored posts (nothing stored was lost)")

    def _stale(self, rowid: int) -> None:
        """An indexed post is about to change or go: keep what the index holds of it (the first time:
        the index holds it still) for `sync_search` to take out, in a transaction of its own."""
        self.db.execute(f"INSERT OR IGNORE INTO search_pending (post_rowid, indexed) SELECT rowid, {FTS_TEXT} "
                        "FROM posts WHERE rowid = ?", [rowid])

    def merge_search(self, stop: Callable[[], bool] = lambda: False) -> None:
        """After a prune: FTS5's 'delete' leaves a post's words in its segment until that segment is
        merged, which automerge seldom does for the large old ones, so the index would grow with every
        post ever stored. Once the posts pruned since the last whole merge (`prune` counts them) reach
        a quarter of those kept, every segment is merged into one ('merge', `MERGE_PAGES` a transaction:
        posts are written between steps; `stop()` asked between), so each post's words are written
        about four times more over its life, and the index holds at most ~1.25x what the kept need."""
        pruned = int(self.get_meta(SEARCH_PRUNED) or 0)
        if not pruned:
            return
        self.sync_search()  # (the pruned posts out of the index first)
        if pruned * 4 >= self.count("posts"):
            pages = -self.MERGE_PAGES  # (negative: all segments, at any level; positive: go on with it)
            while not stop():
                changes = self.db.conn.total_changes
                with self.transaction():
                    self.db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('merge', ?)", [pages])
                if self.db.conn.total_changes - changes < 2:  # (FTS5: under 2 changes, there was nothing to merge)
                    with self.transaction():
                        self.set_meta(SEARCH_PRUNED, "0")
                    break
                pages = self.MERGE_PAGES
