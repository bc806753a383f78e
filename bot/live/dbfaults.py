"""The store cannot be used for a moment: another program holds its write lock past the busy
timeout (an analyst's sqlite3 shell, a replay or a backup into the same file), or the disk failed
or is full. The live path rides these out: one warning line, nothing lost, retried later. Any
other SQLite error (no such table, a syntax error) is a bug of ours and keeps its traceback. A store
a newer tgwatch has upgraded meanwhile is said in one line too (`newer_store`)."""

from __future__ import annotations

import logging
import sqlite3

from ..store.db import SCHEMA_VERSION, NewerStore

__all__ = ["LIVE_BUSY_TIMEOUT", "Outage", "busy_reply", "newer_store", "store_down"]

# Seconds a live store write waits for another program's write lock (reads never wait: WAL). Every
# store call runs on the event loop, so this is how long Telethon, the chat bot and the scheduler
# can be held up by one call: 2 s stays far inside Telethon's keepalive (a ping every 60 s) and its
# 10 s connect timeout, and an analyst barely notices it. Shorter would fail on ordinary contention:
# a `tgwatch replay` of the whole corpus into the same file held the lock for up to 1.5 s per batch.
# The CLI commands keep the store's 30 s: they have no loop to hold up.
LIVE_BUSY_TIMEOUT = 2.0

_UNAVAILABLE = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
                          sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL})
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def _code(e: BaseException) -> int:
    """SQLite's primary result code of `e` (extended codes such as SQLITE_BUSY_SNAPSHOT folded)."""
    return (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF


def store_down(e: BaseException) -> sqlite3.OperationalError | None:
    """The error that makes the store unusable for now (locked by another program, disk I/O, disk
    full) when that is what `e` is, else None (a bug of ours)."""
    return e if isinstance(e, sqlite3.OperationalError) and _code(e) in _UNAVAILABLE else None


def busy_reply(e: BaseException) -> str:
    """The one line an analyst gets when a command meets an unusable store."""
    if _code(e) in _BUSY:
        return "The database is busy (another program is writing to it); try again in a moment."
    return f"The database cannot be used right now ({e}); try again later."


def newer_store(e: NewerStore) -> str:
    """What to say, to the chat and the log, when a newer tgwatch (a replay of another venv's) has
    upgraded the store under the running service: no bug of ours, and no retry helps."""
    return (f"a newer tgwatch has upgraded the database (schema {e.version}; this service reads up to {SCHEMA_VERSION}): "
            "restart `tgwatch run` with that release")


class Outage:
    """A part of the live service that retries while the store cannot be used (every 15 s, say,
    while an analyst's shell holds the lock for an hour): its first failure is a warning, the
    repeats are debug lines, and the first success after is an info line."""

    def __init__(self, logger: logging.Logger, recovered: str) -> None:
        self._log = logger
        self._recovered = recovered
        self.down = False

    def failed(self, message: str, *args: object) -> None:
        self._log.log(logging.DEBUG if self.down else logging.WARNING, message, *args)
        self.down = True

    def ok(self) -> None:
        if self.down:
            self.down = False
            self._log.info("%s", self._recovered)
