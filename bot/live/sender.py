"""The sender: delivers the outbox to the analysts' chats exactly once, honouring flood waits.

Each message part gets a random_id that is stored before the first attempt; Telegram refuses a
second message with the same random_id (RANDOM_ID_DUPLICATE), so a crash between sending and
marking sent never shows the analyst a second copy. Story updates edit the sent message.

A post the channel deletes is told once per (alert, chat): by editing the alert, by a reply to it
where it cannot be edited, or, for an alert that went out as an item of a digest, by a reply to the
digest message that carried the item (`_tell_digest_deletions`); when Telegram then shows that
post again (the deletion signal was wrong), the alert is edited back, or, where the chat was told by
a reply (or the alert cannot be edited back), one more reply to the same message says so.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from telethon import TelegramClient, errors

from ..alert.html import render_html, to_parts
from ..alert.outbox import DELETED_MARK, load_alert
from ..match.matcher import Matcher
from ..store.db import Store, iso
from ..store.deliveries import (DELETED_PART)
from ..store.schema import give_owners
from .codes import telegram_code
from .dbfaults import Outage, store_down
from .peers import Peers, _topic
from .sendonce import SendOnce, _digest
from .storyedits import StoryEdits, _EditsHeld
from .notices import Notices
from .recheck import Recheck
from .rows import _int
from .deletednotices import DeletionNotices
from .afterrestore import AfterRestore
from .digestsend import Digests
from .floodwait import FloodWaits, _Due
from .digesttext import DIGEST_ITEMS, render_digest
from .digesttext import _digest_parts as _digest_parts  # (tests import it from here)
from .sendfaults import _NETWORK, MAX_ATTEMPTS, MAX_RETRY_DELAY, _keeps_queued, _retry_delay
from .restored import (copied, noted_older,
                       restored_from)

__all__ = ["Sender", "MAX_ATTEMPTS", "MAX_RETRY_DELAY", "DIGEST_ITEMS", "render_digest"]

log = logging.getLogger(__name__)

class Sender(FloodWaits, Peers, SendOnce, StoryEdits, Notices, Recheck, DeletionNotices, AfterRestore, Digests):
    """Sends queued alerts (and edits sent ones when their story grows) through one client."""

    def __init__(self, client: TelegramClient, store: Store, chats: Sequence[str | int], *,
                 titles: dict[str, str] | None = None, tz: ZoneInfo | None = None, edit_every: float = 60.0,
                 silent: Callable[[str, datetime], bool] | None = None,
                 buttons: Callable[[int], Any] | None = None, rules: Callable[[], Matcher] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 monotonic: Callable[[], float] = time.monotonic, matching: AbstractContextManager[Any] | None = None,
                 reads_chat: bool = True) -> None:
        """`reads_chat`: the client can read the chats' history (a user account; a bot cannot)."""
        self.client = client
        self.store = store
        self.chats = [str(c) for c in chats]
        self.titles = titles or {}
        self.tz = tz
        self.edit_every = edit_every
        self.silent = silent or (lambda severity, now: False)
        self.buttons = buttons  # reply markup under an alert (triage buttons; bots only)
        self.rules = rules  # the rules in use now: a held alert they no longer raise is not sent (`retire`)
        self.matching = threading.Lock() if matching is None else matching  # held while matching (`Pipeline.matching`)
        self.clock = clock
        self.monotonic = monotonic
        # an alert of a post older than this may be in the chat from a store since restored (whole
        # seconds, as Telegram dates posts: one of the second the run started is a live one)
        self.started = clock().replace(microsecond=0)
        self._ours: dict[str, list[Any]] = {}  # chat -> our messages in it, read once (`_shown_before`)
        self.reads_chat = reads_chat
        # the store was restored from a backup taken then (`bot.live.restored`), until the service has caught up
        self.restored = restored_from(store)
        self.copied = copied(store)  # found older than the last run's at start, not marked (`bot.live.runmark`)
        self.on_sent: Callable[[], None] | None = None  # something went out (`RunMarks.sent`)
        # alerts of posts older than the run: found in the chat already, and sent now (the "recovered" line;
        # kept in the store: a restart before the complete read that tells them loses none)
        self.found_before, self.sent_before = noted_older(store)
        # A flood wait pauses every send. It ends when either clock says Telegram's wait is over, so
        # a wall clock stepped back never holds delivery longer than the wait Telegram asked for.
        self.paused_until: datetime | None = None
        self._paused_mono = 0.0
        self._flood_requests: set[int] = set()
        # A flood wait on editMessage holds story updates only: Telegram counts its waits per method,
        # so a new alert must not wait for the edits of stories that grew fast.
        self._edits_until: _Due | None = None
        self._peers: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._digest_lock = asyncio.Lock()
        self._digest_tries: dict[int, int] = {}
        self._digest_due: dict[int, _Due] = {}
        self._digest_out: dict[int, set[tuple[str, int]]] = {}  # digest id -> (chat, part) sent
        # digest parts sent whose items are not recorded yet (the store could not take them then):
        # (chat, random_id, message id, [(alert id, shown deleted, item number)])
        self._digest_items: list[tuple[str, int, int | None, list[tuple[int, bool, int]]]] = []
        # (alert, chat, part) -> the back-off of a digest item's deletion (or not-deleted) notice
        self._told_due: dict[tuple[int, str, int], tuple[int, _Due]] = {}
        self._unreachable: dict[str, str] = {}  # chat -> why it cannot be written to now
        self._notices: deque[tuple[str, str, int]] = deque()  # (chat, text, random_id), oldest first
        self._unsent: dict[int, tuple[str, str, int]] = {}  # random_id -> notice not sent yet (stored)
        for item in self._load_notices():
            self._notices.append(item)
            self._unsent[item[2]] = item
        self._notice_due: dict[str, tuple[int, _Due]] = {}  # chat -> (failures, next try)
        self._notice_lock = asyncio.Lock()
        self._again = False
        self._moved: dict[str, int] = {}  # configured chat -> marked id of the supergroup it was upgraded to
        # (alert, chat, part) -> (message id, text hash) of a part Telegram took but the store could
        # not record: the next pass records it instead of sending it again
        self._unrecorded: dict[tuple[int, str, int], tuple[int | None, str]] = {}
        self._alert_due: dict[int, float] = {}  # alert id -> monotonic time its stored retry time stands for
        self._edit_due: dict[int, float] = {}  # alert id -> monotonic time its throttled story update may go
        self._digest_wanted = False  # the scheduled digest is due: the next pass collects it
        self._owners_given = False  # every alert an older release queued with no owner has one (`give_owners`)
        self._db_outage = Outage(log, "sending resumes: the database can be used again")
        self._notices_outage = Outage(log, "the held notices are saved again")
        self.on_migrated: Callable[[int], None] | None = None  # told the new id (the chat bot answers there)

    async def deliver(self) -> int:
        """Send what is due; returns how many alerts were completed. Concurrent calls fold into
        one pass (and one more, so nothing queued meanwhile waits for the next tick)."""
        if self._lock.locked():
            self._again = True
            return 0
        if self._db_outage.down and not self.store.writable_now():
            return 0  # still locked: asked without waiting (a pass would hold the loop for the busy timeout)
        done = 0
        async with self._lock:
            self._again = True
            while self._again:
                self._again = False
                try:
                    done += await self._pass()
                except sqlite3.OperationalError as e:
                    if (down := store_down(e)) is None:
                        raise
                    # what was sent is known (random_ids stored first, `_unrecorded`): nothing goes twice
                    self._db_outage.failed("sending paused (database: %s); alerts stay queued for the next pass", down)
                    break
                self._db_outage.ok()
        if done:
            self._went_out()
        return done

    def _went_out(self) -> None:
        """Alerts or a digest went out: counted (`on_sent`); a store that cannot take it now costs a log line."""
        if self.on_sent is None:
            return
        try:
            self.on_sent()
        except sqlite3.OperationalError as e:
            if (down := store_down(e)) is None:
                raise
            log.info("the sends are not counted now (database: %s); the next ones are", down)

    async def digest_due(self) -> None:
        """The scheduled digest: collected and sent by a sender pass now, or, when the store cannot
        be written now, by the first pass after (every 15 s), not at the next digest time."""
        self._digest_wanted = True
        await self.deliver()

    async def _pass(self) -> int:
        now = self.clock()
        self._hold_restored()
        if self._paused():
            return 0
        if self._notices:
            await self._flush_notices()  # notices held through a flood wait or an unreachable chat
            if self._paused():
                return 0
        if not self._digest_lock.locked():
            async with self._digest_lock:
                if self._digest_wanted:
                    await self._collect_digest(now)
                    self._digest_wanted = False
                await self._flush_digests()  # and a digest that failed earlier
                await self._tell_digest_deletions()
        done = 0
        # no retry or edit is ever set further ahead than this: a later one is a clock set back
        latest = now + timedelta(seconds=max(3600.0, self.edit_every) + 600)
        for row in self._due_alerts(now, latest):
            alert_id = _int(row["id"])
            update = row["state"] == "update_queued"
            # matched first: every check below reads the store after this await (a mute, an edit or a
            # rules change made while the thread matched is heeded) and awaits nothing until the send
            matched = await self._matched([row], now)
            if row["state"] == "queued":
                if self._no_news(row, now, matched):
                    continue  # its rule switched off or edited while it waited, or its post edited
                if self.store.muted(str(row["rule"]), _int(row["channel_id"]), iso(now) or ""):
                    # (the channel of the post it quotes now; read before this pass's sends: a post of a
                    # channel not muted may have taken it over since, and it then goes out at the next pass)
                    self.store.mute_alert(alert_id, (_int(row["channel_id"]), _int(row["message_id"])), now=iso(now) or "")
                    continue
                if self._severity(row) == "low":
                    continue  # low-severity alerts wait for the digest (send_digest)
            elif self._no_news(row, now, matched):
                self._forget(alert_id)
                continue  # a story update of a rule switched off: dropped, no edit
            try:
                if await self._deliver_one(alert_id, update, now):
                    done += 1
            except errors.FloodError as e:
                self._pause(e)  # the alert stays queued as it is: the pause holds every send
                log.warning("sending alerts: Telegram asks to wait (%s); delivery resumes then", telegram_code(e))
                return done
            except _NETWORK as e:
                log.warning("sending alert %d: network problem (%s); retrying", alert_id, type(e).__name__)
                self._postpone(alert_id, now, 15)
                return done
            except (errors.RPCError, ValueError, TypeError) as e:
                reason = telegram_code(e)
                held = _keeps_queued(e)
                delay = _retry_delay(_int(row["attempts"] or 0), chat_level=held)
                attempts = self.store.defer_alert(alert_id, iso(now + timedelta(seconds=delay)) or "", reason)
                self._alert_due[alert_id] = self.monotonic() + delay
                if held:  # the chat cannot be written to now: never given up (logged once per chat)
                    log.debug("alert %d held (%s), attempt %d, next in %d s", alert_id, reason, attempts, delay)
                    continue
                if attempts >= MAX_ATTEMPTS:
                    self.store.mark_alert(alert_id, "failed", error=reason)
                    self._forget(alert_id)
                    log.warning("sending alert %d failed for good (%s) after %d attempts", alert_id, reason, attempts)
                else:
                    log.warning("sending alert %d failed (%s), attempt %d of %d", alert_id, reason, attempts, MAX_ATTEMPTS)
        return done

    def _due_alerts(self, now: datetime, latest: datetime) -> list[dict[str, object]]:
        """The queued alerts whose retry time has come by either clock: the stored one (wall clock,
        kept across a restart; one after `latest` is from a clock since set back) or, for a retry set
        in this run, the monotonic one, so a clock stepped back holds none for as long as it went back.
        The times kept for alerts no longer queued (taken out by another program, the CLI) go."""
        wall, ahead, mono = iso(now) or "", iso(latest) or "", self.monotonic()
        # an older release (a replay, or the run before a restart) may queue alerts with no owner: the
        # first pass gives every such one its owner, the next ones those queued (`give_owners`)
        give_owners(self.store.db, () if not self._owners_given else ("queued", "update_queued"))
        self._owners_given = True
        due, queued = [], set()
        for row in self.store.queued_alerts():
            alert_id, at = _int(row["id"]), row["next_attempt_at"]
            queued.add(alert_id)
            when = self._alert_due.get(alert_id)
            if at is None or str(at) <= wall or str(at) > ahead or (when is not None and mono >= when):
                self._alert_due.pop(alert_id, None)
                due.append(row)
        for alert_id in self._alert_due.keys() - queued:
            self._forget(alert_id)
        return due

    def _postpone(self, alert_id: int, now: datetime, seconds: float) -> None:
        """Not yet, for `seconds`: stored in wall-clock time, kept in monotonic time too (`_due_alerts`)."""
        self.store.postpone_alert(alert_id, iso(now + timedelta(seconds=seconds)) or "")
        self._alert_due[alert_id] = self.monotonic() + seconds

    def _forget(self, alert_id: int) -> None:
        """The alert has nothing more to send (failed for good, its update dropped): its retry and
        throttle times go, or a run of months would hold one per alert ever given up."""
        self._alert_due.pop(alert_id, None)
        self._edit_due.pop(alert_id, None)

    async def _deliver_one(self, alert_id: int, update: bool, now: datetime) -> bool:
        alert = load_alert(self.store, alert_id, self.titles, update=update)
        if alert is None:
            self.store.mark_alert(alert_id, "failed", error="post no longer stored")
            self._forget(alert_id)
            return False
        sent = self.store.deliveries(alert_id)
        if update and sent:
            last = max(str(d["edited_at"] or d["sent_at"] or "") for d in sent.values())
            wait = self._throttled(alert_id, datetime.fromisoformat(last) if last else None, now)
            if wait > 0:  # story updates are throttled: one edit per alert per edit_every
                self._postpone(alert_id, now, wait)
                return False
        self.store.begin_delivery(alert_id)  # a story growing from here on queues another update
        parts = to_parts(render_html(alert, self.tz))
        notice = self._deleted_notice(alert)
        restored = None if notice is not None else self._shown_notice(alert)
        silent = self.silent(alert.severity, now)
        markup = self.buttons(alert_id) if self.buttons else None
        failure: Exception | None = None
        edits_held = False
        earlier = not update and datetime.fromisoformat(alert.date) < self.started
        for chat in self.chats:  # one unreachable chat must not keep the others from the alert
            try:
                wrote = await self._deliver_to(chat, alert_id, parts, sent, silent, markup, notice, restored,
                                               earlier=earlier)
            except (errors.FloodError, *_NETWORK):
                raise
            except _EditsHeld:
                edits_held = True  # what could be sent was; the edit waits for the flood wait's end
            except (errors.RPCError, ValueError, TypeError) as e:
                if _keeps_queued(e):
                    self._chat_failed(chat, e)
                    failure = failure or e
                else:  # about the message itself: this one is reported (and may fail the alert)
                    log.warning("alert %d not delivered to chat %s: %s", alert_id, chat, telegram_code(e))
                    failure = e if failure is None or _keeps_queued(failure) else failure
            else:
                if wrote:  # only a message that went through shows the chat works again
                    self._chat_works(chat)
        if failure is not None:
            raise failure  # retried later, for the chats that lack it only
        if edits_held:
            due = self._edits_until or (now, self.monotonic())
            self.store.postpone_alert(alert_id, iso(due[0]) or "")
            self._alert_due[alert_id] = due[1]
            return False
        self.store.finish_delivery(alert_id, iso(now) or "")
        return True

    async def _deliver_to(self, chat: str, alert_id: int, parts: list[tuple[str, list[Any]]],
                          sent: dict[tuple[str, int], dict[str, object]], silent: bool, markup: Any,
                          notice: str | None = None, restored: str | None = None, *, earlier: bool = False) -> bool:
        """Send (or edit) every part of one alert in one chat; done parts are skipped. True when a
        message was sent or edited. `earlier`: its post is older than this run, so a store restored
        from a backup may have lost the record of its sending: a copy found in the chat is taken as sent.
        With `notice` (the post was deleted), a chat whose message
        cannot be edited to say so gets `notice` as a reply, once. With `restored` (the post is not
        deleted), a chat told of its deletion by a reply, or by the alert where it cannot be edited
        back, gets `restored` as a reply, once (`_untell_deleted`)."""
        wrote = False
        stale = False  # a part the chat shows differs from this rendering (it cannot be edited)
        peer = await self._peer(chat)
        for k, (text, entities) in enumerate(parts):
            last = k == len(parts) - 1
            digest = _digest(text, entities)
            d = sent.get((chat, k))
            if d is None:
                rid = secrets.randbits(63)
                self.store.plan_delivery(alert_id, chat, k, rid, "")  # committed before the first attempt
                d = {"random_id": rid, "message_id": None, "sent_at": None, "text_hash": ""}
                found = await self._shown_before(peer, chat, text, entities) if earlier else None
                if found is not None:
                    log.warning("alert %d part %d is in chat %s already (message %d; the store was restored from an "
                                "older copy?): not sent again", alert_id, k + 1, chat, found.id)
                    self._unrecorded[(alert_id, chat, k)] = (int(found.id), _digest(found.message or "", found.entities or []))
                    self._note_older(found=alert_id)
            if d["sent_at"] is None:
                key = (alert_id, chat, k)
                if key not in self._unrecorded:  # else sent by a pass whose store could not record it
                    # what the chat shows: this text, or the one an earlier attempt took there (the
                    # story may have grown since), which the edit below brings up to date
                    self._unrecorded[key] = await self._send(
                        peer, text, entities, _int(d["random_id"]), silent,
                        markup if last else None, what=f"alert {alert_id} part {k + 1} in chat {chat}",
                        reply_to=_topic(chat))
                    if earlier:
                        self._note_older(sent=alert_id)
                mid, sent_hash = self._unrecorded[key]
                self.store.mark_delivered(alert_id, chat, k, mid, sent_hash)
                del self._unrecorded[key]
                wrote = True
                d = {**d, "message_id": mid, "text_hash": sent_hash}
            shown = d["text_hash"] == digest
            if not shown and d["message_id"] is not None:  # the story grew (or the post was deleted) since it was sent
                if self._edits_held():
                    raise _EditsHeld
                shown = await self._edit(peer, _int(d["message_id"]), text, entities, markup if last else None)
                stale = stale or not shown
                if not shown and notice is not None and DELETED_MARK in text:
                    await self._tell_deleted(peer, chat, alert_id, _int(d["message_id"]), notice, sent, silent)
                self.store.mark_delivered(alert_id, chat, k, None, digest, edited=True)
                wrote = True
            elif not shown and notice is not None and DELETED_MARK in text:  # sent, but its id is unknown: no edit
                await self._tell_deleted(peer, chat, alert_id, None, notice, sent, silent)
            elif not shown:
                stale = True
            if shown and DELETED_MARK in text and sent.get((chat, DELETED_PART)) is None:
                self.store.plan_delivery(alert_id, chat, DELETED_PART, 0, "")  # the alert itself says so
                self.store.mark_delivered(alert_id, chat, DELETED_PART, None, "in the alert")
        if restored is not None:
            await self._untell_deleted(peer, chat, alert_id, restored, sent, stale)
        return wrote
