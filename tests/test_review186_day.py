"""Review 186 of the day's change (6cbc43d..): faults found at its edges, one test each.

The deletion marks forgotten once no read begun before them runs (bot/live/deletions.py), the story
reach (a story joined by similarity only through its posts of its first 8 h) and the
Telegram links on other hosts and tg:// (bot/post.py TG_LINK, cut_link; the rules' channels)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.match.matcher import Matcher
from bot.match.rules import parse_rules_text
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .test_live import NEUTRAL, SHOT, channels, running
from .test_story_reach import RATES, rates


def _stories(db: Path, posts: list[Post]) -> list[int]:
    """The story of each post, processed as pushed (not in order), in one run on `db`."""
    with Pipeline(Store(db), Matcher([])) as pipe:
        return [p.story_id for p in pipe.process(posts, in_order=False)]  # type: ignore[misc]


def test_an_earlier_post_read_late_takes_the_reach_from_the_story_s_new_first_post(tmp_path: Path) -> None:
    """A story began by its 6 h post, joined by the 12 h one (filed: 6 h after that start); then the
    0 h post arrives (a polled channel, a file read after another) and joins, so the story's first
    post is at 0 h and the 12 h post lies 12 h after it, past the reach. The 18 h post, close only to
    the 12 h one, still joins in one run (it chains past the reach), but not after a restart just
    before it (the 12 h post comes back unfiled): the same posts fold two ways."""
    p = rates()
    order = [p[2], p[3], p[0], p[4]]
    assert [RATES[i][0] for i in (2, 3, 0, 4)] == [6, 12, 0, 18]
    whole = _stories(tmp_path / "whole.db", order)
    assert whole[0] == whole[1] == whole[2]  # (the 0 h post joins the story of the 6 h and 12 h ones)
    db = tmp_path / "split.db"
    parts = _stories(db, order[:3]) + _stories(db, order[3:])
    assert parts == whole, "a restart folds the 18 h post apart from what one run does"
    assert whole[3] != whole[0], "the 18 h post joined through a post 12 h after its story's first"


def test_a_rule_channel_given_as_a_tg_resolve_link_is_read_or_refused() -> None:
    """tg://resolve?domain=NAME is the apps' own link to @NAME (post.py names it a username, and the
    config refuses it with an error); in a rule's channels it was taken as a channel title
    «tg://resolve?domain=mash» that no channel has: the rule silently watches nothing."""
    rules = parse_rules_text('[[rule]]\nname = "r"\nquery = "взрыв"\nchannels = ["tg://resolve?domain=Mash"]\n',
                             "rules.toml")
    assert rules.errors or [r.channels for r in rules.rules] == [("mash",)]


def test_a_deletion_marked_while_a_pushed_post_waited_stands_when_that_post_is_stored_later(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """A post pushed before its deletion was marked (it waited for a batch under way) then cannot be
    stored (another program holds the write lock): it is kept, to be stored later. Its read ends when
    the store fails, before the post is kept (`_kept_seen` set after `_reading` exits), so the mark
    made while it waited is forgotten, and storing the kept post later un-deletes a post its channel
    deleted. Before the marks were forgotten the mark stood."""
    async def go() -> tuple[str | None, str | None]:
        channels(fake)
        async with running(fake, tmp_path, busy_timeout=0.05) as service:
            ingest, store = service.ingest, service.store
            mid = fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: store.count("posts") == 1)
            date = datetime.fromisoformat(store.db.execute("SELECT date FROM posts WHERE message_id = ?", [mid]).fetchone()[0])
            edited = Post(SHOT, mid, date, NEUTRAL + ", ветер северный", edit_date=date)
            other = sqlite3.connect(tmp_path / "tgwatch.db", isolation_level=None)
            match = ingest._match

            async def matching(posts: Any) -> Any:  # another program takes the write lock meanwhile
                other.execute("BEGIN IMMEDIATE")
                return await match(posts)
            ingest._match = matching  # type: ignore[method-assign]
            async with ingest._lock:  # a batch under way: the deletion, then the push, wait for it
                deletion = asyncio.create_task(ingest._mark_deleted(SHOT, [mid], "2026-01-01T00:00:00+00:00", "test"))
                await asyncio.sleep(0)
                push = asyncio.create_task(ingest._push(edited))  # pushed before the deletion is marked
                await asyncio.sleep(0)
            assert await deletion == 1
            try:
                await push
            except sqlite3.OperationalError:
                pass  # the store cannot take it: kept
            ingest._match = match  # type: ignore[method-assign]
            marked = store.deleted_at(SHOT, mid)
            other.execute("ROLLBACK")
            other.close()
            await ingest._store_unstored()
            return marked, store.deleted_at(SHOT, mid)
    marked, after = asyncio.run(go())
    assert marked is not None
    assert after is not None, "the channel deleted the post after the version pushed: it is no longer marked deleted"
