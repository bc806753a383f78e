"""What analysts did in the chat: their verdicts on alerts, and the log of rule changes that /history
lists and /undo takes back."""

from __future__ import annotations

import sqlite_utils

from .dates import utcnow

__all__ = ["ChatLog"]


class ChatLog:
    """`Store`'s feedback and rule-change rows (a mixin: it works on the connection `Store.__init__` opens)."""

    db: sqlite_utils.Database

    def record_feedback(self, alert_id: int, user_id: int, verdict: str) -> str | None:
        """An analyst's verdict on an alert (the latest one counts); returns the alert's rule."""
        row = self.db.execute("SELECT rule FROM alerts WHERE id = ?", [alert_id]).fetchone()
        if row is None:
            return None
        self.db.execute("INSERT INTO feedback (alert_id, user_id, rule, verdict, at) VALUES (?,?,?,?,?) "
                        "ON CONFLICT(alert_id, user_id) DO UPDATE SET verdict = excluded.verdict, at = excluded.at",
                        [alert_id, user_id, row[0], verdict, utcnow()])
        return str(row[0])

    def log_rule_change(self, *, user_id: int | None, user_name: str, action: str, rule: str, file: str,
                        before: str | None, after: str | None) -> int:
        """Log one rule change (`before`/`after`: the rules file's text, None where there was none); its id."""
        cur = self.db.execute("INSERT INTO rule_changes (at, user_id, user_name, action, rule, file, before, after, undone) "
                              "VALUES (?,?,?,?,?,?,?,?,0)", [utcnow(), user_id, user_name, action, rule, file, before, after])
        assert cur.lastrowid is not None  # (an INSERT that stored a row: its rowid)
        return cur.lastrowid

    def rule_changes(self, limit: int = 20) -> list[dict[str, object]]:
        """The newest `limit` logged rule changes, newest first (what /history lists)."""
        return list(self.db.query("SELECT * FROM rule_changes ORDER BY id DESC LIMIT ?", [limit]))

    def last_rule_change(self) -> dict[str, object] | None:
        """The newest change not undone yet."""
        return next(self.db.query("SELECT * FROM rule_changes WHERE undone = 0 AND action != 'undo' ORDER BY id DESC LIMIT 1"), None)

    def rule_change(self, change_id: int) -> dict[str, object] | None:
        """One logged rule change by id (None: no such change)."""
        return next(self.db.query("SELECT * FROM rule_changes WHERE id = ?", [change_id]), None)

    def mark_undone(self, change_id: int) -> None:
        """Record that /undo took the change back, so the next /undo takes back the one before."""
        self.db.execute("UPDATE rule_changes SET undone = 1 WHERE id = ?", [change_id])
