"""The matcher's shortcuts for the words of a post (bot/match/matcher.py) lose nothing: the one
regex that spares most words the mixed-script, ordinal and possessive tests, and the typo index,
which finds every typo a scan of all the rules' forms finds however it narrows the forms down."""

from __future__ import annotations

from functools import lru_cache

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.match.matcher import _SPECIAL_HINT_RE, Matcher
from bot.match.rules import Rule
from bot.text import ORDINAL_SUFFIXES

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


# the parts a post word may be made of: letters of both scripts, digits, apostrophes, ordinal endings
WORD_PARTS = st.one_of(st.text("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґў", min_size=1, max_size=4),
                       st.text("abcdefghijklmnopqrstuvwxyzéß", min_size=1, max_size=4),
                       st.text("0123456789٣²", min_size=1, max_size=4), st.sampled_from(["'", "'s", "ʼ", "’"]),
                       st.sampled_from(sorted(ORDINAL_SUFFIXES)))


@settings(max_examples=2000)
@given(st.lists(WORD_PARTS, min_size=1, max_size=4).map("".join))
def test_a_word_the_hint_passes_by_is_no_special_word(word: str) -> None:
    """A mixed-script word, a number with its ordinal ending, an English possessive all have a
    character of `_SPECIAL_HINT_RE`: the words without one go straight to forms and typos."""
    if _SPECIAL_HINT_RE.search(word) is None:
        assert matcher()._classify_special(word) is None, word


def test_the_special_words_of_the_property_exist() -> None:
    """Control for the property: each kind of special word is read as one, and has the hint."""
    m = matcher()
    for word in ("137го", "чaсть", "part's"):
        assert _SPECIAL_HINT_RE.search(word) is not None
        assert m._classify_special(word) is not None, word
