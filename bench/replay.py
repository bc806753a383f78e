"""Benchmark: `tgwatch replay` end to end over the whole real corpus, against a floor from the same run.

  floor       parse the corpus exports (bot.source.read_by_date, the order replay uses) and iterate the posts, nothing else.
              Run first, in this same process; best of 3.
  end to end  the same read_by_date -> bot.pipeline.Pipeline (Matcher over the shipped rules/,
              alert_state "muted") into a fresh SQLite store in a temp dir: match, story, store.
              The matcher is built and the worker process started before timing starts (build
              time printed apart). --workers as `tgwatch replay` (1 on 2+ cores; 0 = one process).
  again       a second replay of the same corpus into the same store: every post unchanged.

Prints posts/s for each, the ratio end-to-end time / floor time, peak RSS (ru_maxrss, and the
worker's), the targets (>= 5,000 posts/s end to end, within 10x of the floor) and where the main
process's time goes (parse, story folding, store writes and search indexing, waiting for the
worker, the rest: commits, batching) beside the worker's CPU time (match, story text preparation).
Usage: .venv/bin/python bench/replay.py [--corpus PATH] [--batch N]
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.match.matcher import Matcher  # noqa: E402
from bot.match.rules import load_rules  # noqa: E402
from bot.pipeline import Pipeline  # noqa: E402
from bot.source import read_by_date  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.worker import default_workers  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "telegram-ru-news-2024"
TARGET_PPS, TARGET_X = 5_000, 10.0
STORE_METHODS = ("known_hashes", "write_post", "write_new_posts", "write_matches", "queue_alert", "update_alert", "upsert_channel",
                 "advance_high_water", "sync_search")  # the story step's own SQL counts as story


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def posts_of(corpus: Path):  # type: ignore[no-untyped-def]
    return read_by_date([corpus], [])


def timer(spent: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn, adding its wall time to spent[name]."""
    def wrapped(*a: Any, **k: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            spent[name] += time.perf_counter() - t0
    return wrapped


def child_cpu() -> float:
    """CPU seconds of the finished child processes (the worker, once it has exited)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def replay(db: Path, matcher: Any, corpus: Path, batch: int, workers: int,
           spent: dict[str, float] | None = None) -> tuple[float, Pipeline]:
    store = Store(db)
    if spent is not None:
        for name in STORE_METHODS:
            setattr(store, name, timer(spent, name, getattr(store, name)))
    cpu0 = child_cpu()
    pipe = Pipeline(store, matcher, alert_state="muted", workers=workers)  # the worker starts here, untimed
    if spent is not None:
        pipe.stories.assign = timer(spent, "story", pipe.stories.assign)  # type: ignore[method-assign]
        pipe._done = timer(spent, "wait", pipe._done)  # type: ignore[method-assign]
    gc.collect()
    t0 = time.perf_counter()
    for _ in pipe.process(posts_of(corpus), batch_size=batch):
        pass
    t = time.perf_counter() - t0
    pipe.close()
    if spent is not None:
        spent["worker cpu"] += child_cpu() - cpu0
    store.close()
    return t, pipe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--batch", type=int, default=500, help="pipeline batch size (default 500, as replay)")
    ap.add_argument("--workers", type=int, default=default_workers(),
                    help="worker processes for matching (default: as replay, 1 on 2+ cores, 0 = one process)")
    args = ap.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"bench/replay.py: corpus not found at {args.corpus} (pass --corpus PATH)")

    runs: list[float] = []
    for _ in range(3):  # best of 3: the first pass also warms the page cache for the runs after it
        gc.collect()
        t0 = time.perf_counter()
        n = sum(1 for _ in posts_of(args.corpus))
        runs.append(time.perf_counter() - t0)
    if not n:
        sys.exit(f"bench/replay.py: no posts under {args.corpus}")
    floor, peak_floor = min(runs), peak_mib()
    print(f"corpus: {args.corpus} ({n:,} posts)")
    print(f"floor (parse + iterate):     {floor:7.2f} s  {n / floor:9,.0f} posts/s   peak RSS {peak_floor:.0f} MiB"
          f"   (best of {', '.join(f'{t:.2f}' for t in runs)} s)")

    t0 = time.perf_counter()
    matcher = Matcher(load_rules(ROOT / "rules"))
    print(f"matcher build (not timed):   {time.perf_counter() - t0:7.2f} s")
    spent: dict[str, float] = defaultdict(float)
    matcher.match = timer(spent, "match", matcher.match)  # type: ignore[method-assign]

    with tempfile.TemporaryDirectory(prefix="tgwatch-bench-") as tmp:
        db = Path(tmp) / "bench.db"
        e2e, pipe = replay(db, matcher, args.corpus, args.batch, args.workers, spent)
        s = pipe.summary
        peak_e2e = peak_mib()
        print(f"end to end (fresh store):    {e2e:7.2f} s  {n / e2e:9,.0f} posts/s   peak RSS {peak_e2e:.0f} MiB"
              f"   (new {s.new:,}, matches {sum(s.matches.values()):,}, alerts {s.alerts:,}; "
              f"store {db.stat().st_size / 2**20:.0f} MiB)")
        again, pipe2 = replay(db, matcher, args.corpus, args.batch, args.workers)
        s2 = pipe2.summary
        print(f"again (same store):          {again:7.2f} s  {n / again:9,.0f} posts/s"
              f"   (unchanged {s2.unchanged:,}, new {s2.new:,}, alerts {s2.alerts:,}; "
              f"{again / floor:.2f}x floor time)")

    match_t = spent["match"]
    store_t = sum(spent[m] for m in STORE_METHODS)
    story_t = spent["story"]
    wait_t = spent["wait"]
    rest = e2e - floor - match_t - store_t - story_t - wait_t
    print(f"\nwhere end-to-end time goes (fresh store; parse = the floor run; {args.workers} worker process(es)):")
    top = sorted(STORE_METHODS, key=lambda m: -spent[m])[:3]
    for name, t in (("parse + iterate", floor), ("story (assign, with its SQL)", story_t),
                    ("match (in this process)", match_t), ("store writes + search index (SQL)", store_t),
                    *((f"  of which {m}", spent[m]) for m in top),
                    ("waiting for the worker", wait_t), ("rest (commits, batching)", rest)):
        print(f"  {name:<36}{t:7.2f} s  {100 * t / e2e:5.1f} %")
    if args.workers:
        print(f"  {'worker CPU (in parallel: match, prepare)':<36}{spent['worker cpu']:7.2f} s")

    ok = lambda c: "OK" if c else "MISSED"  # noqa: E731
    ratio = e2e / floor
    print(f"\ntarget >= {TARGET_PPS:,} posts/s end to end: {n / e2e:,.0f} [{ok(n / e2e >= TARGET_PPS)}]")
    print(f"target within {TARGET_X:g}x of the floor: {ratio:.2f}x [{ok(ratio <= TARGET_X)}]")
    worker_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS {peak_mib():.0f} MiB (floor run {peak_floor:.0f} MiB)"
          + (f", worker process {worker_rss:.0f} MiB (shares the parent's pages until written)" if args.workers else ""))


if __name__ == "__main__":
    main()
