"""One Telegram Desktop export message -> Post: its text and entities, dates, forward origin, media kind.

A bad required field is BadInput (the message is skipped); a bad optional one is a note (the post kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..post import Entity, Post
from .checks import BadInput, check_int, check_text, edited_after, iso_time, post_date, show, unix_time

__all__ = ["flatten_text"]


def flatten_text(text: Any, notes: list[str] | None = None) -> tuple[str, tuple[Entity, ...]]:
    """An export's `text` (a string, or a list of strings and parts) -> plain text + entities.
    A part whose text is readable but whose type or href is not keeps its text as plain when
    `notes` is given (why is appended to it): its words matter more than its formatting."""
    text, entities, _ = _flatten(text, notes)
    return text, entities


def _flatten(text: Any, notes: list[str] | None) -> tuple[str, tuple[Entity, ...], tuple[tuple[int, int, str], ...]]:
    """`flatten_text`, and the `hidden_links` of its text and entities, found on the way: here each
    part's place in characters is known, where `hidden_links` would count it again from UTF-16 units.
    Each part's length is Telegram's, in UTF-16 code units (an emoji beyond U+FFFF counts two): one
    strict encode per part, which refuses a lone surrogate (half an emoji), a list text's only check
    of it. (The parse's busiest loop: a well-formed part is checked inline, a bad one in `_bad_part`.)"""
    if isinstance(text, str):
        return text, (), ()
    if not isinstance(text, list):
        raise BadInput("text is neither a string nor a list of parts")
    out: list[str] = []
    entities: list[Entity] = []
    links: list[tuple[int, int, str]] = []
    offset = at = 0  # the part's offset in UTF-16 units, and in characters
    for part in text:
        if isinstance(part, str):
            s = part
            n = len(s.encode("utf-16-le")) // 2
        elif isinstance(part, dict) and isinstance(words := part.get("text"), str):
            s = words
            n = len(s.encode("utf-16-le")) // 2
            kind, href = part.get("type", "plain"), part.get("href")
            if not isinstance(kind, str) or not (href is None or isinstance(href, str)):
                _bad_part(kind, href, notes)
            elif kind != "plain":
                entity = Entity(kind, offset, n, href or (s if kind == "link" else None))
                entities.append(entity)
                if entity.hides_url and s:  # (`hidden_links`, counted here in characters)
                    links.append((at, at + len(s), str(entity.url)))
        else:
            raise BadInput("a text part is neither a string nor {type, text}")
        out.append(s)
        offset += n
        at += len(s)
    return "".join(out), tuple(entities), tuple(links)


def _bad_part(kind: Any, href: Any, notes: list[str] | None) -> None:
    """A {type, text} part whose type or href is not a string: BadInput, or (with `notes`) a note,
    its text then kept as plain."""
    problem = (f"a text part's type {show(kind)} is not a string" if not isinstance(kind, str)
               else f"a text part's href {show(href)} is not a string")
    if notes is None:
        raise BadInput(problem)
    notes.append(f"{problem}: its text kept without that formatting")


def _date(msg: dict[str, Any]) -> datetime:
    if "date_unixtime" in msg:
        if msg["date_unixtime"] is None or msg["date_unixtime"] == "":
            raise BadInput("date_unixtime is empty")
        return post_date(unix_time(msg["date_unixtime"], "date_unixtime"), msg["date_unixtime"], "date_unixtime")
    # Old exports: `date` is the exporting PC's local time; the best we can do is read it as UTC.
    return post_date(iso_time(msg["date"], "date"), msg["date"], "date")


def _media(msg: dict[str, Any]) -> str | None:
    if "photo" in msg:
        return "photo"
    if isinstance(msg.get("media_type"), str) and msg["media_type"]:
        return msg["media_type"]
    if "file" in msg:
        return "document"
    for kind in ("poll", "location_information", "contact_information"):
        if kind in msg:
            return kind.split("_")[0]
    return None


@dataclass(frozen=True)
class _Chat:
    """The chat-level fields every post of a chat shares, already checked."""

    id: int
    title: str
    username: str | None


def _text(msg: dict[str, Any], notes: list[str]) -> tuple[str, tuple[Entity, ...], tuple[tuple[int, int, str], ...]]:
    """The post's text, entities and hidden links (`_flatten`) from `text`; when that cannot be read,
    from `text_entities` (Telegram Desktop writes the same parts there, plain ones included), with a note."""
    first: list[str] = []  # the notes of `text`, dropped when it is not read after all
    try:
        found = _flatten(msg.get("text", ""), first)
        notes.extend(first)
        return found
    except BadInput as e:
        other = msg.get("text_entities")
        if not isinstance(other, list):
            raise
        second: list[str] = []
        try:
            found = _flatten(other, second)
        except BadInput:
            raise e from None
        notes.extend([f"{e}: read from text_entities instead", *second])
        return found


def _edit_date(msg: dict[str, Any], notes: list[str], date: datetime) -> datetime | None:
    """When the post was last edited: `edited_unixtime`, or in an old export (no Unix times) the
    ISO `edited`, read as UTC as `date` is. A bad one (or one before `date`) is a note and no edit
    date: the post is fine."""
    field = "edited_unixtime" if "edited_unixtime" in msg else "edited"
    value = msg.get(field)
    if value is None or value == "":
        return None
    try:
        return edited_after(unix_time(value, field) if field == "edited_unixtime" else iso_time(value, field),
                            date, value, field)
    except BadInput as e:
        notes.append(f"{e}: the post is kept without an edit date")
        return None


def _forward_name(fwd: Any, notes: list[str]) -> str | None:
    """`forwarded_from`: the name of the chat a post was forwarded from (null for a hidden sender);
    anything else is a note and no name."""
    if fwd is None or isinstance(fwd, str):
        return fwd or None
    notes.append(f"forwarded_from {show(fwd)} is not a name: the post is kept without its forward origin")
    return None


def _message_to_post(msg: dict[str, Any], chat: _Chat, notes: list[str]) -> Post:
    """One export message -> Post; what was left out of it is appended to `notes` (shown only
    when the post is read: a skipped message is its one Skip line)."""
    if "id" not in msg:
        raise KeyError("id")
    message_id = check_int(msg["id"], "id", minimum=1)
    text, entities, links = _text(msg, notes)
    if isinstance(msg.get("text", ""), str):  # (a list's parts were each encoded as UTF-16 already, strictly)
        check_text(text)
    date = _date(msg)
    post = Post(
        channel_id=chat.id,
        message_id=message_id,
        date=date,
        text=text,
        channel_title=chat.title,
        channel_username=chat.username,
        edit_date=_edit_date(msg, notes, date),
        entities=entities,
        forward_name=_forward_name(msg.get("forwarded_from"), notes),
        media=_media(msg),
    )
    post.seed_links(text, entities, links)
    return post
