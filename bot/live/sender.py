"""The sender: delivers the outbox to the analysts' chats exactly once, honouring flood waits.

Each message part gets a random_id that is stored before the first attempt; Telegram refuses a
second message with the same random_id (RANDOM_ID_DUPLICATE), so a crash between sending and
marking sent never shows the analyst a second copy. Story updates edit the sent message.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from telethon import TelegramClient, errors, functions, types

from ..alert.html import render_html, to_parts
from ..alert.outbox import load_alert
from ..store.db import Store, iso

__all__ = ["Sender", "MAX_ATTEMPTS", "render_digest"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
_NETWORK = (ConnectionError, OSError, asyncio.TimeoutError)


def _digest(text: str, entities: Sequence[Any]) -> str:
    raw = text + "|" + ";".join(f"{type(e).__name__}:{e.offset}:{e.length}" for e in entities)
    return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _reason(e: Exception) -> str:
    return (e.message or type(e).__name__) if isinstance(e, errors.RPCError) else str(e)


def _sent_id(result: Any, random_id: int) -> int | None:
    """The id of the message a send created, from whichever shape of answer Telegram gave."""
    if isinstance(result, types.UpdateShortSentMessage):
        return int(result.id)
    found = None
    for u in getattr(result, "updates", None) or ():
        if isinstance(u, types.UpdateMessageID) and u.random_id == random_id:
            return int(u.id)
        if isinstance(u, (types.UpdateNewMessage, types.UpdateNewChannelMessage)):
            found = int(u.message.id)
    return found


class Sender:
    """Sends queued alerts (and edits sent ones when their story grows) through one client."""

    def __init__(self, client: TelegramClient, store: Store, chats: Sequence[str | int], *,
                 titles: dict[str, str] | None = None, tz: ZoneInfo | None = None, edit_every: float = 60.0,
                 silent: Callable[[str, datetime], bool] | None = None,
                 buttons: Callable[[int], Any] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.client = client
        self.store = store
        self.chats = [str(c) for c in chats]
        self.titles = titles or {}
        self.tz = tz
        self.edit_every = edit_every
        self.silent = silent or (lambda severity, now: False)
        self.buttons = buttons  # reply markup under an alert (triage buttons; bots only)
        self.clock = clock
        self.paused_until: datetime | None = None
        self._peers: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._digest_lock = asyncio.Lock()
        self._digest_tries: dict[int, int] = {}
        self._again = False

    async def deliver(self) -> int:
        """Send what is due; returns how many alerts were completed. Concurrent calls fold into
        one pass (and one more, so nothing queued meanwhile waits for the next tick)."""
        if self._lock.locked():
            self._again = True
            return 0
        done = 0
        async with self._lock:
            self._again = True
            while self._again:
                self._again = False
                done += await self._pass()
        return done

    async def _pass(self) -> int:
        now = self.clock()
        if self.paused_until and now < self.paused_until:
            return 0
        if not self._digest_lock.locked():
            async with self._digest_lock:
                await self._flush_digests()  # a digest that failed earlier
        done = 0
        for row in self.store.queued_alerts(now=iso(now)):
            alert_id = int(row["id"])  # type: ignore[arg-type]
            update = row["state"] == "update_queued"
            if row["state"] == "queued":
                if self.store.muted(str(row["rule"]), int(row["channel_id"]), iso(now) or ""):  # type: ignore[arg-type]
                    self.store.mark_alert(alert_id, "muted")
                    continue
                if row["severity"] == "low":
                    continue  # low-severity alerts wait for the digest (send_digest)
            try:
                if await self._deliver_one(alert_id, update, now):
                    done += 1
            except errors.FloodWaitError as e:
                self.paused_until = now + timedelta(seconds=e.seconds)
                self.store.postpone_alert(alert_id, iso(self.paused_until) or "")
                log.warning("sending alerts: Telegram asks to wait %d s; delivery resumes then", e.seconds)
                return done
            except _NETWORK as e:
                log.warning("sending alert %d: network problem (%s); retrying", alert_id, type(e).__name__)
                self.store.postpone_alert(alert_id, iso(now + timedelta(seconds=15)) or "")
                return done
            except (errors.RPCError, ValueError, TypeError) as e:
                reason = _reason(e)
                attempts = self.store.defer_alert(alert_id, iso(now + timedelta(seconds=min(3600, 15 * 2 ** int(row["attempts"] or 0)))) or "", reason)  # type: ignore[arg-type]
                if attempts >= MAX_ATTEMPTS:
                    self.store.mark_alert(alert_id, "failed", error=reason)
                log.warning("sending alert %d failed (%s), attempt %d of %d", alert_id, reason, attempts, MAX_ATTEMPTS)
        return done

    async def _deliver_one(self, alert_id: int, update: bool, now: datetime) -> bool:
        alert = load_alert(self.store, alert_id, self.titles, update=update)
        if alert is None:
            self.store.mark_alert(alert_id, "failed", error="post no longer stored")
            return False
        sent = self.store.deliveries(alert_id)
        if update and sent:
            last = max(str(d["edited_at"] or d["sent_at"] or "") for d in sent.values())
            due = datetime.fromisoformat(last) + timedelta(seconds=self.edit_every) if last else now
            if due > now:  # story updates are throttled: one edit per alert per edit_every
                self.store.postpone_alert(alert_id, iso(due) or "")
                return False
        self.store.begin_delivery(alert_id)  # a story growing from here on queues another update
        parts = to_parts(render_html(alert, self.tz))
        silent = self.silent(alert.severity, now)
        markup = self.buttons(alert_id) if self.buttons else None
        failure: Exception | None = None
        for chat in self.chats:  # one unreachable chat must not keep the others from the alert
            try:
                await self._deliver_to(chat, alert_id, parts, sent, silent, markup)
            except (errors.FloodWaitError, *_NETWORK):
                raise
            except (errors.RPCError, ValueError, TypeError) as e:
                failure = failure or e
                log.warning("alert %d not delivered to chat %s: %s", alert_id, chat, _reason(e))
        if failure is not None:
            raise failure  # retried later, for the chats that lack it only
        self.store.finish_delivery(alert_id, iso(now) or "")
        return True

    async def _deliver_to(self, chat: str, alert_id: int, parts: list[tuple[str, list[Any]]],
                          sent: dict[tuple[str, int], dict[str, object]], silent: bool, markup: Any) -> None:
        """Send (or edit) every part of one alert in one chat; done parts are skipped."""
        peer = await self._peer(chat)
        for k, (text, entities) in enumerate(parts):
            last = k == len(parts) - 1
            digest = _digest(text, entities)
            d = sent.get((chat, k))
            if d is None:
                rid = secrets.randbits(63)
                self.store.plan_delivery(alert_id, chat, k, rid, "")  # committed before the first attempt
                d = {"random_id": rid, "message_id": None, "sent_at": None, "text_hash": ""}
            if d["sent_at"] is None:
                mid = await self._send(peer, text, entities, int(d["random_id"]), silent,  # type: ignore[arg-type]
                                       markup if last else None)
                self.store.mark_delivered(alert_id, chat, k, mid, digest)
            elif d["text_hash"] != digest and d["message_id"] is not None:
                await self._edit(peer, int(d["message_id"]), text, entities, markup if last else None)  # type: ignore[arg-type]
                self.store.mark_delivered(alert_id, chat, k, None, digest, edited=True)

    async def _send(self, peer: Any, text: str, entities: list[Any], random_id: int, silent: bool,
                    markup: Any = None) -> int | None:
        request = functions.messages.SendMessageRequest(
            peer=peer, message=text, entities=entities or None, no_webpage=True, silent=silent, random_id=random_id,
            reply_markup=markup)
        try:
            result = await self.client(request)
        except errors.RandomIdDuplicateError:
            log.info("alert part already delivered before a restart (random_id known to Telegram)")
            return None
        return _sent_id(result, random_id)

    async def _edit(self, peer: Any, message_id: int, text: str, entities: list[Any], markup: Any = None) -> None:
        try:
            await self.client(functions.messages.EditMessageRequest(
                peer=peer, id=message_id, message=text, entities=entities or None, no_webpage=True, reply_markup=markup))
        except errors.MessageNotModifiedError:
            pass
        except (errors.MessageIdInvalidError, errors.MessageEditTimeExpiredError) as e:
            log.info("alert message %d cannot be edited (%s): keeping it as it is", message_id, e.message)

    async def _peer(self, chat: str) -> Any:
        """The input peer of a configured chat ("me", @username, or a numeric id), looked up once."""
        if chat not in self._peers:
            if chat == "me":
                self._peers[chat] = types.InputPeerSelf()
            elif chat.lstrip("-").isdigit():
                n = int(chat)
                try:
                    self._peers[chat] = await self.client.get_input_entity(n)
                except ValueError:
                    if n <= 0:
                        raise ValueError(f"chat {n} is unknown to this account: add it to the chat and post there once") from None
                    self._peers[chat] = types.InputPeerUser(n, 0)  # a bot may write to a user who started it
            else:
                self._peers[chat] = await self.client.get_input_entity(chat)
        return self._peers[chat]

    async def notify(self, text: str) -> None:
        """A one-line notice to every alert chat (recovered posts, a channel gone); best effort:
        a failure is logged, never raised into the caller."""
        for chat in self.chats:
            try:
                await self.client(functions.messages.SendMessageRequest(
                    peer=await self._peer(chat), message=text, no_webpage=True, random_id=secrets.randbits(63)))
            except (errors.RPCError, *_NETWORK, ValueError) as e:
                log.warning("notice to %s not sent: %s", chat, type(e).__name__)

    async def send_digest(self, now: datetime | None = None) -> int:
        """Send the low-severity alerts waiting since the last digest as one message (stories with
        counts and links); returns how many alerts it carried. Exactly once: the digest and its
        random_id are stored, with the alerts marked, before the first attempt."""
        async with self._digest_lock:  # the schedule and /digest may ask at once
            return await self._send_digests(now or self.clock())

    async def _send_digests(self, now: datetime) -> int:
        self._collect_digest(now)
        return await self._flush_digests()

    async def _flush_digests(self) -> int:
        """Send the stored digests not sent yet (oldest first); a failure leaves them for the
        sender's next pass, and a digest that keeps failing is given up after MAX_ATTEMPTS."""
        sent = 0
        for row in list(self.store.db.query("SELECT * FROM digests WHERE sent_at IS NULL ORDER BY id")):
            ids = json.loads(str(row["alert_ids"]))
            markup = render_digest(self.store, ids, self.titles, self.tz)
            try:
                for chat in self.chats:
                    peer = await self._peer(chat)
                    for k, (text, entities) in enumerate(to_parts(markup)):
                        rid = (int(row["random_id"]) + k * 7919 + self.chats.index(chat)) & (2**63 - 1)  # type: ignore[arg-type]
                        await self._send(peer, text, entities, rid, silent=True)
            except (errors.RPCError, ValueError, TypeError, *_NETWORK) as e:
                tries = self._digest_tries[int(row["id"])] = self._digest_tries.get(int(row["id"]), 0) + 1  # type: ignore[arg-type]
                log.warning("digest %s not sent (%s), attempt %d", row["id"], _reason(e), tries)
                if tries < MAX_ATTEMPTS:
                    break
            self.store.db.execute("UPDATE digests SET sent_at = ? WHERE id = ?", [iso(self.clock()), row["id"]])
            sent += len(ids)
        return sent

    def _collect_digest(self, now: datetime) -> int:
        with self.store.transaction():
            rows = [r for r in self.store.queued_alerts() if r["severity"] == "low" and r["state"] == "queued"]
            live = [r for r in rows if not self.store.muted(str(r["rule"]), int(r["channel_id"]), iso(now) or "")]  # type: ignore[arg-type]
            for r in rows:
                self.store.mark_alert(int(r["id"]), "digested" if r in live else "muted", sent_at=iso(now))  # type: ignore[arg-type]
            if live:
                self.store.db.execute("INSERT INTO digests (created_at, alert_ids, random_id) VALUES (?,?,?)",
                                      [iso(now), json.dumps([r["id"] for r in live]), secrets.randbits(62)])
        return len(live)


def render_digest(store: Store, alert_ids: list[int], titles: dict[str, str], tz: ZoneInfo | None) -> str:
    """The digest as HTML: per rule, each story once with its size, channel, time and link."""
    by_rule: dict[str, list[Any]] = {}
    for alert_id in alert_ids:
        alert = load_alert(store, alert_id, titles)
        if alert is not None:
            by_rule.setdefault(alert.rule, []).append(alert)
    total = sum(len(v) for v in by_rule.values())
    lines = [f"📋 <b>Digest</b>: {total} low-priority stor{'y' if total == 1 else 'ies'}"]
    for rule, alerts in sorted(by_rule.items()):
        lines.append(f"\n<b>{html.escape(alerts[0].title)}</b> ({len(alerts)})")
        for a in alerts:
            size = f" · {a.story_size} posts" if a.story_size > 1 else ""
            when = datetime.fromisoformat(a.date).astimezone(tz or timezone.utc).strftime("%d.%m %H:%M")
            head = html.escape(" ".join(a.text.split())[:90])
            lines.append(f'• {when} <a href="{html.escape(a.link, quote=True)}">{html.escape(a.channel_title)}</a>{size}: {head}')
    return "\n".join(lines)
