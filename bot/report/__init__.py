"""Reports for the analysts' chat: /stats (a chart and a table), /status and the daily heartbeat.

Everything here is a pure function of the store and an explicit `now`; see `bot.report.stats`.
"""

from .stats import (
                    ChannelActivity,
                    RuleStats,
                    channel_activity,
                    heartbeat_text,
                    matches_per_day,
                    rule_stats,
                    stats_png,
                    stats_text,
                    status_text,
)

__all__ = ["ChannelActivity", "RuleStats", "channel_activity", "heartbeat_text", "matches_per_day", "rule_stats",
           "stats_png", "stats_text", "status_text"]
