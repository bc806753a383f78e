"""`stories` lists a story's channels in the order they reported it, as `story ID` lists its posts:
by date, not in the order tgwatch happened to read them (review 169)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from bot.cli import cli

REPORT = "Военнослужащий дезертир ушёл в самоволку из части под Курском вчера вечером"
TITLES = {1: "Первый", 2: "Второй", 3: "Третий"}


def run(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def replay(tmp_path: Path, db: Path, name: str, *posts: tuple[int, str]) -> None:
    """Replay posts of REPORT, (channel, time on 2024-11-01) each, from a JSON Lines file of their own."""
    src = tmp_path / name
    src.write_text("".join(json.dumps({"channel_id": c, "message_id": 1, "date": f"2024-11-01T{t}:00Z", "text": REPORT,
                                       "channel_title": TITLES[c]}, ensure_ascii=False) + "\n" for c, t in posts),
                   encoding="utf-8")
    r = run("replay", src, "--db", db, "--alerts", "none")
    assert r.exit_code == 0, r.output


def test_a_channel_read_later_but_earlier_than_another_is_listed_before_it(tmp_path: Path) -> None:
    """Первый at 10:00 and Третий at 12:00, then a later replay brings Второй's copy of 11:00: the
    story's row listed Первый, Третий, Второй (read order); `story ID` lists 10:00, 11:00, 12:00."""
    db = tmp_path / "t.db"
    replay(tmp_path, db, "a.jsonl", (1, "10:00"), (3, "12:00"))
    replay(tmp_path, db, "b.jsonl", (2, "11:00"))
    r = run("stories", "--db", db, "--since", "2024-11-01", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    [story] = [json.loads(x) for x in r.stdout.splitlines()]
    assert story["story_size"] == 3, story
    detail = run("story", story["story_id"], "--db", db)
    assert detail.exit_code == 0, detail.output
    listed = [t for line in detail.stdout.splitlines() for t in TITLES.values() if t in line]
    assert listed == ["Первый", "Второй", "Третий"], detail.stdout
    assert story["channels"] == listed and story["channel_ids"] == [1, 2, 3], story
    table = run("stories", "--db", db, "--since", "2024-11-01")
    assert table.exit_code == 0, table.output
    cells = [line.split("│")[3] for line in table.stdout.splitlines() if line.count("│") == 5]  # the channels column
    assert [t for cell in cells for t in TITLES.values() if t in cell] == listed, table.stdout
