"""One story's posts, oldest first, with the rules each matches, as `tgwatch story` and the chat
show them; streamed, so a story a year long is printed without its posts held at once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterator

from ..counts import StorySpan
from ..db import Store
from .links import _forward_origin, shown_link

__all__ = ["StoryPost", "iter_story_posts", "recorded_span", "story_detail"]


@dataclass(frozen=True, slots=True)
class StoryPost:
    """One post of a story, as `tgwatch story` shows it."""

    channel_id: int
    message_id: int
    date: str
    link: str
    channel_title: str
    text: str
    rules: list[str]  # the rules that currently match it
    forward_of: str  # "channel id/post id" of the post it forwards, else ""
    deleted_at: str = ""  # when tgwatch learnt the channel deleted it (ISO, UTC), else ""


def story_detail(store: Store, story_id: int, limit: int | None = None) -> list[StoryPost]:
    """A story's posts, oldest first (all of them, or the first `limit`), with the rules each one
    matches; empty when there is no such story."""
    return list(iter_story_posts(store, story_id, limit))


def iter_story_posts(store: Store, story_id: int, limit: int | None = None) -> Iterator[StoryPost]:
    """`story_detail` one post at a time: a story a year long is printed without its thousands of
    posts' texts held at once."""
    sql = ("SELECT p.channel_id, p.message_id, p.date, p.link, c.title, c.username, p.text, p.forward_channel_id, "
           "p.forward_post_id, (SELECT json_group_array(m.rule) FROM matches m WHERE m.channel_id = p.channel_id "
           "AND m.message_id = p.message_id AND m.current = 1), p.deleted_at FROM posts p LEFT JOIN channels c ON c.id = p.channel_id "
           "WHERE p.story_id = ? ORDER BY p.date, p.channel_id, p.message_id LIMIT ?")
    for cid, mid, date, link, title, username, text, fcid, fpid, rules, deleted in store.db.execute(
            sql, [story_id, -1 if limit is None else max(0, limit)]):
        yield StoryPost(cid, mid, date or "", shown_link(cid, mid, username, link), title or str(cid), text or "",
                        sorted(json.loads(rules or "[]")), _forward_origin(fcid, fpid, None) if fcid else "", deleted or "")


def recorded_span(store: Store, story_id: int) -> StorySpan | None:
    """A story's span and channels as its row records every post it had, as `stories` lists it: a
    retention prune leaves the row whole, the kept posts may be one channel's last hour. None: no row."""
    row = store.db.execute("SELECT first_date, last_date, channels FROM stories WHERE id = ? AND size > 0",
                           [story_id]).fetchone()
    return None if row is None else StorySpan(row[0] or "", row[1] or row[0] or "", len(json.loads(row[2] or "[]")))
