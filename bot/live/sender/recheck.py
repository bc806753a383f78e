"""A queued alert checked against the rules in use before it goes: its post (or another of its story)
matched again in a worker thread, so one costly post holds nothing else; `retire` decides with it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ...alert.aim import first_matching
from ...match.matcher import Match, Matcher
from ...store.db import Store, iso
from ...store.read import StoredPost
from ..retired import retire, severity, to_aim, to_match
from .rows import _int

__all__ = ["Recheck"]


# the rules in use, queued alerts' posts matched with them, and for those whose post lacks the rule now
# the post of its story to quote instead (None: none), by alert id
_Matched = tuple[Matcher, dict[int, list[Match]], dict[int, StoredPost | None]]


class Recheck:
    """`Sender`'s `_no_news` and `_severity` of a queued alert by the rules in use (a mixin: it works on
    the state `Sender.__init__` sets)."""

    store: Store
    rules: Callable[[], Matcher] | None
    matching: AbstractContextManager[Any]

    def _no_news(self, row: dict[str, object], now: datetime, matched: _Matched | None = None) -> bool:
        """The queued alert's rule is switched off, or no longer matches its post nor another of its
        story: recorded muted; or the queued update's rule is switched off: dropped (`retire`); where
        another post of its story matches, the alert (and `row`) is aimed at it. `matched`: its post
        (and its story's) matched already (`_matched`), unless the rules in use changed since."""
        if self.rules is None:
            return False
        matcher = self.rules()
        if matched is None or matched[0] is not matcher:
            return retire(self.store, row, matcher, iso(now) or "")
        alert_id = _int(row["id"])
        return retire(self.store, row, matcher, iso(now) or "", matched[1].get(alert_id), matched[2].get(alert_id))

    async def _matched(self, rows: Sequence[dict[str, object]], now: datetime) -> _Matched | None:
        """The posts `retire` matches again for these alerts, matched in a worker thread with the rules in
        use, by alert id: one costly to match (seconds, for a long NEAR chain) holds no post, command or
        other alert meanwhile; so are the other posts of the story of one whose post lacks its rule now
        (`to_aim`), up to the first that has it. Matched again while the rules in use or a post (edited,
        joined) changed meanwhile (as `Ingest._match`): current for a caller that awaits nothing before
        `retire`."""
        if self.rules is None:
            return None
        while True:
            matcher = self.rules()
            posts = self._to_match(rows, matcher)
            matched = await asyncio.to_thread(self._match, matcher, posts) if posts else {}
            others = self._to_aim(rows, matched, now)
            aims = await asyncio.to_thread(self._first_matching, matcher, others) if others else {}
            if matcher is self.rules() and posts == self._to_match(rows, matcher) and others == self._to_aim(rows, matched, now):
                return matcher, matched, aims

    def _to_aim(self, rows: Sequence[dict[str, object]], matched: dict[int, list[Match]],
                now: datetime) -> dict[int, tuple[str, list[StoredPost]]]:
        """For each of these alerts whose post `matched` lacks its rule: the rule and the other posts of
        its story it may quote instead (`to_aim`: not of a channel muted at `now`), by alert id."""
        return {aid: (str(r["rule"]), others) for r in rows if (aid := _int(r["id"])) in matched
                and (others := to_aim(self.store, r, matched[aid], iso(now)))}

    def _first_matching(self, matcher: Matcher, others: dict[int, tuple[str, list[StoredPost]]]) -> dict[int, StoredPost | None]:
        with self.matching:
            return {alert_id: first_matching(posts, rule, matcher) for alert_id, (rule, posts) in others.items()}

    def _to_match(self, rows: Sequence[dict[str, object]], matcher: Matcher) -> dict[int, StoredPost]:
        """The stored posts `retire` matches again for these alerts (`to_match`), by alert id."""
        return {_int(r["id"]): p for r in rows if (p := to_match(self.store, r, matcher)) is not None}

    def _match(self, matcher: Matcher, posts: dict[int, StoredPost]) -> dict[int, list[Match]]:
        with self.matching:
            return {alert_id: matcher.match(post) for alert_id, post in posts.items()}

    def _severity(self, row: dict[str, object]) -> str:
        """The queued alert's severity: its rule's as it is now (`retired.severity`), the stored one without rules."""
        return severity(self.store, row, self.rules()) if self.rules is not None else str(row["severity"])
