"""Claims on queued alerts: of two processes sending one owner's alerts (two replays into one store)
only the one whose claim lands shows an alert, and a claim ends with the process that made it."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
from datetime import datetime, timedelta, timezone

from .db import Store, utcnow
from .schema import give_owners

__all__ = ["CLAIM_LEASE", "claim", "free_abandoned", "release", "settle"]

# A claim this old is abandoned whoever made it: one made on another host, or by a process whose id
# a new process has since been given (a claim is held for one alert's send: a moment).
CLAIM_LEASE = timedelta(hours=1)
_TAG = re.compile(r"(?P<owner>\S+) (?P<pid>\d+)@(?P<host>\S+) (?P<at>\S+)")


def claim(store: Store, alert_id: int, state: str) -> str | None:
    """Take the alert, still in `state` and the store owner's, for this process: its `owner` becomes
    a tag naming the process ("replay 4242@host 2026-11-29T21:10:00+00:00"), in one statement, so
    no other process can take it too. The tag, or None when another process has the alert."""
    tag = f"{store.owner} {os.getpid()}@{socket.gethostname()} {utcnow()}"
    cur = store.db.execute("UPDATE alerts SET owner = ? WHERE id = ? AND owner = ? AND state = ?",
                           [tag, alert_id, store.owner, state])
    return tag if cur.rowcount else None


def settle(store: Store, alert_id: int, tag: str, state: str, **fields: object) -> None:
    """The claimed alert is done: set its state (and `fields`) and give it back to the store's owner;
    nothing when it is no longer this claim's (the live service took it over for the chat meanwhile)."""
    sets = "".join(f", {k} = ?" for k in fields)
    store.db.execute(f"UPDATE alerts SET state = ?, owner = ?, updated_at = ?{sets} WHERE id = ? AND owner = ?",
                     [state, store.owner, utcnow(), *fields.values(), alert_id, tag])


def release(store: Store, alert_id: int, tag: str) -> None:
    """Give the claimed alert back as it was (its send failed or was interrupted): the next run sends
    it. A store that cannot be written now leaves the claim for that run to free (`free_abandoned`)."""
    try:
        store.db.execute("UPDATE alerts SET owner = ? WHERE id = ? AND owner = ?", [store.owner, alert_id, tag])
    except sqlite3.Error:
        pass


def free_abandoned(store: Store, now: datetime | None = None) -> int:
    """Give back to the store's owner the alerts claimed by a process that is gone (killed between
    its claim and its mark) or longer ago than `CLAIM_LEASE`, and give those an older release queued
    with no owner the one migration 15 would have (`give_owners`); returns how many."""
    now = now or datetime.now(timezone.utc)
    freed = 0
    for (tag,) in store.db.execute("SELECT DISTINCT owner FROM alerts WHERE owner IS NULL OR owner LIKE ?",
                                   [f"{store.owner} %"]).fetchall():
        if tag is None:
            freed += give_owners(store.db)
        elif _abandoned(str(tag), now):
            freed += store.db.execute("UPDATE alerts SET owner = ? WHERE owner = ?", [store.owner, tag]).rowcount
    return freed


def _abandoned(tag: str, now: datetime) -> bool:
    m = _TAG.fullmatch(tag)
    if m is None:
        return True  # not a claim this code made: no process holds it
    try:
        at = datetime.fromisoformat(m["at"])
    except ValueError:
        return True
    if now - at > CLAIM_LEASE:
        return True
    return m["host"] == socket.gethostname() and not _alive(int(m["pid"]))


def _alive(pid: int) -> bool:
    """Is a process with this id running on this host? (Not asked off POSIX: the lease decides.)"""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True
