"""/rules and /rule NAME: the rules in use with their hits, mutes and errors; one rule's query, the
terms that brought its hits, and its triage."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from pathlib import Path

from ...alert.html import channel_text, local_time
from ...report.stats import RuleStats, rule_stats
from ...store.backtest import TermHits, stored_term_hits
from ...store.counts import rule_hits
from ...store.db import Store, iso
from .common import Common
from .replies import Caller, Reply, _clip

__all__ = ["RuleViews"]


def _terms_line(terms: dict[str, TermHits], shown: int = 3, words: int = 2) -> str:
    """The back-test's few busiest terms with the words they caught, and how many caught nothing:
    which terms to keep, and which only bring noise."""
    top = TermHits.ranked(terms)
    parts = [f"<b>{html.escape(_clip(t.written, 40))}</b> {t.posts} ({html.escape(', '.join(t.top_words(words)))})"
             for t in top[:shown]]
    idle = sum(not t.posts for t in terms.values())
    rest = [f"{len(top) - shown} more term{'s' * (len(top) - shown != 1)} hit"] * (len(top) > shown) + [f"{idle} hit nothing"] * bool(idle)
    return "Terms: " + "; ".join(parts) + (f"; {', '.join(rest)}" if rest else "") + "."


class RuleViews(Common):
    """The commands that show the rules."""

    async def cmd_rules(self, args: str, caller: Caller) -> Reply:
        now = self.clock()
        since = now - timedelta(days=7)
        hits = await self._off_loop(lambda store: rule_hits(store, since))  # as /rule: a week of matches read off the loop
        lines = ["<b>Rules</b> (hits in 7 days)"]
        for r in sorted(self.rulebook.ruleset.rules, key=lambda r: r.name):
            state = "on" if r.enabled else "off"
            muted = self.store.muted(r.name, 0, iso(now) or "")
            mute = f", muted until {local_time(muted, self.config.zone)}" if muted else ""
            lines.append(f"• <b>{html.escape(r.name)}</b> [{r.severity}, {state}{mute}]: {hits.get(r.name, 0)}. "
                         f"{html.escape(r.title)}")
        for e in [*self.rulebook.ruleset.errors, *self.rulebook.ruleset.unread]:  # a file not read: its rules never run
            lines.append(f"⚠️ {html.escape(e.brief())}")
        lines += self._channel_mutes(now)
        return Reply("\n".join(lines))

    def _channel_mutes(self, now: datetime) -> list[str]:
        """The channel mutes running (/mute_channel, and a rule muted for a channel by an alert's
        button), one line each: shown nowhere else, a week's mute would be forgotten."""
        return [f"🔕 {channel_text(self._channel_name(m.channel_id))}: "
                f"{'every rule' if m.rule == '*' else html.escape(m.rule)}, until {local_time(m.until, self.config.zone)}"
                for m in self.store.channel_mutes(iso(now) or "") if m.channel_id is not None]

    async def cmd_rule(self, args: str, caller: Caller) -> Reply:
        rule = self._rule(args, "rule")
        now = self.clock()
        since = now - timedelta(days=7)

        def count(store: Store) -> tuple[int, dict[str, TermHits], RuleStats]:  # a matcher built, the week's hits matched again
            n = rule_hits(store, since).get(rule.name, 0)
            triage = next(s for s in rule_stats(store, since=since, now=now, rules=[rule.name]) if s.rule == rule.name)
            return n, stored_term_hits(store, rule, since) if n else {}, triage

        hits, terms, triage = await self._off_loop(count)  # 0.2 s and more: alerts and commands go on meanwhile
        scope = "all channels" if rule.channels is None else ", ".join(rule.channels)
        lines = [f"<b>{html.escape(rule.name)}</b>: {html.escape(rule.title)}",
                 f"severity {rule.severity}, {'enabled' if rule.enabled else 'disabled'}, {html.escape(scope)}",
                 f"query: <code>{html.escape(rule.query)}</code>"]
        lines += [f"exclude: <code>{html.escape(x)}</code>" for x in rule.exclude]
        lines.append(f"hits in the last 7 days: {hits}")
        if hits:
            lines.append(_terms_line(terms))
        if triage.alerts or triage.verdicts:  # what tuning the rule is for: how many of its alerts were right
            p = triage.precision
            held = f" ({triage.held} held)" if triage.held else ""
            lines.append(f"alerts: {triage.alerts}{held}; triage: " + ("no verdicts yet" if p is None else
                         f"{triage.relevant} relevant, {triage.false_positive} false positive (precision {p:.2f})"))
        lines.append(f"file: {html.escape(Path(rule.path).name)}:{rule.line}")
        return Reply("\n".join(lines))
