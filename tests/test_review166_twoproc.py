"""Review (helper-166): two tgwatch processes on one store, as analysts run them: a live `run`
beside a `replay`, an `export` from cron beside the analyst's, a second `run` by mistake. Each test
fails on the code reviewed because of the fault its name says. Real SQLite files; the processes are
threads or second connections, ordered by events (no sleeps)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

import bot.cli.export as export_module
from bot.live.session import SessionBusy, database_lock

from .sample_store import Sample


# -- a second `tgwatch run` by mistake ---------------------------------------------------------------

def test_a_second_run_on_the_same_database_through_a_symlink_is_refused(tmp_path: Path) -> None:
    """`paths.db` of a second config names the store through a symlink (~/tgwatch.db -> /srv/tgwatch.db):
    SQLite opens the one file, so the two services would each send every alert; the second must be
    refused as one given the same path is. The lock file is named after the path as written
    (`<db>.lock` beside the link), so both services run."""
    real = tmp_path / "srv" / "tgwatch.db"
    real.parent.mkdir()
    real.touch()
    link = tmp_path / "tgwatch.db"
    link.symlink_to(real)
    with database_lock(real):
        with pytest.raises(SessionBusy, match="another `tgwatch run`"):
            with database_lock(link):
                pass


# -- two exports to one -o at once ------------------------------------------------------------------

def _export(args: list[str]) -> int:
    """`tgwatch export ARGS` in this thread; its exit code."""
    try:
        export_module.export.main(args, standalone_mode=False)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_two_exports_to_one_file_at_once_leave_one_whole_export_and_both_succeed(
        sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An hourly cron `export -o report.csv` runs while the analyst's own `export --all-posts -o
    report.csv` is being written. Both write through the same `.report.csv.part`: the second
    truncates the first's file under it, renames it, and the first then writes on into what is
    now report.csv and fails (`cannot write (No such file or directory)`) when its own rename finds
    no .part. The analyst should get one whole export in report.csv (either) and no error."""
    alone_a, alone_b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert _export(["--db", str(sample.db), "-o", str(alone_a)]) == 0
    assert _export(["--db", str(sample.db), "--all-posts", "-o", str(alone_b)]) == 0
    assert alone_a.read_bytes() != alone_b.read_bytes()

    a_writing, b_done = threading.Event(), threading.Event()
    real_rows = export_module.iter_export_rows

    def gated(*args: Any, **kw: Any) -> Iterator[dict[str, Any]]:
        rows = real_rows(*args, **kw)
        if threading.current_thread().name != "cron":
            yield from rows
            return
        yield next(rows)  # taken before the .part is opened (`_first_checked`)
        a_writing.set()  # the next row is asked for with the .part open
        assert b_done.wait(30)
        yield from rows

    monkeypatch.setattr(export_module, "iter_export_rows", gated)
    target = tmp_path / "report.csv"
    codes: dict[str, int] = {}
    cron = threading.Thread(name="cron", target=lambda: codes.__setitem__(
        "cron", _export(["--db", str(sample.db), "-o", str(target)])))
    cron.start()
    try:
        assert a_writing.wait(30)
        codes["analyst"] = _export(["--db", str(sample.db), "--all-posts", "-o", str(target)])
    finally:
        b_done.set()
        cron.join(30)
    assert not cron.is_alive()
    got = target.read_bytes()
    assert got in (alone_a.read_bytes(), alone_b.read_bytes()), "report.csv is a mix of the two exports"
    assert codes == {"cron": 0, "analyst": 0}
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]
