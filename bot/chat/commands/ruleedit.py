"""/enable, /disable, /add_rule and /edit_rule: a rule change, checked and back-tested before the
analyst confirms it (the Confirm and Cancel buttons)."""

from __future__ import annotations

import html
import re
import secrets
import sqlite3

from ...alert.html import bold_spans, channel_text
from ...alert.outbox import snippet
from ...live.dbfaults import store_down
from ...match.edit import Change, backtest_query
from ...match.rules import DISABLED, _NAME_RE, Rule, RuleError, name_problem
from ...store.backtest import Backtest
from ...store.db import Store
from .common import Common
from .export import _FORMATS
from .replies import Caller, CommandError, Reply, _clip_quoted, _echo
from .rules import _terms_line
from .spans import _SPAN_RE

__all__ = ["PENDING_MAX", "RuleEdits"]

PENDING_MAX = 20  # rule-change proposals whose Confirm button still works (in memory only)


class RuleEdits(Common):
    """The commands that change a rule file, and the buttons that confirm a change."""

    pending: dict[str, tuple[Change, int]]
    answered: dict[str, str]

    async def cmd_enable(self, args: str, caller: Caller) -> Reply:
        return self._set_enabled(args, caller, True)

    async def cmd_disable(self, args: str, caller: Caller) -> Reply:
        return self._set_enabled(args, caller, False)

    async def cmd_add_rule(self, args: str, caller: Caller) -> Reply:
        typed, query = self._name_query(args, "add_rule")
        name = typed.lower()  # names are lower case; a phone capitalises the first letter (/rule takes any case too)
        if not _NAME_RE.fullmatch(name) or "\n" in name:
            problem = name_problem(name)  # («name 'x' has 'ж': a rule name is …»), as rules check says it
            raise CommandError(f"bad rule name {_echo(typed)}: " + (problem.split("' ", 1)[-1] if problem.startswith("name '") else problem))
        if name in _FORMATS or _SPAN_RE.fullmatch(name):
            raise CommandError(f"{_echo(typed)} cannot be a rule name: /export and /stats would read it as "
                               f"{'a file format' if name in _FORMATS else 'a period'}")
        return await self._propose(self.rulebook.plan_add(name, query), caller, typed=typed)

    async def cmd_edit_rule(self, args: str, caller: Caller) -> Reply:
        name, query = self._name_query(args, "edit_rule")
        key = name.lower()  # a rule out of use for an error in its query: this is how the chat fixes it
        target = key if key in self.rulebook.ruleset.failed else self._rule(name, "edit_rule").name
        return await self._propose(self.rulebook.plan_edit(target, query), caller, typed=name)

    def _name_query(self, args: str, command: str) -> tuple[str, str]:
        """NAME and QUERY, split at the first run of any Unicode whitespace (a no-break space too)."""
        name, *rest = re.split(r"\s+", args.strip(), maxsplit=1)
        query = rest[0].strip() if rest else ""
        if not name or not query:
            raise self._usage(command)
        return name, query

    def _set_enabled(self, args: str, caller: Caller, enabled: bool) -> Reply:
        rule = self._rule(args, "enable" if enabled else "disable")
        if rule.enabled == enabled:
            return Reply(f"{html.escape(rule.name)} is already {'enabled' if enabled else 'disabled'}.")
        self.rulebook.apply(self.rulebook.plan_set_enabled(rule.name, enabled), user_id=caller.user_id, user_name=caller.name)
        self._changed = self.on_rules_changed()
        return Reply(f"{'✅' if enabled else '⏸'} {html.escape(rule.name)} {'enabled' if enabled else 'disabled'}. /undo takes it back.")

    async def _propose(self, change: Change, caller: Caller, *, typed: str | None = None) -> Reply:
        """The change back-tested, with Confirm and Cancel buttons; an EditError first when it could not be saved.
        `typed`: the rule's name as the analyst wrote it; when that is not the name used («Drones»), a line says so."""
        now = self.clock()
        def test(store: Store) -> tuple[list[RuleError], Rule | None, Backtest, list[RuleError]]:  # rules built: off the loop
            warnings, rule = self.rulebook.preview(change)  # as it will be saved: a rule out of use for an error keeps its channels
            return (warnings, rule, backtest_query(store, change.rule, change.query_after or "", days=7, now=now, rule=rule,
                                                   groups=self.config.groups), self.rulebook.broken_examples(change, rule))

        warnings, rule, bt, broken = await self._off_loop(test)
        token = secrets.token_hex(4)
        self.pending = {k: v for k, v in list(self.pending.items())[-(PENDING_MAX - 1):]}
        self.pending[token] = (change, caller.user_id)
        verb = "Add" if change.action == "add" else "Change"
        lines = [f"<b>{verb} rule {html.escape(change.rule)}</b> in {html.escape(change.file.name)}"
                 + (f" {DISABLED}" if rule is not None and not rule.enabled else "")]
        if typed is not None and typed != change.rule:
            lines.append(f"(written {html.escape(_echo(typed))}: rule names are lower case, so it is "
                         f"<b>{html.escape(change.rule)}</b>)")
        if change.query_before:
            lines.append(f"before: <code>{html.escape(change.query_before)}</code>")
        lines.append(f"after: <code>{html.escape(change.query_after or '')}</code>")
        lines += [f"⚠️ {html.escape(_clip_quoted(w.brief()))}" for w in warnings]
        if broken:  # `rules check` fails on each once confirmed: the examples are the file's guard against a bad edit
            lines.append(f"⚠️ {'This query breaks' if change.query_before else 'It breaks'} {len(broken)} of the rule's own "
                         f"examples (should_match / should_not_match); <code>tgwatch rules check</code> fails until the "
                         f"query or the examples in {html.escape(change.file.name)} are fixed:")
            lines += [f"❌ {html.escape(_clip_quoted(e.brief()))}" for e in broken[:5]]
            lines += [f"❌ and {len(broken) - 5} more"] if len(broken) > 5 else []
        stored = bt.stored.get(change.rule, 0)
        hits = bt.hits.get(change.rule, 0)
        lines.append(f"Back-test, last 7 days: {hits} of {bt.posts} post{'s' * (bt.posts != 1)} would match"
                     + (f" (now {stored})" if change.query_before else "") + ".")
        if hits:
            lines.append(_terms_line(bt.terms.get(change.rule, {})))
        for post, matches in list(bt.samples)[-3:]:  # the words around the hit: why the post is here
            window, spans, _ = snippet(post.text, [(h.start, h.end) for m in matches for h in m.hits], width=160)
            lines.append(f'• <a href="{html.escape(post.link, quote=True)}">{channel_text(post.channel_title)}</a>: '
                         f"{bold_spans(window, spans)}")
        return Reply("\n".join(lines), buttons=[[("✅ Confirm", f"ok:{token}"), ("✖️ Cancel", f"no:{token}")]])

    def _confirm(self, token: str, caller: Caller, ok: bool) -> Reply:
        item = self.pending.pop(token, None)
        if item is None:
            if token in self.answered:
                return Reply("", toast=f"This change was already {self.answered[token]}.")
            return Reply("", toast=f"This proposal has expired (confirm buttons last until the bot restarts or "
                                   f"{PENDING_MAX} newer proposals); send the command again.")
        change, _asker = item
        self.answered = {k: v for k, v in list(self.answered.items())[-99:]}
        self.answered[token] = "cancelled"
        if not ok:
            return Reply(f"Cancelled: rule {html.escape(change.rule)} unchanged.")
        self.answered[token] = "refused (not saved)"
        try:
            self.rulebook.apply(change, user_id=caller.user_id, user_name=caller.name)
        except sqlite3.OperationalError as e:
            if store_down(e) is not None:  # not refused, only not now: Confirm works again in a moment
                self.pending[token] = item
                self.answered.pop(token)
            raise
        self.answered[token] = "confirmed"
        self._changed = self.on_rules_changed()
        return Reply(f"✅ Rule {html.escape(change.rule)} saved to {html.escape(change.file.name)}. /undo takes it back.")
