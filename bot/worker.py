"""A second process for the per-post work that needs no store: matching and story text preparation.

Replay is CPU-bound and Python runs one core per process. The pipeline's work splits cleanly in
two: what depends on the post's text alone (`Matcher.match`, `story.prepare`) and what needs the
store and the story index (story folding, writes). `Worker` does the first for the next batches in a
forked child while the parent stores the current one: a 2-core machine replays 1.6x as fast.
Results are the same as in one process: both halves are pure functions of the text and the rules.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from typing import NamedTuple, Sequence

from .match.matcher import Match, Matcher
from .post import Post
from .story.index import Prepared, prepare

__all__ = ["Work", "Worker", "default_workers"]

log = logging.getLogger(__name__)

Work = tuple[list[Match], Prepared]  # one post's matches and story preparation


class _Item(NamedTuple):
    """What matching needs of a post (a Post pickles its entities and dates for nothing)."""

    text: str
    channel_username: str | None
    channel_id: int


_matcher: Matcher | None = None  # the child's matcher, inherited from the parent by fork


def _init(matcher: Matcher) -> None:
    global _matcher
    _matcher = matcher
    gc.set_threshold(100_000, *gc.get_threshold()[1:])  # as the pipeline: see pipeline._bulk_gc


def _work(items: list[_Item]) -> list[Work]:
    assert _matcher is not None
    m = _matcher
    return [(m.match(it), prepare(it.text)) for it in items]


def default_workers() -> int:
    """1 on a machine with two or more cores where processes can fork, else 0 (one process)."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    return 1 if (os.cpu_count() or 1) >= 2 else 0


class Worker:
    """Runs `Matcher.match` and `story.prepare` for whole batches in one forked child process.

    Fork, not spawn: the child inherits the built matcher (rules, morphology) instead of
    rebuilding it, and matches with the rules as they were then (replay's rules never change;
    the live service, whose rules reload, matches in its own process). The child starts at once,
    before the caller starts threads (a progress bar).
    """

    def __init__(self, matcher: Matcher) -> None:
        ctx = multiprocessing.get_context("fork")
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init, initargs=(matcher,))
        self._pool.submit(_work, []).result()  # start the child now

    def submit(self, posts: Sequence[Post]) -> Future[list[Work]]:
        """Match and prepare `posts` in the child; the future gives one `Work` per post, in order."""
        return self._pool.submit(_work, [_Item(p.text, p.channel_username, p.channel_id) for p in posts])

    @property
    def pids(self) -> list[int]:
        """The child's process id (a list: empty once it has stopped)."""
        return list(self._pool._processes or {})  # the executor keeps no public handle on them

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
