"""The analysts' chat: commands, triage buttons and their Telegram bot glue, a face over the core."""

from .commands import Caller, Commands, Reply, parse_span

__all__ = ["Caller", "Commands", "Reply", "parse_span"]
