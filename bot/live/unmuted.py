"""A story a mute kept quiet still alerts when a channel that is not muted reports it.

The store keeps one alert per (story, rule), aimed at the post that raised it. When that post's
channel was muted for the rule (/mute_channel, the «channel for rule 1 d» button) the alert is
dropped as muted, and every later post of the story only joins it: another channel's report of
the same event, or the rule's own post after a rule mute ran out, never alerted. Here the alert is
aimed at such a post instead and queued again. So is a story's alert a replay into the live store
raised (`alerts.owner`: its terminal's, never the chat's) when a live post joins the story: the
service takes it over, as the one alert of its (story, rule), and the chat hears of it; so it does
when the service first reads a post the replay stored before it (a Desktop export of the last hour).
And so is one not sent because an edit took the rule's words out of its post (`NO_MATCH`) when an
edit puts them back: news again, as a new post with them would be."""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime

from ..alert.outbox import NO_MATCH
from ..pipeline import Processed
from ..store.db import Store, iso
from ..store.deliveries import went_out
from .resolve import BACKFILL_ALERTS

__all__ = ["rearm_muted"]

log = logging.getLogger(__name__)


def rearm_muted(store: Store, processed: Sequence[Processed], *, now: datetime,
                alert_after: datetime | None = None, fresh: Collection[tuple[int, int]] = (),
                rules: Collection[str] | None = None) -> list[int]:
    """For each post just stored that matches a rule whose story alert a mute holds back (muted, or
    queued for a post of a muted channel) or a replay raised (in any state: the chat never had it),
    with its own channel not muted: the alert is aimed at that post and queued, for this store's
    owner; its id is added to the post's `alert_ids`. A post read `fresh` (keys: the service's first
    read of it, past the channel's mark or pushed as new) that a replay stored first takes the
    replay's alert over too, even one aimed at it, for each rule of `rules` it matches as stored.
    Posts older than `alert_after` (a backfill's, a seeded channel's, a long downtime's) raise
    nothing, as in the pipeline, nor do posts over a day old (`BACKFILL_ALERTS`): an edit of one is
    no new report, and its story's alert may be muted as old news. Call it inside the
    transaction that stores the posts (`Pipeline.process(in_batch=...)`), so a crash cannot store a
    post and lose its alert. An alert's own post, edited, queues it again only where it was muted
    because an edit had taken the rule's words out of it (`NO_MATCH`). Returns the alerts queued again."""
    at = iso(now) or ""
    out: list[int] = []
    for p in processed:
        read_fresh = p.post.key in fresh
        if p.story_id is None or not (p.status in ("new", "edited") or p.status == "unchanged" and read_fresh):
            continue
        if alert_after is not None and p.post.date < alert_after or p.post.date < now - BACKFILL_ALERTS:
            continue  # (a post over a day old is no news, whatever brings it: an edit of a recovered one)
        stored = p.status == "unchanged"  # (a replay stored it first: it matches as stored)
        names = [r for r in store.matched_rules(p.post.key) if rules is None or r in rules] if stored \
            else [m.rule for m in p.matches]
        for rule in names:
            held = store.story_alert(p.story_id, rule)
            if held is None:
                continue
            alert_id, state, (channel_id, _), owner = held
            theirs = owner != store.owner  # a replay's: printed in its terminal at most
            # its own post: a replay's alert this fresh read takes over, else news again only where an
            # edit (not a read of the post as stored) put back the words it had lost
            back = held[2] == p.post.key and not (theirs and read_fresh)
            if back and (stored or state != "muted"):
                continue
            if not theirs and (stored or state not in ("queued", "muted")
                               or state == "queued" and not store.muted(rule, channel_id, at)):
                continue  # sent; or it goes out as it is, with this post in its story line
            if store.muted(rule, p.post.channel_id, at):
                continue  # this channel is muted too
            if store.deliveries(alert_id) and (state != "muted" or went_out(store, alert_id)):
                continue  # a send of the alert is under way, or went out in part
            # (a muted one only planned goes out under its planned random_ids: if that send did reach
            # the chat before a crash, Telegram drops the copy and the sender finds the one it has)
            if not store.reaim_alert(alert_id, p.post, was=state, now=at, why=NO_MATCH if back else None):
                continue  # (its own post: only when muted for the edit that took the words out, `NO_MATCH`)
            if alert_id in p.update_ids:  # (the pipeline queued an update of the replay's alert: it goes out whole)
                p.update_ids.remove(alert_id)
            was = "muted for its post edited to no longer match" if back else "a replay's" if theirs else "held by a mute"
            log.info("alert %d (%s, story %d) was %s: it now alerts for post %d of channel %d", alert_id, rule,
                     p.story_id, was, p.post.message_id, p.post.channel_id)
            p.alert_ids.append(alert_id)
            out.append(alert_id)
    return out
