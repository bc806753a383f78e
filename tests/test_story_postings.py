"""The story index's posting lists (bot/story/index.py `_file`, `_unfile`): each word keeps its newest
`max_postings` posts in time order, however the posts come, as the plain definition would."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.story.index import Prepared, _Entry, _file, _unfile

_NONE = Prepared(frozenset(), None, frozenset(), frozenset(), frozenset(), ())


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(0, 6), max_size=14), st.integers(0, 7))
def test_a_word_keeps_its_newest_posts_in_time_order(size: int, whens: list[int], limit: int) -> None:
    # a post filed late (an edit, a stored post loaded for a late one) goes where its time is, and a
    # full word drops its oldest post: a search walks the newest first and stops at the first too old
    index: dict[str, list[_Entry]] = {}
    plain: list[_Entry] = []
    for i, when in enumerate(whens):
        entry = _Entry((1, i), 1, float(when), _NONE)
        _file(index, ["w"], entry, size)
        plain = sorted([*plain, entry], key=lambda e: e.when)[-size:]  # (stable: a tie goes after the posts filed before)
        assert index.get("w", []) == plain
    _unfile(index, ["w"], float(limit))
    assert index.get("w", []) == [e for e in plain if e.when >= limit]
