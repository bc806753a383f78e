"""No line tgwatch prints ends in a blank: rich padded table cells and wrapped lines to their width,
so an analyst's selection of the output pasted into a report came out ragged, and `> out.txt` diffed
with noise. Every command the README lists, through the real `tgwatch` process, at 80 and 300
columns, piped and on a terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .sample_store import ROOT, Sample, built  # noqa: F401  (`sample`: a conftest fixture)
from .test_review194_term import run_on_a_terminal, tgwatch

# each command as the README gives it; {db}: the sample store, {tmp}: a fresh folder, {ragged}: a store
# of `RAGGED`; styled: it has bold or colour on a terminal, which must stay
COMMANDS: dict[str, tuple[list[str], bool]] = {
    "replay": (["replay", "examples/export", "--db", "{tmp}/new.db"], True),  # the alerts, then the summary
    "stories": (["stories", "--db", "{db}"], True),
    "story": (["story", "1", "--db", "{db}"], True),
    "stats": (["stats", "--db", "{db}"], True),
    "search": (["search", "дезертир", "--db", "{db}"], True),
    "export": (["export", "--db", "{db}", "--format", "xlsx", "-o", "{tmp}/out.xlsx"], False),
    # a post whose first line ends in blanks, as real channels write them (story, search quote it)
    "story, ragged post": (["story", "1", "--db", "{ragged}"], True),
    "search, ragged post": (["search", "дезертир", "--db", "{ragged}"], True),
    "rules backtest": (["rules", "backtest", "lockdown", "--db", "{db}"], True),
    "rules test": (["rules", "test", "В Краснодаре задержали дезертиров"], True),
    "rules explain": (["rules", "explain", "desertion"], True),
    "rules check": (["rules", "check"], False),
    "--help": (["--help"], False),
    "stories --help": (["stories", "--help"], False),
}

RAGGED = {"channel_id": 1800000002, "message_id": 7, "date": "2026-11-20T09:04:00Z", "channel_title": "Рваный край ",
          "text": "Под Краснодаром задержали дезертира \t\nПодробности позже.  "}
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")  # colours, links


def line_ends(text: str) -> list[str]:
    """The lines of `text` as a terminal shows them (colours and links left out) that end in a blank."""
    return [line for line in _ESCAPE.sub("", text).replace("\r\n", "\n").split("\n") if line != line.rstrip()]


@pytest.mark.parametrize("where", ["piped", "terminal"])
@pytest.mark.parametrize("columns", ["80", "300"])
@pytest.mark.parametrize("command", COMMANDS)
def test_no_line_ends_in_a_blank(sample: Sample, tmp_path: Path, command: str, columns: str, where: str) -> None:
    """The replay summary's rows ran on in spaces to its widest row, a wrapped `stories` heading and
    `rules explain`'s wrapped word lists ended lines with one; colours stay on a terminal."""
    args, styled = COMMANDS[command]
    env = {"LANG": "C.UTF-8", "COLUMNS": columns, "TERM": "xterm-256color"}
    if "{ragged}" in args:
        (tmp_path / "ragged.jsonl").write_text(json.dumps(RAGGED, ensure_ascii=False) + "\n", encoding="utf-8")
        assert tgwatch("replay", tmp_path / "ragged.jsonl", "--db", tmp_path / "ragged.db", "--alerts", "none",
                       env=env).returncode == 0
    args = [a.format(db=sample.db, tmp=tmp_path, ragged=tmp_path / "ragged.db") for a in args]
    if where == "terminal":
        shown, r = run_on_a_terminal(*args, env=env)
    else:
        r = tgwatch(*args, env=env)
        shown = r.stdout.decode("utf-8")
    errors = r.stderr.decode("utf-8")
    assert r.returncode == 0, errors
    assert shown.strip() or errors.strip()  # something was printed to look at
    assert line_ends(shown) == [] and line_ends(errors) == []
    assert ("\x1b[" in shown) == (styled and where == "terminal")
    if command == "replay":  # only the line ends changed: the summary's values still line up
        summary = shown.replace("\r\n", "\n").rstrip("\n").split("\n\n")[-1]
        starts = {len(re.match(r"(?:\x1b\[[0-9;]*m)*[a-z ]+?  +", line)[0]) for line in summary.split("\n")}  # type: ignore[index]
        assert len(starts) == 1, summary
