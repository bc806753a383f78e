"""What an analyst sees when the CLI is used as a reviewer used it: unknown channels and rules,
periods, totals, broken pipes, usage errors, piped output, narrow terminals and export fields.
Real stores built by the real pipeline (tests/sample_store.py)."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

from .sample_store import Sample
from .test_export import assert_clean_error, csv_rows, run


# -- 1. an unknown --channel or --rule: the same one-line error in every command -------------------


@pytest.mark.parametrize("command", [["export"], ["export", "--format", "jsonl"], ["stories"], ["search", "дезертир"]])
def test_an_unknown_channel_is_one_error_line_in_every_command(sample: Sample, command: list[str]) -> None:
    r = run(*command, "--db", sample.db, "--channel", "nosuch")
    assert_clean_error(r, "--channel: no channel nosuch in this store",
                       "a channel is named by @username, t.me/name, id or its exact title",
                       "1700000001 (Сводка 24)", "@Kuban_Online (Кубань Онлайн)")
    assert r.stdout == ""  # not a header-only CSV a script would take for "nothing found"


@pytest.mark.parametrize("command", [["export"], ["export", "--format", "jsonl"], ["stories"]])
def test_an_unknown_rule_is_one_error_line_naming_the_rules(sample: Sample, command: list[str]) -> None:
    r = run(*command, "--db", sample.db, "--rule", "nosuch")
    assert_clean_error(r, "--rule: no rule nosuch has matches in this store (rules: desertion, lockdown, regiment)")
    assert r.stdout == ""


@pytest.mark.parametrize("option, value", [("--rule", "nosuch"), ("--channel", "@nosuch")])
def test_an_export_with_an_unknown_filter_writes_no_file(sample: Sample, tmp_path: Path, option: str, value: str) -> None:
    out = tmp_path / "out.csv"
    r = run("export", "--db", sample.db, option, value, "-o", out)
    assert_clean_error(r, f"{option}: no ")
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_rule_names_match_in_any_case(sample: Sample) -> None:
    rows = csv_rows(run("export", "--db", sample.db, "--rule", "desertion").stdout)
    assert rows
    for name in ("Desertion", "DESERTION"):
        r = run("export", "--db", sample.db, "--rule", name)
        assert r.exit_code == 0 and r.stderr.startswith(f"{len(rows)} rows written"), r.output
        assert csv_rows(r.stdout) == rows
    lower = run("stories", "--db", sample.db, "--rule", "desertion", "--min-size", "1", "--since", "2000-01-01")
    upper = run("stories", "--db", sample.db, "--rule", "Desertion", "--min-size", "1", "--since", "2000-01-01")
    assert lower.exit_code == upper.exit_code == 0 and lower.stdout == upper.stdout


# -- 2. stories: --until, and by default the last day up to the newest stored post -------------------


def story_ids(r: Result) -> set[int]:
    assert r.exit_code == 0, r.output
    return {int(i) for i in re.findall(r"│ #(\d+)\s", r.stdout)}


def header(r: Result) -> str:
    """The line above the table (wrapped at the terminal's width), as one line."""
    return " ".join(r.stdout.split("┏")[0].split())


def stories_between(db: Path, since: str, until: str | None = None) -> set[int]:
    """The stories one of whose posts falls in the period (README: «a story is listed whole when one
    of its posts falls in it»; not those whose span only runs over it)."""
    with sqlite3.connect(db) as c:
        return {i for (i,) in c.execute("SELECT DISTINCT story_id FROM posts WHERE date >= ? AND (? IS NULL OR date < ?)",
                                        [since, until, until])}


def test_stories_by_default_are_the_last_day_up_to_the_newest_stored_post(sample: Sample) -> None:
    with sqlite3.connect(sample.db) as c:
        newest = c.execute("SELECT max(date) FROM posts").fetchone()[0]
    from datetime import datetime, timedelta

    since = datetime.fromisoformat(newest) - timedelta(days=1)
    r = run("stories", "--db", sample.db, "--min-size", "1", "--limit", "100")
    wanted = stories_between(sample.db, since.isoformat())
    assert story_ids(r) == wanted and wanted
    assert story_ids(run("stories", "--db", sample.db, "--min-size", "1", "--limit", "100",
                         "--since", "2000-01-01")) > wanted  # older stories exist, and are left out
    assert header(r) == (f"stories seen {since:%Y-%m-%d %H:%M} – {since + timedelta(days=1):%Y-%m-%d %H:%M} UTC "
                      "(the last day up to the newest stored post; --since and --until for another period)")
    help_text = " ".join(run("stories", "--help").output.split())
    assert "By default the stories seen in the last day (as the chat's /stories) up to the newest stored post" in help_text
    assert "--until" in help_text


def test_stories_until_a_day_lists_the_stories_seen_that_day(sample: Sample) -> None:
    r = run("stories", "--db", sample.db, "--min-size", "1", "--limit", "100", "--until", "2026-11-21")
    wanted = stories_between(sample.db, "2026-11-21T00:00:00+00:00", "2026-11-22T00:00:00+00:00")
    assert story_ids(r) == wanted and wanted
    assert header(r) == ("stories seen 2026-11-21 00:00 – 2026-11-21 23:59 UTC (the last day up to "
                                        "--until; --since and --until for another period)")
    r = run("stories", "--db", sample.db, "--min-size", "1", "--limit", "100", "--since", "2026-11-20",
            "--until", "2026-11-21")
    assert story_ids(r) == stories_between(sample.db, "2026-11-20T00:00:00+00:00", "2026-11-22T00:00:00+00:00")
    assert header(r) == "stories seen 2026-11-20 00:00 – 2026-11-21 23:59 UTC"
    assert_clean_error(run("stories", "--db", sample.db, "--since", "2026-11-22", "--until", "2026-11-21"),
                       "--since must be before --until")


# -- 3. search gives the total it found, not only the posts it shows ------------------------------------


def heads(r: Result) -> list[str]:
    return [line for line in r.stdout.splitlines() if " UTC " in line]


def test_search_says_how_many_posts_it_found_beyond_the_limit(sample: Sample) -> None:
    every = run("search", "части", "--db", sample.db, "--limit", "1000")
    total = len(heads(every))
    assert total > 3 and every.stderr == f"{total} posts found\n"
    r = run("search", "части", "--db", sample.db, "--limit", "3")
    assert r.exit_code == 0 and len(heads(r)) == 3
    assert r.stderr == f"3 of {total} posts found (the best 3; use --limit for more, --limit all for every one)\n"
    # the same filters count: one channel
    one = run("search", "части", "--db", sample.db, "--channel", "1700000001", "--limit", "1000")
    n = len(heads(one))
    assert 1 < n < total
    r = run("search", "части", "--db", sample.db, "--channel", "1700000001", "--limit", "1")
    assert r.stderr == f"1 of {n} posts found (the best 1; use --limit for more, --limit all for every one)\n"
    # all of them shown at the limit: no "use --limit"
    r = run("search", "части", "--db", sample.db, "--limit", str(total))
    assert r.stderr == f"{total} posts found\n"


# -- 4./5. an --until with a time of day: that whole minute is in, and every line says so ---------------


def a_matched_post_not_on_a_whole_minute(sample: Sample):  # type: ignore[no-untyped-def]
    return next(p for p in sorted(sample.matched(), key=lambda p: p.post.date) if p.post.date.second)


def test_since_and_until_the_same_minute_is_that_whole_minute(sample: Sample) -> None:
    p = a_matched_post_not_on_a_whole_minute(sample)
    minute = f"{p.post.date:%Y-%m-%dT%H:%M}"
    r = run("export", "--db", sample.db, "--since", minute, "--until", minute)
    assert r.exit_code == 0, r.output  # not "--since must be before --until"
    rows = csv_rows(r.stdout)
    assert str(p.post.message_id) in {row["message_id"] for row in rows}
    assert {row["date"][:16] for row in rows} == {minute}
    # --until that minute includes the post at hh:mm:ss, as --until that day includes the day
    rows = csv_rows(run("export", "--db", sample.db, "--until", minute).stdout)
    assert rows[-1]["date"][:16] == minute and str(p.post.message_id) in {row["message_id"] for row in rows}
    # a time to the second includes that second; a fraction is an instant, left out
    second = f"{p.post.date:%Y-%m-%dT%H:%M:%S}"
    assert csv_rows(run("export", "--db", sample.db, "--until", second).stdout)[-1]["date"][:19] == second
    instant = csv_rows(run("export", "--db", sample.db, "--until", second + ".0").stdout)
    assert all(row["date"][:19] < second for row in instant)
    for command in (["export"], ["search"], ["stats"], ["stories"]):
        help_text = " ".join(run(*command, "--help").output.split())
        assert "a bare day includes that whole day, 2024-11-20T10:00 that whole minute" in help_text, command


def test_stats_header_and_its_last_row_name_the_same_end(sample: Sample) -> None:
    days = sorted({p.post.date.date() for p in sample.matched()})
    first, last = days[0], days[-1]
    r = run("stats", "--db", sample.db, "--since", f"{first}T10:00", "--until", f"{last}T15:30")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].endswith(f"{first} 10:00 – {last} 15:30 UTC"), r.stdout
    rows = [line for line in r.stdout.splitlines() if line.startswith("│ 20")]
    assert rows[0].startswith(f"│ {first} from 10:00 ") and rows[-1].startswith(f"│ {last} to 15:30 "), r.stdout
    # the posts it counts are those export gives for the same options
    n = len(csv_rows(run("export", "--db", sample.db, "--since", f"{first}T10:00", "--until", f"{last}T15:30").stdout))
    assert f"{n} posts matched" in r.stdout


# -- 6. a reader that goes away (`| head`): exit 141 as a shell says, in every command ---------------------


@pytest.mark.parametrize("command", [["story", "1"], ["stories", "--since", "2000-01-01"], ["search", "части"],
                                     ["export"], ["stats"], ["rules", "backtest", "desertion"]])
def test_a_closed_pipe_ends_every_command_with_141_and_no_message(sample: Sample, command: list[str]) -> None:
    import os
    import subprocess
    import sys

    from .sample_store import ROOT

    read, write = os.pipe()
    os.close(read)  # `| head` that has already had enough: every write to stdout fails
    try:
        p = subprocess.run([sys.executable, "-m", "bot", *command, "--db", str(sample.db)], stdout=write,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120)
    finally:
        os.close(write)
    assert p.returncode == 141, p.stderr
    assert "Traceback" not in p.stderr and "no story" not in p.stderr and "Exception" not in p.stderr, p.stderr


# -- 7. usage errors: one line in the tool's style, exit 2 ----------------------------------------------


@pytest.mark.parametrize("args, line", [
    (["export", "--format", "x"], "error: --format: 'x' is not one of 'csv', 'jsonl', 'xlsx' (cli export --help)"),
    (["stories", "--limit", "0"], "error: --limit: 0 is too few: give 1 or more; use --limit all for every one (cli stories --help)"),
    (["search", "x", "--limit", "-3"], "error: --limit: -3 is too few: give 1 or more; use --limit all for every one (cli search --help)"),
    (["story", "0"], "error: ID: 0 is not a story number: they start at 1 (cli story --help)"),
    (["story", "-5"], "error: ID: -5 is not a story number: they start at 1 (cli story --help)"),
    (["story", "99999999999999999999"], "error: ID: 99999999999999999999 is larger than any story number (cli story --help)"),
    (["story", "--bogus"], "error: no such option '--bogus' (cli story --help)"),
    (["export", "--bogus"], "error: no such option '--bogus' (did you mean '--bom'?) (cli export --help)"),
    (["export", "-o"], "error: option '-o' requires an argument (cli export --help)"),
    (["search"], "error: missing argument 'WORDS...' (cli search --help)"),
    (["nosuch"], "error: no such command 'nosuch' (cli --help)"),
    (["--bogus"], "error: no such option '--bogus' (did you mean '--verbose'?) (cli --help)"),
    (["rules", "nosuch"], "error: no such command 'nosuch' (cli rules --help)"),
])
def test_a_usage_error_is_one_line_in_the_tools_style(sample: Sample, args: list[str], line: str) -> None:
    r = run(*args, *(["--db", str(sample.db)] if args[0] in ("export", "stories", "search", "story") and
                     args[-1] not in ("-o", "--bogus") else []))
    assert r.exit_code == 2, r.output
    assert r.stderr == line + "\n" and r.stdout == ""


@pytest.mark.parametrize("mistake, line", [
    (["--limt", "5"], "error: no such option '--limt' (did you mean '--limit'?) (cli search --help)"),
    (["--sinse", "2024-11-01"], "error: no such option '--sinse' (did you mean '--since'?) (cli search --help)"),
    (["--sinse=2024-11-01"], "error: no such option '--sinse' (did you mean '--since'?) (cli search --help)"),
    (["-n", "5"], "error: no such option '-n' (cli search --help)"),
])
def test_a_mistyped_search_option_is_a_usage_error_not_search_words(sample: Sample, mistake: list[str],
                                                                     line: str) -> None:
    """`search дезертир --limt 5` said «no stored post contains 'дезертир --limt 5'» and exited 1, as if
    nothing had been found: the option was read as search words."""
    r = run("search", "дезертир", *mistake, "--db", sample.db)
    assert r.exit_code == 2, r.output
    assert r.stderr == line + "\n" and r.stdout == ""


def test_a_query_starting_with_a_minus_is_still_read_as_the_query_syntax(sample: Sample) -> None:
    """After `--` every argument is a search word, as typed (`-n` a word left out); before it, the query's
    own `-word` is one too."""
    plain = run("search", "дезертир", "--db", sample.db)
    assert plain.exit_code == 0 and plain.stdout
    assert run("search", "--db", sample.db, "--", "дезертир", "-n").stdout == plain.stdout
    left_out = run("search", "дезертир", "-часть", "--db", sample.db)
    assert left_out.exit_code == 0 and 0 < left_out.stdout.count("t.me/") < plain.stdout.count("t.me/")
    assert run("search", "--db", sample.db, "--", "-часть", "дезертир").stdout == left_out.stdout


def test_tgwatch_alone_still_shows_its_help() -> None:
    r = run()
    assert "Usage: cli [OPTIONS] COMMAND [ARGS]..." in r.output and "Commands:" in r.output


# -- 8. search piped to a file: the words it matched in plain text ---------------------------------------


def test_piped_search_names_the_matched_words_of_each_post(sample: Sample) -> None:
    r = run("search", "дезертир", "части", "--db", sample.db)  # CliRunner's stdout is no terminal
    assert r.exit_code == 0, r.output
    blocks = r.stdout.strip().split("\n\n")
    assert len(blocks) > 1
    for block in blocks:
        last = block.splitlines()[-1]
        assert last.startswith("  matched: "), block
        words = last.removeprefix("  matched: ").split(", ")
        assert any(w.casefold().startswith("дезертир") for w in words), block
        assert any(w.casefold().startswith("част") for w in words), block
        assert len({w.casefold() for w in words}) == len(words)
    # on a terminal the words are highlighted instead: no such line
    tty = CliRunner().invoke(cli, ["search", "дезертир", "--db", str(sample.db)], env={"TTY_COMPATIBLE": "1"})
    assert tty.exit_code == 0 and "matched:" not in tty.stdout and "\x1b[" in tty.stdout


# -- 9. stories in 80 columns: a channel a line, never a line starting with a comma ------------------------


def test_stories_list_each_channel_on_its_own_line_at_80_columns(sample: Sample) -> None:
    r = CliRunner().invoke(cli, ["stories", "--db", str(sample.db), "--since", "2000-01-01", "--limit", "100"],
                           env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    with sqlite3.connect(sample.db) as c:
        titles = {t for (t,) in c.execute("SELECT title FROM channels")}
        stories = {i: json.loads(chans) for i, chans in c.execute("SELECT id, channels FROM stories WHERE size >= 2")}
        title_of = {i: t for i, t in c.execute("SELECT id, title FROM channels")}
    cells: dict[int, list[str]] = {}
    story = 0
    for line in r.stdout.splitlines():
        parts = line.split("│")
        if len(parts) != 6:
            continue
        assert len(line) <= 80
        if m := re.match(r"\s*#(\d+)", parts[1]):
            story = int(m[1])
        if parts[3].strip():
            cells.setdefault(story, []).append(parts[3].strip())
    assert cells and set(cells) == set(stories)
    for sid, shown in cells.items():
        assert len(shown) == len(stories[sid])  # one line per channel, in the order they reported it
        for cell, cid in zip(shown, stories[sid]):
            assert not cell.startswith(",")
            title = title_of[cid]
            start, cut, end = cell.partition("…")  # too long: its start and its end, cut in the middle
            assert cell == title or (cut and title.startswith(start) and title.endswith(end)), (cell, title)
    assert any(len(v) > 1 for v in cells.values()) and titles


# -- 10. export: one name per column and one "no value" in CSV, JSON Lines and Excel -------------------------


def test_csv_jsonl_and_xlsx_name_the_columns_alike_and_leave_the_same_fields_empty(sample: Sample,
                                                                                    tmp_path: Path) -> None:
    import openpyxl

    from bot.store.read import EXPORT_FIELDS

    c = run("export", "--db", sample.db, "--all-posts")
    j = run("export", "--db", sample.db, "--all-posts", "--format", "jsonl")
    x = tmp_path / "out.xlsx"
    assert run("export", "--db", sample.db, "--all-posts", "-o", x).exit_code == 0
    assert c.exit_code == j.exit_code == 0
    header = next(csv.reader(io.StringIO(c.stdout)))
    sheet = list(openpyxl.load_workbook(x).active.iter_rows(values_only=True))
    lines = [json.loads(line) for line in j.stdout.splitlines()]
    assert header == list(sheet[0]) == list(lines[0]) == list(EXPORT_FIELDS)  # "date", not "date (UTC)" in one of them
    rows = csv_rows(c.stdout)
    assert len(rows) == len(lines) == len(sheet) - 1
    empty = 0
    for row, line, cells in zip(rows, lines, sheet[1:]):
        for name, cell in zip(EXPORT_FIELDS, cells):
            if line[name] is None:  # JSON Lines: null, as the alerts' file has it; CSV: empty; Excel: blank
                assert row[name] == "" and cell is None, (name, row, line)
                empty += 1
            else:
                assert line[name] != "" or name == "text", (name, line)
    assert empty
    kuban_free = [line for line in lines if line["channel_id"] == 1700000001]
    assert kuban_free and all(line["username"] is None for line in kuban_free)  # no username: null, not ""


def test_export_and_the_alerts_file_say_no_username_alike(sample: Sample, tmp_path: Path) -> None:
    from .sample_store import ROOT, SAMPLE

    db, alerts = tmp_path / "a.db", tmp_path / "alerts.jsonl"
    r = run("replay", SAMPLE, "--db", db, "--rules", ROOT / "rules", "--alerts", alerts)
    assert r.exit_code == 0, r.output
    alerted = [json.loads(line) for line in alerts.read_text(encoding="utf-8").splitlines()]
    exported = {(x["channel_id"], x["message_id"]): x for x in
                map(json.loads, run("export", "--db", db, "--format", "jsonl").stdout.splitlines())}
    pairs = [(a["username"], exported[(a["channel_id"], a["message_id"])]["username"]) for a in alerted
             if not a.get("update")]
    assert pairs and any(a is None for a, _ in pairs)
    assert all(a == e for a, e in pairs), pairs
