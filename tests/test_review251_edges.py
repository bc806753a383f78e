"""Rough edges a review found: `rules backtest` stopped by Ctrl-C says «interrupted» as every command
does, `stories` never cuts a «last seen» time when every link is short, and the chat's /export of a
period with no matched post says so in a reply, with no file; and `run` warns of a rule's channel
scope only once the first poll has resolved the watched channels."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli

from .fake_telegram import FakeTelegram
from .test_chat import DESERTION, ROOT, SHOT, alerts, ask, eventually, running
from .test_chat import run as run_async
from .test_live_rule_scope import notices
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


VOENKOR = 1800000003
TITLE_SCOPED = "".join(f'[[rule]]\nname = "{name}"\nquery = "дезертир"\nchannels = ["{channel}"]\n'
                       for name, channel in (("by_title", "Военная хроника"), ("elsewhere", "Нет такого канала")))


def test_a_rule_scoped_by_the_title_of_a_watched_channel_is_not_warned_of_on_a_first_start(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """On a first start a flood wait held back the channels' lookups, and the scope warning came before
    the first poll resolved them: «rule 'by_title' can match no post from военная хроника», a watched channel."""
    async def go() -> None:
        rules = tmp_path / "rules"
        shutil.copytree(ROOT / "rules", rules)
        (rules / "scoped.toml").write_text(TITLE_SCOPED, encoding="utf-8")
        fake.add_channel(VOENKOR, "voenhronika", "Военная хроника")  # (a title no username could be)
        fake.flood("ResolveUsernameRequest", 3600)  # Telegram has the lookups wait an hour
        async with running(fake, tmp_path, channels=("shot_shot", "mash", "voenhronika")) as service:
            assert VOENKOR not in service.ingest.watched  # its lookup waits
            assert notices(fake) == [], notices(fake)  # nothing said on a guess
            await service.poll()
            assert notices(fake) == []  # Telethon keeps the wait: still held back, still nothing said
            service.user._flood_waited_requests.clear()  # the hour has passed
            await service.poll()
            assert VOENKOR in service.ingest.watched
            await eventually(lambda: notices(fake))
            assert [n.split(":")[0] for n in notices(fake)] == [
                "⚠️ rule 'elsewhere' can match no post from нет такого канала"], notices(fake)
            fake.publish(VOENKOR, DESERTION)  # and the rule scoped by its title matches its posts
            await eventually(lambda: any("by_title" in m.text and "Военная хроника" in m.text for m in alerts(fake)))
            await service.poll()
            await service.reload_rules()
            assert len(notices(fake)) == 1  # still told once per run
    run_async(go())
