"""Matches as rows: which rules a stored post matches now, with the terms and hits that show why;
an edit's lost matches stay, marked not current."""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlite_utils

from ..match.matcher import Match
from ..post import Post

__all__ = ["Matches"]

_JSON = json.JSONEncoder(ensure_ascii=False).encode  # `json.dumps(..., ensure_ascii=False)` builds one per call


class Matches:
    """`Store`'s match rows (a mixin: it works on the connection `Store.__init__` opens)."""

    db: sqlite_utils.Database

    def write_matches(self, post: Post, matches: Sequence[Match], *, now: str, edited: bool = False) -> None:
        """Record this post's current matches; an edited post's earlier matches it no longer has
        stay, marked stale (a new post has none to mark)."""
        if not matches and not edited:
            return
        if edited:
            self.db.execute("UPDATE matches SET current = 0 WHERE channel_id = ? AND message_id = ?",
                            [post.channel_id, post.message_id])
        self.db.conn.executemany(
            "INSERT INTO matches (channel_id, message_id, rule, severity, terms, hits, current, matched_at) "
            "VALUES (?,?,?,?,?,?,1,?) ON CONFLICT(channel_id, message_id, rule) DO UPDATE SET "
            "terms = excluded.terms, hits = excluded.hits, severity = excluded.severity, current = 1, matched_at = excluded.matched_at",
            [(post.channel_id, post.message_id, m.rule, m.severity, _JSON(m.terms),
              _JSON([[h.term, h.form, h.start, h.end, h.score, h.kind] for h in m.stored_hits]), now)
             for m in matches],
        )

    def matched_rules(self, key: tuple[int, int]) -> list[str]:
        """The rules the stored post (channel id, message id) matches now (`write_matches`)."""
        return [str(r[0]) for r in self.db.execute(
            "SELECT rule FROM matches WHERE channel_id = ? AND message_id = ? AND current = 1 ORDER BY rule", list(key))]
