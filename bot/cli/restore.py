"""`tgwatch restore`: a backup put in place of the store, as the README's manual steps do, safely."""

from __future__ import annotations

import click

from .backup import copied_or_fail, copy_ends
from .common import DEFAULT_DB, counted, err, given

__all__ = ["restore"]


@click.command()
@click.argument("backup_file", metavar="BACKUP", callback=given)
@click.option("--db", "db", default=DEFAULT_DB, show_default=True, callback=given, help="The store to replace.")
def restore(backup_file: str, db: str) -> None:
    """Put BACKUP (a `tgwatch backup` copy) in place of the store, the store as it was kept beside it.

    Refused while `tgwatch run` uses the store (stop it first), while another command has it open
    (a replay: let it finish), and for a file that is no tgwatch store. The store as it was, what
    its -wal holds included, is kept as <db>.before-restore (.2, .3… when an earlier restore kept
    one); its -wal and -shm go, and BACKUP is copied over it, marked restored: the service started
    on it then sends no alert twice (see the README's "Going live").
    """
    from ..alert.html import local_time
    from ..store.backup import restore as put_back

    source, target = copy_ends(backup_file, db, missing=f"{backup_file}: no such backup",
                               not_file=f"{backup_file}: not a file",
                               same=f"{backup_file}: is the store itself (--db {db}): name the backup to restore")
    done = copied_or_fail(lambda: put_back(source, target), f"{db}: restore from {backup_file} failed ({{}}); the store is as it was")
    kept = f"; the store as it was is {done.kept}" if done.kept is not None else ""
    err().print(f"{backup_file} → {db}: {counted(done.posts, 'post')}, the backup of {local_time(done.taken, None)}{kept}",
                markup=False)
