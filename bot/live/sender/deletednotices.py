"""Telling a chat of a deleted post: by editing the alert, or by one reply (to the alert, or to the
digest message that carried it); and, when Telegram shows the post again, one reply saying so."""

from __future__ import annotations

import html
import logging
import secrets
from typing import Any
from zoneinfo import ZoneInfo

from telethon import errors, types

from ...alert.html import channel_text, to_parts
from ...alert.outbox import DELETED_MARK, Alert, deleted_line, load_alert, short_time
from ...config import chat_topic
from ...store.deliveries import DELETED_PART, DIGEST_ITEM, RESTORED_PART, digest_notices_due, forget_told
from ..codes import telegram_code
from .floodwait import FloodWaits
from .peers import Peers, _topic
from .rows import _int
from .sendfaults import _NETWORK, MAX_ATTEMPTS, _keeps_queued, _retry_delay
from .sendonce import SendOnce

__all__ = ["RESTORED_MARK", "DeletionNotices"]

log = logging.getLogger("bot.live.sender")  # the parts of Sender log under one name, as one job


RESTORED_MARK = "↩️ not deleted after all"
_NOTICE_MARK = {DELETED_PART: DELETED_MARK, RESTORED_PART: RESTORED_MARK}  # how each kind of notice starts
# Telegram's answers when the message replied to was deleted meanwhile (the notice then goes without reply).
_REPLY_GONE = frozenset({"REPLY_MESSAGE_ID_INVALID", "REPLY_TO_INVALID", "MESSAGE_ID_INVALID"})


class DeletionNotices(SendOnce, Peers, FloodWaits):
    """`Sender`'s `_tell_deleted` and `_untell_deleted` of an alert, `_tell_digest_deletions` of a
    digest's items (a mixin: it works on the state `Sender.__init__` sets)."""

    chats: list[str]
    titles: dict[str, str]
    tz: ZoneInfo | None

    def _shown_notice(self, alert: Alert) -> str:
        """«↩️ not deleted after all: SHOT · Desertion» (HTML), the channel linked to the post: the
        one-line reply to an alert whose post a deletion notice called deleted."""
        return (f'{RESTORED_MARK}: <a href="{html.escape(alert.link, quote=True)}">{channel_text(alert.channel_title)}</a>'
                f" · {html.escape(alert.title)}")

    def _deleted_notice(self, alert: Alert) -> str | None:
        """The one-line reply telling a chat whose alert cannot be edited that the channel deleted
        the post (HTML); None when it is not deleted."""
        line = deleted_line(alert, self.tz)
        if not line:
            return None
        return (f'{html.escape(line)}: <a href="{html.escape(alert.link, quote=True)}">{channel_text(alert.channel_title)}</a>'
                f" · {html.escape(alert.title)}")

    async def _untell_deleted(self, peer: Any, chat: str, alert_id: int, restored: str,
                              sent: dict[tuple[str, int], dict[str, object]], stale: bool) -> None:
        """The alert's post is not deleted (Telegram showed it again) but the chat was told it was:
        by a reply, or by the alert itself where it could not be edited back (`stale`), one silent
        reply to the alert message says it is not deleted after all (`_tell_deleted` with
        RESTORED_PART: stored before it is sent, then both records go). An alert edited back says
        so itself: its record goes. Either way a later deletion is news again and is told again.
        A deletion notice given up on (refused) told nothing and is followed by nothing."""
        told = sent.get((chat, DELETED_PART))
        if told is None or told["sent_at"] is None or str(told["text_hash"] or "").startswith("refused"):
            return
        if told["text_hash"] == "in the alert" and not stale:
            self._forget_told(alert_id, chat, sent)
            return
        first = sent.get((chat, 0))
        reply_to = None if first is None or first["message_id"] is None else _int(first["message_id"])
        await self._tell_deleted(peer, chat, alert_id, reply_to, restored, sent, silent=True,
                                 why="was told its post was deleted", part=RESTORED_PART)

    async def _tell_deleted(self, peer: Any, chat: str, alert_id: int, reply_to: int | None, notice: str,
                            sent: dict[tuple[str, int], dict[str, object]], silent: bool,
                            why: str = "cannot be edited", part: int = DELETED_PART) -> None:
        """Reply to the alert message `reply_to` (None: unknown, no reply) that its post was deleted,
        once per chat: told before (by the alert or a notice), nothing is sent; the random_id is
        stored before the first attempt, so a retry or a restart never shows it twice. With
        `part` RESTORED_PART, the reply says the post is not deleted after all (an alert's or a
        digest item's); once sent, both rows go (`_forget_told`)."""
        d = sent.get((chat, part))
        if d is not None and d["sent_at"] is not None:
            return
        if d is None:
            rid = secrets.randbits(63)
            self.store.plan_delivery(alert_id, chat, part, rid, "")  # committed before the first attempt
            sent[(chat, part)] = {"random_id": rid, "message_id": None, "sent_at": None, "text_hash": ""}
        else:
            rid = _int(d["random_id"])
        text, entities = to_parts(notice)[0]
        topic = chat_topic(chat)[1]
        where = (types.InputReplyToMessage(reply_to_msg_id=reply_to, top_msg_id=topic if topic and topic != 1 else None)
                 if reply_to is not None else _topic(chat))
        kind = "deletion" if part == DELETED_PART else "not-deleted"
        what = f"{kind} notice of alert {alert_id} in chat {chat}"
        mark = _NOTICE_MARK[part]
        try:
            mid, digest = await self._send(peer, text, entities, rid, silent, what=what, reply_to=where, replying=reply_to,
                                           mark=mark)
        except errors.RPCError as e:
            if reply_to is None or telegram_code(e) not in _REPLY_GONE:
                raise
            # the alert message is gone from the chat: the notice stands alone (the failed send used no random_id)
            mid, digest = await self._send(peer, text, entities, rid, silent, what=what, reply_to=_topic(chat), mark=mark)
        if part == RESTORED_PART:
            self._forget_told(alert_id, chat, sent)
            log.info("alert %d in chat %s %s: a reply says its post is not deleted after all", alert_id, chat, why)
            return
        self.store.mark_delivered(alert_id, chat, DELETED_PART, mid, digest)
        sent[(chat, DELETED_PART)] = {**sent[(chat, DELETED_PART)], "sent_at": "now"}
        log.info("alert %d in chat %s %s: a reply says its post was deleted", alert_id, chat, why)

    def _forget_told(self, alert_id: int, chat: str, sent: dict[tuple[str, int], dict[str, object]]) -> None:
        """The chat knows the alert's post stands (`deliveries.forget_told`): a later deletion is told again."""
        forget_told(self.store, alert_id, chat)
        sent.pop((chat, DELETED_PART), None)
        sent.pop((chat, RESTORED_PART), None)

    async def _tell_digest_deletions(self) -> None:
        """A post of an alert that went out in a digest was deleted: each chat that had the digest
        gets one reply to the digest message that carried the item, naming it (a digest is not
        edited: it is many stories, read once; its low-priority items ring no one, so the notice
        is silent too). The notice's random_id is stored before the first attempt (`_tell_deleted`),
        so a crash or a retry never shows it twice; a flood wait pauses it with every send, a chat
        that cannot be written to is waited for, and a notice Telegram refuses as a message is
        given up after MAX_ATTEMPTS (one log line).

        When Telegram then shows the post (the deletion signal was wrong), a chat that was told of
        the deletion (by a reply, or by the digest itself) gets one more reply, the same way, saying
        it is not deleted after all; a later deletion is then told again."""
        if self._paused():
            return
        deleted, shown = digest_notices_due(self.store)
        for row, part in [*((r, DELETED_PART) for r in deleted), *((r, RESTORED_PART) for r in shown)]:
            alert_id, chat = _int(row["alert_id"]), str(row["chat"])
            key = (alert_id, chat, part)
            due = self._told_due.get(key)
            if chat not in self.chats or (due is not None and self._waiting(due[1])):
                continue
            if self._paused():
                return
            alert = load_alert(self.store, alert_id, self.titles)
            if alert is None or bool(alert.deleted_at) != (part == DELETED_PART):
                continue
            sent: dict[tuple[str, int], dict[str, object]] = {}
            if row["random_id"] is not None:  # planned by an earlier attempt (or run): the same random_id
                sent[(chat, part)] = {"random_id": row["random_id"], "message_id": None, "sent_at": None, "text_hash": ""}
            mid = None if row["message_id"] is None else _int(row["message_id"])
            notice = (self._digest_deleted_notice if part == DELETED_PART else self._digest_shown_notice)(
                alert, str(row["digest_at"]), _item_number(row["item"]))
            try:
                peer = await self._peer(chat)
                await self._tell_deleted(peer, chat, alert_id, mid, notice, sent, silent=True, why="went out in a digest",
                                         part=part)
            except errors.FloodError as e:
                self._pause(e)
                log.warning("deletion notices held: Telegram asks to wait (%s); sent when the wait ends", telegram_code(e))
                return
            except _NETWORK as e:
                log.warning("deletion notice of alert %d in chat %s not sent (network problem: %s); retried on the next "
                            "pass", alert_id, chat, type(e).__name__)
                return
            except (errors.RPCError, ValueError, TypeError) as e:
                held = _keeps_queued(e)
                if held:
                    self._chat_failed(chat, e)
                failures = self._told_due.get(key, (0,))[0] + 1
                kind = "deletion" if part == DELETED_PART else "not-deleted"
                if not held and failures >= MAX_ATTEMPTS:
                    self._told_due.pop(key, None)
                    self.store.mark_delivered(alert_id, chat, part, None, f"refused: {telegram_code(e)}")
                    log.warning("%s notice of alert %d in chat %s not sent (%s) after %d attempts: given up",
                                kind, alert_id, chat, telegram_code(e), failures)
                    continue
                delay = _retry_delay(failures - 1, chat_level=held)
                self._told_due[key] = (failures, self._after(delay))
                log.warning("%s notice of alert %d in chat %s not sent (%s), attempt %d; retried in %d s",
                            kind, alert_id, chat, telegram_code(e), failures, delay)
            else:
                self._told_due.pop(key, None)
                self._chat_works(chat)

    def _digest_deleted_notice(self, alert: Alert, digest_at: str, number: int | None = None) -> str:
        """«🗑 deleted by the channel at 14:05: SHOT post from the digest of 13:00 (item 3) · Weather»
        (HTML), the channel linked to the post: which item of the digest is gone (its number unknown
        for a digest sent before items were numbered)."""
        return (f'{html.escape(deleted_line(alert, self.tz))}: <a href="{html.escape(alert.link, quote=True)}">'
                f"{channel_text(alert.channel_title)}</a> post from the digest of "
                f"{html.escape(short_time(digest_at, self.tz, alert.date))}{_item_text(number)} · {html.escape(alert.title)}")

    def _digest_shown_notice(self, alert: Alert, digest_at: str, number: int | None = None) -> str:
        """«↩️ not deleted after all: SHOT post from the digest of 13:00 (item 3) · Weather» (HTML), the
        channel linked to the post: the item a deletion notice (or the digest) called deleted stands."""
        return (f'{RESTORED_MARK}: <a href="{html.escape(alert.link, quote=True)}">{channel_text(alert.channel_title)}</a> '
                f"post from the digest of {html.escape(short_time(digest_at, self.tz, alert.date))}{_item_text(number)} · "
                f"{html.escape(alert.title)}")


def _item_number(text_hash: object) -> int | None:
    """The item number a DIGEST_PART row keeps (`DIGEST_ITEM`); None for a row written before."""
    text = str(text_hash or "")
    return int(text[len(DIGEST_ITEM):]) if text.startswith(DIGEST_ITEM) and text[len(DIGEST_ITEM):].isdigit() else None


def _item_text(number: int | None) -> str:
    return f" (item {number})" if number is not None else ""
