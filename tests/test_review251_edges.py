"""Rough edges a review found: `rules backtest` stopped by Ctrl-C says «interrupted» as every command
does, and `stories` never cuts a «last seen» time when every link is short."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli

from .test_replay import HIT_TEXT, RULES


def _stored(tmp_path: Path) -> Path:
    """A real store of one story: two posts an hour apart in channels with short usernames (short links)."""
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    posts = [{"channel_id": 1700000051, "message_id": 1, "date": 1790000000, "text": HIT_TEXT,
              "channel_title": "Сводка", "channel_username": "abcde"},
             {"channel_id": 1700000052, "message_id": 2, "date": 1790003600, "text": HIT_TEXT,
              "channel_title": "Other", "channel_username": "fghij"}]
    feed.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), encoding="utf-8")
    r = CliRunner().invoke(cli, ["replay", str(feed), "--db", str(db), "--rules", str(RULES), "--alerts", "none"])
    assert r.exit_code == 0, r.output
    return db


def test_ctrl_c_in_a_backtest_says_interrupted_as_every_command_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It printed «error: interrupted»: a Ctrl-C is no error of the analyst's."""
    db = _stored(tmp_path)
    backtest = importlib.import_module("bot.cli.backtest")

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(backtest, "run_backtest", interrupted)
    r = CliRunner().invoke(cli, ["rules", "backtest", str(RULES / "desertion.toml"), "--db", str(db)])
    assert r.exit_code == 130 and r.stderr == "interrupted\n", r.output


@pytest.mark.parametrize("columns", ["100", "200"])
def test_a_story_table_of_short_links_shows_whole_times(tmp_path: Path, columns: str) -> None:
    """The link column was exactly as wide as «https://t.me/abcde/1» (20), one short of «last 2026-09-21 15:13»."""
    db = _stored(tmp_path)
    r = CliRunner().invoke(cli, ["stories", "--db", str(db), "--since", "2000-01-01"], env={"COLUMNS": columns})
    assert r.exit_code == 0, r.output
    assert "│" in r.stdout, r.stdout  # drawn as a table
    assert "https://t.me/abcde/1 " in r.stdout and "2026-09-21 14:13" in r.stdout, r.stdout
    assert "last 2026-09-21 15:13 " in r.stdout, r.stdout
