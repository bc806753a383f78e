"""Alert sinks for offline runs: the terminal (rich) and a JSON Lines file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.text import Text

from ..text import printable
from .outbox import Alert, deleted_line, edited_note, snippet, story_line

__all__ = ["TerminalSink", "JsonlSink", "NullSink"]

_SEVERITY = {"high": ("HIGH", "bold white on red"), "normal": ("NORMAL", "bold black on yellow"), "low": ("LOW", "dim")}


class TerminalSink:
    """One alert per block: severity, rule, channel, time, link; a snippet with hits in bold."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)

    def send(self, alert: Alert) -> None:
        if alert.update:
            line = Text("UPDATE", style="bold cyan").append(f" [{alert.rule}] story #{alert.story_id}: ")
            line.append(printable(story_line(alert)))
            if alert.deleted_at:  # the alerted post itself: a story of one post has no story line to mark
                line.append(f" · {deleted_line(alert)}: ").append(alert.link, style="underline")
            self.console.print(line)
            return
        label, style = _SEVERITY.get(alert.severity, (alert.severity.upper(), "bold"))
        head = Text(f" {label} ", style=style).append(f" {alert.title}", style="bold")
        head.append(f"  [{alert.rule}]", style="dim")
        self.console.print(head)
        edited = f", {edited_note(alert.edited_at, alert.date)}" if alert.edited_at else ""
        meta = Text(f"  {printable(alert.channel_title)}", style="cyan").append(f"  {alert.date.replace('T', ' ')[:16]} UTC{edited}  ")
        meta.append(alert.link, style="underline")
        self.console.print(meta)
        window, spans, _ = snippet(alert.text, alert.spans)
        body = Text("  " + printable(window))  # a post's control characters never reach the terminal
        for s, e in spans:
            body.stylize("bold reverse", s + 2, e + 2)
        self.console.print(body)
        self.console.print(Text(f"  matched: {printable(alert.matched)}", style="dim"))
        if alert.story_size > 1:
            self.console.print(Text(f"  story #{alert.story_id} ({alert.story_size} posts): {printable(story_line(alert))}",
                                    style="dim"))
        self.console.print()


class JsonlSink:
    """Appends one JSON object per alert to a file (flushed per line: safe to tail).

    An alert's line: `alert_id`, `rule`, `severity`, `channel_id`, `channel` (title), `username`,
    `message_id`, `link`, `date` (ISO 8601 UTC), `edited_at` (when an edit brought the post the rule's
    words, so another channel may have reported them first; ISO 8601 UTC; null when the post matched as
    first stored, however edited later: `bot.alert.edited`), `terms`, `hits` (`term`, `form`, `start`, `end`,
    `score`, `kind`; offsets into `text`, the post as it is now: a word an edit took out since is
    not among them, as the terminal and the chat bold only what is there), `story_id`, `story_size`,
    `text`, and `deleted_at`: when tgwatch learnt that the channel deleted the post (ISO 8601 UTC),
    null while it stands.

    An update line (`"update": true`) follows when an alerted story changes: it grew, or one of its
    posts was deleted by its channel (or shown again after all). It gives the story as it is now:
    `alert_id`, `rule`, `story_id`, `story_size`, `summary` (the story line, 🗑 after a deleted
    post), `deleted_at` of the alerted post (as in the alert's line), and `posts` (a story of 2+
    posts, oldest first: `channel`, `date`, `edited_at` (as in the alert's line, for a post the rule
    matches), `link`, `deleted` true for a post its channel deleted).

    Both end with `store`: the path of the database the alert is from (null when not given), as
    each store numbers its alerts from 1: a file that two stores append to tells their alerts apart.

    A run stopped between writing an alert's line and marking the alert sent in the store sends
    it again next time: that alert, the file's last line, is not written twice (another store's
    alert with the same id, rule and post is another alert, and gets its line; a last line with
    no `store`, from an older release, is taken for this store's)."""

    def __init__(self, path: str | Path, store: str | Path | None = None) -> None:
        self.path = Path(path)
        # one store, however its path is spelt (SQLite's in-memory store is no path)
        self.store = None if store is None else str(store) if str(store) == ":memory:" else str(Path(store).resolve())
        self._last = self._last_line()  # the key of the line a stopped run may have left unmarked
        self._f: IO[str] = self.path.open("a", encoding="utf-8")
        if self._last is False:  # a line cut short by a kill: the next one starts on its own line
            self._f.write("\n")
            self._f.flush()

    @staticmethod
    def _key(rec: dict[str, object]) -> tuple[object, ...]:
        """Which alert of which store a line tells of (an update of a grown story is news: its size counts; so is a
        post deleted, or shown again: the update after it has the story's size unchanged)."""
        posts = rec.get("posts")
        gone = tuple(sorted(str(p.get("link")) for p in posts if isinstance(p, dict) and p.get("deleted"))) \
            if isinstance(posts, list) else ()
        return (bool(rec.get("update")), rec.get("alert_id"), rec.get("rule"), rec.get("story_id"),
                rec.get("story_size") if rec.get("update") else None, rec.get("channel_id"), rec.get("message_id"),
                rec.get("deleted_at"), gone, rec.get("store"))

    def _last_line(self) -> tuple[object, ...] | bool | None:
        """The key of the file's last line; False when it is cut short; None when there is none."""
        try:
            with self.path.open("rb") as f:
                f.seek(0, 2)
                end = f.tell()
                f.seek(max(0, end - (1 << 20)))
                tail = f.read()
        except OSError:  # a new file (or one the open below reports)
            return None
        if not tail:
            return None
        if not tail.endswith(b"\n"):
            return False
        try:
            rec = json.loads(tail.splitlines()[-1].decode("utf-8"))
        except (ValueError, IndexError):
            return None
        if not isinstance(rec, dict):
            return None
        rec.setdefault("store", self.store)  # a line from before `store`: the file told of one store then
        return self._key(rec)

    def send(self, alert: Alert) -> None:
        if alert.update:
            self._write({
                "update": True, "alert_id": alert.id, "rule": alert.rule, "story_id": alert.story_id,
                "story_size": alert.story_size, "summary": story_line(alert), "deleted_at": alert.deleted_at,
                "posts": [{"channel": t, "date": d, "edited_at": alert.story_edits.get(link), "link": link,
                           "deleted": link in alert.story_deleted} for t, d, link in alert.story],
                "store": self.store,
            })
            return
        rec = {
            "alert_id": alert.id, "rule": alert.rule, "severity": alert.severity, "channel_id": alert.channel_id,
            "channel": alert.channel_title, "username": alert.username, "message_id": alert.message_id,
            "link": alert.link, "date": alert.date, "edited_at": alert.edited_at, "terms": alert.terms,
            "hits": [{"term": h[0], "form": h[1], "start": h[2], "end": h[3], "score": h[4], "kind": h[5]}
                     for h in alert.live_hits],
            "story_id": alert.story_id, "story_size": alert.story_size, "text": alert.text,
            "deleted_at": alert.deleted_at, "store": self.store,
        }
        self._write(rec)

    def _write(self, rec: dict[str, object]) -> None:
        if self._last and self._key(rec) == self._last:
            self._last = None  # written before the stop: once is enough
            return
        self._f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


class NullSink:
    def send(self, alert: Alert) -> None:  # pragma: no cover - nothing to do
        pass
