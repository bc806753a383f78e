"""The dates between which the store holds posts, and whether an asked period lies wholly outside
them: every face that takes a period says so, so finding nothing is not read as nothing happening."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from ..db import Store

__all__ = ["OutsideStored", "outside_stored", "stored_range"]


def stored_range(store: Store) -> tuple[datetime, datetime] | None:
    """The dates of the oldest and the newest stored post (UTC), or None for an empty store (or
    an unreadable date). Two queries, each one step down the date index: min and max in one query
    would scan it."""
    try:
        a, b = (store.db.execute(f"SELECT {f}(date) FROM posts").fetchone()[0] for f in ("min", "max"))
        if not a or not b:
            return None
        oldest, newest = datetime.fromisoformat(a), datetime.fromisoformat(b)
    except (TypeError, ValueError):
        return None
    return (oldest if oldest.tzinfo else oldest.replace(tzinfo=timezone.utc),
            newest if newest.tzinfo else newest.replace(tzinfo=timezone.utc))


@dataclass(frozen=True)
class OutsideStored:
    """A span that lies wholly after the newest stored post (`after`) or before the oldest, and
    that post's date (`edge`, UTC): a command asked about it finds nothing, however much happened."""

    after: bool
    edge: datetime


def outside_stored(store: Store, since: datetime | None, until: datetime | None) -> OutsideStored | None:
    """Whether the span since <= date < until lies wholly after the newest stored post or before the
    oldest (None: it does not, there is no span, or the store is empty). Every face that takes a
    period says so from this (the CLI's `note:` line, the chat's replies)."""
    if since is None and until is None:
        return None
    stored = stored_range(store)
    if stored is None:
        return None
    oldest, newest = stored
    if since is not None and since > newest:
        return OutsideStored(True, newest)
    if until is not None and until <= oldest:
        return OutsideStored(False, oldest)
    return None
