"""A store restored from a backup (`tgwatch backup` marks its copies): the alerts sent since the
backup was taken are not recorded in it. The user account looks for them in the chat before it
sends (`Sender._shown_before`); a bot reads no chat history, so the alerts of posts older than the
run are held instead, until an analyst releases them (/release), and the mark is cleared once the
service has caught up (a later start is no restore)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection
from datetime import datetime
from typing import Any

from telethon import helpers, types

from ..alert.outbox import Alert
from ..store.backup import BACKUP_KEY, RELEASED_KEY
from ..store.db import LIVE, Store
from ..store.deliveries import record_digest_items
from .runmark import COPIED_KEY

__all__ = ["copied", "digest_item", "forget_backup", "forget_noted", "held_count", "held_line", "hold_older", "note_older",
           "noted_older", "queued_older", "release_held", "restored_from", "take_as_digested",
           "take_as_shown"]

log = logging.getLogger(__name__)

_ITEM = re.compile(r"([0-9]+)\. ")

# meta row: the alerts of posts older than the run that the chat had already, and those sent now,
# since the last "recovered" line (JSON): a restart before the complete read that tells it keeps them
NOTED_KEY = "recovered_alerts"


def restored_from(store: Store) -> datetime | None:
    """When the backup this store was restored from was taken; None: no restore (or caught up since)."""
    value = store.get_meta(BACKUP_KEY)
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def copied(store: Store) -> bool:
    """The restore was found at start, not marked: the store is older than the last run's (`bot.live.runmark`)."""
    return store.get_meta(COPIED_KEY) is not None


def forget_backup(store: Store) -> None:
    """The service has caught up after the restore: the next start is an ordinary one."""
    store.delete_meta(BACKUP_KEY)
    store.delete_meta(RELEASED_KEY)
    store.delete_meta(COPIED_KEY)


def noted_older(store: Store) -> tuple[set[int], set[int]]:
    """The alerts of posts older than the run found in the chat, and sent, not told yet (`note_older`)."""
    try:
        noted = json.loads(store.get_meta(NOTED_KEY) or "{}")
        return {int(i) for i in noted.get("found", ())}, {int(i) for i in noted.get("sent", ())}
    except (ValueError, TypeError, AttributeError, OverflowError):  # (not ours: counted afresh)
        return set(), set()


def note_older(store: Store, found: Collection[int], sent: Collection[int]) -> None:
    """Keep the counts the "recovered" line will give (`noted_older`) across a restart."""
    store.set_meta(NOTED_KEY, json.dumps({"found": sorted(found), "sent": sorted(sent)}))


def forget_noted(store: Store) -> None:
    """The "recovered" line has counted them: a later line counts afresh."""
    store.delete_meta(NOTED_KEY)


# the service's queued alerts of posts dated before a time (parameters: owner, ISO time): what a restore
# holds through a bot (`hold_older`) and looks for in the chat through the account (`queued_older`)
_QUEUED_OLDER = ("FROM alerts a JOIN posts p ON p.channel_id = a.channel_id AND p.message_id = a.message_id "
                 "WHERE a.state = 'queued' AND a.owner = ? AND p.date < ?")


def hold_older(store: Store, before: str) -> int:
    """Hold the service's queued alerts (new ones, not story updates) of posts dated before `before`
    (ISO), but those an analyst released (`release_held`, kept across a restart): state 'held', sent
    only when released. Returns how many."""
    return store.db.execute(
        f"UPDATE alerts SET state = 'held', updated_at = ? WHERE id IN (SELECT a.id {_QUEUED_OLDER} "
        "AND a.id NOT IN (SELECT value FROM json_each(?)))",
        [before, LIVE, before, json.dumps(_released(store))]).rowcount


def held_count(store: Store) -> int:
    """The service's alerts held (`hold_older`) and not released yet."""
    return int(store.db.execute("SELECT count(*) FROM alerts WHERE state = 'held' AND owner = ?", [LIVE]).fetchone()[0])


def queued_older(store: Store, before: str) -> list[dict[str, object]]:
    """The service's queued new alerts (not story updates) of posts dated before `before` (ISO)."""
    return list(store.db.query(f"SELECT a.* {_QUEUED_OLDER} ORDER BY a.id", [LIVE, before]))


def take_as_digested(store: Store, alert_id: int, shown: dict[str, tuple[int, int]], now: str) -> bool:
    """The queued alert's item is in a digest each chat shows (chat -> message id, item number): it is
    digested, recorded as that item (a deletion of its post replies there), not sent again. False
    when it is no longer queued."""
    with store.transaction():
        if not store.db.execute("UPDATE alerts SET state = 'digested', sent_at = ?, updated_at = ? WHERE id = ? "
                                "AND state = 'queued'", [now, now, alert_id]).rowcount:
            return False
        take_as_shown(store, alert_id, shown, now)
    return True


def take_as_shown(store: Store, alert_id: int, shown: dict[str, tuple[int, int]], now: str) -> None:
    """The queued alert's item is in a digest the chats in `shown` show (chat -> message id, item
    number): recorded as shown there, so a digest carrying it goes to the other chats only."""
    for chat, (message_id, number) in shown.items():
        record_digest_items(store, chat, 0, message_id, [(alert_id, False, number)], now)


def release_held(store: Store) -> list[int]:
    """Queue the held alerts again (due now), marked released so `hold_older` spares them, in this
    run and the next (a restart before the catch-up): the ids released."""
    ids = [int(r[0]) for r in store.db.execute("SELECT id FROM alerts WHERE state = 'held' AND owner = ?", [LIVE])]
    store.db.execute("UPDATE alerts SET state = 'queued', next_attempt_at = NULL WHERE state = 'held' AND owner = ?", [LIVE])
    if ids:
        store.set_meta(RELEASED_KEY, json.dumps(sorted({*_released(store), *ids})))
    return ids


_warned: set[str] = set()  # the damaged values already told, once each


def _released(store: Store) -> list[int]:
    """The alert ids an analyst released (`release_held`); a damaged row (edited by hand, cut short)
    is one warning and none released: holding them again is safe, a stopped sender is not."""
    value = store.get_meta(RELEASED_KEY) or "[]"
    try:
        return [int(i) for i in json.loads(value)]
    except (ValueError, TypeError, OverflowError) as e:
        if value not in _warned:
            _warned.add(value)
            log.warning("meta row %s is damaged (%s): read as no alerts released; /release sends the held ones",
                        RELEASED_KEY, e)
        return []


def held_line(held: int, taken: datetime, when: str, *, copied: bool = False) -> str:
    """The one line telling the analysts how many alerts are held and how to release them; `when`:
    the backup's time as they read it; `copied`: the store was put back by hand (`bot.live.runmark`)."""
    many = "s" * (held != 1)
    source = (f"the store is older than the last run's (put back from a copy last written {when})" if copied
              else f"the store was restored from the backup of {when}")
    return (f"{held} alert{many} held: {source} and the bot cannot read "
            f"the chat to tell which went out before; /release sends {'them' if held != 1 else 'it'}")


def digest_item(message: Any, alert: Alert) -> int | None:
    """The number `message` (a digest we sent) gave the alert's item: the line «N. » holding its post's
    link, under its rule's heading (one post in two rules is two items with one link); None when
    the message carries no such item. Entity offsets count UTF-16 units, as Telegram's do."""
    text = helpers.add_surrogate(message.message or "")
    for e in message.entities or ():
        if not isinstance(e, types.MessageEntityTextUrl) or e.url != alert.link:
            continue
        start = text.rfind("\n", 0, e.offset) + 1
        item = _ITEM.match(text, start)
        if item is None:
            continue
        heading = next((line for line in reversed(text[:start].split("\n")) if line and not _ITEM.match(line)), "")
        if heading.startswith("📋") or heading.rpartition(" (")[0] == alert.title:  # (a part split past 4096: no heading)
            return int(item.group(1))
    return None
