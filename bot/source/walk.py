"""One streaming pass over an export that is not a single chat in Telegram Desktop's key order: the
chats it finds (its own, or a full-account export's chats.list and left_chats.list), read as parts."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any, Iterator

from ijson.common import ObjectBuilder

from ..post import Post
from .chat import _after, _chat_posts, chat_place
from .checks import Skip
from .stream import YAJL, Source, Spill

HEADER_KEYS = ("name", "type", "id", "username")  # a chat's own fields, kept as a pass meets them
SCALARS = frozenset(("null", "boolean", "integer", "double", "number", "string"))  # ijson's value events


class _Found:
    """One chat met by the streaming pass: its header keys, whether `messages` is a list, and
    where its messages are in the spill file."""

    def __init__(self, is_object: bool = True) -> None:
        self.is_object = is_object
        self.header: dict[str, Any] = {}
        self.messages: str | None = None  # "list" (open), "done" (closed), "other", None (absent)
        self.start = self.end = 0
        self.count = 0
        self.last: Any = None


_MESSAGE = "\x00tgwatch:message"  # the prefix the walk gives a message's first event (no JSON key is it)


class _Walk:
    """What one streaming pass over an export finds: the top level's kind, its own chat (a single
    chat export) or its lists of chats (a full-account export)."""

    def __init__(self) -> None:
        self.top: str | None = None
        self.single = _Found()
        self.kinds: dict[str, str] = {}  # "chats", "chats.list", ... -> the event that opened it
        self.lists: dict[str, list[_Found]] = {"chats": [], "left_chats": []}
        self.open: dict[str, _Found | None] = {"chats": None, "left_chats": None}
        self.receiver: _Found | None = None  # the chat whose messages are being read

    def resume(self) -> tuple[int, bytes, int] | None:
        """For a stream that broke inside the receiving chat's messages: their array's depth, the
        brackets a stream resumed in them opens with, and the events those give; None outside."""
        if self.receiver is None:
            return None
        if self.receiver is self.single:
            return 2, b'{"messages":[', 3
        which = "chats" if self.open["chats"] is self.receiver else "left_chats"
        return 5, b'{"%s":{"list":[{"messages":[' % which.encode(), 8

    def events(self, source: Source, skip: int = 0, *, chunk: int) -> Iterator[tuple[str, str, Any]]:
        """The parser's events, a message's first one renamed _MESSAGE (so that one C-built
        `items` over them gives every chat's messages), the rest noted on the way (the first
        `skip` passed over: a resumed stream's opening brackets), read `chunk` bytes at a time."""
        builder: tuple[ObjectBuilder, dict[str, Any], str] | None = None
        depth = 0
        watched = _WATCHED
        parsed = YAJL.parse(source, use_float=True, buf_size=chunk)
        for prefix, event, value in islice(parsed, skip, None) if skip else parsed:
            if builder is not None:  # a header value that is an object or a list
                builder[0].event(event, value)
                depth += 1 if event in ("start_map", "start_array") else -1 if event in ("end_map", "end_array") else 0
                if not depth:
                    builder[1][builder[2]] = builder[0].value
                    builder = None
                continue
            role = watched.get(prefix)
            if role is None:
                yield prefix, event, value
                continue
            kind, which, key = role
            chat = self.single if which == "" else self.open[which]
            if kind == "item":
                if self.receiver is not None and self.receiver is chat:
                    yield _MESSAGE, event, value
                else:
                    yield prefix, event, value
                continue
            if kind == "top":
                if self.top is None:
                    self.top = event
            elif self.top != "start_map":
                pass
            elif kind == "kind":  # chats, left_chats, chats.list, left_chats.list
                parent = key
                if parent is None or self.kinds.get(parent) == "start_map":
                    if event not in ("end_map", "end_array", "map_key"):
                        self.kinds[prefix] = event
            elif kind == "chat":
                if self.kinds.get(f"{which}.list") == "start_array" and self.kinds.get(which) == "start_map":
                    if event == "start_map":
                        found = self.open[which] = _Found()
                        self.lists[which].append(found)
                    elif event == "end_map":
                        self.open[which] = None
                    elif event not in ("end_array", "map_key"):
                        self.lists[which].append(_Found(is_object=False))
            elif chat is not None:
                if kind == "messages":
                    if event == "start_array":
                        chat.messages = "list"
                        self.receiver = chat
                    elif event == "end_array":
                        chat.messages = "done"
                        self.receiver = None
                    elif event != "map_key" and event != "end_map":
                        chat.messages = "other"
                elif kind == "header":
                    assert key is not None  # every header role names its key (`_watched`)
                    if event in SCALARS:
                        chat.header[key] = value
                    elif event in ("start_map", "start_array"):
                        builder, depth = (ObjectBuilder(), chat.header, key), 1
                        builder[0].event(event, value)
            yield prefix, event, value


def _watched() -> dict[str, tuple[str, str, str | None]]:
    """Prefix -> (role, chat list or "" for the file's own chat, key or parent) for the walk."""
    w: dict[str, tuple[str, str, str | None]] = {"": ("top", "", None), "messages": ("messages", "", None),
                                                 "messages.item": ("item", "", None)}
    w.update({k: ("header", "", k) for k in HEADER_KEYS})
    for which in ("chats", "left_chats"):
        w[which] = ("kind", which, None)
        w[f"{which}.list"] = ("kind", which, which)
        w[f"{which}.list.item"] = ("chat", which, None)
        w[f"{which}.list.item.messages"] = ("messages", which, None)
        w[f"{which}.list.item.messages.item"] = ("item", which, None)
        w.update({f"{which}.list.item.{k}": ("header", which, k) for k in HEADER_KEYS})
    return w


_WATCHED = _watched()


def _labels(walk: _Walk) -> Iterator[tuple[_Found, str]]:
    for which, label in (("chats", "chat"), ("left_chats", "left chat")):
        for n, chat in enumerate(walk.lists[which]):
            yield chat, chat_place(label, n, chat.header.get("name"))


def _break_place(walk: _Walk) -> str:
    """Where the pass broke: after which message of which chat, or the chat, or (before any) nothing."""
    chat = walk.receiver
    if chat is None:
        chat = next((c for w in ("left_chats", "chats") if (c := walk.open[w]) is not None), None)
    if chat is None:
        return ""
    where = next((label for c, label in _labels(walk) if c is chat), "")
    return _after(chat.count, chat.last, where)


def _walk_parts(path: Path, walk: _Walk, spill: Spill, complete: bool = True) -> list[Iterator[Post | Skip]]:
    """The parts of a walked export, as `_parts` gives them for the same file read whole (of a
    pass that broke, only the chats found before the break: the break says why the rest is not)."""
    p = str(path)

    def posts(chat: _Found, where: str) -> Iterator[Post | Skip]:
        if chat.messages in ("list", "done"):
            return _chat_posts(chat.header, p, where, spill.segment(chat.start, chat.end) if chat.count else iter(()))
        return _chat_posts({**chat.header, "messages": None}, p, where)

    if walk.top is None or (not complete and walk.top != "start_map"):
        return []
    if walk.top != "start_map":
        return [iter([Skip(p, "", "not a Telegram export (the top level is not an object)")])]
    kinds = walk.kinds
    listed = kinds.get("chats") == "start_map" and kinds.get("chats.list") not in (None, "null")
    if listed and kinds["chats.list"] != "start_array":
        return [iter([Skip(p, "", "not a Telegram export ('chats.list' is not a list)")])]
    if listed:
        parts: list[Iterator[Post | Skip]] = []
        left = kinds.get("left_chats.list") if kinds.get("left_chats") == "start_map" else None
        if left not in (None, "null", "start_array"):
            parts.append(iter([Skip(p, "", "'left_chats.list' is not a list: the chats left are not read")]))
            walk.lists["left_chats"] = []
        cut = [c for c in walk.open.values() if c is not None] if not complete else []
        for chat, where in _labels(walk):
            if chat in cut and chat.messages is None:
                continue  # broken off before its messages: the break's line says so
            if chat.is_object:
                parts.append(posts(chat, where))
            else:
                parts.append(iter([Skip(p, where.split(" (")[0], "not an object")]))
        return parts
    if walk.single.messages is not None:
        return [posts(walk.single, "")]
    if not complete:
        return []
    return [iter([Skip(p, "", "not a Telegram export (no 'messages' and no 'chats.list')")])]
