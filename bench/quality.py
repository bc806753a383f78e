"""Precision and recall of the shipped rules on the hand-labelled sets (real corpus posts).

    python bench/quality.py [--corpus PATH] [-v]

-v lists every false positive and false negative with its labeller's note.

Under each rule's row, a `held-out` row scores the rule on tests/data/labels_holdout: posts drawn
at random and judged blind, which no rule was tuned on (the fitted sets were used while the rules
were revised, so their figures flatter them). That set is a stratified sample: posts the rule
matched, and topical posts (probe words from the topic's definition) it did not match. Its
precision comes from the matched sample, with a 95% Wilson interval; the misses are the share of
the non-matched sample that is relevant; recall is estimated by weighting both by their strata's
sizes at draw time (tests/data/labels_holdout/draw.toml). That recall covers only the posts the
probes reach: a relevant post without any probe word is missed unseen.
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.match.evaluate import Scores, load_labels, score_rule  # noqa: E402
from bot.match.matcher import Matcher  # noqa: E402
from bot.match.rules import load_rules  # noqa: E402
from bot.post import Post  # noqa: E402
from bot.source.export import find_exports, read_export  # noqa: E402

HOLDOUT = ROOT / "tests" / "data" / "labels_holdout"


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The 95% Wilson score interval of k successes in n trials ((0, 1) when n is 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def _recall(prec: float, miss: float, pop_matched: int, pop_unmatched: int) -> float | None:
    """Recall over the probed posts: relevant matches over relevant matches plus misses, each
    estimated as a sample share times its stratum's size."""
    tp, fn = prec * pop_matched, miss * pop_unmatched
    return tp / (tp + fn) if tp + fn else None


def holdout_line(s: Scores, labelled: int, draw: dict) -> str:
    """The held-out row: precision, estimated recall and F1 in the fitted set's columns, then the
    counts behind them with their 95% intervals. A figure the sample cannot give is '-'."""
    matched, unmatched = s.tp + s.fp, s.fn + s.tn
    pop_m, pop_u = draw.get("matched_population", 0), draw.get("probe_population", 0)
    lo, hi = wilson(s.tp, matched)
    mlo, mhi = wilson(s.fn, unmatched)
    prec = s.tp / matched if matched else None
    miss = s.fn / unmatched if unmatched else 0.0
    recall = _recall(prec, miss, pop_m, pop_u) if prec is not None else None
    f1 = 2 * prec * recall / (prec + recall) if prec is not None and recall is not None and prec + recall else None

    def fmt(x: float | None, width: int) -> str:
        return f"{x:>{width}.3f}" if x is not None else f"{'-':>{width}}"

    if matched:
        parts = [f"precision {s.tp}/{matched} [{lo:.2f}, {hi:.2f}] of {pop_m} matched"]
    else:
        parts = [f"precision: no matched post to sample ({pop_m} matched outside the fitted set)"]
    parts.append(f"misses among topical non-matches {s.fn}/{unmatched}"
                 + (f" [{mlo:.2f}, {mhi:.2f}]" if unmatched else "") + f" of {pop_u}")
    if recall is not None:
        worst, best = _recall(lo, mhi, pop_m, pop_u), _recall(hi, mlo, pop_m, pop_u)
        parts.append(f"recall {worst:.2f}-{best:.2f} from the intervals' ends")
    left = lambda k: draw.get(f"{k}_sampled", 0) - draw.get(f"{k}_moved", 0)  # noqa: E731 - rows moved to the fitted set since
    if "matched_sampled" in draw and (matched != left("matched") or unmatched != left("probe")):
        parts.append("the rule's matches changed since the draw: strata no longer align")
    if s.missing:
        parts.append(f"{s.missing} not in the corpus")
    return (f"{'  held-out':<10} {labelled:>8} {s.tp + s.fn:>4} {fmt(prec, 9)} {fmt(recall, 6)} {fmt(f1, 5)}   "
            + "; ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus" / "telegram-ru-news-2024")
    ap.add_argument("--rules", type=Path, default=ROOT / "rules")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found: {args.corpus}")
    posts = {p.key: p for f in find_exports([args.corpus]) for p in read_export(f) if isinstance(p, Post)}
    matcher = Matcher(load_rules(args.rules))
    draws = tomllib.loads((HOLDOUT / "draw.toml").read_text("utf-8")) if (HOLDOUT / "draw.toml").is_file() else {}
    print(f"{'rule':<10} {'labelled':>8} {'pos':>4} {'precision':>9} {'recall':>6} {'F1':>5}")
    for csv in sorted((ROOT / "tests" / "data" / "labels").glob("*.csv")):
        labels = load_labels(csv)
        s = score_rule(matcher, csv.stem, labels, posts)
        print(f"{csv.stem:<10} {len(labels):>8} {s.tp + s.fn:>4} {s.precision:>9.3f} {s.recall:>6.3f} {s.f1:>5.3f}")
        if args.verbose:
            for lab in s.false_positives:
                print(f"    FP {lab.channel_id}/{lab.message_id}: {lab.note}")
            for lab in s.false_negatives:
                print(f"    FN {lab.channel_id}/{lab.message_id}: {lab.note}")
        held = HOLDOUT / csv.name
        if held.is_file():
            held_labels = load_labels(held)
            h = score_rule(matcher, csv.stem, held_labels, posts)
            print(holdout_line(h, len(held_labels), draws.get(csv.stem, {})))
            if args.verbose:
                for lab in h.false_positives:
                    print(f"    FP {lab.channel_id}/{lab.message_id}: {lab.note}")
                for lab in h.false_negatives:
                    print(f"    FN {lab.channel_id}/{lab.message_id}: {lab.note}")
    if draws:
        print("held-out: drawn blind, never tuned on; recall is estimated over the probed posts only"
              " (tests/data/labels_holdout/README.md)")


if __name__ == "__main__":
    main()
