"""Small counts the faces show beside a list: posts each rule matched since a date, and how many
posts a story had, has kept and from how many channels (the lists themselves: `read`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from .db import Store, iso

__all__ = ["Stored", "StoryCounts", "last_stored", "posts_stored_since", "rule_hits", "story_counts"]


def rule_hits(store: Store, since: datetime) -> dict[str, int]:
    """rule -> posts it currently matches dated `since` or later (a rule with none is absent)."""
    rows = store.db.execute(
        "SELECT m.rule, count(*) FROM matches m JOIN posts p ON p.channel_id = m.channel_id AND p.message_id = m.message_id "
        "WHERE m.current = 1 AND p.date >= ? GROUP BY m.rule", [iso(since)])
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


def posts_stored_since(store: Store, after_rowid: int, since: str, until: str, channel_ids: Iterable[int],
                       old_before: str = "") -> Stored:
    """The posts of `channel_ids` stored after row `after_rowid` and dated from `since` to `until`
    (ISO, both included); `old_matched` counts those a rule matches dated before `old_before`."""
    ids = sorted(channel_ids)
    if not ids:
        return Stored(0, 0, 0)
    n, m, old = store.db.execute(
        f"SELECT count(*), count(DISTINCT channel_id), coalesce(sum(date < ? AND EXISTS (SELECT 1 FROM matches m "
        f"WHERE m.channel_id = posts.channel_id AND m.message_id = posts.message_id AND m.current = 1)), 0) "
        f"FROM posts WHERE rowid > ? AND date >= ? AND date <= ? AND channel_id IN ({','.join('?' * len(ids))})",
        [old_before, after_rowid, since, until, *ids]).fetchone()
    return Stored(int(n), int(m), int(old))
