"""Bugs the test audit (helper-167) found in the code: a spacing acute «´» (U+00B4) typed as a stress
mark split the word («дезерти´р» was «дезерти» and «р»), where the combining one (U+0301) did not."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store
from bot.store.read import search_posts
from bot.text import normalize, words

SPACING_ACUTE = "\u00b4"  # «´», typed as a stress mark where the combining one (U+0301) is hard to type


def test_a_spacing_acute_typed_as_a_stress_mark_leaves_the_word_whole() -> None:
    assert words(f"задержан дезерти{SPACING_ACUTE}р") == words("задержан дезерти\u0301р") == ["задержан", "дезертир"]


def test_search_finds_a_post_that_stresses_a_word_with_a_spacing_acute(tmp_path: Path) -> None:
    """`tgwatch search дезертир` finds «дезерти́р» (combining acute) and «дезерти´р» alike."""
    store = Store(tmp_path / "s.db")
    when = datetime(2024, 11, 20, 9, 0, tzinfo=timezone.utc)
    texts = ["В части задержан дезерти\u0301р", f"Задержан дезерти{SPACING_ACUTE}р из части"]
    list(Pipeline(store, Matcher([Rule.from_query("p", "полк")])).process(
        [Post(channel_id=1, message_id=i, date=when, text=t) for i, t in enumerate(texts, 1)]))
    assert sorted(h.message_id for h in search_posts(store, "дезертир")) == [1, 2]


@settings(max_examples=200, deadline=None)
@given(st.text())
@example(f"ударе{SPACING_ACUTE}ние")
def test_normalize_is_idempotent_on_any_text(text: str) -> None:
    """tests/test_text.py checks this on Cyrillic and Latin text; any text fails at «´» alone."""
    once = normalize(text)
    assert normalize(once) == once
