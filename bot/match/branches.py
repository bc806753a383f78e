"""Every branch of a rule's query that holds in a post, and the terms the post needs.

`Matcher.match` names one term per word of a post, which is what an alert shows; a back-test that
weighs each term of a rule needs more: which terms hit in every branch that holds, and which of them
the match would be lost without (`rules backtest`, the chat's back-tests).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from ..text import tokenize
from .matcher import Hit, Matcher, _Doc, _PostLike
from .query import And, Near, Node, Not, Or, Phrase, Url, Word, to_text

__all__ = ["Branches"]


class Branches:
    """What a matched post owes each term of a rule. `Matcher.match` names one term per word of the
    post: of `(ковер NEAR/3 план) OR "план Ковёр"` the phrase alone, though the NEAR holds too, and
    a count from its hits would call ковер and план idle. Here the rule's query is evaluated again on
    the post (the matcher's own evaluation, once per matched post): the hits of every branch that
    holds, and the terms the post needs (the query without one of them no longer holds: dropping that
    term would lose the post)."""

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher
        self.rules = {r.name: r for r in matcher.rules}
        self._rest: dict[tuple[str, str], Node | None] = {}  # (rule, term) -> its query without the term

    def of(self, post: _PostLike | str, rules: Iterable[str]) -> dict[str, tuple[list[Hit], set[str]]]:
        """rule -> (the hits of every branch of its query that holds in the post, the terms it needs)
        for these rules, each of which matched the post."""
        text = post if isinstance(post, str) else post.text
        links = () if isinstance(post, str) else getattr(post, "links", ())
        doc = _Doc(text, tokenize(text), self.matcher, links)
        out: dict[str, tuple[list[Hit], set[str]]] = {}
        for name in rules:
            rule = self.rules[name]
            hits = [h for _, _, hs in doc.eval(rule.node) or () for h in hs]
            needed: set[str] = set()
            for term in dict.fromkeys(h.term for h in hits):
                if (name, term) not in self._rest:
                    self._rest[(name, term)] = _without(rule.node, term)
                rest = self._rest[(name, term)]
                if rest is None or doc.eval(rest) is None:
                    needed.add(term)
            out[name] = (hits, needed)
        return out


def _without(node: Node, term: str) -> Node | None:
    """The query tree with every occurrence of `term` (as `to_text` names it) taken out; None when
    what is left can match nothing (the term stood in every branch). A term under a NOT stays: it
    never hits."""
    if isinstance(node, (Word, Phrase, Url)):
        return None if to_text(node) == term else node
    if isinstance(node, Or):
        items = [x for item in node.items if (x := _without(item, term)) is not None]
        return None if not items else items[0] if len(items) == 1 else Or(tuple(items))
    if isinstance(node, And):
        kept = [_without(item, term) for item in node.items]
        return None if any(x is None for x in kept) else And(tuple(x for x in kept if x is not None))
    if isinstance(node, Near):
        left, right = _without(node.left, term), _without(node.right, term)
        return None if left is None or right is None else replace(node, left=left, right=right)
    assert isinstance(node, Not)
    return node
