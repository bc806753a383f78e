"""Streaming read queries over the store: export rows, stored posts, full-text search.

Every function iterates an SQLite cursor row by row (never `fetchall`), so memory stays
constant however large the store is. Dates are compared as the ISO 8601 UTC strings the store
writes (`2024-11-20T09:04:00+00:00`).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, TypeVar

from ...match.explain import matched_words
from ..db import Store
from .links import _forward_origin, shown_link
from .storedposts import StoredPost, _post_filters, count_posts, iter_posts, stored_post, story_stored_posts
from .storedrange import OutsideStored, outside_stored, stored_range
from .storylist import StoryRow, count_stories, iter_stories, top_stories
from .storydetail import StoryPost, iter_story_posts, story_detail
from .ftsquery import FtsQuery, _quote
from .querytext import SearchError
from .querybuild import fts_query
from .resolve import AmbiguousChannel, _channel_ids, channel_names, resolve_channels, resolve_rules, rule_names

__all__ = [
    "EXPORT_FIELDS", "IN_LINKS", "AmbiguousChannel", "FtsQuery", "SearchError", "SearchHit", "StoredPost", "StoryPost", "StoryRow", "channel_names",
    "count_posts", "count_stories", "fts_query", "iter_export_rows", "iter_posts", "resolve_channels", "resolve_rules", "rule_names",
    "search_posts", "count_search", "shown_link", "stored_post", "story_stored_posts",
    "OutsideStored", "outside_stored", "iter_stories", "iter_story_posts", "story_detail", "stored_range", "top_stories",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

EXPORT_FIELDS: tuple[str, ...] = (
    "channel_id", "channel_title", "username", "message_id", "link", "date", "edited", "text",
    "rules", "terms", "matched", "story_id", "story_size", "story_first", "forward_origin", "deleted_at",
)


# -- full-text search -----------------------------------------------------------------------------


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


# -- export -------------------------------------------------------------------------------------


def iter_export_rows(store: Store, *, rules: Iterable[str] = (), channels: Iterable[str | int] = (),
                     since: datetime | None = None, until: datetime | None = None, search: str | None = None,
                     all_posts: bool = False, repaired: Callable[[str], None] | None = None) -> Iterator[dict[str, Any]]:
    """One dict per post (keys: `EXPORT_FIELDS`), oldest first; a field with no value (no username,
    never edited, not deleted, not a forward) is None.

    Only posts with a current match, unless `all_posts`; with `rules`, only posts currently
    matched by one of them (the `rules` column still lists every rule the post matches).
    `channels` takes usernames (@ optional), bare or marked ids; `since` <= date < `until`;
    `search` keeps the posts `search_posts` would find (a damaged index is rebuilt first: `repaired`
    is told, as there). Unknown rules or channels give no rows.
    """
    rules = list(dict.fromkeys(rules))
    where, args = _post_filters("p", channel_ids=_channel_ids(store, channels), since=since, until=until)
    if rules or not all_posts:
        cond = "m.channel_id = p.channel_id AND m.message_id = p.message_id AND m.current = 1"
        if rules:
            cond += f" AND m.rule IN ({','.join('?' * len(rules))})"
            args.extend(rules)
        where.append(f"EXISTS (SELECT 1 FROM matches m WHERE {cond})")
    if search is not None:
        where.append("p.rowid IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)")
    sql = (
        "SELECT p.channel_id, c.title, c.username, p.message_id, p.link, p.date, p.edit_date, p.text, "
        "p.story_id, s.size, s.first_channel_id, s.first_message_id, fp.link, fc.username, "
        "p.forward_channel_id, p.forward_post_id, p.forward_name, p.deleted_at, "
        "(SELECT json_group_array(json_array(m.rule, m.terms, m.hits)) FROM matches m "
        " WHERE m.channel_id = p.channel_id AND m.message_id = p.message_id AND m.current = 1) "
        "FROM posts p LEFT JOIN channels c ON c.id = p.channel_id LEFT JOIN stories s ON s.id = p.story_id "
        "LEFT JOIN posts fp ON fp.channel_id = s.first_channel_id AND fp.message_id = s.first_message_id "
        "LEFT JOIN channels fc ON fc.id = s.first_channel_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY p.date, p.channel_id, p.message_id"
    )
    log.debug("export query: %s %s", sql, args)

    def start() -> tuple[FtsQuery | None, sqlite3.Cursor]:
        query = None
        if search is not None:
            store.sync_search(told=repaired)
            query = fts_query(search, stored=_stored_word(store))
        try:
            return query, store.db.execute(sql, [*args, *([query.expression] if query else [])])
        except sqlite3.OperationalError as e:
            raise SearchError(f"export query failed: {e}") from None

    query, cur = _over_index(store, start, repaired)
    for (cid, title, username, mid, link, date, edited, text, story_id, size, first_cid, first_mid, first_link,
         first_username, fwd_cid, fwd_pid, fwd_name, deleted, matched) in cur:
        if query is not None and not query.matches(text or ""):  # as `search_posts` keeps them
            continue
        rule_list, terms, why = _rules_terms_matched(matched, text or "")
        if first_cid is not None:
            first_link = shown_link(first_cid, first_mid, first_username, first_link)
        yield {  # a field with no value is None: null in JSON Lines (as in the alerts' file), empty in CSV and Excel
            "channel_id": cid,
            "channel_title": title or None,
            "username": username or None,
            "message_id": mid,
            "link": shown_link(cid, mid, username, link),
            "date": date or None,
            "edited": edited or None,
            "text": text or "",  # a post with no text (a photo alone) has an empty one
            "rules": rule_list,
            "terms": terms,
            "matched": why,
            "story_id": story_id,
            "story_size": size if size is not None else (1 if story_id is not None else None),
            "story_first": first_link or None,
            "forward_origin": _forward_origin(fwd_cid, fwd_pid, fwd_name) or None,
            "deleted_at": deleted or None,
        }


def _rules_terms_matched(matched: str | None, text: str) -> tuple[list[str], list[str], list[str]]:
    """The rules, their distinct terms, and per rule «rule: the post's words it hit» (`matched_words`)."""
    pairs = sorted(json.loads(matched or "[]"), key=lambda p: p[0])
    terms: dict[str, None] = {}
    why: list[str] = []
    for rule, raw, hits in pairs:
        try:
            terms.update(dict.fromkeys(json.loads(raw or "[]")))
            why.append(f"{rule}: {matched_words(text, tuple(map(tuple, json.loads(hits or '[]'))))}")
        except (TypeError, ValueError):
            log.warning("unreadable terms or hits of rule %s", rule)
    return [p[0] for p in pairs], list(terms), why
