"""The typo index (bot/match/matcher.py) finds every typo a scan of all the rules' forms finds,
however it narrows the forms down before measuring distances."""

from __future__ import annotations

from functools import lru_cache

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.match.matcher import Matcher
from bot.match.rules import Rule

# one edit by default, two where asked (~2), one on a short word (~1): both deletion depths in one index
QUERY = "дезертирство~2 OR мобилизация~2 OR оцепить OR блокпост OR сержант OR полк~1 OR часть"
LETTERS = "абвгдежзийклмнопрстуфхцчшщъыьэюяё"


@lru_cache(maxsize=None)
def matcher() -> Matcher:
    m = Matcher([Rule.from_query("r", QUERY)])
    m.match("прогрев")  # builds the index
    return m


@lru_cache(maxsize=None)
def forms() -> list[str]:
    index = matcher()._typo_index
    assert index is not None
    return sorted({e[0] for e in index.entries})


@st.composite
def near_words(draw: st.DrawFn) -> str:
    """A form of a rule word with up to 3 random edits anywhere (the first letters included), cut or
    lengthened: words on both sides of the edit allowance."""
    word = list(draw(st.sampled_from(forms())))
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "swap"]))
        i = draw(st.integers(0, len(word)))
        letter = draw(st.sampled_from(LETTERS))
        if op == "insert":
            word.insert(i, letter)
        elif i < len(word) and op == "delete":
            word.pop(i)
        elif i < len(word) and op == "replace":
            word[i] = letter
        elif i + 1 < len(word):
            word[i], word[i + 1] = word[i + 1], word[i]
    return "".join(word[:draw(st.integers(1, 30))]) + draw(st.text(LETTERS, max_size=3))


@settings(max_examples=1000)
@given(near_words())
def test_the_index_loses_no_typo_a_scan_of_every_form_finds(word: str) -> None:
    m = matcher()
    index = m._typo_index
    assert index is not None
    if not m._typo_min_len <= len(word) <= m._typo_max_len:
        return
    assert m._typos(word, m._near_forms(word), {}) == m._typos(word, index.entries, {}), word


def test_the_words_of_the_property_reach_typos() -> None:
    """Control for the property: its words do include typos, found through the index's first letters."""
    m = matcher()
    for word in ("дизертирство", "дезертирствл", "ецепить", "оцепитьь", "пплк", "бликпост", "ержант"):
        near = m._near_forms(word)
        assert m._typos(word, near, {}), word
