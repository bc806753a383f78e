"""A span outside the stored posts' dates (`--since 7d` on a history replayed months later) finds
nothing: every command then says so in one `note:` line on stderr, so that an analyst never reads
"nothing found" as "nothing happened". `stats` without --until refuses such a --since outright."""

from __future__ import annotations

import pytest

from .sample_store import ROOT, Sample
from .test_export import run

BACKTEST = ["rules", "backtest", "desertion", "--rules", str(ROOT / "rules")]
COMMANDS = {
    "export": ["export"],
    "search": ["search", "дезертир"],
    "stories": ["stories"],
    "backtest": BACKTEST,
    "stats": ["stats"],
}
AFTER = "note: --since 2099-01-01 00:00 UTC is after the newest stored post (2026-11-"
BEFORE = "note: --until 2000-01-31 is before the oldest stored post (2026-11-"


def notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("note: ")]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_span_after_the_newest_stored_post_is_named_on_stderr(sample: Sample, name: str) -> None:
    r = run(*COMMANDS[name], "--db", sample.db, "--since", "2099-01-01", "--until", "2099-02-01")
    assert r.exit_code in (0, 1), r.output
    [line] = notes(r.stderr)
    assert line.startswith(AFTER) and line.endswith("nothing stored is in that span (a span like 7d counts back from now)"), line
    assert "note:" not in r.stdout  # the output itself (a CSV) stays clean


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_span_before_the_oldest_stored_post_is_named_on_stderr(sample: Sample, name: str) -> None:
    r = run(*COMMANDS[name], "--db", sample.db, "--since", "2000-01-01", "--until", "2000-01-31")
    assert r.exit_code in (0, 1), r.output
    [line] = notes(r.stderr)
    assert line.startswith(BEFORE), line


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_span_over_stored_posts_has_no_note(sample: Sample, name: str) -> None:
    r = run(*COMMANDS[name], "--db", sample.db, "--since", "2000-01-01")
    assert r.exit_code == 0, r.output
    assert notes(r.stderr) == []


def test_stats_without_until_refuses_a_since_after_the_newest_post_with_the_same_words(sample: Sample) -> None:
    r = run("stats", "--db", sample.db, "--since", "2099-01-01")
    assert r.exit_code == 2
    assert r.stderr.startswith("error: " + AFTER.removeprefix("note: ")), r.stderr
