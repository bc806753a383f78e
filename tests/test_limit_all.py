"""`--limit all` (search, stories): every post or story there is, where `--limit 0` was an error
that left an analyst guessing at a big enough number; 0 stays an error that names `all`."""

from __future__ import annotations

import re

import pytest

from .sample_store import Sample
from .test_export import csv_rows, run

EVERY = "use --limit all for every one"
SPAN = ("--since", "2000-01-01", "--min-size", "1")  # every stored story, single posts too


def heads(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if " UTC " in line]


def total_of(stderr: str) -> int:
    m = re.search(r"^\d+ of ([\d,]+) ", stderr, re.M)
    assert m, stderr
    return int(m.group(1).replace(",", ""))


def test_search_limit_all_lists_every_post(sample: Sample) -> None:
    cut = run("search", "в", "--db", sample.db)  # the default 20 leaves some out, and says how to see them
    assert cut.exit_code == 0 and len(heads(cut.stdout)) == 20, cut.output
    total = total_of(cut.stderr)
    assert total > 20
    assert cut.stderr == f"20 of {total} posts found (the best 20; use --limit for more, --limit all for every one)\n"
    for word in ("all", "ALL", " All "):
        r = run("search", "в", "--db", sample.db, "--limit", word)
        assert r.exit_code == 0, r.output
        assert len(heads(r.stdout)) == total and r.stderr == f"{total} posts found\n", r.stderr


def test_stories_limit_all_lists_every_story(sample: Sample) -> None:
    cut = run("stories", *SPAN, "--format", "csv", "--db", sample.db)
    assert cut.exit_code == 0 and len(csv_rows(cut.stdout)) == 20, cut.output
    total = total_of(cut.stderr)
    assert total > 20
    assert f"20 of {total} stories (the largest 20; use --limit for more, --limit all for every one)\n" in cut.stderr
    r = run("stories", *SPAN, "--limit", "all", "--format", "csv", "--db", sample.db)
    assert r.exit_code == 0, r.output
    assert len(csv_rows(r.stdout)) == total and "--limit" not in r.stderr, r.stderr
    assert f"{total} stories seen since 2000-01-01 00:00 UTC" in r.stderr
    table = run("stories", *SPAN, "--limit", "all", "--db", sample.db)
    assert table.exit_code == 0 and len(re.findall(r"^│ #\d+", table.stdout, re.M)) == total, table.output


@pytest.mark.parametrize("args", [("search", "в"), ("stories",)])
@pytest.mark.parametrize("given", ["0", "-1"])
def test_limit_zero_is_a_one_line_error_naming_all(sample: Sample, args: tuple[str, ...], given: str) -> None:
    r = run(*args, "--limit", given, "--db", sample.db)
    assert r.exit_code == 2 and r.stdout == "", r.output
    assert r.stderr == (f"error: --limit: {given} is too few: give 1 or more; {EVERY} "
                        f"(cli {args[0]} --help)\n"), r.stderr


def test_a_limit_neither_a_number_nor_all_says_both(sample: Sample) -> None:
    r = run("search", "в", "--limit", "every", "--db", sample.db)
    assert r.exit_code == 2 and r.stderr == ("error: --limit: 'every' is not a count: give a number, or all "
                                             "for every one (cli search --help)\n"), r.stderr


def test_all_is_no_size_and_no_sample_count(sample: Sample) -> None:
    """--min-size all would mean no story at all: "all" is only a limit's."""
    r = run("stories", "--min-size", "all", "--db", sample.db)
    assert r.exit_code == 2 and r.stderr.startswith("error: --min-size: 'all' is not a valid integer"), r.stderr


@pytest.mark.parametrize("command", [("search",), ("stories",)])
def test_help_says_limit_takes_all(command: tuple[str, ...]) -> None:
    r = run(*command, "--help")
    assert r.exit_code == 0
    assert re.search(r"--limit N\|all\s+Show at most this many", r.stdout), r.stdout
    assert "or all]" in r.stdout
