"""Queries that can match on function words alone (`в OR и`, `что`): nearly every post has one, so
such a rule floods the chat. `rules check` warns about them (see `rules._warn_rule`)."""

from __future__ import annotations

from .morph import Morphology
from .query import And, Near, Node, Not, Or, Phrase, Word

__all__ = ["function_only"]


def function_only(node: Node, morph: Morphology) -> list[list[Word]]:
    """The ways `node` can match with no content word: each a list of the function words (prepositions,
    conjunctions, particles, pronouns, as `Morphology.function_word` reads them) that are then all it
    needs. Empty when every match needs a content word: a function word in a phrase, a NEAR or an AND
    with one is fine (`"из части"`, `в NEAR/2 часть`)."""
    if isinstance(node, Word):
        return [[node]] if _function(node, morph) else []
    if isinstance(node, Phrase):
        return [list(node.words)] if all(_function(w, morph) for w in node.words) else []
    if isinstance(node, Or):
        return [way for item in node.items for way in function_only(item, morph)]
    if isinstance(node, (And, Near)):
        parts = [n for n in node.items if not isinstance(n, Not)] if isinstance(node, And) else [node.left, node.right]
        ways = [function_only(n, morph) for n in parts]
        if not parts or not all(ways):
            return []
        return [[w for way in ways for alternative in way for w in alternative]]  # (each word is in one such way)
    return []  # a NOT gives no hit; a url: term is no word


def _function(w: Word, morph: Morphology) -> bool:
    """Does a query word stand for a function word in posts (in any form, or as written with `=`)? Not
    a prefix (`под*` reaches «подразделение»), an exact form in capitals (`=КТО`: capitals only), nor a
    number."""
    return w.mode != "prefix" and not w.cased and not w.ordinal and morph.function_word(w.text) is not None
