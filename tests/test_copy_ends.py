"""`tgwatch backup` and `tgwatch restore` name each wrong file in one line of their own, and
write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli

from .sample_store import Sample


@pytest.mark.parametrize("command, says", [
    (["backup", "--db", "{missing}", "{out}"], "{missing}: no such database"),
    (["backup", "--db", "{folder}", "{out}"], "{folder}: not a database file"),
    (["backup", "--db", "{db}", "{db}"], "{db}: is the store itself (--db {db}): name another file"),
    (["backup", "--db", "{db}", "{nowhere}"], "{nowhere}: folder {tmp}/gone does not exist"),
    (["restore", "{missing}", "--db", "{out}"], "{missing}: no such backup"),
    (["restore", "{folder}", "--db", "{out}"], "{folder}: not a file"),
    (["restore", "{db}", "--db", "{db}"], "{db}: is the store itself (--db {db}): name the backup to restore"),
    (["restore", "{db}", "--db", "{nowhere}"], "{nowhere}: folder {tmp}/gone does not exist"),
])
def test_a_wrong_file_is_one_line_naming_it_and_nothing_is_written(
        sample: Sample, tmp_path: Path, command: list[str], says: str) -> None:
    names = {"missing": tmp_path / "nope.db", "folder": tmp_path, "db": sample.db, "out": tmp_path / "out.db",
             "nowhere": tmp_path / "gone" / "x.db", "tmp": tmp_path.resolve()}
    before = sorted(tmp_path.rglob("*"))
    result = CliRunner().invoke(cli, [part.format(**names) for part in command])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.splitlines() == [f"error: {says.format(**names)}"]
    assert sorted(tmp_path.rglob("*")) == before
