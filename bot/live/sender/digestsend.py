"""The digest sent: the low-severity alerts collected under a stored plan and random_id, sent to each
chat exactly once (oldest first there), retried and, when refused for good, given back or counted sent."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telethon import errors, utils

from ...chat.telegram import digest_buttons
from ...config import chat_topic
from ...store.db import iso
from ...store.deliveries import (digest_items_shown, give_back_digest, mark_digest_sent, new_digest, record_digest_items,
                                 shown_in_every_chat, unsent_digests)
from ..codes import telegram_code
from ..digestplan import Plan, PlannedPart, forget_plan, load_plan, save_plan
from .digesttext import _digest_alerts, _digest_parts
from .floodwait import FloodWaits
from .peers import Peers, _topic
from .recheck import Recheck
from .rows import _int
from .sendfaults import _NETWORK, MAX_ATTEMPTS, _keeps_queued, _retry_delay
from .sendonce import SendOnce

__all__ = ["Digests"]

log = logging.getLogger("bot.live.sender")  # the parts of Sender log under one name, as one job


def _chat_identity(peer: Any, chat: str) -> str:
    """What stays the same for a chat whatever the config's order or spelling of it: its peer id
    (the account itself for Saved Messages) and forum topic."""
    try:
        who = str(utils.get_peer_id(peer))
    except (TypeError, ValueError):  # InputPeerSelf: no id in it
        who = "self"
    topic = chat_topic(chat)[1]
    return f"{who}/{topic or ''}"


def _digest_rid(base: int, peer: Any, chat: str, part: int) -> int:
    """The random_id of one part of a digest in one chat: from the digest's stored random_id and
    the chat's identity, never its position in the config (reordered or removed chats between a
    crash and the restart must not hand chat B the random_id chat A's copy used)."""
    raw = f"{base}:{_chat_identity(peer, chat)}:{part}".encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big") & (2**63 - 1) or 1


class Digests(Recheck, SendOnce, Peers, FloodWaits):
    """`Sender`'s `send_digest` and the digests it holds until every chat has them (a mixin: it works
    on the state `Sender.__init__` sets)."""

    chats: list[str]
    titles: dict[str, str]
    tz: ZoneInfo | None
    buttons: Callable[[int], Any] | None
    _digest_lock: asyncio.Lock
    _digest_wanted: bool
    _digest_tries: dict[int, int]
    _digest_out: dict[int, set[tuple[str, int]]]
    _digest_items: list[tuple[str, int, int | None, list[tuple[int, bool, int]]]]

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Sender` has them all
        def _went_out(self) -> None: ...
        def _hold_restored(self) -> None: ...
        async def _digested_before(self, now: datetime) -> None: ...

    async def send_digest(self, now: datetime | None = None) -> int:
        """Send the low-severity alerts waiting since the last digest as one message (stories with
        counts and links); returns how many alerts it carried. Exactly once: the digest and its
        random_id are stored, with the alerts marked, before the first attempt."""
        async with self._digest_lock:  # the schedule and /digest may ask at once
            return await self._send_digests(now or self.clock())

    async def _send_digests(self, now: datetime) -> int:
        await self._collect_digest(now)
        self._digest_wanted = False
        return await self._flush_digests()

    async def _collect_digest(self, now: datetime) -> int:
        self._hold_restored()
        await self._digested_before(now)
        low = {r.name for r in self.rules().rules if r.severity == "low"} if self.rules is not None else set()
        # their posts matched again before the transaction, which holds no await (a rules change meanwhile: here)
        matched = await self._matched([r for r in self.store.queued_alerts() if r["state"] == "queued" and r["rule"] in low], now)
        with self.store.transaction():  # (one queued since, its post not matched yet, waits for the next digest)
            rows = [r for r in self.store.queued_alerts() if r["state"] == "queued" and self._severity(r) == "low"
                    and (matched is None or _int(r["id"]) in matched[1] or not self._to_match([r], matched[0]))
                    and not self._no_news(r, now, matched)]
            live = [r for r in rows if not self.store.muted(str(r["rule"]), _int(r["channel_id"]), iso(now) or "")]
            for r in rows:
                self.store.mark_alert(_int(r["id"]), "digested" if r in live else "muted", sent_at=iso(now))
            if live:  # its messages are fixed now, with it (`digestplan`)
                ids, base = [_int(r["id"]) for r in live], secrets.randbits(62)
                did = new_digest(self.store, iso(now) or "", ids, base)
                save_plan(self.store, did, self._plan(ids, base))
        return len(live)

    async def _flush_digests(self) -> int:
        """Send the stored digests not sent yet, each chat its digests oldest first: a chat an older
        digest still waits for (unreachable, backing off) gets the later ones after it, once it works,
        while the chats that work get them now. A digest is marked sent only once every chat has it; a
        flood wait pauses all sending, other failures back off like alerts. A digest Telegram refuses
        as a message is dropped after MAX_ATTEMPTS and its alerts go back to the queue for the next
        digest (never lost)."""
        sent = 0
        self._record_digest_items()  # parts sent while the store could not record them
        behind: set[str] = set()  # chats an older digest has yet to reach: a newer one waits behind it there
        for did, ids in unsent_digests(self.store):
            if self._paused():
                break
            plan = self._digest_plan(did, ids)
            out = self._digest_sent(did, plan)
            due = self._digest_due.get(did)
            waiting = due is not None and self._waiting(due)
            failure: Exception | None = None
            missing: set[str] = set()  # the chats that do not have it after this pass
            try:
                for chat in self.chats:
                    if all((chat, k) in out for k in range(len(plan.parts))):
                        continue
                    if waiting or chat in behind:
                        missing.add(chat)
                        continue
                    try:
                        await self._digest_to(chat, did, plan, out)
                    except (errors.FloodError, *_NETWORK):
                        raise
                    except (errors.RPCError, ValueError, TypeError) as e:
                        missing.add(chat)
                        if _keeps_queued(e):
                            self._chat_failed(chat, e)
                        if failure is None or (_keeps_queued(failure) and not _keeps_queued(e)):
                            failure = e
                    else:
                        self._chat_works(chat)
            except errors.FloodError as e:
                self._pause(e)
                log.warning("digest %d held: Telegram asks to wait (%s); sent when the wait ends", did, telegram_code(e))
                break
            except _NETWORK as e:
                log.warning("digest %d not sent (network problem: %s); retried on the next pass", did, type(e).__name__)
                break
            if not missing:
                with self.store.transaction():
                    mark_digest_sent(self.store, did, iso(self.clock()) or "")
                    forget_plan(self.store, did)
                self._digest_out.pop(did, None)
                self._digest_tries.pop(did, None)
                self._digest_due.pop(did, None)
                sent += len(ids)
                continue
            if failure is None:  # its own retry, or an older digest, is waited for in the chats it has yet to reach
                behind |= missing
                continue
            held = _keeps_queued(failure)
            tries = self._digest_tries[did] = self._digest_tries.get(did, 0) + 1
            if not held and tries >= MAX_ATTEMPTS:
                self._give_up_digest(did, ids, telegram_code(failure), tries)
                continue  # it counts as sent (or is given back): the newer ones go on
            behind |= missing
            delay = _retry_delay(tries - 1, chat_level=held)
            self._digest_due[did] = self._after(delay)
            log.warning("digest %d not sent (%s), attempt %d; retried in %d s", did, telegram_code(failure), tries, delay)
        if sent:
            self._went_out()
        return sent

    def _give_up_digest(self, did: int, ids: list[int], reason: str, tries: int) -> None:
        """Telegram refused a digest as a message MAX_ATTEMPTS times. When some chat has (part of)
        it, it counts as sent: sending its stories again would show them twice there. Else its
        alerts go back to the queue for the next digest, once: an alert given back before fails."""
        reached = sorted({chat for chat, _ in self._digest_out.get(did, set())})
        with self.store.transaction():  # first: a store that cannot take it now leaves the digest as it was
            forget_plan(self.store, did)
            if reached:
                mark_digest_sent(self.store, did, iso(self.clock()) or "")
            else:
                give_back_digest(self.store, did, ids, f"digest refused: {reason}")
        self._digest_out.pop(did, None)
        self._digest_tries.pop(did, None)
        self._digest_due.pop(did, None)
        if reached:
            log.warning("digest %d refused (%s) after %d attempts; it reached %s only, and is not sent again",
                        did, reason, tries, ", ".join(reached))
        else:
            log.warning("digest %d not sent (%s) after %d attempts: its %d alerts go back to the queue for the "
                        "next digest (an alert refused twice fails)", did, reason, tries, len(ids))

    async def _digest_to(self, chat: str, did: int, plan: Plan, out: set[tuple[str, int]]) -> None:
        """Send the parts of the digest `chat` does not have yet, adding each to `out` as it goes."""
        peer = await self._peer(chat)
        for k, part in enumerate(plan.parts):
            if (chat, k) in out:
                continue  # sent on an earlier try (a resend costs a RANDOM_ID_DUPLICATE and a history read)
            rid = _digest_rid(plan.random_id, peer, chat, k)
            mid, _ = await self._send(peer, part.text, part.entities, rid, silent=True, markup=self._digest_markup(part),
                                      what=f"digest {did} part {k + 1} in chat {chat}", reply_to=_topic(chat))
            out.add((chat, k))
            self._digest_items.append((chat, rid, mid, [(aid, gone, n) for n, aid, gone in part.items]))
            self._record_digest_items()

    def _digest_sent(self, did: int, plan: Plan) -> set[tuple[str, int]]:
        """The (chat, part) of the digest sent so far: this run's, or, first seen in this run, the parts
        whose items the store records as shown in a chat (a restart while a chat was unreachable does
        not send the others again the digests they had; Telegram forgets random_ids in time)."""
        out = self._digest_out.get(did)
        if out is None:
            shown = digest_items_shown(self.store, [aid for p in plan.parts for _, aid, _ in p.items])
            out = self._digest_out[did] = {
                (chat, k) for chat, aids in shown.items() for k, p in enumerate(plan.parts)
                if p.items and all(aid in aids for _, aid, _ in p.items)}
        return out

    def _digest_markup(self, part: PlannedPart) -> Any:
        """The triage buttons under a digest message, a row per item it carries, numbered as the
        digest numbers them; None where alerts carry none (sent by the user account, not the bot)."""
        if self.buttons is None or not part.items:
            return None
        return self.client.build_reply_markup(digest_buttons([(n, aid) for n, aid, _ in part.items]))

    def _plan(self, alert_ids: list[int], random_id: int) -> Plan:
        """The messages a digest of `alert_ids` goes out as (`_digest_parts`), to be kept (`save_plan`)."""
        alerts = _digest_alerts(self.store, alert_ids, self.titles)
        parts = _digest_parts(alerts, self.tz) if alerts else []
        return Plan(random_id, [PlannedPart(p.text, p.entities, [(n, a.id, a.deleted_at is not None) for n, a in p.items])
                                for p in parts])

    def _digest_plan(self, did: int, alert_ids: list[int]) -> Plan:
        """The digest's plan, kept since it was collected. One stored by a version that kept none gets
        one now, of the items not recorded as shown in every chat, under a random_id of its own: that
        version's parts were split otherwise, and their random_ids must not stand for these (an item
        shown in one chat and not another is shown there again: never lost)."""
        plan = load_plan(self.store, did)
        if plan is None:
            shown = shown_in_every_chat(self.store, alert_ids, self.chats)
            plan = self._plan([i for i in alert_ids if i not in shown], secrets.randbits(62))
            save_plan(self.store, did, plan)
            log.info("digest %d has no plan this version can read (an earlier version stored it, or its plan is damaged): "
                     "%d of its %d stories are sent (the rest were shown)",
                     did, len(alert_ids) - len(shown), len(alert_ids))
        return plan

    def _record_digest_items(self) -> None:
        """Store which digest message (chat, part) carried each alert, and whether the item already
        said its post was deleted (then the chat was told: no notice follows). A store that cannot
        take them now raises as any store write here does; they stay held for the next pass."""
        if not self._digest_items:
            return
        now = iso(self.clock()) or ""
        with self.store.transaction():
            for chat, rid, mid, items in self._digest_items:
                record_digest_items(self.store, chat, rid, mid, items, now)
        self._digest_items.clear()
