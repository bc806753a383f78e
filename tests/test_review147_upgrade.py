"""Review 147: a store an earlier release of tgwatch wrote, opened by today's.

Three migrations were edited after a release had shipped them, so a store that release migrated
holds the first form of the migration, marked done: today's code reads it as a store of today's
schema. Each old store here is built by the old release's own SQL (`git show <commit>:bot/store/db.py`).
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils
from click.testing import CliRunner

from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.post import Entity, Post, content_hash
from bot.store.db import REPLAY, SCHEMA_VERSION, Store
from bot.store.read import search_posts
from bot.store.schema import MIGRATIONS, stored_links

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "export"
RULES = ROOT / "rules"
MASH = 1117628569
WHEN = datetime(2024, 11, 20, 9, 0, tzinfo=timezone.utc)


def post(mid: int, text: str) -> Post:
    return Post(channel_id=MASH, message_id=mid, date=WHEN, text=text, channel_username="mash")


def _m1_as_released(db: sqlite_utils.Database) -> None:
    """`_m1_initial` as release 0332d86 (and the three after it, up to 7deec3e^) shipped it: the
    search index kept by triggers, and no `meta` table."""
    db["channels"].create({"id": int, "username": str, "title": str, "last_message_id": int, "status": str,
                           "resolved_at": str, "updated_at": str}, pk="id")
    db["stories"].create({"id": int, "first_channel_id": int, "first_message_id": int, "first_date": str,
                          "last_date": str, "size": int, "channels": str, "fingerprint": str}, pk="id")
    db["posts"].create({
        "channel_id": int, "message_id": int, "date": str, "edit_date": str, "text": str,
        "text_hash": str, "entities": str, "link": str, "forward_channel_id": int,
        "forward_post_id": int, "forward_name": str, "grouped_id": int, "media": str,
        "story_id": int, "first_seen": str, "updated_at": str,
    }, pk=("channel_id", "message_id"), foreign_keys=[("story_id", "stories", "id")])
    db["posts"].create_index(["date"])
    db["posts"].create_index(["story_id"])
    db["posts"].create_index(["forward_channel_id", "forward_post_id"])
    db["posts"].enable_fts(["text"], create_triggers=True, tokenize="unicode61 remove_diacritics 2")
    db["matches"].create({"channel_id": int, "message_id": int, "rule": str, "severity": str, "terms": str,
                          "hits": str, "current": int, "matched_at": str}, pk=("channel_id", "message_id", "rule"))
    db["matches"].create_index(["rule"])
    db["alerts"].create({
        "id": int, "story_id": int, "rule": str, "channel_id": int, "message_id": int,
        "severity": str, "state": str, "random_id": int, "attempts": int, "created_at": str,
        "sent_at": str, "sent_message_id": int, "error": str, "updated_at": str,
    }, pk="id")
    db["alerts"].create_index(["story_id", "rule"], unique=True)
    db["alerts"].create_index(["state"])


def _m2_as_released(db: sqlite_utils.Database) -> None:
    """`_m2_live` as release cd4f1f7 (and the two after it, up to ee32ba9^) shipped it: no `channels.access_hash`."""
    db["deliveries"].create({
        "alert_id": int, "chat": str, "part": int, "random_id": int, "message_id": int, "text_hash": str,
        "sent_at": str, "edited_at": str,
    }, pk=("alert_id", "chat", "part"))
    db["alerts"].add_column("next_attempt_at", str)
    db["channels"].add_column("error", str)
    db["posts"].create_index(["channel_id", "grouped_id"])


def _m3_as_released(db: sqlite_utils.Database) -> None:
    """`_m3_chat` as release d1cd53d (and those after it, up to d45a317^) shipped it: no `alerts.story_grew`."""
    db["mutes"].create({"id": int, "rule": str, "channel_id": int, "until": str, "by_user": int, "created_at": str}, pk="id")
    db["mutes"].create_index(["rule", "until"])
    db["feedback"].create({"alert_id": int, "user_id": int, "rule": str, "verdict": str, "at": str},
                          pk=("alert_id", "user_id"))
    db["rule_changes"].create({
        "id": int, "at": str, "user_id": int, "user_name": str, "action": str, "rule": str, "file": str,
        "before": str, "after": str, "undone": int,
    }, pk="id")
    db["digests"].create({"id": int, "created_at": str, "alert_ids": str, "random_id": int, "message_id": int,
                          "sent_at": str}, pk="id")


def old_store(path: Path, *migrations: Any) -> None:
    """A store file as a release with these migrations left it (each once, then its version)."""
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for version, migration in enumerate(migrations, 1):
        migration(db)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


def first_release_store(path: Path) -> None:
    """A store release 0332d86 wrote: two posts, each its own story, indexed by the release's triggers."""
    old_store(path, _m1_as_released)
    conn = sqlite3.connect(path, isolation_level=None)  # release 0332d86's own writes (Store.new_story, write_post)
    for mid, text in ((1, "В Подольске задержан дезертир"), (2, "Склад сгорел в Подольске")):
        story = conn.execute("INSERT INTO stories (first_channel_id, first_message_id, first_date, last_date, size, channels) "
                             "VALUES (?, ?, ?, ?, 1, ?)", [MASH, mid, WHEN.isoformat(), WHEN.isoformat(), json.dumps([MASH])]).lastrowid
        conn.execute("INSERT INTO posts (channel_id, message_id, date, edit_date, text, text_hash, entities, link, "
                     "forward_channel_id, forward_post_id, forward_name, grouped_id, media, story_id, first_seen, updated_at) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     [MASH, mid, WHEN.isoformat(), None, text, post(mid, text).text_hash, None, None, None, None, None,
                      None, None, story, WHEN.isoformat(), WHEN.isoformat()])
    conn.close()


def test_a_store_of_the_first_release_opens_and_search_finds_its_posts_once(tmp_path: Path) -> None:
    """A store of release 0332d86 (or the three after it) was refused by every command («cannot open
    database (no such table: meta)»); once open, its posts and today's are found, the index sound."""
    path = tmp_path / "v1.db"
    first_release_store(path)
    store = Store(path, owner=REPLAY)
    assert store.version == SCHEMA_VERSION
    assert sorted(h.message_id for h in search_posts(store, "подольске")) == [1, 2]
    list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process([post(3, "Пожар в Подольске потушен")]))
    assert sorted(h.message_id for h in search_posts(store, "подольске")) == [1, 2, 3]
    store.db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')")  # FTS5 raises when corrupt
    store.close()


def test_search_on_a_store_of_the_first_release_is_not_refused(tmp_path: Path) -> None:
    """What the analyst types after `pip install -U`: one line refusing the whole store is not an upgrade."""
    path = tmp_path / "v1.db"
    first_release_store(path)
    result = CliRunner().invoke(cli, ["search", "Подольске", "--db", str(path)])
    assert result.exit_code == 0 and "2 posts found" in result.output, result.output


def test_a_store_of_release_d1cd53d_takes_a_replay_whose_story_grows_while_its_alert_is_queued(tmp_path: Path) -> None:
    """A v3 store of releases d1cd53d..d45a317^ has no `alerts.story_grew` (added to migration 3 after
    it shipped): replaying the sample into it stopped with «database error (no such column: story_grew)»."""
    path = tmp_path / "v3.db"
    old_store(path, MIGRATIONS[0], MIGRATIONS[1], _m3_as_released)
    result = CliRunner().invoke(cli, ["replay", str(SAMPLE), "--db", str(path), "--rules", str(RULES),
                                      "--alerts", str(tmp_path / "alerts.jsonl")])
    assert result.exit_code == 0 and "story_grew" not in result.output, result.output
    store = Store(path)
    assert store.count("posts") > 0 and store.count("alerts") > 0
    store.close()


def test_a_store_of_release_cd4f1f7_records_a_channels_access_hash(tmp_path: Path) -> None:
    """A v2 store of releases cd4f1f7..ee32ba9^ has no `channels.access_hash` (added to migration 2 after
    it shipped): the live service's first resolve of a channel (`Store.mark_resolved`) fails on it."""
    path = tmp_path / "v2.db"
    old_store(path, MIGRATIONS[0], _m2_as_released)
    store = Store(path)
    assert store.version == SCHEMA_VERSION
    store.mark_resolved(MASH, "Mash", "mash", access_hash=123456789)
    assert store.db.execute("SELECT access_hash FROM channels WHERE id = ?", [MASH]).fetchone() == (123456789,)
    store.close()


def test_an_old_store_says_it_is_being_upgraded_before_the_first_command_works_on_it(tmp_path: Path) -> None:
    """Opening a store from before migration 6 reads every post again four times (migrations 6, 9,
    12 and 16: about 20 s for the corpus's 22,099 posts, minutes for a year of a hundred channels)
    with nothing on the terminal: `tgwatch search` looks hung. It should say it upgrades the store."""
    path = tmp_path / "v5.db"
    old_store(path, *MIGRATIONS[:5])
    conn = sqlite3.connect(path, isolation_level=None)  # as release 14c7885^ stored and indexed a batch
    for mid, text in ((1, "В части задержан дeзeртир"), (2, "Склад сгорел в Подольске")):
        conn.execute("INSERT INTO stories (id, first_channel_id, first_message_id, size) VALUES (?, ?, ?, 1)", [mid, MASH, mid])
        conn.execute("INSERT INTO posts (channel_id, message_id, date, text, text_hash, story_id, first_seen, updated_at) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [MASH, mid, WHEN.isoformat(), text, post(mid, text).text_hash, mid,
                                                         WHEN.isoformat(), WHEN.isoformat()])
    conn.execute("INSERT INTO posts_fts (rowid, text) SELECT rowid, text FROM posts")
    conn.execute("INSERT INTO meta (key, value) VALUES ('fts_rowid', '2')")
    conn.close()
    result = CliRunner().invoke(cli, ["search", "дезертир", "--db", str(path)])
    assert result.exit_code == 0 and "1 post" in result.output, result.output  # the upgrade itself works
    assert re.search(r"upgrad|migrat", result.output, re.IGNORECASE), result.output


def _linked(mid: int, url: str) -> Post:
    text = "Дезертиров ищут в Краснодаре, подробнее"
    return Post(channel_id=MASH, message_id=mid, date=WHEN, text=text, channel_username="mash",
                entities=(Entity("text_link", len(text) - 9, 9, url),))


def test_a_store_migration_7_of_release_f9feab7_left_sees_its_mailto_post_unchanged(tmp_path: Path) -> None:
    """Releases f9feab7..4c5aaff^ shipped migration 7 rehashing only posts whose links hold «http» or
    «://»; 4c5aaff widened it in place, so a store already at version 7 keeps a text-only hash for a
    post with a mailto:/tg: link behind its words: today's replay of the same export counts it edited
    and matches it again, for no edit."""
    path = tmp_path / "v7.db"
    store = Store(path, owner=REPLAY)
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертиров")]))
    list(pipe.process([_linked(1, "mailto:tips@example.org"), _linked(2, "https://news.example/a")]))
    # as a store of before migration 7 hashed them: the text alone; then release f9feab7's migration 7
    store.db.execute("UPDATE posts SET text_hash = ?", [content_hash(_linked(1, "x").text)])
    for rowid, text, entities in store.db.execute("SELECT rowid, text, entities FROM posts "
                                                  "WHERE entities LIKE '%http%' OR entities LIKE '%://%'").fetchall():
        store.db.execute("UPDATE posts SET text_hash = ? WHERE rowid = ?", [content_hash(text, stored_links(text, entities)), rowid])
    store.db.execute("PRAGMA user_version = 7")
    store.close()
    store = Store(path, owner=REPLAY)
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертиров")]))
    statuses = [p.status for p in pipe.process([_linked(1, "mailto:tips@example.org"), _linked(2, "https://news.example/a")])]
    store.close()
    assert statuses == ["unchanged", "unchanged"]
