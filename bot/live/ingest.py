"""Ingest: resolve the watched channels once, take live events for speed, and reconcile every
channel's history since our own high-water mark as the source of truth."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from telethon import TelegramClient, errors

from ..pipeline import Pipeline, Processed
from ..post import Post
from ..source.telegram import (
    message_to_post,
)
from ..store.db import Store
from .dbfaults import Outage, store_down
from .deletions import Deletions
from .events import Events
from .poll import Poll
from .resolve import ChannelGone, Resolver, Watched, _why
from .session import NETWORK_ERRORS

__all__ = ["Ingest", "Watched", "ChannelGone"]

log = logging.getLogger(__name__)

RECONNECT_POLL_DELAY = 2.0  # seconds after a reconnect before the catch-up poll (pushes lost in the drop)
DB_RETRY_DELAY = 30.0  # seconds after the store could not be used before a poll tries again (not the next hourly one)
PENDING_SUFFIX = ".pending.json"  # beside the database: the pushed posts it could not take (`_save_pending`)
OnProcessed = Callable[[list[Processed]], Awaitable[None]]
Notify = Callable[[str], Awaitable[None]]
OnDeleted = Callable[[], Awaitable[object]]

class Ingest(Resolver, Events, Deletions, Poll):
    """Feeds the pipeline from Telegram: `resolve`, `listen`, `reconcile`."""

    def __init__(self, client: TelegramClient, pipeline: Pipeline, refs: Sequence[str | int], *,
                 on_processed: OnProcessed, notify: Notify, resolve_delay: float = 2.0,
                 edit_lookback: int = 20, backfill: int = 50, on_deleted: OnDeleted | None = None,
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
        self._found: dict[str | int, Any] = {}  # ref -> channel Telegram gave, while the store could not record it
        # marks made by this run, numbered: a post read before a deletion was marked (the deletion was
        # pushed while the read was under way) does not undo that mark
        self._marks = 0
        self._marked: dict[tuple[int, int], int] = {}
        self._kept_seen: dict[tuple[int, int], int] = {}  # a kept post's key -> marks made when it was pushed

    def _hook_reconnect(self) -> None:
        """Run `_after_reconnect` after Telethon's own reconnect handler. Telethon 1.45 has no
        public reconnect event: its MTProtoSender calls `_auto_reconnect_callback`, bound to the
        client's `_handle_auto_reconnect` when the client is built (tests/test_live_ingest_faults.py
        keeps a canary on both names)."""
        client: Any = self.client
        original = getattr(client, "_handle_auto_reconnect", None)
        sender = getattr(client, "_sender", None)
        if original is None:
            log.info("no reconnect hook in this Telethon: after a connection drop the scheduled poll catches up")
            return

        async def on_reconnect() -> None:
            try:
                await original()
            finally:
                self._after_reconnect()

        client._handle_auto_reconnect = on_reconnect  # what a sender built later (or a test's) calls
        if hasattr(sender, "_auto_reconnect_callback"):
            sender._auto_reconnect_callback = on_reconnect  # the sender already built

    def _after_reconnect(self) -> None:
        self._reconnected = True  # a reconnect during a catch-up poll gets a poll of its own
        if self._reconnect_poll is None or self._reconnect_poll.done():
            self._reconnect_poll = asyncio.get_running_loop().create_task(self._poll_after_reconnect())

    async def _poll_after_reconnect(self) -> None:
        await self._poll_after("_reconnected", self.reconnect_poll_delay, "reconnect",
                               lambda n: log.info("reconnected: the catch-up poll found %d post%s", n, "s" * (n != 1)))

    async def _poll_after(self, flag: str, delay: float, what: str, done: Callable[[int], None] = lambda n: None,
                          ready: Callable[[], bool] = lambda: True) -> None:
        """A poll `delay` seconds after `what` (a reconnect, a store failure), and one more after
        each time `flag` is set again meanwhile, or while `ready()` says it would fail. A task
        nobody awaits: errors are log lines."""
        while getattr(self, flag):
            setattr(self, flag, False)
            await asyncio.sleep(delay)
            if not self.client.is_connected():
                return  # stopped meanwhile
            if not ready():
                setattr(self, flag, True)
                continue
            try:
                n, _ = await self.reconcile()
            except (errors.RPCError, ConnectionError, OSError, asyncio.TimeoutError) as e:
                log.warning("poll after %s failed: %s; the scheduled poll retries", what, _why(e))
                return
            except Exception:  # never 'Task exception was never retrieved'
                log.exception("poll after %s failed", what)
                return
            done(n)

    def _retry_soon(self) -> None:
        """The store could not be used (another program holds its write lock, the disk failed): a
        poll in `db_retry_delay` seconds reads again what could not be stored, rather than the next
        scheduled one (an hour away, perhaps). Asked again meanwhile, it polls once more after."""
        self._db_failed = True
        self._db_errors += 1
        if self._db_retry is None or self._db_retry.done():
            self._db_retry = asyncio.get_running_loop().create_task(self._poll_after_db_failure())

    async def _poll_after_db_failure(self) -> None:
        # a store still locked is asked without waiting; one failing otherwise asks for the next try itself
        await self._poll_after("_db_failed", self.db_retry_delay, "a database failure", ready=self.store.writable_now)

    async def _store_unstored(self) -> bool:
        """Store the pushed posts the store could not take (oldest first); False, and a retry
        asked for, when it still cannot."""
        try:
            return await self._store_kept()
        finally:
            self._save_pending()

    async def _store_kept(self) -> bool:
        for key, (post, after) in list(self._unstored.items()):
            if self._unstored.get(key, (None,))[0] is not post:
                continue  # pushed again, or reverted to what is stored, meanwhile
            try:
                await self._process([post], in_order=False, alert_after=after, seen=self._kept_seen.get(key))
            except Exception as e:
                if (down := store_down(e)) is None:  # a bug of ours on this post must not stop every poll
                    log.exception("pushed post %d of channel %d cannot be stored; the polls go on without it", key[1], key[0])
                    self._unstored.pop(key, None)
                    self._kept_seen.pop(key, None)
                    continue
                self._db_outage.failed("%d pushed post(s) still not stored (database: %s)", len(self._unstored), down)
                self._waiting(down)
                self._retry_soon()
                return False
            if self._unstored.get(key, (None,))[0] is post:  # not pushed again meanwhile
                del self._unstored[key]
                self._kept_seen.pop(key, None)
            await asyncio.sleep(0)  # a long outage leaves many: the loop serves between them
        return True

    def _load_pending(self) -> list[tuple[int, int, datetime | None]]:
        """The pushed posts an earlier run kept in memory through a database failure and never stored;
        the deletions it could not record go to `_unmarked`. The file is {"posts": [[channel, message,
        alert_after]], "deleted": [[channel, [ids], when]]} (an older run's: the list of posts alone)."""
        if self.pending_path is None or not self.pending_path.exists():
            return []
        try:
            data = json.loads(self.pending_path.read_text(encoding="utf-8"))
            if isinstance(data, list):
                data = {"posts": data}
            out = [(int(c), int(m), datetime.fromisoformat(a) if a else None) for c, m, a in data.get("posts", [])]
            deleted = [(int(c), [int(i) for i in ids], str(at)) for c, ids, at in data.get("deleted", [])]
        except (OSError, ValueError, TypeError, AttributeError) as e:
            log.warning("%s cannot be read (%s): the posts and deletions the last run could not store are left to "
                        "the poll", self.pending_path, type(e).__name__)
            return []
        if out:
            log.info("%d pushed post(s) the last run could not store are read again", len(out))
        if deleted:
            log.info("%d deletion(s) the last run could not record are recorded first", len(deleted))
        self._unmarked = deleted
        return out

    def _save_pending(self) -> None:
        """Write the keys of the pushed posts not stored yet (and of those still to read again) and the
        pushed deletions not recorded yet beside the database, atomically; the file goes once there are
        none. One log line when it cannot."""
        if self.pending_path is None:
            return
        items = [[c, m, a.isoformat() if a else None] for c, m, a in self._pending]
        items += [[p.channel_id, p.message_id, a.isoformat() if a else None] for p, a in self._unstored.values()]
        deleted = [[c, ids, at] for c, ids, at in self._unmarked]
        try:
            if not items and not deleted:
                self.pending_path.unlink(missing_ok=True)
                return
            _write_durably(self.pending_path, json.dumps({"posts": items, "deleted": deleted}))
        except OSError as e:
            log.warning("%s not written (%s): a crash before the database works again loses the edits and "
                        "deletions it could not store of posts older than the poll's look-back", self.pending_path,
                        e.strerror or e)

    async def _read_pending(self) -> None:
        """Read again the posts an earlier run kept through a database failure (`_load_pending`) and
        keep them to be stored first; those of a channel that cannot be read now wait for the next poll."""
        left: list[tuple[int, int, datetime | None]] = []
        for cid in dict.fromkeys(c for c, _, _ in self._pending):
            wanted = [(m, a) for c, m, a in self._pending if c == cid]
            w = self.watched.get(cid)
            if w is None:
                if self.unresolved:  # it may be a configured channel not resolved yet; else no longer watched
                    left += [(cid, m, a) for m, a in wanted]
                continue
            try:
                got = await self.client.get_messages(w.peer, ids=[m for m, _ in wanted])
            except (errors.RPCError, *NETWORK_ERRORS) as e:
                log.warning("posts of %s kept by the last run not read again now (%s); the next poll tries", w.title, _why(e))
                left += [(cid, m, a) for m, a in wanted]
                continue
            for (mid, after), message in zip(wanted, got):
                if message is None or (w.id, mid) in self._unstored:
                    continue
                if message.grouped_id is not None:
                    post = await self._album(w, message.grouped_id, mid, "a post kept by the last run")
                else:
                    post = message_to_post(message, w.entity)
                if post is not None:
                    self._unstored[post.key] = (post, after)
        self._pending = left
        self._save_pending()

    def _waiting(self, down: BaseException) -> None:
        """Name in `failing` (/status, the watchdog) the channels whose pushed posts wait for the store."""
        for post, _ in self._unstored.values():
            w = self.watched.get(post.channel_id)
            self.failing[post.channel_id] = f"{w.title if w else post.channel_id}: its posts cannot be stored now ({down})"

    def close(self) -> None:
        """Cancel a catch-up poll still pending (the service is stopping)."""
        for task in (self._reconnect_poll, self._db_retry):
            if task is not None and not task.done():
                task.cancel()

    async def _process(self, posts: list[Post], *, in_order: bool, alert_after: datetime | None = None,
                       seen: int | None = None) -> list[Processed]:
        """Posts Telegram gave (when `seen` marks had been made; default now), through the pipeline;
        those marked deleted are not deleted (`_unmark_shown`)."""
        seen = self._marks if seen is None else seen
        shown: dict[int, list[int]] = {}
        for p in posts:
            shown.setdefault(p.channel_id, []).append(p.message_id)
        async with self._lock:
            done = list(self.pipeline.process(posts, in_order=in_order, alert_after=alert_after))
            back = self._unmark_shown(shown, seen)
        await self.on_processed(done)
        if back and self.on_deleted is not None:
            await self.on_deleted()
        return done


def _write_durably(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically and durably: the temp file is fsynced before the rename
    (else a power cut can leave the new name on an empty file), and the folder after it where the
    platform allows (else the rename itself may be lost)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder
        return
    try:
        os.fsync(folder)
    except OSError:  # nor fsync one, on some platforms and file systems
        pass
    finally:
        os.close(folder)
