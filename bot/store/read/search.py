"""Full-text search over the stored posts: the hits, best first, and how many there are; a damaged
search index is rebuilt and the search asked again, so a damaged index never reads as «nothing found»."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Iterator, TypeVar

from ..db import Store
from .ftsquery import FtsQuery, _quote
from .links import shown_link
from .querybuild import fts_query
from .querytext import SearchError
from .resolve import _channel_ids
from .storedposts import _post_filters

__all__ = ["IN_LINKS", "SearchHit", "count_search", "search_posts"]

log = logging.getLogger("bot.store.read")  # the readers log under one name, as one job

T = TypeVar("T")


@dataclass(frozen=True)
class SearchHit:
    """One post found by `search_posts`, best first."""

    channel_id: int
    channel_title: str
    username: str
    message_id: int
    link: str
    date: str
    text: str
    score: float
    spans: tuple[tuple[int, int], ...]
    deleted_at: str = ""  # when tgwatch learnt the channel deleted it (ISO, UTC), else ""

    @property
    def in_links_only(self) -> bool:
        """Found by words of the post's links alone (a link's address is indexed, never highlighted):
        its text shows none of them, so the reader is told where they are."""
        return not self.spans


IN_LINKS = "found in a link of the post: links are searched, not highlighted"


def _stored_word(store: Store) -> Callable[[str], int]:
    """How many stored posts have the word, a whole word of the search index. Every post, not the
    channels or period searched (counting those costs 1-25 ms a word, but misleads): what a word is,
    «BBC» the broadcaster or «CBO» a disguise, the store as a whole tells; in one channel, «ВВС» (the
    air force) outnumbers «BBC» when it never names the broadcaster."""
    return lambda word: int(store.db.execute("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH ?",
                                             [_quote(word)]).fetchone()[0])


def _over_index(store: Store, run: Callable[[], T], repaired: Callable[[str], None] | None) -> T:
    """`run()`, which reads the search index. When SQLite finds the index damaged (SQLITE_CORRUPT_VTAB:
    the virtual table's data, not the file's pages), it is rebuilt from the posts (`Store.repair_search_index`:
    `repaired`, else the log, is told so in one line naming the store), and `run` asked once more. A
    damaged file fails as before."""
    try:
        return run()
    except sqlite3.DatabaseError as e:
        if getattr(e, "sqlite_errorcode", None) != sqlite3.SQLITE_CORRUPT_VTAB:
            raise
        store.repair_search_index(e, repaired)
    return run()


def _index_sound(store: Store, repaired: Callable[[str], None] | None) -> bool:
    """Asked before a search says «nothing found»: FTS5 reads some damage to its index as «no such
    word», not as an error. Its integrity-check (0.2 s on 22k posts) tells; a damaged index is
    rebuilt (as `_over_index` does) and False returned, so the search is asked again."""
    try:
        store.db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')")
        return True
    except sqlite3.OperationalError:  # locked by a writer: the answer stands as read
        return True
    except sqlite3.DatabaseError as e:
        store.repair_search_index(e, repaired)
        return False


def search_posts(store: Store, text: str, limit: int = 20, *, forms: bool = True, channels: Iterable[str | int] = (),
                 since: datetime | None = None, until: datetime | None = None,
                 repaired: Callable[[str], None] | None = None) -> Iterator[SearchHit]:
    """Posts whose text has every word of `text` (as a prefix or an inflected form), by bm25;
    optionally only of `channels`, `since` <= date < `until`. A damaged index is rebuilt first
    (`_over_index`: `repaired` is told)."""
    where, args = _post_filters("p", channel_ids=_channel_ids(store, channels), since=since, until=until,
                                after_match=True)

    def start() -> tuple[FtsQuery, sqlite3.Cursor]:
        store.sync_search(told=repaired)
        q = fts_query(text, forms=forms, stored=_stored_word(store))
        log.debug("fts query: %s", q.expression)
        sql = (
            "SELECT p.channel_id, c.title, c.username, p.message_id, p.link, p.date, p.text, bm25(posts_fts) AS score, "
            "p.deleted_at FROM posts_fts JOIN posts p ON p.rowid = posts_fts.rowid LEFT JOIN channels c ON c.id = p.channel_id "
            "WHERE " + " AND ".join(["posts_fts MATCH ?", *where]) + " ORDER BY score, p.date DESC"
            + ("" if q.sifted else " LIMIT ?")  # a widened phrase's posts are checked here: no limit in SQL
        )
        try:  # (ordered by score: SQLite reads every post found before the first row, here)
            return q, store.db.execute(sql, [q.expression, *args, *([] if q.sifted else [max(0, int(limit))])])
        except sqlite3.OperationalError as e:  # an FTS5 corner we did not foresee
            raise SearchError(f"search failed: {e}") from None

    q, cur = _over_index(store, start, repaired)
    n = 0
    for cid, title, username, mid, link, date, body, score, deleted in cur:
        body = body or ""
        if not q.matches(body):
            continue
        if n >= limit:
            return
        n += 1
        yield SearchHit(cid, title or str(cid), username or "", mid, shown_link(cid, mid, username, link),
                        date or "", body, float(score), tuple(q.spans(body)), deleted or "")
    if not n and limit > 0 and not _index_sound(store, repaired):
        yield from search_posts(store, text, limit, forms=forms, channels=channels, since=since, until=until, repaired=repaired)


def count_search(store: Store, text: str, *, forms: bool = True, channels: Iterable[str | int] = (),
                 since: datetime | None = None, until: datetime | None = None,
                 repaired: Callable[[str], None] | None = None) -> int:
    """How many posts `search_posts` finds with no limit: one count over the same FTS query."""
    where, args = _post_filters("p", channel_ids=_channel_ids(store, channels), since=since, until=until,
                                after_match=True)

    def count() -> int:
        store.sync_search(told=repaired)
        q = fts_query(text, forms=forms, stored=_stored_word(store))
        what = "p.text" if q.sifted else "count(*)"  # a widened phrase: each post found is checked
        sql = (f"SELECT {what} FROM posts_fts JOIN posts p ON p.rowid = posts_fts.rowid WHERE "
               + " AND ".join(["posts_fts MATCH ?", *where]))
        try:
            cur = store.db.execute(sql, [q.expression, *args])
            return sum(1 for (text,) in cur if q.matches(text or "")) if q.sifted else int(cur.fetchone()[0])
        except sqlite3.OperationalError as e:
            raise SearchError(f"search failed: {e}") from None

    n = _over_index(store, count, repaired)
    return n if n or _index_sound(store, repaired) else _over_index(store, count, repaired)
