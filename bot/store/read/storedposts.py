"""Stored posts as matching needs them (text, channel, the links behind words), one or a stream,
and the channel and period filter on posts that search and export share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Iterator, Sequence

from ..db import Store, iso
from ..schema import stored_links
from .links import shown_link
from .resolve import _channel_ids

__all__ = ["StoredPost", "count_posts", "iter_posts", "stored_post", "story_stored_posts"]


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A stored post as matching needs it (`Matcher.match` reads text, channel id, username and
    the links behind its words)."""

    channel_id: int
    message_id: int
    date: str
    text: str
    link: str
    channel_title: str
    channel_username: str | None
    links: tuple[tuple[int, int, str], ...] = ()  # `post.hidden_links`


def _post_filters(alias: str, *, channel_ids: list[int] | None, since: datetime | None,
                  until: datetime | None, after_match: bool = False) -> tuple[list[str], list[Any]]:
    """The WHERE terms and their arguments for a channel and period filter. `after_match`: beside a
    full-text MATCH, which must lead (a unary + keeps SQLite from walking a channel's or a period's
    posts by index and matching each: `search ракета --channel mash` took 2-3 s, now 0.01 s)."""
    where: list[str] = []
    args: list[Any] = []
    col = f"{'+' if after_match else ''}{alias}"
    if channel_ids is not None:
        where.append(f"{col}.channel_id IN ({','.join('?' * len(channel_ids)) or 'NULL'})")
        args.extend(channel_ids)
    if since is not None:
        where.append(f"{col}.date >= ?")
        args.append(iso(since))
    if until is not None:
        where.append(f"{col}.date < ?")
        args.append(iso(until))
    return where, args


def count_posts(store: Store, *, channels: Iterable[str | int] = (), since: datetime | None = None,
                until: datetime | None = None) -> int:
    """How many posts `iter_posts` would yield."""
    where, args = _post_filters("p", channel_ids=_channel_ids(store, channels), since=since, until=until)
    sql = "SELECT count(*) FROM posts p" + (" WHERE " + " AND ".join(where) if where else "")
    return int(store.db.execute(sql, args).fetchone()[0])


def stored_post(store: Store, channel_id: int, message_id: int) -> StoredPost | None:
    """One stored post as matching needs it; None when it is not stored."""
    row = store.db.execute(f"SELECT {_POST_COLUMNS} WHERE p.channel_id = ? AND p.message_id = ?",
                           [channel_id, message_id]).fetchone()
    return None if row is None else _stored_post(row)


def story_stored_posts(store: Store, story_id: int) -> list[StoredPost]:
    """Every post of the story its channel has not deleted, oldest first (as `Store.story_posts`
    orders them, without its limit), as matching needs them."""
    return [_stored_post(row) for row in store.db.execute(
        f"SELECT {_POST_COLUMNS} WHERE p.story_id = ? AND p.deleted_at IS NULL ORDER BY p.date, p.channel_id, p.message_id",
        [story_id])]


def _stored_post(row: Sequence[Any]) -> StoredPost:
    """A row of `_POST_COLUMNS` as a `StoredPost`."""
    cid, mid, date, text, link, title, username, entities = row
    return StoredPost(cid, mid, date or "", text or "", shown_link(cid, mid, username, link),
                      title or str(cid), username or None, stored_links(text or "", entities))


_POST_COLUMNS = ("p.channel_id, p.message_id, p.date, p.text, p.link, c.title, c.username, p.entities FROM posts p "
                 "LEFT JOIN channels c ON c.id = p.channel_id")


def iter_posts(store: Store, *, channels: Iterable[str | int] = (), since: datetime | None = None,
               until: datetime | None = None) -> Iterator[StoredPost]:
    """Every stored post (optionally of some channels, `since` <= date < `until`), oldest first."""
    where, args = _post_filters("p", channel_ids=_channel_ids(store, channels), since=since, until=until)
    sql = (f"SELECT {_POST_COLUMNS}" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY p.date, p.channel_id, p.message_id")
    for row in store.db.execute(sql, args):
        yield _stored_post(row)
