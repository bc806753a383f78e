"""Posts as rows: what is stored of each (to tell a new version from a repeat or an older copy) and
their writes, one post or a batch in one statement."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, NamedTuple

import sqlite_utils

from ..post import Entity, Post, content_hash
from ..text import search_reading
from .dates import iso
from .schema import ROWID_FLOOR

__all__ = ["Known", "Posts", "entities_json", "older_than_stored"]


class Known(NamedTuple):
    """What the store holds of a post: enough to tell a new version from a repeat or an older one."""

    text_hash: str
    story_id: int
    edit_date: str | None  # ISO, UTC (`iso`)
    has_text: bool
    plain_hash: str | None = None  # `content_hash` of the text alone, when links behind its words count in `text_hash`


def older_than_stored(post: Post, known: Known) -> bool:
    """Is `post` an older or lesser version of the stored one, to be ignored rather than stored?

    Older: the store has a later edit than the post says (an export made before the last edit).
    Lesser: the post has lost its text without a later edit to explain it (a line without its
    text field, a partial export); a real edit that empties a caption has a later edit date. Or
    it has the stored text without the links behind its words and without entities at all (a
    JSON Lines copy that leaves `entities` out): replayed in turn with the export, it would
    take the links away and put them back every time.
    """
    edited = iso(post.edit_date)
    if known.edit_date is not None and (edited is None or edited < known.edit_date):
        return True
    newer = edited is not None and (known.edit_date is None or edited > known.edit_date)
    if not newer and not post.entities and known.plain_hash is not None and post.text_hash == known.plain_hash:
        return True
    return not post.text and known.has_text and not newer


_JSON_STR = json.encoder.encode_basestring  # the C function `json.dumps` quotes a string with


def entities_json(entities: Sequence[Entity]) -> str:
    """`json.dumps(..., ensure_ascii=False)` of [[type, offset, length, url], ...], the stored form of a
    post's entities, in 60 % of its time (most posts have some: the encoder's lists cost a replay of
    the corpus 0.15 s)."""
    return "[" + ", ".join([f"[{_JSON_STR(e.type)}, {e.offset}, {e.length}, "
                            f"{'null' if e.url is None else _JSON_STR(e.url)}]" for e in entities]) + "]"


class Posts:
    """`Store`'s post rows: `known_hashes`, `post_row`, `write_new_posts`, `write_post`,
    `count_stored_after` and `album_first` (a mixin: it works on the state `Store.__init__` sets)."""

    db: sqlite_utils.Database
    posts_written: int

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Store` has them all
        def _flush_stories(self) -> None: ...
        def _search_high_water(self) -> int: ...
        def _stale(self, rowid: int) -> None: ...

    def known_hashes(self, keys: Sequence[tuple[int, int]],
                     plain: Collection[tuple[int, int]] = ()) -> dict[tuple[int, int], Known]:
        """(channel, message) -> what is stored of it (`Known`), for the keys already stored; for
        the keys in `plain` (posts that come without entities), `Known.plain_hash` too."""
        out: dict[tuple[int, int], Known] = {}
        by_channel: dict[int, list[int]] = {}
        for c, m in keys:
            by_channel.setdefault(c, []).append(m)
        linked: list[tuple[int, int]] = []  # asked for in `plain`, stored with entities
        for c, ids in by_channel.items():
            for i in range(0, len(ids), 900):
                chunk = ids[i:i + 900]
                q = ("SELECT message_id, text_hash, story_id, edit_date, text != '', entities IS NOT NULL AND entities != '' "
                     f"FROM posts WHERE channel_id = ? AND message_id IN ({','.join('?' * len(chunk))})")
                for mid, h, sid, edited, has_text, has_entities in self.db.execute(q, [c, *chunk]):
                    out[(c, mid)] = Known(h, sid, edited, bool(has_text))
                    if has_entities and (c, mid) in plain:
                        linked.append((c, mid))
        for c, mid in linked:  # rare: the text itself is read only for these
            text = self.db.execute("SELECT coalesce(text, '') FROM posts WHERE channel_id = ? AND message_id = ?",
                                   [c, mid]).fetchone()[0]
            if (h := content_hash(text)) != out[(c, mid)].text_hash:
                out[(c, mid)] = out[(c, mid)]._replace(plain_hash=h)
        return out

    def count_stored_after(self, after: int, upto: int) -> int:
        """How many posts were stored after rowid `after`, up to rowid `upto`: what a rule that has
        matched the store up to `after` has still to match (`bot.rematch`)."""
        return int(self.db.execute("SELECT count(*) FROM posts WHERE rowid > ? AND rowid <= ?", [after, upto]).fetchone()[0])

    # A new post's rowid: SQLite's own (the newest + 1) unless retention pruned the newest posts, then
    # the one above every rowid ever used (`ROWID_FLOOR`); posts has no AUTOINCREMENT.
    _ABOVE_FLOOR = (f"SELECT CAST(value AS INTEGER) + 1 FROM meta WHERE key = '{ROWID_FLOOR}' "
                    "AND CAST(value AS INTEGER) > coalesce((SELECT max(rowid) FROM posts), 0)")  # no row: SQLite's own is above
    _POST_COLUMNS = ("channel_id, message_id, date, edit_date, text, text_hash, entities, link, forward_channel_id, "
                     "forward_post_id, forward_name, grouped_id, media, story_id, first_seen, updated_at, folded")
    _UPSERT = (
        " ON CONFLICT(channel_id, message_id) DO UPDATE SET "
        "edit_date = excluded.edit_date, text = excluded.text, text_hash = excluded.text_hash, folded = excluded.folded, "
        # deleted_at stays: a copy (a replayed export) proves nothing about the post now; only Telegram
        # showing the post does, which the live service records with `unmark_deleted`
        "entities = excluded.entities, media = coalesce(excluded.media, media), updated_at = excluded.updated_at")
    _POST_SQL = f"INSERT INTO posts (rowid, {_POST_COLUMNS}) VALUES (({_ABOVE_FLOOR}),{','.join('?' * 17)}){_UPSERT}"
    # Once a post is stored above the floor, the next ones follow it as SQLite's own: `write_new_posts`
    # asks once per batch, not once per row (a tenth of the CPU of inserting the corpus's posts, 0.03 s).
    _NEXT_POST_SQL = f"INSERT INTO posts ({_POST_COLUMNS}) VALUES ({','.join('?' * 17)}){_UPSERT}"

    @staticmethod
    def post_row(post: Post, story_id: int, now: str, folded: str | None | bool = True) -> tuple[object, ...]:
        """The posts-table row of a post (for `write_post` and `write_new_posts`). `folded`: the
        post's `search_reading` when already computed (None: it has none), True to compute it here."""
        entities = entities_json(post.entities) if post.entities else None
        if folded is True:
            folded = search_reading(post.text, [url for *_, url in post.links])
        return (post.channel_id, post.message_id, iso(post.date), iso(post.edit_date), post.text, post.text_hash,
                entities, post.link, post.forward_channel_id, post.forward_post_id, post.forward_name, post.grouped_id,
                post.media, story_id, now, now, folded or None)

    def write_new_posts(self, rows: Sequence[tuple[object, ...]]) -> None:
        """Insert posts not stored before in one statement (`post_row` rows); the search index
        picks them up at the next `sync_search`."""
        self._flush_stories()  # the posts refer to their stories
        first = 0
        while first < len(rows) and self.db.conn.execute(self._ABOVE_FLOOR).fetchone() is not None:  # (after a prune)
            self.db.conn.execute(self._POST_SQL, rows[first])
            first += 1
        self.db.conn.executemany(self._NEXT_POST_SQL, rows[first:])
        self.posts_written += len(rows)

    def write_post(self, post: Post, story_id: int, *, now: str, edited: bool = False,
                   batch_after: int | None = None) -> None:
        """Insert or update one post; an edited post already in the search index is re-indexed by the
        next `sync_search` (`SearchIndex._stale`). `batch_after`: the newest posts rowid before this batch (None:
        unknown): an edit of a post stored up to it is marked a later batch's (`posts.edited_after`)."""
        old = None
        if edited:
            old = self.db.execute("SELECT rowid FROM posts WHERE channel_id = ? AND message_id = ?",
                                  [post.channel_id, post.message_id]).fetchone()
            if old and old[0] <= self._search_high_water():
                self._stale(old[0])
        self._flush_stories()
        self.db.conn.execute(self._POST_SQL, self.post_row(post, story_id, now))
        self.posts_written += 1
        if old and (batch_after is None or old[0] <= batch_after):  # (a post of this batch: its edit is filed as counted)
            self.db.execute("UPDATE posts SET edited_after = ? WHERE rowid = ?",
                            [old[0] if batch_after is None else batch_after, old[0]])

    def album_first(self, channel_id: int, grouped_id: int) -> int | None:
        """The message id under which an album of the channel is stored, if it is."""
        row = self.db.execute("SELECT min(message_id) FROM posts WHERE channel_id = ? AND grouped_id = ?",
                              [channel_id, grouped_id]).fetchone()
        return row[0] if row else None
