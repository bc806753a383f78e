"""A small single-chat export decoded whole with msgspec: half the stream's CPU (the corpus: 0.25 s
against 0.5 s), as the fields tgwatch does not read, text_entities above all, are skipped in C. A
file is decoded only when the stream would read the same messages from it; any other (damaged,
odd, larger) file is streamed.

A decoded file is held in memory (about its size) until it is read through: files of at most WHOLE
bytes, at most BUDGET bytes of them at a time, each message let go of once it is handed out. A file
is decoded when the merge by date first asks it for more than its first messages.
"""

from __future__ import annotations

import codecs
import re
import sys
from pathlib import Path
from typing import Any, Iterator, Required, TypedDict

import msgspec

__all__ = ["BUDGET", "WHOLE", "decoded_first"]

WHOLE = 4 << 20  # a larger export is streamed, never held (a year of a busy channel is tens of MB)
BUDGET = 64 << 20  # bytes of the files decoded and not yet read through
_held = 0


class _Part(TypedDict, total=False):
    """A text part: its text must be a string, so that `text` always reads and `text_entities` (the
    same parts again, and as large) is never needed; type and href as written (.message checks them)."""

    text: Required[str]
    type: Any
    href: Any


class _Message(TypedDict, total=False):
    """The fields of a message that .chat and .message read, as written; any other is skipped."""

    id: Any
    type: Any
    date: Any
    date_unixtime: Any
    text: str | list[str | _Part]
    edited: Any
    edited_unixtime: Any
    forwarded_from: Any
    photo: Any
    media_type: Any
    file: Any
    poll: Any
    location_information: Any
    contact_information: Any


class _Export(TypedDict):
    messages: list[_Message]


_DECODER = msgspec.json.Decoder(_Export)
# `"messages"` with any of its letters written as a \u escape (as keys are compared), in any case:
# found once (a second is a list the stream reads too, or only a text). Of bounded length, so
# linear: a pattern running on through escaped text took 15 s on 600 kB of \u0430s.
_MESSAGES_KEY = re.compile(b'"' + b"".join(rb"(?:%c|\\u00%x)" % (c, c) for c in b"messages") + b'"', re.IGNORECASE)
_DIGITS = re.compile(rb"[0-9]+")


def _long_digits(data: bytes) -> bool:
    """Does `data` hold a run of more digits than Python reads as an integer (json refuses the file;
    msgspec skips the number when it is in a field not read)? Such a run covers a byte at a multiple
    of the limit + 1: only the runs through those bytes are measured."""
    limit = sys.get_int_max_str_digits()
    if not limit:
        return False
    step = limit + 1
    for m in re.finditer(rb"[0-9]", data[::step]):
        run = _DIGITS.match(data, m.start() * step)  # on from that digit: the run's end
        if run and run.end() >= step and data[run.end() - step:run.end()].isdigit():
            return True
    return False


_SLICE = 1 << 16  # bytes checked as UTF-8 at a time


def _utf8(data: bytes) -> bool:
    """Is `data` UTF-8, as `data.decode()` would find it? Decoded a slice at a time: a 4 MB file
    decoded whole made an 8 MB text only to drop it (0.03 s more CPU on the corpus, in page faults)."""
    check = codecs.getincrementaldecoder("utf-8")().decode  # (a character cut between two slices is whole)
    view = memoryview(data)
    try:
        for start in range(0, len(view), _SLICE):
            check(view[start:start + _SLICE])
        check(b"", True)  # (a file ending in the middle of a character is not UTF-8)
    except UnicodeDecodeError:
        return False
    return True


def _decode(path: Path, bom: int) -> list[Any] | None:
    """The messages of a single-chat export, or None when the stream might read it otherwise: bytes
    that are not UTF-8 or a number json refuses (in a field not read: the stream stops there), a
    second `messages` (the stream reads both), anything msgspec refuses (a cut, NaN, a lone surrogate
    escape, nesting past the recursion limit, a field of an unexpected type)."""
    try:
        with path.open("rb") as f:
            data = f.read(WHOLE + 1)
    except OSError:
        return None
    if len(data) > WHOLE or not _utf8(data) or len(_MESSAGES_KEY.findall(data)) != 1 or _long_digits(data):
        return None
    try:
        return _DECODER.decode(memoryview(data)[bom:])["messages"]
    except (msgspec.DecodeError, RecursionError):
        return None


HEAD = 2  # messages read from the stream before the file is decoded


def decoded_first(path: Path, bom: int, streamed: Iterator[Any]) -> Iterator[Any]:
    """A single-chat UTF-8 export's messages: the first HEAD from `streamed` (the stream of the same
    messages), the rest decoded whole when it is at most WHOLE bytes and the BUDGET allows, else (or
    when _decode refuses it, or the file changed meanwhile) streamed on. The merge by date asks each
    file for its first post at once and for the next ones only when their dates come: a replay's
    first batch waits for the stream's first messages, not for every file to be decoded."""
    global _held
    first: list[Any] = []
    identity = _identity(path)
    for msg in streamed:
        yield msg
        if not isinstance(msg, dict):  # a Skip: the stream broke (or will); it says how, as before
            yield from streamed
            return
        first.append(msg)
        if len(first) == HEAD:
            break
    else:
        return
    size = identity[2] if identity else WHOLE + 1
    messages = None
    if size <= WHOLE and _held + size <= BUDGET and _identity(path) == identity:
        messages = _decode(path, bom)
    if messages is None or not _same(first, messages):
        yield from streamed
        return
    close = getattr(streamed, "close", None)
    if close is not None:
        close()  # (its file is let go of: the rest is decoded)
    _held += size
    try:
        for i in range(HEAD, len(messages)):
            msg, messages[i] = messages[i], None  # let go of it once read
            yield msg
    finally:
        _held -= size


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    """The file `path` names, its size and change time (None: it cannot be read)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _same(first: list[dict[str, Any]], messages: list[Any]) -> bool:
    """Does the decoded file begin with the messages the stream gave (each field decoded as streamed)?"""
    return len(messages) >= len(first) and all(map(_covers, first, messages))


def _covers(streamed: Any, decoded: Any) -> bool:
    """Is `decoded` what the stream read, but for the fields decoding skips (a text part's entity fields)?"""
    if isinstance(decoded, dict):
        return isinstance(streamed, dict) and all(_covers(streamed.get(k), v) for k, v in decoded.items())
    if isinstance(decoded, list):
        return isinstance(streamed, list) and len(streamed) == len(decoded) and all(map(_covers, streamed, decoded))
    return bool(streamed == decoded)
