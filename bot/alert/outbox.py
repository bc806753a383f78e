"""The alert outbox: queued alerts are read back from the store and handed to a sink."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Protocol

import regex

from ..match.explain import matched_words
from ..store.alerts import NO_MATCH  # why a queued alert was muted, not shown
from ..store.db import Store, utcnow
from ..store.read import shown_link
from ..store.claims import claim, free_abandoned, release, settle
from .aim import aim, matching_post
from .edited import edited_matches

if TYPE_CHECKING:
    from ..match.matcher import Matcher

__all__ = ["Alert", "AlertSink", "DELETED_MARK", "NO_MATCH", "deleted_line", "deliver_queued", "edited_note", "load_alert",
           "matched_words", "short_time", "snippet", "story_line", "unshown"]

DELETED_MARK = "🗑 deleted by the channel"
DELETED_ICON = "🗑"  # after a story post its channel deleted, in the story line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    """Everything a sink needs to tell the analyst about one (story, rule)."""

    id: int
    rule: str
    title: str
    severity: str
    channel_id: int
    channel_title: str
    username: str | None
    message_id: int
    link: str
    date: str
    text: str
    hits: tuple[tuple[str, str, int, int, float, str], ...]  # term, form, start, end, score, kind
    story_id: int
    story_size: int
    update: bool = False  # the story grew after this alert was sent: tell who followed
    story: tuple[tuple[str, str, str], ...] = ()  # the story's posts, oldest first: channel, date, link
    deleted_at: str | None = None  # when tgwatch learnt the channel deleted the post (ISO, UTC)
    story_deleted: frozenset[str] = frozenset()  # links of the story's posts their channels deleted
    edited_at: str | None = None  # when an edit brought the post the rule's words (ISO, UTC): `edited_matches`
    story_edited: frozenset[tuple[str, str]] = frozenset()  # (link, edited_at) of story posts alike

    @property
    def story_edits(self) -> dict[str, str]:
        """Link -> edit date of the story's posts whose match of the rule is from an edit."""
        return dict(self.story_edited)

    @property
    def terms(self) -> list[str]:
        return list(dict.fromkeys(h[0] for h in self.hits))

    @property
    def live_hits(self) -> tuple[tuple[str, str, int, int, float, str], ...]:
        """The hits still where they were found: an edit after the match moves or removes words."""
        return tuple(h for h in self.hits if self.text[h[2]:h[3]] == h[1])

    @property
    def spans(self) -> list[tuple[int, int]]:
        """Where the matched words stand in the post's text now (what the snippet shows in bold)."""
        return [(h[2], h[3]) for h in self.live_hits]

    @property
    def matched(self) -> str:
        """The matched words as the post has them, each with its rule term where that differs
        («оцеплена ← оцепить»): what the alert's "matched:" line shows (`matched_words`); words an
        edit has taken out of the post since follow, marked «(edited out)»."""
        live = self.live_hits
        gone = dict.fromkeys(_edited_out(h) for h in sorted(self.hits, key=lambda h: h[2]) if h not in live)
        return ", ".join(([matched_words(self.text, live)] if live else []) + list(gone))


def _edited_out(hit: tuple[str, str, int, int, float, str]) -> str:
    """«дезертира ← дезертир (edited out)»: a matched word the post no longer has where it was."""
    form = hit[1]
    return matched_words(form, ((hit[0], form, 0, len(form), hit[4], hit[5]),)) + " (edited out)"


class AlertSink(Protocol):
    def send(self, alert: Alert) -> None: ...


def load_alert(store: Store, alert_id: int, titles: dict[str, str] | None = None, *, update: bool = False) -> Alert | None:
    """The alert with its post, hits and story; None when its post is no longer stored."""
    row = next(store.db.query(
        "SELECT a.id, a.rule, a.severity, a.channel_id, a.message_id, a.story_id, p.link, p.date, p.text, "
        "m.hits, c.title, c.username, s.size, p.deleted_at FROM alerts a "
        "JOIN posts p ON p.channel_id = a.channel_id AND p.message_id = a.message_id "
        "LEFT JOIN matches m ON m.channel_id = a.channel_id AND m.message_id = a.message_id AND m.rule = a.rule "
        "LEFT JOIN channels c ON c.id = a.channel_id LEFT JOIN stories s ON s.id = a.story_id WHERE a.id = ?",
        [alert_id]), None)
    if row is None:
        return None
    story = store.story_posts(row["story_id"]) if (row["size"] or 1) > 1 else []
    links = [shown_link(int(r["channel_id"]), int(r["message_id"]), r["username"], r["link"]) for r in story]  # type: ignore[arg-type, call-overload]  # a row: its values are objects to mypy
    edits = edited_matches(store, alert_id)
    return Alert(
        id=row["id"], rule=row["rule"], title=(titles or {}).get(row["rule"], row["rule"]),
        severity=row["severity"], channel_id=row["channel_id"], channel_title=row["title"] or str(row["channel_id"]),
        username=row["username"], message_id=row["message_id"], date=row["date"],
        link=shown_link(row["channel_id"], row["message_id"], row["username"], row["link"]),  # t.me/<name>/N once known
        text=row["text"] or "", hits=tuple(tuple(h) for h in json.loads(row["hits"] or "[]")),
        story_id=row["story_id"], story_size=row["size"] or 1, update=update,
        story=tuple((str(r["title"]), str(r["date"]), link) for r, link in zip(story, links)),
        deleted_at=row["deleted_at"],
        story_deleted=frozenset(link for r, link in zip(story, links) if r["deleted_at"]),
        edited_at=edits.get((row["channel_id"], row["message_id"])),
        story_edited=frozenset((link, edits[k]) for r, link in zip(story, links)
                               if (k := (r["channel_id"], r["message_id"])) in edits),
    )


def _local(date: str, tz: tzinfo | None) -> datetime | None:
    try:
        dt = datetime.fromisoformat(date)
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(tz or timezone.utc)


def _hhmm(date: str, tz: tzinfo | None = None, day: datetime | None = None) -> str:
    """'12:04' in `tz` (UTC without one), '19.11 23:58' when that is not the day of `day`."""
    dt = _local(date, tz)
    if dt is None:
        return date[11:16] if len(date) >= 16 else date
    return f"{dt:%H:%M}" if day is None or dt.date() == day.date() else f"{dt:%d.%m %H:%M}"


def short_time(date: str, tz: tzinfo | None = None, like: str | None = None) -> str:
    """'12:04' in `tz` (UTC without one), '19.11 23:58' when not on the day of `like` (ISO; its
    day in `tz`): a time as the alert lines around it give theirs."""
    return _hhmm(date, tz, _local(like, tz) if like else None)


def deleted_line(alert: Alert, tz: tzinfo | None = None) -> str:
    """«🗑 deleted by the channel at 14:05» (the day too when not the post's day, in `tz` as the
    alert's times); empty when the post is not deleted."""
    if not alert.deleted_at:
        return ""
    return f"{DELETED_MARK} at {_hhmm(alert.deleted_at, tz, _local(alert.date, tz))}"


def edited_note(edited_at: str | None, date: str, tz: tzinfo | None = None) -> str:
    """«edited 08:36» (in `tz`, UTC without one; the day too when not that of `date`, ISO): when an
    edit brought a post the rule's words (`Alert.edited_at`); empty when none did."""
    return f"edited {_hhmm(edited_at, tz, _local(date, tz))}" if edited_at else ""


def story_line(alert: Alert, also: int = 3, tz: tzinfo | None = None, name: Callable[[str], str] = str) -> str:
    """«first: SHOT 12:04 (edited 12:40); also Mash 12:06 🗑, Topor 12:09 (+3)»: the first post's
    channel, the first post of up to `also` other channels, and how many more posts the story has;
    «(edited …)» after a post whose match of the rule is from a later edit, 🗑 after a post its
    channel deleted. Times are in `tz` (UTC without one), as the alert's own time, with the day
    where it is not the alert's day. `name` gives each channel's name as the line shows it."""
    day = _local(alert.date, tz)
    edits = alert.story_edits

    def edited(link: str) -> str:
        return f" ({edited_note(edits[link], alert.date, tz)})" if link in edits else ""

    if not alert.story:
        own = f" ({edited_note(alert.edited_at, alert.date, tz)})" if alert.edited_at else ""
        return f"first: {name(alert.channel_title)} {_hhmm(alert.date, tz, day)}{own}"
    first = alert.story[0]
    shown: list[tuple[str, str, str]] = []
    seen = {first[0]}
    for p in alert.story[1:]:
        if p[0] not in seen and len(shown) < also:
            seen.add(p[0])
            shown.append(p)
    def gone(link: str) -> str:
        return f" {DELETED_ICON}" if link in alert.story_deleted else ""

    line = f"first: {name(first[0])} {_hhmm(first[1], tz, day)}{edited(first[2])}{gone(first[2])}"
    if shown:
        line += "; also " + ", ".join(f"{name(t)} {_hhmm(d, tz, day)}{edited(link)}{gone(link)}" for t, d, link in shown)
    more = max(alert.story_size, len(alert.story)) - 1 - len(shown)
    if more > 0:
        line += f" (+{more})"
    return line


def deliver_queued(store: Store, sink: AlertSink, titles: dict[str, str] | None = None,
                   rules: Container[str] | None = None, *, matcher: Matcher | None = None,
                   dropped: dict[int, str] | None = None) -> int:
    """Send every alert and alert update queued for the store's owner (`Store.owner`) in order,
    marking each sent; returns how many were sent. With `rules`, only those of the rules named: one
    of a rule switched off since an earlier run queued it stays queued (`unshown`). With `matcher`, a
    new alert whose post it no longer matches (the post or the rule edited since) quotes another post
    of its story that it matches (`matching_post`); with none, it is recorded muted (`NO_MATCH`), not
    shown, as the live sender does (`bot.live.retired`), and put in `dropped` (alert id -> rule). Each is
    claimed before it is shown (`claim`): a second replay into the store at the same time shows the others,
    never the same. An alert the live service takes over before the claim is the chat's only; one it
    takes over while shown stays queued for it (shown here too, never lost). An alert shown by a run
    stopped before its mark is sent again by the next (a JSON Lines file does not get its line twice:
    `JsonlSink`)."""
    sent = 0
    free_abandoned(store)
    for row in store.queued_alerts():
        if rules is not None and row["rule"] not in rules:
            continue
        alert_id, state = int(row["id"]), str(row["state"])  # type: ignore[call-overload]
        tag = claim(store, alert_id, state)
        if tag is None:  # another replay showed it meanwhile, or the live service took it over
            continue
        try:
            news = state != "queued" or matcher is None or _aim(store, row, tag, matcher)
            alert = load_alert(store, alert_id, titles, update=state == "update_queued") if news else None
            if alert is not None:
                sink.send(alert)
        except BaseException:  # Ctrl-C, a full disk: queued as it was, for the next run
            release(store, alert_id, tag)
            raise
        if not news:
            settle(store, alert_id, tag, "muted", error=NO_MATCH)
            if dropped is not None:
                dropped[alert_id] = str(row["rule"])
            continue
        if alert is None:
            settle(store, alert_id, tag, "failed", error="post no longer stored")
            continue
        settle(store, alert_id, tag, "sent", sent_at=utcnow())
        sent += 1
    return sent


def _aim(store: Store, row: dict[str, object], tag: str, matcher: Matcher) -> bool:
    """Aim the queued alert `row`, claimed by `tag`, at the post of its story it is to quote now
    (`matching_post`; kept claimed: the owner stays this process's tag); False when there is none,
    so it is no news."""
    key = (int(row["channel_id"]), int(row["message_id"]))  # type: ignore[call-overload]
    post = matching_post(store, str(row["rule"]), int(row["story_id"]), key, matcher)  # type: ignore[call-overload]
    if post is not None and (post.channel_id, post.message_id) != key:
        aim(store, row, post, tag)
    return post is not None


def unshown(store: Store, rules: Container[str]) -> dict[str, int]:
    """How many alerts and updates queued for the store's owner `deliver_queued` leaves for want of
    their rule in `rules`, per rule."""
    left: dict[str, int] = {}
    for row in store.queued_alerts():
        if (rule := str(row["rule"])) not in rules:
            left[rule] = left.get(rule, 0) + 1
    return left


_CLUSTER = regex.compile(r"\X")  # what is drawn as one character: Unicode's extended grapheme clusters


def _cluster_at(text: str, at: int) -> tuple[int, int]:
    """The grapheme cluster that holds `text[at]`: a letter and its marks (й typed as и + U+0306), an
    emoji with its skin tone, selector and tags, emoji joined by U+200D (👨‍👩‍👧), a flag's two
    letters (paired from where their run starts, so read from the last space before it)."""
    lo = max(text.rfind(" ", 0, at), text.rfind("\n", 0, at), 0)
    for m in _CLUSTER.finditer(text, lo):
        if m.end() > at:
            return m.span()
    return at, at


def _marks_end(text: str, at: int) -> int:
    """`at` moved on to the end of the character drawn at it: a cut or the end of a bold span never
    parts a letter from its marks, nor a flag or an emoji of several in two."""
    if not 0 < at < len(text):
        return at
    first, last = _cluster_at(text, at)
    return at if first == at else last


def _marks_start(text: str, at: int) -> int:
    """`at` moved back to the start of the character drawn at it: a window opens on whole characters."""
    return _cluster_at(text, at)[0] if 0 < at < len(text) else at


def snippet(text: str, spans: list[tuple[int, int]], width: int = 220) -> tuple[str, list[tuple[int, int]], int]:
    """A window of `text` around the first span: (window, spans shifted into it, window start).
    A span the window cuts is kept for the part shown; near the end of the text the window
    reaches further back, so a word at the very end has as much context as one in the middle."""
    if not spans:
        cut = text[:_marks_end(text, width)]
        return cut + ("…" if len(text) > len(cut) else ""), [], 0
    first = min(s for s, _ in spans)
    start = max(0, min(first - width // 3, len(text) - width))
    to_end = start + width >= len(text)
    ws = text.rfind(" ", 0, start)
    start = _marks_start(text, ws + 1 if start and ws >= 0 and start - ws < 20 else start)
    end = len(text) if to_end else _marks_end(text, start + width)
    window = text[start:end].replace("\n", " ")
    shifted = [(max(s, start) - start, min(_marks_end(text, e), end) - start) for s, e in spans if s < end and e > start]
    prefix = "…" if start else ""
    return prefix + window + ("…" if end < len(text) else ""), [(s + len(prefix), e + len(prefix)) for s, e in shifted], start
