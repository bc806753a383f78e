"""Count options on the command line (--limit, --min-size, --samples): a count below the least
that makes sense is a usage error naming the option, never quietly taken as the least."""

from __future__ import annotations

import re

import pytest

from .sample_store import ROOT, Sample
from .test_export import run


@pytest.mark.parametrize(("args", "option", "given", "least", "hint"), [
    (("search", "дезертир", "--limit", "0"), "--limit", "0", 1, "; use --limit all for every one"),
    (("search", "дезертир", "--limit", "-5"), "--limit", "-5", 1, "; use --limit all for every one"),
    (("stories", "--limit", "0"), "--limit", "0", 1, "; use --limit all for every one"),
    (("stories", "--min-size", "0"), "--min-size", "0", 1, ""),
    (("rules", "backtest", "desertion", "--rules", str(ROOT / "rules"), "--samples", "-1"), "--samples", "-1", 0,
     "; use --samples all for every one"),
])
def test_a_count_below_the_least_is_a_usage_error(sample: Sample, args: tuple[str, ...], option: str, given: str,
                                                  least: int, hint: str) -> None:
    r = run(*args, "--db", sample.db)
    assert r.exit_code == 2 and r.stdout == "", r.output  # nothing shown: not one post, not one story
    assert r.stderr.startswith(f"error: {option}: {given} is too few: give {least} or more{hint} (cli "), r.stderr
    assert r.stderr.count("\n") == 1
    assert "Traceback" not in r.output


def test_the_least_count_itself_is_taken(sample: Sample) -> None:
    r = run("search", "дезертир", "--limit", "1", "--db", sample.db)
    assert r.exit_code == 0 and re.search(r"^1 of \d+ posts found \(the best 1; use --limit for more, --limit all for every one\)$", r.stderr, re.M), r.output
    r = run("rules", "backtest", "desertion", "--rules", ROOT / "rules", "--samples", "0", "--db", sample.db)
    assert r.exit_code == 0, r.output
