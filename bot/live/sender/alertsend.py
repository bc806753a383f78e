"""The queued alerts to every chat, exactly once: each part planned under its random_id before the
first attempt, sent or (for a story update) edited in, and retried per chat; a chat that fails waits."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telethon import errors

from ...alert.html import render_html, to_parts
from ...alert.outbox import DELETED_MARK, Alert, load_alert
from ...store.db import iso
from ...store.deliveries import DELETED_PART
from ...store.schema import give_owners
from ..codes import telegram_code
from .floodwait import FloodWaits
from .peers import Peers, _topic
from .recheck import Recheck
from .rows import _int
from .sendfaults import _NETWORK, MAX_ATTEMPTS, _keeps_queued, _retry_delay
from .sendonce import SendOnce, _digest
from .storyedits import StoryEdits, _EditsHeld

__all__ = ["AlertSend"]

log = logging.getLogger("bot.live.sender")  # the parts of Sender log under one name, as one job


class AlertSend(StoryEdits, Recheck, SendOnce, Peers, FloodWaits):
    """`Sender`'s `_send_alerts` of the outbox (a mixin: it works on the state `Sender.__init__` sets)."""

    chats: list[str]
    titles: dict[str, str]
    tz: ZoneInfo | None
    silent: Callable[[str, datetime], bool]
    buttons: Callable[[int], Any] | None
    started: datetime
    _alert_due: dict[int, float]
    _owners_given: bool
    _unrecorded: dict[tuple[int, str, int], tuple[int | None, str]]

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Sender` has them all
        def _deleted_notice(self, alert: Alert) -> str | None: ...
        def _shown_notice(self, alert: Alert) -> str: ...
        async def _tell_deleted(self, peer: Any, chat: str, alert_id: int, reply_to: int | None, notice: str,
                                sent: dict[tuple[str, int], dict[str, object]], silent: bool,
                                why: str = "cannot be edited", part: int = DELETED_PART) -> None: ...
        async def _untell_deleted(self, peer: Any, chat: str, alert_id: int, restored: str,
                                  sent: dict[tuple[str, int], dict[str, object]], stale: bool) -> None: ...
        async def _shown_before(self, peer: Any, chat: str, text: str, entities: Sequence[Any]) -> Any: ...
        def _note_older(self, *, found: int | None = None, sent: int | None = None) -> None: ...

    async def _send_alerts(self, now: datetime) -> int:
        """Send (or edit in) each queued alert and story update due, as its rule and mutes stand now;
        returns how many were completed. A flood wait or a network problem ends the pass."""
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
        back, gets `restored` as a reply, once (`DeletionNotices._untell_deleted`)."""
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
