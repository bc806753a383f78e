"""Read Telegram Desktop "Export chat history" JSON (single chats and full-account exports).

Service messages are skipped; a bad message is reported with its file and index and skipped.
Files are streamed (bot.source.stream), never loaded whole: a file cut short or damaged gives
the messages before the break, and one skip says where it broke; a file that is not JSON at all
is reported once and the rest goes on.
"""

from __future__ import annotations

import json
import re
import stat
from itertools import islice
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from ijson.common import JSONError, ObjectBuilder

from ..post import Entity, Post
from .stream import (CHUNK, POOL, SMALL, YAJL, Broken, Source, Spill, describe_break, detect_encoding, messages_last,
                     resume_after, stream_items)

__all__ = ["Skip", "Note", "BadInput", "read_export", "export_parts", "post_date", "find_exports", "flatten_text", "check_int", "iso_time", "show"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite's INTEGER holds
UNEXPECTED = "a field has a value of an unexpected kind"  # the reason when no check names it
_INT_TEXT = re.compile(r"-?[0-9]{1,20}")  # ASCII digits only ("²".isdigit() is True)


@dataclass(frozen=True)
class Skip:
    """Something not turned into a post, and why: printable as `file: where: reason`."""

    path: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.reason}" if self.where else f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Note(Skip):
    """A post read with a bad optional field left out (kept, not skipped): the same line as a Skip,
    so an analyst learns what was dropped; a Skip to every reader that only passes skips on."""


class BadInput(ValueError):
    """A value a reader refuses; its text is the reason shown to the user."""


def show(value: Any) -> str:
    """A short JSON-like rendering of a bad value for a skip line (never Python repr)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and len(value) > 40:
        value = value[:40] + "…"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return "a value of an unknown kind"


def check_int(value: Any, field: str, minimum: int | None = None, strings: bool = False) -> int:
    """A JSON integer (never a bool or a float) that fits SQLite's 64-bit INTEGER and is at least
    `minimum`; with `strings`, a decimal string too. BadInput naming `field` otherwise."""
    what = "a positive integer" if minimum == 1 else "a non-negative integer" if minimum == 0 else "an integer"
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif strings and isinstance(value, str) and _INT_TEXT.fullmatch(value):
        n = int(value)
    else:
        raise BadInput(f"{field} {show(value)} is not {what}")
    if not INT64_MIN <= n <= INT64_MAX:
        raise BadInput(f"{field} {show(value)} is out of range (not a signed 64-bit integer)")
    if minimum is not None and n < minimum:
        raise BadInput(f"{field} {show(value)} is not {what}")
    return n


def iso_time(value: Any, field: str) -> datetime:
    """An ISO 8601 string -> aware UTC datetime (naive = UTC); BadInput naming `field` otherwise."""
    if not isinstance(value, str):
        raise BadInput(f"{field} {show(value)} is not an ISO 8601 date")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # not a date, or an offset of a day or more (+25:00)
        raise BadInput(f"{field} {show(value)} is not an ISO 8601 date") from None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    try:  # in UTC now: the store writes UTC, and 0001-01-01T00:00+01:00 has no UTC date
        return dt.astimezone(timezone.utc)
    except OverflowError:
        raise BadInput(f"{field} {show(value)} is out of range") from None


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def flatten_text(text: Any, notes: list[str] | None = None) -> tuple[str, tuple[Entity, ...]]:
    """An export's `text` (a string, or a list of strings and parts) -> plain text + entities.
    A part whose text is readable but whose type or href is not keeps its text as plain when
    `notes` is given (why is appended to it): its words matter more than its formatting."""
    if isinstance(text, str):
        return text, ()
    if not isinstance(text, list):
        raise BadInput("text is neither a string nor a list of parts")
    out: list[str] = []
    entities: list[Entity] = []
    offset = 0
    for part in text:
        if isinstance(part, str):
            s = part
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            s = part["text"]
            entity = _part_entity(part, offset, notes)
            if entity is not None:
                entities.append(entity)
        else:
            raise BadInput("a text part is neither a string nor {type, text}")
        out.append(s)
        offset += _utf16_len(s)
    return "".join(out), tuple(entities)


def _part_entity(part: dict[str, Any], offset: int, notes: list[str] | None) -> Entity | None:
    """The formatting entity of one {type, text} part at `offset`, None for plain text; a bad type
    or href is BadInput, or (with `notes`) a note and no entity."""
    s, kind, href = part["text"], part.get("type", "plain"), part.get("href")
    problem = (f"a text part's type {show(kind)} is not a string" if not isinstance(kind, str)
               else f"a text part's href {show(href)} is not a string" if href is not None and not isinstance(href, str)
               else None)
    if problem is not None:
        if notes is None:
            raise BadInput(problem)
        notes.append(f"{problem}: its text kept without that formatting")
        return None
    if kind == "plain":
        return None
    return Entity(kind, offset, _utf16_len(s), href or (s if kind == "link" else None))


def unix_time(value: Any, field: str = "date") -> datetime:
    """Unix seconds (a number or a numeric string) -> aware UTC datetime; BadInput naming `field`
    when not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadInput(f"{field} {show(value)} is not a Unix time")
    if isinstance(value, str) and not _INT_TEXT.fullmatch(value):
        raise BadInput(f"{field} {show(value)} is not a Unix time")
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):  # NaN, infinity, or beyond year 9999
        raise BadInput(f"{field} {show(value)} is not a Unix time in range") from None


def check_text(text: str) -> str:
    """Text must be storable: valid Unicode with no lone surrogate (half an emoji)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("text is not valid Unicode (a lone surrogate, half an emoji?)") from None
    return text


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def post_date(dt: datetime, value: Any, field: str) -> datetime:
    """A post's date, from 1970 on: an earlier one is a placeholder for a missing date (Go's zero
    time 0001-01-01, 1900-01-01), not when a post was written; BadInput naming `field` otherwise."""
    if dt < EPOCH:
        raise BadInput(f"{field} {show(value)} is before 1970: a placeholder for a missing date, not a post's date")
    return dt


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


def _text(msg: dict[str, Any], notes: list[str]) -> tuple[str, tuple[Entity, ...]]:
    """The post's text and entities from `text`; when that cannot be read, from `text_entities`
    (Telegram Desktop writes the same parts there, plain ones included), with a note."""
    first: list[str] = []  # the notes of `text`, dropped when it is not read after all
    try:
        found = flatten_text(msg.get("text", ""), first)
        notes.extend(first)
        return found
    except BadInput as e:
        other = msg.get("text_entities")
        if not isinstance(other, list):
            raise
        second: list[str] = []
        try:
            found = flatten_text(other, second)
        except BadInput:
            raise e from None
        notes.extend([f"{e}: read from text_entities instead", *second])
        return found


def _edit_date(msg: dict[str, Any], notes: list[str]) -> datetime | None:
    """When the post was last edited: `edited_unixtime`, or in an old export (no Unix times) the
    ISO `edited`, read as UTC as `date` is. A bad one is a note and no edit date: the post is fine."""
    field = "edited_unixtime" if "edited_unixtime" in msg else "edited"
    value = msg.get(field)
    if value is None or value == "":
        return None
    try:
        return unix_time(value, field) if field == "edited_unixtime" else iso_time(value, field)
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
    text, entities = _text(msg, notes)
    check_text(text)
    return Post(
        channel_id=chat.id,
        message_id=message_id,
        date=_date(msg),
        text=text,
        channel_title=chat.title,
        channel_username=chat.username,
        edit_date=_edit_date(msg, notes),
        entities=entities,
        forward_name=_forward_name(msg.get("forwarded_from"), notes),
        media=_media(msg),
    )


# The chats of a full-account export that are not channels (Telegram Desktop's `type`): their
# messages are someone's private conversations, and their ids are no channel ids (a post link
# t.me/c/<id>/<n> would lead nowhere). Channels and supergroups are read; so is a chat of a type
# not listed here (a newer export's), rather than lose posts.
NOT_CHANNELS = {
    "personal_chat": "a personal chat", "bot_chat": "a chat with a bot", "saved_messages": "Saved Messages",
    "replies": "Replies", "verification_codes": "verification codes",
    "private_group": "a basic group (no channel id: its posts would have no working link)",
}
NOT_A_CHANNEL = "not a channel, not read"


def _chat(chat: dict[str, Any], path: str, where: str) -> Iterator[_Chat | Skip]:
    """The checked chat fields (last), after a Note for each bad optional one (its posts are still
    read); only a skip when the chat cannot be read (no usable id)."""
    if "id" not in chat:
        yield Skip(path, where, "chat has no id")
        return
    try:
        chat_id = check_int(chat["id"], "chat id")
    except BadInput as e:
        yield Skip(path, where, f"{e}; the chat cannot be read")
        return
    # Name and username only label posts and build t.me links (a post without a username links
    # by id): a bad one is reported and read as absent rather than losing the chat's posts.
    title, username = chat.get("name"), chat.get("username")
    if title is not None and not isinstance(title, str):
        yield Note(path, where, f"chat name {show(title)} is not a string (read as no name)")
        title = None
    if username is not None and not isinstance(username, str):
        yield Note(path, where, f"chat username {show(username)} is not a string (read as no username)")
        username = None
    kind = chat.get("type")
    if kind is not None and not isinstance(kind, str):  # a sign of a damaged file: read as a channel
        yield Note(path, where, f"chat type {show(kind)} is not a string (ignored)")
    elif kind in NOT_CHANNELS:
        yield Skip(path, where, f"{NOT_CHANNELS[kind]}: {NOT_A_CHANNEL}")
        return
    yield _Chat(chat_id, title or "", (username.lstrip("@") or None) if username else None)


def _chat_posts(chat: dict[str, Any], path: str, where: str,
                messages: Iterable[Any] | None = None) -> Iterator[Post | Skip]:
    """A chat's posts: `messages` streamed (a Skip among them says where the file broke), or the
    chat's own `messages` list when None."""
    checked: _Chat | None = None
    for item in _chat(chat, path, where.removesuffix(": ")):
        if isinstance(item, Skip):
            yield item
        else:
            checked = item
    if checked is None:
        return
    if messages is None:
        messages = chat.get("messages")
        if not isinstance(messages, list):
            yield Skip(path, where.removesuffix(": "), "chat has no messages list")
            return
    for i, msg in enumerate(messages):
        if isinstance(msg, Skip):  # where the stream broke: the messages before it are read
            yield msg
            continue
        if not isinstance(msg, dict):
            yield Skip(path, f"{where}message #{i}", "not an object")
            continue
        label = f"{where}message #{i} (id {show(msg['id']) if 'id' in msg else '?'})"
        kind = msg.get("type", "message")
        if not isinstance(kind, str):
            yield Skip(path, label, f"type {show(kind)} is not a message type")
            continue
        if kind != "message":
            yield Skip(path, label, f"{kind} message")
            continue
        notes: list[str] = []
        try:
            post = _message_to_post(msg, checked, notes)
        except KeyError as e:
            yield Skip(path, label, f"missing field {e}")
        except BadInput as e:
            yield Skip(path, label, str(e))
        except (ValueError, TypeError, OverflowError):  # a check missed: still one line, no Python text
            yield Skip(path, label, UNEXPECTED)
        else:
            yield from (Note(path, label, why) for why in notes)
            yield post


def read_export(path: str | Path) -> Iterator[Post | Skip]:
    """Posts (and skips) from one result.json: a single chat or a full-account export."""
    for part in export_parts(path):
        yield from part


def export_parts(path: str | Path) -> list[Iterator[Post | Skip]]:
    """One result.json as one iterator of posts (and skips) per chat, each in date order (a
    full-account export as a whole is not: its chats follow one another). A single chat in Telegram
    Desktop's key order is streamed as the merge asks; any other file is read in one streaming pass
    now, its messages spilled to a temporary file chat by chat, so that no chat is held in memory."""
    path = Path(path)
    try:
        regular = stat.S_ISREG(path.stat().st_mode)
    except OSError:
        regular = True  # the open below says why it cannot be read
    if not regular:  # a pipe (`replay <(unzip -p ...)`) is read once, from its start: whole, as before streaming
        data = _load_export(path)
        return [iter([data])] if isinstance(data, Skip) else _parts(path, data)
    try:
        with path.open("rb") as f:
            head = f.read(512)
    except OSError as e:
        return [iter([Skip(str(path), "", f"cannot read: {e.strerror or 'read error'}")])]
    refused = _not_json(path, head)
    if refused is not None:
        return [iter([refused])]
    encoding, bom = detect_encoding(head)
    header = _desktop_header(path, encoding, bom)
    if header is not None:
        return [_chat_posts(header, str(path), "", _streamed(path, encoding, bom))]
    return _walked_parts(path, encoding, bom)


def _parts(path: Path, data: dict[str, Any]) -> list[Iterator[Post | Skip]]:
    """The parts of an export read whole (a small file that the streaming reader refused but
    json.load reads: an integer beyond 64 bits, NaN, a lone surrogate escape)."""
    chats = data.get("chats", {}).get("list") if isinstance(data.get("chats"), dict) else None
    if chats is not None and not isinstance(chats, list):
        return [iter([Skip(str(path), "", "not a Telegram export ('chats.list' is not a list)")])]
    if chats is not None:
        # the channels the account has left since are exported apart, in left_chats.list
        left = data["left_chats"].get("list") if isinstance(data.get("left_chats"), dict) else None
        parts: list[Iterator[Post | Skip]] = []
        if left is not None and not isinstance(left, list):
            parts.append(iter([Skip(str(path), "", "'left_chats.list' is not a list: the chats left are not read")]))
            left = None
        for label, listed in (("chat", chats), ("left chat", left or [])):
            for n, chat in enumerate(listed):
                if isinstance(chat, dict):
                    name = chat.get("name")
                    parts.append(_chat_posts(chat, str(path), f"{label} #{n} ({name if isinstance(name, str) else '?'}): "))
                else:
                    parts.append(iter([Skip(str(path), f"{label} #{n}", "not an object")]))
        return parts
    if "messages" in data:
        return [_chat_posts(data, str(path), "")]
    return [iter([Skip(str(path), "", "not a Telegram export (no 'messages' and no 'chats.list')")])]


def _not_json(path: Path, head: bytes) -> Skip | None:
    """A file that is plainly no JSON export, by its first bytes (a page, a database, an archive)."""
    why = (HTML_EXPORT if _is_html(head.decode("utf-8", "replace")) else
           "an SQLite database (a tgwatch store?), not an export: a store is named with --db"
           if head.startswith(b"SQLite format 3\x00") else
           "a zip archive: unpack it, then replay the folder" if head.startswith(b"PK\x03\x04") else
           "gzip-compressed: unpack it (gunzip), then replay the file" if head.startswith(b"\x1f\x8b") else None)
    return None if why is None else Skip(str(path), "", why)


HEADER_KEYS = ("name", "type", "id", "username")


def _desktop_header(path: Path, encoding: str, bom: int) -> dict[str, Any] | None:
    """A single chat's name, type, id (and username), when they come before `messages` and the
    messages come last, as Telegram Desktop writes them: the file can then be streamed as it is
    read. None for any other file (a full-account export, another key order, a damaged start)."""
    header: dict[str, Any] = {}
    source = Source(path, bom, encoding)
    events = YAJL.parse(source, use_float=True, buf_size=CHUNK)
    try:
        if next(events) != ("", "start_map", None):
            return None
        for prefix, event, value in events:
            if prefix == "messages":
                return header if event == "start_array" and messages_last(path) else None
            if prefix == "":
                if event != "map_key" or value in ("chats", "left_chats"):
                    return None
            elif prefix in HEADER_KEYS and event in SCALARS:
                header[prefix] = value
            elif "." not in prefix and event in ("start_map", "start_array"):
                return None  # a value worth a full read before the messages (a bad name, say)
            if source.offset > 1 << 20:
                return None
    except (JSONError, UnicodeDecodeError, ValueError, OSError, StopIteration):
        return None
    finally:
        POOL.close(str(path))
    return None


SCALARS = frozenset(("null", "boolean", "integer", "double", "number", "string"))


def _streamed(path: Path, encoding: str, bom: int) -> Iterator[Any]:
    """A single chat's messages as ijson reads them; where it breaks, a Skip saying so (in a large
    file, a message yajl refuses but json reads is read with json, and the stream goes on after it)."""
    n, last = 0, None
    source = Source(path, bom, encoding)
    source.watch(2)
    try:
        while True:
            try:
                for msg in stream_items(source, "messages.item"):
                    yield msg
                    n, last = n + 1, msg
                return
            except Broken as e:
                found = None if _small(path) else resume_after(source, e.error, 2)
                if found is not None:
                    msg, after = found
                    source = source.resumed(after, b'{"messages":[')
                    yield msg
                    n, last = n + 1, msg
                    continue
                data, reason = _read_whole(path, e.error, encoding, bom)
                if data is not None:  # valid JSON that yajl refuses: the rest as json.load reads it
                    rest = data.get("messages")
                    yield from (rest[n:] if isinstance(rest, list) else [])
                    return
                yield Skip(str(path), _after(n, last), reason)
                return
    finally:
        POOL.close(str(path))


def _after(n: int, last: Any, where: str = "") -> str:
    """Where a stream broke: after the last message read (index and id) or, with none, the chat."""
    if not n:
        return where.removesuffix(": ")
    mid = show(last["id"]) if isinstance(last, dict) and "id" in last else "?"
    return f"{where}after message #{n - 1} (id {mid})"


def _small(path: Path) -> bool:
    """Is the file small enough to be read whole again after its stream broke?"""
    try:
        return path.stat().st_size <= SMALL
    except OSError:
        return False


def _read_whole(path: Path, error: BaseException, encoding: str, bom: int) -> tuple[dict[str, Any] | None, str]:
    """After a stream broke: a small file is read whole as before streaming (its data when it is
    valid JSON after all, else the same reason as then); a large one is described from the stream."""
    if _small(path) and not isinstance(error, OSError):
        whole = _load_export(path)
        if not isinstance(whole, Skip):
            return whole, ""
        return None, whole.reason
    return None, describe_break(path, error, encoding, bom)


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

    def events(self, source: Source, skip: int = 0) -> Iterator[tuple[str, str, Any]]:
        """The parser's events, a message's first one renamed _MESSAGE (so that one C-built
        `items` over them gives every chat's messages), the rest noted on the way (the first
        `skip` passed over: a resumed stream's opening brackets)."""
        builder: tuple[ObjectBuilder, dict[str, Any], str] | None = None
        depth = 0
        watched = _WATCHED
        parsed = YAJL.parse(source, use_float=True, buf_size=CHUNK)
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
                        self.open[which] = _Found()
                        self.lists[which].append(self.open[which])
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


def _walked_parts(path: Path, encoding: str, bom: int) -> list[Iterator[Post | Skip]]:
    """Every part of an export read in one streaming pass, its messages spilled chat by chat."""
    walk = _Walk()
    try:
        spill = Spill()
    except OSError as e:
        return [iter([Skip(str(path), "", f"cannot write a temporary file ({e.strerror}): set TMPDIR to a folder with room")])]
    broke: Skip | None = None
    source = Source(path, bom, encoding)
    source.watch(2, 5)
    skip = 0  # the events of a resumed stream's opening brackets

    def spilled(msg: Any) -> bool:
        nonlocal broke
        chat = walk.receiver
        if chat is None:
            return True
        if not chat.count:
            chat.start = spill.size
        try:
            spill.write(msg)
        except OSError as e:  # the temporary file's disk is full: what was written is read
            broke = Skip(str(path), _break_place(walk), f"cannot write a temporary file ({e.strerror}): "
                         "set TMPDIR to a folder with room; the rest of the file is not read")
            return False
        chat.end, chat.count, chat.last = spill.size, chat.count + 1, msg
        return True

    try:
        while broke is None:
            try:
                for msg in stream_items(walk.events(source, skip), _MESSAGE):  # type: ignore[arg-type]
                    if not spilled(msg):
                        break
                break
            except Broken as e:
                resume = walk.resume() if not _small(path) else None
                found = None if resume is None else resume_after(source, e.error, resume[0])
                if found is not None and resume is not None:
                    msg, after = found
                    source, skip = source.resumed(after, resume[1]), resume[2]
                    spilled(msg)
                    continue
                data, reason = _read_whole(path, e.error, encoding, bom)
                if data is not None:
                    spill.close()
                    return _parts(path, data)
                broke = Skip(str(path), _break_place(walk), reason)
    finally:
        POOL.close(str(path))
    try:
        spill.done()
    except OSError:  # the last records could not be flushed: read what is there
        pass
    parts = _walk_parts(path, walk, spill, complete=broke is None)
    if broke is not None:
        parts.append(iter([broke]))
    if not spill.readers:
        spill.close()
    return parts


def _labels(walk: _Walk) -> Iterator[tuple[_Found, str]]:
    for which, label in (("chats", "chat"), ("left_chats", "left chat")):
        for n, chat in enumerate(walk.lists[which]):
            name = chat.header.get("name")
            yield chat, f"{label} #{n} ({name if isinstance(name, str) else '?'}): "


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


# Telegram Desktop exports HTML by default; its pages name no channel id, so no post link or key.
HTML_EXPORT = ("an HTML export: tgwatch reads Telegram Desktop's JSON export (export the chat again "
               "with Format: Machine-readable JSON)")


def _is_html(doc: str) -> bool:
    """Does a text that is not JSON start as a web page (Telegram Desktop's messages.html)?"""
    head = doc[:512].lstrip("\ufeff \t\r\n").lower()
    return head.startswith(("<!doctype html", "<html"))


def _load_export(path: Path) -> dict[str, Any] | Skip:
    """The parsed top-level object of an export file, or the Skip that says why there is none."""
    try:
        with path.open("rb") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        if not e.doc[:e.pos].strip("\ufeff \t\r\n") and _is_html(e.doc):
            return Skip(str(path), "", HTML_EXPORT)
        return Skip(str(path), "", f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); truncated export?")
    except RecursionError:
        return Skip(str(path), "", "not a Telegram export (JSON nested too deeply)")
    except UnicodeDecodeError as e:
        if e.reason == "unexpected end of data" and e.end == len(e.object):  # cut inside a letter
            return Skip(str(path), "", f"cut short at byte {e.start} (a letter is left unfinished); truncated export?")
        if e.object.startswith(b"SQLite format 3\x00"):
            return Skip(str(path), "", "an SQLite database (a tgwatch store?), not an export: a store is named with --db")
        if e.object.startswith(b"PK\x03\x04"):
            return Skip(str(path), "", "a zip archive: unpack it, then replay the folder")
        if e.object.startswith(b"\x1f\x8b"):
            return Skip(str(path), "", "gzip-compressed: unpack it (gunzip), then replay the file")
        return Skip(str(path), "", f"not UTF-8 text (byte {e.start}: {e.reason})")
    except ValueError:  # an integer of more than 4300 digits
        return Skip(str(path), "", "not a Telegram export (a number too long to read)")
    except OSError as e:
        return Skip(str(path), "", f"cannot read: {e.strerror or 'read error'}")
    if not isinstance(data, dict):
        return Skip(str(path), "", "not a Telegram export (the top level is not an object)")
    return data


def find_exports(paths: Iterable[str | Path]) -> list[Path]:
    """Every export file named, or found as result.json below a named folder (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.rglob("result.json")))
        else:
            out.append(p)
    return out
