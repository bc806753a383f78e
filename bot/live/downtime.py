"""What Telegram published while tgwatch was down: when it was last known running (kept in the
store), and the posts published since then that the start fetched ("recovered N posts")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..rematch import last_rowid
from ..store.counts import Stored, last_stored, posts_stored_since
from ..store.db import Store, iso
from .resolve import BACKFILL_ALERTS

__all__ = ["ALIVE_KEY", "Downtime", "downtime", "mark_alive", "recovered", "recovered_line"]

ALIVE_KEY = "live_alive_at"  # meta row: the last time the live service was known running (ISO, UTC)


@dataclass(frozen=True)
class Downtime:
    """A start's view of the run before it: `since`, when that run was last known to have read
    everything (None: never ran); `until`, this start; `rowid`, the newest post stored before this
    start; `channels`, those read before or watched in the run before (a newly watched channel's
    backfill is no recovery)."""

    since: str | None
    until: str
    rowid: int
    channels: frozenset[int]


def mark_alive(store: Store, at: datetime) -> None:
    """Record that every post published before `at` is stored: `at` is when a read of every watched
    channel began that left nothing unstored (not a read a flood wait cut short, nor the stop: a
    polled channel's posts since that read are unread, and the next start recovers them)."""
    store.set_meta(ALIVE_KEY, iso(at) or "")


def downtime(store: Store, channels: Iterable[int], now: datetime) -> Downtime:
    """Taken before a start (at `now`) stores anything. A store written by a version that kept no
    mark gives the time it last stored a post (posts a polled channel made before that version
    stopped then count too)."""
    since = store.get_meta(ALIVE_KEY) or last_stored(store)
    return Downtime(since, iso(now) or "", last_rowid(store), frozenset(channels))


def recovered(store: Store, down: Downtime) -> Stored:
    """The posts published while tgwatch was down that this start stored, by the history read or by
    Telegram's start-up difference alike, up to the start; not a polled channel's posts read before
    the stop, nor a new channel's backfill, nor posts made since the start (pushed live while a flood
    wait held the reads back). `old_matched`: those a rule matches that are older than a day before
    the start, whose alerts are muted (`Watched.alert_after`)."""
    if down.since is None or not down.channels:
        return Stored(0, 0, 0)
    old_before = iso(datetime.fromisoformat(down.until) - BACKFILL_ALERTS) or ""
    return posts_stored_since(store, down.rowid, down.since, down.until, down.channels, old_before)


def recovered_line(got: Stored, down: Downtime) -> str | None:
    """The chat's one line on what a start recovered (None: nothing), naming the matched posts too old
    to alert and how to list them."""
    if not got.posts:
        return None
    line = f"recovered {got.posts} post{'s' * (got.posts != 1)} from {got.channels} channel{'s' * (got.channels != 1)}"
    if got.old_matched and down.since is not None:
        n = got.old_matched
        line += (f"; {n} matched post{'s' * (n != 1)} older than a day {'were' if n != 1 else 'was'} not alerted: "
                 f"tgwatch export --since {down.since[:10]}")
    return line
