"""A run killed outright (OOM, SIGKILL) cannot delete its spill file: the next run's first spill
removes it, and never the spill of a run still alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bot.source import stream

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("fcntl", reason="spill owners are told apart by file locks")

# a replay that has spilled a record, then is killed (or waits to be)
_CHILD = """
import os, signal, sys
from bot.source.stream import Spill
spill = Spill()
spill.write({"id": 1, "text": "x" * 1000})
print(spill.path, flush=True)
if sys.argv[1] == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
sys.stdin.read()
"""


def child(tmp: Path, how: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, how], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def left_in(tmp: Path) -> list[Path]:
    """The files in `tmp` but this test process's own lock file (held while a spill of it is)."""
    own = getattr(stream, "_owners", {}).get(str(tmp), [""])[0]
    return [p for p in tmp.iterdir() if p.name != f"{own}.lock"]


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(stream, "_swept", False, raising=False)  # as in a new run
    return tmp_path


def test_the_spill_of_a_killed_run_is_removed_by_the_next(tmp: Path) -> None:
    proc, left = child(tmp, "kill")
    assert proc.wait() == -signal.SIGKILL
    assert Path(left).exists() and Path(left).parent == tmp
    stream.Spill().close()  # the next run's first spill
    assert left_in(tmp) == []  # the spill and its lock file (and this run's own spill)


def test_the_spill_of_a_live_run_is_left_alone(tmp: Path) -> None:
    proc, live = child(tmp, "wait")
    try:
        assert stream.sweep_spills() == []
        stream.Spill().close()
        assert Path(live).exists()
        assert sorted(p.suffix for p in left_in(tmp)) == [".lock", ".spill"]
    finally:
        proc.kill()
        proc.wait()
    assert sorted(Path(p).suffix for p in stream.sweep_spills()) == [".lock", ".spill"]  # killed: now it goes
    assert left_in(tmp) == []


def test_a_run_that_ends_leaves_nothing_and_other_files_are_not_touched(tmp: Path) -> None:
    other = [tmp / "tgwatch-abcd1234.spill", tmp / "tgwatch-12-notes.txt", tmp / "tgwatch-x-y-z.spill"]
    for f in other:
        f.write_text("not ours to judge")  # a spill named before owners were, another program's file
    proc, spilled = child(tmp, "wait")
    proc.communicate("")  # ends normally
    assert not Path(spilled).exists()
    stream.Spill().close()
    assert sorted(left_in(tmp)) == sorted(other)
