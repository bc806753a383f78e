"""The watched channels: each configured name or id looked up once (from the session and the store
when seen before, else one throttled lookup), renames noticed, channels that cannot be read dropped."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from telethon import TelegramClient, errors
from telethon.tl import types

from ..alert.html import isolated
from ..source.telegram import channel_username
from ..store.db import Store, iso
from .codes import reason
from .dbfaults import Outage, store_down
from .seeded import seed, seeded

__all__ = ["BACKFILL_ALERTS", "ChannelGone", "Resolver", "Watched"]

log = logging.getLogger("bot.live.ingest")  # the parts of Ingest log under one name, as one job

BACKFILL_ALERTS = timedelta(hours=24)  # a newly watched channel's posts older than this alert no one
RETRY_UNRESOLVED = 6 * 3600.0  # seconds before a channel that did not resolve is looked up again

# Errors meaning the channel cannot be read any more, and the status we give it.
_GONE: tuple[tuple[type[Exception], str], ...] = (
    (errors.ChannelPrivateError, "private"),
    (errors.ChannelBannedError, "banned"),
    (errors.UserBannedInChannelError, "banned"),
    (errors.ChannelInvalidError, "gone"),
    (errors.UsernameNotOccupiedError, "gone"),
    (errors.UsernameInvalidError, "gone"),
)

_GONE_ERRORS = tuple(kind for kind, _ in _GONE)


class ChannelGone(Exception):
    """A watched channel turned private, was deleted or banned the account."""

    def __init__(self, status: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass
class Watched:
    """A resolved channel: its bare id, input peer, names, and whether the account has joined it
    (only joined channels push live updates; the others are read by the poll alone)."""

    id: int
    peer: Any
    title: str
    username: str | None
    joined: bool
    entity: Any = None
    since: datetime | None = None  # when tgwatch began watching it (None: before it kept that)
    seeded: bool = False  # its mark came from a replay, and no read in order since `since` followed
    back: datetime | None = None  # when this run began watching it, until its first read in order since

    def alert_after(self, high: int | None) -> datetime | None:
        """When its posts start to alert, given its high-water mark `high`: until its first read in
        order since this run began watching it (`back`), only on posts from the day before that, as a
        new channel's backfill does: a channel read before, the posts it made while tgwatch was down
        (a week's worth after a week down); one never read in order (newly watched, again after it
        was out of the config, or with a replay's mark: `seeded`), its backfill. Older ones (the
        start-up difference brings posts of any age) are stored, searchable, not news. After that
        read, all alert but those over a day old by the time they are stored (`Ingest._process`: a weekend
        asleep caught up, a post dated 0); a post at or below the mark that is not stored is never taken.
        None: no bound of its own."""
        began = self.back if self.back is not None else self.since if high is None or self.seeded else None
        return began - BACKFILL_ALERTS if began is not None else None


def _gone(e: Exception) -> str | None:
    if isinstance(e, ChannelGone):
        return e.status
    return next((status for kind, status in _GONE if isinstance(e, kind)), None)


class Resolver:
    """`Ingest`'s channel lookups: `resolve` fills `watched` from the configured refs, and says once
    what cannot be watched and why (a mixin: it works on the state `Ingest.__init__` sets)."""

    client: TelegramClient
    store: Store
    refs: list[str | int]
    clock: Callable[[], datetime]
    notify: Callable[[str], Awaitable[None]]
    resolve_delay: float
    watched: dict[int, Watched]
    unresolved: dict[str | int, str]
    _retry_at: dict[str | int, float]
    _ref_ids: dict[str | int, int]
    _dialogs_read: bool
    _found: dict[str | int, Any]
    _run: int | None
    watched_before: set[int]
    _db_outage: Outage
    db_retry_delay: float

    if TYPE_CHECKING:  # another mixin's method it calls (`Ingest` has them all); nothing at run time
        def _retry_soon(self) -> None: ...

    async def resolve(self) -> dict[int, Watched]:
        """Turn every configured channel into a peer: from the session's entity cache and our
        store when seen before (no request), else one throttled, FloodWait-aware lookup. A store
        that cannot record them now stops the lookups with one log line; the channels found stay
        watched, and a poll soon goes on with the rest (without asking Telegram again)."""
        try:
            await self._resolve_all()
        except sqlite3.OperationalError as e:
            if (down := store_down(e)) is None:
                raise
            self._db_outage.failed("looking up channels stopped (database: %s); a poll in %d s goes on", down,
                                   self.db_retry_delay)
            self._retry_soon()
        return self.watched

    async def _resolve_all(self) -> None:
        if self._run is None:  # this run watches the configured channels known already, resolved or not
            # (the ignores on `int(row[...])`: a row's values are objects to mypy, the ids are integers)
            known = {int(row["id"]) for ref in self.refs if (row := self.store.channel_by_ref(ref)) is not None}  # type: ignore[call-overload]
            seed(self.store, known)  # first: a replay's mark is told from a live read's only before the run
            self._run, self.watched_before = self.store.begin_run(known, iso(self.clock()) or "")
        flooded = False
        now = time.monotonic()
        for ref in self.refs:
            if self._is_watched(ref):
                continue  # watched already, under whatever username it has now
            if self._retry_at.get(ref, 0.0) > now:
                continue  # failed lately: lookups of a name that does not resolve invite flood waits
            row = self.store.channel_by_ref(ref)  # also after the channel changed its username
            if row is not None and isinstance(ref, str):
                now_named = str(row.get("username") or "").lower()
                if now_named and now_named != ref.lower() and now_named in self._named_refs():
                    # the config names the channel by its new name too: the old name is free, and may
                    # belong to another channel now
                    row = self.store.channel(ref.lower())
            if flooded and (row is None or row.get("access_hash") is None) and ref not in self._found:
                continue  # needs resolveUsername, which Telegram just asked us to stop calling
            try:
                w = await self._resolve_one(ref, row)
            except errors.FloodWaitError as e:
                log.warning("resolving %s: Telegram asks to wait %d s; trying again at the next poll", ref, e.seconds)
                self.unresolved[ref] = f"cannot resolve {ref} yet: flood wait {e.seconds} s"
                flooded = True
                continue
            except (ValueError, TypeError, errors.RPCError, ChannelGone) as e:
                status = _gone(e) or "unresolved"
                detail = f"cannot watch {ref}: {reason(e)}"
                before = self.store.set_channel_status(int(row["id"]), status, reason(e)) if row else None  # type: ignore[call-overload]
                if before != status and self.unresolved.get(ref) != detail:  # not reported on an earlier poll or run
                    await self.notify(f"⚠️ {detail}")
                self.unresolved[ref] = detail
                self._retry_at[ref] = now + RETRY_UNRESOLVED
                log.warning("%s (%s)", detail, status)
                continue
            self.store.remember_ref(ref, w.id)  # first: a store that cannot take it leaves the channel to the retry
            seed(self.store, [w.id])
            since = self.store.watch_channels([w.id], self._run, iso(self.clock()) or "")[w.id]
            w.since = datetime.fromisoformat(since) if since else None
            w.seeded = w.id in seeded(self.store)
            w.back = self.clock()
            self._found.pop(ref, None)
            self.unresolved.pop(ref, None)
            self.watched[w.id] = w
            self._ref_ids[ref] = w.id

    def held_back(self) -> list[str | int]:
        """The configured channels neither watched nor failed: a flood wait held their lookup back, so
        their titles (which a rule's `channels` may name) are not known yet."""
        return [ref for ref in self.refs if not self._is_watched(ref) and ref not in self._retry_at]

    def _is_watched(self, ref: str | int) -> bool:
        """Whether the configured channel `ref` is watched (under whatever username it has now)."""
        return self._ref_ids.get(ref) in self.watched or any(
            w.id == ref or (w.username or "").lower() == ref for w in self.watched.values())

    def _named_refs(self) -> set[str]:
        """The configured usernames, lower case."""
        return {r.lower() for r in self.refs if isinstance(r, str)}

    async def _resolve_one(self, ref: str | int, row: dict[str, Any] | None) -> Watched:
        """The channel `ref` (its store row when seen before) as a Watched; raises what Telethon does."""
        entity = self._found.get(ref)  # Telegram gave it before, but the store could not record it then
        if entity is None and row is not None and row.get("access_hash") is not None:
            try:  # known from an earlier run: channels.getChannels, never resolveUsername
                entity = await self.client.get_entity(types.InputPeerChannel(int(row["id"]), int(row["access_hash"])))
            except (ValueError, errors.ChannelInvalidError):
                entity = None  # the hash no longer works (another account's store?): resolve afresh
        if entity is None:
            if isinstance(ref, int):
                entity = await self._by_id(ref)
            else:
                if self.resolve_delay:
                    await asyncio.sleep(self.resolve_delay)  # contacts.resolveUsername is the classic flood trigger
                # a channel that changed its username since it was stored is found by its new one
                entity = await self.client.get_entity(str(row.get("username") or ref) if row is not None else ref)
        if isinstance(entity, types.ChannelForbidden):
            raise ChannelGone("private", "the channel is private now or has banned this account")
        if not isinstance(entity, types.Channel):
            raise ValueError("not a channel")
        self._found[ref] = entity  # until the store has it: a retry asks Telegram nothing
        username = channel_username(entity)
        before = str(row["username"]) if row is not None and row.get("username") else None
        self.store.mark_resolved(entity.id, entity.title, username, entity.access_hash)
        if before and username and before.lower() != username.lower():
            await self._renamed(entity.title, before, username)
        return Watched(entity.id, types.InputPeerChannel(entity.id, entity.access_hash or 0), entity.title,
                       username, joined=not entity.left, entity=entity)

    async def _by_id(self, channel_id: int) -> Any:
        """A channel configured by id: Telegram looks ids up only with an access hash, which the
        session knows for channels it has seen. A fresh login has seen none: the account's dialogs
        (read once per run) give every channel it has joined."""
        try:
            return await self.client.get_entity(types.PeerChannel(channel_id))
        except ValueError:
            if self._dialogs_read:
                raise ValueError("not a channel this account has joined: join it, or name it by its @username") from None
        await self.client.get_dialogs()  # caches the entities (and access hashes) of every dialog
        self._dialogs_read = True
        try:
            return await self.client.get_entity(types.PeerChannel(channel_id))
        except ValueError:
            raise ValueError("not a channel this account has joined: join it, or name it by its @username") from None

    async def _renamed(self, title: str, before: str, after: str) -> None:
        """A watched channel changed its username: it stays watched (by its id); say so once."""
        detail = f"channel {isolated(title)} @{before} is now @{after}; still watched (by its id)"
        log.warning("%s", detail)
        await self.notify(f"ℹ️ {detail}; the config may name it @{after}")

    async def _refresh(self, w: Watched, messages: Sequence[Any]) -> None:
        """Take the channel's current names from a history answer (links use them), and say so
        when its username changed while watched."""
        chat = next((m.chat for m in reversed(messages) if isinstance(getattr(m, "chat", None), types.Channel)), None)
        if chat is None or chat.id != w.id or getattr(chat, "min", False):  # a min channel lacks its names
            return
        before, username = w.username, channel_username(chat)
        if username != before or chat.title != w.title:
            self.store.upsert_channel(w.id, chat.title, username)
        w.entity, w.title, w.username = chat, chat.title, username or before
        if before and username and before.lower() != username.lower():
            await self._renamed(chat.title, before, username)

    async def _mark_gone(self, w: Watched, e: Exception) -> None:
        status = _gone(e) or "gone"
        before = self.store.set_channel_status(w.id, status, reason(e))
        self.watched.pop(w.id, None)
        if before != status:
            await self.notify(f"⚠️ {isolated(w.title)} (@{w.username or w.id}) can no longer be read: {status} ({reason(e)}); "
                              "the other channels keep running")
        log.warning("channel %s is %s: %s", w.id, status, reason(e))
