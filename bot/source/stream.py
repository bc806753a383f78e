"""Streaming reads of Telegram Desktop exports (ijson's yajl2_c backend): a message at a time, so
memory stays bounded whatever an export's size, and a file cut short still gives what precedes
the cut. Files are read through a small pool of descriptors, so thousands of exports can be
merged at once under a 1024-file ulimit."""

from __future__ import annotations

import codecs
import errno
import io
import json
import logging
import marshal
import os
import re
import struct
import tempfile
import weakref
from collections import OrderedDict
from itertools import accumulate
from pathlib import Path
from typing import Any, Iterable, Iterator, NamedTuple

from ijson.common import JSONError

from ..heldfile import LOCKS, held_temp, writer_gone

try:  # the C parser (ijson's wheels ship it): as fast as json.load
    from ijson.backends import yajl2_c as YAJL
except ImportError:  # pragma: no cover (a platform without the wheel: pure Python, slower, same results)
    from ijson.backends import python as YAJL

__all__ = ["YAJL", "CHUNK", "MAX_OPEN", "MAX_NEST", "SMALL", "POOL", "Broken", "Source", "Sliced", "Spill", "TooDeep", "detect_encoding",
           "head_of", "messages_last", "stream_items", "describe_break", "resume_after", "sweep_spills"]

log = logging.getLogger(__name__)

MAX_OPEN = 64  # descriptors the readers of one process hold at once (ulimit -n is often 1024)
MAX_NEST = 1500  # brackets opened and not closed: deeper is refused (yajl's prefixes grow as depth squared)
SMALL = 16 << 20  # a file this small that ijson refuses is read whole with json, as before streaming
CHUNK = 1 << 16


class FilePool:
    """Read-only descriptors by path, at most `size` open (the least recently read is closed and
    reopened when asked again): every stream of a merge stays started, the files do not all stay open."""

    def __init__(self, size: int = MAX_OPEN) -> None:
        self.size = size
        self.fds: OrderedDict[str, int] = OrderedDict()

    def pread(self, path: str, n: int, offset: int) -> bytes:
        fd = self.fds.get(path)
        if fd is None:
            while len(self.fds) >= self.size:
                os.close(self.fds.popitem(last=False)[1])
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            self.fds[path] = fd
        else:
            self.fds.move_to_end(path)
        if hasattr(os, "pread"):
            return os.pread(fd, n, offset)
        os.lseek(fd, offset, os.SEEK_SET)  # pragma: no cover (Windows)
        return os.read(fd, n)

    def identity(self, path: str) -> tuple[int, ...]:
        """Which file `path`'s open descriptor reads, and its size and change time: a stream that
        sees these change is reading another file, or one being rewritten."""
        st = os.fstat(self.fds[path])
        return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns

    def close(self, path: str) -> None:
        fd = self.fds.pop(path, None)
        if fd is not None:
            os.close(fd)


POOL = FilePool()


# A \\u escape of a surrogate that is not half of a pair; an escaped backslash before it (\\\\ud800,
# text about escapes) is no escape. A high half ending a read is judged with the next read.
_LONE_SURROGATE = re.compile(rb"(?<!\\)(?:\\\\)*(?:(?P<high>\\u[dD][89abAB][0-9a-fA-F]{2})(?!\\u[dD][c-fC-F])"
                             rb"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})")
_CONTEXT = 12  # bytes of the previous read kept for the check above: a whole pair less one byte, and more
_BRACKET_ONLY = re.compile(rb"[^\[\]{}]+")
_NOT_QUOTE_OR_BRACKET = bytes(b for b in range(256) if b not in b'"[]{}')  # bytes.translate deletes these


class Changed(OSError):
    """The file being streamed was replaced or rewritten since the stream started."""

    strerror: str  # always the message below, which a skip gives as its reason

    def __init__(self) -> None:
        super().__init__(errno.ESTALE, "the file changed while it was being read (replay it again once it is complete)")


class LoneSurrogate(ValueError):
    """A \\uD800-\\uDFFF escape not in a pair: yajl would read it as "?" or stop."""


class TooDeep(ValueError):
    """More brackets opened than MAX_NEST allows (counted on the raw bytes, strings included)."""


class Mark(NamedTuple):
    """Where a read started and the lexical state there: a place to scan the file again from."""

    offset: int
    depth: int
    in_string: bool
    carry: bytes


class Source:
    """A file as ijson reads it (read(n)), from `offset` on, through the pool: UTF-16/32 re-encoded
    as UTF-8 (yajl reads UTF-8 only); the bytes read and the bracket depth are counted."""

    def __init__(self, path: Path | str, offset: int = 0, encoding: str = "utf-8", prefix: bytes = b"") -> None:
        self.path, self.offset = str(path), offset
        self.encoding = encoding
        self.prefix = prefix  # given before the file's bytes (a resumed stream's opening brackets)
        self.levels: tuple[int, ...] = ()  # depths of arrays whose items a break may be skipped past
        self.marks: dict[int, Mark] = {}  # per level: the last read that started at or above it
        self.decoder = None if encoding == "utf-8" else codecs.getincrementaldecoder(encoding)()
        self.depth = 0
        self.in_string = False  # did the last read end inside a string?
        self.carry = b""  # a backslash that ended the last read, escaping the next read's first byte
        self.context = b""  # the last bytes given, for a surrogate pair cut between two reads
        self.pending: LoneSurrogate | None = None  # raised on the read after the bytes that precede it
        self.identity: tuple[int, ...] | None = None  # the file's, at the first read
        self.boost = 1  # reads of n times this: doubled while one string goes on
        self.spanned = False  # did the last read start and end inside the same string?

    def read(self, n: int = CHUNK) -> bytes:
        if n == 0:
            return b""
        if self.pending is not None:
            raise self.pending
        if self.prefix:
            data, self.prefix = self.prefix, b""
            self._nest(data)
            return data
        if self.levels:
            depth = self.depth
            for level in self.levels:
                if depth <= level:
                    self.marks[level] = Mark(self.offset, depth, self.in_string, self.carry)
        data = POOL.pread(self.path, n * self.boost, self.offset)
        identity = POOL.identity(self.path)
        if self.identity is None:
            self.identity = identity
        elif identity != self.identity:  # reopened by name after the pool closed it, or written to
            POOL.close(self.path)
            raise Changed()
        self.offset += len(data)
        if not data:
            POOL.close(self.path)
        if self.decoder is not None:
            data = self.decoder.decode(data, final=not data).encode("utf-8", "surrogatepass")
        window = self.context + data
        if b"\\u" in window:
            lone = next((m for m in _LONE_SURROGATE.finditer(window) if self._judged(m, window, data)), None)
            if lone is not None:  # the bytes before it are given (their messages read), then the stream stops
                self.pending = LoneSurrogate("a lone surrogate escape (half an emoji), which the streaming reader cannot keep")
                data = data[:max(0, lone.start() - len(self.context))]
                if not data:  # no bytes before it in this read: b"" would read as the end of the file
                    raise self.pending
        self.context = window[-_CONTEXT:]
        self._nest(data)
        # yajl lexes a string cut by a read again from its start on every read: a string of many
        # reads is read in ever larger ones, or a 40 MB text takes minutes (quadratic)
        self.boost = min(2 * self.boost, 1024) if self.spanned else 1
        return data

    def watch(self, *levels: int) -> None:
        """Mark each read that starts at or above one of these depths (for resume_after)."""
        self.levels = levels

    def resumed(self, offset: int, prefix: bytes) -> Source:
        """The same file read on from `offset`, after `prefix` (opening the brackets it is inside)."""
        other = Source(self.path, offset, self.encoding, prefix)
        other.identity = self.identity
        other.watch(*self.levels)
        return other

    def _judged(self, m: re.Match[bytes], window: bytes, data: bytes) -> bool:
        """Is a lone-surrogate match in `window` (the previous read's last bytes, then `data`) one to
        act on? Not a high half that may yet be paired by the next read, nor a low half so near the
        window's start that its high half was cut off (it was judged on the previous read)."""
        if m.group("high"):
            return not (data and m.end() + 6 > len(window))
        return m.end() - 6 >= min(6, len(self.context))

    def _nest(self, data: bytes) -> None:
        """Follow the bracket depth over `data`; TooDeep when it goes over MAX_NEST anywhere in it,
        not only at its end (30,000 brackets opened and closed in one read took yajl 2 GB)."""
        outside = self._outside_strings(data)
        opened = outside.count(b"[") + outside.count(b"{")
        closed = outside.count(b"]") + outside.count(b"}")
        if self.depth + opened > MAX_NEST:  # might go over: follow it bracket by bracket
            brackets = _BRACKET_ONLY.sub(b"", outside)
            peak = max(accumulate((1 if b in b"[{" else -1 for b in brackets), initial=self.depth))
            if peak > MAX_NEST:
                raise TooDeep(f"JSON nested too deeply (over {MAX_NEST:,} levels)")
        self.depth += opened - closed

    def _outside_strings(self, data: bytes) -> bytes:
        """The brackets of `data` outside strings (not a text's "[", ":-{"); whether `data` ends inside a
        string, and a backslash that escapes the next read's first byte, are kept for the next read.
        (C-level replace, translate and split: a regex over every byte cost replay a second on the corpus.)"""
        data, self.carry = self.carry + data, b""
        if data.endswith(b"\\") and (len(data) - len(data.rstrip(b"\\"))) % 2:
            self.carry, data = b"\\", data[:-1]  # escapes what the next read starts with
        if b"\\" in data:  # escaped backslashes, then escaped quotes: what is left of "" are the strings' ends
            data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        # only quotes and brackets matter now: split a few hundred bytes into parts, not 64 KiB into thousands
        parts = data.translate(None, _NOT_QUOTE_OR_BRACKET).split(b'"')
        inside = self.in_string
        if len(parts) % 2 == 0:
            self.in_string = not inside
        self.spanned = inside and len(parts) == 1  # the whole read within one string
        return b"".join(parts[1::2] if inside else parts[0::2])


PIECE = 1 << 12  # bytes of a first read given to yajl at a time (Sliced)


class Sliced:
    """`source` as yajl reads it, its first read handed on PIECE bytes at a time: ijson makes a Python
    event (or item) of all it is given at once, and a header, or a small file's first messages (the
    rest decoded), need the first few of a 64 KiB read (0.4 ms a file). The Source reads and checks
    as before (same reads, breaks at the same events); yajl gets the same bytes in the same order,
    but its message for a break shows less of them: for a header, or a file read whole again then."""

    def __init__(self, source: Source) -> None:
        self.source, self.piece = source, PIECE
        self.first, self.rest = True, memoryview(b"")

    def read(self, n: int = CHUNK) -> bytes:
        if not n:
            return b""
        if self.first:
            self.first = False
            self.rest = memoryview(self.source.read(n))
            if not self.rest:  # (the end of the file, not read twice)
                return b""
        if self.rest:
            piece, self.rest = self.rest[:self.piece], self.rest[self.piece:]
            return bytes(piece)
        return self.source.read(n)


def detect_encoding(head: bytes) -> tuple[str, int]:
    """The encoding json.load would use for a file starting with `head`, and the BOM bytes to skip."""
    enc = json.detect_encoding(head)
    if enc == "utf-8-sig":
        return "utf-8", 3
    return enc, 0


def head_of(path: Path, n: int = 512) -> bytes:
    """The first n bytes of a file (b"" when it cannot be read: the read that follows says why)."""
    try:
        with path.open("rb") as f:
            return f.read(n)
    except OSError:
        return b""


def messages_last(path: Path) -> bool:
    """Does the top-level object end with an array (`]` then `}`), as when `messages` is its last
    key? Telegram Desktop writes the chat's name, type and id before its messages: when something
    follows them, the file is read whole once more, not trusted to that order."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            tail = f.read().rstrip(b" \t\r\n")
    except OSError:
        return False
    return tail.endswith(b"}") and tail[:-1].rstrip(b" \t\r\n").endswith(b"]")


class Broken(Exception):
    """Where a stream broke and why (an ijson, Unicode, depth or read error)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def stream_items(source: Source | Sliced | Iterable[tuple[str, str, Any]], prefix: str) -> Iterator[Any]:
    """The values under `prefix` (ijson) of a file or of its parser's (prefix, event, value) events,
    one at a time; any failure is raised as Broken (after the values before it were given)."""
    try:
        yield from YAJL.items(source, prefix, use_float=True, buf_size=CHUNK)
    except (JSONError, UnicodeDecodeError, TooDeep, OSError, ValueError) as e:
        raise Broken(e) from e


def describe_break(path: Path, error: BaseException, encoding: str, start: int) -> str:
    """Why a stream stopped, in one phrase: an unfinished file, a byte that is not UTF-8 (found by
    decoding the file from the start, as json.load would), a depth, or yajl's own word."""
    if isinstance(error, OSError):
        return f"cannot read: {error.strerror or 'read error'}"
    if isinstance(error, TooDeep):
        return f"not a Telegram export ({error})"
    if isinstance(error, LoneSurrogate):
        return f"{error}; the rest of the file is not read"
    if isinstance(error, UnicodeDecodeError) or "UTF8" in str(error):
        bad = _first_bad_text(path, encoding, start)
        if bad is not None:
            return bad
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "premature EOF" in first:
        return "the file ends before its JSON does (cut short); truncated export?"
    if "overflow" in first:
        return f"a number out of range ({first.split(': ', 1)[-1]}); the rest of the file is not read"
    return f"not valid JSON ({first}); truncated export?"


# A string (closed), a bracket or comma, or the opening quote of a string the bytes cut short
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]|"', re.S)


def resume_after(source: Source, error: BaseException, level: int) -> tuple[Any, int] | None:
    """After `source` broke inside an array at depth `level` on a value yajl refuses and json reads
    (an integer beyond 64 bits, NaN, a lone surrogate escape): the item holding it, read with json,
    and the offset just after it; None when the break is anything else (a cut, a damaged file)."""
    refused = isinstance(error, (JSONError, LoneSurrogate)) or (
        isinstance(error, ValueError) and not isinstance(error, (UnicodeDecodeError, TooDeep)))
    mark = source.marks.get(level)
    if not refused or source.encoding != "utf-8" or mark is None:
        return None
    try:
        span = _refused_item(source, mark, level)
        if span is None:
            return None
        start, end, after = span
        raw = _pread_all(source, start, end - start)
        return json.loads(raw.decode("utf-8"), parse_int=_int_or_digits), after
    except (OSError, ValueError, RecursionError):  # unreadable, or not JSON after all (a damaged file)
        return None


def _int_or_digits(digits: str) -> int | str:
    """An integer; one of more digits than Python reads (4,300) is kept as its text (a check names it)."""
    try:
        return int(digits)
    except ValueError:
        return digits


def _pread_all(source: Source, offset: int, n: int) -> bytes:
    """n bytes of the source's file from `offset` (Changed when it is no longer the file it read)."""
    parts = []
    while n > 0:
        data = POOL.pread(source.path, min(n, 1 << 24), offset)
        if POOL.identity(source.path) != source.identity:
            raise Changed()
        if not data:
            break
        parts.append(data)
        offset, n = offset + len(data), n - len(data)
    return b"".join(parts)


def _refused_item(source: Source, mark: Mark, level: int) -> tuple[int, int, int] | None:
    """(start, end, after) in the file of the first item of an array at depth `level` after `mark`
    that the streaming parser refuses (strings skipped in the scan): where the stream broke (the
    items before it were read); None when the file ends first."""
    depth, inside, start, seen = mark.depth, mark.depth == level, mark.offset, False  # seen: a string or bracket
    lead = (b'"' if mark.in_string else b"") + mark.carry
    buf, base, i, eof = lead, mark.offset - len(lead), 0, False  # buf[0] is the file's byte `base`

    def refused(end: int) -> bool:
        if not seen and not _pread_all(source, start, min(end - start, 1 << 20)).strip():
            return False  # no item: an empty array, or the end of one read before the mark
        return _refuses(_pread_all(source, start, end - start).strip())

    while True:
        m = _TOKEN.search(buf, i)
        if m is None or m.group() == b'"':  # more bytes are needed (a string goes on past them)
            if eof:
                return None
            keep = len(buf) if m is None else m.start()
            buf, base = buf[keep:], base + keep
            more = _pread_all(source, base + len(buf), max(CHUNK, 2 * len(buf)))
            buf, i, eof = buf + more, 0, not more
            continue
        i, t, c = m.end(), base + m.start(), m.group()[:1]
        if c == b'"':
            seen = True
        elif c in b"[{":
            if depth == level - 1:  # an array at the level opens: its first item starts
                inside, start, seen = c == b"[", t + 1, False
            elif depth >= level:
                seen = True
            depth += 1
        elif c in b"]}":
            depth -= 1
            if depth == level - 1 and inside:  # the array closes: its last item ends here
                inside = False
                if refused(t):
                    return start, t, t
            elif depth >= level:
                seen = True
        elif depth == level and inside:  # a comma between two items
            if refused(t):
                return start, t, t + 1
            start, seen = t + 1, False


def _refuses(item: bytes) -> bool:
    """Would the streaming reader refuse this JSON value (yajl's errors, a lone surrogate escape)?"""
    if b"\\u" in item and _LONE_SURROGATE.search(item):
        return True
    try:
        for _ in YAJL.parse(io.BytesIO(b"[" + item + b"]"), use_float=True):
            pass
    except (JSONError, ValueError):
        return True
    return False


def _first_bad_text(path: Path, encoding: str, start: int) -> str | None:
    """The first byte that is not text in `encoding`, as the old whole-file read named it."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = start
    try:
        with path.open("rb") as f:
            f.seek(start)
            while True:
                data = f.read(1 << 20)
                try:
                    decoder.decode(data, final=not data)
                except UnicodeDecodeError as e:
                    at = offset - len(decoder.getstate()[0]) + e.start if e.start >= 0 else offset
                    if not data or e.reason == "unexpected end of data":
                        return f"cut short at byte {at} (a letter is left unfinished); truncated export?"
                    return f"not UTF-8 text (byte {at}: {e.reason})"
                if not data:
                    return None
                offset += len(data)
    except OSError:
        return None


# This process's spill files are named after its lock file (tgwatch-<pid>-<random>.lock), held
# locked while it lives: a run killed outright (OOM, SIGKILL) leaves its spills unlocked, and the
# next run's first spill removes them. Locks are released by the kernel, whatever killed the owner.
_SPILL_NAME = re.compile(r"(tgwatch-[0-9]+-[a-z0-9_]+)(?:-[a-z0-9_]+\.spill|\.lock)")
_owners: dict[str, list[Any]] = {}  # folder -> [tag, lock path, locked descriptor, live spills] of this process
_swept = False


def _hold(folder: str) -> str:
    """The tag of this process's spill files in `folder`, for one more spill: its lock file there is
    made and locked for the first, removed once the last is (_release)."""
    if not LOCKS:
        return f"tgwatch-{os.getpid()}-nolock"
    if folder not in _owners:
        fd, path = held_temp(folder, f"tgwatch-{os.getpid()}-", ".lock")
        _owners[folder] = [os.path.basename(path)[:-len(".lock")], path, fd, 0]
    _owners[folder][3] += 1
    return _owners[folder][0]


def _release(folder: str) -> None:
    owner = _owners.get(folder)
    if owner is None:  # a forked child's copy of its parent's spill
        return
    owner[3] -= 1
    if owner[3] <= 0:
        del _owners[folder]
        try:
            os.unlink(owner[1])  # still locked: a sweep that opened it meanwhile finds nothing left to remove
        except OSError:
            pass
        os.close(owner[2])


def _forget_owner() -> None:
    """In a forked child: its own lock on first use (the parent's stays the parent's)."""
    global _swept
    for owner in _owners.values():
        os.close(owner[2])
    _owners.clear()
    _swept = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_owner)


def sweep_spills(folder: str | None = None) -> list[str]:
    """Remove the spill files (and lock files) in `folder` ($TMPDIR) of tgwatch runs that are gone:
    their lock is free. A live process's files, and files named otherwise, are left alone."""
    if not LOCKS:
        return []
    folder = folder or tempfile.gettempdir()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    own = _owners[folder][0] if folder in _owners else None
    files: dict[str, list[str]] = {}
    for name in names:
        m = _SPILL_NAME.fullmatch(name)
        if m and m.group(1) != own:
            files.setdefault(m.group(1), []).append(name)
    removed: list[str] = []
    for tag, found in files.items():
        lock = f"{tag}.lock"
        try:
            fd = os.open(os.path.join(folder, lock), os.O_RDONLY)
        except FileNotFoundError:
            fd = None  # its owner removed it at exit, or a sweep did: the spills are left over
        except OSError:
            continue
        try:
            if fd is not None and not writer_gone(fd):
                continue  # held: its owner is alive
            for name in sorted(found, key=lambda n: n == lock):  # the lock last, still held
                try:
                    os.unlink(os.path.join(folder, name))
                    removed.append(os.path.join(folder, name))
                except OSError:
                    pass
        finally:
            if fd is not None:
                os.close(fd)
    return removed


def _sweep_once() -> None:
    global _swept
    if not _swept:
        _swept = True
        spills = [p for p in sweep_spills() if p.endswith(".spill")]
        if spills:
            log.info("removed %d temporary file(s) left by a replay that was killed: %s", len(spills), ", ".join(spills))


class Spill:
    """A temporary file of messages (marshal records) that a full-account export's chats are
    written to in one pass and read back chat by chat by the merge; deleted once read, or when
    dropped (at exit at the latest; a later run's first Spill removes those of a run killed outright)."""

    def __init__(self) -> None:
        _sweep_once()
        folder = tempfile.gettempdir()
        try:
            fd, self.path = tempfile.mkstemp(prefix=f"{_hold(folder)}-", suffix=".spill", dir=folder)
        except OSError:
            _release(folder)
            raise
        # unbuffered: a record counted as written is on disk (a full disk fails the record itself,
        # not a later flush of records already counted and named as read)
        self.file = os.fdopen(fd, "wb", buffering=0)
        self.size = 0
        self.readers = 0
        self._drop = weakref.finalize(self, Spill._remove, self.path, self.file, folder)

    @staticmethod
    def _remove(path: str, file: Any, folder: str) -> None:
        file.close()
        POOL.close(path)
        try:
            os.unlink(path)
        except OSError:
            pass
        _release(folder)

    def write(self, value: Any) -> None:
        try:
            data = marshal.dumps(value)
        except ValueError:  # nested deeper than marshal goes: kept as its JSON text
            data = marshal.dumps(("json", json.dumps(value)))
        record = memoryview(struct.pack("<I", len(data)) + data)
        while record:  # a short write (the disk filling up) writes the rest, or raises
            record = record[self.file.write(record):]
        self.size += 4 + len(data)

    def done(self) -> None:
        self.file.close()

    def close(self) -> None:
        self._drop()

    def segment(self, start: int, end: int, block: int = CHUNK) -> Iterator[Any]:
        """The values written between byte `start` and `end`, in order; the file is deleted once its
        last segment is read (or, if one is dropped unread, when the Spill is)."""
        self.readers += 1
        return self._segment(start, end, block)

    def _segment(self, start: int, end: int, block: int) -> Iterator[Any]:
        try:
            buf, pos, at = b"", 0, start
            while True:
                need = 4 if len(buf) - pos < 4 else 4 + struct.unpack_from("<I", buf, pos)[0]
                if len(buf) - pos < need:
                    if at >= end:
                        return
                    more = POOL.pread(self.path, min(max(block, need), end - at), at)
                    if not more:
                        return
                    buf, pos, at = buf[pos:] + more, 0, at + len(more)
                    continue
                value = marshal.loads(buf[pos + 4:pos + need])
                pos += need
                if isinstance(value, tuple):  # ("json", text): a value too deep for marshal
                    value = json.loads(value[1])
                yield value
        finally:
            self.readers -= 1
            if self.readers == 0:
                self.close()
