"""An export read whole with json (a pipe, or a small file the stream refused), and a file that is
no export (a web page, a database, an archive) told by its first bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from ..post import Post
from .chat import _chat_posts, chat_place
from .checks import Skip, show

__all__ = ["HTML_EXPORT"]


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
        if not e.doc.strip("\ufeff \t\r\n"):  # not "truncated": there was never anything in it
            return Skip(str(path), "", "empty file: no export in it" if e.doc else "empty file (0 bytes): no export in it")
        if not e.doc[:e.pos].strip("\ufeff \t\r\n"):  # refused at its first character: never JSON, not cut short
            if _is_html(e.doc):
                return Skip(str(path), "", HTML_EXPORT)
            head = " ".join(e.doc.lstrip("\ufeff \t\r\n").split("\n", 1)[0].split())
            return Skip(str(path), "", f"not a Telegram export: not JSON (it starts with {show(head)})")
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


def _not_json(path: Path, head: bytes) -> Skip | None:
    """A file that is plainly no JSON export, by its first bytes (a page, a database, an archive)."""
    why = (HTML_EXPORT if _is_html(head.decode("utf-8", "replace")) else
           "an SQLite database (a tgwatch store?), not an export: a store is named with --db"
           if head.startswith(b"SQLite format 3\x00") else
           "a zip archive: unpack it, then replay the folder" if head.startswith(b"PK\x03\x04") else
           "gzip-compressed: unpack it (gunzip), then replay the file" if head.startswith(b"\x1f\x8b") else None)
    return None if why is None else Skip(str(path), "", why)


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
                    parts.append(_chat_posts(chat, str(path), chat_place(label, n, chat.get("name"))))
                else:
                    parts.append(iter([Skip(str(path), f"{label} #{n}", "not an object")]))
        return parts
    if "messages" in data:
        return [_chat_posts(data, str(path), "")]
    return [iter([Skip(str(path), "", "not a Telegram export (no 'messages' and no 'chats.list')")])]
