"""`tgwatch rules backtest`: run one rule (or a rule file) over the stored posts, before deploying it."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Sequence

import click
from rich.console import Group
from rich.padding import Padding
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from ..alert.outbox import snippet
from ..match.explain import matched_words
from ..match.matcher import Match
from ..match.rules import DISABLED, Rule, channel_key, channel_title_key
from ..store.backtest import Backtest, DayRow, TermHits, run_backtest
from ..store.db import Store
from ..store.read import count_posts
from ..text import printable
from .common import (
    CHANNEL_FORMS,
    CONFIG_HELP,
    Count,
    DEFAULT_DB,
    DEFAULT_RULES,
    UNTIL,
    UNTIL_HELP,
    WHEN,
    WHEN_FORMS,
    check_channels,
    check_span,
    config_groups,
    counted,
    err,
    fail,
    given,
    note_outside_stored,
    open_store,
    out,
    resolve_rules,
)
from .rules import SEVERITY_STYLE, find_rule, highlight, load_or_fail, warn_errors, warn_shadowed

__all__ = ["backtest", "select_rules"]

log = logging.getLogger(__name__)


IDLE_SHOWN = 5  # the terms that hit nothing named without --all-terms: a rule of 113 filled a screen with them

_FOLDER = "is a folder; backtest runs one rule NAME or the rules of one FILE.toml (--rules names the folder NAME is in)"


def select_rules(ref: str, rules_path: str) -> list[Rule]:
    """REF is a .toml rule file (all its rules) or a rule name in `rules_path`, as written (a
    disabled rule too: the back-test runs it all the same, and marks it). Exits with a one-line
    error when there is none."""
    path = Path(ref)
    if ref.endswith(".toml") or path.is_file():
        if not path.is_file():
            fail(f"{ref}: " + (_FOLDER if path.is_dir() else "no such rule file"))
        selected = load_or_fail(ref).rules
    else:
        rules_path = resolve_rules(rules_path)  # named as used in the messages below
        ruleset = load_or_fail(rules_path, show_errors=False)
        if ruleset.get(ref) is None and path.is_dir():  # `rules backtest rules/`: not a name
            fail(f"{ref}: {_FOLDER}")
        warn_errors(ruleset, ref)
        rule = find_rule(ruleset, ref, rules_path)
        warn_shadowed(ruleset, rule)
        selected = [rule]
    return selected


@click.command()
@click.argument("ref", metavar="NAME|FILE", callback=given)
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, help="SQLite store to test against.")
@click.option("--rules", "rules_path", default=DEFAULT_RULES, show_default=True, callback=given,
              help="Rule folder NAME is looked up in.")
@click.option("--channel", "channels", multiple=True, metavar="C",
              help=f"Only posts of this channel: {CHANNEL_FORMS}; repeatable.")
@click.option("--since", type=WHEN, help=f"Only posts from this date on ({WHEN_FORMS}).")
@click.option("--until", type=UNTIL, help=f"Only posts up to this date ({UNTIL_HELP}).")
@click.option("--samples", default=5, show_default=True, type=Count(0, every=True),
              help="Show this many of the latest hits (all: every hit).")
@click.option("--all-terms", is_flag=True, help=f"List every term that hit nothing (else the first {IDLE_SHOWN}).")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), callback=given, help=CONFIG_HELP)
def backtest(ref: str, db_path: str, rules_path: str, channels: tuple[str, ...], since: datetime | None,
             until: datetime | None, samples: int, all_terms: bool, config_path: str | None) -> None:
    """Run rule NAME (or every rule in FILE.toml) over the stored posts and show what it would match:
    hits per rule, channel and day, the change against the stored matches, and sample posts."""
    check_span(since, until)
    groups = config_groups(config_path)
    selected = select_rules(ref, rules_path)
    disabled = [r.name for r in selected if not r.enabled]
    selected = [r if r.enabled else replace(r, enabled=True) for r in selected]
    store = open_store(db_path, must_exist=True)
    ids = check_channels(store, channels, need_one=True)
    note_outside_stored(store, since, until)
    _warn_out_of_scope(store, selected, groups)
    console = err()
    bar = Progress(TextColumn("backtesting"), BarColumn(),  # counts with separators, as every count a user reads
                   TextColumn("{task.completed:,.0f}/{task.total:,.0f} posts"),
                   TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)
    try:
        total = count_posts(store, channels=ids, since=since, until=until)
        with bar:
            task = bar.add_task("backtest", total=total)
            result = run_backtest(store, selected, channels=ids, since=since, until=until, samples=samples,
                                  progress=lambda: bar.advance(task), groups=groups)
    finally:  # Ctrl-C: the top command says «interrupted» and exits 130, as for every other command
        store.close()
    _report(result, disabled, all_terms=all_terms)


def _warn_out_of_scope(store: Store, rules: list[Rule], groups: dict[str, tuple[str, ...]]) -> None:
    """A rule limited to channels the store does not hold cannot match here: say so, or its 0 hits
    read as a query that finds nothing. A group is its members (`--config`)."""
    stored: set[str] = set()
    for username, cid, title in store.known_channels():
        # the keys a rule's scope knows a stored post's channel by, as the matcher does (a title too)
        stored |= {channel_key(v) for v in (username, cid) if v}
        if key := channel_title_key(title, username):
            stored.add(key)
    members = {g.casefold(): {channel_key(c) for c in cs} for g, cs in groups.items()}
    hint = "" if groups else " (a config group is known only with --config)"
    for rule in rules:
        if rule.channels is None:
            continue
        scope = set(rule.channels).union(*(members.get(c, set()) for c in rule.channels))
        if stored.isdisjoint(scope):
            err().print(Text(f"warning: rule '{rule.name}' watches only {', '.join(rule.channels)}, and no channel "
                             f"in this store is one of them{hint}: it cannot match", style="yellow"))
        elif missed := [c for c in rule.channels if c not in stored and stored.isdisjoint(members.get(c, ()))]:
            err().print(Text(f"warning: rule '{rule.name}': no channel in this store is known by {', '.join(missed)} "
                             f"(a username, id or exact title){hint}; the rule matches only its other channels",
                             style="yellow"))


def _day_count(d: DayRow) -> int:
    """How many days a row of the hits per day stands for."""
    try:
        return 1 + (date.fromisoformat(d.last) - date.fromisoformat(d.first)).days
    except ValueError:  # a stored date that is no day: a row of its own
        return 1


def _share(part: int, whole: int) -> str:
    """part of whole as a percentage a reader can compare: 19%, 0.45%."""
    pct = 100 * part / whole if whole else 0.0
    return f"{pct:.0f}%" if pct >= 1 or pct == 0 else f"{pct:.2g}%"


NARROW_TERMS = 72  # a terminal narrower than this lists the words a term caught under it, not in a column of their own


def _report(r: Backtest, disabled: Sequence[str] = (), *, all_terms: bool = False) -> None:
    """The back-test's tables; `disabled`: the rules run though `enabled = false`, marked;
    `all_terms`: every term that hit nothing named, not the first `IDLE_SHOWN`."""
    c = out()
    head = f"{r.matched_posts:,} of {counted(r.posts, 'stored post')} matched"
    if r.matched_posts:
        span = sum(map(_day_count, r.day_rows()))
        head += (f" ({_share(r.matched_posts, r.posts)}; on {len(r.by_day):,} of {counted(span, 'day')}, "
                 f"up to {max(r.by_day.values()):,} a day)")
    c.print(Text(head, style="bold"))
    rules = Table(title="hits per rule", title_justify="left", pad_edge=c.width >= NARROW_TERMS)  # 41 wide with its edges padded
    rules.add_column("rule", no_wrap=True, min_width=max(map(len, r.rules), default=4))  # a name is never cut
    for col in ("hits", "stored now", "new", "gone"):
        rules.add_column(col, justify="right")
    for name in r.rules:
        rules.add_row(name, f"{r.hits[name]:,}", f"{r.stored[name]:,}", f"+{r.gained[name]:,}", f"-{r.lost[name]:,}")
    c.print(rules)
    for name in disabled:
        c.print(Text(f"{name}  {DISABLED}", style="yellow"))
    if not r.matched_posts:
        return
    _report_terms(r, all_terms=all_terms)
    channels = Table(title="hits per channel", title_justify="left")
    channels.add_column("channel")
    channels.add_column("id", justify="right")
    channels.add_column("posts", justify="right")
    for (cid, title), n in sorted(r.by_channel.items(), key=lambda kv: (-kv[1], kv[0])):
        channels.add_row(printable(title), str(cid), f"{n:,}")  # an id is no count: never separated
    c.print(channels)
    # every day of the span, a run of days without a hit in one row: listing only the days with
    # hits made 3 hits on 3 days in a month read as a steady trend
    table = Table(title="hits per day", title_justify="left")
    table.add_column("day (UTC)", min_width=len("2024-11-20"))  # a date is never cut; a run of days wraps at spaces
    table.add_column("posts", justify="right")
    table.add_column("stored", justify="right")
    table.add_column("", no_wrap=True)
    top = max(r.by_day.values())
    rows = r.day_rows()
    # the bar takes what the other columns leave, up to 20: at 40 columns 20 left the dates «2…»
    bar = max(1, min(20, c.width - 4 - sum(w + 3 for w in (
        len("2024-11-20"), max(5, *(len(f"{d.hits:,}") for d in rows)), max(6, *(len(f"{d.posts:,}") for d in rows))))))
    for d in rows:
        n = _day_count(d)
        when = d.first if n == 1 else f"{d.first} – {d.last} ({n:,} days)"
        table.add_row(when, f"{d.hits:,}", f"{d.posts:,}", "█" * max(1, round(bar * d.hits / top)) if d.hits else "")
    c.print(table)
    c.print(Text("posts: posts the rules matched; stored: the stored posts backtested"
                 + (" (0: none stored, not a quiet spell)" if any(not d.posts for d in rows) else ""), style="dim"))
    if r.samples:
        c.print(Text(f"latest {counted(len(r.samples), 'hit')}", style="bold"))
    for post, matches in reversed(r.samples):
        line = Text(printable(post.channel_title), style="cyan").append(f"  {post.date.replace('T', ' ')[:16]} UTC  ")
        line.append(post.link, style="underline")
        for m in matches:
            line.append(f"  {m.rule}", style=SEVERITY_STYLE.get(m.severity, "bold"))
        c.print(line)
        c.print(Text("  ").append_text(_excerpt(post.text, matches)))
        c.print(Text(f"  matched: {_matched(post.text, matches)}", style="dim"))


def _matched(text: str, matches: list[Match]) -> str:
    """The post's words each rule hit, as alerts and exports list them («беспилотниками ← беспилотник»;
    several rules: «lockdown: …; regiment: …»), not the rule's terms alone."""
    def words(m: Match) -> str:
        return matched_words(text, tuple((h.term, h.form, h.start, h.end, h.score, h.kind) for h in m.hits))
    if len(matches) == 1:
        return words(matches[0])
    return "; ".join(f"{m.rule}: {words(m)}" for m in matches)


def _report_terms(r: Backtest, words: int = 4, *, all_terms: bool = False) -> None:
    """Hits per term, most first, with the words each caught; then the terms that caught nothing
    (the first `IDLE_SHOWN` unless `all_terms`): which terms bring the hits, and which bring only
    noise or nothing."""
    c = out()
    table = Table(title="hits per term", title_justify="left")
    several = len(r.rules) > 1
    # in a narrow terminal the words a term caught go under it: a fourth column left each term «оцеплен…»
    under = c.width < NARROW_TERMS
    if several:
        table.add_column("rule", no_wrap=True)
    table.add_column(f"term\n  words it caught (posts), top {words}" if under else "term")
    table.add_column("posts", justify="right")
    table.add_column("alone", justify="right")
    if not under:
        table.add_column(f"words it caught (posts), top {words}")
    idle: list[str] = []
    for rule in r.rules:
        terms = r.terms.get(rule, {})
        for t in TermHits.ranked(terms):
            caught = printable(", ".join(t.top_words(words, counts=True)))
            term = Group(Text(printable(t.written)), Padding(Text(caught, style="dim"), (0, 0, 0, 2))) if under \
                else printable(t.written)
            table.add_row(*([rule] if several else []), term, f"{t.posts:,}", f"{t.alone:,}", *([] if under else [caught]))
        idle += [f"{rule}: " * several + t.written for t in terms.values() if not t.posts]
    c.print(table)
    c.print(Text("posts: matched posts the term hit, in any branch of the query; alone: of those, posts the rule "
                 "would not match without this term (dropping it loses them)", style="dim"))
    if idle:
        shown = idle if all_terms or len(idle) <= IDLE_SHOWN + 1 else idle[:IDLE_SHOWN]  # never «and 1 more»
        more = f" and {len(idle) - len(shown):,} more (--all-terms lists every one)" if len(shown) < len(idle) else ""
        c.print(Text(f"{counted(len(idle), 'term')} hit nothing: " + printable(", ".join(shown)) + more, style="dim"))


def _excerpt(text: str, matches: list[Match], width: int = 220) -> Text:
    """`highlight`ed text, cut to a window around the first hit, on one line."""
    _, _, start = snippet(text, [(h.start, h.end) for m in matches for h in m.hits], width)
    end = min(len(text), start + width)
    part = highlight(printable(text.replace("\n", " ")), matches)[start:end]
    return Text("…" if start else "").append_text(part).append("…" if end < len(text) else "")
