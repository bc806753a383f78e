"""/test TEXT: which rules (the disabled ones too, marked) would match a text, which words hit, and
when none would, how close each came."""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import Callable
from dataclasses import astuple, replace
from typing import Any

from ...match.explain import occurrences
from ...match.matcher import Hit, Match, Matcher
from ...match.rules import DISABLED, Rule
from .common import Common
from .replies import Caller, Reply, _clip

__all__ = ["RuleTest"]


def _kind(run: list[Hit]) -> str:
    """How a term's occurrence was found: a phrase with a typo in any of its words is a typo's."""
    return "typo" if any(h.kind == "typo" for h in run) else run[0].kind


def _by_term(text: str, hits: tuple[Hit, ...] | list[Hit]) -> list[list[list[Hit]]]:
    """A match's hits as occurrences of their terms («в/ч» once, not its two parts), grouped by query
    term and kind, in order of first appearance."""
    groups: dict[tuple[str, str], list[list[Hit]]] = {}
    for run in occurrences(text, [astuple(h) for h in hits]):
        found = [Hit(*h) for h in run]
        groups.setdefault((found[0].term, _kind(found)), []).append(found)
    return list(groups.values())


def _hit_group(runs: list[list[Hit]], show: int = 3) -> str:
    """One term's occurrences for /test: the forms found, then how many and where when it repeats."""
    hits = [h for run in runs for h in run]
    forms = list(dict.fromkeys(h.form for h in hits))
    shown = ", ".join(f"<b>{html.escape(_clip(f, 40))}</b>" for f in forms[:show]) + (", …" if len(forms) > show else "")
    text = f"{shown} ← {html.escape(_clip(hits[0].term, 40))} ({_kind(runs[0])})"
    if len(runs) > 1:
        where = ", ".join(str(run[0].start) for run in runs[:show]) + (", …" if len(runs) > show else "")
        text += f" ×{len(runs)} at {where}"
    return text


class RuleTest(Common):
    """/test, with the matcher of the disabled rules it builds once per change of them."""

    matcher: Callable[[], Matcher]
    matching: contextlib.AbstractContextManager[Any]
    _off: tuple[tuple[Rule, ...], Matcher] | None

    async def cmd_test(self, args: str, caller: Caller) -> Reply:
        if not args:
            raise self._usage("test")
        matcher = self.matcher()
        off = await self._disabled_matcher(matcher)

        def test() -> tuple[list[Match], list[Match], list[tuple[str, str]]]:
            with self.matching:
                matches = matcher.match(args)
                off_matches = off.match(args) if off is not None else []
                # say how close each rule came: what an analyst testing a rule needs
                return matches, off_matches, [] if matches or off_matches else matcher.why_not(args)

        # in a worker thread: a rule costly for this text (a long NEAR chain) takes seconds, and posts,
        # alerts and other commands go on meanwhile
        matches, off_matches, why_not = await asyncio.to_thread(test)
        if not matches and not off_matches:
            why = [f"• <b>{html.escape(name)}</b>: {html.escape(w)}" for name, w in why_not]
            return Reply("\n".join(["No rule matches this text.", *why]))
        lines = []
        for m in matches:
            hits = ", ".join(_hit_group(group) for group in _by_term(args, m.hits))
            lines.append(f"✅ <b>{html.escape(m.rule)}</b> [{m.severity}]: {hits}")
        for m in off_matches:  # tested as `rules test` tests them, and marked: no alert comes of these
            hits = ", ".join(_hit_group(group) for group in _by_term(args, m.hits))
            lines.append(f"⏸ <b>{html.escape(m.rule)}</b> [{m.severity}] {DISABLED}: {hits}")
        return Reply("\n".join(lines))

    async def _disabled_matcher(self, live: Matcher) -> Matcher | None:
        """The disabled rules as if enabled (built again only when they change), for /test to show what
        they would match; None when every rule is enabled. Built in a worker thread, as the live
        service builds its matchers: 0.2 s for one shipped rule, and posts and alerts go on meanwhile."""
        off = tuple(r for r in self.rulebook.ruleset.rules if not r.enabled)
        if not off:
            return None
        if self._off is None or self._off[0] != off:
            built = await asyncio.to_thread(Matcher, [replace(r, enabled=True) for r in off], morphology=live.morph)
            self._off = (off, built)
        return self._off[1]
