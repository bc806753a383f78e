"""Export files: stored rows to CSV, JSON Lines or Excel, streaming in constant memory.

The CLI's `tgwatch export` and the chat's /export both write through these, and `tgwatch stories
--format csv|jsonl` its stories (`story_records`)."""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import shutil
import stat
from datetime import datetime, timezone
from pathlib import Path
from collections import Counter
from contextlib import contextmanager, suppress
from typing import IO, Any, Callable, Iterable, Iterator, Sequence, TypeVar

from ..heldfile import held_dir, held_temp, sweep_dirs, writers_gone
from .read import EXPORT_FIELDS, StoryRow

log = logging.getLogger(__name__)

__all__ = ["FORMATS", "LIST_SEPARATOR", "STORY_FIELDS", "XLSX_MAX_CHARS", "new_file_mode", "scratch_dir", "scratch_done", "story_records", "write_csv", "write_jsonl",
           "write_xlsx"]

FORMATS = ("csv", "jsonl", "xlsx")
LIST_SEPARATOR = "; "

# Excel limits: rows per sheet, characters per cell.
_XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CHARS = 32_767  # per cell, in UTF-16 units (an emoji counts two), as Excel and xlsxwriter count
_XLSX_EXACT = 10**15  # Excel keeps 15 digits of a number: a larger id is written as text, whole
_XLSX_WIDTHS = {
    "channel_id": 13, "channel_title": 22, "username": 16, "message_id": 11, "link": 34, "date": 21,
    "edited": 21, "text": 80, "rules": 18, "terms": 30, "matched": 40, "story_id": 9, "story_size": 10, "story_first": 34,
    "forward_origin": 22, "deleted_at": 21,
}


# a story as `stories --format csv|jsonl` writes it: named as the export's story columns, so the two join on story_id
STORY_FIELDS: tuple[str, ...] = (
    "story_id", "story_size", "first_date", "last_date", "story_first", "first_channel", "channels", "channel_ids",
    "headline",
)


def story_records(rows: Iterable[StoryRow]) -> Iterator[dict[str, Any]]:
    """Each story as a dict of `STORY_FIELDS` (channels as lists; the headline is the first post's
    first line, whole), for `write_csv` and `write_jsonl`."""
    for r in rows:
        yield {"story_id": r.id, "story_size": r.size, "first_date": r.first_date, "last_date": r.last_date or None,
               "story_first": r.first_link or None, "first_channel": r.first_title or None,
               "channels": [t for _, t in r.channels], "channel_ids": [c for c, _ in r.channels],
               "headline": r.first_text.strip().split("\n", 1)[0].strip()}


# What makes a spreadsheet read a cell as a formula (OWASP's list): a channel's post that starts
# with «=HYPERLINK(...)», or a query term such as «=СОЧ», must stay text in Excel. A cell that
# starts with ' is escaped too, so the escaping can be undone: «'-5°» (a post quoting «-5°») comes
# out as «''-5°», not as the escaped «-5°» does.
_ESCAPED_START = ("=", "+", "-", "@", "\t", "\r", "\n", "'")


# a story's channels (`stories --format csv`), one a line: a title may hold «; », and the ids line up
_ONE_A_LINE = frozenset({"channels", "channel_ids"})


def _cell(value: Any, escape: bool = False, separator: str = LIST_SEPARATOR) -> Any:
    if isinstance(value, list):
        value = separator.join(map(str, value))
    if value is None:
        return ""
    if escape and isinstance(value, str) and value.startswith(_ESCAPED_START):
        return "'" + value  # Excel hides this ' and never evaluates the cell; stripping one ' undoes it
    return value


def write_csv(rows: Iterable[dict[str, Any]], f: IO[str], *, escape: bool = True,
              fields: Sequence[str] = EXPORT_FIELDS) -> int:
    """Rows as CSV with a header of `fields` (lists joined with "; ", a story's channels one a line);
    returns how many rows.
    `escape` (for every CSV unless asked otherwise: anyone may open it in a spreadsheet): a cell that
    starts like a formula, or with ', gets one more ' in front; stripping exactly one undoes it."""
    w = csv.writer(f)
    w.writerow(fields)
    n = 0
    for row in rows:
        w.writerow([_cell(row[k], escape, "\n" if k in _ONE_A_LINE else LIST_SEPARATOR) for k in fields])
        n += 1
    return n


def write_jsonl(rows: Iterable[dict[str, Any]], f: IO[str], *, fields: Sequence[str] = EXPORT_FIELDS) -> int:
    """Rows as JSON Lines, one object of `fields` a line (lists as JSON lists); returns how many rows."""
    n = 0
    for row in rows:
        f.write(json.dumps({k: row[k] for k in fields}, ensure_ascii=False) + "\n")
        n += 1
    return n


def _xlsx_date(value: str) -> datetime | str:
    """An ISO timestamp as a naive UTC datetime (what Excel can sort and filter), else as is."""
    try:
        d = datetime.fromisoformat(value)
        return (d.astimezone(timezone.utc) if d.tzinfo else d).replace(tzinfo=None)
    except ValueError:
        return value


def _utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le", "surrogatepass")) // 2


def fit_cell(value: str) -> tuple[str, int]:
    """`value` as an Excel cell holds it, and how many characters were cut: a text past
    XLSX_MAX_CHARS ends with a marker saying so (xlsxwriter would cut it without a word)."""
    if len(value) <= XLSX_MAX_CHARS // 2 or _utf16_len(value) <= XLSX_MAX_CHARS:
        return value, 0

    def marker(n: int) -> str:
        return f" … [{n:,} characters cut: Excel holds {XLSX_MAX_CHARS:,} per cell; the CSV or JSON Lines export has them all]"

    room = XLSX_MAX_CHARS - _utf16_len(marker(len(value)))  # the largest count: the real one is no longer
    units = value.encode("utf-16-le", "surrogatepass")[:2 * room]
    if units and 0xD800 <= int.from_bytes(units[-2:], "little") <= 0xDBFF:  # half an emoji: left out whole
        units = units[:-2]
    kept = units.decode("utf-16-le", "surrogatepass")
    return kept + marker(len(value) - len(kept)), len(value) - len(kept)


def write_xlsx(rows: Iterable[dict[str, Any]], path: str | Path, cut: Counter[str] | None = None) -> int:
    """Rows as an Excel workbook written in constant memory: bold frozen header, sized columns,
    dates as UTC date cells; a new sheet starts when one is full. Returns how many rows; a cell
    too long for Excel is cut with a marker (`fit_cell`) and counted by column in `cut`."""
    with _scratch_beside(Path(path)) as scratch:
        f = Path(path).open("wb")
        try:
            n = _write_xlsx(rows, _Once(f), scratch, cut)
        except BaseException:
            with suppress(OSError):  # (what is left in its buffer cannot be written either)
                f.close()
            raise
        f.close()
        return n


class _Once:
    """The workbook's file, failing once: after a write fails (a full disk), the zip file xlsxwriter
    leaves open writes nothing more (its place counted on), so its clean-up is not Python's
    «Exception ignored …» text after the one-line error."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._at = 0  # where the zip file believes it is
        self._failed = False

    def _do(self, act: Callable[[], int]) -> int:
        try:
            self._at = act()
        except OSError:
            self._failed = True
            raise
        return self._at

    def write(self, data: bytes) -> int:
        if self._failed:
            self._at += len(data)
            return len(data)
        self._do(lambda: self._f.write(data) + self._at)
        return len(data)

    def flush(self) -> None:
        if not self._failed:
            self._do(lambda: self._f.flush() or self._at)

    def seek(self, offset: int, whence: int = 0) -> int:
        if self._failed:
            self._at = {0: offset, 1: self._at + offset}.get(whence, self._at)
            return self._at
        return self._do(lambda: self._f.seek(offset, whence))

    def tell(self) -> int:
        return self._at if self._failed else self._do(self._f.tell)

    def seekable(self) -> bool:
        return self._f.seekable()


T = TypeVar("T")


def written_whole(target: Path, write: Callable[[Path], T], mode: int) -> T:
    """`write` fills a private temporary file beside `target` (0600, its own: two writers never
    mix; locked while this process lives, see `sweep_parts`), given `mode`, synced and renamed over
    `target` at the end: a failure or a power cut leaves the old file or the new one, whole. Returns
    what `write` returned."""
    gone = sweep_parts(target.parent)
    if gone:
        log.info("removed %d temporary file(s) left by a killed export, backup or restore: %s", len(gone),
                 ", ".join(map(str, gone)))
    fd, name = held_temp(str(target.parent), f".{target.name}.", ".part")
    tmp = Path(name)
    try:
        done = write(tmp)
        tmp.chmod(mode)
        os.fsync(fd)  # (its data, whichever descriptor wrote it: on the disk before the new name is)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)  # the lock goes with it
    _sync_folder(target.parent)
    return done


def _sync_folder(folder: Path) -> None:
    """The rename into `folder` on the disk (POSIX); where a folder cannot be synced (Windows, some
    network disks) the file is whole either way, old or new."""
    with suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# `written_whole`'s temporary file (mkstemp's 8 random characters), and SQLite's beside a store copy's
_PART = re.compile(r"\..+\.[a-z0-9_]{8}\.part")
_PART_SQLITE = ("-journal", "-wal", "-shm")


def sweep_parts(folder: Path) -> list[Path]:
    """Remove the temporary files in `folder` that `written_whole` began in a process that is gone
    (killed outright: SIGKILL, a power cut; its lock is free); a live writer's are left alone."""
    removed: list[Path] = []
    for path in writers_gone(folder, _PART, stat.S_ISREG):
        for leftover in (path, *(path.with_name(path.name + s) for s in _PART_SQLITE)):
            with suppress(OSError):  # (another's to remove, then: the write goes on)
                if leftover == path or leftover.exists():
                    leftover.unlink(missing_ok=True)
                    removed.append(leftover)
    return removed


def new_file_mode() -> int:
    """The mode a file created now gets (0666 less the umask): what a file written privately first
    (`tempfile.mkstemp`'s 0600) is given before it is renamed into place."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# `scratch_dir`'s folders beside an output (mkdtemp's 8 random characters), and the locks this process holds on them
_SCRATCH = re.compile(r"\.tgwatch-(?:xlsx|export)-[a-z0-9_]{8}")
_held_scratch: dict[Path, int] = {}


def scratch_dir(beside: Path, prefix: str) -> Path:
    """A new private folder in `beside`, on the disk a file goes to (a full or missing $TMPDIR, or
    one held in memory, then fails and holds nothing, and is never blamed on the output); named
    `.PREFIX…`. $TMPDIR's only where `beside` cannot take one (`/dev/…`). Locked until `scratch_done`:
    the folders of killed runs in `beside` are removed first, never a live one's."""
    for gone in sweep_dirs(beside, _SCRATCH):
        log.info("removed the scratch folder a killed export left: %s", gone)
    try:
        fd, name = held_dir(str(beside), f".{prefix}")
    except OSError:
        fd, name = held_dir(None, prefix)
    _held_scratch[Path(name)] = fd
    return Path(name)


def scratch_done(folder: Path) -> None:
    """`folder` (a `scratch_dir`) removed or given up: its lock goes."""
    fd = _held_scratch.pop(folder, -1)
    if fd >= 0:
        os.close(fd)


@contextmanager
def _scratch_beside(path: Path) -> Iterator[str]:
    """A `scratch_dir` for the workbook's row files beside `path`, removed afterwards, whatever happens."""
    folder = scratch_dir(path.parent, "tgwatch-xlsx-")
    try:
        yield str(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        scratch_done(folder)


# A link cell is a =HYPERLINK("url") formula, not a worksheet hyperlink: xlsxwriter keeps every
# hyperlink in memory until the workbook closes (about 650 B each, 30 MB for the corpus, and Excel
# takes 65,530 a sheet), while a formula cell is streamed with its row. Excel and LibreOffice click
# it alike; its cached value, the URL, is what pandas and openpyxl (data_only) read. A formula's
# text holds 255 characters, and only a web link is made clickable: the rest stay text.
_XLSX_MAX_FORMULA_TEXT = 255
_WEB = ("https://", "http://")


def hyperlink_formula(url: str) -> str | None:
    """`url` as an Excel =HYPERLINK formula (its quotes doubled, so no URL can end the text and
    add to the formula), or None when it cannot be one: not http(s), or too long for a formula."""
    if not url.lower().startswith(_WEB) or _utf16_len(url) > _XLSX_MAX_FORMULA_TEXT:
        return None
    quoted = url.replace('"', '""')
    return f'=HYPERLINK("{quoted}")'


def _write_xlsx(rows: Iterable[dict[str, Any]], out: _Once, scratch: str, cut: Counter[str] | None) -> int:
    import xlsxwriter

    wb = xlsxwriter.Workbook(out, {"constant_memory": True, "strings_to_formulas": False, "tmpdir": scratch,
                                   "strings_to_urls": False, "strings_to_numbers": False})
    bold = wb.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    top = wb.add_format({"valign": "top"})
    # the header names the columns as the CSV and JSON Lines do; each date cell says it is UTC
    when = wb.add_format({"num_format": 'yyyy-mm-dd hh:mm:ss "UTC"', "valign": "top"})
    link = wb.add_format({"font_color": "blue", "underline": 1, "valign": "top"})
    date_cols = {EXPORT_FIELDS.index("date"), EXPORT_FIELDS.index("edited"), EXPORT_FIELDS.index("deleted_at")}
    link_cols = {EXPORT_FIELDS.index("link"), EXPORT_FIELDS.index("story_first")}

    def new_sheet(number: int) -> Any:
        ws = wb.add_worksheet("posts" if number == 1 else f"posts {number}")
        for i, name in enumerate(EXPORT_FIELDS):
            ws.set_column(i, i, _XLSX_WIDTHS.get(name, 14))
        ws.freeze_panes(1, 0)
        for i, name in enumerate(EXPORT_FIELDS):
            ws.write_string(0, i, name, bold)
        return ws

    def filtered(ws: Any, last: int) -> None:  # every sheet of posts gets its filter buttons
        if last:
            ws.autofilter(0, 0, last, len(EXPORT_FIELDS) - 1)

    sheets = 1
    ws = new_sheet(sheets)
    r = n = 0
    try:
        for row in rows:
            r += 1
            if r >= _XLSX_MAX_ROWS:
                filtered(ws, r - 1)
                sheets += 1
                ws, r = new_sheet(sheets), 1
            for i, name in enumerate(EXPORT_FIELDS):
                value = _cell(row[name])
                if i in date_cols and value:
                    d = _xlsx_date(value)
                    if isinstance(d, datetime):
                        ws.write_datetime(r, i, d, when)
                        continue
                if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < _XLSX_EXACT:
                    ws.write_number(r, i, value, top)
                elif i in link_cols and value and (formula := hyperlink_formula(value)):
                    ws.write_formula(r, i, formula, link, value)
                elif value != "":
                    text, lost = fit_cell(str(value))
                    if lost and cut is not None:
                        cut[name] += 1
                    ws.write_string(r, i, text, top)  # never a formula, whatever the post says
            n += 1
        filtered(ws, r)
    finally:
        _close_workbook(wb)
    return n


def _close_workbook(wb: Any) -> None:
    """Write the workbook out; a file that cannot be created is the OSError it is (xlsxwriter wraps
    it in its own exception, which callers that catch OSError would let through as a traceback)."""
    from xlsxwriter.exceptions import FileCreateError

    try:
        wb.close()
    except FileCreateError as e:
        cause = e.args[0] if e.args else None
        raise (cause if isinstance(cause, OSError) else OSError(str(e))) from None
