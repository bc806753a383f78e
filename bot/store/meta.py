"""The `meta` table: one value per key, for what the store keeps about itself (marks, counts, saved
state) rather than about posts."""

from __future__ import annotations

import sqlite_utils

__all__ = ["Meta"]


class Meta:
    """`Store`'s key-value rows (a mixin: it works on the connection `Store.__init__` opens)."""

    db: sqlite_utils.Database

    def get_meta(self, key: str) -> str | None:
        """The `meta` row `key`'s value (None: no such row)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        """Write the `meta` row `key` (created or replaced)."""
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        [key, value])

    def delete_meta(self, key: str) -> None:
        """Remove the `meta` row `key`, if there is one."""
        self.db.execute("DELETE FROM meta WHERE key = ?", [key])
