"""The rows `tgwatch export` and the chat's /export write: one dict per post with its rules, the
words they hit, its story and where it was forwarded from, streamed oldest first."""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from ...match.explain import matched_words
from ..db import Store
from .ftsquery import FtsQuery
from .links import _forward_origin, shown_link
from .querybuild import fts_query
from .querytext import SearchError
from .resolve import _channel_ids
from .search import _over_index, _stored_word
from .storedposts import _post_filters

__all__ = ["EXPORT_FIELDS", "iter_export_rows"]

log = logging.getLogger("bot.store.read")  # the readers log under one name, as one job


EXPORT_FIELDS: tuple[str, ...] = (
    "channel_id", "channel_title", "username", "message_id", "link", "date", "edited", "text",
    "rules", "terms", "matched", "story_id", "story_size", "story_first", "forward_origin", "deleted_at",
)


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
