"""Small counts the faces show beside a list: posts each rule matched since a date, and how many
posts a story had, has kept and from how many channels (the lists themselves: `read`)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import NamedTuple

from .db import Store, iso

__all__ = ["Stored", "StoryCounts", "StorySpan", "Window", "last_stored", "posts_stored_since", "rule_hits", "story_counts",
           "story_span"]


def rule_hits(store: Store, since: datetime, until: datetime | None = None) -> dict[str, int]:
    """rule -> posts it currently matches dated `since` or later (up to `until`, included); a rule
    with none is absent. The posts are found by their date (CROSS JOIN keeps that order): matched
    posts are kept for good, so the matches table holds a year's where a week's are asked for."""
    dates, args = ("p.date >= ?", [iso(since)]) if until is None else ("p.date >= ? AND p.date <= ?", [iso(since), iso(until)])
    rows = store.db.execute(
        "SELECT m.rule, count(*) FROM posts p CROSS JOIN matches m ON m.channel_id = p.channel_id AND m.message_id = p.message_id "
        f"WHERE m.current = 1 AND {dates} GROUP BY m.rule", args)
    return {str(rule): int(n) for rule, n in rows}


class StoryCounts(NamedTuple):
    """A story's size as its row records it, and the posts (and their channels) still stored:
    retention prunes the posts that matched nothing, so `kept` may be fewer than the story had."""

    size: int | None  # the story row's count of every post it had; None when there is no such row
    kept: int  # its posts still stored
    channels: int  # the channels of those posts

    @property
    def had(self) -> int:
        """How many posts the story had, as /stories and alerts count them."""
        return self.kept if self.size is None else max(self.size, self.kept)


def story_counts(store: Store, story_id: int) -> StoryCounts:
    """`StoryCounts` of a story (all zero, size None, when there is no such story)."""
    kept, channels = store.db.execute("SELECT count(*), count(DISTINCT channel_id) FROM posts WHERE story_id = ?",
                                      [story_id]).fetchone()
    row = store.db.execute("SELECT size FROM stories WHERE id = ?", [story_id]).fetchone()
    return StoryCounts(None if row is None else int(row[0] or 0), int(kept), int(channels))


class StorySpan(NamedTuple):
    """When a story's posts were dated, first and last (ISO), and from how many channels."""

    first: str
    last: str
    channels: int


def story_span(store: Store, story_id: int) -> StorySpan | None:
    """`StorySpan` of a story's kept posts; when retention pruned every one, as its row recorded
    them (`stories` lists such a story: `story` opens it). None when there is no such story."""
    first, last, channels = store.db.execute(
        "SELECT min(date), max(date), count(DISTINCT channel_id) FROM posts WHERE story_id = ?", [story_id]).fetchone()
    if channels:
        return StorySpan(str(first or ""), str(last or ""), int(channels))
    row = store.db.execute("SELECT first_date, last_date, channels FROM stories WHERE id = ? AND size > 0",
                           [story_id]).fetchone()
    return None if row is None else StorySpan(row[0] or "", row[1] or row[0] or "", len(json.loads(row[2] or "[]")))


def last_stored(store: Store) -> str | None:
    """When the store last took a new post (ISO, UTC); None for an empty store."""
    row = store.db.execute("SELECT max(first_seen) FROM posts").fetchone()
    return None if row[0] is None else str(row[0])


class Stored(NamedTuple):
    """Posts stored in a span (`posts_stored_since`): how many, of how many channels, and how many
    of them a rule matches that are dated before a cut-off (their alerts muted: old news)."""

    posts: int
    channels: int
    old_matched: int


class Window(NamedTuple):
    """Posts of `channel_ids` stored after row `after_rowid`, dated up to `until` (ISO, included);
    those dated before `old_before` are old (`posts_stored_since`)."""

    after_rowid: int
    until: str
    old_before: str
    channel_ids: Collection[int]


def _in(window: Window, op: str, bound: str) -> tuple[str, list[object]]:
    """SQL (and its parameters) for the posts of `window` whose date is `op` `bound`."""
    ids = sorted(window.channel_ids)
    return (f"(rowid > ? AND date {op} ? AND channel_id IN ({','.join('?' * len(ids))}))",
            [window.after_rowid, bound, *ids])


def posts_stored_since(store: Store, since: str, windows: Iterable[Window]) -> Stored:
    """The posts dated from `since` (ISO) in any of `windows` (each counted once); `old_matched`
    counts those a rule matches dated before their window's `old_before`."""
    ws = [w for w in windows if w.channel_ids]
    if not ws:
        return Stored(0, 0, 0)
    stored, old = [_in(w, "<=", w.until) for w in ws], [_in(w, "<", w.old_before) for w in ws]
    n, m, k = store.db.execute(
        f"SELECT count(*), count(DISTINCT channel_id), coalesce(sum(({' OR '.join(q for q, _ in old)}) AND EXISTS "
        f"(SELECT 1 FROM matches m WHERE m.channel_id = posts.channel_id AND m.message_id = posts.message_id "
        f"AND m.current = 1)), 0) FROM posts WHERE date >= ? AND ({' OR '.join(q for q, _ in stored)})",
        [*(a for _, args in old for a in args), since, *(a for _, args in stored for a in args)]).fetchone()
    return Stored(int(n), int(m), int(k))
