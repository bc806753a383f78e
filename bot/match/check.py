"""Rule validation beyond syntax: every rule's own examples must behave as written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Mapping

from .matcher import Matcher
from .rules import RuleError, RuleSet, _Locator, read_rule_file

__all__ = ["check_examples"]


def check_examples(ruleset: RuleSet, matcher: Matcher | None = None,
                   texts: Mapping[str, str] | None = None) -> list[RuleError]:
    """Run each rule's `should_match` / `should_not_match` texts; one error per failing example.
    `texts`: file texts by path to point into, for a file not written yet (a chat edit's preview)."""
    errors: list[RuleError] = []
    sources: dict[str, _Locator] = {p: _Locator(t) for p, t in (texts or {}).items()}
    for rule in ruleset.rules:
        if not (rule.should_match or rule.should_not_match):
            continue
        m = Matcher([replace(rule, enabled=True)], morphology=matcher.morph if matcher else None)
        if rule.path not in sources:  # changed or gone since loading: the rule's own line will do
            text = read_rule_file(Path(rule.path))
            sources[rule.path] = _Locator(text if isinstance(text, str) else "")
        loc = sources[rule.path]
        index = loc.header_at(rule.line)
        for key, expect in (("should_match", True), ("should_not_match", False)):
            for i, text in enumerate(getattr(rule, key)):
                if bool(m.match(text)) != expect:
                    line, col = loc.line_col(loc.string(index, key, i)) if loc.text else (rule.line, 1)
                    verb = "does not match" if expect else "matches"
                    errors.append(RuleError(rule.path, line, col, f"rule '{rule.name}' {verb} its example {text[:60]!r}"))
    return errors
