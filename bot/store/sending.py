"""An alert's send as the sender records it: each message part planned (its random_id) and
delivered, the send begun and finished, postponed or failed; and the digests still waiting."""

from __future__ import annotations

import sqlite_utils

from .dates import utcnow

__all__ = ["Sending"]


class Sending:
    """`Store`'s records of sends (a mixin: it works on the connection `Store.__init__` opens)."""

    db: sqlite_utils.Database

    def deliveries(self, alert_id: int) -> dict[tuple[str, int], dict[str, object]]:
        """(chat, part) -> delivery row of one alert."""
        return {(str(r["chat"]), int(r["part"])): r
                for r in self.db.query("SELECT * FROM deliveries WHERE alert_id = ?", [alert_id])}

    def plan_delivery(self, alert_id: int, chat: str, part: int, random_id: int, text_hash: str) -> None:
        """Record the random_id of a part before it is first sent (committed at once)."""
        self.db.execute("INSERT OR IGNORE INTO deliveries (alert_id, chat, part, random_id, text_hash) VALUES (?,?,?,?,?)",
                        [alert_id, chat, part, random_id, text_hash])

    def mark_delivered(self, alert_id: int, chat: str, part: int, message_id: int | None, text_hash: str,
                       *, edited: bool = False) -> None:
        col = "edited_at" if edited else "sent_at"
        self.db.execute(f"UPDATE deliveries SET message_id = coalesce(?, message_id), text_hash = ?, {col} = ? "
                        "WHERE alert_id = ? AND chat = ? AND part = ?", [message_id, text_hash, utcnow(), alert_id, chat, part])

    def begin_delivery(self, alert_id: int) -> None:
        """The sender starts rendering the alert: growth from now on is not in what it sends."""
        self.db.execute("UPDATE alerts SET story_grew = 0 WHERE id = ?", [alert_id])

    def finish_delivery(self, alert_id: int, now: str) -> None:
        """Sent; or, when the story grew meanwhile, sent but due for an update."""
        self.db.execute("UPDATE alerts SET state = CASE WHEN coalesce(story_grew, 0) = 1 THEN 'update_queued' ELSE 'sent' END, "
                        "sent_at = ?, error = NULL, updated_at = ? WHERE id = ?", [now, now, alert_id])

    def postpone_alert(self, alert_id: int, until: str) -> None:
        """Not an error, just not yet (an update waits out the edit throttle)."""
        self.db.execute("UPDATE alerts SET next_attempt_at = ? WHERE id = ?", [until, alert_id])

    def defer_alert(self, alert_id: int, until: str, error: str) -> int:
        """A failed attempt: try again after `until`; returns the attempts made so far."""
        self.db.execute("UPDATE alerts SET attempts = coalesce(attempts, 0) + 1, next_attempt_at = ?, error = ?, "
                        "updated_at = ? WHERE id = ?", [until, error, utcnow(), alert_id])
        row = self.db.execute("SELECT attempts FROM alerts WHERE id = ?", [alert_id]).fetchone()
        return int(row[0]) if row else 0

    def digests_waiting(self) -> int:
        """Digests collected but not sent yet (a flood wait or an alert chat that cannot be written
        to holds them): they go out once it can."""
        return int(self.db.execute("SELECT count(*) FROM digests WHERE sent_at IS NULL").fetchone()[0])
