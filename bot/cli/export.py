"""`tgwatch export`: matched (or all) stored posts to CSV, JSON Lines or Excel, streaming."""

from __future__ import annotations

import gzip
import io
import logging
import os
import stat
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import click

from ..store.export import FORMATS, XLSX_MAX_CHARS, new_file_mode, write_xlsx, written_whole
from ..store.read import EXPORT_FIELDS, SearchError, iter_export_rows
from .common import (
    BOM,
    StopSignals,
    CHANNEL_FORMS,
    DEFAULT_DB,
    ESCAPE,
    UNTIL,
    UNTIL_HELP,
    WHEN,
    WHEN_FORMS,
    broken_pipe,
    check_channels,
    check_csv_options,
    check_rules,
    check_span,
    counted,
    fail,
    note,
    note_outside_stored,
    open_store,
    stdout_unwritable,
    typed_query,
    write_stdout,
    write_text,
)

__all__ = ["export"]

log = logging.getLogger(__name__)

@click.command()
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, help="SQLite store to read.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="Output format  [default: from the -o file name, else csv]")
@click.option("--rule", "rules", multiple=True, metavar="NAME", help="Only posts matched by this rule (any case; repeatable).")
@click.option("--channel", "channels", multiple=True, metavar="C",
              help=f"Only posts of this channel: {CHANNEL_FORMS}; repeatable.")
@click.option("--since", type=WHEN, help=f"Posts from this date on ({WHEN_FORMS}).")
@click.option("--until", type=UNTIL, help=f"Posts up to this date ({UNTIL_HELP}).")
@click.option("--search", "search", metavar="TEXT", multiple=True,
              help='Only posts containing these words (any inflection), read as `tgwatch search` reads its words: '
                   '--search "сбежал из части" is that phrase, --search сбежал --search части both words anywhere.')
@click.option("--all-posts", is_flag=True, help="Every stored post, not only the matched ones.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Output file (stdout when omitted).")
@BOM
@ESCAPE
def export(db_path: str, fmt: str | None, rules: tuple[str, ...], channels: tuple[str, ...],
           since: datetime | None, until: datetime | None, search: tuple[str, ...], all_posts: bool,
           output: str | None, bom: bool, escape: bool) -> None:
    """Export stored posts with their matches, story and forward origin, oldest first.

    Only posts a rule currently matches, unless --all-posts. CSV and JSON Lines go to stdout
    without -o; Excel (xlsx) needs -o FILE. Exit 0 when a row was written, 1 when none was.
    """
    if output == "-":  # the usual name of stdout
        output = None
    if output is not None:
        _check_output(output, db_path)
    fmt, gz = _output_format(output, fmt)
    if fmt == "xlsx" and not output:
        fail("--format xlsx needs -o FILE.xlsx (a workbook cannot go to the terminal)")
    check_csv_options(fmt, bom, escape)
    check_span(since, until)
    store = open_store(db_path, must_exist=True)
    try:
        rules = tuple(check_rules(store, rules))
        check_channels(store, channels)
        note_outside_stored(store, since, until)
        rows = iter_export_rows(store, rules=rules, channels=channels, since=since, until=until,
                                search=typed_query(search) if search else None, all_posts=all_posts, repaired=note)
        cut: Counter[str] = Counter()  # cells too long for Excel, by column
        try:
            n = _write(rows, fmt, output, bom, cut, escape=escape, gz=gz)
        except SearchError as e:
            fail(f"--search: {e}")
        except BrokenPipeError:  # `tgwatch export | head`: the reader has had enough
            broken_pipe()
        except OSError as e:
            if output is None:
                stdout_unwritable(e)
            fail(f"{output}: cannot write ({e.strerror or e})")
    finally:
        store.close()
    click.echo(f"{counted(n, 'row')} written to {output or 'stdout'}", err=True)
    if cut:
        columns = ", ".join(f"{name} {k:,}" for name, k in sorted(cut.items()))
        click.echo(f"{counted(sum(cut.values()), 'cell')} cut at Excel's {XLSX_MAX_CHARS:,} characters ({columns}), "
                   "each ending with how many were cut: the CSV or JSON Lines export has the full text", err=True)
    if n == 0:
        sys.exit(1)  # nothing found, as `search` says it (the file, with its header only, is written all the same)


_SUFFIXES = {"ndjson": "jsonl"}  # other names of a format
# formats a user may expect but export has not (--format writes one under such a name anyway)
_NOT_WRITTEN = {"json", "xls", "tsv", "db", "sqlite", "sqlite3", "parquet", "feather", "arrow", "ods", "xml"}
# compressions and archives but gzip: no --format makes a plain file under such a name honest
_PACKED = {"zip", "bz2", "xz", "zst", "lz4", "br", "7z", "tar", "tgz", "rar"}
_WRITES = "export writes csv, jsonl (JSON Lines) or xlsx, and csv or jsonl gzipped (.csv.gz, .jsonl.gz)"
_SQLITE_HEADER = b"SQLite format 3\x00"


def _output_format(output: str | None, fmt: str | None) -> tuple[str, bool]:
    """The format to write and whether gzipped, from -o's name and --format (csv by default): a
    name ending in .gz is gzipped in the format its inner suffix names (posts.jsonl.gz). Exits
    with one line when they disagree, or the name says a format or compression export has not."""
    name = Path(output or "")
    last = name.suffix.lower().lstrip(".")
    gz = last == "gz"
    suffix = name.with_suffix("").suffix.lower().lstrip(".") if gz else last
    if last in _PACKED or (gz and suffix in _PACKED):  # posts.zip, posts.tar.gz
        fail(f"-o {output}: {_WRITES}, not .{suffix + '.gz' if gz else last}: rename the file")
    suffix = _SUFFIXES.get(suffix, suffix)
    if fmt is not None and suffix in FORMATS and suffix != fmt:
        fail(f"-o {output}: the file name says {suffix}, --format says {fmt}; "
             "drop --format (the file name decides) or make them agree")
    if fmt is None:
        if suffix in _NOT_WRITTEN:
            fail(f"-o {output}: {_WRITES}, not .{suffix}{'.gz' * gz}: rename the file or give --format")
        fmt = suffix if suffix in FORMATS else "csv"
    if gz and fmt == "xlsx":
        fail(f"-o {output}: an xlsx workbook is compressed already, so not gzipped: name it .xlsx "
             "(.gz is for csv and jsonl: .csv.gz, .jsonl.gz)")
    return fmt, gz


def _check_output(output: str, db_path: str) -> None:
    """Exit with one line when -o is empty, the database itself (or its journal), or another SQLite
    file: an export replaces its output file, and must never replace a database."""
    if not output.strip():
        fail("-o: empty file name")
    if output.endswith(("/", os.sep)):  # Path() would drop the slash and write a file named like the folder
        fail(f"-o {output}: names a folder; give a file name, e.g. {output.rstrip('/' + os.sep) or '.'}/export.csv")
    target = Path(output)
    folder = target.resolve().parent
    if not folder.is_dir():
        fail(f"-o {output}: folder {folder} does not exist")
    if db_path != ":memory:":
        db = Path(db_path).resolve()
        own = {db, *(db.with_name(db.name + end) for end in ("-wal", "-shm", "-journal"))}
        if target.resolve() in own:
            fail(f"-o {output}: that is the database being exported ({db_path}) or its journal; choose another file")
    if not target.is_file():  # nothing to sniff; opening a named pipe to read would wait for a writer
        return
    try:
        with target.open("rb") as f:
            if f.read(len(_SQLITE_HEADER)) == _SQLITE_HEADER:
                fail(f"-o {output}: is an SQLite database; export will not replace it (choose another file)")
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        pass


def _write(rows: Iterator[dict[str, Any]], fmt: str, output: str | None, bom: bool,
           cut: Counter[str] | None = None, *, escape: bool = True, gz: bool = False) -> int:
    """Write to `output` through a temporary file renamed at the end (no half-written file on
    error), or to stdout as UTF-8 whatever the locale; xlsx cells cut are counted in `cut`;
    `escape`: CSV cells that start like a formula, or with ', get a leading ' (see `write_csv`);
    `gz`: the file gzipped."""
    rows = _first_checked(rows)
    if output is None:
        return write_stdout(rows, fmt, bom=bom, escape=escape, fields=EXPORT_FIELDS)
    target = Path(output)
    if target.exists() and not target.is_file():  # /dev/stdout, /dev/null, a named pipe: written as they are
        return _write_file(rows, fmt, target, bom, cut, escape=escape, gz=gz)
    target = target.resolve()  # through a link: the file it names is replaced, the link kept
    old = target.stat() if target.exists() else None
    # two exports to one -o at once never write into each other's: each replaces the target whole,
    # the last to finish wins; a file written anew keeps its mode (chmod 600 stays private)
    stops = StopSignals()  # a `kill` or `timeout` (a cron job's) leaves no temporary file either, as Ctrl-C
    try:
        n = written_whole(target, lambda tmp: _write_file(rows, fmt, tmp, bom, cut, escape=escape, gz=gz),
                          stat.S_IMODE(old.st_mode) if old is not None else new_file_mode())
    finally:
        stops.restore()
    if old is not None and old.st_nlink > 1:  # replaced whole, so that a failed export leaves the old one
        others = old.st_nlink - 1
        note(f"-o {output}: its {counted(others, 'other hard link')} still {'holds' if others == 1 else 'hold'} "
             "the previous export (the new one replaced this name only)")
    return n


def _write_file(rows: Iterator[dict[str, Any]], fmt: str, path: Path, bom: bool,
                cut: Counter[str] | None = None, *, escape: bool = True, gz: bool = False) -> int:
    """Write the rows to `path` in `fmt`, gzipped if `gz`; returns how many (xlsx cells cut
    counted in `cut`)."""
    if fmt == "xlsx":
        return write_xlsx(rows, path, cut)
    encoding = "utf-8-sig" if bom else "utf-8"
    if not gz:
        with path.open("w", encoding=encoding, newline="") as f:
            return write_text(rows, fmt, f, escape=escape, fields=EXPORT_FIELDS)
    # gzip's own level (9 takes twice as long for 3% less); no file name in the header: the one at hand is the .part
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=raw) as packed, \
            io.TextIOWrapper(packed, encoding=encoding, newline="") as f:
        return write_text(rows, fmt, f, escape=escape, fields=EXPORT_FIELDS)


def _first_checked(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Run the query before anything is written, so a bad --search fails with no output file."""
    first = next(rows, None)
    if first is None:
        return iter(())

    def chain() -> Iterator[dict[str, Any]]:
        yield first
        yield from rows

    return chain()
