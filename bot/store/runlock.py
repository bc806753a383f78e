"""`<db>.lock`: the file `tgwatch run` holds locked for its life (`bot.live.session.database_lock`),
so that no second service, and no upgrade of the schema, happens under a running one."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LockUnreadable", "RunHolds", "hold_runs_off", "lock_file", "run_holding"]


class LockUnreadable(Exception):
    """A `<db>.lock` this user cannot open (another user's `tgwatch run` made it): whether a run
    holds it cannot be told, so it may."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: cannot be opened by this user")
        self.path = path


class RunHolds(Exception):
    """A `tgwatch run` holds the store's `<db>.lock` (`path`)."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path}: held by a tgwatch run")
        self.path = path


def lock_file(db: str | Path) -> Path:
    """`<db>.lock` beside the database file itself, its symlinks followed: every name of one store
    (a link ~/tgwatch.db -> /srv/tgwatch.db, a relative path) locks the same file."""
    real = Path(db).expanduser().resolve()
    return real.with_name(real.name + ".lock")


def run_holding(db: str | Path) -> Path | None:
    """The `<db>.lock` a running `tgwatch run` holds on this store, or None when none runs. Also asks
    the name beside the path as written, where releases before `lock_file` put it. (The probe takes
    a shared lock and drops it at once; it creates no file.) Raises LockUnreadable for a lock file
    this user cannot open: another user's run may hold it, which is no "none runs"."""
    written = Path(db).expanduser()
    for path in dict.fromkeys([lock_file(db), written.with_name(written.name + ".lock")]):
        try:
            fd = os.open(path, os.O_RDONLY)
        except PermissionError:  # there, and another user's: its run may be holding it
            raise LockUnreadable(path) from None
        except OSError:  # no lock file (no run ever started here)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return path
        finally:
            os.close(fd)  # (closing drops the shared lock, if it was taken)
    return None


@contextmanager
def hold_runs_off(db: str | Path) -> Iterator[None]:
    """Hold the store's `<db>.lock` as `tgwatch run` does while the block runs (a restore), so that
    no service starts on it meanwhile. Raises RunHolds when a run holds it (either name
    `run_holding` asks), LockUnreadable when it is another user's."""
    if (held := run_holding(db)) is not None:
        raise RunHolds(held)
    path = lock_file(db)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except PermissionError:
        raise LockUnreadable(path) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a run started since the probe
            raise RunHolds(path) from None
        yield
    finally:
        os.close(fd)
