"""What the story index (`bot.story.index`) reads of the store: posts in the order they were stored,
the posts they forward, and the word counts it saves so a restart ranks words as before."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

import msgspec
import sqlite_utils

__all__ = ["StoryFeed"]

# A post row's story's first date (the story index files only a story's early posts for near joins)
_STORY_FIRST = "(SELECT s.first_date FROM stories s WHERE s.id = posts.story_id) AS story_first"


class StoryFeed:
    """`Store`'s reads for the story index (a mixin: it works on the connection `Store.__init__` opens)."""

    db: sqlite_utils.Database

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Store` has them all
        def get_meta(self, key: str) -> str | None: ...
        def set_meta(self, key: str, value: str) -> None: ...

    def forwarded_posts(self) -> set[tuple[int, int]]:
        """(channel id, post id) of every post some stored post forwards, stored or not."""
        return {(int(c), int(m)) for c, m in self.db.conn.execute(
            "SELECT DISTINCT forward_channel_id, forward_post_id FROM posts "
            "WHERE forward_channel_id IS NOT NULL AND forward_post_id IS NOT NULL")}

    def posts_since(self, since: str, until: str | None = None, *,
                    after: int | None = None) -> Iterator[dict[str, object]]:
        """Stored posts dated at or after `since` (and before `until`; ISO, UTC), and with `after`
        every post stored after that rowid whatever its date, in the order they were stored (as a
        run that never stopped met them): what the story index needs. Rows carry their `rowid`, and
        their story's first date (`story_first`), and whether a later batch edited them (`edited`)."""
        cols = (f"SELECT rowid, channel_id, message_id, date, text, story_id, {_STORY_FIRST}, "
                "edited_after IS NOT NULL AS edited FROM posts")
        # The window is found by the date index and sorted apart (`+rowid`): an `OR` on the bounds,
        # or a plain ORDER BY / bound on rowid, has the planner SCAN the whole table instead.
        window = f"{cols} WHERE date >= :since" + ("" if until is None else " AND date < :until")
        params = {"since": since, "until": until, "after": after}
        if after is None:
            return self.db.query(f"{window} ORDER BY +rowid", params)
        return itertools.chain(self.db.query(f"{window} AND +rowid <= :after ORDER BY +rowid", params),
                               self.db.query(f"{cols} WHERE rowid > :after ORDER BY rowid", params))

    def older_stored_between(self, after: int, upto: int, before: str) -> Iterator[dict[str, object]]:
        """Posts dated before `before` (ISO, UTC) stored after rowid `after` up to `upto` (rowid, text):
        what the story index counted after a post of its window, though the window holds none of them."""
        return self.db.query("SELECT rowid, text FROM posts WHERE rowid > ? AND rowid <= ? AND date < ? ORDER BY rowid",
                             [after, upto, before])

    def newest_post(self) -> int:
        """The rowid of the newest stored post (0: none)."""
        return int(self.db.execute("SELECT max(rowid) FROM posts").fetchone()[0] or 0)

    def posts_after(self, rowid: int) -> Iterator[dict[str, object]]:
        """Posts stored after rowid `rowid`, in the order they were stored, with what they forward:
        what the story index has not seen of another connection's writes (and their story's first date)."""
        return self.db.query("SELECT rowid, channel_id, message_id, date, text, story_id, forward_channel_id, "
                             f"forward_post_id, {_STORY_FIRST} FROM posts WHERE rowid > ? ORDER BY rowid", [rowid])

    def story_words(self) -> tuple[int, dict[str, int], int] | None:
        """The story index's saved word counts: (posts counted, word -> posts, the last posts rowid
        they cover); None when there are none or they are unreadable (they are counted again)."""
        value = self.get_meta("story_words")
        if value is None:
            return None
        try:
            docs, through, counts = json.loads(value)
            return (int(docs), counts, int(through)) if isinstance(counts, dict) else None
        except (ValueError, TypeError):
            return None

    def save_story_words(self, docs: int, counts: dict[str, int]) -> None:
        """Save the story index's word counts as covering every post stored so far (in this
        transaction), so a restart ranks words as a run that never stopped would."""
        through = self.db.execute("SELECT max(rowid) FROM posts").fetchone()[0] or 0
        # json.dumps(..., ensure_ascii=False, separators=(",", ":")) writes the same text in 8 times
        # the time (the corpus's 47k words: 13 ms a save)
        self.set_meta("story_words", msgspec.json.encode([docs, through, counts]).decode())
