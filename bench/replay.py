"""Benchmark: `tgwatch replay` end to end over the whole real corpus, against a floor from the same run.

  floor       parse the corpus exports (bot.source.read_by_date, the order replay uses) and iterate the posts, nothing else.
  end to end  the same read_by_date -> bot.pipeline.Pipeline (Matcher over the shipped rules/,
              alert_state "muted") into a fresh SQLite store in a temp dir: match, story, store.
              Each run is a new process (cold word caches, as a first `tgwatch replay`); the matcher
              is built and the worker process started before timing starts (build time printed
              apart). --workers as `tgwatch replay` (1 on 2+ cores; 0 = one process).
  again       a second replay of the same corpus into the best run's store: every post unchanged.

--rounds N (3): N rounds of a floor run then an end-to-end run, in turn, so that a machine whose
speed drifts (up to 25 % here) weighs on both alike; best of each, and each round's own ratio.

Prints posts/s for each, the ratio end-to-end time / floor time, peak RSS (ru_maxrss, and the
worker's), the targets (>= 5,000 posts/s end to end, within 10x of the floor) and where the main
process's time goes (parse, story folding, store writes and search indexing, waiting for the
worker, the rest: commits, batching) beside the worker's CPU time (match, story text preparation,
the search index's reading of the texts it is left).
Where it stood on 2026-11-30, late (2 cores, quiet; interleaved with 9d745ee, 3 runs of 3 rounds):
3.97-4.16 s end to end, every round 4.39 s or less (5,310-5,570 posts/s best of each run; 4 more
runs 3.87-4.01 s), against 4.48-4.62 s; the floor 0.47-0.50 s against 0.58 s; 7.7-8.3x the floor.
What took it there: the search index built beside a first replay in a thread (`SearchBuild`: FTS5
runs without the GIL, 0.69 s off this process), the worker's pipes holding a whole batch (the child
no longer waits for this process's GIL to drain each 64 KiB), 40 batches read ahead (this process
parses during the worker's cold first seconds, not later, when it is the longer path), and the
worker leaving the search readings to this process while it waits (a shared flag, post by post).
Before (same day, early): 4.56-4.80 s (best 4,846 posts/s) against 5.15-5.41 s for f8d17c2. A
timeline of one replay then: the worker started 0.1 s in and was the longer path for the first
three fifths (3.4-3.6 s of CPU in all, its word caches warming); then the main process was, as the
channels' posts grow denser and each post has more story candidates. Handing this process the
story preparation when it waits, whole batches, or more search readings per batch measured level
or slower then: what it takes over costs more here, its own caches cold.
Usage: .venv/bin/python bench/replay.py [--corpus PATH] [--batch N] [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
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
from bot.store.searchbuild import SearchBuild  # noqa: E402
from bot.worker import default_workers  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "telegram-ru-news-2024"
TARGET_PPS, TARGET_X = 5_000, 10.0
STORE_METHODS = ("known_hashes", "write_post", "write_new_posts", "write_matches", "queue_alert", "update_story_alerts", "upsert_channel",
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
    finish = SearchBuild.finish
    if spent is not None:
        pipe.stories.assign = timer(spent, "story", pipe.stories.assign)  # type: ignore[method-assign]
        pipe._done = timer(spent, "wait", pipe._done)  # type: ignore[method-assign]
        SearchBuild.finish = timer(spent, "search build", finish)  # type: ignore[method-assign]
    gc.collect()
    t0 = time.perf_counter()
    try:
        for _ in pipe.process(posts_of(corpus), batch_size=batch):
            pass
    finally:
        SearchBuild.finish = finish  # type: ignore[method-assign]
    t = time.perf_counter() - t0
    pipe.close()
    if spent is not None:
        spent["worker cpu"] += child_cpu() - cpu0
    store.close()
    return t, pipe


def one_round(db: Path, corpus: Path, batch: int, workers: int, timed: bool) -> dict[str, Any]:
    """One end-to-end replay into `db`, as a fresh `tgwatch replay` process would do it (this
    process is fresh: cold word caches). Returns the figures as JSON-able values."""
    matcher = Matcher(load_rules(ROOT / "rules"))
    spent: dict[str, float] = defaultdict(float)
    if timed:
        matcher.match = timer(spent, "match", matcher.match)  # type: ignore[method-assign]
    t, pipe = replay(db, matcher, corpus, batch, workers, spent if timed else None)
    s = pipe.summary
    return {"t": t, "spent": spent, "new": s.new, "unchanged": s.unchanged, "alerts": s.alerts,
            "matches": sum(s.matches.values()), "rss": peak_mib(),
            "worker_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def in_child(args: argparse.Namespace, db: Path, timed: bool = True) -> dict[str, Any]:
    """`one_round` in a new process (so every round starts as cold as the first)."""
    cmd = [sys.executable, __file__, "--corpus", str(args.corpus), "--batch", str(args.batch),
           "--workers", str(args.workers), "--_round", str(db)] + ([] if timed else ["--_untimed"])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--batch", type=int, default=500, help="pipeline batch size (default 500, as replay)")
    ap.add_argument("--workers", type=int, default=default_workers(),
                    help="worker processes for matching (default: as replay, 1 on 2+ cores, 0 = one process)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of floor then end to end (default 3); best of each")
    ap.add_argument("--_round", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_untimed", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"bench/replay.py: corpus not found at {args.corpus} (pass --corpus PATH)")
    if args._round:
        print(json.dumps(one_round(args._round, args.corpus, args.batch, args.workers, not args._untimed)))
        return

    def floor_run() -> tuple[float, int]:
        gc.collect()
        t0 = time.perf_counter()
        n = sum(1 for _ in posts_of(args.corpus))
        return time.perf_counter() - t0, n

    floor_run()  # warms the page cache for every run after it; not counted
    t0 = time.perf_counter()
    Matcher(load_rules(ROOT / "rules"))
    build = time.perf_counter() - t0
    floors: list[float] = []
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="tgwatch-bench-") as tmp:
        for r in range(args.rounds):  # in turn, so that both see the machine as it is at the time
            t, n = floor_run()
            if not n:
                sys.exit(f"bench/replay.py: no posts under {args.corpus}")
            floors.append(t)
            rounds.append(in_child(args, Path(tmp) / f"bench{r}.db"))
        best = min(range(len(rounds)), key=lambda i: rounds[i]["t"])
        db = Path(tmp) / f"bench{best}.db"
        again = in_child(args, db, timed=False)
        size = db.stat().st_size / 2**20
    res = rounds[best]
    e2es = [x["t"] for x in rounds]
    e2e, spent, floor, peak_floor = res["t"], defaultdict(float, res["spent"]), min(floors), peak_mib()
    print(f"corpus: {args.corpus} ({n:,} posts); {args.rounds} rounds of the floor, then end to end in a new process")
    print(f"floor (parse + iterate):     {floor:7.2f} s  {n / floor:9,.0f} posts/s   peak RSS {peak_floor:.0f} MiB"
          f"   (best of {', '.join(f'{t:.2f}' for t in floors)} s)")
    print(f"matcher build (not timed):   {build:7.2f} s")
    print(f"end to end (fresh store):    {e2e:7.2f} s  {n / e2e:9,.0f} posts/s   peak RSS {res['rss']:.0f} MiB"
          f"   (best of {', '.join(f'{t:.2f}' for t in e2es)} s; new {res['new']:,}, "
          f"matches {res['matches']:,}, alerts {res['alerts']:,}; store {size:.0f} MiB)")
    print(f"again (same store):          {again['t']:7.2f} s  {n / again['t']:9,.0f} posts/s"
          f"   (unchanged {again['unchanged']:,}, new {again['new']:,}, alerts {again['alerts']:,}; "
          f"{again['t'] / floor:.2f}x floor time)")

    match_t = spent["match"]
    store_t = sum(spent[m] for m in STORE_METHODS)
    story_t = spent["story"]
    wait_t = spent["wait"]
    build_t = spent["search build"]
    rest = e2e - floors[best] - match_t - store_t - story_t - wait_t - build_t
    print(f"\nwhere end-to-end time goes (best round; parse = that round's floor run; {args.workers} worker process(es)):")
    top = sorted(STORE_METHODS, key=lambda m: -spent[m])[:3]
    for name, t in (("parse + iterate", floors[best]), ("story (assign, with its SQL)", story_t),
                    ("match (in this process)", match_t), ("store writes + search index (SQL)", store_t),
                    *((f"  of which {m}", spent[m]) for m in top),
                    ("waiting for the worker", wait_t),
                    ("search index built beside: its end", build_t), ("rest (commits, batching)", rest)):
        print(f"  {name:<36}{t:7.2f} s  {100 * t / e2e:5.1f} %")
    if args.workers:
        print(f"  {'worker CPU (in parallel: match, prepare, search)':<36}{spent['worker cpu']:7.2f} s")

    ok = lambda c: "OK" if c else "MISSED"  # noqa: E731
    ratio = e2e / floor
    paired = sorted(t / f for t, f in zip(e2es, floors))
    print(f"\ntarget >= {TARGET_PPS:,} posts/s end to end: {n / e2e:,.0f} [{ok(n / e2e >= TARGET_PPS)}]")
    print(f"target within {TARGET_X:g}x of the floor: {ratio:.2f}x, best against best [{ok(ratio <= TARGET_X)}]"
          f" (round by round {', '.join(f'{x:.2f}x' for x in paired)})")
    print(f"peak RSS {res['rss']:.0f} MiB end to end (floor run {peak_floor:.0f} MiB)"
          + (f", worker process {res['worker_rss']:.0f} MiB (shares the parent's pages until written)"
             if args.workers else ""))


if __name__ == "__main__":
    main()
