"""What a reader refuses and why: the Skip and Note lines, and the value checks every source shares.

A bad value is BadInput, its text the reason the user reads; `show` renders the value JSON-like.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["Skip", "Note", "BadInput", "UNEXPECTED", "show", "check_int", "iso_time", "unix_time", "check_text",
           "post_date", "edited_after"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what SQLite's INTEGER holds
UNEXPECTED = "a field has a value of an unexpected kind"  # the reason when no check names it
_INT_TEXT = re.compile(r"-?[0-9]{1,20}")  # ASCII digits only ("²".isdigit() is True)


@dataclass(frozen=True)
class Skip:
    """Something not turned into a post, and why: printable as `file: where: reason`."""

    path: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.reason}" if self.where else f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Note(Skip):
    """A post read with a bad optional field left out (kept, not skipped): the same line as a Skip,
    so an analyst learns what was dropped; a Skip to every reader that only passes skips on."""


class BadInput(ValueError):
    """A value a reader refuses; its text is the reason shown to the user."""


def show(value: Any) -> str:
    """A short JSON-like rendering of a bad value for a skip line (never Python repr)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str) and len(value) > 40:
        value = value[:40] + "…"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return "a value of an unknown kind"


def check_int(value: Any, field: str, minimum: int | None = None, strings: bool = False) -> int:
    """A JSON integer (never a bool or a float) that fits SQLite's 64-bit INTEGER and is at least
    `minimum`; with `strings`, a decimal string too. BadInput naming `field` otherwise."""
    what = "a positive integer" if minimum == 1 else "a non-negative integer" if minimum == 0 else "an integer"
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif strings and isinstance(value, str) and _INT_TEXT.fullmatch(value):
        n = int(value)
    else:
        raise BadInput(f"{field} {show(value)} is not {what}")
    if not INT64_MIN <= n <= INT64_MAX:
        raise BadInput(f"{field} {show(value)} is out of range (not a signed 64-bit integer)")
    if minimum is not None and n < minimum:
        raise BadInput(f"{field} {show(value)} is not {what}")
    return n


def iso_time(value: Any, field: str) -> datetime:
    """An ISO 8601 string -> aware UTC datetime (naive = UTC); BadInput naming `field` otherwise."""
    if not isinstance(value, str):
        raise BadInput(f"{field} {show(value)} is not an ISO 8601 date")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # not a date, or an offset of a day or more (+25:00)
        raise BadInput(f"{field} {show(value)} is not an ISO 8601 date") from None
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    try:  # in UTC now: the store writes UTC, and 0001-01-01T00:00+01:00 has no UTC date
        return dt.astimezone(timezone.utc)
    except OverflowError:
        raise BadInput(f"{field} {show(value)} is out of range") from None


def unix_time(value: Any, field: str = "date") -> datetime:
    """Unix seconds (a number or a numeric string) -> aware UTC datetime; BadInput naming `field`
    when not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadInput(f"{field} {show(value)} is not a Unix time")
    if isinstance(value, str) and not _INT_TEXT.fullmatch(value):
        raise BadInput(f"{field} {show(value)} is not a Unix time")
    try:
        return datetime.fromtimestamp(int(value), timezone.utc)  # (tz= by keyword: twice the time)
    except (OverflowError, OSError, ValueError):  # NaN, infinity, or beyond year 9999
        raise BadInput(f"{field} {show(value)} is not a Unix time in range") from None


def check_text(text: str) -> str:
    """Text must be storable: valid Unicode with no lone surrogate (half an emoji)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("text is not valid Unicode (a lone surrogate, half an emoji?)") from None
    return text


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def post_date(dt: datetime, value: Any, field: str) -> datetime:
    """A post's date, from 1970 on: an earlier one is a placeholder for a missing date (Go's zero
    time 0001-01-01, 1900-01-01), not when a post was written; BadInput naming `field` otherwise."""
    if dt < EPOCH:
        raise BadInput(f"{field} {show(value)} is before 1970: a placeholder for a missing date, not a post's date")
    return dt


def edited_after(edited: datetime | None, date: datetime, value: Any, field: str) -> datetime | None:
    """An edit date, which follows its post's: BadInput naming `field` when it is earlier (swapped
    fields, a local time read as UTC, a scheduled post edited before it went out: no edit a reader saw)."""
    if edited is not None and edited < date:
        raise BadInput(f"{field} {show(value)} is before the post's date ({date:%Y-%m-%d %H:%M:%S} UTC)")
    return edited
