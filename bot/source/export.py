"""Read Telegram Desktop "Export chat history" JSON (single chats and full-account exports).

Service messages are skipped; a bad message is reported with its file and index and skipped;
a file that is not JSON or is cut short is reported once and the rest goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..post import Entity, Post

__all__ = ["Skip", "read_export", "find_exports", "flatten_text"]


@dataclass(frozen=True)
class Skip:
    """Something not turned into a post, and why: printable as `file: where: reason`."""

    path: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.reason}" if self.where else f"{self.path}: {self.reason}"


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def flatten_text(text: Any) -> tuple[str, tuple[Entity, ...]]:
    """An export's `text` (a string, or a list of strings and parts) -> plain text + entities."""
    if isinstance(text, str):
        return text, ()
    if not isinstance(text, list):
        raise ValueError("text is neither a string nor a list of parts")
    out: list[str] = []
    entities: list[Entity] = []
    offset = 0
    for part in text:
        if isinstance(part, str):
            s = part
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            s = part["text"]
            kind = part.get("type", "plain")
            if kind != "plain":
                url = part.get("href") or (s if kind == "link" else None)
                entities.append(Entity(str(kind), offset, _utf16_len(s), url))
        else:
            raise ValueError("a text part is neither a string nor {type, text}")
        out.append(s)
        offset += _utf16_len(s)
    return "".join(out), tuple(entities)


def unix_time(value: Any) -> datetime:
    """Unix seconds (an int or a numeric string) -> aware UTC datetime; ValueError when not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"date {value!r} is not a Unix time")
    try:
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"date {value!r} is not a Unix time in range") from None


def check_text(text: str) -> str:
    """Text must be storable: valid Unicode with no lone surrogate (half an emoji)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text is not valid Unicode (a lone surrogate, half an emoji?)") from None
    return text


def _ts(value: Any) -> datetime | None:
    return None if value in (None, "") else unix_time(value)


def _date(msg: dict[str, Any]) -> datetime:
    if "date_unixtime" in msg:
        if msg["date_unixtime"] in (None, ""):
            raise ValueError("date_unixtime is empty")
        return unix_time(msg["date_unixtime"])
    # Old exports: `date` is the exporting PC's local time; the best we can do is read it as UTC.
    return datetime.fromisoformat(msg["date"]).replace(tzinfo=timezone.utc)


def _media(msg: dict[str, Any]) -> str | None:
    if "photo" in msg:
        return "photo"
    if "media_type" in msg:
        return str(msg["media_type"])
    if "file" in msg:
        return "document"
    for kind in ("poll", "location_information", "contact_information"):
        if kind in msg:
            return kind.split("_")[0]
    return None


def _message_to_post(msg: dict[str, Any], chat: dict[str, Any]) -> Post:
    text, entities = flatten_text(msg.get("text", ""))
    check_text(text)
    fwd = msg.get("forwarded_from")
    return Post(
        channel_id=int(chat["id"]),
        message_id=int(msg["id"]),
        date=_date(msg),
        text=text,
        channel_title=str(chat.get("name") or ""),
        channel_username=chat.get("username") or None,
        edit_date=_ts(msg.get("edited_unixtime")),
        entities=entities,
        forward_name=str(fwd) if fwd else None,
        media=_media(msg),
    )


def _chat_posts(chat: dict[str, Any], path: str, where: str) -> Iterator[Post | Skip]:
    if "id" not in chat:
        yield Skip(path, where, "chat has no id")
        return
    messages = chat.get("messages")
    if not isinstance(messages, list):
        yield Skip(path, where, "chat has no messages list")
        return
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            yield Skip(path, f"{where}message #{i}", "not an object")
            continue
        label = f"{where}message #{i} (id {msg.get('id', '?')})"
        kind = msg.get("type", "message")
        if kind != "message":
            yield Skip(path, label, f"{kind} message")
            continue
        try:
            yield _message_to_post(msg, chat)
        except (KeyError, ValueError, TypeError, OverflowError, OSError) as e:
            what = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            yield Skip(path, label, what)


def read_export(path: str | Path) -> Iterator[Post | Skip]:
    """Posts (and skips) from one result.json: a single chat or a full-account export."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        yield Skip(str(path), "", f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}); truncated export?")
        return
    except RecursionError:
        yield Skip(str(path), "", "not a Telegram export (JSON nested too deeply)")
        return
    except (OSError, UnicodeDecodeError) as e:
        yield Skip(str(path), "", f"cannot read: {e}")
        return
    if not isinstance(data, dict):
        yield Skip(str(path), "", "not a Telegram export (the top level is not an object)")
        return
    chats = data.get("chats", {}).get("list") if isinstance(data.get("chats"), dict) else None
    if chats is not None and not isinstance(chats, list):
        yield Skip(str(path), "", "not a Telegram export ('chats.list' is not a list)")
    elif chats is not None:
        for n, chat in enumerate(chats):
            if isinstance(chat, dict):
                yield from _chat_posts(chat, str(path), f"chat #{n} ({chat.get('name', '?')}): ")
    elif "messages" in data:
        yield from _chat_posts(data, str(path), "")
    else:
        yield Skip(str(path), "", "not a Telegram export (no 'messages' and no 'chats.list')")


def find_exports(paths: Iterable[str | Path]) -> list[Path]:
    """Every export file named, or found as result.json below a named folder (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.rglob("result.json")))
        else:
            out.append(p)
    return out
