"""Stories as rows: a new story, a post joining one, a lone post moved to another, and what a
story holds; the rows are written once per transaction, not once per post."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlite_utils

from ..post import Post
from .dates import iso

__all__ = ["Stories"]


def _id_list(ids: list[int]) -> str:
    """`json.dumps` of a list of ints, at a quarter of its cost (a story row's channels, written per story and batch)."""
    return f"[{', '.join(map(str, ids))}]"


class Stories:
    """`Store`'s story rows, kept in memory within a transaction and written before COMMIT (a
    mixin: it works on the state `Store.__init__` sets)."""

    db: sqlite_utils.Database
    _stories: dict[int, list[Any]]
    _next_story: int | None

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Store` has them all
        @contextmanager
        def transaction(self) -> Iterator[None]: ...

    # Story rows change with nearly every post: inside a transaction they are kept here and
    # written in one statement before any post refers to them and before COMMIT (`_flush_stories`).
    _STORY_SQL = (
        "INSERT INTO stories (id, first_channel_id, first_message_id, first_date, last_date, size, channels) "
        "VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET first_channel_id = excluded.first_channel_id, "
        "first_message_id = excluded.first_message_id, first_date = excluded.first_date, "
        "last_date = excluded.last_date, size = excluded.size, channels = excluded.channels")

    def new_story(self, post: Post) -> int:
        """A new story whose only post is `post`; returns its id."""
        if not self.db.conn.in_transaction:  # the id and the row in one transaction
            with self.transaction():
                return self.new_story(post)
        if self._next_story is None:
            self._next_story = (self.db.conn.execute("SELECT max(id) FROM stories").fetchone()[0] or 0) + 1
        story_id = self._next_story
        self._next_story += 1
        d = iso(post.date)
        self._stories[story_id] = [post.channel_id, post.message_id, d, d, 1, [post.channel_id]]
        return story_id

    def join_story(self, story_id: int, post: Post) -> None:
        """Count one more post in a story: size, channels, last date (and first post when earlier)."""
        if not self.db.conn.in_transaction:
            with self.transaction():
                return self.join_story(story_id, post)
        row = self._stories.get(story_id)
        if row is None:
            got = self.db.conn.execute("SELECT first_channel_id, first_message_id, first_date, last_date, size, channels "
                                       "FROM stories WHERE id = ?", [story_id]).fetchone()
            if got is None:
                return
            row = self._stories[story_id] = [*got[:4], got[4] or 0, json.loads(got[5] or "[]")]
        d = iso(post.date)
        first = row[2] is None or d < row[2]
        if first:
            row[0], row[1], row[2] = post.channel_id, post.message_id, d
        if row[3] is None or d > row[3]:
            row[3] = d
        row[4] += 1
        if first:  # the channels in the order they reported: an earlier post read later leads them
            row[5] = [post.channel_id, *(c for c in row[5] if c != post.channel_id)]
        elif post.channel_id not in row[5]:
            row[5].append(post.channel_id)

    def lone_story(self, story_id: int) -> bool:
        """The story holds one post and no alert: its post, edited, may fold into another story."""
        row = self._stories.get(story_id)
        size = row[4] if row is not None else next(iter(
            self.db.conn.execute("SELECT size FROM stories WHERE id = ?", [story_id]).fetchone() or [None]))
        return size == 1 and self.db.conn.execute(
            "SELECT 1 FROM alerts WHERE story_id = ? LIMIT 1", [story_id]).fetchone() is None

    def move_to_story(self, post: Post, lone: int, story_id: int) -> None:
        """Move a stored post out of its lone story (`lone_story`) into another. The lone story is
        left empty, not deleted: its id is never given to another story, and a process that still
        holds the post in its story index (a replay beside the live service) can file a post there."""
        self.join_story(story_id, post)
        self._flush_stories()  # both stories' rows exist before the post points at either
        self.db.conn.execute("UPDATE posts SET story_id = ? WHERE channel_id = ? AND message_id = ?",
                             [story_id, post.channel_id, post.message_id])
        self.db.conn.execute("UPDATE stories SET first_channel_id = NULL, first_message_id = NULL, first_date = NULL, "
                             "last_date = NULL, size = 0, channels = '[]' WHERE id = ?", [lone])

    def _flush_stories(self) -> None:
        try:
            if self._stories:
                self.db.conn.executemany(self._STORY_SQL, [(i, *r[:5], _id_list(r[5])) for i, r in self._stories.items()])
        finally:
            self._stories.clear()
            self._next_story = None  # another process may add stories once this transaction ends

    def story_first_date(self, story_id: int) -> str | None:
        """The date (ISO) of a story's first post, None for an unknown or emptied story."""
        row = self._stories.get(story_id)  # (a story this transaction touched: its row is here)
        if row is not None:
            return row[2]
        got = self.db.conn.execute("SELECT first_date FROM stories WHERE id = ?", [story_id]).fetchone()
        return got[0] if got else None

    def story_of(self, channel_id: int, message_id: int) -> int | None:
        """The story of a stored post, None when it is not stored."""
        row = self.db.execute("SELECT story_id FROM posts WHERE channel_id = ? AND message_id = ?",
                              [channel_id, message_id]).fetchone()
        return row[0] if row else None

    def forwards_story(self, channel_id: int, message_id: int) -> int | None:
        """The story of the stored posts that forward a post; of several stories (stored apart), one
        that alerted, else the earliest forward's. None when no stored post forwards it."""
        row = self.db.execute(
            "SELECT p.story_id FROM posts p WHERE p.forward_channel_id = ? AND p.forward_post_id = ? AND p.story_id IS NOT NULL "
            "ORDER BY EXISTS (SELECT 1 FROM alerts a WHERE a.story_id = p.story_id) DESC, p.date, p.rowid LIMIT 1",
            [channel_id, message_id]).fetchone()
        return row[0] if row else None

    def story_posts(self, story_id: int, limit: int = 200) -> list[dict[str, object]]:
        """A story's posts, oldest first, with their channel titles and usernames."""
        return list(self.db.query(
            "SELECT p.channel_id, p.message_id, p.date, p.link, coalesce(nullif(c.title, ''), p.channel_id) AS title, "
            "c.username, p.deleted_at "
            "FROM posts p LEFT JOIN channels c ON c.id = p.channel_id WHERE p.story_id = ? "
            "ORDER BY p.date, p.channel_id, p.message_id LIMIT ?", [story_id, limit]))
