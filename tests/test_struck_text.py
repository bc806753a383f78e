"""Struck-through, underlined and overlined text (a combining mark after every letter, as text
generators write it: «с̶т̶а̶ц̶и̶о̶н̶а̶р̶н̶ы̶м̶») reads as its words. Each mark used to end a word, so the
word was twelve one-letter words: a rule for it missed the post, and `=и` hit the «и» inside it."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import bot.text
from bot.match.matcher import Matcher, _readings
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.store.db import Store
from bot.store.read import search_posts
from bot.text import find_words, normalize, rough_words, search_fold, tokenize, words

from .test_store import post

# long and short strokes, slashes, low line, double low line, overline, tilde overlay
MARKS = ["\u0336", "\u0335", "\u0337", "\u0338", "\u0332", "\u0333", "\u0305", "\u0334"]


def struck(text: str, mark: str = "\u0336") -> str:
    """`text` as a strikethrough generator writes it: the mark after every character, spaces too."""
    return "".join(c + mark for c in text)


def surfaces(text: str) -> list[tuple[str, str]]:
    return [(t.text, text[t.start:t.end]) for t in tokenize(text)]


@pytest.mark.parametrize("mark", MARKS)
def test_a_struck_word_is_matched_as_the_word(mark: str) -> None:
    text = f"Как пользоваться {struck('стационарным телефоном', mark)} и почему"
    m = Matcher([Rule.from_query("phone", "стационарный NEAR/1 телефон"), Rule.from_query("conj", "=и")])
    found = {x.rule: x for x in m.match(text)}
    assert set(found) == {"phone", "conj"}
    # the hits cover the struck words, from their first letter to the mark on their last
    assert [text[h.start:h.end] for h in found["phone"].hits] == [
        struck("стационарным", mark), struck("телефоном", mark)]
    # «и» only where the post has the word, not the letter inside «стационарным»
    assert [text[h.start:h.end] for h in found["conj"].hits] == ["и"]


def test_the_post_reads_the_same_for_every_face() -> None:
    """Matching's words, the quick filter's words and the search index's reading are the words."""
    text = "Племянник спросил, " + struck("как пользоваться стационарным телефоном") + " почему"
    assert words(text) == ["племянник", "спросил", "как", "пользоваться", "стационарным", "телефоном", "почему"]
    assert [t.text for t in tokenize(text)] == words(text)
    assert rough_words(text) == words(text)
    assert search_fold(text) == normalize(text) == "племянник спросил, как пользоваться стационарным телефоном почему"
    # the mark on the space before a word is not highlighted with it
    assert surfaces(text)[4] == ("стационарным", struck("стационарным"))


def test_search_finds_and_highlights_a_struck_word(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    try:
        text = "Админ, " + struck("стационарным телефоном") + " кто-то ещё пользуется?"
        list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process([post(1, text), post(2, "Телефон доверия")]))
        hits = list(search_posts(store, "стационарный телефон"))
        assert [h.message_id for h in hits] == [1]
        assert [text[a:b] for a, b in hits[0].spans] == [struck("стационарным"), struck("телефоном")]
    finally:
        store.close()



_CF = [c for c in bot.text._FORMAT_CHARS if unicodedata.category(c) == "Cf"]


def test_every_invisible_format_character_inside_a_word_is_read_out_of_it_for_search() -> None:
    """The matcher reads «дезер<U+0600>тир» as «дезертир»; the search index held no folded reading of
    it (for an Arabic number sign, a tag character, ... : every format character but a listed few)."""
    missed = [f"U+{ord(c):04X}" for c in _CF
              if "дезертир" not in find_words(search_fold(f"Сбежал дезер{c}тир из части") or "")]
    assert missed == []


def test_search_finds_a_word_a_rare_format_character_splits(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    try:
        posts = [post(1, "Сбежал дезер\u0600тир из части"), post(2, "Сбежал дезерт\U000E0041ир"), post(3, "дезертиры")]
        list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process(posts))
        assert sorted(h.message_id for h in search_posts(store, "дезертир")) == [1, 2, 3]
    finally:
        store.close()

# Letters (with look-alikes), digits, an apostrophe, spaces and punctuation that makes no link.
_PLAIN = st.text(st.sampled_from("абвгдеиклмнопрстуюяАВЕКМНОРСТЁіїєaceikmoptxyACEHKMOPTXY019'’ ,!?-\n"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(_PLAIN, st.sampled_from(MARKS))
@example("Ежу пОнятно", "\u0336")
@example("об'єкт", "\u0332")
def test_striking_a_text_through_changes_none_of_its_words(text: str, mark: str) -> None:
    """A normaliser's property: the marks change no word, and each word's span covers the same
    letters, each with its mark, as the word's span in the plain text."""
    plain, marked = tokenize(text), tokenize(struck(text, mark))
    assert [t.text for t in marked] == [t.text for t in plain] == words(struck(text, mark))
    s = struck(text, mark)
    for p, t in zip(plain, marked):
        assert s[t.start:t.end] == struck(text[p.start:p.end], mark)
    quick = set(rough_words(s))
    quick.update(r for w in list(quick) for r in _readings(w))
    assert {t.text for t in marked} <= quick  # the matcher's pre-filter keeps every word a rule could match


@pytest.mark.parametrize("query, text, hit", [
    ("Су-34", "Над морем сбит Су-34", "Су-34"),  # a designation: its hyphen is struck through too
    ("137-й", "Командир 137-го полка", "137-го"),  # an ordinal's hyphen
    ('"в/ч"', "Сбежал из в/ч 1234", "в/ч"),
])
def test_a_struck_designation_or_ordinal_is_matched(query: str, text: str, hit: str) -> None:
    m = Matcher([Rule.from_query("r", query)])
    assert [x.rule for x in m.match(text)] == ["r"]  # (as written)
    marked = struck(text)
    [found] = m.match(marked)
    hits = found.hits
    assert marked[hits[0].start:hits[-1].end] == struck(hit)  # highlighted from its first letter to its last mark


def test_a_struck_latin_name_is_still_a_name() -> None:
    """A capitalised Latin word is a name, never a typo of a rule word: «Gordon» is not `cordon`."""
    m = Matcher([Rule.from_query("c", "cordon")])
    assert m.match("Gordon said") == [] and m.match(struck("Gordon said")) == []
    assert [x.rule for x in m.match(struck("the cordon held"))] == ["c"]


@pytest.mark.parametrize("text", ["\u0336" * 4000, "\u0301" * 4000, "а'" + "\u0336" * 4000, "-\u0336'\u0336" * 2000])
def test_a_run_of_marks_is_no_word(text: str) -> None:
    """Marks with no letter are no word, however many (helper-100: a raw word that could start with
    marks was looked for from each mark of a run, 8,000 marks took 7 s and 50,000 minutes; a word
    now starts at its letter: 50,000 marks take 3 ms)."""
    assert [t.text for t in tokenize(text)] == (["а"] if text.startswith("а") else [])
