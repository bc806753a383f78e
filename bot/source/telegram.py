"""Posts from live Telegram: Telethon messages (events or history) -> `Post`, an album as one post."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from telethon.tl import types

from ..post import Entity, Post

__all__ = ["channel_username", "group_albums", "message_to_post", "album_to_post"]

_MEDIA = {
    types.MessageMediaPhoto: "photo", types.MessageMediaDocument: "document", types.MessageMediaPoll: "poll",
    types.MessageMediaGeo: "location", types.MessageMediaGeoLive: "location", types.MessageMediaVenue: "location",
    types.MessageMediaContact: "contact", types.MessageMediaWebPage: "webpage",
}


def channel_username(chat: Any) -> str | None:
    """The public username of a channel: `username`, else the first active of `usernames`."""
    name = getattr(chat, "username", None)
    if name:
        return str(name)
    for u in getattr(chat, "usernames", None) or ():
        if getattr(u, "active", False):
            return str(u.username)
    return None


def _entity_type(e: Any) -> str:
    name = type(e).__name__.removeprefix("MessageEntity")
    return {"Url": "link", "TextUrl": "text_link", "Strike": "strikethrough"}.get(
        name, re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())


def _media(message: Any) -> str | None:
    media = getattr(message, "media", None)
    if media is None:
        return None
    if isinstance(media, types.MessageMediaDocument) and getattr(message, "video", None):
        return "video"
    return _MEDIA.get(type(media), type(media).__name__.removeprefix("MessageMedia").lower() or None)


def message_to_post(message: Any, chat: Any) -> Post | None:
    """One channel message -> Post; None for service messages (joins, pins, title changes)."""
    if isinstance(message, types.MessageService) or not isinstance(message, types.Message):
        return None
    fwd = message.fwd_from
    fwd_channel = fwd_post = fwd_name = None
    if fwd is not None:
        if isinstance(fwd.from_id, types.PeerChannel):
            fwd_channel, fwd_post = fwd.from_id.channel_id, fwd.channel_post
        fwd_name = fwd.from_name or fwd.post_author
    return Post(
        channel_id=int(getattr(chat, "id", 0) or message.peer_id.channel_id),
        message_id=int(message.id),
        date=message.date,
        text=message.message or "",
        channel_title=str(getattr(chat, "title", "") or ""),
        channel_username=channel_username(chat),
        edit_date=message.edit_date,
        entities=tuple(Entity(_entity_type(e), e.offset, e.length, getattr(e, "url", None))
                       for e in message.entities or ()),
        forward_channel_id=fwd_channel,
        forward_post_id=fwd_post,
        forward_name=fwd_name,
        grouped_id=message.grouped_id,
        media=_media(message),
    )


def album_to_post(messages: Sequence[Any], chat: Any) -> Post | None:
    """The items of one album -> one Post keyed by its first message; its text is every item's
    caption (usually one item has it), its edit date the latest."""
    items = sorted((m for m in messages if isinstance(m, types.Message)), key=lambda m: m.id)
    if not items:
        return None
    posts = [p for m in items if (p := message_to_post(m, chat)) is not None]
    first = posts[0]
    text, entities = _join_captions([p for p in posts if p.text.strip()])
    edits = [p.edit_date for p in posts if p.edit_date is not None]
    return Post(
        channel_id=first.channel_id, message_id=first.message_id, date=first.date, text=text,
        channel_title=first.channel_title, channel_username=first.channel_username,
        edit_date=max(edits) if edits else None, entities=entities,
        forward_channel_id=first.forward_channel_id, forward_post_id=first.forward_post_id,
        forward_name=first.forward_name, grouped_id=first.grouped_id, media="album",
        last_id=posts[-1].message_id,
    )


def _join_captions(posts: Sequence[Post]) -> tuple[str, tuple[Entity, ...]]:
    """Every item's caption, one per line, with entity offsets shifted (UTF-16 units)."""
    texts: list[str] = []
    entities: list[Entity] = []
    at = 0
    for p in posts:
        entities += [replace(e, offset=e.offset + at) for e in p.entities]
        texts.append(p.text)
        at += len(p.text.encode("utf-16-le")) // 2 + 1  # + the newline
    return "\n".join(texts), tuple(entities)


def group_albums(messages: Iterable[Any]) -> Iterator[list[Any]]:
    """Messages in id order -> runs that are one post each (an album's items together)."""
    run: list[Any] = []
    for m in messages:
        gid = getattr(m, "grouped_id", None)
        if run and (gid is None or gid != run[0].grouped_id):
            yield run
            run = []
        run.append(m)
    if run:
        yield run
