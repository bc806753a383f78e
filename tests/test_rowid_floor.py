"""A pruned post's rowid is never given to a new post: the search index, each rule's coverage, the
story index's saved word counts and the downtime windows record how far they read the store as a
posts rowid, so a reused one hides the new post from them (`ROWID_FLOOR`, `Store._POST_SQL`)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import bot.cli.replay
from bot.post import Post
from bot.store.db import Store
from bot.store.read import iter_export_rows, search_posts
from bot.story.index import StoryIndex

from .test_review148_state import TEXTS, at, line, replay, rows, write_lines, write_rules


@pytest.fixture(autouse=True)
def one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Match in the replay's own process (no fork per replay)."""
    monkeypatch.setattr(bot.cli.replay, "default_workers", lambda: 0)


def found(db: Path, word: str) -> set[int]:
    """The message ids a search for `word` finds (as `tgwatch search` shows them)."""
    store = Store(db)
    try:
        return {h.message_id for h in search_posts(store, word, limit=100)}
    finally:
        store.close()


def test_live_batched_prune_then_new_posts_keeps_search_coverage_and_story_counts(tmp_path: Path) -> None:
    """Two quiet posts replayed (their words counted and saved by the story index, every rule's coverage
    recorded); retention prunes both a batch at a time, as the live service does. A post is stored by a
    run that stops before it saves its word counts: a restarted story index counts it. A post naming
    deserters arrives with the desertion rule switched off: search finds the new posts, and the rule
    switched back on matches its post."""
    rules, db = tmp_path / "rules", tmp_path / "s.db"
    write_rules(rules, {"desertion": 0, "regiment": 0})
    replay(write_lines(tmp_path / "1.jsonl", [line(1001, 2, TEXTS[3]), line(1001, 4, TEXTS[3])]), rules, db)
    store = Store(db)
    try:
        batches: list[int] = []
        assert store.prune(at(85), batch=1, stop=lambda: bool(batches.append(1))) == 2
        assert len(batches) == 1  # asked between the two batches
        saved = store.story_words()
        assert saved is not None and saved[0] == 2
        stored = Post(1003, 8, datetime.fromisoformat(at(80)), TEXTS[4])
        with store.transaction():  # its counts never saved
            store.write_new_posts([store.post_row(stored, store.new_story(stored), at(90))])
        restarted = StoryIndex(store)
        restarted.assign(Post(1003, 9, datetime.fromisoformat(at(90)), TEXTS[5]))
        assert restarted.df.docs == 2 + 2, "the post stored after the counts were saved is not counted"
    finally:
        store.close()

    write_rules(rules, {"desertion": 2, "regiment": 0})  # switched off
    replay(write_lines(tmp_path / "2.jsonl", [line(1001, 5, TEXTS[0]), line(1001, 6, TEXTS[2])]), rules, db)
    assert (found(db, "дезертиров"), found(db, "Мотострелковый"), found(db, "Белгородом")) == ({5}, {6}, {8})

    write_rules(rules, {"desertion": 0, "regiment": 0})  # back on: a replay of other posts catches it up
    replay(write_lines(tmp_path / "3.jsonl", [line(1002, 7, TEXTS[3])]), rules, db)
    store = Store(db)
    try:
        exported = [r["message_id"] for r in iter_export_rows(store, rules=["desertion"])]
        assert exported == [5], "the post naming deserters is never matched"
    finally:
        store.close()


def test_an_upgraded_store_whose_newest_posts_were_pruned_stores_new_posts_above_its_marks(tmp_path: Path) -> None:
    """A store pruned by an earlier tgwatch (no floor kept): the upgrade takes the highest rowid its
    search index and rules recorded, so a post stored after it is found and matched."""
    rules, db = tmp_path / "rules", tmp_path / "s.db"
    write_rules(rules, {"desertion": 0, "regiment": 0})
    replay(write_lines(tmp_path / "1.jsonl", [line(1001, 2, TEXTS[3]), line(1001, 4, TEXTS[3])]), rules, db)
    c = sqlite3.connect(db)
    c.execute("DELETE FROM posts")  # as the earlier version's prune left it: the index's mark stays at 2
    c.execute("DELETE FROM meta WHERE key = 'posts_rowid_floor'")
    c.execute("PRAGMA user_version = 18")
    c.commit()
    c.close()
    replay(write_lines(tmp_path / "2.jsonl", [line(1001, 5, TEXTS[2])]), rules, db)
    assert found(db, "Мотострелковый") == {5}
    assert rows(db, "SELECT rowid, message_id FROM posts") == [(3, 5)]


@pytest.mark.parametrize(("marks", "first"), [
    ({"coverage": 7, "story_words": "[3, 5, {}]", "live_down": "garbage"}, 8),
    ({"coverage": 2, "story_words": "[3, 9, {}]", "live_down": None}, 10),
    ({"coverage": 2, "story_words": "{not json", "live_down": '{"since": "x", "starts": [{"rowid": 12}]}'}, 13),
])
def test_the_upgrade_takes_the_highest_rowid_anything_read(tmp_path: Path, marks: dict[str, object], first: int) -> None:
    """The rules' coverage, the story index's counts and the downtime windows count as read marks; one
    unreadable is passed over (its reader counts again), never refused."""
    path = tmp_path / "s.db"
    Store(path).close()
    c = sqlite3.connect(path)
    c.execute("INSERT INTO rule_coverage (rule, digest, through) VALUES ('r', 'd', ?)", [marks["coverage"]])
    c.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                  [(k, marks[k]) for k in ("story_words", "live_down") if marks[k] is not None])
    c.execute("PRAGMA user_version = 18")
    c.commit()
    c.close()
    store = Store(path)
    try:
        post = Post(1001, 1, datetime.fromisoformat(at(0)), "текст")
        with store.transaction():
            store.write_new_posts([store.post_row(post, store.new_story(post), at(0))])
        assert store.db.execute("SELECT rowid FROM posts").fetchall() == [(first,)]
    finally:
        store.close()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.integers(1, 4), st.just("prune_newest"), st.just("prune_all"), st.just("reopen")),
                min_size=1, max_size=12))
def test_no_rowid_is_ever_given_twice(tmp_path_factory: pytest.TempPathFactory, steps: list[int | str]) -> None:
    """Any run of stores (n new posts), prunes of the newest or every post, and reopenings: every new
    post's rowid is above every rowid used before it."""
    path = tmp_path_factory.mktemp("floor") / "s.db"
    store, used, n = Store(path), set(), 0
    try:
        for step in steps:
            if step == "reopen":
                store.close()
                store = Store(path)
            elif isinstance(step, str):
                newest = 0 if step == "prune_all" else max(used, default=1)
                store.db.execute("UPDATE posts SET date = ? WHERE rowid >= ?", ["2000-01-01T00:00:00+00:00", newest])
                store.prune("2001-01-01", batch=1)
            else:
                posts = [Post(1001, n + i, datetime.fromisoformat(at(n + i)), "текст") for i in range(1, step + 1)]
                n += step
                with store.transaction():
                    story = store.new_story(posts[0])
                    store.write_new_posts([store.post_row(p, story, at(0)) for p in posts])
                new = {r for (r,) in store.db.execute("SELECT rowid FROM posts WHERE message_id > ?", [n - step])}
                assert len(new) == step and min(new) > max(used, default=0)
                used |= new
    finally:
        store.close()
