"""Dates as the store writes them: ISO 8601 in UTC to the second, so rows compare and sort as text."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["iso", "utcnow"]


def utcnow() -> str:
    """Now, as a stored date (`iso`)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


_last_iso: tuple[datetime | None, str | None] = (None, None)  # `iso`'s last date and its text


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC to the second (the stored form of every date). The last date's text is kept:
    a replay asks for each post's date twice in a row (its story row, then its posts row)."""
    global _last_iso
    if dt is None:
        return None
    last = _last_iso
    if last[0] is dt:  # (the kept date stays alive: no other object can have its id)
        return last[1]
    text = (dt if dt.tzinfo is timezone.utc else dt.astimezone(timezone.utc)).isoformat(timespec="seconds")
    _last_iso = (dt, text)
    return text
