"""Deleted posts: marked (never removed) when Telegram pushes a deletion or a history read shows a
gap, and un-marked when Telegram shows the post again; their alerts' updates follow either way."""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telethon import TelegramClient, errors, events
from telethon.tl import types

from ..store.db import Store, iso
from .dbfaults import Outage, store_down
from .events import ALBUM_MAX
from .codes import reason
from .resolve import Watched
from .session import NETWORK_ERRORS

__all__ = ["Deletions"]

log = logging.getLogger("bot.live.ingest")  # the parts of Ingest log under one name, as one job


class Deletions:
    """`Ingest`'s deletion marks. Marks made by this run are numbered (`_marks`, `_marked`): a post
    read before a deletion was marked does not undo that mark (a mixin on `Ingest.__init__`'s state)."""

    _marks: int
    _marked: dict[tuple[int, int], int]
    _reads: Counter[int]
    _kept_seen: dict[tuple[int, int], int]
    _unmarked: list[tuple[int, list[int], str]]
    client: TelegramClient
    store: Store
    watched: dict[int, Watched]
    clock: Callable[[], datetime]
    on_deleted: Callable[[], Awaitable[object]] | None
    _lock: Any
    _db_outage: Outage
    db_retry_delay: float

    if TYPE_CHECKING:  # the other mixins' methods it calls (`Ingest` has them all); nothing at run time
        def _mine(self, event: Any) -> Watched | None: ...
        def _retry_soon(self) -> None: ...
        def _save_pending(self) -> None: ...

    async def _on_deleted(self, event: events.MessageDeleted.Event) -> None:
        """The channel deleted posts (Telegram names the channel only for channels; other chats'
        deletions carry no chat and are not ours): the stored ones are marked, never removed. A
        store that cannot record it now keeps it for the retry poll."""
        w = self._mine(event)
        if w is None or not event.deleted_ids:
            return
        at = iso(self.clock()) or ""
        ids = list(event.deleted_ids)
        try:
            ids = await self._albums_gone(w, ids)
            await self._mark_deleted(w.id, ids, at, "Telegram says")
        except sqlite3.OperationalError as e:
            if (down := store_down(e)) is None:
                raise
            self._unmarked.append((w.id, ids, at))
            self._save_pending()
            self._db_outage.failed("deletion of %d post(s) of %s not recorded now (database: %s); recorded in %d s",
                                   len(ids), w.title, down, self.db_retry_delay)
            self._retry_soon()

    async def _albums_gone(self, w: Watched, ids: list[int]) -> list[int]:
        """The deleted ids with the stored albums among them, or near them, resolved: an album is
        stored under its first item's id, and a channel deletes items one by one or all together, so
        one stored under X is deleted only when no item of it is left among X..X+9 (a photo taken out
        of it, even the first, leaves it standing; its last item going takes it). A read that fails
        leaves the album to the poll's re-read."""
        gone = set(ids)
        albums = [(mid, gid) for mid, gid in self.store.stored_between(w.id, min(gone) - 9, max(gone)) if gid is not None]
        if not albums:
            return ids
        keys = {mid for mid, _ in albums}
        out = [i for i in ids if i not in keys]
        for mid, gid in albums:
            items = list(range(mid, mid + 10))
            if gone.isdisjoint(items):
                continue
            try:
                left = await self.client.get_messages(w.peer, ids=items)
            except (errors.RPCError, *NETWORK_ERRORS) as e:
                log.warning("album %d of %s: deletion not checked now (%s); the poll's re-read tells", mid, w.title, reason(e))
                continue
            if not any(m is not None and getattr(m, "grouped_id", None) == gid for m in left):
                out.append(mid)
        return out

    async def _mark_deleted(self, channel_id: int, ids: Sequence[int], at: str, how: str) -> int:
        """Mark the stored posts among `ids` deleted; their alerts' updates go out. Returns how many."""
        async with self._lock:  # not between a batch's read of the store and its write
            marked = self.store.mark_deleted(channel_id, ids, at)
            if marked:
                self._marks += 1
                self._marked.update(((channel_id, i), self._marks) for i in marked)
                self._forget_marks()  # (kept only while a read begun before it is under way)
        if marked:
            w = self.watched.get(channel_id)
            log.info("%s deleted post%s %s (%s)", w.title if w else channel_id, "s" * (len(marked) != 1),
                     ", ".join(map(str, marked)), how)
            if self.on_deleted is not None:
                await self.on_deleted()
        return len(marked)

    @contextmanager
    def _reading(self, seen: int | None = None) -> Iterator[int]:
        """A read of Telegram under way, begun when `seen` marks had been made (default now): the
        marks made since are held (`_marked`) until it ends, then forgotten if no other needs them."""
        seen = self._marks if seen is None else seen
        self._reads[seen] += 1
        try:
            yield seen
        finally:
            self._reads[seen] -= 1
            if not self._reads[seen]:
                del self._reads[seen]
            self._forget_marks()

    def _forget_marks(self) -> None:
        """Drop the marks no read under way (nor a post kept to store later) began before: a read
        begun after a mark un-marks as if it had none, so a run of months holds only these."""
        floor = min((*self._reads, *self._kept_seen.values()), default=self._marks)
        if any(mark <= floor for mark in self._marked.values()):
            self._marked = {key: mark for key, mark in self._marked.items() if mark > floor}

    async def _mark_unmarked(self) -> bool:
        """Record the deletions pushed while the store could not (oldest first); False, and a retry
        asked for, when it still cannot."""
        while self._unmarked:
            channel_id, ids, at = self._unmarked[0]
            try:
                await self._mark_deleted(channel_id, ids, at, "pushed while the database could not take it")
            except sqlite3.OperationalError as e:
                if (down := store_down(e)) is None:
                    raise
                self._db_outage.failed("%d deletion(s) still not recorded (database: %s)", len(self._unmarked), down)
                self._retry_soon()
                return False
            self._unmarked.pop(0)
            self._save_pending()
        return True

    async def _unmark(self, channel_id: int, ids: Sequence[int], seen: int) -> int:
        """Telegram showed these posts (read, or pushed, when `seen` marks had been made): those marked
        deleted before that are not deleted, and their alerts lose the line. Returns how many."""
        async with self._lock:
            back = self._unmark_shown({channel_id: list(ids)}, seen)
        if back and self.on_deleted is not None:
            await self.on_deleted()
        return back

    def _unmark_shown(self, shown: dict[int, list[int]], seen: int) -> int:
        """`_unmark` for channel -> ids, under `_lock`. Telegram never shows (nor edits) a deleted
        message, so a post it gives is not deleted, whatever the times say: a rule that needs no clock
        of ours. Only a mark made after `seen` (the deletion came after what showed the post) stays."""
        back = 0
        for channel_id, ids in shown.items():
            ids = [i for i in ids if self._marked.get((channel_id, i), -1) <= seen]
            done = self.store.unmark_deleted(channel_id, ids, iso(self.clock()) or "") if ids else []
            for i in done:
                self._marked.pop((channel_id, i), None)
            back += len(done)
        return back

    async def _deleted_in_read(self, w: Watched, messages: Sequence[Any], after: int | None = None,
                               seen: int | None = None) -> int:
        """A channel gives no deletion signal to an account that has not joined it (and a deletion in
        a gap of a joined one is lost): a stored post whose id lies inside a complete history read,
        yet is not in it, may be deleted. Inside: from the lowest id read (or from `after` + 1 when the
        read asked for every message after `after`) to the highest; service messages count, they
        have ids too. An album stays while any of its items is there. An empty read proves nothing.
        A history read may leave out posts that exist (Telegram hides some "due to local laws"), so
        the missing ones are asked for by id (`_confirm_gone`) before they are marked. A post marked
        deleted before the read (`seen`: marks made when it started) that the read holds is not."""
        ids = {m.id for m in messages if not isinstance(m, types.MessageEmpty)}
        if not ids:
            return 0
        albums = {m.grouped_id for m in messages if getattr(m, "grouped_id", None) is not None}
        low = after + 1 if after is not None else min(ids)
        back = [mid for mid, gid in self.store.deleted_between(w.id, low - (ALBUM_MAX - 1), max(ids))
                if mid in ids or (gid is not None and gid in albums)]
        if back:
            await self._unmark(w.id, back, self._marks if seen is None else seen)
        gone = [mid for mid, gid in self.store.stored_between(w.id, low, max(ids))
                if mid not in ids and (gid is None or gid not in albums)]
        if gone:
            gone = await self._confirm_gone(w, gone)
        if not gone:
            return 0
        return await self._mark_deleted(w.id, gone, iso(self.clock()) or "", "gone from its history")

    async def _confirm_gone(self, w: Watched, ids: list[int]) -> list[int]:
        """The ids among `ids` (stored posts a history read left out) that Telegram says by id are no
        more (None or MessageEmpty); none when it cannot be asked now (the next poll asks again)."""
        try:
            got = await self.client.get_messages(w.peer, ids=ids)
        except (errors.RPCError, *NETWORK_ERRORS) as e:  # a flood wait too
            log.warning("%d post(s) of %s missing from its history not checked now (%s); the next poll checks again",
                        len(ids), w.title, reason(e))
            return []
        gone = [mid for mid, m in zip(ids, got) if m is None or isinstance(m, types.MessageEmpty)]
        if len(gone) < len(ids):
            log.info("%s: post(s) %s left out of its history read are still there (hidden, not deleted)", w.title,
                     ", ".join(str(mid) for mid, m in zip(ids, got) if mid not in gone))
        return gone
