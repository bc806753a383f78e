"""`tgwatch backup` of a store in a folder this user cannot write in (the service's, another user's):
SQLite cannot make the -shm it needs to read a store in WAL mode, and the line said «not a usable
SQLite database», as of a damaged file. It says what is wrong and what to do instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .sample_store import ROOT, Sample

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
SETPRIV = shutil.which("setpriv")


@pytest.fixture
def place() -> Iterator[Path]:
    """A folder every user can reach (root's pytest folders are 0700): a nobody user runs there."""
    folder = Path(tempfile.mkdtemp(prefix="tgwatch-ro-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for sub in folder.iterdir():
            sub.chmod(0o755)
        shutil.rmtree(folder)


def as_reader(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`tgwatch ARGS` as a user who may read the store but not write beside it: this one when not root,
    else nobody (root writes everywhere)."""
    command = [sys.executable, "-c", "from bot.cli import cli; cli(prog_name='tgwatch')", *args]
    if os.geteuid() == 0:
        if SETPRIV is None:
            pytest.skip("root, and no setpriv to run as another user")
        command = [SETPRIV, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def test_a_backup_of_a_store_whose_folder_is_read_only_says_so_in_one_line(sample: Sample, place: Path) -> None:
    store_dir, out_dir = place / "store", place / "out"
    store_dir.mkdir()
    out_dir.mkdir()
    store = store_dir / "tgwatch.db"
    shutil.copyfile(sample.db, store)  # (a store in WAL mode, closed: no -wal, no -shm)
    store.chmod(0o644)
    store_dir.chmod(0o555)
    out_dir.chmod(0o777)
    before = store.read_bytes()
    done = as_reader(["backup", str(out_dir / "copy.db"), "--db", str(store)], cwd=place)
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"error: {store}: ") and "not a usable" not in done.stderr, done.stderr
    assert "-shm" in done.stderr and "owner" in done.stderr, done.stderr
    assert store.read_bytes() == before and list(out_dir.iterdir()) == []
