"""The store: one SQLite file (WAL) through sqlite-utils; its schema and migrations are in `schema`.

Tables: channels, posts (+ FTS5 index), matches (post x rule, with hits), stories, alerts (the
outbox, one row per story x rule). Posts are keyed by (channel_id, message_id), so storing the
same post twice stores nothing new.

`Store` is the front: it opens the file, upgrades it and holds the transaction; each job on its
rows is a mixin in a module of its own, in the order a post's data flows: `channels`, `watching`,
`posts`, `deletions`, `stories`, `storyfeed`, `matches`, `outbox`, `sending`, `mutes`, `chatlog`;
and the upkeep: `searchindex`, `retention`, `meta`. They share `dates`, the ISO dates every part
writes.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import sqlite_utils

from .channels import Channels, KnownChannel
from .chatlog import ChatLog
from .dates import iso, utcnow
from .deletions import Deletions
from .matches import Matches
from .meta import Meta
from .mutes import Mute, Mutes
from .outbox import LIVE, REPLAY, Outbox
from .posts import Known, Posts, entities_json, older_than_stored
from .retention import Retention
from .runlock import LockUnreadable, run_holding
from .schema import MIGRATIONS, SCHEMA_VERSION, repair
from .searchindex import SEARCH_PRUNED, SearchIndex
from .sending import Sending
from .stories import Stories
from .storyfeed import StoryFeed
from .watching import Watching

# Besides its own names, db.py re-exports those of its parts that callers have always imported from it.
__all__ = ["LIVE", "REPLAY", "Known", "KnownChannel", "Mute", "NewerStore", "SCHEMA_VERSION", "SEARCH_PRUNED", "Store",
           "StoreError", "entities_json", "iso", "off_loop", "older_than_stored", "utcnow"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bytes the -wal file is cut back to once checkpointed: without it the file stays as large as the
# biggest transaction (an upgrade, a large FTS5 merge) for as long as a connection (`tgwatch run`) is open.
WAL_LIMIT = 2 * 1024 * 1024


class StoreError(Exception):
    """The database cannot be used (not SQLite, newer schema, locked)."""


class NewerStore(StoreError):
    """A newer tgwatch has upgraded the store: its schema `version` is past this one's (`SCHEMA_VERSION`)."""

    def __init__(self, path: str, version: int) -> None:
        super().__init__(f"{path}: schema version {version} is newer than this tgwatch ({SCHEMA_VERSION}); upgrade tgwatch")
        self.version = version


def _refuse_foreign(conn: sqlite3.Connection, path: str) -> None:
    """Raise StoreError when the file holds another application's tables (before anything is
    written to it: not even its journal mode changes)."""
    if conn.execute("PRAGMA user_version").fetchone()[0] != 0:
        return  # tgwatch's own (a newer or unknown version is refused by `migrate`)
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    if names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        conn.close()
        raise StoreError(f"{path}: an SQLite database of another application (tables: {shown}); "
                         "tgwatch leaves it untouched: choose another --db")


class Store(Channels, Watching, Posts, Deletions, Stories, StoryFeed, Matches, Outbox, Sending, Mutes, ChatLog,
            SearchIndex, Retention, Meta):
    """The tgwatch database. Open it with `Store(path)`; ":memory:" works for experiments."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0, owner: str = LIVE,
                 told: Callable[[str], None] | None = None, serving: bool = False) -> None:
        """`busy_timeout`: seconds a write waits for another connection's write lock before failing
        with "database is locked" (reads never wait: WAL). The live service waits less, as every
        store call there holds up its event loop. `owner`: whose alerts this connection queues and
        takes (`LIVE`: the chat's; `REPLAY`: a replay's terminal or file), so neither sends the other's.
        `told`: one line before an older store is upgraded (else a warning in the log). `serving`:
        `tgwatch run`'s own, holding `<db>.lock`; any other connection refuses to upgrade an older
        store while a run holds it (`migrate`)."""
        self.path = str(path)
        self.busy_timeout = busy_timeout
        self.owner = owner
        self.serving = serving
        try:
            conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
            _refuse_foreign(conn, self.path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable SQLite database ({e})") from None
        self.db = sqlite_utils.Database(conn)
        self._stories: dict[int, list[Any]] = {}  # story id -> row not written yet (`Stories.new_story`, `join_story`)
        self._next_story: int | None = None
        self._alerted: set[int] | None = None  # ids of the stories with an alert (`Outbox._may_have_alerts`)
        self._alerted_version = 0  # PRAGMA data_version when `_alerted` was read
        self._version: int | None = None  # PRAGMA data_version as read in this transaction (`data_version`)
        self.prunes = 0  # `Retention.prune`s that deleted posts on this connection (the story index forgets their forwards)
        self.posts_written = 0  # post rows this connection wrote (the story index skips its own: `StoryFeed.newest_post`)
        try:
            self.migrate(told)
        except StoreError:
            conn.close()
            raise

    # -- schema ----------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """The file's schema version (PRAGMA user_version: the migrations it has run)."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, told: Callable[[str], None] | None = None) -> None:
        """Apply the migrations this file has not seen yet, each in its own transaction, after `repair`
        of what earlier releases' migrations made differently. An older store (not a new one) is first
        told of in one line naming it, to `told` or the log: some migrations read every post again."""
        try:
            current = self.version
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a usable SQLite database ({e})") from None
        if current > SCHEMA_VERSION:
            raise NewerStore(self.path, current)
        if 0 < current < SCHEMA_VERSION:
            self._refuse_under_a_run(current)
            n = self.db.execute("SELECT count(*) FROM posts").fetchone()[0]
            (told or log.warning)(f"upgrading the store {self.path} (schema {current} → {SCHEMA_VERSION}, once: {n:,} posts) …")
            with self.transaction():
                repair(self.db, self.version)
        for version in range(current, SCHEMA_VERSION):
            with self.transaction():
                if self.version > version:  # another process (two replays started on a new store) did it first
                    continue
                MIGRATIONS[version](self.db)
                self.db.execute(f"PRAGMA user_version = {version + 1}")
        if current < SCHEMA_VERSION:  # the upgrade's pages into the file: the next write cuts the log to WAL_LIMIT
            self.db.execute("PRAGMA wal_checkpoint")

    def _refuse_under_a_run(self, current: int) -> None:
        """Raise StoreError when a `tgwatch run` (of the release before, as a rule) serves this older
        store: upgraded under it, its code would go on writing into a schema it does not know. Its
        own connection (`serving`) upgrades it at start."""
        if self.serving or self.path == ":memory:":
            return
        try:
            lock = run_holding(self.path)
        except LockUnreadable as e:  # another user's service may hold it: as good as held
            raise StoreError(f"{self.path}: cannot tell whether a `tgwatch run` is serving this store (its lock file "
                             f"{e.path} cannot be opened by this user), and this tgwatch would upgrade it (schema "
                             f"{current} → {SCHEMA_VERSION}) under a running one: run this as the user the service "
                             "runs as (when no service runs, let this user read the lock file, or remove it)") from None
        if lock is not None:
            raise StoreError(f"{self.path}: a `tgwatch run` is serving this store (it holds {lock}), and this tgwatch "
                             f"would upgrade it (schema {current} → {SCHEMA_VERSION}) under that older one: stop the "
                             "service, run this again, then start the service with this release")

    # -- the connection ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error: all or nothing."""
        conn = self.db.conn
        if conn.in_transaction:
            yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._flush_stories()
            conn.execute("COMMIT")
        except BaseException:
            self._stories.clear()
            self._next_story = None
            if conn.in_transaction:  # a full disk or an I/O error has SQLite roll back by itself
                conn.execute("ROLLBACK")
            raise
        finally:
            self._version = None  # another connection may write once this transaction ends

    def close(self) -> None:
        """Close the connection (a transaction still open is rolled back by SQLite)."""
        self.db.conn.close()

    def writable_now(self) -> bool:
        """Could a write start at once (no other program holds the write lock)? Asked on a second
        connection that waits for nothing: the live service asks before it retries in an outage,
        so a lock held for an hour costs no busy-timeout stall per retry."""
        if self.path == ":memory:":
            return True
        try:
            probe = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        except sqlite3.Error:
            return False
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return True
        except sqlite3.Error:
            return False
        finally:
            probe.close()

    def data_version(self) -> int:
        """PRAGMA data_version: it changes when another connection commits. Read once per transaction
        (none commits inside one: this connection holds the write lock), so asking per post costs nothing."""
        if self._version is None or not self.db.conn.in_transaction:
            version = int(self.db.conn.execute("PRAGMA data_version").fetchone()[0])
            if not self.db.conn.in_transaction:
                return version
            self._version = version
        return self._version

    def count(self, table: str) -> int:
        """How many rows `table` holds."""
        return self.db[table].count


async def off_loop(store: Store, work: Callable[[Store], T]) -> T:
    """`work(store)` in a worker thread on a connection of its own to the same file (an in-memory
    store: here), so the live service's posts and alerts go on meanwhile (SQLite connections are
    not shared between threads)."""
    if store.path == ":memory:":
        return work(store)

    def run() -> T:
        own = Store(store.path, busy_timeout=store.busy_timeout, owner=store.owner, serving=store.serving)
        try:
            return work(own)
        finally:
            own.close()

    return await asyncio.to_thread(run)
