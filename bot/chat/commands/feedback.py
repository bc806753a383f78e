"""The triage buttons under an alert or a digest item: relevant / false positive, recorded for the
precision /stats and /rule show."""

from __future__ import annotations

from ...alert.html import isolated
from ...alert.outbox import short_time
from ...store.alerts import alert_post
from ...store.db import iso
from .common import Common
from .replies import Caller, Reply, _clip

__all__ = ["Feedback"]


class Feedback(Common):
    """The triage buttons' verdict (a mixin of `Commands`, as each command group is)."""

    def _verdict(self, alert_id: int, verdict: str, caller: Caller) -> Reply:
        """Record a verdict; the toast names the post (channel, time) too: under a digest of 20 items,
        a press on the row next to the one meant shows at once."""
        rule = self.store.record_feedback(alert_id, caller.user_id, verdict)
        if rule is None:
            return Reply("", toast="This alert is no longer stored.")
        alert = alert_post(self.store, alert_id)
        post = ""
        if alert is not None and alert.date:
            name = alert.channel_title or (f"@{alert.username}" if alert.username else "the channel")
            post = f" ({isolated(_clip(name, 40))}, {short_time(alert.date, self.config.zone, iso(self.clock()))})"
        return Reply("", toast=f"Recorded: {'relevant' if verdict == 'relevant' else 'false positive'} for {rule}{post}.")
