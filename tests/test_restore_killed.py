"""`tgwatch restore` killed outright at its worst moment (the copy written, the store's -wal gone,
not yet renamed into place): the store is the old one whole, and the next restore finishes the
job and leaves no temporary file."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.store.backup import restore
from bot.store.db import StoreError

from .sample_store import Sample

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("fcntl", reason="a dead writer's file is told by its free lock")

# `tgwatch restore BACKUP --db DB`, killed just before its copy is renamed over the store
_CHILD = """
import os, signal, sys
real = os.replace
def replace(src, dst, *args, **kwargs):
    if os.path.basename(str(dst)) == os.path.basename(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *args, **kwargs)
os.replace = replace
from bot.cli import cli
from bot.store.backup import restore
from bot.store.db import StoreError
cli(["restore", sys.argv[1], "--db", sys.argv[2]])
"""


def dump(db: Path, *, ro: bool = True) -> list[str]:
    """Everything `db` holds, as SQL; `ro`: read without folding a -wal in (a service's next start does)."""
    c = sqlite3.connect(f"{db.resolve().as_uri()}{'?mode=ro' if ro else ''}", uri=True)
    try:
        return list(c.iterdump())
    finally:
        c.close()


def crashed_store(sample: Sample, folder: Path) -> tuple[Path, list[str]]:
    """A store as a service killed outright leaves it: its last commit only in its -wal; and its content."""
    live = folder / "live.db"
    shutil.copy(sample.db, live)
    c = sqlite3.connect(live)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA wal_autocheckpoint=0")
    c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('committed_last', 'only in the -wal')")
    c.execute("DELETE FROM posts WHERE rowid IN (SELECT rowid FROM posts LIMIT 5)")
    c.commit()
    content = list(c.iterdump())
    store = folder / "tgwatch.db"
    shutil.copy(live, store)  # (copied while open: the -wal is not folded in at close)
    shutil.copy(f"{live}-wal", f"{store}-wal")
    c.close()
    assert dump(store) == content and Path(f"{store}-wal").stat().st_size > 0
    return store, content


def posts(db: Path) -> int:
    with sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True) as c:
        return int(c.execute("SELECT count(*) FROM posts").fetchone()[0])


def test_a_restore_killed_before_its_rename_leaves_the_old_store_whole_and_the_next_one_cleans_up(
        sample: Sample, tmp_path: Path) -> None:
    night = tmp_path / "night.db"
    assert CliRunner().invoke(cli, ["backup", "--db", str(sample.db), str(night)]).exit_code == 0
    store, content = crashed_store(sample, tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", _CHILD, str(night), str(store)], env=env, cwd=ROOT,
                           capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert dump(store, ro=False) == content  # the old store, its last commit included
    assert dump(Path(f"{store}.before-restore")) != [] and list(tmp_path.glob(".tgwatch.db.*.part"))

    result = CliRunner().invoke(cli, ["restore", str(night), "--db", str(store)])
    assert result.exit_code == 0, result.output
    assert posts(store) == posts(night) == posts(sample.db) and dump(store) != content
    assert list(tmp_path.glob(".*.part*")) == []  # the killed restore's copy is swept
    kept = Path(f"{store}.before-restore.2")  # (the killed one's keeps its name)
    assert [ln for ln in dump(kept) if "committed_last" in ln]


def test_a_reader_holding_the_stores_wal_back_is_one_error_and_the_store_is_as_it_was(
        sample: Sample, tmp_path: Path) -> None:
    night = tmp_path / "night.db"
    assert CliRunner().invoke(cli, ["backup", "--db", str(sample.db), str(night)]).exit_code == 0
    store, content = crashed_store(sample, tmp_path)
    reader = sqlite3.connect(store, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM posts").fetchone()  # a search reading as the restore runs
        with pytest.raises(StoreError, match="another program is reading it") as e:
            restore(night, store, busy_timeout=0.2)
        assert str(e.value).startswith(f"{store}: ") and "\n" not in str(e.value)
    finally:
        reader.close()
    assert dump(store, ro=False) == content and list(tmp_path.glob(".*.part*")) == []
