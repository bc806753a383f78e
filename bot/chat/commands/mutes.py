"""/mute, /unmute, /mute_channel, /unmute_channel and the mute buttons under an alert: silence a
rule or a channel for a while; and the channel /mute_channel names."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from ...alert.html import channel_text, local_time
from ...config import channel_ref
from ...post import TG_LINK_RE, cut_link, link_channel
from ...store.alerts import alert_post
from ...store.db import iso
from ...store.read import AmbiguousChannel, resolve_channels
from .common import Common
from .export import _distinct
from .replies import Caller, CommandError, Reply, _clip, _echo
from .spans import _SPAN_RE, _spans_joined, parse_span

__all__ = ["Mutes"]


def _split_span(args: str) -> tuple[str, str] | None:
    """«Сводка 24 1d» -> ("Сводка 24", "1d"): what precedes a trailing period (1d, or 2 h with a
    space) and the period; the last word is taken as the period when none is found, so
    `parse_span` says what is wrong with it. None with fewer than two words."""
    words = args.split()
    if len(words) < 2:
        return None
    take = 2 if len(words) > 2 and not _SPAN_RE.fullmatch(words[-1]) and _SPAN_RE.fullmatch(" ".join(words[-2:])) else 1
    head = args.strip()
    for _ in range(take):  # cut the period's words off the end, keeping the title as written
        head = head[:len(head) - len(head.split()[-1])].rstrip()
    return head, " ".join(words[-take:])


class Mutes(Common):
    """The mute commands and buttons."""

    async def cmd_mute(self, args: str, caller: Caller) -> Reply:
        words = _spans_joined(args.split())  # «2 h» is a duration too, as /stats 7 d
        if len(words) < 2:
            raise self._usage("mute")
        if _SPAN_RE.fullmatch(words[0]) and not _SPAN_RE.fullmatch(words[-1]):  # «/mute 2h desertion», as it is said
            span, names = words[0], words[1:]
        else:
            span, names = words[-1], words[:-1]
        until = self.clock() + parse_span(span)  # first: «/mute desertion regiment» names its missing period
        if len(periods := _distinct([w for w in words if _SPAN_RE.fullmatch(w)], parse_span)) > 1:
            raise CommandError(f"two periods ({_echo(periods[0], 20)}, {_echo(periods[1], 20)}): give one")
        if not (names := [n for n in names if not _SPAN_RE.fullmatch(n)]):  # the same period twice means the same
            raise self._usage("mute")
        rules = [self._rule(n, "mute") for n in dict.fromkeys(n.lower() for n in names)]  # several, as /export takes them
        for rule in rules:  # each checked before any is muted: a typo in the second mutes nothing
            self.store.mute(rule.name, iso(until) or "", by_user=caller.user_id)
        names_shown = html.escape(", ".join(r.name for r in rules))
        lift = f"/unmute {names_shown} lifts it" if len(rules) == 1 else "/unmute NAME lifts each"
        return Reply(f"🔕 {names_shown} muted until {local_time(until, self.config.zone)}. {lift}.")

    async def cmd_unmute(self, args: str, caller: Caller) -> Reply:
        rule = self._rule(args, "unmute")  # a rule, never the all-rules marker '*' of /mute_channel
        n = self.store.unmute(rule.name, iso(self.clock()) or "")  # a mute that ran out is no mute
        return Reply(f"🔔 {html.escape(rule.name)} unmuted." if n else f"{html.escape(rule.name)} was not muted.")

    async def cmd_mute_channel(self, args: str, caller: Caller) -> Reply:
        parts = _split_span(args)  # the period last: a channel's title may have spaces (Сводка 24)
        if parts is None:
            raise self._usage("mute_channel")
        ref, span = parts
        first = args.split()[0]
        if _SPAN_RE.fullmatch(first) and not _SPAN_RE.fullmatch(span):  # «/mute_channel 1d @mash»: the period first
            ref, span = args.strip()[len(first):].strip(), first
        until = self.clock() + parse_span(span)  # first: in «Сводка 24» with no period, 24 is no period
        ids = self._channel(ref)
        if not ids:
            raise CommandError(f"no stored channel {_echo(cut_link(ref))}")
        self.store.mute("*", iso(until) or "", channel_id=ids[0], by_user=caller.user_id)
        return Reply(f"🔕 {channel_text(self._channel_name(ids[0]))} muted for every rule until "
                     f"{local_time(until, self.config.zone)}. /unmute_channel {html.escape(self._channel_ref(ids[0]))} lifts it.")

    async def cmd_unmute_channel(self, args: str, caller: Caller) -> Reply:
        ref = args.strip()
        if not ref:
            raise self._usage("unmute_channel")
        ids = self._channel(ref)
        if not ids:  # a typo must not read as "that channel is not muted"
            raise CommandError(f"no stored channel {_echo(cut_link(ref))}")
        n = sum(self.store.unmute_channel(i, iso(self.clock()) or "") for i in ids)
        name = ", ".join(channel_text(self._channel_name(i)) for i in ids)
        return Reply(f"🔔 {name} unmuted." if n else f"{name} was not muted.")

    def _mute_from_alert(self, alert_id: int, caller: Caller, *, channel: bool) -> Reply:
        alert = alert_post(self.store, alert_id)
        if alert is None:
            return Reply("", toast="This alert is no longer stored.")
        rule, channel_id = alert.rule, alert.channel_id
        if self.rulebook.ruleset.get(rule) is None:  # removed (or out of use) since: no /unmute could lift the mute
            why = "is out of use for an error" if rule in self.rulebook.ruleset.failed else "is no longer in the rules"
            return Reply("", toast=f"Rule {_clip(rule, 40)} {why}: nothing to mute.")
        now = self.clock()
        until = now + (timedelta(days=1) if channel else timedelta(hours=1))
        self.store.mute(rule, iso(until) or "", channel_id=channel_id if channel else None, by_user=caller.user_id)
        if channel:
            return Reply(f"🔕 {html.escape(rule)} muted for {channel_text(self._channel_name(int(channel_id)))} "
                         f"until {local_time(until, self.config.zone)}. /unmute {html.escape(rule)} lifts it.")
        return Reply(f"🔕 {html.escape(rule)} muted until {local_time(until, self.config.zone)}. "
                     f"/unmute {html.escape(rule)} lifts it.")

    def _channel(self, ref: str) -> list[int]:
        """Stored channel ids for @name, t.me/name, a post's link (t.me/c/123/45, as alerts link it),
        an id or the channel's exact title (any case): what the CLI's --channel takes (a store
        replayed from Desktop exports knows titles only); CommandError when it names no channel."""
        key: str | int
        try:
            key = channel_ref(ref)
        except ValueError:
            if link_channel(ref) is not None:
                key = ref.strip()  # `resolve_channels` reads the channel out of the link
            elif ref.strip().startswith("@") or TG_LINK_RE.search(ref) or not re.search(r"[^\W_]", ref):  # no title either
                raise CommandError(f"{_echo(cut_link(ref))} is not a channel: use @name, t.me/name, its id or its title") from None
            else:
                key = ref.strip()  # not shaped like a username: a title (Сводка 24)
        try:
            return resolve_channels(self.store, [key])[0]
        except AmbiguousChannel as e:  # a title several stored channels share
            raise CommandError(str(e)) from None
