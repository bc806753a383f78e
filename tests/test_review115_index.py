"""Review 115 (helper-115) of the search index: a post stored after a prune of the newest rowids, a
replay beside the live service, damage FTS5 reads as «no such word». Each failed before its fix.
Real SQLite files."""

from __future__ import annotations

import sqlite3

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store
from bot.store.read import search_posts

from .sample_store import shipped_matcher

CH = 1234567890


def at(days_ago: float) -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=days_ago)


def post(mid: int, text: str, days_ago: float = 0.0, **kw: object) -> Post:
    return Post(channel_id=CH, message_id=mid, date=at(days_ago), text=text, channel_title="Канал", **kw)


def found(store: Store, words: str) -> set[int]:
    return {h.message_id for h in search_posts(store, words, 100)}


def fts_ok(db: Path) -> None:
    c = sqlite3.connect(db)
    try:
        c.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        c.close()


def test_a_post_stored_after_a_prune_of_the_newest_rowids_is_found_by_search(tmp_path: Path) -> None:
    """An old export replayed last (its posts hold the highest rowids), indexed by a search, then
    pruned by retention: meta fts_rowid stays at the old top, the next posts reuse those rowids
    (posts has no AUTOINCREMENT) and `_search_behind` says the index is up to date: they are never
    searchable until the store grows past the old top."""
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, shipped_matcher())
    list(pipe.process([post(1, "Курс рубля вырос", 1)]))
    list(pipe.process([post(100 + i, f"Прогноз погоды номер {i}", 400) for i in range(5)]))  # an old export
    assert found(store, "погоды") == {100, 101, 102, 103, 104}  # indexed by the search's sync
    assert store.prune(at(365).isoformat()) == 5
    assert found(store, "погоды") == set()  # the pruned posts left the index
    list(pipe.process([post(2, "Дезертир задержан в Подмосковье")]))
    assert found(store, "дезертир") == {2}
    fts_ok(tmp_path / "s.db")


def test_replay_beside_the_live_service_keeps_the_index_true_to_the_stored_text(tmp_path: Path) -> None:
    """Pipeline read `known_hashes` before it took the write lock: a post the live service stored (and
    indexed) while the replay waited for the lock was then written over as new by `write_new_posts`,
    whose ON CONFLICT DO UPDATE changes the stored text without `_stale`: the index kept the live
    text, search missed the stored one, and the next edit gave FTS5 'delete' the wrong text. Here the
    live service commits just as the replay asks for the lock."""
    path = tmp_path / "s.db"
    live, replay = Store(path), Store(path)
    live_pipe, replay_pipe = Pipeline(live, shipped_matcher()), Pipeline(replay, shipped_matcher())
    list(live_pipe.process([post(9, "Начало")]))
    live.sync_search()
    edited = post(10, "Новый текст. В Краснодаре задержали троих дезертиров, сбежавших из воинской части", edit_date=at(0))
    real = replay.transaction
    stored_live = []

    def live_stores_first():  # the live service got the lock first
        if not stored_live:
            list(live_pipe.process([post(10, "Взрыв на заводе под Тулой, погибших нет; позже дезертир задержан")]))
            live.sync_search()
            stored_live.append(True)
        return real()

    replay.transaction = live_stores_first  # type: ignore[method-assign]
    list(replay_pipe.process([edited]))
    replay.transaction = real  # type: ignore[method-assign]
    stored = live.db.execute("SELECT text FROM posts WHERE message_id = 10").fetchone()[0]
    assert stored_live and stored == edited.text  # the replay's later edit is the stored text
    assert found(live, "новый") == {10} and found(live, "взрыв") == set()
    fts_ok(path)


def test_search_over_a_damaged_index_that_fts5_reads_without_an_error_still_finds_the_posts(tmp_path: Path) -> None:
    """helper-110's own `damage_index` on a store whose index is one segment (59 posts, synced once):
    FTS5 raises nothing (no SQLITE_CORRUPT_VTAB), MATCH reads the garbage as «no such word», and
    `tgwatch search` says «no stored post contains 'дезертир'» (exit 1, no note) over 59 stored
    posts that contain it; only FTS5's integrity-check sees the damage. The rebuild is never reached."""
    from click.testing import CliRunner

    from bot.cli import cli

    from .test_review110_index import damage_index

    db = tmp_path / "s.db"
    store = Store(db)
    list(Pipeline(store, shipped_matcher()).process([post(i, f"Дезертир задержан в части {i}") for i in range(1, 60)]))
    store.sync_search()
    store.close()
    damage_index(db)
    result = CliRunner().invoke(cli, ["search", "дезертир", "--db", str(db), "--limit", "100"])
    assert result.exit_code == 0 and "59 posts found" in result.output, result.output
