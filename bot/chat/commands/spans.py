"""Periods as the commands take them (30m, 2h, «7 d», 1w; up to a year) and as replies name them."""

from __future__ import annotations

import re
from datetime import timedelta

from .replies import _echo

__all__ = ["MAX_SPAN", "parse_span"]

_SPAN_RE = re.compile(r"([0-9]+)\s*(m|min|h|d|w)", re.IGNORECASE)  # ASCII digits only
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_SPAN = timedelta(days=365)  # the longest mute or period any command takes


def parse_span(text: str) -> timedelta:
    """'30m', '2h', '1d', '1w' (up to `MAX_SPAN`) -> timedelta; raises ValueError with a usable message."""
    m = _SPAN_RE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"{_echo(text)} is not a duration: use 30m, 2h, 1d or 1w")
    digits = m.group(1).lstrip("0")
    if not digits:
        raise ValueError(f"{_echo(text)} is not a duration: it must be more than 0")
    if len(digits) > 9 or int(digits) * _UNITS[m.group(2).lower()] > MAX_SPAN.total_seconds():
        raise ValueError(f"{_echo(text)} is too long: at most {MAX_SPAN.days} days (52w)")
    return timedelta(seconds=int(digits) * _UNITS[m.group(2).lower()])


def _span_text(span: timedelta) -> str:
    """«2 h», «7 d», «30 min»: a period as a reply names it."""
    s = int(span.total_seconds())
    if s % 86400 == 0:
        return f"{s // 86400} d"
    if s % 3600 == 0:
        return f"{s // 3600} h"
    return f"{s // 60} min"


def _spans_joined(tokens: list[str]) -> list[str]:
    """The words of a command with a period written with a space («7 d», «2 h») made one word, as
    `parse_span` reads it: a number followed by a unit (30 m, 2 h, 1 d, 1 w)."""
    out: list[str] = []
    for token in tokens:
        if out and re.fullmatch(r"[0-9]+", out[-1]) and _SPAN_RE.fullmatch(out[-1] + token):
            out[-1] += token
        else:
            out.append(token)
    return out
