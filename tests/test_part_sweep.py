"""An export or backup killed outright (SIGKILL, a power cut) cannot remove its `.part` file: the
next export or backup to that folder does, and never a live writer's."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli

from .sample_store import Sample

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("fcntl", reason="a dead writer's file is told by its free lock")

# `tgwatch export -o OUT`, its writer held after the header and first rows are on disk: killed
# there (argv "kill") or waiting for the test to end it ("wait")
_CHILD = """
import os, signal, sys
import bot.cli.export as ex
from bot.cli import cli
real = ex.write_text
def held(rows, fmt, f, **kw):
    def some():
        for i, row in enumerate(rows):
            yield row
            if i == 2:
                f.flush()
                print("writing", flush=True)
                if sys.argv[1] == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                sys.stdin.read()
    return real(some(), fmt, f, **kw)
ex.write_text = held
cli(["export", "--db", sys.argv[2], "-o", sys.argv[3]])
"""


def exporting(db: Path, out: Path, how: str) -> subprocess.Popen[str]:
    """A `tgwatch export` in a child process, returned once it has begun writing its .part."""
    return child(_CHILD, how, db, out)


def child(code: str, how: str, *args: Path) -> subprocess.Popen[str]:
    """`code` in a child process (argv: `how`, `args`), returned once it has printed "writing"."""
    proc = subprocess.Popen([sys.executable, "-c", code, how, *map(str, args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "writing"
    return proc


def parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.part"))


def export(db: Path, out: Path) -> bytes:
    """`tgwatch export --db DB -o OUT` in this process; the file it wrote."""
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_a_killed_exports_part_is_swept_by_the_next_and_a_live_ones_is_kept(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "posts.csv"
    killed = exporting(sample.db, out, "kill")
    assert killed.wait() == -signal.SIGKILL
    (stale,) = parts(tmp_path)
    assert stale.read_text(encoding="utf-8").startswith("channel_id,")  # half an export, left behind
    live = exporting(sample.db, tmp_path / "other.csv", "wait")
    try:
        (writing,) = set(parts(tmp_path)) - {stale}
        written = export(sample.db, out)
        assert not stale.exists()  # the dead writer's is gone
        assert parts(tmp_path) == [writing]  # the live writer's is kept, and the new export left none
        alone = tmp_path / "alone"
        alone.mkdir()
        assert written == export(sample.db, alone / "posts.csv")  # whole: as an export nothing interrupted
        assert len(list(csv.reader(written.decode("utf-8").splitlines()))) > 4  # (more than the child wrote)
    finally:
        live.kill()
        live.wait()
    assert not (tmp_path / "other.csv").exists()


def test_a_killed_backups_part_and_its_journal_are_swept_by_the_next_backup(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "night.db"
    stale = tmp_path / ".night.db.abcd1234.part"
    stale.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)  # as a killed backup leaves it: no writer holds it
    journal = tmp_path / ".night.db.abcd1234.part-journal"
    journal.write_bytes(b"\x00" * 512)
    other = tmp_path / ".notes.txt.part"  # not of tgwatch's making
    other.write_text("keep", encoding="utf-8")
    result = CliRunner().invoke(cli, ["backup", "--db", str(sample.db), str(out)])
    assert result.exit_code == 0, result.output
    assert not stale.exists() and not journal.exists()
    assert other.read_text(encoding="utf-8") == "keep"
    assert out.stat().st_size > 0 and parts(tmp_path) == [other]
