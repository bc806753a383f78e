"""What each chat was sent, beyond one alert's own messages (`Store.deliveries`): digests, the
digest item each alert went out as, and the notices that follow a post's deletion. The live
sender decides; these read and write the rows."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from .db import Store

__all__ = ["DELETED_PART", "DIGEST_ITEM", "DIGEST_PART", "RESTORED_PART", "DigestItem", "digest_items_shown", "digest_notices_due",
           "forget_told", "give_back_digest", "mark_digest_sent", "new_digest", "record_digest_items",
           "retry_held", "shown_in_every_chat", "unsent_digests", "went_out"]

# `deliveries.part` beside an alert's own message parts (0, 1, ...):
# The row (alert, chat, DELETED_PART) records that the chat was told its alert's post was deleted:
# by the alert itself (sent or edited with the line) or by a reply notice (its random_id stored
# before the first attempt, as for every part).
DELETED_PART = -1
# The row (alert, chat, DIGEST_PART) records that the alert went out as an item of a digest in that
# chat: message_id is the digest part holding the item (what a deletion notice replies to; None when
# unknown), random_id that part's, sent_at when it went (the time the notice names).
DIGEST_PART = -2
# The row (alert, chat, RESTORED_PART) holds the random_id of the reply telling a chat told of a
# post's deletion (by a reply to the alert or to its digest) that the post is not deleted after all
# (stored before the first attempt). Once that reply is sent, it goes with the DELETED_PART row
# (`forget_told`): the chat knows the post stands, and a later deletion is news again.
RESTORED_PART = -3
DIGEST_ITEM = "digest item "  # the DIGEST_PART row's text_hash: the number the digest gave the item

DigestItem = tuple[int, bool, int]  # (alert id, shown as deleted, number the digest gave it)


def retry_held(store: Store, error: str) -> None:
    """The queued alerts held back by `error` (a chat that could not be written to) are due now."""
    store.db.execute("UPDATE alerts SET next_attempt_at = NULL WHERE state IN ('queued', 'update_queued') AND error = ?",
                     [error])


def went_out(store: Store, alert_id: int) -> bool:
    """A part of the alert is recorded as sent. A part only planned (its random_id stored before the
    first attempt) may still have reached the chat: a crash between the send and this record."""
    return store.db.execute("SELECT 1 FROM deliveries WHERE alert_id = ? AND (sent_at IS NOT NULL OR message_id IS NOT NULL)",
                            [alert_id]).fetchone() is not None


def forget_told(store: Store, alert_id: int, chat: str) -> None:
    """The chat knows the alert's post stands: the records of its deletion being told and of the
    not-deleted reply go, in one statement (both or neither), so a later deletion is told again."""
    store.db.execute("DELETE FROM deliveries WHERE alert_id = ? AND chat = ? AND part IN (?, ?)",
                     [alert_id, chat, DELETED_PART, RESTORED_PART])


def new_digest(store: Store, created_at: str, alert_ids: Sequence[int], random_id: int) -> int:
    """Store a digest of `alert_ids` (not sent yet); its id."""
    cur = store.db.execute("INSERT INTO digests (created_at, alert_ids, random_id) VALUES (?,?,?)",
                           [created_at, json.dumps(list(alert_ids)), random_id])
    assert cur.lastrowid is not None  # (an INSERT that stored a row: its rowid)
    return cur.lastrowid


def unsent_digests(store: Store) -> list[tuple[int, list[int]]]:
    """(digest id, its alert ids) of the digests not sent yet, oldest first."""
    return [(int(did), [int(i) for i in json.loads(ids)])
            for did, ids in store.db.execute("SELECT id, alert_ids FROM digests WHERE sent_at IS NULL ORDER BY id")]


def mark_digest_sent(store: Store, digest_id: int, at: str) -> None:
    store.db.execute("UPDATE digests SET sent_at = ? WHERE id = ?", [at, digest_id])


def give_back_digest(store: Store, digest_id: int, alert_ids: Sequence[int], error: str) -> None:
    """A digest no chat got: its alerts go back to the queue for the next digest, once (an alert
    given back before fails), and the digest goes."""
    marks = ",".join("?" * len(alert_ids))
    store.db.execute(f"UPDATE alerts SET state = 'failed', error = ? WHERE state = 'digested' "
                     f"AND error LIKE 'digest refused%' AND id IN ({marks})", [error, *alert_ids])
    store.db.execute(f"UPDATE alerts SET state = 'queued', sent_at = NULL, error = ? WHERE "
                     f"state = 'digested' AND id IN ({marks})", [error, *alert_ids])
    store.db.execute("DELETE FROM digests WHERE id = ?", [digest_id])


def record_digest_items(store: Store, chat: str, random_id: int, message_id: int | None,
                        items: Iterable[DigestItem], now: str) -> None:
    """Record which digest message (in `chat`) carried each alert, and that the chat was told of a
    deletion when the item already said its post was deleted (no notice follows then)."""
    for alert_id, shown_deleted, number in items:
        store.db.execute("INSERT OR IGNORE INTO deliveries (alert_id, chat, part, random_id, message_id, text_hash, sent_at) "
                         "VALUES (?,?,?,?,?,?,?)", [alert_id, chat, DIGEST_PART, random_id, message_id, f"{DIGEST_ITEM}{number}", now])
        if shown_deleted:
            store.db.execute("INSERT OR IGNORE INTO deliveries (alert_id, chat, part, random_id, message_id, text_hash, sent_at) "
                             "VALUES (?,?,?,?,?,?,?)", [alert_id, chat, DELETED_PART, 0, None, "in the digest", now])


def digest_notices_due(store: Store) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The digest items whose chat is owed a notice, as rows (alert_id, chat, message_id: the digest
    message, digest_at, item: its DIGEST_ITEM text, random_id: the notice's when planned before):
    (items whose post was deleted and the chat was not told, items whose post stands again after
    the chat was told it was deleted, by a reply or by the digest itself; not a notice given up on)."""
    # Each sender pass asks this, and digested alerts are never pruned: the rows are found from the
    # few that can owe a notice (a deleted post, by its partial index; a told deletion, by the
    # deliveries' one, `part` written out for it), never from a year's digest items: CROSS JOIN
    # keeps that order.
    items = ("SELECT d.alert_id, d.chat, d.message_id, d.sent_at AS digest_at, d.text_hash AS item, t.random_id FROM ")
    deleted = list(store.db.query(
        items + "posts p CROSS JOIN alerts a ON a.channel_id = p.channel_id AND a.message_id = p.message_id "
        "CROSS JOIN deliveries d ON d.alert_id = a.id AND d.part = ? "
        "LEFT JOIN deliveries t ON t.alert_id = a.id AND t.chat = d.chat AND t.part = ? "
        "WHERE p.deleted_at IS NOT NULL AND a.state = 'digested' AND t.sent_at IS NULL ORDER BY a.id, d.chat",
        [DIGEST_PART, DELETED_PART]))
    shown = list(store.db.query(
        items + "deliveries g CROSS JOIN alerts a ON a.id = g.alert_id "
        "CROSS JOIN posts p ON p.channel_id = a.channel_id AND p.message_id = a.message_id "
        "CROSS JOIN deliveries d ON d.alert_id = a.id AND d.chat = g.chat AND d.part = ? "
        "LEFT JOIN deliveries t ON t.alert_id = a.id AND t.chat = d.chat AND t.part = ? "
        f"WHERE g.part = {DELETED_PART} AND a.state = 'digested' AND p.deleted_at IS NULL AND g.sent_at IS NOT NULL "
        "AND g.text_hash NOT LIKE 'refused%' AND t.sent_at IS NULL ORDER BY a.id, d.chat",
        [DIGEST_PART, RESTORED_PART]))
    return deleted, shown


def shown_in_every_chat(store: Store, alert_ids: Sequence[int], chats: Sequence[str]) -> set[int]:
    """The alerts whose digest item is recorded as shown in each of `chats` (`digest_items_shown`)."""
    if not alert_ids or not chats:
        return set()
    shown = digest_items_shown(store, alert_ids)
    return set.intersection(*(shown.get(chat, set()) for chat in set(chats)))


def digest_items_shown(store: Store, alert_ids: Sequence[int]) -> dict[str, set[int]]:
    """Per chat, those of `alert_ids` whose digest item is recorded as shown there."""
    shown: dict[str, set[int]] = {}
    if alert_ids:
        for alert_id, chat in store.db.execute(
                f"SELECT alert_id, chat FROM deliveries WHERE part = ? AND alert_id IN ({','.join('?' * len(alert_ids))})",
                [DIGEST_PART, *alert_ids]):
            shown.setdefault(str(chat), set()).add(int(alert_id))
    return shown
