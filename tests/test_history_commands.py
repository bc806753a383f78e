"""The history commands on stores of a real size: what an analyst reads must hold however large
the store, a story or a period is."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli

from .test_replay import HIT_TEXT, RULES


def _replay(tmp_path: Path, lines: list[dict]) -> Path:
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    feed.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    r = CliRunner().invoke(cli, ["replay", str(feed), "--db", str(db), "--rules", str(RULES), "--alerts", "none"])
    assert r.exit_code == 0, r.output
    return db


def test_story_lists_every_post_of_a_story_of_more_than_a_thousand(tmp_path: Path) -> None:
    """`story` said «1005 posts (1000 kept: the others matched no rule and were pruned)» of a story
    nothing was pruned from, and ended its list at the 1000th post."""
    db = _replay(tmp_path, [{"channel_id": 1700000001 + k % 5, "message_id": k + 1, "date": 1790000000 + 60 * k,
                             "text": HIT_TEXT, "channel_title": f"Канал {k % 5}"} for k in range(1005)])
    r = CliRunner().invoke(cli, ["story", "1", "--db", str(db)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("story #1: 1005 posts from 5 channels, ") and "pruned" not in lines[0], lines[0]
    posts = [line for line in lines[1:] if not line.startswith("  ")]
    assert len(posts) == 1005
    assert posts[-1].split("  ")[2] == "https://t.me/c/1700000005/1005"  # the last post, not the 1000th


def test_stories_cut_by_the_limit_say_how_many_there_are(tmp_path: Path) -> None:
    """20 stories of a season's thousands read as all there were: like `search`, `stories` now says
    on stderr when --limit left some out, and stays quiet when it did not."""
    texts = ["Сводка: пожар на складе в Подольске", "Курс доллара превысил 105 рублей",
             "В Казани открыли новую станцию метро", "Сборная выиграла матч со счётом 3:1"]
    db = _replay(tmp_path, [{"channel_id": 1700000001 + k % 3, "message_id": k + 1, "date": 1790000000 + 60 * k,
                             "text": texts[k % 4], "channel_title": f"Канал {k % 3}"} for k in range(12)])
    run = ["stories", "--db", str(db), "--since", "2026-01-01"]
    r = CliRunner().invoke(cli, [*run, "--limit", "3"])
    assert r.exit_code == 0, r.output
    assert r.stderr == "3 of 4 stories of 2+ posts (the largest 3; use --limit for more)\n"
    assert sum(line.startswith("│ #") for line in r.stdout.splitlines()) == 3
    for limit in ("4", "20"):
        r = CliRunner().invoke(cli, [*run, "--limit", limit])
        assert r.exit_code == 0 and r.stderr == "", r.output
        assert sum(line.startswith("│ #") for line in r.stdout.splitlines()) == 4
    r = CliRunner().invoke(cli, [*run, "--limit", "1", "--min-size", "1"])
    assert r.exit_code == 0 and r.stderr == "1 of 4 stories (the largest 1; use --limit for more)\n", r.output
