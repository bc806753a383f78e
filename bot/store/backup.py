"""A consistent copy of a store while `tgwatch run` writes to it: SQLite's online backup API.

The service keeps its store open in WAL mode, so what it wrote lately lives in `<db>-wal` until
a checkpoint: a copy of the .db file alone misses it (or is torn mid-checkpoint)."""

from __future__ import annotations

import os
import sqlite3
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .db import StoreError, _refuse_foreign, iso
from .export import written_whole

__all__ = ["BACKUP_KEY", "Copied", "backup"]

# meta row of a copy `backup` made: when it was taken (ISO, UTC). A store that carries it was
# restored from a backup: the live service it starts on cannot know which alerts went out since
# (`bot.live.restored`), and clears it once it has caught up.
BACKUP_KEY = "backup_taken_at"


@dataclass(frozen=True)
class Copied:
    """What a backup holds: its posts and schema version."""

    posts: int
    version: int


def backup(source: str | Path, target: str | Path, *, busy_timeout: float = 30.0) -> Copied:
    """Copy the store `source` to `target` as one whole file (no -wal needed): what was committed
    when the copy began, read without blocking a writer and without upgrading or writing `source`.
    Written to a private temporary file beside `target`, renamed over it at the end (a failed
    backup leaves last night's), with the store's file mode. Raises StoreError naming the file."""
    src_path, dst = Path(source), Path(target).resolve()
    try:
        src = sqlite3.connect(f"{src_path.resolve().as_uri()}?mode=ro", uri=True, timeout=busy_timeout)
    except sqlite3.Error as e:
        raise StoreError(f"{source}: cannot open database ({e})") from None
    try:
        try:
            _refuse_foreign(src, str(source))
            version = int(src.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{source}: not a usable SQLite database ({e})") from None

        def copy(tmp: Path) -> int:
            out = sqlite3.connect(tmp)
            try:
                taken = iso(datetime.now(timezone.utc))
                src.backup(out)  # one step: a consistent snapshot (WAL readers never block the writer)
                posts = int(out.execute("SELECT count(*) FROM posts").fetchone()[0]) if version else 0
                out.execute("PRAGMA journal_mode=DELETE")  # the file alone is the store, -wal folded in
                if version:  # the copy says it is one (`BACKUP_KEY`); the store copied is never written
                    out.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [BACKUP_KEY, taken])
                    out.commit()
            finally:
                out.close()
            with tmp.open("rb") as f:
                os.fsync(f.fileno())
            return posts

        posts = written_whole(dst, copy, stat.S_IMODE(src_path.stat().st_mode))
    finally:
        src.close()
    return Copied(posts, version)
