"""A consistent copy of a store while `tgwatch run` writes to it: SQLite's online backup API.

The service keeps its store open in WAL mode, so what it wrote lately lives in `<db>-wal` until
a checkpoint: a copy of the .db file alone misses it (or is torn mid-checkpoint)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .db import NewerStore, StoreError, _refuse_foreign, iso
from .export import written_whole
from .runlock import LockUnreadable, RunHolds, hold_runs_off
from .schema import SCHEMA_VERSION

__all__ = ["BACKUP_KEY", "Copied", "RELEASED_KEY", "Restored", "backup", "restore"]

# meta row of a copy `backup` made: when it was taken (ISO, UTC). A store that carries it was
# restored from a backup: the live service it starts on cannot know which alerts went out since
# (`bot.live.restored`), and clears it once it has caught up.
BACKUP_KEY = "backup_taken_at"
# meta row: the alerts held after that restore that an analyst released (/release, JSON ids); it
# goes with the mark, and a copy never carries it (a later restore holds them again)
RELEASED_KEY = "released_alerts"


@dataclass(frozen=True)
class Copied:
    """What a backup holds: its posts and schema version."""

    posts: int
    version: int


@dataclass(frozen=True)
class Restored:
    """What a restore put in place: its posts, schema version and backup time (ISO), and where the
    store as it was is kept (None: there was none)."""

    posts: int
    version: int
    taken: str
    kept: Path | None


def backup(source: str | Path, target: str | Path, *, busy_timeout: float = 30.0) -> Copied:
    """Copy the store `source` to `target` as one whole file (no -wal needed): what was committed
    when the copy began, read without blocking a writer and without upgrading or writing `source`.
    Written to a private temporary file beside `target`, renamed over it at the end (a failed
    backup leaves last night's), with the store's file mode; refused while a program has `target`
    open, and a -wal beside it goes. Raises StoreError naming the file."""
    dst = Path(target)
    swapped = "a backup never replaces a store in use (FILE first, then --db the store to copy)"
    _alone(dst, swapped)

    def ready() -> None:  # the file replaced: a -wal a killed program left beside it would be read into the copy
        _alone(dst, swapped)
        for leftover in ("-wal", "-shm"):
            dst.with_name(dst.name + leftover).unlink(missing_ok=True)

    return _copy(Path(source), dst, iso(datetime.now(timezone.utc)) or "", busy_timeout=busy_timeout, ready=ready)


def restore(backup_file: str | Path, db: str | Path, *, busy_timeout: float = 30.0) -> Restored:
    """Put the backup `backup_file` in place of the store `db`, as the README's manual steps do: refused
    while a `tgwatch run` holds the store, and for a file that is no tgwatch store; the store as it
    was (its -wal included) is kept whole as `<db>.before-restore` (`.2`, `.3`… when one is kept
    from an earlier restore), its -wal and -shm go, and the
    copy is renamed over it, marked restored (`BACKUP_KEY`: the backup's own mark, else its file's
    time). Raises StoreError naming the file; a failure leaves the store as it was."""
    src, dst = Path(backup_file), Path(db)
    try:
        with hold_runs_off(dst):  # (no service starts on it meanwhile)
            return _restore(src, dst, busy_timeout)
    except RunHolds as e:
        raise StoreError(f"{db}: a tgwatch run is using it (it holds {e.path}): stop the service, then restore") from None
    except LockUnreadable as e:
        raise StoreError(f"{db}: {e.path} is another user's: their tgwatch run may be using it; restore as that user") from None


def _restore(src: Path, dst: Path, busy_timeout: float) -> Restored:
    """`restore`, the store's lock held."""
    taken = _backup_time(src, busy_timeout)
    _alone(dst)  # (refused before anything is written)
    kept = None
    if dst.exists():
        kept = _unused(dst.with_name(dst.name + ".before-restore"))
        _copy(dst, kept, iso(datetime.now(timezone.utc)) or "", busy_timeout=busy_timeout)

    def ready() -> None:  # the store as it was is kept whole: its -wal must not be read into the copy
        _fold_wal(dst, busy_timeout)  # (killed before the rename, the store is then whole without it)
        _alone(dst)  # (and again last: a replay may have opened it meanwhile)
        for leftover in ("-wal", "-shm"):
            dst.with_name(dst.name + leftover).unlink(missing_ok=True)

    mode = stat.S_IMODE((dst if dst.exists() else src).stat().st_mode)
    copied = _copy(src, dst, taken, busy_timeout=busy_timeout, ready=ready, mode=mode)
    return Restored(copied.posts, copied.version, taken, kept)


def _fold_wal(db: Path, busy_timeout: float) -> None:
    """Write what the -wal of `db` holds into `db` itself (a checkpoint), so that removing the -wal
    loses nothing, whatever stops the restore after. Raises StoreError when a reader holds it back."""
    if not db.with_name(db.name + "-wal").exists():
        return
    conn = sqlite3.connect(db, timeout=busy_timeout)
    try:
        busy, logged, written = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        conn.close()
    if busy or logged != written:
        raise StoreError(f"{db}: another program is reading it (its -wal cannot be written in): close it, then restore")


_IN_USE = "another program is reading it or writing to it (a tgwatch replay, search or export still running?)"


def _alone(db: Path, then: str = "let it finish, then restore") -> None:
    """Raise StoreError (`then` its advice) when another connection has `db` open (a replay between
    two batches): it would go on writing into the file replaced, and what it wrote would be lost. (A
    connection in exclusive locking mode gets its lock only while no other has the file open.)"""
    if not db.exists():
        return
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=rw", uri=True, timeout=0, isolation_level=None)
    except sqlite3.Error:  # not this user's to open: what reads it next says so (a backup replaces it)
        return
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
    except sqlite3.DatabaseError as e:  # else no database, nobody's store: what reads it next says what it is
        if "locked" in str(e):
            raise StoreError(f"{db}: {_IN_USE}: {then}") from None
    finally:
        conn.close()


def _unused(path: Path) -> Path:
    """`path`, or `path.2`, `path.3`… the first that does not exist: a second restore (the right
    backup after the wrong one) keeps the store the first one replaced, never writes over it."""
    n = 1
    while path.with_name(path.name + (f".{n}" if n > 1 else "")).exists():
        n += 1
    return path.with_name(path.name + (f".{n}" if n > 1 else ""))


def _backup_time(path: Path, busy_timeout: float) -> str:
    """When the backup `path` was taken: its mark (`BACKUP_KEY`), else its file's time. Raises
    StoreError when it is no tgwatch store this release can use."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout)
    except sqlite3.Error as e:
        raise StoreError(f"{path}: cannot open database ({e})") from None
    try:
        _refuse_foreign(conn, str(path))
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version == 0:
            raise StoreError(f"{path}: not a tgwatch store (an empty database)")
        if version > SCHEMA_VERSION:
            raise NewerStore(str(path), version)
        conn.execute("SELECT count(*) FROM posts").fetchone()
        row = conn.execute("SELECT value FROM meta WHERE key = ?", [BACKUP_KEY]).fetchone() if _has_meta(conn) else None
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: not a tgwatch store ({e})") from None
    finally:
        conn.close()
    return str(row[0]) if row and row[0] else iso(datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)) or ""


def _has_meta(conn: sqlite3.Connection) -> bool:
    """The store has its meta table (the first release's had none: `schema.repair` adds it)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is not None


def _copy(source: Path, target: Path, taken: str, *, busy_timeout: float, ready: Callable[[], None] | None = None,
          mode: int | None = None) -> Copied:
    """`source` copied whole into `target` by SQLite's online backup (`backup`), the copy marked with
    `taken` (`BACKUP_KEY`); `ready` runs just before the copy is renamed over `target`."""
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout)
    except sqlite3.Error as e:
        raise StoreError(f"{source}: cannot open database ({e})") from None
    try:
        try:
            _refuse_foreign(src, str(source))
            version = int(src.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as e:
            if "readonly" in str(e):  # a store in WAL mode, its folder not this user's to write its -shm in
                raise StoreError(f"{source}: this user cannot write the -shm beside it (in {source.resolve().parent}), "
                                 "which SQLite needs even to copy a store in WAL mode: copy it as the store's owner") from None
            raise StoreError(f"{source}: not a usable SQLite database ({e})") from None

        def copy(tmp: Path) -> int:
            out = sqlite3.connect(tmp)
            try:
                src.backup(out)  # one step: a consistent snapshot (WAL readers never block the writer)
                posts = int(out.execute("SELECT count(*) FROM posts").fetchone()[0]) if version else 0
                out.execute("PRAGMA journal_mode=DELETE")  # the file alone is the store, -wal folded in
                if version:  # the copy says it is one (`BACKUP_KEY`); the store copied is never written
                    # (the first release's stores had no meta: as `schema.repair` makes it, which then keeps it)
                    out.execute("CREATE TABLE IF NOT EXISTS \"meta\" (\"key\" TEXT PRIMARY KEY, \"value\" TEXT)")
                    out.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [BACKUP_KEY, taken])
                    out.execute("DELETE FROM meta WHERE key = ?", [RELEASED_KEY])
                    out.commit()
            finally:
                out.close()
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
            if ready is not None:
                ready()
            return posts

        posts = written_whole(target.resolve(), copy, stat.S_IMODE(source.stat().st_mode) if mode is None else mode)
    finally:
        src.close()
    return Copied(posts, version)
