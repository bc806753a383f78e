"""The scheduled poll: every watched channel's history since its high-water mark, read in order
through the pipeline; the source of truth the live events only speed up."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telethon import TelegramClient, errors

from ..post import Post
from ..source.telegram import album_to_post, group_albums, message_to_post
from ..store.db import Store, iso
from .dbfaults import Outage, store_down
from .codes import reason
from .resolve import BACKFILL_ALERTS, Watched, _GONE_ERRORS
from .seeded import read_in_order
from .session import NETWORK_ERRORS, SESSION_GONE

if TYPE_CHECKING:
    from ..pipeline import Processed

__all__ = ["BACKFILL_ALERTS", "Poll"]

log = logging.getLogger("bot.live.ingest")  # the parts of Ingest log under one name, as one job


class Poll:
    """`Ingest`'s history read: `reconcile` (a mixin: it works on the state `Ingest.__init__` sets)."""

    client: TelegramClient
    store: Store
    watched: dict[int, Watched]
    edit_lookback: int
    backfill: int
    _polling: asyncio.Lock
    clock: Callable[[], datetime]
    complete: bool
    read_through: datetime | None
    on_read_through: Callable[[datetime], Awaitable[object]] | None
    failing: dict[int, str]
    _resume_at: int | None
    _unstored: dict[tuple[int, int], tuple[Post, datetime | None]]
    _pending: list[tuple[int, int, datetime | None]]
    _unmarked: list[tuple[int, list[int], str]]
    _unmarked_first: bool
    _marks: int
    _db_errors: int
    _db_outage: Outage
    db_retry_delay: float

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Ingest` has them all
        async def resolve(self) -> dict[int, Watched]: ...
        async def _refresh(self, w: Watched, messages: Sequence[Any]) -> None: ...
        async def _mark_gone(self, w: Watched, e: Exception) -> None: ...
        async def _read_pending(self) -> None: ...
        async def _store_unstored(self) -> bool: ...
        def _retry_soon(self) -> None: ...
        async def _mark_unmarked(self) -> bool: ...
        async def _deleted_in_read(self, w: Watched, messages: Sequence[Any], after: int | None = None,
                                   seen: int | None = None) -> int: ...
        @contextmanager
        def _reading(self, seen: int | None = None) -> Iterator[int]: ...
        async def _process(self, posts: list[Post], *, in_order: bool, alert_after: datetime | None = None,
                           seen: int | None = None, fresh: Collection[tuple[int, int]] = ()) -> list[Processed]: ...

    async def reconcile(self) -> tuple[int, int]:
        """Read every watched channel's history since its high-water mark through the pipeline
        (re-reading the last few posts to catch edits); returns (new posts, channels with new
        posts among those read before). One channel's failure never stops the others. A read of
        every channel that left nothing unstored is told to `on_read_through` (the scheduled poll
        and those after a reconnect or a database failure alike)."""
        async with self._polling:
            got = await self._reconcile()
        if self.read_through is not None and self.on_read_through is not None:
            await self.on_read_through(self.read_through)
        return got

    async def _reconcile(self) -> tuple[int, int]:
        began, self.read_through = self.clock(), None
        errors_before = self._db_errors
        if self._unmarked_first:  # an earlier run's deletions: the posts it kept are read again after them
            if not await self._mark_unmarked():
                self.complete = False
                return 0, 0
            self._unmarked_first = False
        if self._pending:
            await self._read_pending()
        if self._unstored and not await self._store_unstored():
            self.complete = False  # the watchdog counts this poll as failed (it warns when behind)
            return 0, 0  # the store still cannot be written: a retry is asked for
        if self._unmarked and not await self._mark_unmarked():
            self.complete = False
            return 0, 0
        await self.resolve()
        new_posts = channels = read = failed = 0
        for w in self._poll_order():
            try:
                got = await self._read(w)
            except errors.FloodWaitError as e:
                log.warning("reading %s: Telegram asks to wait %d s; the next poll goes on from it", w.title, e.seconds)
                self.failing[w.id] = f"{w.title}: flood wait {e.seconds} s"
                self._resume_at = w.id
                failed += 1
                break
            except NETWORK_ERRORS as e:  # Telethon gave up reconnecting: the others would fail alike
                log.warning("reading %s: network problem (%s); the next poll goes on from it", w.title,
                            type(e).__name__ + (f": {e}" if str(e) else ""))
                self.failing[w.id] = f"{w.title}: network problem"
                self._resume_at = w.id
                failed += 1
                break
            except sqlite3.OperationalError as e:  # the others would wait for the database alike
                if (down := store_down(e)) is None:
                    raise
                self._db_outage.failed("storing %s's posts failed (database: %s); a poll in %d s goes on from it",
                                       w.title, down, self.db_retry_delay)
                self.failing[w.id] = f"{w.title}: its posts cannot be stored now ({down})"
                self._resume_at = w.id
                failed += 1
                self._retry_soon()
                break
            except SESSION_GONE:
                raise  # not the channel's fault: no channel can be read (`Service.poll` stops the run)
            except errors.RPCError as e:
                log.warning("reading %s failed: %s; the next poll retries", w.title, reason(e))
                self.failing[w.id] = f"{w.title}: {reason(e)}"
                failed += 1
                continue
            if got is None:
                continue  # gone: reported, no longer watched
            n, was_read = got
            self.failing.pop(w.id, None)
            read += 1
            if was_read and n:
                new_posts += n
                channels += 1
        self.complete = read > 0 and not failed
        if not failed:
            self._resume_at = None
        if self.complete and not (self._pending or self._unstored or self._unmarked):
            self.read_through = began  # every post published before it began is stored
        if self._db_errors == errors_before and read:
            self._db_outage.ok()
        return new_posts, channels

    async def _read(self, w: Watched) -> tuple[int, bool] | None:
        """`_reconcile_one`; None when the channel cannot be read any more (reported, no longer
        watched; a store that cannot record that now raises, and a later poll tries again)."""
        try:
            return await self._reconcile_one(w)
        except _GONE_ERRORS as e:
            await self._mark_gone(w, e)
            return None

    def _poll_order(self) -> list[Watched]:
        """The watched channels, from the one where a flood wait stopped the last poll: the
        channels after it are read before those read last time, so none waits forever."""
        ws = list(self.watched.values())
        k = next((i for i, w in enumerate(ws) if w.id == self._resume_at), 0)
        return ws[k:] + ws[:k]

    async def _reconcile_one(self, w: Watched) -> tuple[int, bool]:
        with self._reading() as seen:  # a deletion marked while the read is under way stands whatever it holds
            return await self._read_channel(w, seen)

    async def _read_channel(self, w: Watched, seen: int) -> tuple[int, bool]:
        """Read the channel from its high-water mark (less the look-back) through the pipeline, begun
        when `seen` deletion marks had been made; (new posts, whether it had been read before)."""
        high = self.store.high_water(w.id)
        asked_after: int | None = None  # the read asked for every message after this id
        if high is not None:
            # wait_time=0: Telethon would pause 1 s between pages of an unbounded read (even for the
            # empty page that ends it); FloodWaits are still honoured by the client.
            asked_after = max(0, high - self.edit_lookback)
            messages = [m async for m in self.client.iter_messages(w.peer, min_id=asked_after, reverse=True, wait_time=0)]
        else:  # a channel seen for the first time: its latest posts, not its whole history; only
            # the last day's matches are pushed (older ones are stored, exported, counted)
            messages = [m async for m in self.client.iter_messages(w.peer, limit=self.backfill)][::-1]
            pushed = self.store.first_fresh_id(w.id, BACKFILL_ALERTS.total_seconds() / 3600, iso(w.since) or "")
            if pushed is not None and messages and messages[0].id > pushed:
                # the first read was held back (flood waits, network) while Telegram pushed posts:
                # read back to the first of them, so none that it did not push is missed
                asked_after = pushed - 1
                messages = [m async for m in self.client.iter_messages(w.peer, min_id=asked_after, reverse=True, wait_time=0)]
        await self._refresh(w, messages)
        posts: list[Post] = []
        for run in group_albums(messages):
            gid = run[0].grouped_id
            if gid is not None:
                first = self.store.album_first(w.id, gid)
                if first is not None and first < run[0].id:
                    continue  # the tail of an album stored before the look-back window
                post = album_to_post(run, w.entity)
            else:
                post = message_to_post(run[0], w.entity)
            if post is not None:
                posts.append(post)
        if high is not None and posts:  # at or below the mark and not stored: pruned by retention, not new
            known = self.store.known_hashes([p.key for p in posts if p.message_id <= high])
            posts = [p for p in posts if p.message_id > high or p.key in known]
        fresh = {p.key for p in posts if high is None or p.message_id > high}  # read by this service for the first time
        done = await self._process(posts, in_order=True, alert_after=w.alert_after(high), seen=seen, fresh=fresh) if posts else []
        await self._deleted_in_read(w, messages, asked_after, seen)  # the read raised before this if it failed part way
        self.store.advance_high_water(w.id, max((m.id for m in messages), default=0))  # read, even if empty
        if w.seeded:
            read_in_order(self.store, w.id)
            w.seeded = False
        w.back = None  # read in order since this run began watching it: its posts alert from now on
        return sum(1 for p in done if p.status == "new"), high is not None
