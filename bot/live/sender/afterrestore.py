"""After the store was restored from a backup: alerts and digest items the chats show already are
taken as sent, not sent twice; through a bot (it reads no chat), older alerts are held until released."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any


from ...alert.outbox import Alert, load_alert
from ...store.db import iso
from ..codes import telegram_code
from .peers import Peers, _topic, _topic_of
from .recheck import Recheck
from ..restored import (digest_item, forget_backup, forget_noted, held_count, hold_older, note_older, queued_older,
                        release_held, take_as_digested, take_as_shown)
from .rows import _int
from .sendonce import FIND_SENT_LOOKBACK, _is_part

__all__ = ["AfterRestore"]

log = logging.getLogger("bot.live.sender")  # the parts of Sender log under one name, as one job


class AfterRestore(Recheck, Peers):
    """`Sender`'s `caught_up`, `release`, `settle` and `told_older`, and what the chats show already (a
    mixin: it works on the state `Sender.__init__` sets)."""

    chats: list[str]
    titles: dict[str, str]
    clock: Callable[[], datetime]
    started: datetime
    reads_chat: bool
    restored: datetime | None
    found_before: set[int]
    sent_before: set[int]
    _ours: dict[str, list[Any]]
    _lock: asyncio.Lock
    _digest_lock: asyncio.Lock

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Sender` has them all
        async def deliver(self) -> int: ...

    async def _shown_before(self, peer: Any, chat: str, text: str, entities: Sequence[Any]) -> Any:
        """Our message in `chat` (its topic) that is this alert part (`sendonce._same_alert`), among the last
        FIND_SENT_LOOKBACK read once per run, at the first alert of a post older than the run; None
        when there is none or Telegram does not let us read the chat (a bot reads no history)."""
        topic = _topic(chat)
        return next((m for m in await self._our_messages(peer, chat)
                     if _is_part(m, text, entities, topic.reply_to_msg_id if topic is not None else None)), None)

    async def _our_messages(self, peer: Any, chat: str) -> list[Any]:
        """Our messages among the last FIND_SENT_LOOKBACK of `chat`, read once per run (none when
        Telegram does not let us read it)."""
        if chat not in self._ours:
            self._ours[chat] = []
            try:
                self._ours[chat] = [m async for m in self.client.iter_messages(peer, limit=FIND_SENT_LOOKBACK, wait_time=0)
                                    if m.out]  # (only ours: 1,000 messages of analysts' talk are not held)
            except Exception as e:  # noqa: BLE001 - best effort, as `SendOnce._find_sent`
                log.debug("reading chat %s for alerts already sent failed: %s", chat, telegram_code(e))
        return self._ours[chat]

    async def _in_digests(self, alert: Alert) -> dict[str, tuple[int, int]]:
        """The chats (in their topics) whose digests we sent carry `alert`'s item: chat -> (message id,
        item number), looked for as `_shown_before` looks for an alert."""
        shown: dict[str, tuple[int, int]] = {}
        for chat in self.chats:
            try:
                peer = await self._peer(chat)
            except Exception as e:  # noqa: BLE001 - best effort: not found, the item goes out
                log.debug("chat %s not read for digests already sent: %s", chat, telegram_code(e))
                continue
            where = _topic(chat)
            topic = where.reply_to_msg_id if where is not None else None
            for m in await self._our_messages(peer, chat):
                if _topic_of(m) == topic and (number := digest_item(m, alert)) is not None:
                    shown[chat] = (int(m.id), number)
                    break
        return shown

    async def _digested_before(self, now: datetime) -> None:
        """The low-severity alerts of posts older than the run, whose item a digest we sent carries in
        every chat (a store restored from a backup lost the record of it), are taken as digested there,
        not sent in a digest again (`take_as_digested`); one some chats carry goes to the others only (`take_as_shown`)."""
        if not self.reads_chat:
            return
        for row in queued_older(self.store, iso(self.started) or ""):
            if self._severity(row) != "low":
                continue
            alert = load_alert(self.store, _int(row["id"]), self.titles)
            if alert is None:
                continue
            shown = await self._in_digests(alert)
            if not shown:
                continue
            if set(shown) < set(self.chats):  # recorded shown there: the next digest skips those chats (`Digests._digest_sent`)
                with self.store.transaction():
                    take_as_shown(self.store, alert.id, shown, iso(now) or "")
                log.warning("alert %d is an item of a digest in chat %s already (the store was restored from an older "
                            "copy?): the next digest takes it to the others only", alert.id, ", ".join(sorted(shown)))
            elif take_as_digested(self.store, alert.id, shown, iso(now) or ""):
                self._note_older(found=alert.id)
                log.warning("alert %d is an item of a digest in every chat already (the store was restored from an older "
                            "copy?): not sent again", alert.id)

    def _note_older(self, *, found: int | None = None, sent: int | None = None) -> None:
        """An alert of a post older than the run was in the chat already (`found`), or sent now (`sent`):
        counted for the "recovered" line, in the store too (after what it marks: a failed write sends nothing twice)."""
        self.found_before.update([found] if found is not None else [])
        self.sent_before.update([sent] if sent is not None else [])
        note_older(self.store, self.found_before, self.sent_before)

    def told_older(self) -> None:
        """The "recovered" line has counted the alerts found and sent (`_note_older`): a later one counts afresh."""
        if self.found_before or self.sent_before:
            forget_noted(self.store)
            self.found_before, self.sent_before = set(), set()

    def _hold_restored(self) -> None:
        """After a restore, sending through a bot (it cannot look in the chat): the alerts of posts older
        than the run are held (`hold_older`), but those an analyst released."""
        if self.restored is not None and not self.reads_chat:
            if n := hold_older(self.store, iso(self.started) or ""):
                log.info("%d alerts of posts older than this run held: the store was restored from a backup", n)

    def caught_up(self) -> tuple[int, datetime] | None:
        """The service has read what was published before the run: after a restore, the alerts still
        queued of it are held (through a bot) and the store's backup mark goes, so holding stops and
        the next start is an ordinary one. Returns (alerts held, the backup's time) through a bot;
        None otherwise."""
        taken = self.restored
        if taken is None:
            return None
        with self.store.transaction():
            self._hold_restored()
            held = held_count(self.store)
            forget_backup(self.store)
        self.restored = None
        return None if self.reads_chat else (held, taken)

    async def release(self) -> int:
        """Send the alerts held after a restore (/release): queued again, due now; how many."""
        with self.store.transaction():
            ids = release_held(self.store)
        if ids:
            await self.deliver()
        return len(ids)

    async def settle(self) -> None:
        """Try what is due now and wait for every sender pass under way (the "recovered" line counts
        what they sent); digest items already in the chats are taken as shown first."""
        async with self._digest_lock:
            await self._digested_before(self.clock())
        await self.deliver()
        async with self._lock:  # a pass under way (and the one more it was asked for) is done
            pass
