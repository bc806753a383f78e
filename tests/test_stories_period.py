"""`tgwatch stories --since/--until`: a story is listed when one of its posts falls in the period
(README, `stories --help`), not when its span only runs over it; on a real SQLite store."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner, Result

from bot.cli import cli
from bot.store.db import Store
from bot.store.read import count_stories, top_stories

from .test_review140_scale import plans, scans, year_store

T0 = datetime(2026, 11, 20, tzinfo=timezone.utc)
SINCE, UNTIL = "2026-11-20T03:00", "2026-11-20T03:59"  # 03:00:00 <= date < 04:00:00
# story id: (its posts' hours, and the hours of those a retention prune deleted since)
STORIES = {
    1: ([1, 5], []),  # before and after the period, none in it: not listed
    2: ([1, 3.5, 5], []),  # one between its first and last, in the period
    3: ([1, 3.5], []),  # its last post in the period
    4: ([3.5, 5], []),  # its first post in the period
    5: ([3.2, 3.7], [3.2, 3.7]),  # both pruned: its first and last seen are still in the period
    6: ([2, 4], []),  # 02:00 and 04:00: the period ends before the second
    7: ([2, 3, 4], [3]),  # its one post in the period pruned: unknown to the store, as is its date
}


def tg(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "120", "NO_COLOR": "1"})


def store_of(path: Path) -> None:
    """The stories above as the store keeps them: the story rows, and the posts left after a prune."""
    store = Store(path)
    db = store.db.conn
    at = lambda hours: (T0 + timedelta(hours=hours)).isoformat(timespec="seconds")  # noqa: E731
    with store.transaction():
        db.execute("INSERT INTO channels (id, title, username) VALUES (1, 'Канал', 'chan')")
        for sid, (hours, pruned) in STORIES.items():
            db.execute("INSERT INTO stories (id, first_channel_id, first_message_id, first_date, last_date, size, channels) "
                       "VALUES (?, 1, ?, ?, ?, ?, '[1]')", [sid, sid * 10, at(hours[0]), at(hours[-1]), len(hours)])
            db.executemany("INSERT INTO posts (channel_id, message_id, date, text, story_id, first_seen) VALUES (1,?,?,?,?,?)",
                           [(sid * 10 + k, at(h), f"новость {sid}", sid, at(h)) for k, h in enumerate(hours) if h not in pruned])
    store.close()


def test_a_story_is_listed_when_one_of_its_posts_falls_in_the_period(tmp_path: Path) -> None:
    """Story 1 (posts at 01:00 and 05:00) was listed for 03:00-03:59, when none of its posts was
    seen; story 5, whose posts a retention prune deleted, is still listed by its first and last seen."""
    store_of(tmp_path / "t.db")
    result = tg("stories", "--db", tmp_path / "t.db", "--since", SINCE, "--until", UNTIL, "--min-size", "1",
                "--limit", "all", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(line)["story_id"] for line in result.stdout.splitlines()) == [2, 3, 4, 5]
    assert re.match(r"4 stories seen 2026-11-20 03:00 – 2026-11-20 03:59 UTC", result.stderr), result.stderr
    table = tg("stories", "--db", tmp_path / "t.db", "--since", SINCE, "--until", UNTIL, "--limit", "1")
    assert "1 of 4 stories of 2+ posts" in table.stderr, table.stderr  # the count agrees with the rows


def test_a_period_finds_its_stories_through_indexes_on_a_big_store(tmp_path: Path) -> None:
    """The post looked for inside a story that spans the period is found by the story's posts
    (idx_posts_story_id), and the stories by last_date: no table is read whole for a day of a year."""
    store = year_store(tmp_path / "y.db", posts=3000, story_of=30)  # stories of 30 posts, 3.6 days each
    try:
        until = datetime(2026, 11, 24, 12, tzinfo=timezone.utc) - timedelta(days=30)
        since = until - timedelta(hours=6)  # inside one story's span, its posts 3 h apart
        lines = plans(store, lambda: (top_stories(store, since=since, until=until, min_size=1),
                                      count_stories(store, since=since, until=until, min_size=1)))
        assert len(top_stories(store, since=since, until=until, min_size=1)) == 1
    finally:
        store.close()
    assert not scans(lines, "stories", "s") and not scans(lines, "posts", "sp"), "\n".join(lines)
    assert any("USING INDEX idx_posts_story_id" in line for line in lines), "\n".join(lines)
