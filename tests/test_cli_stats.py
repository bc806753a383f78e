"""`tgwatch stats`: the chat's /stats from the command line, on a store built from the sample."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from .sample_store import ROOT, Sample
from .test_export import assert_clean_error, csv_rows, run


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
    assert r.exit_code == 0 and "2020-01-01 00:00 – 2020-01-31 23:59 UTC\nno matches" in r.stdout
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


def test_until_leaves_out_a_post_dated_at_it_as_export_does(tmp_path: Path) -> None:
    """A bare --until day ends at midnight: a post at 00:00:00 the next day belongs to the next
    day in stats as in export, not to the day asked for (nor as an extra row of the table)."""
    src, db = tmp_path / "midnight.jsonl", tmp_path / "t.db"
    src.write_text("".join(json.dumps({"channel_id": 5, "channel_title": "Hi", "message_id": i, "date": d,
                                       "text": "В части задержали дезертира."}, ensure_ascii=False) + "\n"
                           for i, d in enumerate(["2024-11-20T10:00:00Z", "2024-11-21T00:00:00Z"], 1)), encoding="utf-8")
    assert run("replay", src, "--db", db, "--rules", ROOT / "rules", "--alerts", "none").exit_code == 0
    span = ("--since", "2024-11-20", "--until", "2024-11-20")
    assert len(csv_rows(run("export", "--db", db, *span).stdout)) == 1
    r = run("stats", "--db", db, *span)
    assert r.exit_code == 0, r.output
    assert "2024-11-20 00:00 – 2024-11-20 23:59 UTC\n1 post matched\ndesertion: 1 match," in r.stdout
    assert "2024-11-21" not in r.stdout
    r = run("stats", "--db", db, "--since", "2024-11-20T10:00", "--until", "2024-11-20T10:00:01")  # one second
    assert r.exit_code == 0 and "1 post matched" in r.stdout, r.output


def _table(stdout: str) -> dict[str, int]:
    """day label -> the desertion column's count, from the per-day table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and re.match(r"\d{4}-\d{2}-\d{2}", cells[0]):
            rows[cells[0]] = int(cells[1]) if cells[1] != "·" else 0
    return rows


def test_the_default_week_is_seven_whole_days_ending_with_the_last_day(tmp_path: Path) -> None:
    """The week before the newest post at 09:00 is not "from 09:00 seven days before": its first
    row would count only that day's afternoon and show it as the whole day."""
    from .test_cli_filters import add_posts, post

    db = tmp_path / "s.db"
    lines = [post(1900000001, "Кубань", i, "В части задержали дезертира.") for i in range(1, 5)]
    for line, date in zip(lines, ["2024-11-27T05:00:00Z", "2024-11-27T10:00:00Z", "2024-11-28T12:00:00Z",
                                  "2024-12-04T09:00:00Z"]):
        line["date"] = date
    add_posts(db, tmp_path, lines)
    r = run("stats", "--db", db)
    assert r.exit_code == 0, r.output
    assert "2024-11-28 00:00 – 2024-12-04 09:00 UTC" in r.stdout
    assert _table(r.stdout) == {"2024-11-28": 1, **{f"2024-12-0{d}": 0 for d in range(1, 4)},
                                "2024-11-29": 0, "2024-11-30": 0, "2024-12-04": 1}
    r = run("stats", "--db", db, "--until", "2024-12-04")
    assert "2024-11-28 00:00 – 2024-12-04 23:59 UTC" in r.stdout and "2024-11-27" not in r.stdout
    # a period that cuts a day says so in the day's row
    r = run("stats", "--db", db, "--since", "2024-11-27T08:00", "--until", "2024-11-28T12:30")
    assert _table(r.stdout) == {"2024-11-27 from 08:00": 1, "2024-11-28 to 12:30": 1}, r.stdout


def _noon_posts(tmp_path: Path, n: int, every_days: int) -> Path:
    """A store of `n` desertion posts at noon, one every `every_days` days from Monday 2024-01-01."""
    from datetime import datetime, timedelta, timezone

    start = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    lines = [json.dumps({"channel_id": 777, "message_id": i + 1, "channel_title": "A", "text": "В Краснодаре задержали дезертиров",
                         "date": (start + timedelta(days=every_days * i)).isoformat()}, ensure_ascii=False) for i in range(n)]
    (tmp_path / "posts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "s.db"
    assert run("replay", tmp_path / "posts.jsonl", "--db", db, "--rules", ROOT / "rules", "--alerts", "none").exit_code == 0
    return db


def _rows(db: Path, *period: str) -> dict[str, int]:
    """Row label -> the desertion column's count (rows with a count), from `stats` over the period."""
    r = run("stats", "--db", db, *period)
    assert r.exit_code == 0, r.output
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in r.stdout.splitlines()]
    return {c[0]: int(c[1]) for c in cells if c and c[1] != "·"}


def test_a_long_period_is_listed_by_week_then_by_month_with_the_same_totals(tmp_path: Path) -> None:
    """A period of months by day was hundreds of rows (480 for the corpus): over 62 days the rows
    are weeks (from Monday), over a year months; the counts add up to the same matched posts."""
    db = _noon_posts(tmp_path, 150, every_days=3)
    weeks = _rows(db, "--since", "2024-01-01", "--until", "2024-04-30")  # 121 days
    assert all(k.startswith("week of ") for k in weeks) and "week of 2024-01-01" in weeks and len(weeks) <= 18
    assert sum(weeks.values()) == 41  # every third day from Jan 1 up to Apr 30, a whole day as --until names it
    months = _rows(db, "--since", "2024-01-01", "--until", "2025-04-01")
    assert list(months)[:2] == ["2024-01", "2024-02"] and months["2024-01"] == 11 and sum(months.values()) == 150
    days = _rows(db, "--since", "2024-01-01", "--until", "2024-01-31")
    assert list(days)[0] == "2024-01-01" and sum(days.values()) == 11


def test_a_week_or_month_the_period_cuts_says_which_part_it_counts(tmp_path: Path) -> None:
    """`stats --since 2024-09-01 --until 2024-11-30T12:30` (a Sunday, a Saturday noon) listed
    «week of 2024-08-26» and «week of 2024-11-25» as if whole, though each counted a day and a half
    at most; a day the period cuts was already marked (`2024-11-27 from 10:00`), a week or month not."""
    db = _noon_posts(tmp_path, 420, every_days=1)
    weeks = _rows(db, "--since", "2024-09-01", "--until", "2024-11-30T12:30")
    first, *_, last = weeks
    assert (first, weeks[first]) == ("week of 2024-08-26 (from 2024-09-01)", 1)
    assert (last, weeks[last]) == ("week of 2024-11-25 (to 2024-11-30 12:30)", 6)
    assert "week of 2024-09-02" in weeks and weeks["week of 2024-09-02"] == 7  # a whole week is not marked
    months = _rows(db, "--since", "2024-01-15T08:00", "--until", "2025-02-10")
    assert months["2024-01 (from 2024-01-15 08:00)"] == 17 and months["2024-02"] == 29
    assert months["2025-02 (to 2025-02-10)"] == 10 and sum(months.values()) == 393
    whole = _rows(db, "--since", "2024-06-03", "--until", "2024-09-01")  # from a Monday to a Sunday: whole weeks
    assert all("(" not in k for k in whole) and sum(whole.values()) == 91


def test_an_alert_muted_as_its_post_no_longer_matches_is_not_counted(tmp_path: Path) -> None:
    """Review 169: a post edited later in the input so its rule no longer matches it: replay mutes its
    alert unshown (`no longer matching`) and the rule's match goes; stats said `1 match, 2 alerts`."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "t.toml").write_text('[[rule]]\nname = "alpha"\ntitle = "Alpha"\nseverity = "high"\nquery = "дезертир"\n',
                                   encoding="utf-8")
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in (
        {"channel_id": 1, "message_id": 3, "date": "2024-11-03T10:00:00Z", "text": "Задержан дезертир на вокзале в Твери"},
        {"channel_id": 2, "message_id": 8, "date": "2024-11-03T11:00:00Z", "text": "Другая тема: дезертир из Самары"},
        {"channel_id": 1, "message_id": 3, "date": "2024-11-03T10:00:00Z", "text": "Задержан мужчина на вокзале в Твери",
         "edit_date": "2024-11-03T10:30:00Z"})), encoding="utf-8")
    db = tmp_path / "t.db"
    r = run("replay", src, "--rules", folder, "--db", db, "--alerts", tmp_path / "a.jsonl")
    assert r.exit_code == 0, r.output
    assert re.search(r"^new alerts +2 *$", r.stdout, re.M) and re.search(r"^no longer matching +1 alert ", r.stdout, re.M), r.stdout
    r = run("stats", "--db", db)
    assert r.exit_code == 0, r.output
    assert re.search(r"^alpha: 1 match, 1 alert, no verdicts$", r.stdout, re.M), r.stdout
