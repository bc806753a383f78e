"""`tgwatch stories`: the largest recent stories, with their channels and first post."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Iterable, Iterator

import click
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..store.counts import story_counts, story_span
from ..store.export import STORY_FIELDS, story_records
from ..store.read import StoryPost, StoryRow, count_stories, iter_stories, iter_story_posts, recorded_span, stored_range, top_stories
from ..text import printable
from .common import (
    BOM,
    CHANNEL_FORMS,
    ESCAPE,
    UNTIL,
    UNTIL_HELP,
    WHEN,
    WHEN_FORMS,
    Count,
    DEFAULT_DB,
    broken_pipe,
    check_channels,
    check_csv_options,
    check_rules,
    check_span,
    counted,
    err,
    note_outside_stored,
    open_store,
    out,
    shown_until,
    write_stdout,
)

__all__ = ["stories", "story", "cut_middle", "cut_names"]

DEFAULT_SPAN = timedelta(days=1)  # as the chat's /stories
_FORMATS = ("table", "csv", "jsonl")
NARROW = 45  # a terminal narrower than the link column and this draws each story as lines, not a table
LAST_SEEN_SAMPLE = "2024-11-25T14:08"  # a time as `_when` shows it: the link column is never narrower
HEADLINE = 80  # characters of a story's headline shown (more where the table's column has room for two lines)
PIPED_TABLE_HINT = 1000  # a table of more stories, piped, says how to get rows instead (it takes ~1 ms a story)


def _day_before(when: datetime) -> datetime:
    try:
        return when - DEFAULT_SPAN
    except OverflowError:  # --until in year 1
        return datetime.min.replace(tzinfo=timezone.utc)


def _day_after(when: datetime) -> datetime:
    try:
        return when + DEFAULT_SPAN
    except OverflowError:
        return datetime.max.replace(tzinfo=timezone.utc)


def _prefix(text: str, cells: int) -> str:
    """The longest start of `text` that takes at most `cells` terminal cells."""
    n = 0
    while n < len(text) and cell_len(text[:n + 1]) <= cells:
        n += 1
    return text[:n]


def _suffix(text: str, cells: int) -> str:
    """The longest end of `text` that takes at most `cells` terminal cells."""
    n = 0
    while n < len(text) and cell_len(text[len(text) - n - 1:]) <= cells:
        n += 1
    return text[len(text) - n:]


def cut_middle(name: str, width: int, head: int | None = None) -> str:
    """`name` in at most `width` terminal cells: whole when it fits, else its start and its end
    around «…» (`head` cells of the start, by default half): «Москва с огоньком Live» is
    «Москва с…ьком Live», not «Москва с о…», which «Москва с огоньком» would give too."""
    if cell_len(name) <= width:
        return name
    if width <= 1:
        return "…" if width == 1 else ""
    room = width - 1
    start = _prefix(name, (room + 1) // 2 if head is None else min(max(head, 0), room)).rstrip()
    return start + "…" + _suffix(name, room - cell_len(start)).lstrip()


@lru_cache(maxsize=64)
def _cut_names(names: tuple[str, ...], width: int) -> dict[str, str]:
    shown = {n: cut_middle(n, width) for n in names}
    alike: dict[str, list[str]] = {}
    for n, cut in shown.items():
        alike.setdefault(cut, []).append(n)
    room = width - 1
    for cut, same in alike.items():
        if len(same) < 2:
            continue
        taken = {c for c in shown.values() if c != cut}
        # another split, the nearest the middle that tells these names apart (and from the others)
        for head in sorted(range(room + 1), key=lambda h: (abs(h - (room + 1) // 2), h)):
            cuts = {n: cut_middle(n, width, head) for n in same}
            if len(set(cuts.values())) == len(same) and not taken & set(cuts.values()):
                shown.update(cuts)
                break
    return shown


def cut_names(names: Iterable[str], width: int) -> dict[str, str]:
    """Each of `names` as `cut_middle` fits it in `width` cells; names that would still look alike
    («Новости Москвы 24» and «Новости Питера 24» in a narrow column) are cut elsewhere, where they differ."""
    return _cut_names(tuple(sorted(set(names))), max(0, width))


class _Names:
    """A table cell of channel names, one a line, each cut to the column's width at render time
    (`cut_names` over every name in the table, so two rows never show two channels alike)."""

    def __init__(self, lines: list[str], every: tuple[str, ...]) -> None:
        self.lines, self.every = lines, every

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Text("\n".join(self.lines)).__rich_measure__(console, options)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        shown = cut_names(self.every, options.max_width)
        yield Text("\n".join(shown.get(n, n) for n in self.lines), no_wrap=True, overflow="ellipsis")


@click.command()
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, help="SQLite store to read.")
@click.option("--since", type=WHEN, help=f"Only stories with a post at or after this ({WHEN_FORMS}) "
              "[default: a day before --until, else before the newest stored post].")
@click.option("--until", type=UNTIL, help=f"Only stories with a post up to this date, and with --since "
              f"between the two ({UNTIL_HELP}).")
@click.option("--rule", "rules", multiple=True, metavar="NAME", help="Only stories this rule matched a post of (any case; repeatable).")
@click.option("--channel", "channels", multiple=True, metavar="C",
              help=f"Only stories this channel reported: {CHANNEL_FORMS}; repeatable.")
@click.option("--min-size", default=2, show_default=True, type=Count(1),
              help="Only stories of at least this many posts (1 lists single posts too).")
@click.option("--limit", default=20, show_default=True, type=Count(1, every=True),
              help="Show at most this many stories (all: every one).")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="table", show_default=True,
              help="csv or jsonl: one story a row (the columns named as export's), streamed, for a pager, "
                   "a spreadsheet or a program; the period and counts go to stderr.")
@BOM
@ESCAPE
def stories(db_path: str, since: datetime | None, until: datetime | None, rules: tuple[str, ...],
            channels: tuple[str, ...], min_size: int, limit: int, fmt: str, bom: bool, escape: bool) -> None:
    """The largest recent stories (posts folded together: forwards, copies, rewordings), biggest
    first, with their channels and first post (its link kept whole). Stories of one post are left
    out unless --min-size 1. Exit 0 when some were found, 1 when none were.

    By default the stories seen in the last day (as the chat's /stories) up to the newest stored
    post (a replayed history is not empty), or up to --until; the first line names the period.
    A story is listed whole when any of its posts falls in the period.
    """
    check_csv_options(fmt, bom, escape)
    check_span(since, until)
    store = open_store(db_path, must_exist=True)
    try:
        rules = tuple(check_rules(store, rules))
        ids = check_channels(store, channels)
        note_outside_stored(store, since, until)
        default = since is None
        if since is None:  # the chat's /stories: the last day; here up to the newest stored post, as stats
            stored = stored_range(store)
            now = datetime.now(timezone.utc)
            since = _day_before(until or (min(stored[1], now) if stored else now))
        picked: dict[str, Any] = dict(since=since, until=until, min_size=min_size, rules=rules, channels=ids)
        if fmt == "table":
            rows = top_stories(store, limit=limit, **picked)
            shown = len(rows)
        else:  # streamed as read, while the store is open: `--limit all` over a year holds no list
            rows, shown = [], _write_rows(iter_stories(store, limit=limit, **picked), fmt, bom, escape)
        # the total, when the limit may have left some out: a list cut at 20 reads as all there were
        total = count_stories(store, **picked) if shown == limit else shown
    finally:
        store.close()
    c = out()
    if until is not None:
        period = f"seen {since:%Y-%m-%d %H:%M} – {shown_until(until)} UTC"
    elif default:
        period = f"seen {since:%Y-%m-%d %H:%M} – {_day_after(since):%Y-%m-%d %H:%M} UTC"
    else:
        period = f"seen since {since:%Y-%m-%d %H:%M} UTC"
    if default:
        period += (" (the last day up to " + ("--until" if until else "the newest stored post")
                   + "; --since and --until for another period)")
    if fmt != "table":
        c = err()  # the period and counts beside the rows, not among them
    if not shown:
        c.print("no stories" + (f" of {min_size}+ posts" if min_size > 1 else "") + f" {period}"
                + (f" matched by {', '.join(rules)}" if rules else "") + (" of those channels" if channels else "")
                + (" (--min-size 1 lists single posts too)" if min_size == 2 else ""), markup=False)
        sys.exit(1)
    if fmt != "table":
        c.print(f"{shown:,} stor{'y' if shown == 1 else 'ies'} {period}", markup=False)
        _note_limit(shown, total, min_size)
        return
    c.print(f"stories {period}", markup=False, soft_wrap=False)  # wrapped at the terminal's width, as the table
    links = [r.first_link for r in rows]
    # as wide as the longest link and never narrower than a «last seen» time: a short link cut it («09…»)
    link_width = max(max(map(len, links), default=0), len(f"last {_when(LAST_SEEN_SAMPLE)}"))
    if c.width < link_width + NARROW:
        for r in rows:
            _block(c, r)
        _note_limit(len(rows), total, min_size)
        return
    table = Table(show_lines=False, expand=True)
    table.add_column("story", no_wrap=True)
    # the link is never wrapped (a broken link cannot be clicked): this column is as wide as the longest
    # link (or a «last seen» time, if wider), the channel under the link is cut short, the others share the rest
    table.add_column("first post (UTC), last seen", no_wrap=True, overflow="ellipsis",
                     min_width=link_width, max_width=link_width)
    # a channel a line, cut in the middle with "…" when too long for the column (so «Москва с
    # огоньком» and «… Live» stay two): wrapped in a narrow terminal, a list joined with commas
    # broke inside names and left lines starting with a comma
    table.add_column("channels", ratio=2, no_wrap=True, overflow="ellipsis")
    table.add_column("headline", ratio=3, overflow="fold")

    def name(title: str) -> str:  # printable: an ESC is no colour, a U+202E turns no line round
        return printable(" ".join(title.split()))

    every = tuple({name(t) for r in rows for _, t in r.channels} | {name(r.first_title) for r in rows})
    first_names = cut_names(every, link_width - 17)  # the first post's line: its time, its channel
    # two lines of the headline column (3/5 of what the story and link columns and 5 rules leave), 80 at least
    room = max(HEADLINE, 2 * ((c.width - 9 - link_width - 2 - 5) * 3 // 5 - 2) - 10)  # (-10: word wrap)
    for r in rows:
        head = r.first_text.strip().split("\n", 1)[0]
        head = head[:room] + ("…" if len(head) > room else "")
        title = name(r.first_title)
        first = "\n".join(filter(None, [
            r.first_link,
            f"{_when(r.first_date)} {first_names.get(title, title)}".strip(),
            f"last {_when(r.last_date)}" if r.last_date and r.last_date != r.first_date else "",
        ]))
        # Text: a "[...]" in a title or headline is not markup; printable: nor is an ESC a colour
        table.add_row(Text(f"#{r.id}\n{counted(r.size, 'post')}"), Text(printable(first)),
                      _Names([name(t) for _, t in r.channels], every), Text(printable(head)))
    c.print(table)
    _note_limit(len(rows), total, min_size)
    if not c.is_terminal and len(rows) > PIPED_TABLE_HINT:
        click.echo(f"note: {len(rows):,} stories drawn as a table for a file or a program: --format csv or jsonl "
                   "writes one story a row, ten times faster", err=True)


def _block(c: Console, r: StoryRow) -> None:
    """One story as lines, for a terminal too narrow for the table (its link column alone is 33 wide):
    the link whole on a line of its own, the channels one a line, the headline wrapped at words."""
    def name(title: str) -> str:
        return printable(" ".join(title.split()))

    c.print(Text(f"story #{r.id} ({counted(r.size, 'post')})", style="bold"))
    c.print(Text(f"  {r.first_link}"))  # soft-wrapped: a link is never broken by a newline
    lines = [f"first {_when(r.first_date)} {name(r.first_title)}".rstrip()]
    if r.last_date and r.last_date != r.first_date:
        lines.append(f"last {_when(r.last_date)}")
    lines += [f"{'channels:' if i == 0 else '':9} {name(t)}" for i, (_, t) in enumerate(r.channels)]
    head = r.first_text.strip().split("\n", 1)[0]
    lines.append(head[:HEADLINE] + ("…" if len(head) > HEADLINE else ""))
    for line in lines:
        c.print(Padding(Text(printable(line)), (0, 0, 0, 2), expand=False), soft_wrap=False)
    c.print()


def _note_limit(shown: int, total: int, min_size: int) -> None:
    """On stderr, when --limit left some stories out: how many there are (a list cut at 20 reads as all)."""
    if total > shown:
        click.echo(f"{shown:,} of {total:,} stories" + (f" of {min_size}+ posts" if min_size > 1 else "")
                   + f" (the largest {shown:,}; use --limit for more, --limit all for every one)", err=True)


def _write_rows(rows: Iterable[StoryRow], fmt: str, bom: bool, escape: bool) -> int:
    """The stories to stdout as CSV or JSON Lines (`STORY_FIELDS`), streamed: the rich table takes
    about a millisecond a row, which a pager, a spreadsheet or a program has no use for. How many."""
    try:
        return write_stdout(story_records(rows), fmt, bom=bom, escape=escape, fields=STORY_FIELDS)
    except BrokenPipeError:  # `tgwatch stories --format csv | head`
        broken_pipe()


class StoryId(click.ParamType):
    """A story number as `stories`, alerts and exports show it: 9 or #9 (from 1)."""

    name = "ID"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().removeprefix("#")
        if text.startswith("-") and not text[1:].isdigit():  # `story` takes unknown options as its ID
            raise click.NoSuchOption(str(value), ctx=ctx)
        if not text.removeprefix("-").isascii() or not text.removeprefix("-").isdigit():
            self.fail(f"{value!r} is not a story number (like 9 or #9)", param, ctx)
        n = int(text) if len(text.lstrip("-0")) <= 19 else 2**63 * (-1 if text.startswith("-") else 1)  # int() refuses 4,301 digits
        if n < 1:
            self.fail(f"{value} is not a story number: they start at 1", param, ctx)
        if n >= 2**63:
            self.fail(f"{value} is larger than any story number", param, ctx)
        return n


@click.command(context_settings={"ignore_unknown_options": True})  # `story -5`: a bad number, not an option
@click.argument("story_id", metavar="ID", type=StoryId())
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, help="SQLite store to read.")
def story(story_id: int, db_path: str) -> None:
    """Every post of story ID (the #N that `tgwatch stories`, alerts and exports give), oldest
    first: time, channel, link, the rules it matches, whether the channel deleted it, and its first
    line. Exit 1 when there is no such story."""
    store = open_store(db_path, must_exist=True)
    try:
        counts = story_counts(store, story_id)  # `had`: retention prunes posts that matched nothing
        span = story_span(store, story_id)
        c = out()
        if span is None:
            c.print(f"no story #{story_id} in {db_path}", markup=False)
            sys.exit(1)
        had, kept = counts.had, counts.kept
        if had > kept:  # partly pruned: the story as it was reported (as `stories` lists it), not its kept posts'
            span = recorded_span(store, story_id) or span
        pruned = (f" ({kept:,} kept: the others matched no rule and were pruned)" if kept else
                  " (none kept: they matched no rule and were pruned)") if had > kept else ""
        c.print(Text(f"story #{story_id}: {counted(had, 'post')}{pruned} from {counted(span.channels, 'channel')}, "
                     f"{_when(span.first)} – {_when(span.last)} UTC", style="bold"))
        for p in iter_story_posts(store, story_id):  # printed as read: a story may be a year long
            _print_post(c, p)
    finally:
        store.close()


def _print_post(c: Console, p: StoryPost) -> None:
    """One post of `story`: its time, channel, link, rules, origin and deletion, then its first line."""
    head = Text(f"{_when(p.date)}  ").append(printable(p.channel_title), style="cyan").append("  ").append(p.link, style="underline")
    if p.rules:
        head.append("  " + " ".join(p.rules), style="bold")
    if p.forward_of:
        head.append(f"  (forward of {printable(p.forward_of)})", style="dim")
    if p.deleted_at:
        head.append(f"  🗑 deleted by the channel {_when(p.deleted_at)} UTC", style="bold red")
    c.print(head)
    line = p.text.strip().split("\n", 1)[0]
    c.print(Text("  " + printable(line[:160] + ("…" if len(line) > 160 else ""))))


def _when(iso_date: str | None) -> str:
    return (iso_date or "").replace("T", " ")[:16]
