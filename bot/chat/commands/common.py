"""What every command group builds on: the state `Commands` sets, the usage answer, the rules and
channels a command names, and long reads run off the loop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ...alert.html import local_time
from ...config import Config
from ...match.edit import RuleBook
from ...report.stats import channel_name
from ...store.db import Store, off_loop
from ...store.read import OutsideStored
from ...text import unformat
from .replies import CommandError, _echo

__all__ = ["USAGE", "Common"]

# What a command needs, and an example, for the answer to one sent without it: {rule} is a rule in
# use, {channel} a stored channel's @username (so the example works as it is written)
USAGE = {
    "rule": ("/rule NAME", "/rule {rule}"),
    "test": ("/test TEXT", "/test В Краснодаре задержали дезертира"),
    "enable": ("/enable NAME", "/enable {rule}"),
    "disable": ("/disable NAME", "/disable {rule}"),
    "mute": ("/mute NAME 2h", "/mute {rule} 2h"),
    "unmute": ("/unmute NAME", "/unmute {rule}"),
    "mute_channel": ("/mute_channel C 1d (C: @name, id, title or a post link)", "/mute_channel {channel} 1d"),
    "unmute_channel": ("/unmute_channel C", "/unmute_channel {channel}"),
    "search": ("/search WORDS [7d]", "/search дезертир 7d"),
    "story": ("/story N (the #N an alert or /stories gives)", "/story 12"),
    "add_rule": ("/add_rule NAME QUERY", "/add_rule drones дрон OR беспилотник"),
    "edit_rule": ("/edit_rule NAME QUERY", "/edit_rule {rule} дезертир OR самовольно"),
}

T = TypeVar("T")


class Common:
    """The parts the command groups share (a mixin: it works on the state `Commands.__init__` sets)."""

    store: Store
    rulebook: RuleBook
    config: Config
    clock: Callable[[], datetime]
    on_rules_changed: Callable[[], object]  # (called after a rule change: `RuleEdits`, `Undo`)
    _changed: object

    def _usage(self, command: str) -> CommandError:
        """«usage: /mute NAME 2h, e.g. /mute desertion 2h»: the answer to `command` sent without
        what it needs (`USAGE`), its example naming a rule in use and a stored channel."""
        form, example = USAGE[command]
        rules = sorted(r.name for r in self.rulebook.ruleset.rules)
        username = self.store.first_username()
        return CommandError(f"usage: {form}, e.g. " + example.format(rule=rules[0] if rules else "desertion",
                                                                    channel=f"@{username}" if username else "@name"))

    def _rule(self, name: str, command: str) -> Any:
        """The rule NAME names (any case) for `command`; its usage when NAME is missing."""
        name = name.strip()
        if not name:
            raise self._usage(command)
        key = unformat(name) or name  # an RTL mark that came with a name pasted from an RTL interface is no part of it
        rule = self.rulebook.ruleset.get(key)  # any case: names are lower case; a phone capitalises
        if rule is None and (error := self.rulebook.ruleset.failed.get(key.lower())) is not None:
            raise CommandError(f"rule {_echo(name)} is out of use for an error: {error.brief()}; "
                               f"fix it in the file, or its query with /edit_rule {key.lower()} QUERY")
        if rule is None:
            have = ", ".join(sorted(r.name for r in self.rulebook.ruleset.rules))
            raise CommandError(f"no rule named {_echo(name)} (have: {have})")
        return rule

    def _channel_ref(self, channel_id: int) -> str:
        """How a command names a stored channel: @username, else its id (a title may have spaces)."""
        row = self.store.channel(channel_id) or {}
        return f"@{row['username']}" if row.get("username") else str(channel_id)

    def _channel_name(self, channel_id: int) -> str:
        """A stored channel as answers name it, as /status does: «SHOT (@shot_shot)», its title or
        @username alone when only one is known, else its id."""
        row = self.store.channel(channel_id) or {}
        return channel_name(channel_id, str(row.get("title") or ""), row.get("username"))  # type: ignore[arg-type]

    def _outside(self, outside: OutsideStored | None) -> str:
        """The line a reply that found nothing ends with when its period lies wholly after the newest
        stored post (or before the oldest), as the CLI's `note:` says (`outside_stored`): «nothing in
        the last 7 d» must not read as «nothing happened» on a store whose posts end earlier."""
        if outside is None:
            return ""
        return (f"\nℹ️ Nothing stored is in that period: the {'newest' if outside.after else 'oldest'} stored post is "
                f"from {local_time(outside.edge, self.config.zone)} (a period like 7d counts back from now).")

    async def _off_loop(self, work: Callable[[Store], T]) -> T:
        """Run a long read (an export, a chart, a back-test) in a worker thread on its own SQLite
        connection, so live posts and alerts are not held up meanwhile."""
        return await off_loop(self.store, work)
