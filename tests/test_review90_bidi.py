"""Bidi controls a channel chose (U+202E in its title or a post) never reach the analyst's terminal."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from bot.cli import cli

from .test_replay import HIT_TEXT, RULES, rows

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
TITLE = "Канал \u202eлортнок\u202c"  # an attacker's name: the terminal would print «Канал контрол»
TEXT = f"{HIT_TEXT} \u2067в части\u2069 \u200fскрыто"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [*map(str, args)], env={"COLUMNS": "200"})


def clean(r: Result) -> None:
    assert not set(BIDI) & set(r.output), [hex(ord(c)) for c in set(BIDI) & set(r.output)]


def test_no_bidi_control_reaches_any_terminal_face(tmp_path: Path) -> None:
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    feed.write_text(json.dumps({"channel_id": 1700000042, "message_id": 1, "date": 1790000000,
                                "channel_title": TITLE, "text": TEXT, "media": "\u202ephoto"},
                               ensure_ascii=False) + "\n" + json.dumps(
        {"channel_id": 1700000042, "message_id": 2, "date": 1790000060, "text": "ok",
         "channel_username": "bad\u202ename"}, ensure_ascii=False) + "\n", encoding="utf-8")
    r = run("replay", feed, "--db", db, "--rules", RULES)  # terminal alerts, and a warning quoting the bad name
    assert r.exit_code == 0, r.output
    clean(r)
    assert "Канал \ufffdлортнок\ufffd" in r.stdout and "\ufffdв части\ufffd" in r.stdout  # shown, marked, nothing lost
    assert "channel_username" in r.stderr
    for args in (["search", "дезертир"], ["story", "1"], ["stories", "--min-size", "1", "--since", "2026-09-01"],
                 ["export", "--channel", "nosuch"]):
        out = run(*args, "--db", db)
        clean(out)
        assert "Канал \ufffdлортнок\ufffd" in out.output, (args, out.output)
    assert rows(db, "SELECT title FROM channels") == [(TITLE,)]  # the store keeps it as sent
