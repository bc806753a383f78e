"""Live updates of the joined channels: new posts, albums gathered into one post, edits (reactions
too), each pushed through the pipeline at once; the poll stays the source of truth."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telethon import TelegramClient, events, errors

from ..post import Post, bare_id
from ..source.telegram import album_to_post, message_to_post
from ..store.db import Store
from .codes import telegram_code
from .dbfaults import Outage, store_down
from .difference import keep_difference_edits, release_catch_up
from .resolve import Watched

if TYPE_CHECKING:
    from ..pipeline import Processed

__all__ = ["ALBUM_FORGET_SECONDS", "ALBUM_MAX", "Events"]

log = logging.getLogger("bot.live.ingest")  # the parts of Ingest log under one name, as one job

ALBUM_MAX = 10  # items in one Telegram album
ALBUM_FORGET_SECONDS = 600.0  # Telethon's collector of a delivered album is dropped this long after (`forget_albums`)


class Events:
    """`Ingest`'s live handlers: `listen` registers them, `forget_albums` bounds Telethon's album
    memory (a mixin: it works on the state `Ingest.__init__` sets)."""

    client: TelegramClient
    store: Store
    watched: dict[int, Watched]
    _listening: bool
    _marks: int
    _unstored: dict[tuple[int, int], tuple[Post, datetime | None]]
    _kept_seen: dict[tuple[int, int], int]
    _db_outage: Outage
    db_retry_delay: float

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Ingest` has them all
        async def _refresh(self, w: Watched, messages: Sequence[Any]) -> None: ...
        async def _on_deleted(self, event: events.MessageDeleted.Event) -> None: ...
        def _hook_reconnect(self) -> None: ...
        def _retry_soon(self) -> None: ...
        def _save_pending(self) -> None: ...
        def _waiting(self, down: BaseException) -> None: ...
        @contextmanager
        def _reading(self, seen: int | None = None) -> Iterator[int]: ...
        async def _process(self, posts: list[Post], *, in_order: bool, alert_after: datetime | None = None,
                           seen: int | None = None, fresh: Collection[tuple[int, int]] = ()) -> list[Processed]: ...

    def listen(self) -> None:
        """Live updates for joined channels: new posts, albums (one post), edits (also those a gap's
        difference carries, which Telethon drops: `keep_difference_edits`); and a poll soon after
        each reconnect (Telethon does not catch up: pushes lost in the drop would wait for the
        scheduled poll)."""
        if self._listening:
            return
        self._listening = True
        keep_difference_edits(self.client)
        self.client.add_event_handler(self._guarded(self._on_new), events.NewMessage())
        self.client.add_event_handler(self._guarded(self._on_album), events.Album())
        self.client.add_event_handler(self._guarded(self._on_edit), events.MessageEdited())
        self.client.add_event_handler(self._on_deleted, events.MessageDeleted())
        self._hook_reconnect()
        release_catch_up(self.client)  # what happened while stopped now reaches the handlers

    def _guarded(self, handle: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        """`handle` as Telethon calls it: a store that cannot take a pushed post now (another
        program holds the write lock past the busy timeout, the disk is full) costs one log line, not
        the traceback Telethon logs for a handler's error. The batch was rolled back; `_push` kept
        the post, and the retry poll stores it first."""
        async def on_event(event: Any) -> None:
            try:
                await handle(event)
            except sqlite3.OperationalError as e:
                if (down := store_down(e)) is None:
                    raise
                w = self._mine(event)
                first = (getattr(event, "messages", None) or [event.message])[0]
                self._db_outage.failed("post %d of %s not stored now (database: %s); stored in %d s",
                                       first.id, w.title if w else event.chat_id, down, self.db_retry_delay)
                self._retry_soon()

        on_event.__name__ = on_event.__qualname__ = handle.__name__  # how Telethon names a handler in its log
        return on_event

    def _mine(self, event: Any) -> Watched | None:
        chat_id = event.chat_id
        if chat_id is None or chat_id > -1_000_000_000_000:
            return None
        return self.watched.get(bare_id(chat_id))

    async def _on_new(self, event: events.NewMessage.Event) -> None:
        w = self._mine(event)
        if w is None:
            return
        if event.message.grouped_id is not None:  # album items arrive together as one Album event
            await self._late_album_item(w, event.message)
            return
        await self._refresh(w, [event.message])  # a rename shows in the update: links use the new name at once
        post = message_to_post(event.message, w.entity)
        high = self.store.high_water(w.id)
        if post is not None and not self._before_reading(w, post, high):
            # (a channel's difference, asked for after a gap or a stop, also carries posts older than
            # what the first read took: the poll leaves them out, so do pushes)
            await self._push(post, alert_after=w.alert_after(high), fresh=True)

    async def _late_album_item(self, w: Watched, message: Any) -> None:
        """An album item pushed after the album's Album event stored it (Telegram pushes items from
        another data centre apart; Telethon keeps each album's collector after delivering it, so a
        late item makes no Album event, and the caption it may carry would wait for the poll): the
        album is read again whole and stored under its first item; it alerts as the album would have
        (a channel never read in order: only when dated in its last day, `Watched.alert_after`)."""
        first = self.store.album_first(w.id, message.grouped_id)
        if first is None or first >= message.id:
            return  # not stored yet: its Album event (or the poll) stores it
        await self._refresh(w, [message])
        post = await self._album(w, message.grouped_id, first, "an item pushed late")
        if post is not None:
            await self._push(post, alert_after=w.alert_after(self.store.high_water(w.id)))

    def forget_albums(self, older_than: float = ALBUM_FORGET_SECONDS) -> int:
        """Drop Telethon's album collectors delivered more than `older_than` seconds ago; returns how
        many. Telethon 1.45 keeps one per album the account sees (with its messages) for the life of
        the client: a leak in a service that runs for months. A later item of a forgotten album makes
        an Album event of its own, which `_on_album` stores into the album stored earlier."""
        albums = getattr(self.client, "_albums", None)  # telethon 1.45 (pinned): grouped_id -> AlbumHack
        if not isinstance(albums, dict):
            return 0
        limit = self.client.loop.time() - older_than
        old = [g for g, hack in albums.items() if getattr(hack, "_due", limit) < limit]
        for g in old:
            del albums[g]
        return len(old)

    async def _album(self, w: Watched, grouped_id: int, first: int, what: str) -> Post | None:
        """The album `grouped_id` stored under `first`, read again whole; None when it cannot be
        read now (one log line naming `what` brought us here: the poll is the safety net)."""
        try:
            items = await self.client.get_messages(w.peer, ids=list(range(first, first + ALBUM_MAX)))
        except errors.RPCError as e:  # a flood wait too
            log.warning("%s of an album in %s (@%s) not read: %s; the next poll reads it",
                        what, w.title, w.username or w.id, telegram_code(e))
            return None
        return album_to_post([m for m in items if m is not None and m.grouped_id == grouped_id], w.entity)

    async def _on_album(self, event: events.Album.Event) -> None:
        w = self._mine(event)
        if w is None:
            return
        earliest = min(event.messages, key=lambda m: m.id)
        if (first := self.store.album_first(w.id, earliest.grouped_id)) is not None and first < earliest.id:
            # the rest of an album stored earlier, whose collector `forget_albums` dropped: stored
            # into that album (under its first item), not as an album of its own
            await self._late_album_item(w, earliest)
            return
        await self._refresh(w, event.messages)
        post = album_to_post(event.messages, w.entity)
        high = self.store.high_water(w.id)
        if post is not None and not self._before_reading(w, post, high):
            await self._push(post, alert_after=w.alert_after(high), fresh=True)

    async def _on_edit(self, event: events.MessageEdited.Event) -> None:
        """An edit (reactions fire these too: the pipeline drops edits whose text is unchanged). Any
        edit Telegram pushes shows the post exists: one marked deleted is not (`_process`)."""
        with self._reading() as seen:  # (the marks made while its album is read stand)
            await self._edited(event, seen)

    async def _edited(self, event: events.MessageEdited.Event, seen: int) -> None:
        """`_on_edit`, pushed when `seen` deletion marks had been made."""
        w = self._mine(event)
        if w is None:
            return
        await self._refresh(w, [event.message])
        post = message_to_post(event.message, w.entity)
        if post is None:
            return
        if post.grouped_id is not None:
            first = self.store.album_first(w.id, post.grouped_id)
            if first is None:
                return  # not stored yet: the album event or the poll stores it
            album = await self._album(w, post.grouped_id, first, "edit")
            if album is None:
                return
            post = album
        known = self.store.known_hashes([post.key]).get(post.key)
        if known is not None and known.text_hash == post.text_hash:
            if self._unstored.pop(post.key, None) is not None:  # an edit kept from a lock and reverted since
                self._kept_seen.pop(post.key, None)
                self._save_pending()  # what is stored stands
            if self.store.deleted_at(*post.key) is not None:  # a reaction on a post marked deleted: it is not
                await self._push(post, seen=seen)
            return  # a reaction, or formatting: nothing to match again (and no write: a locked store never waits)
        high = self.store.high_water(w.id)
        if post.grouped_id is None and self._before_reading(w, post, high):
            return
        await self._push(post, alert_after=w.alert_after(high), seen=seen)  # (reactions fire edits on posts of any age)

    def _before_reading(self, w: Watched, post: Post, high: int | None) -> bool:
        """An edit (or a reaction) of a post at or below the channel's high-water mark that is not
        stored: older than the first read, or pruned by retention. The poll skips such posts; so
        does the edit path, or a reaction on a ten-day-old post would push it as a new alert."""
        if high is None or post.message_id > high or self.store.known_hashes([post.key]):
            return False
        log.debug("edit of %s post %d, older than what tgwatch read: ignored", w.title, post.message_id)
        return True

    async def _push(self, post: Post, *, alert_after: datetime | None = None, seen: int | None = None,
                    fresh: bool = False) -> None:
        """A post Telegram pushed (when `seen` marks had been made; `fresh`: as a new message), through
        the pipeline; it never moves the channel's high-water mark (a post pushed after a silent gap
        must not hide the gap from the poll). One the store cannot take now is kept, and stored
        before the retry poll (`_store_unstored`). Its read lasts until it is kept: the marks made while
        it waited stand for it (`_forget_marks`)."""
        with self._reading(seen) as seen:
            try:
                await self._process([post], in_order=False, alert_after=alert_after, seen=seen, fresh=[post.key] if fresh else ())
            except sqlite3.OperationalError as e:
                if (down := store_down(e)) is not None:
                    self._unstored.pop(post.key, None)  # the newest version last: stored after the older ones
                    self._unstored[post.key] = (post, alert_after)
                    self._kept_seen[post.key] = seen
                    self._save_pending()
                    self._waiting(down)
                raise
