"""An empty file or folder name (a script's `"$EXPORTS"` or `"$BACKUP"` unset) is one `error:` line
naming the argument or option: never the current folder it reads as (`tgwatch replay ""` replayed
every export below it), nor `: is a folder`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli

from .sample_store import ROOT, Sample

CASES = [
    (["replay", ""], "PATHS..."),
    (["replay", "{jsonl}", ""], "PATHS..."),
    (["replay", "{jsonl}", "--rules", ""], "--rules"),
    (["replay", "{jsonl}", "-c", ""], "-c / --config"),
    (["backup", ""], "FILE"),
    (["backup", "copy.db", "--db", ""], "--db"),
    (["restore", ""], "BACKUP"),
    (["restore", "{db}", "--db", ""], "--db"),
    (["rules", "check", ""], "[PATH]"),
    (["rules", "test", "дезертир", "--rules", ""], "--rules"),
    (["rules", "explain", "desertion", "--rules", ""], "--rules"),
    (["rules", "backtest", ""], "NAME|FILE"),
    (["rules", "backtest", "desertion", "--rules", ""], "--rules"),
    (["run", "-c", ""], "-c / --config"),
    (["login", "-c", ""], "-c / --config"),
]


@pytest.mark.parametrize("args, named", CASES)
def test_an_empty_path_is_one_line_naming_it_and_nothing_is_read_or_written(
        sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], named: str) -> None:
    work = tmp_path / "work"  # the current folder: an export in it, and the rules
    work.mkdir()
    shutil.copytree(ROOT / "rules", work / "rules")
    jsonl = work / "posts.jsonl"
    jsonl.write_text('{"channel_id": 1700000009, "message_id": 1, "date": "2026-11-20T09:04:00Z", '
                     '"text": "Дезертира задержали у вокзала."}\n', encoding="utf-8")
    store = work / "tgwatch.db"
    shutil.copyfile(sample.db, store)
    before = {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()}
    monkeypatch.chdir(work)
    result = CliRunner().invoke(cli, [a.format(jsonl=jsonl, db=sample.db) for a in args])
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith(f"error: {named}: empty file or folder name") and "--help" in result.stderr, result.stderr
    assert {p.name: p.read_bytes() for p in work.iterdir() if p.is_file()} == before
