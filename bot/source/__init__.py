"""Sources of posts: Telegram Desktop exports, JSON Lines, and (live) Telegram itself."""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Iterable, Iterator

from ..post import Post
from .export import Skip, read_export
from .jsonl import read_jsonl

__all__ = ["Skip", "read_paths", "read_by_date", "source_files"]


def _resolved(p: Path) -> Path:
    try:
        return p.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare it as written
        return p.absolute()


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
        if p.is_dir():
            found = sorted([*p.rglob("result.json"), *p.rglob("*.jsonl")])
            if not found:
                yield Skip(str(p), "", "no result.json or *.jsonl below this folder")
            yield from (f for f in found if first_time(f))
        elif p.exists():
            if first_time(p):
                yield p
        else:
            yield Skip(str(p), "", "no such file or directory")


def read_paths(paths: Iterable[str | Path]) -> Iterator[Post | Skip]:
    """Posts (and skips, with reasons) from every export and JSON Lines file under `paths`."""
    for f in source_files(paths):
        if isinstance(f, Skip):
            yield f
        elif f.suffix == ".jsonl":
            yield from read_jsonl(f)
        else:
            yield from read_export(f)


def read_by_date(paths: Iterable[str | Path], skips: list[Skip]) -> Iterator[Post]:
    """Posts of every file merged into date order (each file is in date order), so stories
    fold as they happened; skips are appended to `skips`."""

    def one(f: Path) -> Iterator[Post]:
        for item in read_paths([f]):
            if isinstance(item, Skip):
                skips.append(item)
            else:
                yield item

    files: list[Iterator[Post]] = []
    for f in source_files(paths):
        if isinstance(f, Skip):
            skips.append(f)
        else:
            files.append(one(f))
    yield from heapq.merge(*files, key=lambda p: p.date)
