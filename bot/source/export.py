"""Read Telegram Desktop "Export chat history" JSON (single chats and full-account exports).

Service messages are skipped; a bad message is reported with its file and index and skipped.
Files are streamed (bot.source.stream), not loaded whole, but for a small single chat that
decodes exactly as it streams (.decoded, at a fraction of the CPU): a file cut short or damaged gives the
messages before the break, and one skip says where it broke; a file that is not JSON at all is
reported once and the rest goes on. Here: finding the files and choosing how each is read; a
message becomes a Post in .message, a chat its posts in .chat, a full-account pass is .walk, a whole read .whole.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any, Iterable, Iterator

from ijson.common import JSONError

from ..post import Post
from .chat import _after, _chat_posts
from .checks import Skip
from .decoded import decoded_first
from .stream import (CHUNK, POOL, SMALL, YAJL, Broken, Sliced, Source, Spill, describe_break, detect_encoding,
                     messages_last, resume_after, stream_items)
from .walk import _MESSAGE, HEADER_KEYS, SCALARS, _break_place, _Walk, _walk_parts
from .whole import _load_export, _not_json, _parts

# Importable from here as before the split (bot.source, bot.source.jsonl, bot.cli.replay, tests, bench).
from .chat import NOT_A_CHANNEL  # noqa: F401
from .checks import UNEXPECTED, BadInput, Note, check_int, check_text, iso_time, post_date, show, unix_time  # noqa: F401
from .message import flatten_text  # noqa: F401
from .whole import HTML_EXPORT  # noqa: F401

__all__ = ["Skip", "Note", "BadInput", "read_export", "export_parts", "post_date", "find_exports", "flatten_text", "check_int", "iso_time", "show"]


def read_export(path: str | Path) -> Iterator[Post | Skip]:
    """Posts (and skips) from one result.json: a single chat or a full-account export."""
    for part in export_parts(path):
        yield from part


def export_parts(path: str | Path) -> list[Iterator[Post | Skip]]:
    """One result.json as one iterator of posts (and skips) per chat, each in date order (a
    full-account export as a whole is not: its chats follow one another). A single chat in Telegram
    Desktop's key order is streamed as the merge asks (a small one decoded whole when it first does);
    any other file is read in one streaming pass now, its messages spilled to a temporary file chat
    by chat, so that no chat is held in memory."""
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
        messages = _streamed(path, encoding, bom)
        if encoding == "utf-8" and _small(path):  # read whole, as before streaming (now decoded, and only when it is small)
            messages = decoded_first(path, bom, messages)
        return [_chat_posts(header, str(path), "", messages)]
    return _walked_parts(path, encoding, bom)


def _desktop_header(path: Path, encoding: str, bom: int) -> dict[str, Any] | None:
    """A single chat's name, type, id (and username), when they come before `messages` and the
    messages come last, as Telegram Desktop writes them: the file can then be streamed as it is
    read. None for any other file (a full-account export, another key order, a damaged start)."""
    header: dict[str, Any] = {}
    source = Source(path, bom, encoding)
    events = YAJL.parse(Sliced(source), use_float=True, buf_size=CHUNK)
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


def _streamed(path: Path, encoding: str, bom: int) -> Iterator[Any]:
    """A single chat's messages as ijson reads them; where it breaks, a Skip saying so (in a large
    file, a message yajl refuses but json reads is read with json, and the stream goes on after it)."""
    n, last = 0, None
    source = Source(path, bom, encoding)
    source.watch(2)
    # a small file's first read in pieces (Sliced): a break in it is told as json.load tells it, not by yajl
    reading: Source | Sliced = Sliced(source) if _small(path) else source
    try:
        while True:
            try:
                for msg in stream_items(reading, "messages.item"):
                    yield msg
                    n, last = n + 1, msg
                return
            except Broken as e:
                found = None if _small(path) else resume_after(source, e.error, 2)
                if found is not None:
                    msg, after = found
                    source = reading = source.resumed(after, b'{"messages":[')
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
                for msg in stream_items(walk.events(source, skip, chunk=CHUNK), _MESSAGE):
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


def find_exports(paths: Iterable[str | Path]) -> list[Path]:
    """Every export file named, or found as result.json below a named folder (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.rglob("result.json")))
        else:
            out.append(p)
    return out
