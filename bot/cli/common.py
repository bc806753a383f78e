"""Helpers shared by the CLI commands: consoles, clean one-line errors, dates, the store."""

from __future__ import annotations

import io
import os
import re
import shlex
import signal
import sqlite3
import sys
import threading
from datetime import datetime, timedelta, timezone
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Iterable, NoReturn, Sequence

import click
from rich.console import Console

from ..config import ConfigError, load_config
from ..guess import meant
from ..text import printable
from .lineends import TrimLineEnds
from .stdout import STDOUT

if TYPE_CHECKING:  # the store (sqlite_utils) is imported by the commands that open one: not by `rules check`
    from ..store.db import Store
    from ..store.read import OutsideStored

DEFAULT_DB = "tgwatch.db"
DEFAULT_RULES = "rules"


def _shipped_rules() -> Path:
    """The repository's rules/ (an editable install), else the copy a wheel installed under
    share/tgwatch/rules (pyproject's data-files; `pip install .`), found through the install's record."""
    repo = Path(__file__).resolve().parents[2] / "rules"
    if repo.is_dir():
        return repo
    try:
        files = distribution("tgwatch").files or []
    except PackageNotFoundError:  # (run from a copy of the sources)
        return repo
    for f in files:
        if f.parts[-3:-1] == ("tgwatch", "rules") and f.suffix == ".toml":
            return Path(str(f.locate())).resolve().parent
    return repo


SHIPPED_RULES = _shipped_rules()
COUNT_MAX = 1_000_000_000  # counts given on the command line are clamped here (SQLite's integers end at 2**63)


class Count(click.IntRange):
    """A count option (--limit, --min-size, --samples). Below `least` is a usage error: `--limit 0`
    is a slip, not a request for one post. Above COUNT_MAX it means "all there are" and is clamped.
    With `every`, the word `all` (any case) is every one there is (COUNT_MAX): `--limit all` lists
    every post or story, where "0 is too few" left an analyst guessing at a big enough number."""

    def __init__(self, least: int, every: bool = False) -> None:
        super().__init__(min=least)
        self.least = least
        self.every = every

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str | None:
        return "N|all" if self.every else super().get_metavar(param, ctx)

    def _describe_range(self) -> str:  # the help's [default: 20; x>=1 or all]
        return super()._describe_range() + " or all" * self.every

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if self.every and isinstance(value, str) and value.strip().lower() == "all":
            return COUNT_MAX
        try:
            n = click.INT.convert(value, param, ctx)
        except click.BadParameter:
            if not self.every:
                raise
            self.fail(f"{value!r} is not a count: give a number, or all for every one", param, ctx)
        if n < self.least:
            hint = f"; use {max(param.opts, key=len) if param else ''} all for every one" * self.every
            self.fail(f"{n} is too few: give {self.least} or more{hint}", param, ctx)
        return min(n, COUNT_MAX)


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so that what is still buffered, and Python's last flush, go
    nowhere without complaint."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a stdout with no file (tests): nothing to flush
        pass


def broken_pipe() -> NoReturn:
    """End as a shell ends a command whose reader went away (`tgwatch … | head`): exit 141
    (128 + SIGPIPE), no traceback and no message."""
    _drop_stdout()
    sys.exit(141)


def stdout_unwritable(e: OSError) -> NoReturn:
    """End a command whose standard output cannot be written (`tgwatch search … > out.txt` on a
    full disk): one `error:` line naming it, exit 2, no traceback."""
    _drop_stdout()
    fail(f"{STDOUT}: cannot write ({e.strerror or e})")


class _Console(Console):
    """The commands' console: no line it prints ends in a blank (`TrimLineEnds`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.push_render_hook(TrimLineEnds())

    def on_broken_pipe(self) -> None:  # rich exits 1, which `story` documents as "no such story"
        self.quiet = True
        broken_pipe()


def out() -> Console:
    return _Console(highlight=False, soft_wrap=True)


def err() -> Console:
    return _Console(stderr=True, highlight=False, soft_wrap=True)


def resolve_rules(path: str, other: str = "--rules DIR") -> str:
    """`path`, or, when it is the default `rules` and this folder has none, the shipped rules (a
    note on stderr says so, and how the command is given others: `other`): `tgwatch replay export/`
    run outside the repository still watches."""
    if path != DEFAULT_RULES or Path(path).exists() or not SHIPPED_RULES.is_dir():
        return path
    err().print(f"rules: no ./{DEFAULT_RULES} folder here; using the shipped rules in {SHIPPED_RULES} "
                f"({other} for others)", markup=False, highlight=False)
    return str(SHIPPED_RULES)


def given(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A click callback for a file or folder name: an empty one (a script's `"$DIR"` unset) is a
    usage error naming the parameter, never the current folder it would read as."""
    if any(isinstance(v, str) and not v.strip() for v in (value if isinstance(value, tuple) else (value,))):
        raise click.BadParameter("empty file or folder name", ctx=ctx, param=param)
    return value


def counted(n: int, noun: str) -> str:
    """«1 error», «2 errors», «1,050 rows»: a count (thousands separated, as every count the CLI
    prints) and its noun (an English plural in -s)."""
    return f"{n} {noun}" if n == 1 else f"{n:,} {noun}s"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` on stderr and exit: the user's mistake never shows a traceback.
    Printable: an error may name the store's channels, whose titles their channels chose."""
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(code)


def fail_config(e: ConfigError) -> NoReturn:
    """Exit with every bad setting of a config file, one `error:` line each."""
    lines = str(e).splitlines()
    for line in lines[:-1]:
        click.echo(f"error: {line}", err=True)
    fail(lines[-1] if lines else "bad config")


def config_groups(path: str | None) -> dict[str, tuple[str, ...]]:
    """The channel groups of a config file, which rules may be scoped to (none without a file);
    a bad file exits as `fail_config` says."""
    if path is None:
        return {}
    try:
        return dict(load_config(path).groups)
    except ConfigError as e:
        fail_config(e)


# what every --channel takes (`check_channels`): one string, so each command's help says all of it
CHANNEL_FORMS = ("@username, t.me/name, id or -100 id, the channel's exact title, or the link of one of its posts "
                 "(t.me/c/…/N, t.me/name/N)")
CONFIG_HELP = "Config file (config.toml): its channel groups, which rules may be scoped to."


_QUOTES = set('"«»“”„')


def typed_query(words: tuple[str, ...] | list[str]) -> str:
    """Search words as the analyst typed them: an argument the shell took the quotes away from
    ("сбежал из части", which its spaces still show) is a phrase, quoted again. `search WORDS`
    and `export --search` read their words so, alike."""
    return " ".join(f'"{w}"' if len(w.split()) > 1 and not _QUOTES & set(w) else w for w in words)


# every form --since and --until take, for their help (the chat's periods take the same spans)
WHEN_FORMS = ("2024-11-20, 20.11.2024, 2024-11 (a month), 2024-11-20T10:00, 20.11.2024 10:00, "
              "or a span back from now: 30m, 12h, 7d, 2w")

_SPAN = re.compile(r"\s*(\d+)\s*(m|min|h|d|w)\s*", re.IGNORECASE)  # as the chat's /mute, /stats, /export periods
_SPAN_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RU_DATE = re.compile(r"\s*(\d{1,2}\.\d{1,2}\.\d{4})(?:[ T]+(\d{1,2}:\d{2})(:\d{2})?)?\s*")  # 20.11.2024 10:00
_MONTH = re.compile(r"\s*(\d{4})-(\d{2})\s*")  # 2024-11: the ISO 8601 month
# an ISO date as written: the day, and then perhaps the hour, minute, second and fraction
_UNTIL_PARTS = re.compile(r"\s*\d{4}-?\d{2}-?\d{2}(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})([.,]\d+)?)?)?)?"
                          r"\s*(?:Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?\s*", re.IGNORECASE)


def _read_when(value: str, option: str) -> tuple[datetime, str | None]:
    """The moment a --since/--until names (UTC) and the unit it is written to: "month", "day",
    "hour", "minute", "second", or None for a span back from now or a time with a fraction (an
    instant). Exits with one line naming the option when it is none of `WHEN_FORMS`."""
    m = _SPAN.fullmatch(value)
    if m:
        digits, unit = m.group(1).lstrip("0"), _SPAN_UNITS[m.group(2).lower()]
        if not digits:  # as the chat's periods: back from now by nothing is no span
            fail(f"{option} {value!r}: a span back from now must be more than 0 (as 30m, 12h, 7d, 2w)")
        try:  # 10 digits of minutes are 19,000 years: more never reaches int(), which refuses 4,301
            if len(digits) > 10:
                raise OverflowError
            return datetime.now(timezone.utc) - timedelta(**{unit: int(digits)}), None
        except OverflowError:
            fail(f"{option} {value!r}: reaches before year 1; give a shorter span or a date")
    m = _RU_DATE.fullmatch(value)
    if m:  # the Russian day.month.year, as analysts write it
        day, hm, sec = m.groups()
        try:
            dt = datetime.strptime(" ".join(filter(None, [day, hm and hm + (sec or "")])),
                                   "%d.%m.%Y" + (" %H:%M" if hm else "") + (":%S" if sec else ""))
        except ValueError:
            fail(f"{option} {value!r}: no such day or time (day.month.year, as 20.11.2024 or 20.11.2024 10:00)")
        return dt.replace(tzinfo=timezone.utc), "second" if sec else "minute" if hm else "day"
    m = _MONTH.fullmatch(value)
    if m:
        if not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) == 0:  # (datetime has no year 0)
            fail(f"{option} {value!r}: no such month (year-month, as 2024-11)")
        return datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=timezone.utc), "month"
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        if _UNTIL_PARTS.fullmatch(value):  # written as an ISO date, but none the calendar has: 2026-11-31, T25:00
            fail(f"{option} {value!r}: no such day or time (year-month-day, as 2024-11-20 or 2024-11-20T10:00)")
        fail(f"{option} {value!r}: expected a date like 2024-11-01, 20.11.2024, 2024-11, 2024-11-01T12:00 "
             "or a span like 7d, 12h, 2w")
    if dt.tzinfo:
        try:  # in UTC now, as the store keeps dates: 0001-01-01T00:00+01:00 has no UTC date
            dt = dt.astimezone(timezone.utc)
        except OverflowError:
            fail(f"{option} {value!r}: out of range once read as UTC; give a date between the years 1 and 9999")
    return dt.replace(tzinfo=timezone.utc) if not dt.tzinfo else dt, _iso_unit(value)


def _iso_unit(value: str) -> str | None:
    """The last unit an ISO date as written names: day, hour, minute, second; None with a fraction."""
    m = _UNTIL_PARTS.fullmatch(value)
    if m is None:
        return None
    hour, minute, second, fraction = m.groups()
    if fraction is not None:
        return None
    return "second" if second is not None else "minute" if minute is not None else "hour" if hour is not None else "day"


def parse_when(value: str | None, *, option: str = "--since") -> datetime | None:
    """A --since as `WHEN_FORMS` lists them (UTC unless an ISO date gives an offset): '2024-11-01',
    '20.11.2024', '2024-11' (its first day), '2024-11-01T12:00+03:00', '20.11.2024 12:00', or a
    span back from now: '30m', '12h', '7d', '2w'."""
    if value is None:
        return None
    return _read_when(value, option)[0]


def until_end(start: datetime, unit: str | None) -> datetime:
    """The end (left out) of the period an --until names: `start` plus the whole of its last unit
    (the day of 2024-11-20, the month of 2024-11, the minute of 10:00); `start` for an instant."""
    if unit == "month":
        return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    step = {"day": timedelta(days=1), "hour": timedelta(hours=1), "minute": timedelta(minutes=1),
            "second": timedelta(seconds=1)}.get(unit or "", timedelta(0))
    return start + step


class WhenParam(click.ParamType):
    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime | None:
        if isinstance(value, datetime):
            return value
        return parse_when(value, option=f"--{param.name}" if param else "date")


class UntilParam(WhenParam):
    """Like WHEN, but --until names the last month, day, hour, minute or second it includes: a
    bare day (2024-11-20, 20.11.2024) means the end of that day, 2024-11 the end of that month,
    2024-11-20T10:00 the end of that minute, so `--since D --until D` is the whole day D and
    `--since D --until D` with D = 2024-11-20T10:00 the whole minute (the period is since <= date
    < the returned end). Every command's --until reads dates so."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        dt, unit = _read_when(value, f"--{param.name}" if param else "date")
        try:
            return until_end(dt, unit)
        except (OverflowError, ValueError):  # 9999-12-31, 9999-12: its end is the end of time
            return datetime.max.replace(tzinfo=dt.tzinfo)


# what every --until's help says of it
UNTIL_HELP = ("a bare day includes that whole day, 2024-11-20T10:00 that whole minute, 2024-11 that whole month; "
              "also 20.11.2024, 20.11.2024 10:00, or a span back from now: 30m, 12h, 7d, 2w")


def shown_until(until: datetime) -> str:
    """An --until as the last minute it includes (`2024-11-22 15:30` for --until 2024-11-22T15:30,
    read as 15:31:00 and left out; `2024-11-22 23:59` for a bare day): the period is
    since <= date < until, and the stored dates are whole seconds."""
    try:
        last = until - timedelta(seconds=1)
    except OverflowError:  # --until 0001-01-01T00:00
        last = until
    return f"{last:%Y-%m-%d %H:%M}"


WHEN = WhenParam()
UNTIL = UntilParam()


def check_span(since: datetime | None, until: datetime | None) -> None:
    """Exit with one line when --since does not come before --until."""
    if since and until and since >= until:
        fail("--since must be before --until")


def after_newest(since: datetime, newest: datetime | None) -> str:
    """«--since … is after the newest stored post (…)»: why a span finds nothing in a replayed
    history (a span like 7d counts back from now, the history ended long ago). `stats` ends with it,
    the other commands note it (`note_outside_stored`)."""
    what = f"the newest stored post ({newest:%Y-%m-%d %H:%M} UTC)" if newest else "now (the store has no post)"
    return f"--since {since:%Y-%m-%d %H:%M} UTC is after {what}"


def _outside_text(outside: OutsideStored, since: datetime | None, until: datetime | None) -> str:
    """«--since … is after the newest stored post (…)», «--until … is before the oldest stored post
    (…)»: the options as given, for a span `outside_stored` found outside the stored posts."""
    if outside.after and since is not None:
        return after_newest(since, outside.edge)
    assert until is not None
    # a bare --until day (read as the next midnight) is named as written, else its last minute
    end = f"{until - timedelta(days=1):%Y-%m-%d}" if until.time() == datetime.min.time() and until.year > 1 \
        else f"{shown_until(until)} UTC"
    return f"--until {end} is before the oldest stored post ({outside.edge:%Y-%m-%d %H:%M} UTC)"


def note(message: str) -> None:
    """One `note:` line on stderr: something the user should know that is not an error (a damaged
    search index rebuilt: `repaired=` of `search_posts` and `iter_export_rows`)."""
    err().print(f"note: {message}", markup=False)


def note_outside_stored(store: Store, since: datetime | None, until: datetime | None) -> None:
    """One `note:` line on stderr when the span lies outside the stored posts' dates, so that a
    command finding nothing there is not read as nothing having happened."""
    from ..store.read import outside_stored

    outside = outside_stored(store, since, until)
    if outside is not None:
        err().print(f"note: {_outside_text(outside, since, until)}: nothing stored is in that span "
                    "(a span like 7d counts back from now)", markup=False)


def db_place(path: str) -> Path:
    """The folder a database file `path` goes in, or exit with one line: `path` is a folder, or its
    folder is a file or missing (SQLite says only «disk I/O error» or «unable to open»)."""
    db = Path(path)
    if db.is_dir():
        fail(f"{path}: is a folder, expected a database file")
    folder = db.resolve().parent
    if folder.is_file():
        fail(f"{path}: {folder} is a file, not a folder")
    if not folder.is_dir():
        fail(f"{path}: folder {folder} does not exist")
    return folder


def open_store(path: str, *, must_exist: bool = False, owner: str = "live") -> Store:
    """Open (or create) the store, or exit with a one-line error that names what is wrong; `owner`:
    whose alerts it queues and takes (`Store`)."""
    if not path.strip():
        fail("--db: empty path")
    if path != ":memory:":
        db = Path(path)
        if must_exist and not db.exists():
            fail(f"{path}: no such database (run `tgwatch replay ... --db {path}` first)")
        folder = db_place(path)
        if db.exists() and not os.access(db, os.R_OK | os.W_OK):
            fail(f"{path}: not readable and writable by you (tgwatch writes to its database, even to read it)")
        if not os.access(folder, os.W_OK | os.X_OK):
            fail(f"{path}: folder {folder} is not writable (SQLite keeps its journal beside the database)")
    from ..store.db import Store, StoreError

    _opened[:] = [path]
    try:
        return Store(path, owner=owner, told=note)
    except StoreError as e:
        fail(str(e))
    except Exception as e:  # sqlite3.OperationalError for unreadable paths
        fail(f"{path}: cannot open database ({e})")


def database_problem(e: sqlite3.DatabaseError) -> str:
    """One line for an SQLite error that stopped a command midway (a lock held too long, a damaged
    file, a full disk): the database it hit, what is wrong and what to do. Every transaction is
    all or nothing, so what was committed before stays stored."""
    db = _opened[-1] if _opened else "the database"
    text = str(e)
    if "locked" in text or "busy" in text:
        return (f"{db}: the database stayed locked by another program for 30 s (a running `tgwatch run` or "
                "replay?); what was stored before is kept: run the command again when the other one is done")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return (f"{db}: the database is damaged ({text}); keep a copy of it, then rescue its rows with "
                f"`sqlite3 {shlex.quote(db)} .recover | sqlite3 recovered.db`")  # quoted: pasted into a shell
    if "full" in text:
        return f"{db}: the disk is full ({text}); what was stored before is kept: free some space and run the command again"
    return f"{db}: database error ({text}); what was stored before is kept"


_opened: list[str] = []  # the database this command opened (`open_store`), for `database_problem`


def check_channels(store: Store, channels: tuple[str, ...] | list[str], *, need_one: bool = True) -> list[int]:
    """The stored ids a command's --channel options name (`CHANNEL_FORMS`; a title in any case).
    A title several channels share, or a reference the store has never seen, exits with one
    `error:` line (exit 2, the store closed, nothing written): the one naming the channels it has,
    and how they are named. Every command reads --channel so: a typo never gives an empty file.
    (`need_one` is kept for callers written when some commands only warned: it changes nothing.)"""
    if not channels:
        return []
    from ..store.read import AmbiguousChannel, channel_names, resolve_channels

    try:
        ids, unknown = resolve_channels(store, channels)
    except AmbiguousChannel as e:
        store.close()
        fail(f"--channel {e}")
    if unknown:
        names = channel_names(store)
        store.close()
        fail(f"--channel: no channel {', '.join(unknown)} in this store (a channel is named by @username, "
             f"t.me/name, id or its exact title; channels: {', '.join(names) or 'none'})")
    return ids


def check_rules(store: Store, names: tuple[str, ...] | list[str]) -> list[str]:
    """The stored rule names a command's --rule options give, in any case («Desertion» is
    `desertion`). A rule the store has no match of exits with one `error:` line (exit 2, the store
    closed, nothing written) naming it and the rules the store has."""
    if not names:
        return []
    from ..store.read import resolve_rules, rule_names

    found, unknown = resolve_rules(store, names)
    if unknown:
        known = rule_names(store)
        store.close()
        hint = meant(unknown[0], known) if len(unknown) == 1 else ""
        fail(f"--rule: no rule {', '.join(unknown)} has matches in this store{hint} "
             f"(rules: {', '.join(known) or 'none'})")
    return found


# -- rows to CSV or JSON Lines: `export` and `stories --format csv|jsonl` ----------------------------

# the CSV options, as both take them
BOM = click.option("--bom", is_flag=True, help="Start the CSV with a UTF-8 BOM, so Excel reads Cyrillic right.")
ESCAPE = click.option("--escape-formulas/--no-escape-formulas", "escape", default=True, show_default=True,
                      help="CSV: a cell that starts like a formula (= + - @, a tab or a line break) or with ' gets a leading ' so a spreadsheet "
                           "shows it as text (a program strips exactly one leading ' to read a cell as stored); "
                           "--no-escape-formulas keeps every cell exactly as stored.")


def check_csv_options(fmt: str, bom: bool, escape: bool) -> None:
    """Exit with one line when --bom or --no-escape-formulas comes with a format other than CSV."""
    if bom and fmt != "csv":
        fail(f"--bom is for CSV only (not {fmt})")
    if not escape and fmt != "csv":  # JSON Lines is always exact, and an Excel cell is never a formula
        fail(f"--no-escape-formulas is for CSV only (not {fmt}: its cells are never formulas)")


def write_stdout(rows: Iterable[dict[str, Any]], fmt: str, *, fields: Sequence[str], bom: bool = False,
                 escape: bool = True) -> int:
    """Write the rows to stdout as CSV or JSON Lines of `fields`, in UTF-8 whatever the locale;
    returns how many. A reader that goes away raises BrokenPipeError."""
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:  # stdout replaced by a text-only stream: write to it as it is
        if bom:
            sys.stdout.write("\ufeff")
        return write_text(rows, fmt, sys.stdout, fields=fields, escape=escape)
    sys.stdout.flush()
    stream = io.TextIOWrapper(binary, encoding="utf-8-sig" if bom else "utf-8", newline="", write_through=True)
    try:
        return write_text(rows, fmt, stream, fields=fields, escape=escape)
    finally:
        stream.flush()
        stream.detach()


def write_text(rows: Iterable[dict[str, Any]], fmt: str, f: IO[str], *, fields: Sequence[str],
               escape: bool = True) -> int:
    """The rows to `f` as CSV (`escape`d, see `write_csv`) or JSON Lines of `fields`; returns how many."""
    from ..store.export import write_csv, write_jsonl  # the store is imported by the commands that write rows

    return write_csv(rows, f, escape=escape, fields=fields) if fmt == "csv" else write_jsonl(rows, f, fields=fields)


class StopSignals:
    """SIGTERM and SIGHUP (a `kill`, `timeout`, a closed terminal) stop a command as Ctrl-C does, until
    `restore`: a replay keeps the batches committed so far, an export leaves no temporary file. (Only
    the main thread can take signals: a command run in another, by a program, leaves them as they are.)"""

    def __init__(self) -> None:
        self.signal = int(signal.SIGINT)
        main = threading.current_thread() is threading.main_thread()
        self._old = {s: signal.signal(s, self._stop) for s in _STOP_SIGNALS} if main else {}

    def _stop(self, signum: int, _frame: object) -> None:
        self.signal = signum
        raise KeyboardInterrupt

    def restore(self) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
