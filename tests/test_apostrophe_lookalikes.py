"""An apostrophe in a word may be typed as any of its look-alikes: «'», «’» (U+2019), «ʼ» (U+02BC),
«`» (U+0060) or a spacing acute «´» (U+00B4) after a consonant. A rule, `tgwatch search` and the
search index read each the same, so an analyst's «Кот д´Ивуар» finds every spelling of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.store.db import Store
from bot.store.read import count_search, search_posts

from .test_store import post

MARKS = ("'", "\u2019", "\u02bc", "`", "\u00b4")
TEXTS = {n: f"Сборная Кот д{mark}Ивуар обыграла Гану, д{mark}Артаньян доволен" for n, mark in enumerate(MARKS, 1)}
ALL = sorted(TEXTS)


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "s.db")
    list(Pipeline(s, Matcher([Rule.from_query("d", "дезертир")])).process([post(m, t) for m, t in TEXTS.items()]))
    yield s
    s.close()


@pytest.mark.parametrize("mark", MARKS, ids=["apostrophe", "U+2019", "U+02BC", "grave", "acute"])
def test_a_rule_finds_every_spelling_of_a_word_with_an_apostrophe(mark: str) -> None:
    matcher = Matcher([Rule.from_query("ci", f'"Кот д{mark}Ивуар"'), Rule.from_query("dart", f"д{mark}Артаньян")])
    for text in TEXTS.values():
        assert sorted(m.rule for m in matcher.match(text)) == ["ci", "dart"], text


@pytest.mark.parametrize("mark", MARKS, ids=["apostrophe", "U+2019", "U+02BC", "grave", "acute"])
def test_search_finds_every_spelling_of_a_word_with_an_apostrophe(store: Store, mark: str) -> None:
    for query in (f"д{mark}Ивуар", f'"Кот д{mark}Ивуар"', f"д{mark}Артаньян"):
        assert sorted(h.message_id for h in search_posts(store, query, 50)) == ALL, query
        assert count_search(store, query) == len(ALL), query


def test_an_acute_after_a_vowel_is_still_a_stress_mark(store: Store) -> None:
    list(Pipeline(store, Matcher([])).process([post(9, "Задержан дезерти´р из Курска")]))
    assert [h.message_id for h in search_posts(store, "дезертир", 50)] == [9]
    assert [m.rule for m in Matcher([Rule.from_query("d", "дезертир")]).match("Задержан дезерти´р")] == ["d"]


def test_a_store_indexed_before_finds_its_posts_with_u02bc_after_the_upgrade(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A store indexed by the code before held no folded reading of a post with «ʼ» (FTS5 reads it as a
    letter): the upgrade gives it one, so the post is found as the others are."""
    import bot.text

    fold = bot.text.search_fold
    monkeypatch.setattr(bot.text, "search_fold", lambda text: None if "\u02bc" in text else fold(text))
    s = Store(tmp_path / "s.db")
    list(Pipeline(s, Matcher([])).process([post(m, t) for m, t in TEXTS.items()]))
    assert sorted(h.message_id for h in search_posts(s, "д'Ивуар", 50)) == [1, 2, 4, 5]  # as before
    s.db.execute("PRAGMA user_version = 21")  # before migration 22, which reads such posts again
    s.close()
    monkeypatch.undo()
    s = Store(tmp_path / "s.db")
    try:
        assert sorted(h.message_id for h in search_posts(s, "д'Ивуар", 50)) == ALL
    finally:
        s.close()
