"""Catching up after a reconnect or a database outage: a poll soon after either, the pushed posts and
deletions the store could not take kept (in memory and in a file beside the database) and stored
first."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Collection, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telethon import TelegramClient, errors

from ..post import Post
from ..source.telegram import message_to_post
from ..store.db import Store
from .dbfaults import Outage, store_down
from .codes import reason
from .resolve import Watched
from .session import NETWORK_ERRORS

if TYPE_CHECKING:
    from ..pipeline import Processed

__all__ = ["DB_RETRY_DELAY", "PENDING_SUFFIX", "RECONNECT_POLL_DELAY", "Recovery", "read_pending", "write_pending"]

log = logging.getLogger("bot.live.ingest")  # the parts of Ingest log under one name, as one job

RECONNECT_POLL_DELAY = 2.0  # seconds after a reconnect before the catch-up poll (pushes lost in the drop)
DB_RETRY_DELAY = 30.0  # seconds after the store could not be used before a poll tries again (not the next hourly one)
PENDING_SUFFIX = ".pending.json"  # beside the database: the pushed posts it could not take (`_save_pending`)

PendingPost = tuple[int, int, datetime | None]  # channel, message, alert_after
PendingDeletion = tuple[int, list[int], str]  # channel, message ids, when


def read_pending(path: Path) -> tuple[list[PendingPost], list[PendingDeletion]]:
    """The posts and deletions in the pending file `path`: {"posts": [[channel, message, alert_after]],
    "deleted": [[channel, [ids], when]]} (an older run's: the list of posts alone). Raises OSError,
    ValueError, TypeError or AttributeError when it cannot be read."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, list):
        data = {"posts": data}
    out = [(int(c), int(m), datetime.fromisoformat(a) if a else None) for c, m, a in data.get("posts", [])]
    deleted = [(int(c), [int(i) for i in ids], str(at)) for c, ids, at in data.get("deleted", [])]
    return out, deleted


def write_pending(path: Path, posts: Iterable[PendingPost], deleted: Iterable[PendingDeletion]) -> None:
    """Replace the pending file `path` with `posts` and `deleted` atomically and durably, or remove it
    when both are empty (a kept post or deletion must survive a crash); raises OSError."""
    items = [[c, m, a.isoformat() if a else None] for c, m, a in posts]
    gone = [[c, ids, at] for c, ids, at in deleted]
    if not items and not gone:
        path.unlink(missing_ok=True)
        return
    _write_durably(path, json.dumps({"posts": items, "deleted": gone}))


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


class Recovery:
    """`Ingest`'s catching up: the reconnect hook, the poll soon after a store failure, and the
    kept posts and deletions (a mixin: it works on the state `Ingest.__init__` sets)."""

    client: TelegramClient
    store: Store
    watched: dict[int, Watched]
    unresolved: dict[str | int, str]
    failing: dict[int, str]
    reconnect_poll_delay: float
    on_reconnect: Callable[[], None] | None
    _reconnect_poll: asyncio.Task[None] | None
    _reconnected: bool
    db_retry_delay: float
    _db_retry: asyncio.Task[None] | None
    _db_failed: bool
    _db_errors: int
    _db_outage: Outage
    _unstored: dict[tuple[int, int], tuple[Post, datetime | None]]
    _kept_seen: dict[tuple[int, int], int]
    pending_path: Path | None
    _pending: list[PendingPost]
    _unmarked: list[PendingDeletion]
    _unmarked_first: bool

    if TYPE_CHECKING:  # the methods of `Ingest` and its other mixins it calls; nothing at run time
        async def reconcile(self) -> tuple[int, int]: ...
        async def _process(self, posts: list[Post], *, in_order: bool, alert_after: datetime | None = None,
                           seen: int | None = None, fresh: Collection[tuple[int, int]] = ()) -> list[Processed]: ...
        async def _album(self, w: Watched, grouped_id: int, first: int, what: str) -> Post | None: ...

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
        if sender is not None and hasattr(sender, "_auto_reconnect_callback"):
            sender._auto_reconnect_callback = on_reconnect  # the sender already built

    def _after_reconnect(self) -> None:
        if self.on_reconnect is not None:
            self.on_reconnect()
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
                log.warning("poll after %s failed: %s; the scheduled poll retries", what, reason(e))
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

    def _load_pending(self) -> list[PendingPost]:
        """The pushed posts an earlier run kept in memory through a database failure and never stored
        (`read_pending`); the deletions it could not record go to `_unmarked`."""
        if self.pending_path is None or not self.pending_path.exists():
            return []
        try:
            out, deleted = read_pending(self.pending_path)
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
        pushed deletions not recorded yet beside the database (`write_pending`). One log line when it
        cannot."""
        if self.pending_path is None:
            return
        posts = [*self._pending, *((p.channel_id, p.message_id, a) for p, a in self._unstored.values())]
        try:
            write_pending(self.pending_path, posts, self._unmarked)
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
                log.warning("posts of %s kept by the last run not read again now (%s); the next poll tries", w.title, reason(e))
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
