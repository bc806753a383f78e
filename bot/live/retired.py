"""An alert held back (a flood wait, an unreachable chat, the digest) goes out only while its post
is news by the rules in use: one whose rule the analysts switched off (`/disable`, `enabled = false`)
or removed, or whose post the rule no longer matches (the rule or the post edited since) nor any
other post of its story, is recorded muted with the reason, never sent, and stays so when the rule
comes back: week-old news is no news (a later matching post of its story may take it over, or its
own post edited to match again: `bot.live.unmuted`). One whose post an edit took the rule's words
out of while another post of its story still has them quotes that post instead, as replay's does
(`bot.alert.aim`). A sent alert of a rule out of use gets no story update (no edit) either. One
still waiting goes out with its rule's severity as it is now (`severity`): raised to high, at once;
lowered to low, in the digest."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from ..alert.aim import aim, first_matching, others
from ..alert.outbox import NO_MATCH
from ..match.matcher import Match, Matcher
from ..store.alerts import set_severity
from ..store.db import Store, utcnow
from ..store.read import StoredPost, stored_post

__all__ = ["NO_MATCH", "RULE_OFF", "retire", "severity", "to_aim", "to_match"]

log = logging.getLogger(__name__)

RULE_OFF = "rule switched off"


def to_match(store: Store, row: Mapping[str, object], matcher: Matcher) -> StoredPost | None:
    """The stored post `retire` matches again to decide on the alert `row` (None: no match decides), for
    the caller to match off the event loop and hand to `retire` (`matches`)."""
    if row["state"] == "update_queued" or not any(r.name == row["rule"] for r in matcher.rules):
        return None
    return stored_post(store, int(row["channel_id"]), int(row["message_id"]))  # type: ignore[call-overload]


def to_aim(store: Store, row: Mapping[str, object], matches: Sequence[Match], now: str | None = None) -> list[StoredPost]:
    """The posts of its story `retire` may aim the queued alert `row` at (`bot.alert.aim.others`) when
    its own post's `matches` (`to_match`) lack its rule, for the caller to match off the event loop
    (`first_matching`) and hand to `retire` (`instead`); none while its post matches. Not those of a
    channel the analysts muted the rule for (at `now`, by default the time of the call): aimed at one,
    the alert would be muted, though a later report of a channel not muted has the words."""
    if any(m.rule == row["rule"] for m in matches):
        return []
    rule, at = str(row["rule"]), now or utcnow()
    posts = others(store, int(row["story_id"]), (int(row["channel_id"]), int(row["message_id"])))  # type: ignore[call-overload]
    muted = {c for c in {p.channel_id for p in posts} if store.muted(rule, c, at)}
    return [p for p in posts if p.channel_id not in muted]


def retire(store: Store, row: dict[str, object], matcher: Matcher, now: str,
           matches: Sequence[Match] | None = None, instead: StoredPost | None = None) -> bool:
    """Mark the queued alert `row` muted, saying why, when `matcher` (the rules in use) no longer
    has its rule or no longer matches its post with it (matched again here: the stored matches of a
    rule edited meanwhile may not be caught up yet), nor another post of its story that its channel
    has not deleted; one log line. Where one still matches, the alert is aimed at it (`aim`, and in
    `row`). False when it is news still (or its post is gone: the sender fails it). A queued story
    update of a sent alert whose rule is out of use is dropped (the alert stays as it was sent, no
    edit): its next update, once the rule is back, shows the whole story. `matches`: the post's
    (`to_match`) with `matcher`, and `instead` the first of `to_aim` it matches, matched by the caller
    (`matches` None: both matched here)."""
    rule, key = str(row["rule"]), (int(row["channel_id"]), int(row["message_id"]))  # type: ignore[call-overload]
    in_use = any(r.name == rule for r in matcher.rules)
    if row["state"] == "update_queued":
        if in_use:
            return False
        store.mark_alert(int(row["id"]), "sent", mine=True)  # type: ignore[call-overload]
        log.info("alert %s (%s, story %s): story update not sent: %s", row["id"], rule, row["story_id"], RULE_OFF)
        return True
    if not in_use:
        why = RULE_OFF
    else:
        post = stored_post(store, *key)
        if post is None:
            return False
        if matches is None:
            matches = matcher.match(post)
            instead = first_matching(to_aim(store, row, matches, now), rule, matcher)
        if any(m.rule == rule for m in matches):
            return False
        if instead is not None:
            if not aim(store, row, instead, store.owner):
                return True  # moved meanwhile (a post of another channel took it over): the next pass reads it
            row["channel_id"], row["message_id"] = instead.channel_id, instead.message_id
            return False
        why = NO_MATCH
    if store.mute_alert(int(row["id"]), key, now=now, reason=why):  # type: ignore[call-overload]
        log.info("alert %s (%s, story %s) not sent: %s", row["id"], rule, row["story_id"], why)
    return True


def severity(store: Store, row: dict[str, object], matcher: Matcher) -> str:
    """The severity the queued alert `row` goes out with: its rule's in `matcher` (the rules in use),
    stored with the alert (and in `row`) when the analysts changed it since the alert was queued, so
    its message and /status say it too; the alert's own when its rule is not in use."""
    rule = next((r for r in matcher.rules if r.name == row["rule"]), None)
    if rule is None or rule.severity == row["severity"]:
        return str(row["severity"])
    if set_severity(store, int(row["id"]), rule.severity):  # type: ignore[call-overload]
        log.info("alert %s (%s, story %s) goes out as %s, its rule's severity now", row["id"], rule.name, row["story_id"], rule.severity)
        row["severity"] = rule.severity
    return str(row["severity"])
