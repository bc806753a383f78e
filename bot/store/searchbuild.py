"""The search index of a long replay built beside it, in a thread of its own, into a file of its own.

FTS5 indexing is SQLite's C code: it runs without the GIL, so on a spare core it costs the replay
no time, but written into the store it would wait for the replay's write lock (and the replay for
it). So a replay into a store whose search index is empty builds the index in a temporary file,
reading the posts as they are committed, and puts it in place at the end in one transaction, only
if every post it read is stored unchanged and nothing else indexed meanwhile; else it is dropped,
and `SearchIndex.sync_search` indexes the posts as it always does. Nothing stored depends on it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path

from ..heldfile import held_dir, sweep_dirs
from .schema import FTS_TEXT

__all__ = ["SearchBuild"]

log = logging.getLogger("bot.store.db")

# the shadow tables that hold a posts_fts index (its config stays the store's own)
_TABLES = ("posts_fts_data", "posts_fts_idx", "posts_fts_docsize")
# a build's scratch folder in the temp folder (mkdtemp's 8 random characters): locked while its replay lives
_PREFIX = "tgwatch-search-"
_SCRATCH = re.compile(re.escape(_PREFIX) + r"[a-z0-9_]{8}")
# what the index holds of each post, in rowid order: the build checks it is what the store holds at the end
_READ = "SELECT rowid, text_hash, folded FROM {db}posts WHERE rowid > ? AND rowid <= ? ORDER BY rowid"


def _digest_rows(h: hashlib.blake2b, rows: sqlite3.Cursor) -> None:
    for rowid, text_hash, folded in rows:
        h.update(f"{rowid}\x00{text_hash}\x00{folded}\x01".encode("utf-8", "surrogatepass"))


def _empty_index(conn: sqlite3.Connection) -> bool:
    """Does the store hold no indexed post and nothing waiting to be indexed again?"""
    return (conn.execute("SELECT 1 FROM posts_fts_docsize LIMIT 1").fetchone() is None
            and conn.execute("SELECT 1 FROM search_pending LIMIT 1").fetchone() is None
            and int((conn.execute("SELECT value FROM meta WHERE key = 'fts_rowid'").fetchone() or (0,))[0]) == 0)


def _in_place(error: BaseException) -> None:
    """Say why the index is built in place, not beside the replay (one line: the replay goes on)."""
    log.warning("search index not built beside the replay (%s): indexing it in place", error)


class SearchBuild:
    """One build: `advance` after each commit of posts, `finish` at the end (or `cancel`)."""

    CHUNK = 2_000  # posts indexed per transaction of the build file (smaller chunks cost FTS5 more merging)

    def __init__(self, store_path: str, definition: str, config: list[tuple[str, object]]) -> None:
        self.store_path = store_path
        temp = Path(tempfile.gettempdir())
        for gone in sweep_dirs(temp, _SCRATCH):
            log.info("removed the search build a killed replay left: %s", gone)
        self._lock, folder = held_dir(str(temp), _PREFIX)
        self.path = str(Path(folder) / "search.db")
        self._definition, self._config = definition, config
        self._digest = hashlib.blake2b(digest_size=16)
        self.built = 0  # the posts with a rowid up to this one are in the build
        self._wake = threading.Condition()
        self._wanted = 0  # advances asked for
        self._done_asked = False
        self._stop = False
        self._busy = False  # a pass is running (`settle`)
        self._ended = False  # the thread is done with the store and its scratch file
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tgwatch-search-build", daemon=True)
        self._thread.start()

    @classmethod
    def beside(cls, conn: sqlite3.Connection, store_path: str) -> SearchBuild | None:
        """A build for the store on `conn` (outside a transaction) when its search index is empty and it
        is a file; else None (the index is brought up to date in place, as always)."""
        if store_path == ":memory:" or conn.in_transaction or not _empty_index(conn):
            return None
        definition = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'posts_fts'").fetchone()
        if definition is None:
            return None
        config = conn.execute("SELECT k, v FROM posts_fts_config WHERE k != 'version'").fetchall()
        try:
            return cls(store_path, str(definition[0]), [(str(k), v) for k, v in config])
        except (OSError, RuntimeError) as e:  # no usable temp folder, no thread to be had: the replay goes on
            _in_place(e)
            return None

    def advance(self) -> None:
        """More posts are committed: index them (in the build's thread, from now on)."""
        with self._wake:
            self._wanted += 1
            self._wake.notify_all()

    def settle(self) -> int:
        """Wait until the posts committed at the last `advance` are in the build (or it failed); the
        rowid the build reaches."""
        with self._wake:
            while (self._wanted or self._busy) and not self._ended:
                self._wake.wait()
        return self.built

    def finish(self) -> int:
        """Index the rest, then put the build in place of the store's empty index if it still holds
        every post as stored; the rowid up to which the store's index is now built (0: dropped)."""
        with self._wake:
            self._done_asked = True
            self._wake.notify_all()
        self._wait_ended()
        try:
            if self.error is not None:
                _in_place(self.error)
                return 0
            return self._install()
        finally:
            self._drop()

    def cancel(self) -> None:
        """Stop building and drop the build (the store is not touched)."""
        with self._wake:
            self._stop = True
            self._wake.notify_all()
        self._wait_ended()
        self._drop()

    def _drop(self) -> None:
        """Remove the scratch folder, then give up its lock (a sweep never sees it unlocked and there)."""
        shutil.rmtree(Path(self.path).parent, ignore_errors=True)
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    def _wait_ended(self) -> None:
        """Wait for the thread's end on the condition, not `Thread.join`: a join a Ctrl-C interrupts
        marks the thread stopped while it runs on (CPython 3.11), so a later join would not wait."""
        with self._wake:
            while not self._ended:
                self._wake.wait()

    # -- the build's thread ----------------------------------------------------------------------

    def _run(self) -> None:
        conn = None
        try:  # (whatever happens, `finish` and `cancel` are told the thread ended: they wait for it)
            if sys.platform == "linux":  # its own niceness, 10 above the replay's: it takes the cores the replay leaves idle
                try:
                    tid = threading.get_native_id()
                    os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 10))
                except OSError:
                    pass
            conn = sqlite3.connect(self.path, isolation_level=None, uri=True)
            conn.execute("PRAGMA journal_mode=OFF")  # a scratch file: a crash drops it whole
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute(self._definition)
            for k, v in self._config:
                conn.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES (?, ?)", [k, v])
            conn.execute("ATTACH DATABASE ? AS src", [Path(self.store_path).resolve().as_uri() + "?mode=ro"])
            while self._next():
                self._index(conn)
                self._idle()
        except BaseException as e:  # (reported by `finish`; the store is never written here)
            self.error = e
        finally:
            if conn is not None:
                conn.close()
            if self.error is not None:  # a full temp folder is not kept full for the rest of the replay
                try:
                    self._drop()
                except OSError:
                    pass
            self._idle(ended=True)  # (a failed pass: once its scratch folder is gone)

    def _idle(self, ended: bool = False) -> None:
        """The pass is over (`settle`); `ended`: the thread too (`finish`, `cancel`)."""
        with self._wake:
            self._busy = False
            self._ended = self._ended or ended
            self._wake.notify_all()

    def _next(self) -> bool:
        """Wait for an advance; False once stopped, or finished with nothing left asked."""
        with self._wake:
            while not (self._wanted or self._done_asked or self._stop):
                self._wake.wait()
            if self._stop:
                return False
            self._busy = True
            if self._wanted:
                self._wanted = 0
                return True
            self._done_asked = False  # the last pass: what `finish` found committed
            self._stop = True
            return True

    def _index(self, conn: sqlite3.Connection) -> None:
        """Index the posts committed since the last pass, `CHUNK` a transaction, noting what each read."""
        top = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM src.posts").fetchone()[0])
        while self.built < top:
            end = min(top, self.built + self.CHUNK)
            conn.execute("BEGIN")  # one snapshot of the store for both reads
            try:
                conn.execute(f"INSERT INTO posts_fts (rowid, text) SELECT rowid, {FTS_TEXT} FROM src.posts "
                             "WHERE rowid > ? AND rowid <= ?", [self.built, end])
                _digest_rows(self._digest, conn.execute(_READ.format(db="src."), [self.built, end]))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self.built = end

    # -- putting it in place -----------------------------------------------------------------------

    def _install(self) -> int:
        """In one write transaction on a connection of its own (the store's connections see its
        commit, and FTS5 there reads the index again): the build replaces the empty index, if
        the posts up to `built` are those it read and nothing else indexed meanwhile."""
        if not self.built:
            return 0
        conn = sqlite3.connect(self.store_path, timeout=30.0, isolation_level=None)
        try:
            conn.execute("ATTACH DATABASE ? AS build", [self.path])
            conn.execute("BEGIN IMMEDIATE")
            try:
                # (the index first: another process indexed meanwhile is found without reading every post)
                why = ("another connection indexed the store meanwhile" if not _empty_index(conn) else
                       "the posts changed meanwhile" if self._store_digest(conn) != self._digest.digest() else None)
                if why is not None:
                    conn.execute("ROLLBACK")
                    log.info("search index built beside the replay dropped: %s", why)
                    return 0
                for table in _TABLES:
                    conn.execute(f"DELETE FROM main.{table}")
                    conn.execute(f"INSERT INTO main.{table} SELECT * FROM build.{table}")
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('fts_rowid', ?)", [str(self.built)])
                conn.execute("COMMIT")
                log.info("search index of %s posts built beside the replay", f"{self.built:,}")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return self.built
        finally:
            conn.close()

    def _store_digest(self, conn: sqlite3.Connection) -> bytes:
        """The digest of the posts up to `built` as the store holds them now."""
        check = hashlib.blake2b(digest_size=16)
        _digest_rows(check, conn.execute(_READ.format(db="main."), [0, self.built]))
        return check.digest()
