"""`tgwatch stats`: the chat's /stats from the command line, on a store built from the sample."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from .sample_store import Sample
from .test_export import assert_clean_error, run


def per_rule_and_day(sample: Sample) -> Counter[tuple[str, str]]:
    """(rule, YYYY-MM-DD) -> posts the rule matched that day, from what the pipeline did."""
    latest = {p.post.key: p for p in sample.processed if p.status != "unchanged"}
    return Counter((m.rule, p.post.date.date().isoformat()) for p in latest.values() for m in p.matches)


def test_a_replayed_history_is_counted_up_to_its_newest_post(sample: Sample) -> None:
    """Without dates the period is the week up to the newest stored post, not the week up to now
    (a replay of last month would show nothing)."""
    expected = per_rule_and_day(sample)
    r = run("stats", "--db", sample.db)
    assert r.exit_code == 0, r.output
    for rule in ("desertion", "lockdown", "regiment"):
        total = sum(n for (name, _), n in expected.items() if name == rule)
        assert re.search(rf"^{rule}: {total} match(es)?, \d+ alerts?, no verdicts$", r.stdout, re.M), r.stdout
    header = next(line for line in r.stdout.splitlines() if "desertion" in line and "day" in line)
    rules = [c.strip() for c in header.split("┃")[2:-1]]
    shown: dict[str, list[int]] = {}
    for line in r.stdout.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and re.fullmatch(r"\d{4}-\d{2}-\d{2}", cells[0]):
            shown[cells[0]] = [int(c) if c != "·" else 0 for c in cells[1:]]
    newest = max(day for _, day in expected)
    assert max(shown) == newest and len(shown) <= 8  # the week up to the newest post's day, from the first stored
    assert shown == {day: [expected[(rule, day)] for rule in rules] for day in shown}
    assert sum(map(sum, shown.values())) == sum(expected.values())  # the sample's posts all fall in that week


def test_a_period_with_nothing_says_so(sample: Sample) -> None:
    r = run("stats", "--db", sample.db, "--since", "2020-01-01", "--until", "2020-01-31")
    assert r.exit_code == 0 and "2020-01-01 00:00 – 2020-02-01 00:00 UTC\nno matches" in r.stdout
    r = run("stats", "--db", sample.db, "--until", "0001-01-01")  # the week before it starts before year 1
    assert r.exit_code == 0 and "no matches" in r.stdout


def test_a_period_of_centuries_lists_the_days_that_have_posts(sample: Sample) -> None:
    everything = per_rule_and_day(sample)
    r = run("stats", "--db", sample.db, "--since", "1900-01-01", "--until", "9999-12-31")
    assert r.exit_code == 0, r.output
    days = [line.split("│")[1].strip() for line in r.stdout.splitlines() if re.match(r"│ \d{4}-", line)]
    assert days[0] == min(d for _, d in everything) and days[-1] == max(d for _, d in everything)
    for rule in ("desertion", "lockdown", "regiment"):
        total = sum(n for (name, _), n in everything.items() if name == rule)
        assert re.search(rf"^{rule}: {total} match(es)?,", r.stdout, re.M)


def test_the_chart_is_written_as_a_png(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "week.png"
    r = run("stats", "--db", sample.db, "--png", out)
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and out.stat().st_size > 10_000


def test_bad_options_are_one_line_errors(sample: Sample, tmp_path: Path) -> None:
    assert_clean_error(run("stats", "--db", sample.db, "--png", tmp_path / "week.jpg"), "name the file *.png")
    assert_clean_error(run("stats", "--db", sample.db, "--png", tmp_path / "no" / "week.png"), "does not exist")
    assert_clean_error(run("stats", "--db", sample.db, "--since", "2026-11-22", "--until", "2026-11-21"),
                       "--since must be before --until")
    assert_clean_error(run("stats", "--db", tmp_path / "none.db"), "no such database")
