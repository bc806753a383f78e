"""`tgwatch backup`: a whole, consistent copy of the store, safe while `tgwatch run` writes to it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from .common import DEFAULT_DB, StopSignals, counted, db_place, err, fail, given

__all__ = ["backup", "copied_or_fail", "copy_ends"]

T = TypeVar("T")


def copied_or_fail(work: Callable[[], T], failed: str) -> T:
    """Run a whole-file copy of a store (`backup`, `restore`): a `kill` of it (a cron job's) stops it
    as Ctrl-C does, leaving no temporary file; a StoreError is its one `error:` line, another failure
    `failed` with the reason in its {}."""
    from ..store.db import StoreError

    stops = StopSignals()
    try:
        return work()
    except StoreError as e:
        fail(str(e))
    except (sqlite3.Error, OSError) as e:
        fail(failed.format(getattr(e, "strerror", None) or e))
    finally:
        stops.restore()


def copy_ends(source: str, target: str, *, missing: str, not_file: str, same: str) -> tuple[Path, Path]:
    """The file a store copy reads and the one it replaces, or exit with the caller's one line:
    `missing`/`not_file` for `source`, `same` when both name one file; `target`'s folder checked."""
    src, dst = Path(source), Path(target)
    if not src.is_file():
        fail(missing if not src.exists() else not_file)
    if dst.exists() and dst.resolve() == src.resolve():
        fail(same)
    db_place(target)
    return src, dst


@click.command()
@click.argument("target", metavar="FILE", callback=given)
@click.option("--db", "db", default=DEFAULT_DB, show_default=True, callback=given, help="The store to copy.")
def backup(target: str, db: str) -> None:
    """Copy the store to FILE, whole and consistent, while `tgwatch run` goes on writing.

    A copy of the .db file alone misses what the service wrote since its last checkpoint (in
    the -wal beside it): this uses SQLite's online backup, never waits for the service, and
    neither upgrades nor writes the store. FILE is replaced whole at the end (a failed backup
    leaves the old one). To restore: stop `tgwatch run`, `tgwatch restore FILE`, start it again.
    """
    from ..store.backup import backup as copy_store

    source, out = copy_ends(db, target, missing=f"{db}: no such database", not_file=f"{db}: not a database file",
                            same=f"{target}: is the store itself (--db {db}): name another file")
    copied = copied_or_fail(lambda: copy_store(source, out), f"{target}: backup of {db} failed ({{}}); the store is untouched")
    err().print(f"{db} → {target}: {counted(copied.posts, 'post')}, schema {copied.version}", markup=False)
