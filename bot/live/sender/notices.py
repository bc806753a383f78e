"""One-line notices to every alert chat (recovered posts, a channel gone): stored with their random_ids
before the first attempt and held, in order, through a flood wait or an unreachable chat; sent once."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sqlite3
from collections import deque

from telethon import errors, functions

from ..codes import telegram_code
from ..dbfaults import Outage, store_down
from ..randomid import call_unrepeated
from .floodwait import FloodWaits
from .peers import Peers, _topic
from .sendfaults import _NETWORK, _keeps_queued, _retry_delay

__all__ = ["MAX_HELD_NOTICES", "NOTICES_KEY", "Notices"]

log = logging.getLogger("bot.live.sender")  # the parts of Sender log under one name, as one job


MAX_HELD_NOTICES = 200
NOTICES_KEY = "held_notices"  # meta row: the notices not sent yet, kept across a restart


def _short(text: str, n: int = 80) -> str:
    one = " ".join(text.split())
    return repr(one if len(one) <= n else one[:n - 1] + "…")


class Notices(Peers, FloodWaits):
    """`Sender`'s `notify` and the notices it holds (a mixin: it works on the state `Sender.__init__` sets)."""

    chats: list[str]
    _notices: deque[tuple[str, str, int]]
    _unsent: dict[int, tuple[str, str, int]]
    _notice_lock: asyncio.Lock
    _notices_outage: Outage

    async def notify(self, text: str) -> None:
        """A one-line notice to every alert chat (recovered posts, a channel gone); never raised
        into the caller. Stored with its random_id before the first attempt and held, in order,
        through a flood wait, a network problem or an unreachable chat: a later sender pass (or
        the next run, after a restart) sends it, once."""
        self._queue_notice(text, *self.chats)
        await self._flush_notices()

    def _queue_notice(self, text: str, *chats: str) -> None:
        """Queue a notice to `chats` and store it, each with its random_id, before any attempt."""
        for chat in chats:
            item = (chat, text, secrets.randbits(63))  # one random_id: a resend never shows twice
            self._notices.append(item)
            self._unsent[item[2]] = item
        while len(self._notices) > MAX_HELD_NOTICES:
            chat, old, rid = self._notices.popleft()
            self._unsent.pop(rid, None)
            log.warning("notice to %s dropped (more than %d held): %s", chat, MAX_HELD_NOTICES, _short(old))
        self._save_notices()

    def _load_notices(self) -> list[tuple[str, str, int]]:
        """The notices an earlier run held and never sent, for the chats configured now."""
        value = self.store.get_meta(NOTICES_KEY)
        try:
            items = json.loads(value) if value else []
            return [(str(c), str(t), int(r)) for c, t, r in items if str(c) in self.chats]
        except (ValueError, TypeError):
            log.warning("the notices held by the last run cannot be read: they are not sent")
            return []

    def _save_notices(self) -> None:
        """Store the notices not sent yet (committed at once: a crash after it keeps them). A store
        that cannot take them now costs one log line: they are held in memory and sent meanwhile,
        and the next save stores what is left then."""
        try:
            self.store.set_meta(NOTICES_KEY, json.dumps(list(self._unsent.values()), ensure_ascii=False))
        except sqlite3.OperationalError as e:
            if (down := store_down(e)) is None:
                raise
            self._notices_outage.failed("notices not saved now (database: %s): held in memory (a restart before the "
                                        "next save loses those not sent by then)", down)
            return
        self._notices_outage.ok()

    async def _flush_notices(self) -> None:
        if self._notice_lock.locked():
            return  # the flush under way sends these too
        async with self._notice_lock:
            held: list[tuple[str, str, int]] = []
            blocked: set[str] = set()  # chats that failed in this flush keep their later notices in order
            while self._notices:
                chat, text, rid = item = self._notices.popleft()
                due = self._notice_due.get(chat)
                if due is not None and self._waiting(due[1]):
                    blocked.add(chat)  # failed lately: backs off like an alert
                if chat in blocked or self._paused():
                    if self.paused_until is not None and chat not in blocked:
                        log.info("notice to %s held until the flood wait ends: %s", chat, _short(text))
                    held.append(item)
                    continue
                try:
                    await call_unrepeated(self.client, functions.messages.SendMessageRequest(
                        peer=await self._peer(chat), message=text, no_webpage=True, random_id=rid, reply_to=_topic(chat)))
                except errors.RandomIdDuplicateError:
                    self._unsent.pop(rid, None)  # an earlier attempt (or run) reached the chat
                except errors.FloodError as e:
                    self._pause(e)
                    held.append(item)
                    log.warning("notice to %s held (%s), sent when the wait ends: %s", chat, telegram_code(e), _short(text))
                except _NETWORK as e:
                    held.append(item)
                    blocked.add(chat)
                    log.warning("notice to %s held (network problem: %s), retried on the next pass: %s",
                                chat, type(e).__name__, _short(text))
                except (errors.RPCError, ValueError, TypeError) as e:
                    if _keeps_queued(e):
                        self._chat_failed(chat, e)
                        held.append(item)
                        blocked.add(chat)
                        failures = self._notice_due.get(chat, (0,))[0] + 1
                        delay = _retry_delay(failures - 1, chat_level=True)
                        self._notice_due[chat] = (failures, self._after(delay))
                        log.warning("notice to %s held (%s), retried in %d s: %s", chat, telegram_code(e), delay, _short(text))
                    else:
                        self._unsent.pop(rid, None)
                        log.warning("notice to %s not sent (%s): %s", chat, telegram_code(e), _short(text))
                else:
                    self._unsent.pop(rid, None)
                    self._notice_due.pop(chat, None)
                    self._chat_works(chat)
            self._notices.extend(held)  # nothing was queued since the loop ended (no await in between)
            self._save_notices()
