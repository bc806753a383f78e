"""An alert as the buttons under it need it: its rule, story and post, and the post's channel and
date, so a button press can name what it acted on (the alert's full text: `bot.alert.outbox`)."""

from __future__ import annotations

from dataclasses import dataclass

from .db import Store

__all__ = ["AlertPost", "NO_MATCH", "alert_post", "move_alert", "set_severity"]

NO_MATCH = "post no longer matches its rule"  # the error of an alert muted, not shown, for it (and left out of /stats)


@dataclass(frozen=True, slots=True)
class AlertPost:
    """One stored alert and the post it is aimed at."""

    id: int
    rule: str
    story_id: int
    channel_id: int
    message_id: int
    channel_title: str  # "" when the channel's title is not known
    username: str | None
    date: str  # the post's date (ISO, UTC); "" when the post is no longer stored


def alert_post(store: Store, alert_id: int) -> AlertPost | None:
    """The alert `alert_id` with its post's channel and date; None when the alert is not stored."""
    row = store.db.execute(
        "SELECT a.rule, a.story_id, a.channel_id, a.message_id, c.title, c.username, p.date FROM alerts a "
        "LEFT JOIN channels c ON c.id = a.channel_id "
        "LEFT JOIN posts p ON p.channel_id = a.channel_id AND p.message_id = a.message_id WHERE a.id = ?",
        [alert_id]).fetchone()
    if row is None:
        return None
    rule, story_id, channel_id, message_id, title, username, date = row
    return AlertPost(alert_id, str(rule), int(story_id), int(channel_id), int(message_id), str(title or ""),
                     str(username) if username else None, str(date or ""))


def set_severity(store: Store, alert_id: int, severity: str) -> bool:
    """Give an alert not sent yet ('queued') another severity (its rule's changed); False when it is
    no longer waiting."""
    cur = store.db.execute("UPDATE alerts SET severity = ? WHERE id = ? AND state = 'queued'", [severity, alert_id])
    return bool(cur.rowcount)


def move_alert(store: Store, alert_id: int, was: tuple[int, int], to: tuple[int, int], *, owner: str, now: str) -> bool:
    """Aim an alert not sent yet ('queued') at post `to` (channel id, message id) of its story, while it
    is still aimed at `was` and held by `owner`; False when it is not (sent, taken over, aimed elsewhere)."""
    cur = store.db.execute("UPDATE alerts SET channel_id = ?, message_id = ?, updated_at = ? WHERE id = ? AND owner = ? "
                           "AND state = 'queued' AND channel_id = ? AND message_id = ?", [*to, now, alert_id, owner, *was])
    return bool(cur.rowcount)
