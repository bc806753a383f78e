"""The store on a real SQLite file: schema versions, search index kept right across edits."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import SCHEMA_VERSION, Store, StoreError
from bot.store.read import search_posts

WHEN = datetime(2024, 11, 20, 9, 0, tzinfo=timezone.utc)


def post(mid: int, text: str) -> Post:
    return Post(channel_id=1117628569, message_id=mid, date=WHEN, text=text, channel_username="mash")


def test_edit_replaces_the_post_in_the_search_index(tmp_path):
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(1, "Склад сгорел в Подольске"), post(2, "Погода на выходные")]))
    assert [h.message_id for h in search_posts(store, "склад")] == [1]
    list(pipe.process([post(1, "Пожар потушили, в Подольске задержан дезертир")]))
    assert list(search_posts(store, "склад")) == []
    assert [h.message_id for h in search_posts(store, "пожар")] == [1]
    assert store.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1


def test_new_database_has_the_current_schema_and_reopens(tmp_path):
    Store(tmp_path / "s.db").close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    assert {"posts", "matches", "stories", "alerts", "channels", "posts_fts"} <= set(store.db.table_names())


def test_a_store_from_before_the_search_merge_setting_upgrades_and_still_finds_its_posts(tmp_path):
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(1, "Склад сгорел в Подольске")]))
    store.db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('automerge', 4)")
    store.db.execute("PRAGMA user_version = 4")
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    assert store.db.execute("SELECT v FROM posts_fts_config WHERE k = 'automerge'").fetchone()[0] == 16
    list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process([post(2, "Склад в Подольске потушили")]))
    assert sorted(h.message_id for h in search_posts(store, "склад")) == [1, 2]


def test_another_applications_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE notes (x)")
        c.execute("INSERT INTO notes VALUES ('keep me')")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another application .*notes"):
        Store(path)
    assert path.read_bytes() == before  # not even switched to WAL
    assert not (tmp_path / "notes.db-wal").exists()


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    store = Store(tmp_path / "s.db")
    store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    store.close()
    with pytest.raises(StoreError, match="newer than this tgwatch"):
        Store(tmp_path / "s.db")
