"""Review 177: a soak. An analyst starts `tgwatch run` once and leaves it for months (20-50
channels, ~2,000 posts a day, deletions, nightly retention): what grows with every post, deletion
or day and is never given back, and what per-post work grows with the size of the store. Each
fault is shown by what can be counted (a query plan's SCAN, a container's length, the rows a read returned),
never by a timing; the seconds in the docstrings were measured aside."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.live.downtime import mark_alive
from bot.live.service import Service, open_store
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.rematch import catch_up
from bot.store.db import Store
from bot.store.schema import MIGRATIONS

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, MASH, NEUTRAL, ROOT, SHOT, channels, running


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_polled_channels_post_older_than_the_newest_pushed_one_reads_no_whole_posts_table(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """A channel the account has not joined is read by the poll only, so its posts always arrive
    older than the newest post a joined channel pushed (as does a pushed post a little older than
    the last one). The first such post of each read has the story index load the stored posts of
    its window (`StoryIndex._load` -> `Store.posts_since`), whose query `date >= :since AND (:until
    IS NULL OR date < :until) ORDER BY rowid` is planned as a SCAN of the whole posts table (the
    `:until IS NULL OR` and the ORDER BY rowid keep the date index out): 18 ms for an empty
    five-second window on the 22,099 posts of the corpus, so about 0.8 s on the event loop at a
    million posts kept (retention 0, or a year's matched ones), for each polled channel with news at every
    5-minute poll, while alerts and commands wait. Should: find the window by the date index."""
    async def go() -> list[str]:
        channels(fake, mash_joined=False)
        async with running(fake, tmp_path) as service:
            now = datetime.now(timezone.utc).replace(microsecond=0)
            fake.publish(SHOT, NEUTRAL, date=now)  # pushed: the newest post the story index has seen
            await eventually(lambda: service.store.count("posts") == 1)
            fake.publish(MASH, DESERTION, date=now - timedelta(minutes=5), push=False)  # found by the poll
            seen: list[str] = []  # every statement the service's own connection runs during the poll
            service.store.db.conn.set_trace_callback(seen.append)
            try:
                await service.poll()
            finally:
                service.store.db.conn.set_trace_callback(None)
            assert service.store.count("posts") == 2
            return [f"{row[3]}   <- {' '.join(sql.split())[:400]}" for sql in seen
                    if sql.lstrip().upper().startswith("SELECT") and " FROM posts " in sql
                    for row in service.store.db.conn.execute("EXPLAIN QUERY PLAN " + sql)]
    lines = run(go())
    assert any("WHERE date >=" in line for line in lines)  # the window was read: the story index loaded it
    assert [line for line in lines if line.startswith("SCAN posts")] == []


def test_the_deletions_a_channel_makes_over_weeks_are_not_each_remembered_for_the_life_of_the_service(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Every post a channel deletes is remembered in memory (`Ingest._marked`: post -> the number of
    the mark) until Telegram shows it again, which it never does for a deleted post: the entries stay
    for the life of the run (and those of posts retention has pruned since). The number only matters
    while a read that began before the mark is under way (a read started after it gives the same
    answer with no entry), so after a complete poll none of them is needed; a service left running
    for months holds one entry per deletion ever seen (news channels delete dozens a day).
    Should: forget a mark once no read begun before it is under way."""
    async def go() -> tuple[int, int]:
        channels(fake)
        async with running(fake, tmp_path) as service:
            start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=4)
            deleted = 0
            for day in range(4):  # four days, ten deletions each
                ids = [fake.publish(SHOT, f"{NEUTRAL} день {day} №{i}", date=start + timedelta(days=day, minutes=i))
                       for i in range(10)]
                await eventually(lambda: service.store.count("posts") == 10 * (day + 1))
                fake.delete(SHOT, ids)
                deleted += len(ids)
                await eventually(lambda: service.store.db.execute(
                    "SELECT count(*) FROM posts WHERE deleted_at IS NOT NULL").fetchone()[0] == deleted)
                await service.poll()  # the scheduled poll of the day: reads every channel
            await service.poll()
            assert service.ingest.complete  # (every channel was read: no read begun earlier is under way)
            return deleted, len(service.ingest._marked)
    deleted, held = run(go())
    assert deleted == 40
    assert held < deleted, f"{held} deletion marks held in memory after complete polls, one per deletion ever seen"


def test_after_a_rules_catch_up_the_next_post_does_not_read_back_every_post_the_service_stored_itself(
        tmp_path: Path) -> None:
    """The story index takes in the posts another connection stored (`StoryIndex._take_in_others`,
    asked per post, read when PRAGMA data_version says another connection committed) from the last
    rowid it read (`_seen_rowid`). That mark moves only when it reads the store: the posts the
    service stores itself never move it. So the first post after another connection's commit (the
    rules' catch-up the service runs off the loop after each rule edit, the nightly prune, a replay
    into the live store) reads back, on the event loop, every post the service stored since the
    previous such commit, text and all: a day's 2,000 at best, with retention off and rules left
    alone, every post since the service started (months: hundreds of thousands of rows while alerts
    wait). Should: read only the posts another connection stored (those after its own newest)."""
    path = tmp_path / "tgwatch.db"
    config = Config(db=path, rules=ROOT / "rules", channels=("shot_shot",), chats=("me",), retention_days=0)
    store = open_store(config)
    pipeline = Pipeline(store, Matcher([]), window_hours=config.story_window_hours)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    day = [Post(SHOT, i, start + timedelta(hours=i), f"{NEUTRAL}: сводка №{i}, слово{i}") for i in range(1, 301)]
    for i in range(0, len(day), 10):  # twelve and a half days of live batches, on the service's connection
        list(pipeline.process(day[i:i + 10], in_order=False))
    other = Store(path)  # the rules catch-up after a rule edit: off the loop, on a connection of its own
    catch_up(other, load_rules(ROOT / "rules"))
    other.close()
    read: list[int] = []
    posts_after = store.posts_after

    def counted(rowid: int) -> Iterator[dict[str, object]]:
        for row in posts_after(rowid):
            read.append(int(row["rowid"]))  # type: ignore[call-overload]
            yield row
    store.posts_after = counted  # type: ignore[method-assign]
    list(pipeline.process([Post(SHOT, 301, start + timedelta(hours=301), DESERTION)], in_order=False))
    pipeline.close()
    store.close()
    assert len(read) < 100, f"one post after the catch-up read back {len(read)} posts the service stored itself"


def index_bytes(path: Path) -> int:
    """The bytes of the search index's segments (FTS5's `posts_fts_data` blobs) in the store `path`."""
    with contextlib.closing(sqlite3.connect(path)) as c:
        return int(c.execute("SELECT coalesce(sum(length(block)), 0) FROM posts_fts_data").fetchone()[0])


def test_the_search_index_of_a_store_pruned_nightly_holds_the_posts_kept_not_every_post_ever_stored(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Retention takes each pruned post out of the search index with FTS5's 'delete', which only adds
    a tombstone: the post's words stay in their segment until FTS5 merges that segment with the
    tombstone, and with automerge at 16 (migration 5) the large old segments are merged rarely, while
    nothing ever asks for a merge or an 'optimize' after a prune. So with a steady number of posts
    kept, the index (and the file, which no VACUUM shrinks) grows with every post ever stored: a
    store simulated at 300 posts a day kept 10 days (3,000 posts) had an index of 1.0 MB at day 10,
    3.4 MB at day 40, 5.6 MB at day 70, 9.9 MB at day 120 (0.77 MB when optimized: 13x), the file
    15.5 MB (5.3 MB after VACUUM); every search reads the dead doclists too. Here: 20 days of 100
    posts (in batches of 10, as polls and pushes store them), retention 5 days, the service's own
    nightly prune. Should: the index of the posts kept stays near the size those posts need."""
    async def go() -> None:
        config = Config(db=tmp_path / "tgwatch.db", rules=ROOT / "rules", channels=("shot_shot",), chats=("me",),
                        retention_days=5)
        user = await fake.client(session=tmp_path / "user.session")
        service = Service(config, Store(config.db), user)
        try:
            words = [f"слово{i}" for i in range(3000)]
            start, n = datetime(2026, 1, 1, tzinfo=timezone.utc), 0
            for day in range(20):
                posts = []
                for i in range(100):
                    n += 1
                    posts.append(Post(SHOT, n, start + timedelta(days=day, minutes=240 + 12 * i),
                                      " ".join(words[(n * 7 + k * 13) % len(words)] for k in range(12))))
                for i in range(0, len(posts), 10):
                    list(service.pipeline.process(posts[i:i + 10], in_order=False))
                await service.prune(start + timedelta(days=day + 1, hours=3, minutes=30))  # the nightly job
            assert service.store.count("posts") == 500  # five days kept
        finally:
            service.pipeline.close()
            service.store.close()
            await user.disconnect()
    run(go())
    shutil.copy(tmp_path / "tgwatch.db", tmp_path / "optimized.db")
    with contextlib.closing(sqlite3.connect(tmp_path / "optimized.db")) as c:
        c.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')")  # the same posts, merged: what they need
        c.commit()
    held, needed = index_bytes(tmp_path / "tgwatch.db"), index_bytes(tmp_path / "optimized.db")
    assert held <= 3 * needed, f"the search index of 500 posts kept holds {held:,} bytes; they need {needed:,}"


def test_the_write_ahead_log_goes_back_to_a_small_file_after_an_upgrade_the_service_ran_at_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tgwatch run` upgrades an older store on the connection it then keeps for months (`open_store`):
    a migration that reads the posts again (9, 12, 16, 21 and 22 did) writes them in one transaction,
    and the write-ahead log grows to that size. SQLite only reuses a WAL from its start after a
    checkpoint; it gives the file back only with a `journal_size_limit` (the store sets none: -1) or
    when the last connection closes, which the service never does. So the -wal file stays as large as
    the biggest transaction the service ever wrote, as long as it runs: 23 MB beside a 13.5 MB store
    of 20,000 posts here (and a large FTS5 merge in `sync_search` grows it the same way, at any
    time). Here: 5,000 posts, upgraded from schema 21, then the service's ordinary small writes.
    Should: the log shrinks back once it is checkpointed (a later migration's write may cut it
    already: the peak is the log's largest size as each migration from 22 on begins, or after)."""
    path = tmp_path / "tgwatch.db"
    wal, sizes = Path(f"{path}-wal"), []

    def noting(migration: Callable[[Any], None]) -> Callable[[Any], None]:
        def run(db: Any) -> None:
            sizes.append(wal.stat().st_size)
            migration(db)
        return run
    monkeypatch.setattr("bot.store.db.MIGRATIONS", MIGRATIONS[:21] + [noting(m) for m in MIGRATIONS[21:]])
    old = Store(path)
    with old.transaction():  # (posts with no folded reading stored: one «´» each, which migration 22 reads again)
        old.db.conn.executemany(
            "INSERT INTO posts (channel_id, message_id, date, text, first_seen) VALUES (?, ?, ?, ?, ?)",
            [(SHOT, i, "2026-01-01T00:00:00+00:00", f"Сводка №{i}: дезерти´р задержан в Краснодаре, подробности у "
              "источников, пишет канал; " * 3, "2026-01-01T00:00:00+00:00") for i in range(1, 5001)])
    old.sync_search()
    old.db.execute("PRAGMA user_version = 21")
    old.close()
    sizes.clear()  # (those of the store's creation)
    store = open_store(Config(db=path, rules=ROOT / "rules", channels=("shot_shot",), chats=("me",)))
    try:
        peak = max(sizes + [wal.stat().st_size])
        assert peak > 4_000_000  # (the upgrade's transaction went through the log)
        for i in range(20):  # the service's ordinary writes: a poll's marks, a sender pass
            store.mark_resolved(SHOT, "SHOT", "shot_shot")
            mark_alive(store, datetime.now(timezone.utc))
        kept = wal.stat().st_size
    finally:
        store.close()
    assert kept < peak // 2, f"the -wal file holds {kept:,} bytes after the service's small writes ({peak:,} at the upgrade)"
