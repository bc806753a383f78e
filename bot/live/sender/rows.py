"""A store row's whole-number column as an int: rows are dict[str, object] to mypy, and the sender's
parts read many ids and counts from them."""

from __future__ import annotations


def _int(value: object) -> int:
    """`int(value)` of a whole-number column in a store row: rows are dict[str, object] to mypy."""
    return int(value)  # type: ignore[call-overload]  # (mypy cannot know: SQLite gives these columns as int)
