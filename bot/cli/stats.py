"""`tgwatch stats`: matches per rule and per day, alerts and triage precision (the chat's /stats)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from rich.cells import cell_len
from rich.table import Table

from ..report.stats import matches_per_day, stats_png, stats_text
from ..store.read import stored_range
from .common import DEFAULT_DB, UNTIL, UNTIL_HELP, WHEN, WHEN_FORMS, after_newest, check_span, fail, note_outside_stored, open_store, out

__all__ = ["stats"]

DEFAULT_DAYS = 7


def _just_before(until: datetime) -> datetime:
    """The last second before the end --until stands for (`UNTIL`: the whole minute or day it
    names is in): the report counts posts up to its end inclusively (its default end is the
    newest post)."""
    try:
        return until - timedelta(seconds=1)  # stored dates are whole seconds
    except OverflowError:  # --until 0001-01-01T00:00
        return until


def _days_before(when: datetime, days: int) -> datetime:
    try:
        return when - timedelta(days=days)
    except OverflowError:  # --until in year 1
        return datetime.min.replace(tzinfo=timezone.utc)


def _whole_days_before(end: datetime, days: int) -> datetime:
    """The midnight (UTC) that starts the `days` whole days ending with `end`'s day: the default
    period is whole days, so the table's first row counts its whole day, not what followed a
    time of day a week before the newest post."""
    return _days_before(end.replace(hour=0, minute=0, second=0, microsecond=0), days - 1)


def _day_label(day: str, start: datetime, until: datetime | None) -> str:
    """The table's day, marked when the period cuts it: `2024-11-27 from 10:00` (a --since with a
    time of day), `2024-11-29 to 12:00` (an --until 2024-11-29T12:00, which includes that minute:
    the last minute counted, as the header line ends with it)."""
    if day == f"{start:%Y-%m-%d}" and start.time() != datetime.min.time():
        day += f" from {start:%H:%M}"
    if until is not None and until.time() != datetime.min.time():
        last = _just_before(until)
        if day.startswith(f"{last:%Y-%m-%d}"):
            day += f" to {last:%H:%M}"
    return day


def _span_label(key: str, step: str, start: datetime, until: datetime | None) -> str:
    """A week's or month's row, marked when the period cuts it, as a day's is: `week of
    2024-08-26 (from 2024-09-01)` for a period starting on a Sunday, `2024-11 (to 2024-11-20
    12:30)` for an --until inside the month. Its count is the period's part of it alone."""
    first = datetime.strptime(key.removeprefix("week of "), "%Y-%m-%d" if step == "week" else "%Y-%m").replace(tzinfo=timezone.utc)
    try:
        after = first + timedelta(days=7) if step == "week" else \
            first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    except (OverflowError, ValueError):  # the last week or month of year 9999
        after = datetime.max.replace(tzinfo=timezone.utc)
    cut = []
    if start > first:
        cut.append(f"from {start:%Y-%m-%d}" + (f" {start:%H:%M}" if start.time() != datetime.min.time() else ""))
    if until is not None and until < after:
        last = _just_before(until)
        cut.append(f"to {last:%Y-%m-%d}" + (f" {last:%H:%M}" if until.time() != datetime.min.time() else ""))
    return f"{key} ({', '.join(cut)})" if cut else key


MAX_DAY_ROWS, MAX_WEEK_ROWS = 62, 366 // 7 + 1  # longer periods are listed by week, then by month


def _grouped(counts: dict[str, int], step: str) -> dict[str, int]:
    """Per-day counts (YYYY-MM-DD -> n, in order) summed by `step`: "week" (labelled by its Monday)
    or "month" (YYYY-MM)."""
    out: dict[str, int] = {}
    for day, n in counts.items():
        d = datetime.strptime(day, "%Y-%m-%d")
        key = f"week of {d - timedelta(days=d.weekday()):%Y-%m-%d}" if step == "week" else day[:7]
        out[key] = out.get(key, 0) + n
    return out


def _fitting(key: str, labels: list[str], cells: dict[str, list[str]], width: int) -> list[list[str]]:
    """The rules in groups whose tables (the day column, then theirs) fit `width`: at 40 columns
    two tables one under the other, not dates and rule names cut to «2026-1…» and «desert…»."""
    def wide(header: str, column: list[str]) -> int:  # a column's text, its padding and its left border
        return max(cell_len(header), *map(cell_len, column)) + 3

    first = 1 + wide(key, labels)  # the table's right border, the day column
    groups: list[list[str]] = [[]]
    used = first
    for rule, column in cells.items():
        if groups[-1] and used + wide(rule, column) > width:
            groups.append([])
            used = first
        groups[-1].append(rule)
        used += wide(rule, column)
    return groups


@click.command()
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, help="SQLite store to read.")
@click.option("--since", type=WHEN, help=f"From this date ({WHEN_FORMS}; default: the start of the {DEFAULT_DAYS} whole days (UTC) ending with --until's day).")
@click.option("--until", type=UNTIL, help=f"Up to this date (default: the newest stored post's; {UNTIL_HELP}).")
@click.option("--png", "png", metavar="FILE", help="Also draw the chart the chat's /stats sends, to this PNG file.")
def stats(db_path: str, since: datetime | None, until: datetime | None, png: str | None) -> None:
    """Posts each rule matched per day (by the post's date), the alerts raised and each rule's
    precision from the analysts' verdicts in the chat.

    Over more than 62 days the rows are weeks (from Monday), over more than a year months."""
    if png is not None:
        target = Path(png)
        if not png.strip() or target.is_dir():
            fail(f"--png {png!r}: expected a file name")
        if target.suffix.casefold() != ".png":
            fail(f"--png {png}: the chart is a PNG; name the file *.png")
        if not target.resolve().parent.is_dir():
            fail(f"--png {png}: folder {target.resolve().parent} does not exist")
    store = open_store(db_path, must_exist=True)
    try:
        stored = stored_range(store)
        now = datetime.now(timezone.utc)
        # a replayed history ends at its newest post; a post dated at --until is left out, as in export
        end = _just_before(until) if until else (min(stored[1], now) if stored else now)
        start = since or _whole_days_before(end, DEFAULT_DAYS)
        if until is None and since is not None and since >= end:  # --until was not given: say what it stood for
            fail(f"{after_newest(since, end if stored else None)}, where the period ends unless --until says otherwise")
        check_span(start, until or end)
        note_outside_stored(store, since, until)
        start = min(start, end)  # --since one second before --until: that second alone
        text = stats_text(store, since=start, now=end, limit=1 << 20)
        # the days listed and drawn: those of the period that have stored posts (a period of
        # centuries must not list every empty day), else the period's last day
        first, last = (max(start, stored[0].replace(hour=0, minute=0, second=0, microsecond=0)),
                       min(end, stored[1])) if stored else (end, end)
        if first > last:
            first, last = max(start, _days_before(end, 1)), end
        per_day = matches_per_day(store, since=first, now=last)
        chart = stats_png(store, since=first, now=last) if png is not None else None
    finally:
        store.close()
    c = out()
    c.print(text, markup=False)
    if any(any(days.values()) for days in per_day.values()):
        n_days = len(next(iter(per_day.values())))  # a long period by day is hundreds of rows: by week, then month
        step = "day" if n_days <= MAX_DAY_ROWS else "week" if n_days <= MAX_WEEK_ROWS * 7 else "month"
        if step != "day":
            per_day = {rule: _grouped(days, step) for rule, days in per_day.items()}
        title = f"posts matched per {step} (UTC{', weeks from Monday' if step == 'week' else ''})"
        days = next(iter(per_day.values()))
        labels = {day: _day_label(day, start, until) if step == "day" else _span_label(day, step, start, until) for day in days}
        cells = {rule: [f"{per_day[rule][day]:,}" if per_day[rule][day] else "·" for day in days] for rule in per_day}
        for n, rules in enumerate(_fitting(step, list(labels.values()), cells, c.width)):
            table = Table(title=title if n == 0 else None, title_justify="left")
            table.add_column(step, no_wrap=True)
            for rule in rules:
                table.add_column(rule, justify="right", no_wrap=True)
            for i, label in enumerate(labels.values()):
                table.add_row(label, *(cells[rule][i] for rule in rules))
            c.print(table)
    if chart is not None and png is not None:
        try:
            Path(png).write_bytes(chart)
        except OSError as e:
            fail(f"--png {png}: cannot write ({e.strerror or e})")
        click.echo(f"chart written to {png}", err=True)
