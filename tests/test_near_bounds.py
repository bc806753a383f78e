"""A NEAR over many occurrences (more pairs than `_ALL_PAIRS`) folds its pairs to the widest spans:
it must match exactly the posts that every pair would, and show every word they would."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.match import matcher as matcher_module
from bot.match.matcher import Matcher
from bot.match.rules import Rule

WORDS = "дрон ракета полк взрыв обстрел".split()

word = st.sampled_from(WORDS)
side = st.one_of(word, st.lists(word, min_size=2, max_size=3, unique=True).map(lambda ws: "(" + " OR ".join(ws) + ")"))


@st.composite
def chains(draw: st.DrawFn) -> str:
    """A left-nested chain, its sides single words or ORs, at random distances."""
    q = draw(side)
    for _ in range(draw(st.integers(1, 5))):
        q = f"({q}) NEAR/{draw(st.integers(1, 4))} {draw(side)}"
    return q


def hits(query: str, text: str) -> set[tuple[str, int]] | None:
    found = Matcher([Rule.from_query("r", query)]).match(text)
    return {(h.term, h.start) for h in found[0].hits} if found else None


@settings(max_examples=150, deadline=None)
@given(query=chains(), post=st.lists(st.sampled_from([*WORDS, "и", "в", "город"]), min_size=1, max_size=40))
def test_folded_pairs_match_the_same_posts_and_lose_no_word(query: str, post: list[str]) -> None:
    text = " ".join(post)
    every_pair = hits(query, text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(matcher_module, "_ALL_PAIRS", 0)  # the folding on every NEAR, however few its pairs
        folded = hits(query, text)
    assert (folded is None) == (every_pair is None)
    if every_pair is not None:
        assert folded is not None and every_pair <= folded
