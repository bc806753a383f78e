"""A username is one channel's at a time: when a handle passes from one channel to another (or
two files disagree), the newer claim wins, and the older channel's posts link by its id."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .sample_store import ROOT
from .test_export import run


def _replay(tmp_path: Path, lines: list[dict[str, object]]) -> Path:
    src = tmp_path / "posts.jsonl"
    src.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    db = tmp_path / "t.db"
    r = run("replay", src, "--db", db, "--alerts", "none", "--rules", ROOT / "rules")
    assert r.exit_code == 0, r.output
    return db


def _post(channel_id: int, message_id: int, day: int) -> dict[str, object]:
    return {"channel_id": channel_id, "channel_username": "@news", "message_id": message_id,
            "date": f"2024-11-{day:02d}T09:04:00Z", "text": f"пост {channel_id} {message_id}"}


def test_the_newer_claim_of_a_username_wins_and_the_older_channel_links_by_its_id(tmp_path: Path) -> None:
    # channel A had @news, B took it, A took it back: one batch, A first seen before B
    db = _replay(tmp_path, [_post(1000000001, 1, 18), _post(1000000002, 1, 19), _post(1000000001, 2, 20)])
    r = run("export", "--db", db, "--all-posts", "--format", "jsonl", "--channel", "@news")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert {row["channel_id"] for row in rows} == {1000000001}
    assert [row["link"] for row in rows] == ["https://t.me/news/1", "https://t.me/news/2"]
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT username, (SELECT link FROM posts WHERE channel_id = 1000000002) FROM channels "
                         "WHERE id = 1000000002").fetchone() == (None, "https://t.me/c/1000000002/1")
