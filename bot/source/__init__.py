"""Sources of posts: Telegram Desktop exports, JSON Lines, and (live) Telegram itself."""

from __future__ import annotations

import heapq
import json
import os
from pathlib import Path
from typing import Iterable, Iterator

from ..post import Post
from .checks import Note, Skip
from .export import export_parts, read_export
from .jsonl import STDIN, read_jsonl
from .whole import HTML_EXPORT

__all__ = ["Note", "Skip", "is_jsonl", "read_paths", "read_by_date", "source_files"]


def _resolved(p: Path) -> Path:
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare it as written
        return p.absolute()


def _found_below(folder: Path, unreadable: list[Skip], packed: list[Path] | None = None) -> list[Path]:
    """result.json and *.jsonl files below a folder, sorted; folders linked into it are searched
    too (each real folder once, so a link loop ends). A folder that cannot be listed, or that holds
    an HTML export (messages.html) and no result.json, is added to `unreadable`: its posts would
    otherwise be missed without a word. Zip and gzip files are listed in `packed`."""
    found: list[Path] = []
    seen: set[str] = set()

    def cannot_list(e: OSError) -> None:
        unreadable.append(Skip(str(e.filename or folder), "", f"cannot read this folder: {e.strerror or e}"))

    for root, dirs, files in os.walk(folder, onerror=cannot_list, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        found.extend(Path(root, f) for f in files if f == "result.json" or f.endswith(".jsonl"))
        if packed is not None:
            packed.extend(Path(root, f) for f in files if f.lower().endswith((".zip", ".gz")))
        if "messages.html" in files and "result.json" not in files:
            unreadable.append(Skip(str(Path(root, "messages.html")), "", HTML_EXPORT))
    return sorted(found)


def source_files(paths: Iterable[str | Path]) -> Iterator[Path | Skip]:
    """Each file to read, once (the same file named twice, or named and inside a named folder,
    is read the first time only): named files, and result.json / *.jsonl below named folders."""
    seen: set[Path] = set()

    def first_time(f: Path) -> bool:
        key = _resolved(f)
        if key in seen:
            return False
        seen.add(key)
        return True

    for p in map(Path, paths):
        if str(p) == STDIN:  # JSON Lines piped in (`jq ... | tgwatch replay -`)
            if first_time(p):
                yield p
        elif p.is_dir():
            unreadable: list[Skip] = []
            packed: list[Path] = []
            found = _found_below(p, unreadable, packed)
            yield from unreadable
            if not found and not unreadable:
                names = sorted(f.name for f in packed)
                hint = (f" (packed: {', '.join(names[:3])}{', …' if len(names) > 3 else ''}; unpack first)"
                        if names else "")
                yield Skip(str(p), "", f"no result.json or *.jsonl below this folder{hint}")
            yield from (f for f in found if first_time(f))
        elif p.exists():
            if first_time(p):
                yield p
        else:
            yield Skip(str(p), "", "no such file or directory")


def is_jsonl(f: Path) -> bool:
    """A JSON Lines file: named .jsonl (or .ndjson, in any case), `-` (standard input), or a file of
    another name whose first line is a post (a Telegram Desktop export's first line is only its
    opening brace)."""
    if str(f) == STDIN or f.suffix.lower() in (".jsonl", ".ndjson"):
        return True
    if not f.is_file():  # a pipe is read once: never sniffed
        return False
    try:
        with f.open("rb") as fh:
            rec = json.loads(fh.readline(1 << 20).decode("utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(rec, dict) and "message_id" in rec


def read_paths(paths: Iterable[str | Path]) -> Iterator[Post | Skip]:
    """Posts (and skips, with reasons) from every export and JSON Lines file under `paths`."""
    for f in source_files(paths):
        if isinstance(f, Skip):
            yield f
        elif is_jsonl(f):
            yield from read_jsonl(f)
        else:
            yield from read_export(f)


def read_by_date(paths: Iterable[str | Path], skips: list[Skip]) -> Iterator[Post]:
    """Posts of every file merged into date order (each file, and each chat of a full-account
    export, is in date order), so stories fold as they happened; skips are appended to `skips`
    (and Notes: a post kept without a bad field, before the post)."""

    def one(items: Iterable[Post | Skip]) -> Iterator[Post]:
        for item in items:
            if isinstance(item, Skip):
                skips.append(item)
            else:
                yield item

    streams: list[Iterator[Post]] = []
    for f in source_files(paths):
        if isinstance(f, Skip):
            skips.append(f)
        elif is_jsonl(f):
            streams.append(one(read_jsonl(f)))
        else:
            streams.extend(one(part) for part in export_parts(f))
    yield from heapq.merge(*streams, key=lambda p: p.date)
