"""--since/--until take the Russian day (20.11.2024, 20.11.2024 10:00), a month (2024-11) and
weeks (2w) in every command, as the chat's periods take weeks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli.common import UNTIL, parse_when

from .sample_store import ROOT, Sample
from .test_export import assert_clean_error, run

_minutes = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30, 23, 59)).map(
    lambda d: d.replace(second=0, microsecond=0))


def until(value: str) -> datetime:
    return UNTIL.convert(value, None, None)


@given(_minutes)
@settings(max_examples=300, deadline=None)
def test_a_russian_date_is_the_iso_date_it_names(d: datetime) -> None:
    day, minute = f"{d.day:02d}.{d.month:02d}.{d.year:04d}", f"{d.hour:02d}:{d.minute:02d}"
    iso_day = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    assert parse_when(day) == parse_when(iso_day) == datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
    assert until(day) == until(iso_day)  # the whole day
    assert parse_when(f"{day} {minute}") == parse_when(f"{iso_day}T{minute}")
    assert until(f"{day} {minute}") == until(f"{iso_day}T{minute}")  # the whole minute
    assert parse_when(f"{d.day}.{d.month}.{d.year:04d}") == parse_when(day)  # 1.2.2024 as 01.02.2024


@given(_minutes)
@settings(max_examples=300, deadline=None)
def test_a_month_runs_from_its_first_day_through_its_last(d: datetime) -> None:
    month = f"{d.year:04d}-{d.month:02d}"
    day = f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    assert parse_when(month) == datetime(d.year, d.month, 1, tzinfo=timezone.utc) <= parse_when(day)
    assert until(day) <= until(month)
    nxt = datetime(d.year + d.month // 12, d.month % 12 + 1, 1, tzinfo=timezone.utc) if (d.year, d.month) != (9999, 12) \
        else datetime.max.replace(tzinfo=timezone.utc)
    assert until(month) == nxt


def test_weeks_are_seven_days_in_any_case() -> None:
    for text in ("2w", "2W", " 2 w "):
        assert abs(parse_when(text) - parse_when("14d")) < timedelta(seconds=5)


COMMANDS = [["export", "--all-posts"], ["search", "части"], ["stories", "--min-size", "1", "--limit", "100"], ["stats"],
            ["rules", "backtest", "desertion", "--rules", str(ROOT / "rules")]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0] if c[0] != "rules" else "backtest")
def test_every_command_reads_the_new_forms_as_their_iso_equals(sample: Sample, command: list[str]) -> None:
    same = [(["--since", "20.11.2026", "--until", "21.11.2026"], ["--since", "2026-11-20", "--until", "2026-11-21"]),
            (["--since", "20.11.2026 08:00", "--until", "21.11.2026 10:30"],
             ["--since", "2026-11-20T08:00", "--until", "2026-11-21T10:30"]),
            (["--since", "2026-11", "--until", "2026-11"], ["--since", "2026-11-01", "--until", "2026-11-30"])]
    for new, iso in same:
        a, b = run(*command, "--db", sample.db, *new), run(*command, "--db", sample.db, *iso)
        assert a.exit_code == b.exit_code and a.exit_code in (0, 1), (new, a.output)
        assert "error" not in a.stderr and a.stdout == b.stdout and a.stdout, (new, a.stdout, b.stdout)


@pytest.mark.parametrize("value, says", [("31.02.2026", "no such day"), ("2026-13", "no such month"),
                                         # an impossible ISO day or time: as clear as the Russian one's
                                         ("2026-11-31", "no such day or time (year-month-day"),
                                         ("2026-02-29T10:00", "no such day or time"),
                                         ("2026-11-20T25:00", "no such day or time"),
                                         ("20.11.26", "expected a date like 2024-11-01, 20.11.2024, 2024-11")])
def test_a_bad_new_form_is_one_line_naming_the_option(sample: Sample, value: str, says: str) -> None:
    for command in COMMANDS:
        for option in ("--since", "--until"):
            assert_clean_error(run(*command, "--db", sample.db, option, value), f"{option} '{value}'", says)


def test_replay_since_takes_a_russian_date(tmp_path: Path) -> None:
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    ra = run("replay", ROOT / "examples" / "export", "--db", a, "--alerts", "none", "--since", "21.11.2026")
    rb = run("replay", ROOT / "examples" / "export", "--db", b, "--alerts", "none", "--since", "2026-11-21")
    assert ra.exit_code == rb.exit_code == 0, ra.output
    assert ra.stdout.replace(str(a), "") == rb.stdout.replace(str(b), "") and "before --since" in ra.stdout


@pytest.mark.parametrize("span", ["0d", "0m", "00h", "0w"])
@pytest.mark.parametrize("option", ["--since", "--until"])
def test_a_span_of_nothing_is_an_error_as_in_the_chat(span: str, option: str, tmp_path: Path) -> None:
    """`--since 0d` read as «from now» found nothing, silently, where the chat's `/search … 0d` says a
    period must be more than 0 (helper-156): every command now says so in one line naming the option."""
    from click.testing import CliRunner

    from bot.cli import cli

    result = CliRunner().invoke(cli, ["search", "дезертир", "--db", str(tmp_path / "t.db"), option, span])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{option} {span!r}: a span back from now must be more than 0" in result.output


_date_like = st.from_regex(r"\A[0-9]{1,5}[-.:T ]?[0-9]{0,4}[-.:T ]?[0-9]{0,4}[ T]?[0-9]{0,2}:?[0-9]{0,2}[+-]?[0-9:]{0,5}"
                           r"[mhdwMHDWZ]?\Z")


@given(st.one_of(st.text(max_size=25), _date_like))
@settings(max_examples=300, deadline=None)
def test_any_since_or_until_is_a_utc_moment_or_one_line_naming_the_option(value: str) -> None:
    """Whatever is typed after --since/--until: a moment with its zone, or exit 2 with one
    `error: --since '…': …` line (no traceback, the value shown as typed)."""
    import contextlib
    import io

    import click

    option_until = click.Option(["--until"])
    for option, read in (("--since", parse_when), ("--until", lambda v: UNTIL.convert(v, option_until, None))):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                got = read(value)
            except SystemExit as e:
                assert e.code == 2
                line = err.getvalue()
                assert line.startswith(f"error: {option} ") and line.count("\n") == 1, line
                continue
        assert got.tzinfo is not None and err.getvalue() == ""
