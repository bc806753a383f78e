"""Replay's lines about inputs that are no export, or too many to list: what they say must be so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def replay(*paths: Path, db: Path) -> Result:
    return CliRunner().invoke(cli, ["replay", *map(str, paths), "--db", str(db), "--rules", str(ROOT / "rules"),
                                    "--alerts", "none"])


@pytest.mark.parametrize("name, content, starts", [
    ("README.md", "# tgwatch\n\ntgwatch watches Telegram news channels", '"# tgwatch"'),
    ("notes.json", "\ufeff  hello, this is no JSON", '"hello, this is no JSON"'),
    ("posts.txt", "channel_id;message_id;text\n1;2;дезертир", '"channel_id;message_id;text"'),
])
def test_a_file_that_is_no_json_is_not_called_a_truncated_export(tmp_path: Path, name: str, content: str,
                                                                  starts: str) -> None:
    """`tgwatch replay README.md` said «not valid JSON (line 1, column 1: Expecting value);
    truncated export?»: nothing was cut short, the file never was an export."""
    f = tmp_path / name
    f.write_text(content, encoding="utf-8")
    r = replay(f, db=tmp_path / "s.db")
    assert r.exit_code == 1 and "Traceback" not in r.output
    [line] = [ln for ln in r.stderr.splitlines() if ln.startswith("skipped ")]
    assert line == f"skipped {f}: not a Telegram export: not JSON (it starts with {starts})"
    assert "truncated" not in r.stderr


def test_an_export_cut_short_is_still_called_so(tmp_path: Path) -> None:
    f = tmp_path / "result.json"
    whole = json.dumps({"name": "c", "type": "public_channel", "id": 5,
                        "messages": [{"id": i, "type": "message", "date_unixtime": str(1700000000 + i), "text": "x"}
                                     for i in range(1, 4)]})
    f.write_text(whole[: len(whole) - 30], encoding="utf-8")
    r = replay(f, db=tmp_path / "s.db")
    assert "truncated export?" in r.stderr and "not a Telegram export" not in r.stderr


def test_the_lines_past_the_first_ten_are_summed_up_by_their_own_reasons(tmp_path: Path) -> None:
    """12 bad lines, 10 of one reason and 2 of another: the 10 listed are not counted again in
    the «... and 2 more» line (it said «10 x text must be a string, 2 x missing field» of 2 lines)."""
    f = tmp_path / "in.jsonl"
    bad = [{"channel_id": 5, "message_id": i, "date": 1700000000 + i, "text": 5} for i in range(1, 11)]
    bad += [{"channel_id": 5, "message_id": i, "text": "x"} for i in (11, 12)]
    good = {"channel_id": 5, "message_id": 99, "date": 1700000099, "text": "x"}
    f.write_text("".join(json.dumps(x) + "\n" for x in [*bad, good]), encoding="utf-8")
    r = replay(f, db=tmp_path / "s.db")
    assert r.exit_code == 0, r.output
    assert sum(ln.startswith("skipped ") for ln in r.stderr.splitlines()) == 10
    assert "... and 2 more: 2 x missing field 'date'\n" in r.stderr
