"""Benchmark: the story step alone (StoryIndex.assign) with 1k, 10k and 100k posts in its window.

The posts are the real corpus in date order, re-dated so that the 48 h window holds the wanted
number of posts (one post every 48 h / N). The 100k window needs more posts than the corpus has:
copy k >= 1 of the corpus follows copy 0 with channel ids shifted by k * 10^9 and each post's
words perturbed (seeded: one word dropped, two neighbours swapped, every number changed), so the
copies are rewordings of the originals (near candidates), never exact copies.

Per window, in a fresh process (so memory figures are its own): StoryIndex against a real Store
on a temp SQLite file, with transactions of 500 posts as the pipeline commits them; the window is
filled first (not timed), then the next --measure posts are timed. Prints microseconds per post,
the ratio to the 1k window, and the baselines measured in the same run:

  prepare   the text preparation every post needs whatever the window (boilerplate strip, words,
            folded terms, digest): the floor of the story step;
  scan      the obvious candidate search, a word-set overlap against every post in the window,
            timed on a sample and per post: what a cost linear in the window looks like.

Memory: RSS growth from before the index was built to after the timed posts, and the process's
peak RSS. Target: <= 1 ms per post at 100k. Usage: .venv/bin/python bench/stories.py [--corpus PATH]
[--windows 1000,10000,100000] [--measure N]
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.post import Post  # noqa: E402
from bot.source import read_by_date  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.story.index import StoryIndex, prepare as _prepare  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "telegram-ru-news-2024"
TARGET_US, WINDOW_HOURS, BATCH, SCAN_SAMPLE = 1000.0, 48.0, 500, 50
T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
_WORD_RE = re.compile(r"\S+")
_DIGIT_RE = re.compile(r"\d")


def rss_mib() -> float:
    """Current resident set size (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return peak_mib()


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def perturb(text: str, rng: random.Random) -> str:
    """A rewording: one word dropped, two neighbours swapped, every digit changed."""
    ws = _WORD_RE.findall(text)
    if len(ws) > 3:
        del ws[rng.randrange(len(ws))]
        i = rng.randrange(len(ws) - 1)
        ws[i], ws[i + 1] = ws[i + 1], ws[i]
    return _DIGIT_RE.sub(lambda m: str((int(m.group()) + 1) % 10), " ".join(ws))


def stream(corpus: list[Post], n: int, spacing: float) -> list[Post]:
    """n posts: the corpus, then perturbed copies of it, one every `spacing` seconds."""
    rng = random.Random(42)
    out: list[Post] = []
    for i in range(n):
        copy, p = divmod(i, len(corpus))
        src = corpus[p]
        text = src.text if copy == 0 else perturb(src.text, rng)
        fwd = None if src.forward_channel_id is None else src.forward_channel_id + copy * 10**9
        out.append(replace(src, channel_id=src.channel_id + copy * 10**9, date=T0 + timedelta(seconds=i * spacing),
                           text=text, forward_channel_id=fwd, edit_date=None))
    return out


def timed_prepare(posts: list[Post]) -> float:
    """Seconds per post of the text preparation alone."""
    t0 = time.perf_counter()
    for p in posts:
        _prepare(p.text)
    return (time.perf_counter() - t0) / len(posts)


def timed_scan(index: StoryIndex, posts: list[Post]) -> float:
    """Seconds per post of a word-set overlap against every post held (the linear baseline)."""
    held = [e.terms for e in index.entries.values()]
    t0 = time.perf_counter()
    for p in posts:
        terms = _prepare(p.text).terms
        n = len(terms)
        sum(1 for other in held if len(terms & other) >= 0.3 * min(n, len(other)))
    return (time.perf_counter() - t0) / len(posts)


def one_window(corpus_dir: Path, window: int, measure: int) -> dict[str, float]:
    """Fill a StoryIndex with `window` posts, time the next `measure`; figures as a dict."""
    corpus = list(read_by_date([corpus_dir], []))
    posts = stream(corpus, window + measure, WINDOW_HOURS * 3600.0 / window)
    fill, timed = posts[:window], posts[window:]
    gc.collect()
    rss0 = rss_mib()
    with tempfile.TemporaryDirectory(prefix="tgwatch-bench-") as tmp:
        store = Store(Path(tmp) / "stories.db")
        index = StoryIndex(store, WINDOW_HOURS)
        t_fill = run(index, store, fill)
        t_run = run(index, store, timed)
        held = len(index)
        rss1 = rss_mib()
        prepare = timed_prepare(timed)
        scan = timed_scan(index, timed[:SCAN_SAMPLE])
        store.close()
    return {"window": window, "held": held, "us": 1e6 * t_run / len(timed), "fill_us": 1e6 * t_fill / len(fill),
            "prepare_us": 1e6 * prepare, "scan_us": 1e6 * scan, "rss_growth": rss1 - rss0, "peak": peak_mib(),
            "joined": sum(index.joined.values()) / (len(fill) + len(timed))}


def run(index: StoryIndex, store: Store, posts: list[Post]) -> float:
    """Seconds to assign every post, committing every BATCH posts as the pipeline does."""
    gc.collect()
    t0 = time.perf_counter()
    for i in range(0, len(posts), BATCH):
        with store.transaction():
            for p in posts[i:i + BATCH]:
                index.assign(p)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--windows", default="1000,10000,100000", help="posts held in the window, comma-separated")
    ap.add_argument("--measure", type=int, default=5000, help="posts timed after the window is full (default 5000)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one window, JSON out
    args = ap.parse_args()
    if not args.corpus.is_dir():
        print(f"bench/stories.py: skipped: corpus not found at {args.corpus} (needs ../shared; pass --corpus PATH)")
        return
    if args.one:
        print(json.dumps(one_window(args.corpus, args.one, args.measure)))
        return

    rows = []
    for w in (int(x) for x in args.windows.split(",")):
        out = subprocess.run([sys.executable, __file__, "--corpus", str(args.corpus), "--one", str(w),
                              "--measure", str(args.measure)], check=True, capture_output=True, text=True)
        rows.append(json.loads(out.stdout))
    print(f"corpus: {args.corpus}; {args.measure:,} posts timed per window after filling it; "
          f"{WINDOW_HOURS:g} h window, store on a temp SQLite file")
    print(f"{'window':>8} {'held':>8} {'µs/post':>8} {'x 1st':>6} {'prepare':>8} {'x prep':>7} {'scan':>9} "
          f"{'fill µs':>8} {'joined':>7} {'RSS +MiB':>9} {'peak MiB':>9}")
    base = rows[0]["us"]
    for r in rows:
        print(f"{r['window']:>8,} {r['held']:>8,} {r['us']:>8.0f} {r['us'] / base:>6.2f} {r['prepare_us']:>8.0f} "
              f"{r['us'] / r['prepare_us']:>7.1f} {r['scan_us']:>9.0f} {r['fill_us']:>8.0f} {r['joined']:>7.1%} "
              f"{r['rss_growth']:>9.0f} {r['peak']:>9.0f}")
    print("µs/post: StoryIndex.assign with the window full (story SQL included); x 1st: against the first window; "
          "prepare: text preparation alone; scan: word-set overlap against every post held (linear baseline, "
          f"{SCAN_SAMPLE} posts); fill µs: while the window fills; joined: share of posts joining a story")
    last = rows[-1]
    ok = "OK" if last["us"] <= TARGET_US else "MISSED"
    print(f"target <= {TARGET_US:,.0f} µs/post at {last['window']:,} posts: {last['us']:,.0f} [{ok}]")


if __name__ == "__main__":
    main()
