"""Temporary files flock-ed by their writer for as long as it lives: the file of a process killed
outright (SIGKILL, OOM, a power cut) is left unlocked, so a later run can tell it and remove it,
and never touches a live writer's. Locks are released by the kernel, whatever killed the owner."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: files of killed runs are not swept)
    fcntl = None  # type: ignore[assignment]  # (None stands for the module missing: checked before each use)

__all__ = ["LOCKS", "held_dir", "held_temp", "sweep_dirs", "writer_gone", "writers_gone"]

LOCKS = fcntl is not None


def held_temp(folder: str, prefix: str, suffix: str) -> tuple[int, str]:
    """A new file in `folder` (`tempfile.mkstemp`), its descriptor locked until closed; a file a
    sweep removed before it was locked is made again."""
    return _held(lambda: tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=folder))


def held_dir(folder: str | None, prefix: str) -> tuple[int, str]:
    """A new folder in `folder` (`tempfile.mkdtemp`; None: $TMPDIR), its own descriptor locked until
    closed; one a sweep removed before it was locked is made again. The descriptor is -1 without locks."""
    if fcntl is None:  # pragma: no cover (Windows opens no folder)
        return -1, tempfile.mkdtemp(prefix=prefix, dir=folder)

    def make() -> tuple[int, str]:
        path = tempfile.mkdtemp(prefix=prefix, dir=folder)
        return os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)), path
    return _held(make)


def _held(make: Callable[[], tuple[int, str]]) -> tuple[int, str]:
    while True:
        fd, path = make()
        if fcntl is None:
            return fd, path
        fcntl.flock(fd, fcntl.LOCK_EX)  # an instant: no one else holds a file just made
        try:
            mine = os.stat(path).st_ino == os.fstat(fd).st_ino
        except OSError:
            mine = False
        if mine:
            return fd, path
        os.close(fd)


def writer_gone(fd: int) -> bool:
    """Whether no process holds the lock on the open file `fd` (its writer is gone); if so, this
    one now holds it, until `fd` is closed."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def writers_gone(folder: Path, names: re.Pattern[str], kind: Callable[[int], bool]) -> Iterator[Path]:
    """The entries of `folder` named `names`, of `kind` (`stat.S_ISREG`, `S_ISDIR`), whose writer is
    gone (their lock free): each yielded while this process holds that lock, to be removed."""
    if not LOCKS:
        return
    try:
        found = [n for n in os.listdir(folder) if names.fullmatch(n)]
    except OSError:
        return
    for name in found:
        path = folder / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:  # still the one locked (not renamed into place meanwhile, its writer done)
            if kind(os.fstat(fd).st_mode) and writer_gone(fd) and path.stat().st_ino == os.fstat(fd).st_ino:
                yield path
        except OSError:
            pass
        finally:
            os.close(fd)


def sweep_dirs(folder: Path, names: re.Pattern[str]) -> list[Path]:
    """Remove the folders in `folder` named `names` (`held_dir`'s) whose process is gone; the removed."""
    removed = []
    for gone in writers_gone(folder, names, stat.S_ISDIR):
        shutil.rmtree(gone, ignore_errors=True)
        removed.append(gone)
    return removed
