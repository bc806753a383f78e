"""Benchmark: matching throughput of tgwatch over the whole real corpus, on one core.

Measures, in one process pinned to one CPU, posts per second (best of N runs, all printed) for:

  tgwatch    Matcher over the shipped rules (rules/*.toml), and over a synthetic set of 50 rules /
             300 terms built deterministically from frequent corpus words. "cold" passes start
             with an empty word cache (a fresh Matcher, normalize_word cache cleared); "warm"
             passes reuse the filled cache.
  (a) fuzz   the obvious implementation: rapidfuzz partial_ratio of every keyword against every
             lower-cased post (score_cutoff=90); timed on a sample and extrapolated.
  (b) regex  the floor: one compiled alternation of the exact keyword forms, .search over
             bot.text.normalize(post.text) (normalisation included).

Also: matcher build time, RSS growth from building the shipped matcher, peak RSS, and how many
posts each method flagged. Usage: .venv/bin/python bench/match.py [--corpus PATH] [--runs N]

Measured (2026-11-28, 22,099 posts, shipped rules, CPU time by time.process_time on the shared
2-core machine, old and new matcher interleaved in 250-post chunks, mean of 5): cold 219 -> 197
us/post, warm 115 us/post unchanged, after the typo-candidate rework (delete keys made and looked
up in C). The cold surplus (~80 us/post) is classifying each distinct word once (105,602 words,
1.6 s; 2.1 s before), most of it the typo-candidate search.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz  # noqa: E402

from bot.match.matcher import Matcher  # noqa: E402
from bot.match.query import words_of  # noqa: E402
from bot.match.rules import Rule, load_rules  # noqa: E402
from bot.post import Post  # noqa: E402
from bot.source.export import find_exports, read_export  # noqa: E402
from bot.text import normalize, normalize_word, words  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "telegram-ru-news-2024"
TARGET_PPS, TARGET_FLOOR_X, FUZZ_SAMPLE = 20_000, 3.0, 2_000
_RU_RE = re.compile(r"[а-я]{5,}")


def rss_mib() -> float:
    """Current resident set size (VmRSS), MiB; peak RSS where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_mib()


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def ok(c: bool) -> str:
    return "OK" if c else "MISSED"


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    gc.collect()
    t0 = time.perf_counter()
    flagged = fn()
    return time.perf_counter() - t0, flagged


def synthetic_rules(posts: Sequence[Post]) -> list[Rule]:
    """50 rules x 6 OR-joined terms from corpus words of frequency rank 200..5000 (seed 42)."""
    uni: Counter[str] = Counter()
    bi: Counter[str] = Counter()
    for p in posts:
        ws = words(p.text)
        uni.update(w for w in ws if _RU_RE.fullmatch(w))
        bi.update(f"{a} {b}" for a, b in zip(ws, ws[1:]) if _RU_RE.fullmatch(a) and _RU_RE.fullmatch(b))
    rng = random.Random(42)
    pool = [w for w, _ in uni.most_common(5000)[200:]]
    rng.shuffle(pool)
    phrases = [b for b, _ in bi.most_common(400)[50:]]
    rng.shuffle(phrases)
    kinds = ["word"] * 240 + ["prefix"] * 20 + ["phrase"] * 20 + ["near"] * 20
    rng.shuffle(kinds)
    it = iter(pool)
    terms: list[str] = []
    for kind in kinds:
        if kind == "word":
            terms.append(next(it))
        elif kind == "prefix":
            terms.append(next(it)[:5] + "*")
        elif kind == "phrase":
            terms.append(f'"{phrases.pop()}"')
        else:
            terms.append(f"({next(it)} NEAR/5 {next(it)})")
    return [Rule.from_query(f"syn{i:02d}", " OR ".join(terms[i * 6:i * 6 + 6])) for i in range(50)]


def keywords(rules: Sequence[Rule]) -> list[str]:
    """The distinct query word texts of the rules' main queries."""
    return sorted({w.text for r in rules for w in words_of(r.node)})


def bench_matcher(label: str, rules: Sequence[Rule], posts: Sequence[Post], runs: int,
                  first: Matcher | None = None) -> tuple[float, float, int]:
    """Best cold and warm seconds over all posts, and the number of posts with a match."""
    cold: list[float] = []
    builds: list[float] = []
    for i in range(runs):
        t0 = time.perf_counter()
        mm = first if first is not None and i == 0 else Matcher(list(rules))
        builds += [] if mm is first else [time.perf_counter() - t0]
        normalize_word.cache_clear()
        t, flagged = timed(lambda: sum(1 for p in posts if mm.match(p)))
        cold.append(t)
    print(f"  {label}: fresh Matcher builds for cold runs: " + ", ".join(f"{b:.3f}" for b in builds) + " s")
    warm = [timed(lambda: sum(1 for p in posts if mm.match(p)))[0] for _ in range(runs)]
    n = len(posts)
    print(f"  {label} cold: " + ", ".join(f"{n / t:,.0f}" for t in cold) + " posts/s"
          + f"  (word cache: {len(mm._cache):,} words)")
    print(f"  {label} warm: " + ", ".join(f"{n / t:,.0f}" for t in warm) + " posts/s")
    return min(cold), min(warm), flagged


def bench_fuzz(label: str, kws: list[str], posts: Sequence[Post], runs: int) -> tuple[float, int]:
    """Best seconds per post (sample), and flagged posts in the sample."""
    texts = [p.text.lower() for p in posts[:FUZZ_SAMPLE]]

    def run() -> int:
        # every keyword against every post: an alert needs all hits, not just the first
        return sum(1 for t in texts if [k for k in kws if fuzz.partial_ratio(k, t, score_cutoff=90)])
    res = [timed(run) for _ in range(runs)]
    print(f"  {label} (a) fuzz, first {len(texts):,} posts, extrapolated: "
          + ", ".join(f"{len(texts) / t:,.0f}" for t, _ in res) + " posts/s")
    return min(t for t, _ in res) / len(texts), res[0][1]


def bench_regex(label: str, kws: list[str], posts: Sequence[Post], runs: int) -> tuple[float, int]:
    rx = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, kws), key=len, reverse=True)) + r")\b")
    res = [timed(lambda: sum(1 for p in posts if rx.search(normalize(p.text)))) for _ in range(runs)]
    print(f"  {label} (b) regex floor: " + ", ".join(f"{len(posts) / t:,.0f}" for t, _ in res) + " posts/s")
    return min(t for t, _ in res), res[0][1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"bench/match.py: corpus not found at {args.corpus} (pass --corpus PATH)")
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        print(f"pinned to CPU {cpu}")
    posts = [p for f in find_exports([args.corpus]) for p in read_export(f) if isinstance(p, Post)]
    n = len(posts)
    if not n:
        sys.exit(f"bench/match.py: no posts under {args.corpus}")
    print(f"corpus: {n:,} posts, {sum(len(p.text) for p in posts) / 1e6:.1f} M chars, {args.runs} runs each")

    shipped = load_rules(ROOT / "rules")
    for e in shipped.errors:
        print(f"  rule error: {e}")
    gc.collect()
    rss0, peak0 = rss_mib(), peak_mib()
    t0 = time.perf_counter()
    matcher = Matcher(shipped)
    build = time.perf_counter() - t0
    rss1, peak1 = rss_mib(), peak_mib()
    print(f"shipped: {len(shipped)} rules, {len(keywords(shipped.rules))} keywords; build {build:.3f} s "
          f"(includes loading dictionaries); RSS +{rss1 - rss0:.1f} MiB (peak +{peak1 - peak0:.1f} MiB)")
    synth = synthetic_rules(posts)
    print(f"synthetic: {len(synth)} rules, 300 terms, {len(keywords(synth))} keywords")

    rows: list[tuple[str, float, float | None, float, float, str]] = []
    for label, rules, first in (("shipped", shipped.rules, matcher), ("synthetic", synth, None)):
        print(f"{label}:")
        kws = keywords(rules)
        cold, warm, flagged = bench_matcher(label, rules, posts, args.runs, first)
        a_pp, a_flag = bench_fuzz(label, kws, posts, args.runs)
        b, b_flag = bench_regex(label, kws, posts, args.runs)
        a = a_pp * n
        rows += [(f"{label} tgwatch cold/warm", cold, warm, b, a, f"{flagged:,} of {n:,}"),
                 (f"{label} (a) fuzz, extrap.", a, None, b, a, f"{a_flag:,} of first {min(n, FUZZ_SAMPLE):,}"),
                 (f"{label} (b) regex floor", b, None, b, a, f"{b_flag:,} of {n:,}")]
        if label == "shipped":
            ship_warm, ship_cold, ship_b = warm, cold, b
    print()
    print(f"{'method':<28}{'posts/s (cold / warm)':>24}{'x floor time':>16}{'x (a) time':>16}  flagged")
    for name, t, tw, b, a, flag in rows:
        pps = f"{n / t:,.0f}" + (f" / {n / tw:,.0f}" if tw is not None else "")
        xb = f"{t / b:.2f}" + (f" / {tw / b:.2f}" if tw is not None else "")
        xa = f"{t / a:.3f}" + (f" / {tw / a:.3f}" if tw is not None else "")
        print(f"{name:<28}{pps:>24}{xb:>16}{xa:>16}  {flag}")
    print()
    print(f"target >= {TARGET_PPS:,} posts/s, shipped rules, one core: warm {n / ship_warm:,.0f} "
          f"[{ok(n / ship_warm >= TARGET_PPS)}], cold {n / ship_cold:,.0f} [{ok(n / ship_cold >= TARGET_PPS)}]")
    print(f"target within {TARGET_FLOOR_X:g}x of floor (b), shipped: warm {ship_warm / ship_b:.2f}x "
          f"[{ok(ship_warm / ship_b <= TARGET_FLOOR_X)}], cold {ship_cold / ship_b:.2f}x "
          f"[{ok(ship_cold / ship_b <= TARGET_FLOOR_X)}]")
    print(f"peak RSS {peak_mib():.1f} MiB; shipped matcher build added {rss1 - rss0:.1f} MiB RSS")


if __name__ == "__main__":
    main()
