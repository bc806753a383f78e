"""Read posts from JSON Lines: one post object per line (schema in the README)."""

from __future__ import annotations

import errno
import io
import json
import re
import stat
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, TypeVar

from ..post import TG_LINK, Entity, Post, marked_id
from .checks import _INT_TEXT, UNEXPECTED, BadInput, Note, Skip, check_int, check_text, edited_after, iso_time, post_date, show, unix_time
from .stream import CHUNK, POOL, Changed

__all__ = ["STDIN", "read_jsonl", "post_from_dict"]

T = TypeVar("T")

STDIN = "-"  # the path that names standard input: JSON Lines piped in


def _when(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return unix_time(value, field)
    if isinstance(value, str):
        try:
            return iso_time(value, field)
        except BadInput:
            if not _INT_TEXT.fullmatch(value.strip()):
                raise
            return unix_time(value.strip(), field)  # "1732093440", as Desktop exports write date_unixtime
    raise BadInput(f"{field} {show(value)} is not an ISO 8601 date or a Unix time")


def _int(d: dict[str, Any], key: str, required: bool = False, minimum: int | None = None) -> int | None:
    v = d.get(key)
    if v is None:
        if required:
            raise KeyError(key)
        return None
    return check_int(v, key, minimum=minimum, strings=True)


def _channel_id(d: dict[str, Any], key: str, required: bool = False) -> int | None:
    """A channel's id (channel_id, forward_channel_id), bare or marked -100…; BadInput for 0 (a
    placeholder: it links t.me/c/0/N) and for -N, a basic group's marked id (read as channel N before)."""
    n = _int(d, key, required)
    if n == 0 or n == marked_id(0):
        raise BadInput(f"{key} {show(d[key])} is no channel's id")
    if n is not None and marked_id(0) < n < 0:  # Telegram's marked id of a basic group: -5 is no channel 5
        raise BadInput(f"{key} {show(d[key])} is a basic group's id (Telegram marks a basic group's id -N, "
                       "a channel's -100N), not a channel's")
    return n


_USERNAME = re.compile(rf"(?:{TG_LINK}(?:s/)?|@)?([A-Za-z][A-Za-z0-9_]{{3,31}})/?", re.IGNORECASE)


def _username(value: str | None) -> str | None:
    """channel_username as name, @name or the channel's t.me link -> name (it builds every post
    link); BadInput when it is none of those ("my chan" would give https://t.me/my chan/1)."""
    if not value or not value.strip().strip("@"):
        return None
    m = _USERNAME.fullmatch(value.strip())
    if m is None:
        raise BadInput(f"channel_username {show(value)} is not a Telegram username (name, @name or t.me/name)")
    return m.group(1)


def _entity(k: int, e: Any) -> Entity:
    """Entity #k of the `entities` list; BadInput naming it and the field when it is bad."""
    if not isinstance(e, dict):
        raise BadInput(f"entity #{k} is not an object")
    for key in ("type", "offset", "length"):
        if e.get(key) is None:
            raise BadInput(f"entity #{k} has no {key}")
    if not isinstance(e["type"], str):
        raise BadInput(f"entity #{k}: type {show(e['type'])} is not a string")
    url = e.get("url")
    if url is not None and not isinstance(url, str):
        raise BadInput(f"entity #{k}: url {show(url)} is not a string")
    return Entity(e["type"], check_int(e["offset"], f"entity #{k}: offset", minimum=0),
                  check_int(e["length"], f"entity #{k}: length", minimum=0), url)


def _entities(value: Any) -> tuple[Entity, ...]:
    """The `entities` list -> Entities; BadInput naming the entity and field when one is bad."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise BadInput("entities must be a list of objects")
    return tuple(_entity(k, e) for k, e in enumerate(value))


def _optional(notes: list[str] | None, without: str, read: Callable[[], T], default: T) -> T:
    """An optional field as `read` gives it; a bad one is BadInput, or with `notes` a note saying
    the post is kept `without` it, and `default`: its text is what a rule matches, not the field."""
    try:
        return read()
    except BadInput as e:
        if notes is None:
            raise
        notes.append(f"{e}: the post is kept without {without}")
        return default


def _string(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise BadInput(f"{key} must be a string")
    return value or None


def _entities_kept(value: Any, notes: list[str] | None) -> tuple[Entity, ...]:
    """`entities`; with `notes`, a bad entity is left out (a note names it) and the others kept."""
    if notes is None or not isinstance(value, list):
        return _optional(notes, "its formatting", lambda: _entities(value), ())
    kept: list[Entity] = []
    for k, e in enumerate(value):
        try:
            kept.append(_entity(k, e))
        except BadInput as err:
            notes.append(f"{err}: the post is kept without that formatting")
    return tuple(kept)


def _forward(d: dict[str, Any]) -> tuple[int | None, int | None, str | None]:
    """The forward origin (channel id, post id, name); BadInput when any part of it is bad."""
    return _channel_id(d, "forward_channel_id"), _int(d, "forward_post_id", minimum=1), _string(d, "forward_name")


def post_from_dict(d: dict[str, Any], notes: list[str] | None = None) -> Post:
    """One JSON Lines record -> Post; raises KeyError (a missing field) or BadInput (a bad one,
    named in its text). With `notes`, a bad optional field (edit date, formatting, forward origin,
    album, media kind, channel title or username) is appended there and the post kept without it, as a
    Desktop export's message is: its text is what the rules read."""
    text = d.get("text")
    if text is None:  # a post with no text (a photo alone) written as null, as when the key is left out
        text = ""
    if not isinstance(text, str):
        raise BadInput("text must be a string")
    check_text(text)
    channel_id = _channel_id(d, "channel_id", required=True)
    message_id = _int(d, "message_id", required=True, minimum=1)
    date = _when(d.get("date"), "date")
    if date is None:
        raise KeyError("date")
    post_date(date, d["date"], "date")
    kept: list[str] | None = [] if notes is not None else None  # appended to `notes` once the post is sure to be read
    forward = _optional(kept, "its forward origin", lambda: _forward(d), None)
    fwd_channel, fwd_post, forward_name = forward or (None, None, None)  # the origin is left out whole
    post = Post(  # (the ids are ints: required=True raises KeyError rather than give None)
        channel_id=channel_id,  # type: ignore[arg-type]
        message_id=message_id,  # type: ignore[arg-type]
        date=date, text=text,
        channel_title=_optional(kept, "its channel's title", lambda: _string(d, "channel_title"), None) or "",
        channel_username=_optional(kept, "its channel's username (its link names the channel id)",
                                   lambda: _username(_string(d, "channel_username")), None),
        edit_date=_optional(kept, "an edit date", lambda: edited_after(_when(d.get("edit_date"), "edit_date"), date, d.get("edit_date"), "edit_date"), None),
        entities=_entities_kept(d.get("entities"), kept),
        forward_channel_id=fwd_channel,
        forward_post_id=fwd_post,
        forward_name=forward_name,
        grouped_id=_optional(kept, "its album (it is a post of its own)", lambda: _int(d, "grouped_id"), None),
        media=_optional(kept, "its media kind", lambda: _string(d, "media"), None),
    )
    if notes is not None and kept:
        notes.extend(kept)
    return post


def read_jsonl(path: str | Path) -> Iterator[Post | Skip]:
    """Posts from a .jsonl file in date order; a bad line is skipped and reported with its line
    number. A file that is not in date order (channels one after another, say) is read line by
    line in date order, so replay folds stories as they happened (the lines of one date stay in
    file order: an edit follows its post). A regular file is read through the descriptor pool, so
    any number of them can be merged at once."""
    path = Path(path)
    if str(path) != STDIN:
        try:
            regular = stat.S_ISREG(path.stat().st_mode)
        except OSError:
            regular = False  # the open below says why it cannot be read
        if regular:
            yield from _read_pooled(path)
            return
    try:
        f = _stdin() if str(path) == STDIN else path.open("rb")
    except OSError as e:
        yield Skip("<stdin>" if str(path) == STDIN else str(path), "", f"cannot read: {e.strerror or 'read error'}")
        return
    if str(path) == STDIN:
        path = Path("<stdin>")  # as its lines are named in skips: "<stdin>: line 3: ..."
    with f:
        if f.peek(2)[:2] in _UTF16:
            yield Skip(str(path), "", _UTF16_TEXT)
            return
        order = _date_order(enumerate(f, 1)) if f.seekable() else None  # a pipe is read once, as it comes
        if order is None:
            if f.seekable():
                f.seek(0)
            lines: Iterator[tuple[int, bytes]] = enumerate(f, 1)
        else:
            lines = ((n, _line_at(f, offset)) for n, offset, _ in order)
        yield from _posts(path, lines)


# every line would be reported as bad JSON, not why
_UTF16 = (b"\xff\xfe", b"\xfe\xff")
_UTF16_TEXT = ("UTF-16 text (as Windows PowerShell's > writes it), not UTF-8: "
               "save it as UTF-8 (Out-File -Encoding utf8) and replay it again")


def _posts(path: Path, lines: Iterable[tuple[int, bytes]], values: bool = True) -> Iterator[Post | Skip]:
    """The posts (and skips) of numbered lines; one Skip when no line holds a post. From a line
    that opens a value it does not close (`jq` without -c, a Desktop export's «{»), lines read in
    file order are read as a stream of JSON values (`_values`)."""
    blank = True
    lines = iter(lines)
    for k, (n, raw) in enumerate(lines, 1):
        if values and n == k and _opens_a_value(raw):
            items = _values(path, n, raw + b"".join(rest for _, rest in lines))
            blank = blank and not items
            yield from items
            break
        items = _read_line(path, n, raw)
        if items:
            blank = False
            yield from items
    if blank:  # said, not passed over: an export or a copy that failed leaves such a file
        yield Skip(str(path), "", "empty: no line in it holds a post")


def _read_pooled(path: Path) -> Iterator[Post | Skip]:
    """A regular file's posts, read through the descriptor pool (reopened by name when the pool
    closed it; a file replaced or rewritten meanwhile is not read on)."""
    reader = _Pooled(str(path))
    n = 0
    try:
        if reader.pread(2, 0) in _UTF16:
            yield Skip(str(path), "", _UTF16_TEXT)
            return
        order = _date_order(reader.lines())
        lines = (reader.lines() if order is None else
                 ((n, reader.pread(size, offset)) for n, offset, size in order))

        def numbered() -> Iterator[tuple[int, bytes]]:
            nonlocal n
            for n, raw in lines:
                yield n, raw

        yield from _posts(path, numbered())
    except OSError as e:
        where = f"after line {n}" if n else ""
        yield Skip(str(path), where, e.strerror if isinstance(e, Changed) else f"cannot read: {e.strerror or 'read error'}")
    finally:
        POOL.close(str(path))


class _Pooled:
    """A file read at offsets through the pool; Changed once it is no longer the file first read."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.identity: tuple[int, ...] | None = None

    def pread(self, n: int, offset: int) -> bytes:
        data = POOL.pread(self.path, n, offset)
        identity = POOL.identity(self.path)
        if self.identity is None:
            self.identity = identity
        elif identity != self.identity:
            raise Changed()
        return data

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """(line number, line) from the start, each line with its newline as a file gives it."""
        offset, n, pending = 0, 0, b""
        while True:
            data = self.pread(CHUNK if len(pending) < CHUNK else 2 * len(pending), offset)
            if not data:
                if pending:
                    yield n + 1, pending
                return
            offset += len(data)
            lines = (pending + data).split(b"\n") if pending else data.split(b"\n")
            pending = lines.pop()
            for line in lines:
                n += 1
                yield n, line + b"\n"


def _stdin() -> io.BufferedReader:
    """Standard input as bytes (a pipe is read once, as it comes; a file redirected in is put in
    date order as a named one is). Closed (`<&-`: Python has no sys.stdin then): an OSError saying so."""
    if sys.stdin is None:
        raise OSError(errno.EBADF, "standard input is closed")
    f: Any = getattr(sys.stdin, "buffer", sys.stdin)  # a stand-in stdin of bytes (tests) has no .buffer
    return f if hasattr(f, "peek") else io.BufferedReader(f)


def _date_order(lines: Iterable[tuple[int, bytes]]) -> list[tuple[int, int, int]] | None:
    """(line number, offset, size) of every numbered line in date order, or None when the lines are
    in date order already. Lines without a readable date come first (they are only skipped)."""
    keys: list[tuple[float, int, int, int]] = []
    offset, last, ordered = 0, float("-inf"), True
    for n, raw in lines:
        when = _line_date(raw)
        if when == float("-inf") and _opens_a_value(raw):  # values over several lines: read in file order
            return None
        if when < last:
            ordered = False
        last = max(last, when)
        keys.append((when, n, offset, len(raw)))
        offset += len(raw)
    if ordered:
        return None
    keys.sort()
    return [(n, at, size) for _, n, at, size in keys]


def _line_date(raw: bytes) -> float:
    """The Unix time of a line's post date, -inf when it has none that can be read."""
    try:
        rec = json.loads(raw.decode("utf-8-sig"))
        when = _when(rec.get("date"), "date") if isinstance(rec, dict) else None
    except (ValueError, RecursionError, BadInput):  # JSON, Unicode and date errors: the real read reports them
        return float("-inf")
    return when.timestamp() if when is not None else float("-inf")


def _line_at(f: BinaryIO, offset: int) -> bytes:
    f.seek(offset)
    return f.readline()


def _opens_a_value(raw: bytes) -> bool:
    """Whether a line starts a JSON object or list that only later lines can close («{», «[»,
    `{"channel_id": 1,`): what each line of pretty-printed JSON would be reported as, bad JSON."""
    try:
        line = raw.decode("utf-8-sig").strip()
        json.loads(line)
    except json.JSONDecodeError as e:
        return line[:1] in ("{", "[") and e.pos >= len(line)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    return False


_WHITESPACE = re.compile(r"\s*")
_NEXT_VALUE = re.compile(r"\n(?=[{\[])")  # where a value starts at a line's first column: the next post, after a bad one
DESKTOP_EXPORT = ("a whole Telegram Desktop export (result.json), not JSON Lines: replay it by its path "
                  "(tgwatch replay …/result.json), not as JSON Lines")


def _values(path: Path, first: int, data: bytes) -> list[Post | Skip]:
    """The posts of a stream of JSON values from line `first` on (objects over several lines, as
    `jq` prints them without -c; a list of them), in date order; a bad value is skipped by the
    line it starts on, and reading goes on at the next line that starts a value. A whole Desktop
    export is one Skip saying what it is."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:  # read line by line: each bad line is named
        return list(_posts(path, enumerate(data.splitlines(keepends=True), first), values=False))
    decoder = json.JSONDecoder()
    read: list[tuple[float, int, list[Post | Skip]]] = []
    pos, n = 0, first
    while (start := _WHITESPACE.match(text, pos).end()) < len(text):  # type: ignore[union-attr]  # (\s* always matches)
        n += text.count("\n", pos, start)
        try:
            value, pos = decoder.raw_decode(text, start)
        except (ValueError, RecursionError) as e:
            read.append((float("-inf"), len(read), [Skip(str(path), f"line {n}", _bad_value(e, first - 1, n))]))
            found = _NEXT_VALUE.search(text, start)
            pos = len(text) if found is None else found.end()
            n += text.count("\n", start, pos)
            continue
        if _whole_export(value):
            read.append((float("-inf"), len(read), [Skip(str(path), "" if n == 1 else f"line {n}", DESKTOP_EXPORT)]))
        else:
            for rec in value if isinstance(value, list) else [value]:
                items = _read_record(path, f"line {n}", rec)
                read.append((items[-1].date.timestamp() if isinstance(items[-1], Post) else float("-inf"), len(read), items))
        n += text.count("\n", start, pos)
    read.sort(key=lambda r: (r[0], r[1]))
    return [item for _, _, items in read for item in items]


def _whole_export(value: Any) -> bool:
    """A Telegram Desktop export's result.json (a chat's `messages`, or a whole account's `chats`)."""
    return isinstance(value, dict) and ("messages" in value or "chats" in value) and "message_id" not in value


def _bad_value(e: ValueError | RecursionError, before: int, n: int) -> str:
    """Why a value starting on line `n` is no JSON; the line of the fault when it is a later one."""
    if isinstance(e, RecursionError):
        return "JSON nested too deeply"
    if not isinstance(e, json.JSONDecodeError):
        return "not valid JSON (a number too long to read)"
    at = before + e.lineno
    return f"not valid JSON ({f'line {at}, ' if at != n else ''}column {e.colno}: {e.msg})"


def _read_line(path: Path, n: int, raw: bytes) -> list[Post | Skip]:
    """Line `n` of a .jsonl file as a post (after a Note for each bad field left out of it), the
    Skip that says why not, or nothing when blank."""
    try:
        line = raw.decode("utf-8-sig")  # a BOM (Windows editors) is not part of the first post
    except UnicodeDecodeError as e:
        return [Skip(str(path), f"line {n}", f"not UTF-8 ({e.reason})")]
    if not line.strip():
        return []
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        return [Skip(str(path), f"line {n}", f"not valid JSON (column {e.colno}: {e.msg})")]
    except RecursionError:
        return [Skip(str(path), f"line {n}", "JSON nested too deeply")]
    except ValueError:  # an integer of more than 4300 digits
        return [Skip(str(path), f"line {n}", "not valid JSON (a number too long to read)")]
    return _read_record(path, f"line {n}", rec)


def _read_record(path: Path, where: str, rec: Any) -> list[Post | Skip]:
    """One JSON value as a post (after a Note for each bad field left out of it), or the Skip
    that says why not; `where` names its line."""
    if not isinstance(rec, dict):
        kind = "a list" if isinstance(rec, list) else show(rec)
        return [Skip(str(path), where, f"{kind}, not a JSON object (one post object per line)")]
    notes: list[str] = []
    try:
        post = post_from_dict(rec, notes)
    except KeyError as e:
        return [Skip(str(path), where, f"missing field {e}")]
    except BadInput as e:
        return [Skip(str(path), where, str(e))]
    except (ValueError, TypeError, OverflowError):  # a check missed: still one line, no Python text
        return [Skip(str(path), where, UNEXPECTED)]
    return [*(Note(str(path), where, why) for why in notes), post]
