"""A rich table of plain-text cells, printed line for line as rich prints it, in time
proportionate to its rows: rich lays out every cell through a stack of generic renderables
(about 2 ms a row), so `tgwatch stories --limit 100000` over a season spent 20 s drawing."""

from __future__ import annotations

import re
from copy import copy
from dataclasses import replace
from functools import lru_cache
from typing import Iterable, Protocol, Sequence

from rich.cells import cell_len, chop_cells, get_character_cell_size, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.table import Column, Table
from rich.text import Text

__all__ = ["FastTable", "WidthText"]

_TRAILING_SPACE = re.compile(r"\s+$")  # as rich's Text.rstrip_end finds it


class WidthText(Protocol):
    """A cell whose text depends on the width it gets (channel names cut to fit): `plain` is what
    it measures as, `text(width)` what it shows in `width` cells."""

    plain: str

    def text(self, width: int) -> Text: ...


Cell = Text | WidthText


class _Measured:
    """A stand-in cell that measures as a whole column does, so rich computes the table's column
    widths (and draws its header) from one row instead of measuring every cell."""

    def __init__(self, least: int, most: int) -> None:
        self.least, self.most = least, most

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.least, self.most)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Segment("")


# the characters (of the scripts news is written in) one cell wide, as rich counts them
_ONE_CELL = dict.fromkeys(c for lo, hi in ((0x20, 0x7E), (0xA0, 0x52F), (0x2000, 0x2BFF))
                          for c in range(lo, hi + 1) if get_character_cell_size(chr(c)) == 1)


def _runs(codes: Iterable[int]) -> str:
    """A regex character class body for `codes` (sorted), as ranges."""
    out, codes = [], sorted(codes)
    start = prev = codes[0]
    for c in [*codes[1:], -1]:
        if c != prev + 1:
            out.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
            start = c
        prev = c
    return "".join(out)


_NOT_ONE_CELL = re.compile(f"[^{_runs(_ONE_CELL)}]")


def _one_cell_each(text: str) -> bool:
    """Is every character of `text` one cell wide (no emoji, no CJK, no combining mark)?"""
    return _NOT_ONE_CELL.search(text) is None


def _cells(text: str) -> int:
    """rich's cell_len, exactly, without its Python loop over every character of a line that has
    one character beyond its fast path (a «—», a «…», an emoji)."""
    if _NOT_ONE_CELL.search(text) is None:
        return len(text)
    if "\u200d" in text or "\ufe0f" in text:  # joined emoji: rich's own reckoning
        return cell_len(text)
    rest = text.translate(_ONE_CELL)
    return len(text) - len(rest) + sum(map(get_character_cell_size, rest))


def _measure(plain: str, floor: int = 0) -> tuple[int, int]:
    """What rich's Text.__rich_measure__ gives, normalised: (longest word, longest line) in cells;
    a word of `floor` cells or fewer is passed over (a column's widest word so far: it cannot win)."""
    lines = plain.splitlines()
    words = plain.split()
    if _one_cell_each(plain):
        most = max(map(len, lines)) if lines else 0
        least = max(map(len, words)) if words else most
    else:
        most = max(map(_cells, lines)) if lines else 0
        least = max((_cells(w) for w in words if 2 * len(w) > floor), default=0) if words else most
    return min(max(0, least), most), max(0, most)


def _truncate(line: str, width: int, overflow: str, pad: bool) -> str:
    """As rich's Text.truncate."""
    length = _cells(line)
    if length > width:
        line = set_cell_size(line, width - 1) + "…" if overflow == "ellipsis" else set_cell_size(line, width)
    return line + " " * (width - length) if pad and length < width else line


@lru_cache(maxsize=4096)  # a channel's name, a «last …» line: the same in many rows
def _line(line: str, inner: int, width: int, overflow: str) -> str:
    """One line of a cell, `inner` cells of text and a space each side, as rich draws it: truncated
    and padded by Text.wrap, then by the segments that carry it (a lone zero-width joiner or
    variation selector counts apart from the space after it, so those go through rich's own)."""
    line = _truncate(line, inner, overflow, True)
    if "\u200d" not in line and "\ufe0f" not in line:  # cells add up: the line is `inner` wide
        return " " + line + " "
    line = _truncate(line, inner, overflow, False)  # Text.wrap truncates twice, to no avail unless so
    segments = Segment.adjust_line_length([Segment(line)] if line else [], inner)
    segments = Segment.adjust_line_length([Segment(" "), *segments, Segment(" ")], width)
    return "".join(s.text for s in Segment.adjust_line_length(segments, width))


_WORD = re.compile(r"\s*\S+\s*")  # as rich's text wrapping splits a line


def _divide(line: str, width: int, fold: bool) -> list[int]:
    """rich's divide_line (where to break a line to wrap it in `width` cells), measuring words with
    `_cells`: the same breaks, in half the time."""
    breaks: list[int] = []
    offset = 0
    for m in _WORD.finditer(line):
        start, word = m.start(), m.group(0)
        length = _cells(word.rstrip())
        if width - offset >= length:
            offset += _cells(word)
        elif length > width:
            if fold:
                pieces = chop_cells(word, width=width)
                for n, piece in enumerate(pieces, 1):
                    if start:
                        breaks.append(start)
                    if n == len(pieces):
                        offset = _cells(piece)
                    else:
                        start += len(piece)
            else:
                if start:
                    breaks.append(start)
                offset = _cells(word)
        elif offset and start:
            breaks.append(start)
            offset = _cells(word)
    return breaks


def _rstrip_end(line: str, width: int) -> str:
    """As Text.rstrip_end: the trailing spaces of a line longer than `width` characters, dropped
    as far as its excess."""
    if len(line) > width and (m := _TRAILING_SPACE.search(line)):
        return line[:len(line) - min(len(m.group(0)), len(line) - width)]
    return line


def _width_text(cell: object) -> bool:
    """Is this a `WidthText` (a Protocol check with isinstance costs 0.1 ms a cell)?"""
    return isinstance(getattr(cell, "plain", None), str) and callable(getattr(cell, "text", None))


def _plain(style: object) -> bool:
    """Is this a style that draws nothing (rich's "none", or none given)?"""
    return style is None or style in ("", "none") or (isinstance(style, Style) and not style)


class FastTable:
    """`table` (columns, no rows) with `rows` of plain Text cells (or `WidthText`), rendered as
    rich renders the same Table with those rows added, character for character; a table or cell
    this does not cover (styles, tabs, another layout) is left to rich."""

    def __init__(self, table: Table, rows: Sequence[Sequence[Cell]]) -> None:
        self.table, self.rows = table, rows

    def rich_table(self) -> Table:
        """The same table as rich would build it: `rows` added to a copy of `table`."""
        full = copy(self.table)
        full.columns = [replace(c, _cells=[]) for c in self.table.columns]
        full.rows = []
        for row in self.rows:
            full.add_row(*row)
        return full

    def _covered(self) -> bool:
        t = self.table
        layout = (t.box is not None and t.show_header and t.show_edge and not t.show_footer and not t.show_lines
                  and not t.leading and not t.title and not t.caption and not t.row_styles and _plain(t.style)
                  and _plain(t.border_style) and t.padding == (0, 1, 0, 1) and t.pad_edge and not t.collapse_padding
                  and t.width is None and not t.rows)
        columns = all(_plain(c.style) and c.justify == "left" and c.vertical == "top" and c.overflow != "ignore"
                      and not c._cells for c in t.columns)
        return layout and columns and all(
            len(row) == len(t.columns) and all(
                (isinstance(cell, Text) and not cell.spans and _plain(cell.style)
                 and cell.justify in (None, "left") and cell.end == "\n" and cell.overflow != "ignore")
                or _width_text(cell)
                for cell in row)
            for row in self.rows)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self._covered():
            yield self.rich_table()
            return
        columns = self.table.columns
        least, most = [0] * len(columns), [0] * len(columns)
        for row in self.rows:
            for i, cell in enumerate(row):
                lo, hi = _measure(cell.plain, least[i])
                least[i], most[i] = max(least[i], lo), max(most[i], hi)
        proxy = copy(self.table)
        proxy.columns = [replace(c, _cells=[]) for c in columns]
        proxy.rows = []
        proxy.add_row(*(_Measured(lo, hi) for lo, hi in zip(least, most)))
        widths = proxy._calculate_column_widths(console, options.update_width(options.max_width - proxy._extra_width))
        box = self.table.box.substitute(options, safe=bool(console.safe_box if self.table.safe_box is None
                                                            else self.table.safe_box))
        drawn = list(Segment.split_lines(console.render(proxy, options)))
        # the stand-in table's lines: its top edge, the header, the line under it, its one row, its bottom edge
        blank = box.foot_left + box.foot_vertical + box.foot_right + " "
        if min(widths) < 3 or len(drawn) < 5 or any(s.text.strip(blank) for s in drawn[-2]):
            yield self.rich_table()  # a column too narrow for a letter: rich's own corner cases
            return
        for line in drawn[:-2]:
            yield from line
            yield Segment.line()
        for n, row in enumerate(self.rows):
            last = n == len(self.rows) - 1
            left, divider, right = ((box.foot_left, box.foot_vertical, box.foot_right) if last
                                    else (box.mid_left, box.mid_vertical, box.mid_right))
            cells = [self._cell(console, options, cell, column, width)
                     for cell, column, width in zip(row, columns, widths)]
            height = max(map(len, cells))
            for i in range(height):
                yield Segment(left + divider.join(c[i] if i < len(c) else " " * w for c, w in zip(cells, widths))
                              + right + "\n")
        yield from drawn[-1]
        yield Segment.line()

    @staticmethod
    def _cell(console: Console, options: ConsoleOptions, cell: Cell, column: Column, width: int) -> list[str]:
        """The cell's lines, each `width` cells with its padding, as rich's Table draws them."""
        inner = width - 2
        text = cell if isinstance(cell, Text) else cell.text(inner)
        plain = text.plain
        overflow = text.overflow or column.overflow or "fold"
        if "\t" in plain or text.spans or not _plain(text.style):  # tab stops: rich's own rendering of this cell alone
            drawn = console.render_lines(Padding(text, (0, 1, 0, 1)), options.update(
                width=width, justify=column.justify, no_wrap=column.no_wrap, overflow=column.overflow,
                height=None, highlight=column.highlight))
            return ["".join(s.text for s in line) for line in drawn]
        no_wrap = text.no_wrap if text.no_wrap is not None else bool(column.no_wrap)
        lines: list[str] = []
        for line in plain.split("\n"):
            if no_wrap:
                lines.append(_line(line, inner, width, overflow))
                continue
            bounds = [0, *_divide(line, inner, overflow == "fold"), len(line)]
            lines.extend(_line(_rstrip_end(line[a:b], inner), inner, width, overflow)
                         for a, b in zip(bounds, bounds[1:]))
        return lines

