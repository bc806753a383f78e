"""Precision and recall of the shipped rules on the hand-labelled sets (real corpus posts).

    python bench/quality.py [--corpus PATH] [-v]

-v lists every false positive and false negative with its labeller's note.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.match.evaluate import load_labels, score_rule  # noqa: E402
from bot.match.matcher import Matcher  # noqa: E402
from bot.match.rules import load_rules  # noqa: E402
from bot.post import Post  # noqa: E402
from bot.source.export import find_exports, read_export  # noqa: E402


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


if __name__ == "__main__":
    main()
