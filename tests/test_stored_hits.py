"""A match's stored hits are bounded (a runaway JSON Lines line is not a hit per word stored),
while what is shown of them stays whole: every term, the `matched` words."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bot.match.explain import matched_words
from bot.match.matcher import STORED_HITS, Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.source.jsonl import post_from_dict
from bot.store.db import Store


def stored(tmp_path: Path, query: str, text: str) -> list[list[object]]:
    store = Store(tmp_path / "t.db")
    try:
        pipeline = Pipeline(store, Matcher([Rule.from_query("r", query)]), alert_state="muted", workers=0)
        list(pipeline.process([post_from_dict({"channel_id": 5, "message_id": 1, "date": "2024-11-20T09:00:00Z",
                                                "text": text})]))
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "t.db")
    try:
        (hits,) = db.execute("SELECT hits FROM matches WHERE message_id = 1").fetchone()
    finally:
        db.close()
    return json.loads(hits)


def test_a_term_found_only_past_the_bound_is_still_stored_and_shown(tmp_path: Path) -> None:
    text = "дезертир " * (STORED_HITS + 500) + "сбежал из части"
    hits = stored(tmp_path, "дезертир AND сбежать", text)
    assert len(hits) == STORED_HITS + 1
    assert [h[0] for h in hits].count("сбежать") == 1
    assert matched_words(text, tuple(map(tuple, hits))) == "дезертир, сбежал ← сбежать"  # type: ignore[arg-type]


def test_a_post_telegram_allows_keeps_every_hit(tmp_path: Path) -> None:
    text = " ".join(["я"] * 2048)  # 4,095 characters: the most words a Telegram post holds
    assert len(stored(tmp_path, "я", text)) == 2048
