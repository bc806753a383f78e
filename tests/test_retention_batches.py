"""Retention in batches: the live service prunes a year's posts a batch at a time off its loop, and
what it prunes leaves the search index and the story index's forwards as one prune would."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import SEARCH_PRUNED, Store
from bot.store.read import search_posts

from .fake_telegram import FakeTelegram, eventually
from .test_chat import DESERTION, PLAIN, SHOT, Clock, run, running
from .test_store import fts_ok

WHEN = datetime(2024, 11, 20, 9, 0, tzinfo=timezone.utc)


def stored(path: Path, n: int) -> Store:
    """`n` posts through the pipeline, every tenth matched (дезертир), the others about the weather."""
    store = Store(path)
    with Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])) as pipe:
        list(pipe.process([Post(channel_id=-1001117628569, message_id=i, date=WHEN + timedelta(minutes=i),
                                text=f"Задержан дезертир №{i}" if i % 10 == 0 else f"Погода на выходные №{i}")
                           for i in range(1, n + 1)]))
    return store


def test_a_prune_in_batches_deletes_what_one_transaction_does_and_leaves_search_sound(tmp_path: Path) -> None:
    one, batched = stored(tmp_path / "one.db", 2500), stored(tmp_path / "batched.db", 2500)
    try:
        assert one.prune("2100-01-01") == batched.prune("2100-01-01", batch=1000) == 2250
        for store in (one, batched):
            assert store.count("posts") == 250 and fts_ok(store)
        # each batch left the search index before the next: nothing is left for the live loop to take out
        assert batched.count("search_pending") == 0 and list(search_posts(batched, "погода")) == []
        assert len(list(search_posts(batched, "дезертир", 300))) == 250
    finally:
        one.close()
        batched.close()


def test_a_prune_stopped_between_batches_keeps_what_it_did_and_the_next_one_goes_on(tmp_path: Path) -> None:
    store = stored(tmp_path / "s.db", 2500)
    try:
        assert store.prune("2100-01-01", batch=1000, stop=lambda: True) == 1000  # the service stopping
        assert store.count("posts") == 1500 and fts_ok(store)
        assert store.prune("2100-01-01", batch=1000) == 1250
        assert store.count("posts") == 250 and list(search_posts(store, "погода")) == []
    finally:
        store.close()


def test_a_post_a_rule_matches_while_a_prune_runs_is_kept(tmp_path: Path) -> None:
    """The live rules catch-up matches stored posts in its own thread while retention prunes: a post it
    matches between two batches is the evidence retention keeps, not a post listed as unmatched at the start."""
    store = stored(tmp_path / "s.db", 2500)
    try:
        def catch_up() -> bool:  # (between batches) a rule new to the store matches post 2001
            with store.transaction():
                store.db.execute("INSERT OR IGNORE INTO matches (channel_id, message_id, rule, terms, current, matched_at) "
                                 "VALUES (1117628569, 2001, 'weather', '[]', 1, '2026-11-30T00:00:00+00:00')")
            return False
        assert store.prune("2100-01-01", batch=1000, stop=catch_up) == 2249
        assert [p.message_id for p in search_posts(store, "погода")] == [2001]
    finally:
        store.close()


def test_the_live_story_index_forgets_the_forwards_the_nightly_prune_took(fake: FakeTelegram, tmp_path: Path) -> None:
    """The service prunes on a connection of its own: its story index is handed the forwards left."""
    async def go() -> None:
        clock = Clock(datetime.now(timezone.utc))
        async with running(fake, tmp_path, clock) as service:
            for i in range(1, 21):
                fake.publish(SHOT, f"{PLAIN} ({i})", fwd_from=(1700000001, i), date=clock.now - timedelta(hours=1))
            await eventually(lambda: service.store.count("posts") == 20)
            assert len(service.pipeline.stories.forwarded) == 20
            clock.now += timedelta(days=40)
            assert await service.prune() == 20
            fake.publish(SHOT, DESERTION, fwd_from=(1700000001, 99))  # a forward after the prune is kept in mind
            await eventually(lambda: service.store.count("posts") == 1)
            assert service.pipeline.stories.forwarded == service.store.forwarded_posts() == {(1700000001, 99)}
    run(go())


def test_a_merge_of_the_search_index_that_fails_keeps_the_night_s_prune(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The merge after a prune meets another program's write lock: the posts were pruned already, so
    the night's count is still recorded, the story index still forgets their forwards, the nightly
    job says so in one line (no error), and the next night's prune merges the index."""
    async def go() -> tuple[int, str | None, set[tuple[int, int]], str | None]:
        clock = Clock(datetime.now(timezone.utc))
        async with running(fake, tmp_path, clock) as service:
            for i in range(1, 21):
                fake.publish(SHOT, f"{PLAIN} ({i})", fwd_from=(1700000001, i), date=clock.now - timedelta(hours=1))
            await eventually(lambda: service.store.count("posts") == 20)
            clock.now += timedelta(days=40)
            other = sqlite3.connect(service.store.path, isolation_level=None, check_same_thread=False)

            def locked() -> bool:  # asked before each merge step (one batch pruned: never before)
                if not other.in_transaction:
                    other.execute("BEGIN IMMEDIATE")  # another program takes the write lock meanwhile
                return False
            service._stopping.is_set = locked  # type: ignore[method-assign]
            try:
                pruned = await service.prune()
            finally:
                del service._stopping.is_set
                if other.in_transaction:
                    other.execute("ROLLBACK")
                other.close()
            counted = service.store.get_meta(SEARCH_PRUNED)
            forwarded = set(service.pipeline.stories.forwarded)
            clock.now += timedelta(days=1)
            await service.prune()  # the next night: nothing to prune, the index merged
            return pruned, counted, forwarded, service.store.get_meta(SEARCH_PRUNED)
    pruned, counted, forwarded, after = run(go())
    assert pruned == 20
    assert counted == "20", "the posts pruned before the failed merge are not counted for the next merge"
    assert forwarded == set(), "the story index keeps the forwards of the pruned posts"
    assert after == "0", "the next night did not merge the index"
    assert [r.getMessage() for r in caplog.records if "not merged" in r.getMessage()] == [
        "retention: search index not merged now (database: database is locked); tried again next night"]
