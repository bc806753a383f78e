"""`<db>.lock`: the file `tgwatch run` holds locked for its life (`bot.live.session.database_lock`),
so that no second service, and no upgrade of the schema, happens under a running one."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

__all__ = ["lock_file", "run_holding"]


def lock_file(db: str | Path) -> Path:
    """`<db>.lock` beside the database file itself, its symlinks followed: every name of one store
    (a link ~/tgwatch.db -> /srv/tgwatch.db, a relative path) locks the same file."""
    real = Path(db).expanduser().resolve()
    return real.with_name(real.name + ".lock")


def run_holding(db: str | Path) -> Path | None:
    """The `<db>.lock` a running `tgwatch run` holds on this store, or None when none runs. Also asks
    the name beside the path as written, where releases before `lock_file` put it. (The probe takes
    a shared lock and drops it at once; it creates no file.)"""
    written = Path(db).expanduser()
    for path in dict.fromkeys([lock_file(db), written.with_name(written.name + ".lock")]):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # no lock file (no run ever started here), or not ours to read
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return path
        finally:
            os.close(fd)  # (closing drops the shared lock, if it was taken)
    return None
