"""Rough edges a review found: `rules backtest` stopped by Ctrl-C says «interrupted» as every command
does, `stories` never cuts a «last seen» time when every link is short, and the chat's /export of a
period with no matched post says so in a reply, with no file."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli

from .fake_telegram import FakeTelegram
from .test_chat import DESERTION, SHOT, alerts, ask, eventually, running
from .test_chat import run as run_async
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


def test_an_export_of_no_posts_is_a_reply_not_a_file_of_headers(fake: FakeTelegram, tmp_path: Path) -> None:
    """/export of a rule with no post in the period sent a CSV holding only its header row (caption
    «0 matched posts»); /search with no hit answers in words, and so does /export now."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2 and service.store.count("posts") == 1)  # desertion, regiment
            for text in ("/export weather 7d", "/export lockdown xlsx"):
                r = await ask(fake, text)
                assert r.file is None and r.text.startswith("No matched posts of "), (text, r.text)
                assert " in the last 7 d." in r.text, r.text
            r = await ask(fake, "/export desertion")  # a period with a post: the file, as before
            assert r.file is not None and r.text.startswith("1 matched post of desertion, last 7 d"), r.text
            assert [p.name for p in tmp_path.iterdir() if "export" in p.name] == []  # no file left behind
    run_async(go())
