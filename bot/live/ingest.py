"""Ingest: resolve the watched channels once, take live events for speed, and reconcile every
channel's history since our own high-water mark as the source of truth.

`Ingest` is the front: it holds the state, the pipeline lock and `_process`; each job is a mixin
in a module of its own: `resolve`, `events`, `recovery`, `deletions`, `poll`."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from telethon import TelegramClient

from ..pipeline import Matched, Pipeline, Processed
from ..post import Post
from ..store.db import Store
from .dbfaults import Outage
from .deletions import Deletions
from .events import Events
from .poll import Poll
from .recovery import DB_RETRY_DELAY, PENDING_SUFFIX, RECONNECT_POLL_DELAY, Recovery
from .resolve import BACKFILL_ALERTS, ChannelGone, Resolver, Watched
from .unmuted import rearm_muted

__all__ = ["Ingest", "Watched", "ChannelGone"]

log = logging.getLogger(__name__)

OnProcessed = Callable[[list[Processed]], Awaitable[None]]
Notify = Callable[[str], Awaitable[None]]
OnDeleted = Callable[[], Awaitable[object]]
OnReadThrough = Callable[[datetime], Awaitable[object]]
OnReconnect = Callable[[], None]


class Ingest(Resolver, Events, Recovery, Deletions, Poll):
    """Feeds the pipeline from Telegram: `resolve`, `listen`, `reconcile`."""

    def __init__(self, client: TelegramClient, pipeline: Pipeline, refs: Sequence[str | int], *,
                 on_processed: OnProcessed, notify: Notify, resolve_delay: float = 2.0,
                 edit_lookback: int = 20, backfill: int = 50, on_deleted: OnDeleted | None = None,
                 on_read_through: OnReadThrough | None = None, on_reconnect: OnReconnect | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.client = client
        self.pipeline = pipeline
        self.store: Store = pipeline.store
        self.refs = list(refs)
        self.on_processed = on_processed
        self.notify = notify
        self.resolve_delay = resolve_delay
        self.edit_lookback = edit_lookback
        self.backfill = backfill
        self.on_deleted = on_deleted  # posts were marked deleted: their alerts' updates are due
        self.on_read_through = on_read_through  # a reconcile stored every post published before it began
        self.on_reconnect = on_reconnect  # the connection is back: told before its catch-up poll begins
        self.clock = clock
        self.watched: dict[int, Watched] = {}
        self.unresolved: dict[str | int, str] = {}
        self._retry_at: dict[str | int, float] = {}  # ref -> monotonic time of the next lookup
        self._lock = asyncio.Lock()  # one pipeline call at a time (events and the poll interleave)
        self._polling = asyncio.Lock()  # one reconcile at a time (the scheduled poll, the one after a reconnect)
        self._ref_ids: dict[str | int, int] = {}  # configured name or id -> the channel id it is watched as
        # Whether the last reconcile read every watched channel (a flood wait or an error on one
        # leaves it False): only such a poll shows tgwatch is keeping up.
        self.complete = False
        # when the last reconcile began, if it read every channel and left nothing unstored (else None)
        self.read_through: datetime | None = None
        self.failing: dict[int, str] = {}  # channel id -> "title: why" of the reads that failed last
        self._resume_at: int | None = None  # the channel a flood wait stopped the last poll at
        self._dialogs_read = False  # the account's dialogs were read for channels configured by id
        self.reconnect_poll_delay = RECONNECT_POLL_DELAY
        self._listening = False
        self._reconnect_poll: asyncio.Task[None] | None = None
        self._reconnected = False
        self.db_retry_delay = DB_RETRY_DELAY
        self._db_retry: asyncio.Task[None] | None = None
        self._db_failed = False
        # pushed posts the store could not take (key -> post, alert_after): stored before the retry
        # poll, which re-reads only the last `edit_lookback` posts and would miss an older one's edit
        self._unstored: dict[tuple[int, int], tuple[Post, datetime | None]] = {}
        # ...and their keys in a file beside the database (which cannot be written meanwhile): a crash
        # before the retry poll would lose an edit of a post older than the poll's look-back for good
        self.pending_path = Path(self.store.path + PENDING_SUFFIX) if self.store.path not in ("", ":memory:") else None
        # deletions Telegram pushed that the store could not record: (channel, ids, when), marked by the
        # retry poll; kept in the same file, so a crash before it does not lose them
        self._unmarked: list[tuple[int, list[int], str]] = []
        self._pending = self._load_pending()  # (channel, message, alert_after) kept by an earlier run, to read again
        self._unmarked_first = bool(self._unmarked)  # an earlier run's: marked before its kept posts are read again
        self._db_errors = 0  # store failures met so far: a poll that adds none shows the store works again
        self._db_outage = Outage(log, "the database can be used again: polls store posts again")
        self._run: int | None = None  # this run's number (`Store.begin_run`), once the store took it
        self.watched_before: set[int] = set()  # the channels the run before watched (`Store.begin_run`)
        self._found: dict[str | int, Any] = {}  # ref -> channel Telegram gave, while the store could not record it
        # marks made by this run, numbered: a post read before a deletion was marked (the deletion was
        # pushed while the read was under way) does not undo that mark
        self._marks = 0
        self._marked: dict[tuple[int, int], int] = {}  # only marks a read under way began before (`_reading`)
        self._reads: Counter[int] = Counter()  # marks made when each read under way began
        self._kept_seen: dict[tuple[int, int], int] = {}  # a kept post's key -> marks made when it was pushed

    def not_stored(self) -> dict[int, int]:
        """Per watched channel, the posts Telegram gave that the store has not taken yet (pushed while
        the database could not be written, or kept by an earlier run to read again): the lag an
        analyst needs to know of. A pushed post that was stored is not lag, though the poll has not
        read past it yet."""
        keys = {*self._unstored, *((cid, mid) for cid, mid, _ in self._pending)}
        counts = dict.fromkeys(self.watched, 0)
        for cid, _ in keys:
            if cid in counts:
                counts[cid] += 1
        return counts

    async def _process(self, posts: list[Post], *, in_order: bool, alert_after: datetime | None = None,
                       seen: int | None = None, fresh: Collection[tuple[int, int]] = ()) -> list[Processed]:
        """Posts Telegram gave (when `seen` marks had been made; default now), through the pipeline;
        those marked deleted are not deleted (`_unmark_shown`). `fresh`: the keys of those this service
        reads for the first time (a replay may have stored them first: `rearm_muted`). Posts dated before
        `alert_after` (default: a day before now, `BACKFILL_ALERTS`) are stored with their alerts muted."""
        shown: dict[int, list[int]] = {}
        for p in posts:
            shown.setdefault(p.channel_id, []).append(p.message_id)
        with self._reading(seen) as seen:
            async with self._lock:  # (held while the batch matches: another never stores in between)
                matched = await self._match(posts)
                now = self.clock()
                if alert_after is None:  # a channel read in order since: a post over a day old is still no news (a
                    alert_after = now - BACKFILL_ALERTS  # weekend asleep caught up, a post dated 0), as after a restart

                def rearm(out: list[Processed]) -> None:  # a mute holds a channel, not a story: in each batch's transaction
                    rearm_muted(self.store, out, now=now, alert_after=alert_after, fresh=fresh, rules=self.pipeline.rules_in_use())

                done = list(self.pipeline.process(posts, in_order=in_order, alert_after=alert_after, matched=matched,
                                                  in_batch=rearm))
                back = self._unmark_shown(shown, seen)
        await self.on_processed(done)
        if back and self.on_deleted is not None:
            await self.on_deleted()
        return done

    async def _match(self, posts: list[Post]) -> Matched:
        """The posts matched in a worker thread: one costly to match (seconds, for a long NEAR chain)
        holds no other channel's post, alert, command or Telethon's pings. The store is read and
        written on the loop only. Matched again when the rules in use changed meanwhile: a post stored
        after a rule change was confirmed is matched with it (and the new rules' coverage, which
        `catch_up` counts on, never takes in a post they did not match)."""
        todo = self.pipeline.to_match(posts)
        matched = Matched(self.pipeline.matcher)
        while todo:
            matched = await asyncio.to_thread(self.pipeline.match, todo, self.pipeline.matcher)
            if matched.matcher is self.pipeline.matcher:
                break
        return matched
