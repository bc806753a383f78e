"""Read TOML text with tomllib, a value nested past Python's recursion limit included.

tomllib recurses once per nested array or inline table, so a runaway `[[[…]]]` 3,000 deep
raises RecursionError, which no caller expects; here it is a TOMLDecodeError like any other
syntax error ("… (at line N, column M)"), pointing at where the nesting runs deepest.
"""

from __future__ import annotations

import tomllib
from typing import Any

__all__ = ["loads"]


def loads(text: str) -> dict[str, Any]:
    """`tomllib.loads`, raising TOMLDecodeError (never RecursionError) for a value nested too deeply."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        line, col = _deepest(text)
        raise tomllib.TOMLDecodeError(f"arrays or inline tables nested too deeply (at line {line}, column {col})") from None


def _deepest(text: str) -> tuple[int, int]:
    """Line and column where brackets outside strings and comments first reach their greatest depth."""
    depth, best, at, i, n = 0, 0, 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            i = _end_of_line(text, i)
            continue
        if c in "\"'":
            i = _after_string(text, i)
            continue
        if c in "[{":
            depth += 1
            if depth > best:
                best, at = depth, i
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


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
