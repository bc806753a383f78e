"""Read TOML text with tomllib, a value nested past Python's recursion limit included.

tomllib recurses once per nested array or inline table, so a runaway `[[[…]]]` 3,000 deep
raises RecursionError, which no caller expects; here it is a TOMLDecodeError like any other
syntax error ("… (at line N, column M)"), pointing at where the nesting runs deepest. So is an
integer longer than Python reads from text (`sys.get_int_max_str_digits()`), which tomllib lets
out as a bare ValueError; and an error tomllib places «at end of document» names the last line.
"""

from __future__ import annotations

import re
import sys
import tomllib
from typing import Any, Iterator

__all__ = ["key_lines", "loads"]

_AT_END = " (at end of document)"  # tomllib's place for an error at the end, with no line


def loads(text: str) -> dict[str, Any]:
    """`tomllib.loads`, raising TOMLDecodeError (never RecursionError) for a value nested too deeply."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        line, col = _deepest(text)
        raise tomllib.TOMLDecodeError(f"arrays or inline tables nested too deeply (at line {line}, column {col})") from None
    except tomllib.TOMLDecodeError as e:
        if (twice := _set_twice(text, str(e))) is not None:
            raise tomllib.TOMLDecodeError(twice) from None
        if not str(e).endswith(_AT_END):
            raise
        line, col = _line_col(text, len(text))  # a value left open: the file's end, not its line 1
        raise tomllib.TOMLDecodeError(f"{str(e).removesuffix(_AT_END)} at the end of the file "
                                      f"(at line {line}, column {col})") from None
    except ValueError:  # int() refused a decimal integer too long to read (CVE-2020-10735's limit)
        line, col = _line_col(text, _long_number(text))
        raise tomllib.TOMLDecodeError(f"a number of more than {sys.get_int_max_str_digits()} digits "
                                      f"(at line {line}, column {col})") from None


_KEY_RE = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")


def _set_twice(text: str, error: str) -> str | None:
    """tomllib's «Cannot overwrite a value (at line N, column M)» for a key written twice in one table
    (a new query pasted under the old one) as the key and both lines, placed at the second key: «'query'
    is set twice in one table (first at line 3): keep one»; None for any other error."""
    m = re.fullmatch(r"Cannot overwrite a value \(at line (\d+), column (\d+)\)", error)
    lines = key_lines(text)
    if not m or not 0 < (n := int(m.group(1))) <= len(lines) or not (key := _KEY_RE.match(lines[n - 1])):
        return None
    first = next((i for i in range(n - 1, 0, -1) if (k := _KEY_RE.match(lines[i - 1])) and k.group(1) == key.group(1)), None)
    for i in range(n - 1, first or 0, -1):  # a [table] header between them: not the same table after all
        if lines[i - 1].lstrip().startswith("["):
            first = None
    where = f" (first at line {first})" if first else ""
    return f"{key.group(1)!r} is set twice in one table{where}: keep one (at line {n}, column {key.start(1) + 1})"


def key_lines(text: str) -> list[str]:
    """The lines of `text` as TOML numbers them (at "\\n" alone, not at U+2028 or U+0085 as
    str.splitlines), each blank where it starts inside a multi-line string or an array or inline
    table opened above: what is left are the lines a key or a [table] header can start."""
    lines = text.split("\n")
    after = {at: n for n, at in enumerate((i for i, c in enumerate(text) if c == "\n"), 1)}  # "\n" -> the line it opens
    inside = [n > 0 for n in range(len(lines))]  # a line whose "\n" is in a string starts inside it
    depth = 0
    for i in _outside_strings(text):
        c = text[i]
        if c == "\n":
            inside[after[i]] = depth > 0
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(0, depth - 1)
    return ["" if within else s for s, within in zip(lines, inside)]


def _outside_strings(text: str) -> Iterator[int]:
    """The offsets of the characters outside strings and comments, in order."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            i = _end_of_line(text, i)
            continue
        if c in "\"'":
            i = _after_string(text, i)
            continue
        yield i
        i += 1


def _line_col(text: str, at: int) -> tuple[int, int]:
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def _deepest(text: str) -> tuple[int, int]:
    """Line and column where brackets outside strings and comments first reach their greatest depth."""
    depth, best, at = 0, 0, 0
    for i in _outside_strings(text):
        c = text[i]
        if c in "[{":
            depth += 1
            if depth > best:
                best, at = depth, i
        elif c in "]}":
            depth = max(0, depth - 1)
    return _line_col(text, at)


_NUMBER = re.compile(r"[0-9][0-9_]*")


def _long_number(text: str) -> int:
    """Where the first value that is a run of more digits than int() reads starts (0 if none)."""
    limit, i = sys.get_int_max_str_digits(), 0
    for i in _outside_strings(text):
        if text[i].isdigit() and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_.:")):
            m = _NUMBER.match(text, i)
            if m and m.group().count("_") + limit < len(m.group()):
                return i
    return 0


def _end_of_line(text: str, i: int) -> int:
    end = text.find("\n", i)
    return len(text) if end < 0 else end


def _after_string(text: str, i: int) -> int:
    """The offset just past the string opening at i (the text's end when it is never closed)."""
    quote = text[i] * 3 if text.startswith(text[i] * 3, i) else text[i]
    j = i + len(quote)
    while j < len(text):
        if text[j] == "\\" and quote[0] == '"':
            j += 2
            continue
        if text.startswith(quote, j):
            return j + len(quote)
        if text[j] == "\n" and len(quote) == 1:
            return j
        j += 1
    return len(text)
