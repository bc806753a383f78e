"""What Telegram published while tgwatch was down: when it was last known running (kept in the
store), and the posts published since then that the start fetched ("recovered N posts"): counted
once a read of every channel finishes, which a flood wait and a restart may put off to a later
run (each start's view of the downtime is kept in the store until then)."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..rematch import last_rowid
from ..store.counts import Stored, Window, last_stored, posts_stored_since
from ..store.db import Store, iso
from .dbfaults import store_down
from .resolve import BACKFILL_ALERTS

__all__ = ["ALIVE_KEY", "DOWN_KEY", "Downtime", "downtime", "mark_alive", "recovered", "recovered_line"]

ALIVE_KEY = "live_alive_at"  # meta row: the last time the live service was known running (ISO, UTC)
DOWN_KEY = "live_down"  # meta row: the starts since then whose reads never finished (`downtime`), as JSON
log = logging.getLogger(__name__)

KEPT_STARTS = 10  # starts kept at most: a crash loop's are merged (the oldest two as one), not kept without end


@dataclass(frozen=True)
class Downtime:
    """A start's view of the run before it: `since`, when that run was last known to have read
    everything (None: never ran); `until`, this start; `rowid`, the newest post stored before this
    start; `channels`, those read before or watched in the run before (a newly watched channel's
    backfill is no recovery); `earlier`, the starts since `since` whose reads never finished."""

    since: str | None
    until: str
    rowid: int
    channels: frozenset[int]
    earlier: tuple[Downtime, ...] = ()


def mark_alive(store: Store, at: datetime) -> None:
    """Record that every post published before `at` is stored: `at` is when a read of every watched
    channel began that left nothing unstored (not a read a flood wait cut short, nor the stop: a
    polled channel's posts since that read are unread, and the next start recovers them). The
    starts kept until then are counted by then: they go."""
    with store.transaction():
        store.set_meta(ALIVE_KEY, iso(at) or "")
        store.delete_meta(DOWN_KEY)


def downtime(store: Store, channels: Iterable[int], now: datetime) -> Downtime:
    """Taken before a start (at `now`) stores anything, and kept in the store until a read of every
    channel finishes (`mark_alive`): a start before that (a flood wait cut the read short, then a
    restart) counts the posts each earlier one stored of its own downtime too. A store written by a
    version that kept no mark gives the time it last stored a post (posts a polled channel made
    before that version stopped then count too). A store that cannot keep it now costs a log line:
    a restart before the read finishes then counts only what it stores itself."""
    since, earlier = _kept(store)
    down = Downtime(since or store.get_meta(ALIVE_KEY) or last_stored(store), iso(now) or "", last_rowid(store),
                    frozenset(channels), earlier)
    if down.since is not None and (down.channels or earlier):
        starts = [*earlier, down]
        while len(starts) > KEPT_STARTS:
            a, b = starts[:2]
            starts[:2] = [Downtime(a.since, b.until, a.rowid, a.channels | b.channels)]
        try:
            store.set_meta(DOWN_KEY, json.dumps({"since": down.since, "starts": [
                {"until": d.until, "rowid": d.rowid, "channels": sorted(d.channels)} for d in starts]}))
        except sqlite3.OperationalError as e:
            if (why := store_down(e)) is None:
                raise
            log.info("this start's downtime is not kept now (database: %s)", why)
    return down


def _kept(store: Store) -> tuple[str | None, tuple[Downtime, ...]]:
    """The `since` and the starts an earlier start kept (`downtime`); (None, ()): none, or unreadable."""
    try:
        data = json.loads(store.get_meta(DOWN_KEY) or "null")
        if data is None:
            return None, ()
        since = str(data["since"])
        return since, tuple(Downtime(since, str(d["until"]), int(d["rowid"]), frozenset(int(c) for c in d["channels"]))
                            for d in data["starts"])
    except (ValueError, TypeError, KeyError):
        return None, ()


def recovered(store: Store, down: Downtime) -> Stored:
    """The posts published while tgwatch was down that this start (or an earlier one whose read
    never finished) stored, by the history read or by Telegram's start-up difference alike, up to
    that start; not a polled channel's posts read before the stop, nor a new channel's backfill, nor
    posts made since that start (pushed live while a flood wait held the reads back).
    `old_matched`: those a rule matches that are older than a day before the start that stored them,
    whose alerts are muted (`Watched.alert_after`)."""
    if down.since is None:
        return Stored(0, 0, 0)
    return posts_stored_since(store, down.since, [
        Window(d.rowid, d.until, iso(datetime.fromisoformat(d.until) - BACKFILL_ALERTS) or "", d.channels)
        for d in (*down.earlier, down) if d.channels])


def recovered_line(got: Stored, down: Downtime, *, found: int = 0, sent: int = 0) -> str | None:
    """The chat's one line on what a start recovered (None: nothing), naming the matched posts too old
    to alert and how to list them. `found`: alerts of posts older than the run that the chat had
    already (a store restored from a backup), `sent`: those sent now; said when some were found."""
    if not got.posts:
        return None
    line = f"recovered {got.posts} post{'s' * (got.posts != 1)} from {got.channels} channel{'s' * (got.channels != 1)}"
    if found:
        line += f"; alerts: {found} already in the chat, {sent or 'none'} sent now"
    if got.old_matched and down.since is not None:
        n = got.old_matched
        line += (f"; {n} matched post{'s' * (n != 1)} older than a day {'were' if n != 1 else 'was'} not alerted: "
                 f"tgwatch export --since {down.since[:10]}")
    return line
