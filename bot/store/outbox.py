"""The outbox: one alert row per story and rule, queued for the connection's owner (the live service
or a replay) to send, updated as its story grows, muted or re-aimed at another post."""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING

import sqlite_utils

from ..match.matcher import Match
from ..post import Post
from .dates import utcnow

__all__ = ["LIVE", "REPLAY", "Outbox"]

LIVE, REPLAY = "live", "replay"  # who sends an alert (`alerts.owner`): `tgwatch run` to the chat, or a replay


class Outbox:
    """`Store`'s alert rows as a queue (a mixin: it works on the state `Store.__init__` sets)."""

    db: sqlite_utils.Database
    owner: str
    _alerted: set[int] | None
    _alerted_version: int

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Store` has them all
        def data_version(self) -> int: ...

    def queue_alert(self, story_id: int, post: Post, match: Match, *, state: str, now: str) -> int | None:
        """Queue one alert per (story, rule), for this connection's owner to send; None when that story
        already alerted for the rule."""
        cur = self.db.execute(
            "INSERT INTO alerts (story_id, rule, channel_id, message_id, severity, state, attempts, created_at, updated_at, owner) "
            "VALUES (?,?,?,?,?,?,0,?,?,?) ON CONFLICT(story_id, rule) DO NOTHING",
            [story_id, match.rule, post.channel_id, post.message_id, match.severity, state, now, now, self.owner],
        )
        if not cur.rowcount:
            return None
        if self._alerted is not None:
            self._alerted.add(story_id)
        assert cur.lastrowid is not None  # (an INSERT that stored a row: its rowid)
        return cur.lastrowid

    def _may_have_alerts(self, story_id: int) -> bool:
        """False when the story surely has no alert. In a write transaction, from the ids of the stories
        with one, read again only when another connection has written since (PRAGMA data_version; this
        one adds alerts only by `queue_alert`): a corpus replay asked the alerts table for each of its
        6,020 posts that joined a story, nearly always in vain. Outside a transaction: True (ask)."""
        if not self.db.conn.in_transaction:
            return True
        version = self.data_version()
        if self._alerted is None or version != self._alerted_version:
            self._alerted = {r[0] for r in self.db.conn.execute("SELECT DISTINCT story_id FROM alerts")}
            self._alerted_version = version
        return story_id in self._alerted

    def update_story_alerts(self, story_id: int, post: Post, *, now: str, rules: Container[str] | None = None) -> list[int]:
        """Another post joined a story: each of the story's alerts, whatever its rule (the story line is
        who reported it, not who said the rule's words), is updated. A sent alert is queued for an
        update ('update_queued'); one not sent yet stays queued (it will show the whole story); a
        muted or failed one stays as it is. Returns the ids of the alerts with an update (now) queued.
        `rules`: the names of the rules this connection's owner uses; its alert of any other rule
        (switched off, removed) is left as it is (its next update, once the rule is back, shows the
        whole story); another owner's alerts are judged by its own rules when it sends them."""
        out: list[int] = []
        if not self._may_have_alerts(story_id):
            return out
        for alert_id, state, channel_id, message_id, rule, owner in self.db.execute(
                "SELECT id, state, channel_id, message_id, rule, owner FROM alerts WHERE story_id = ?", [story_id]).fetchall():
            if (channel_id, message_id) == post.key or (rules is not None and owner == self.owner and rule not in rules):
                continue
            if state == "sent":
                self.db.execute("UPDATE alerts SET state = 'update_queued', updated_at = ? WHERE id = ?", [now, alert_id])
                out.append(int(alert_id))
            elif state in ("queued", "update_queued"):  # a send may be under way: it must not mark this story done
                self.db.execute("UPDATE alerts SET story_grew = 1 WHERE id = ?", [alert_id])
                if state == "update_queued":
                    out.append(int(alert_id))
        return out

    def story_alert(self, story_id: int, rule: str) -> tuple[int, str, tuple[int, int], str] | None:
        """The alert of a story for a rule: (id, state, the key of the post it is aimed at, owner)."""
        row = self.db.execute("SELECT id, state, channel_id, message_id, owner FROM alerts WHERE story_id = ? AND rule = ?",
                              [story_id, rule]).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), (int(row[2]), int(row[3])), str(row[4]))

    def reaim_alert(self, alert_id: int, post: Post, *, was: str, now: str, why: str | None = None) -> bool:
        """Aim an alert still in state `was` at another post of its story (or its own, edited) and queue it
        afresh (a mute held it back: `bot.live.unmuted`), for this connection's owner to send; with `why`,
        only one recorded as not sent for that reason. False when its state has moved on."""
        cur = self.db.execute(
            "UPDATE alerts SET channel_id = ?, message_id = ?, state = 'queued', attempts = 0, next_attempt_at = NULL, "
            "error = NULL, story_grew = 0, updated_at = ?, owner = ? WHERE id = ? AND state = ? AND (? IS NULL OR error = ?)",
            [post.channel_id, post.message_id, now, self.owner, alert_id, was, why, why])
        return bool(cur.rowcount)

    def mute_alert(self, alert_id: int, post: tuple[int, int], *, now: str, reason: str | None = None) -> bool:
        """Mark a queued alert muted (`reason`: why, when not a mute) if it is still aimed at `post`
        (channel id, message id): a post of another channel may have taken it over meanwhile
        (`reaim_alert`). False when it had."""
        cur = self.db.execute("UPDATE alerts SET state = 'muted', updated_at = ?, error = ? WHERE id = ? AND state = 'queued' "
                              "AND channel_id = ? AND message_id = ?", [now, reason, alert_id, *post])
        return bool(cur.rowcount)

    def mark_alert(self, alert_id: int, state: str, *, mine: bool = False, **fields: object) -> None:
        """Set the alert's state (and `fields`); with `mine`, only while this connection's owner holds
        it (the live service may take a replayed story's alert over between a read and this write)."""
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.db.execute(
            f"UPDATE alerts SET state = ?, updated_at = ?{', ' + sets if sets else ''} WHERE id = ?"
            + " AND owner = ?" * mine,
            [state, utcnow(), *fields.values(), alert_id, *[self.owner] * mine],
        )

    def queued_alerts(self, now: str | None = None, latest: str | None = None) -> list[dict[str, object]]:
        """This connection's owner's alerts to send: new ones ('queued') and updates of sent ones
        ('update_queued'); with `now`, only those whose retry time has come. A retry time after `latest`
        (later than any the sender sets) comes from a wall clock that has since been set back: due now."""
        return list(self.db.query(
            "SELECT * FROM alerts WHERE state IN ('queued', 'update_queued') AND owner = ? "
            "AND (? IS NULL OR next_attempt_at IS NULL OR next_attempt_at <= ? OR next_attempt_at > ?) ORDER BY id",
            [self.owner, now, now, latest or "9999"]))
