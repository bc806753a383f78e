"""A second process for the per-post work that needs no store: matching, story text preparation
and the search index's second reading of disguised text.

Replay is CPU-bound and Python runs one core per process. The pipeline's work splits cleanly in
two: what depends on the post's text alone (`Matcher.match`, `story.prepare`) and what needs the
store and the story index (story folding, writes). `Worker` does the first for the next batches in a
forked child while the parent stores the current one: a 2-core machine replays 1.6x as fast.
Results are the same as in one process: both halves are pure functions of the text and the rules.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import chain, repeat
from typing import Any, Callable, Iterable, NamedTuple, Sequence, TypeVar

from .match.matcher import Match, Matcher
from .post import Post, content_hashes
from .story.index import Prepared, prepare
from .text import find_urls, rough_lines, search_reading, url_free_lines

__all__ = ["BULK_GC_THRESHOLD", "Work", "Worker", "default_workers", "work"]

log = logging.getLogger(__name__)

# Young objects collected every this many allocations during bulk work, not every 700: a replay
# keeps hundreds of thousands of objects alive (story index, word caches), and the default made
# the collector rescan them for 15 % of the run. At 100,000 a corpus replay still collected 3
# times, each walking ~100k live story-window objects (0.19 s); at 1M, never. A replay makes
# almost no cyclic garbage (peak RSS the same with the collector off), and what it makes is still
# collected once this many accumulate. The pipeline and its worker both use it.
BULK_GC_THRESHOLD = 1_000_000

class Work(NamedTuple):
    """What the worker made of one post's text."""

    matches: list[Match]
    prepared: Prepared  # story.prepare
    folded: str | None | bool  # search_reading: what the search index holds beside the text (True: not read, `Posts.post_row` reads it)
    text_hash: str  # Post.text_hash (content_hash of the text and its links)
    plain_hash: str | None  # content_hash of the text alone, when it has links (else None)


class _Item(NamedTuple):
    """What matching needs of a post (a Post pickles its entities and dates for nothing): every
    field `Matcher.match` reads of one, so the child matches as one process does."""

    text: str
    channel_username: str | None
    channel_id: int
    channel_title: str  # a rule may name the channel by it (a Desktop export has no username)
    links: tuple[tuple[int, int, str], ...] = ()  # Post.links: sites linked behind words


_matcher: Matcher | None = None  # the child's matcher, inherited from the parent by fork
# The child's view of `Worker.leave_readings` (shared memory, set by the parent); None in the parent
_leaving: Any = None


def _init(matcher: Matcher, leaving: Any) -> None:
    global _matcher, _leaving
    _matcher, _leaving = matcher, leaving
    gc.set_threshold(BULK_GC_THRESHOLD, *gc.get_threshold()[1:])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us
    _die_with_parent()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """Linux: SIGTERM this child when its parent dies, even by SIGKILL (it would wait forever on
    the parent's queue, holding a copy of the matcher's memory)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # no prctl: the parent's close() still stops us
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(0)


def _work(rows: list[_Row]) -> list[Work]:
    assert _matcher is not None
    return _Works([_one(_matcher, it) for it in _as(_Item, rows)])


_Row = tuple[str, str | None, int, str, tuple[tuple[int, int, str], ...]]  # an `_Item`'s fields


def _row(post: Post) -> _Row:
    """What the child needs of a post (`_Item`), as a plain tuple: a named one pickled alone costs a
    Python call to make in the parent, another to pickle, a third to unpickle in the child."""
    return post.text, post.channel_username, post.channel_id, post.channel_title, post.links


_T = TypeVar("_T", bound=tuple[object, ...])


def _as(cls: type[_T], rows: Iterable[tuple[object, ...]]) -> list[_T]:
    """`rows` made named tuples `cls` (`tuple.__new__`, C-level: no Python call per row): what crosses
    between the two processes is plain tuples, one class per batch."""
    return list(map(tuple.__new__, repeat(cls), rows))


class _Works(list[Work]):
    """A batch's results, sent to the parent as plain tuples that `_as` makes `Work`s again (a `Work`
    pickled alone costs a Python call to pickle and another to unpickle)."""

    def __reduce__(self) -> tuple[Callable[..., list[Work]], tuple[type[Work], list[tuple[object, ...]]]]:
        return _as, (Work, list(map(tuple, self)))


def work(matcher: Matcher, posts: Sequence[Post]) -> list[Work]:
    """What `Worker.submit` gives for `posts`, made by the caller's thread: the live service matches
    in a worker thread with it, so a post costly to match does not hold its event loop."""
    return [_one(matcher, it) for it in _as(_Item, map(_row, posts))]


def _one(m: Matcher, it: _Item) -> Work:
    """One post's `Work`, its text folded and read once for the matcher and the story step (the
    matcher blanks URLs first: a line with one is read again)."""
    lines = rough_lines(it.text) if it.text else None
    words = set(chain.from_iterable(url_free_lines(it.text, lines, find_urls(it.text)))) if lines is not None else None
    return Work(m.match(it, words), prepare(it.text, shared=False, lines=lines),
                True if _leaving is not None and _leaving.value else search_reading(it.text, [url for *_, url in it.links]),
                *content_hashes(it.text, it.links))


def default_workers() -> int:
    """1 where this process may use two or more cores and can fork safely, else 0 (one process).

    macOS lists fork but its system frameworks are not fork-safe (CPython defaults to spawn)."""
    if "fork" not in multiprocessing.get_all_start_methods() or sys.platform == "darwin":
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 1 if cores >= 2 else 0


_F_SETPIPE_SZ = 1031  # linux/fcntl.h
PIPE_BYTES = 1 << 20  # Linux's most for an unprivileged process (/proc/sys/fs/pipe-max-size)


def _widen_pipes(pool: ProcessPoolExecutor) -> None:
    """Linux: let the pipes between the processes hold a whole batch's items or results (~0.4 MB)
    rather than 64 KiB. Else the child, writing a batch's results, waited for this process's result
    thread to read each 64 KiB, and that thread for the GIL (this process's story step holds it):
    0.2 s of the child's time in a corpus replay. The executor keeps its pipes private: without them
    (another Python), nothing changes but the speed."""
    if not sys.platform.startswith("linux"):
        return
    import fcntl

    try:
        ends = (pool._result_queue._reader, pool._call_queue._reader)  # type: ignore[attr-defined]
        for end in ends:
            fcntl.fcntl(end.fileno(), _F_SETPIPE_SZ, PIPE_BYTES)
    except (AttributeError, OSError) as e:  # (EPERM: a lower pipe-max-size)
        log.debug("worker pipes left at their size (%s)", e)


class Worker:
    """Runs `Matcher.match` and `story.prepare` for whole batches in one forked child process.

    Fork, not spawn: the child inherits the built matcher (rules, morphology) instead of
    rebuilding it, and matches with the rules as they were then (replay's rules never change;
    the live service, whose rules reload, matches in its own process). The child starts at once,
    before the caller starts threads (a progress bar).
    """

    def __init__(self, matcher: Matcher) -> None:
        ctx = multiprocessing.get_context("fork")
        self._leaving = ctx.RawValue("b", 0)  # (shared memory, made before the fork: the child sees it change)
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init,
                                         initargs=(matcher, self._leaving))
        self._pool.submit(_work, []).result()  # start the child now
        _widen_pipes(self._pool)

    def submit(self, posts: Sequence[Post]) -> Future[list[Work]]:
        """Match, prepare and read for the search index `posts` in the child; the future gives one
        `Work` per post, in order."""
        return self._pool.submit(_work, list(map(_row, posts)))

    def leave_readings(self, leave: bool) -> None:
        """From the child's next post on, leave (or read again) the posts' search readings
        (`search_reading`; `Work.folded` True: `Posts.post_row` reads it), as the parent waits for
        the child or not. They cost the same in either process, and need no more than the text."""
        self._leaving.value = leave

    @property
    def pids(self) -> list[int]:
        """The child's process id (a list: empty once it has stopped)."""
        return list(self._pool._processes or {})  # the executor keeps no public handle on them

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
