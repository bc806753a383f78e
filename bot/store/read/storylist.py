"""The stories of a period as `tgwatch stories` and the chat's /stories list them, biggest first, each
with its channels in the order they reported it; streamed, so a year's list is never held at once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator

from ..db import Store, iso
from .links import shown_link
from .resolve import _channel_ids

__all__ = ["StoryRow", "count_stories", "iter_stories", "top_stories"]


@dataclass(frozen=True, slots=True)
class StoryRow:
    """A story as `tgwatch stories` lists it: size, channels in order, first post, first/last seen."""

    id: int
    size: int
    channels: list[tuple[int, str]]  # (id, title or id) in the order they reported it (their first posts' dates)
    first_date: str
    last_date: str
    first_link: str
    first_title: str
    first_text: str


def _story_filters(store: Store, *, since: datetime | None, until: datetime | None, min_size: int,
                   rules: Iterable[str], channels: Iterable[str | int]) -> tuple[list[str], list[Any]]:
    """The WHERE terms (on `stories s`) that pick the stories `top_stories` lists."""
    rules = list(dict.fromkeys(rules))
    where: list[str] = ["coalesce(s.size, 1) >= ?"]
    args: list[Any] = [min_size]
    if since is not None:
        where.append("s.last_date >= ?")
        args.append(iso(since))
    if until is not None:
        where.append("s.first_date < ?")
        args.append(iso(until))
    if since is not None and until is not None:
        # a post in the period, not just a span over it: its first or last post (dates a retention
        # prune keeps), else a stored post between them; only a story spanning the whole period is
        # looked up in posts (by idx_posts_story_id)
        where.append("(s.first_date >= ? OR s.last_date < ? OR EXISTS (SELECT 1 FROM posts sp "
                     "WHERE sp.story_id = s.id AND sp.date >= ? AND sp.date < ?))")
        args.extend([iso(since), iso(until), iso(since), iso(until)])
    if rules:
        where.append("s.id IN (SELECT p2.story_id FROM matches m JOIN posts p2 ON p2.channel_id = m.channel_id "
                     f"AND p2.message_id = m.message_id WHERE m.current = 1 AND m.rule IN ({','.join('?' * len(rules))}))")
        args.extend(rules)
    ids = _channel_ids(store, channels)
    if ids is not None:
        where.append(f"EXISTS (SELECT 1 FROM json_each(s.channels) WHERE value IN ({','.join('?' * len(ids)) or 'NULL'}))")
        args.extend(ids)
    return where, args


def count_stories(store: Store, *, since: datetime | None = None, min_size: int = 1, rules: Iterable[str] = (),
                  channels: Iterable[str | int] = (), until: datetime | None = None) -> int:
    """How many stories `top_stories` would list with no limit."""
    where, args = _story_filters(store, since=since, until=until, min_size=min_size, rules=rules, channels=channels)
    return int(store.db.execute("SELECT count(*) FROM stories s WHERE " + " AND ".join(where), args).fetchone()[0])


def top_stories(store: Store, *, since: datetime | None = None, min_size: int = 1, limit: int = 20,
                rules: Iterable[str] = (), channels: Iterable[str | int] = (),
                until: datetime | None = None) -> list[StoryRow]:
    """The largest stories seen in the period (one of their posts dated at or after `since` and
    before `until`), biggest first (then the latest); with `rules`, only stories a post of which one
    of them currently matches; with `channels`, only stories one of them reported. Unknown rules or
    channels give no stories."""
    return list(iter_stories(store, since=since, min_size=min_size, limit=limit, rules=rules, channels=channels,
                             until=until))


def iter_stories(store: Store, *, since: datetime | None = None, min_size: int = 1, limit: int = 20,
                 rules: Iterable[str] = (), channels: Iterable[str | int] = (),
                 until: datetime | None = None) -> Iterator[StoryRow]:
    """`top_stories` one at a time, as the store gives them: `stories --limit all` over a year is
    written without a million stories (each with its first post's text) held at once."""
    where, args = _story_filters(store, since=since, until=until, min_size=min_size, rules=rules, channels=channels)
    # the headline: the first post's text, or when retention pruned it, the first kept post's
    sql = ("SELECT s.id, s.size, s.channels, s.first_date, s.last_date, p.link, coalesce(p.text, (SELECT k.text FROM posts k "
           "WHERE k.story_id = s.id ORDER BY k.date, k.channel_id, k.message_id LIMIT 1)), s.first_channel_id, "
           f"s.first_message_id, fc.username, {_FIRST_DATES} FROM stories s "
           "LEFT JOIN posts p ON p.channel_id = s.first_channel_id AND p.message_id = s.first_message_id "
           "LEFT JOIN channels fc ON fc.id = s.first_channel_id "
           "WHERE " + " AND ".join(where) + " ORDER BY s.size DESC, s.last_date DESC, s.id LIMIT ?")
    titles = {int(i): t or str(i) for i, t in store.db.execute("SELECT id, title FROM channels")}
    for sid, size, chans, first, last, link, text, first_cid, first_mid, first_username, dates in store.db.execute(
            sql, [*args, max(0, int(limit))]):
        order = _by_first_date([int(c) for c in json.loads(chans or "[]")], json.loads(dates or "{}"))
        yield StoryRow(int(sid), int(size or 1), [(c, titles.get(c, str(c))) for c in order], first or "",
                       last or "", shown_link(first_cid, first_mid, first_username, link) if first_cid is not None else "",
                       titles.get(first_cid, str(first_cid)) if first_cid is not None else "", text or "")


# A story's channels -> the date of each one's first stored post (JSON), for a story of 2+ channels:
# one look-up by idx_posts_story_id per story (`stories --limit all` of the corpus: 0.95 -> 1.1 s of CPU)
_FIRST_DATES = ("CASE WHEN s.channels LIKE '%,%' THEN (SELECT json_group_object(f.channel_id, f.d) FROM "
                "(SELECT channel_id, min(date) AS d FROM posts WHERE story_id = s.id GROUP BY channel_id) f) END")


def _by_first_date(channels: list[int], first: dict[str, str]) -> list[int]:
    """A story's channels (as its row lists them: in the order they were read) by their first posts'
    dates, of two at the same time the lower id first, as `story ID` lists the posts; as read when
    retention pruned some channel's every post (its date unknown)."""
    if any(str(c) not in first for c in channels):
        return channels
    return sorted(channels, key=lambda c: (first[str(c)], c))
