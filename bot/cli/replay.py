"""`tgwatch replay`: run exports / JSON Lines through the same pipeline the live bot uses."""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ..alert.outbox import deliver_queued, unshown
from ..alert.sinks import JsonlSink, NullSink, TerminalSink
from ..match.matcher import Matcher
from ..match.rules import DISABLED
from ..pipeline import Pipeline, Processed
from ..rematch import Rematch, Stale, held_rules, last_rowid, record_coverage, rematch, stale_rules
from ..source import Note, Skip, read_by_date, source_files
from ..source.export import NOT_A_CHANNEL
from ..store.db import REPLAY, Store
from ..text import printable
from ..worker import default_workers
from .common import CONFIG_HELP, DEFAULT_DB, DEFAULT_RULES, WHEN, WHEN_FORMS, StopSignals, config_groups, counted, err, fail, given, open_store, out
from .rules import load_or_fail


CUT_SHORT = "interrupted: every batch committed so far is stored; replay the same files again to finish"
CLOSING = "interrupted while closing: every post and alert is stored; nothing needs replaying again"


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(), callback=given)
@click.option("--rules", "rules_path", default=DEFAULT_RULES, show_default=True, callback=given, help="Rule folder or file.")
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, help="SQLite store (created if missing).")
@click.option("--since", type=WHEN, help=f"Skip posts older than this ({WHEN_FORMS}).")
@click.option("--alerts", "alerts", default="terminal", show_default=True, metavar="terminal|none|FILE.jsonl",
              help="Where new alerts go.")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), callback=given, help=CONFIG_HELP)
def replay(paths: tuple[str, ...], rules_path: str, db_path: str, since: datetime | None, alerts: str,
           config_path: str | None) -> None:
    """Replay Telegram Desktop exports (result.json, or folders holding them) and JSON Lines files.

    Every post is stored once and folded into a story (forwards, copies and rewordings of the same
    event within 48 h); new and edited posts are matched; one alert per story and rule, and an
    update line when a story that already alerted is reported again.
    Replaying the same files again stores nothing new and alerts nothing twice.
    Exit 0 when a post was read, 1 when none was (an export with no posts), 2 for an error.
    """
    if alerts not in ("terminal", "none") and not alerts.lower().endswith(".jsonl"):
        fail(f"--alerts {alerts!r}: expected terminal, none or a file name ending in .jsonl")
    if alerts.lower().endswith(".jsonl"):
        parent = Path(alerts).resolve().parent
        if not parent.is_dir():
            fail(f"--alerts {alerts}: folder {parent} does not exist")
        if Path(alerts).is_dir():
            fail(f"--alerts {alerts}: is a folder, expected a file")
    files = list(source_files(paths))
    found = [f for f in files if not isinstance(f, Skip)]
    if not found:  # before the store is created: nothing to replay leaves nothing behind
        fail("nothing to replay: " + "; ".join(str(k) for k in files if isinstance(k, Skip)))
    if alerts.lower().endswith(".jsonl") and Path(alerts).resolve() in {f.resolve() for f in found}:
        fail(f"--alerts {alerts}: is one of the files being replayed")
    groups = config_groups(config_path)
    ruleset = load_or_fail(rules_path)
    for rule in ruleset.rules:  # its file is read, its matches are not made: say so, once
        if not rule.enabled:
            err().print(f"note: rule '{rule.name}' {DISABLED}", markup=False, highlight=False)
    titles = {r.name: r.title for r in ruleset.rules}
    store = open_store(db_path, owner=REPLAY)  # its alerts are its own: never the live service's to send, nor theirs its
    try:
        sink = TerminalSink(out()) if alerts == "terminal" else NullSink() if alerts == "none" else JsonlSink(alerts, db_path)
    except OSError as e:
        store.close()
        fail(f"--alerts {alerts}: cannot write ({e.strerror})")
    held = held_rules(store, ruleset.rules) if config_path is None else {}  # without -c a group's channels are unknown
    for name, named in held.items():
        err().print(f"note: rule '{name}' left as it is (not matched): it names {'group' if len(named) == 1 else 'groups'} "
                    f"{', '.join(repr(g) for g in named)}, which only the config defines; replay with -c CONFIG to match it",
                    markup=False, highlight=False)
    matcher = Matcher([r for r in ruleset.rules if r.name not in held], groups=groups)
    in_use = {r.name for r in matcher.rules}  # an earlier run's alerts of other rules stay queued for a run with them
    upto = last_rowid(store)  # the posts stored before this run: a rule added or changed since has not seen them
    stale = stale_rules(store, matcher.rules, upto, groups)
    # a second process matches while this one stores (started before the progress bar's thread)
    pipeline = Pipeline(store, matcher, alert_state="muted" if alerts == "none" else "queued", since=since,
                        workers=default_workers())
    skips: list[Skip] = []

    shown = 0  # alerts and updates handed to the sink, those of earlier runs included
    dropped: dict[int, str] = {}  # alert id -> rule, of the alerts not shown: their posts no longer match (edited since)
    queued: set[int] = set()  # the alerts this run's posts raised (an earlier run's are not among them)

    def deliver(batch: list[Processed] | None) -> None:
        nonlocal shown
        queued.update(a for p in batch or () for a in p.alert_ids)
        if alerts != "none":
            shown += deliver_queued(store, sink, titles, in_use, matcher=matcher, dropped=dropped)

    n_files = len(found)
    console = err()
    # how many posts an export holds is known only once it is read: a count, not «4500/?»
    progress = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,.0f}{task.fields[of]} posts"),
                        TimeElapsedColumn(), console=console, transient=True, disable=not console.is_terminal)
    interrupted = finished = False
    again = Rematch()
    stopped_by = StopSignals()
    try:
        with progress:
            task = progress.add_task("replaying", total=None, of="")
            for _ in pipeline.process(read_by_date(paths, skips), on_batch=deliver):
                progress.advance(task)
            again = _catch_up(store, matcher, stale, upto, groups, since, pipeline.alert_state, progress)
            deliver(None)
        finished = True
    except KeyboardInterrupt:
        interrupted = True
        err().print(CUT_SHORT)
    finally:
        try:
            pipeline.close()  # saves the story word counts: a Ctrl-C (or a second one) here loses only them
        except KeyboardInterrupt:
            if finished:  # every post and alert is stored and shown: say so, as a Ctrl-C before does
                err().print(CLOSING)
            interrupted = True
        finally:
            stopped_by.restore()
            scope = matcher.scope_warnings(store.known_channels())
            left = unshown(store, in_use) if alerts != "none" else {}
            if isinstance(sink, JsonlSink):
                sink.close()
            store.close()
    _summary(pipeline, skips, n_files, db_path, shown, again, left, dropped, queued)
    for line in scope:  # a scope entry no stored channel is known by watches nothing, silently
        err().print(f"warning: {line}", style="yellow", markup=False, highlight=False)
    if interrupted:
        sys.exit(128 + stopped_by.signal)  # as a shell reports it (130 for Ctrl-C): `replay ... && export ...` stops here
    if pipeline.summary.read == 0:
        sys.exit(1)  # not one post read (none there, or none readable: the lines above say why), as `search` finds none


def _catch_up(store: Store, matcher: Matcher, stale: list[Stale], upto: int, groups: dict[str, tuple[str, ...]], since: datetime | None,
              alert_state: str, progress: Progress) -> Rematch:
    """Match the posts stored before this run with the rules added or changed since (`bot.rematch`), then
    record that these rules cover the store (not when `--since` left posts out: `rematch` records a changed
    rule as covering none, so the next whole replay matches them all with whatever version is then in the files)."""
    again = Rematch()
    if stale:
        low = min(s.through for s in stale)
        n = store.count_stored_after(low, upto)
        task = progress.add_task("matching stored posts again", total=n, of=f" of {n:,}")
        again = rematch(store, matcher.rules, stale, upto, groups=groups, alert_state=alert_state, since=since,
                        progress=lambda k: progress.advance(task, k))
    if stale and not since:  # (the other rules' coverage follows the posts the pipeline stored)
        caught_up = {s.rule for s in stale}
        record_coverage(store, [r for r in matcher.rules if r.name in caught_up], last_rowid(store), groups)
    return again


def _summary(pipeline: Pipeline, skips: list[Skip], n_files: int, db_path: str, shown: int = 0,
             again: Rematch | None = None, left: dict[str, int] | None = None, dropped: dict[int, str] | None = None,
             queued: set[int] | None = None) -> None:
    """The run's counts on stdout (`shown`: the alerts and updates the sink got, an earlier run's too; `dropped`: alert id
    -> rule, of those not shown as no longer matching; `queued`: the ids of this run's new alerts), then what was skipped."""
    s = pipeline.summary
    c = out()
    notes = [k for k in skips if isinstance(k, Note)]  # posts kept, a bad field left out: not skipped
    skips = [k for k in skips if not isinstance(k, Note)]
    service = sum(1 for k in skips if k.reason.endswith(" message"))
    chats = sum(1 for k in skips if k.reason.endswith(NOT_A_CHANNEL))  # listed below, not errors
    problems = [k for k in skips if not k.reason.endswith(" message")]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("files", f"{n_files:,}")
    table.add_row("posts read", f"{s.read:,}")
    table.add_row("new", f"{s.new:,}")
    table.add_row("edited", f"{s.edited:,}")
    table.add_row("already stored", f"{s.unchanged:,}")
    if s.stale:
        table.add_row("older than stored", f"{s.stale:,} (the stored, later version kept)")
    if s.too_old:
        table.add_row("before --since", f"{s.too_old:,}")
    table.add_row("skipped", f"{len(skips):,} ({counted(service, 'service message')}, "
                  + (f"{counted(chats, 'non-channel chat')}, " if chats else "") + f"{counted(len(problems) - chats, 'error')})")
    kept = len({(k.path, k.where) for k in notes if "message #" in k.where or k.where.startswith("line ")})
    if kept:  # posts, not warnings: one post can have two flaws, and a chat's own flaw is no post
        table.add_row("kept with a warning", f"{counted(kept, 'post')} (stored; what was wrong with each is listed below)")
    joined = s.joined
    folded = sum(joined.values())
    if s.new:  # what folding did: the new posts that started a story, and those that joined one
        table.add_row("new stories", f"{s.new - folded:,}")
        table.add_row("joined a story", f"{folded:,} ({counted(joined['forward'], 'forward')}, {joined['exact']:,} same text, "
                                        f"{joined['near']:,} reworded)")
    for rule, n in sorted(s.matches.items()):
        table.add_row(f"matched {rule}", f"{n:,}")
    again = again or Rematch()
    for rule, n in sorted(again.posts.items()):
        why = {"changed": "the rule changed", "upgrade": "tgwatch's matching changed", "new": "a rule new to this store",
               "behind": "stored without it"}.get(again.why.get(rule, ""), "a new or changed rule")
        table.add_row(f"matched {rule} again", f"{counted(n, 'stored post')} ({why}): {again.matched[rule]:,} match"
                      + (f", {again.dropped[rule]:,} no longer" if again.dropped[rule] else "")
                      + f", {counted(again.alerts[rule], 'new alert')}")
    alerts = s.alerts + sum(again.alerts.values())
    table.add_row("new alerts", f"{alerts:,}")
    if s.updates:
        table.add_row("alert updates", f"{s.updates:,}")
    dropped = dropped or {}
    ours = len(dropped.keys() & (queued or set()))  # this run's alerts not shown (an earlier run's dropped are in neither)
    earlier = shown - (alerts - ours) - s.updates
    if earlier > 0:  # queued by a run that stopped before it could show them
        table.add_row("from earlier runs", f"{earlier:,} (queued, not shown until now)")
    if dropped:  # an edit later in the input (or a rule's) took the matched words out: its text is not what matched
        table.add_row("no longer matching", f"{counted(len(dropped), 'alert')} not shown "
                      f"({', '.join(sorted(set(dropped.values())))}): its rule no longer matches its post as stored now; muted, "
                      "as `tgwatch run` does")
    if left:  # queued by an earlier run for a rule switched off since, or not in this run's --rules
        n = sum(left.values())
        table.add_row("not shown", f"{counted(n, 'queued alert')} of {'a rule' if len(left) == 1 else 'rules'} not in use "
                      f"({', '.join(sorted(left))}): shown by a replay with {'it' if len(left) == 1 else 'them'}")
    table.add_row("store", db_path)
    c.print(table)
    _list("skipped", problems)
    _list("warning", notes)


def _list(what: str, items: Sequence[Skip]) -> None:
    """Up to 10 of `items` on stderr, one line each as `what file: where: reason`, then the
    commonest reasons of the rest."""
    items = sorted(items, key=_place)  # file by file, in file order (files are read side by side, by date)
    reasons = Counter(k.reason.split(" (")[0] for k in items[10:])  # of the rest: those above are listed
    for k in items[:10]:  # printable: a bad value quoted from the file is the file's text
        err().print(printable(f"{what} {k}"), markup=False, highlight=False)
    if len(items) > 10:
        err().print(printable(f"... and {len(items) - 10:,} more: " + ", ".join(f"{n:,} x {r}" for r, n in reasons.most_common(5))),
                    markup=False, highlight=False)


def _place(skip: Skip) -> tuple[str, tuple[tuple[int, str], ...]]:
    """Where a skip is, to sort by: its file, then the numbers of its place (line 12; chat #2:
    message #5), compared as numbers without int(), which refuses 4,301 digits (a chat's name is
    part of its place)."""
    numbers = (n.lstrip("0") for n in re.findall(r"(?:#|line )(\d+)", skip.where))
    return skip.path, tuple((len(n), n) for n in numbers)


