"""The matcher's quick word list (`rough_words`, folding the whole text) and a post's words
(`tokenize`, word by word) read every text alike: NFKC spells signs with letters («№» No, «™» TM,
«Ⓜ» M, «㎞» km) and glued them to the next word in the one, while the other left the sign out, so the
quick list hid words a rule matches («№155» was «no155», «ⓂЦирк» «mцирк»)."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.match.matcher import Matcher, _readings
from bot.match.rules import Rule
from bot.text import _APOSTROPHE_LIKE, _MARKS, _SIGNS, _TAG_SIGNS, normalize, rough_words, search_fold, tokenize, words

# Letters with look-alikes in both scripts and capitals, digits, the signs NFKC spells with letters,
# what NFKC makes an apostrophe or a hashtag sign, combining marks (and a kana one composes with),
# invisible characters and punctuation.
_ALPHABET = ("абвдеикморстухАВЕКМНОРСТХЁaceikmoptxyACEHKMOPTXY0159"
             "№™℃℅₨Ⓜⓐ⒜㎞🈺🄰🅪" "'’ʼ`＇｀\u1fef" "#@＃＠﹟﹫" "\u0306\u0308\u0301\u0483\u3099か\ufe0f\u20e3"
             "\u200b\u00ad\u00a0… .,-_/\n")
# (A Latin look-alike letter before a combining mark that composes with its Cyrillic twin only, «Y» +
# U+0306, was the known exception: see the test after the next.)
_TEXTS = st.one_of(st.text(st.sampled_from(_ALPHABET), max_size=30), st.text(max_size=30))


def _quick_words(text: str) -> set[str]:
    """The words the matcher's pre-filter classifies a text by: its rough words, and the readings it
    looks a mixed-script one up by."""
    out = set()
    for w in rough_words(text):
        out.add(w)
        out.update(_readings(w))
    return out


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
@example("колонии №155")
@example("ⓂЦирк на Цветном")
@example("﹟ДезертирПойман")
@example("об＇єкт")
@example("か\u3099")  # か + the combining voiced mark, which NFKC composes
def test_the_quick_filter_never_hides_a_word_of_the_post(text: str) -> None:
    """Every word a rule could match in the post (`tokenize`) is one the pre-filter looks up: else the
    post is never a candidate for that rule, and `rules test` says a rule matches that replay misses."""
    assert {t.text for t in tokenize(text)} <= _quick_words(text)


def test_a_look_alike_before_a_combining_mark_is_found_by_the_quick_filter() -> None:
    """«ЁY» + a breve was «еў» to tokenize's raw word (its capitals read as Cyrillic, then NFKC again
    composed «У» and the breve), «еy» and a stray mark to the quick filter, so a rule for «еу» could
    never match it: a look-alike read as Cyrillic now takes no mark the Latin letter did not."""
    for text in ("#ЁY\u0306", "ЁY\u0306", "еy\u0306"):
        assert {t.text for t in tokenize(text)} == {"еу"} <= _quick_words(text), text
        assert words(text) == ["еу"], text


@pytest.mark.parametrize("query, text", [
    ("155", "Осуждённый сбежал из колонии №155"),
    ("цирк", "ⓂЦирк на Цветном бульваре закрыт"),  # a metro emoji glued to the word
    ("лидер", "Компания™Лидер рынка"),
    ("жара", "До +35℃Жара продержится неделю"),
    ("дезертир", "﹟ДезертирПойман в Краснодаре"),  # a small-form «#»: a CamelCase hashtag
    ("об'єкт", "Уражено об＇єкт інфраструктури"),  # a fullwidth apostrophe, as «об'єкт»
])
def test_a_word_beside_a_sign_is_matched(query: str, text: str) -> None:
    m = Matcher([Rule.from_query("r", query)])
    assert [x.rule for x in m.match(text)] == ["r"]
    assert m.why_not(text) == []


def test_a_sign_spells_no_word_of_its_own() -> None:
    """«№», «™», «Ⓜ» part words as any symbol does: a rule for «no», «tm» or «m» finds nothing in them."""
    m = Matcher([Rule.from_query("no", "=no"), Rule.from_query("tm", "=tm"), Rule.from_query("m", "=m")])
    assert m.match("Колония №155, бренд™ и Ⓜ️ Студия") == []
    assert [t.text for t in tokenize("№155 Бренд™Лидер ⓂСтудия")] == ["155", "бренд", "лидер", "студия"]
    assert normalize("№155 Бренд™Лидер").split() == ["155", "бренд", "лидер"]  # what search and stories read
    assert search_fold("Колония №155") is None  # reads as it is written: the index needs no folded copy


def test_the_tables_hold_every_such_character_of_this_pythons_unicode() -> None:
    """`_SIGNS`, `_APOSTROPHE_LIKE`, `_TAG_SIGNS` and `_MARKS` are listed, not scanned for at import: a
    newer Unicode with another sign NFKC spells with letters, or another composing mark, fails here."""
    word = re.compile(r"\w")
    signs, apostrophes, tags, composing = set(), set(), set(), set()
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        decomposition = unicodedata.decomposition(c)
        if decomposition and not decomposition.startswith("<"):
            parts = [chr(int(x, 16)) for x in decomposition.split()]
            if len(parts) == 2 and unicodedata.normalize("NFC", "".join(parts)) == c and not word.match(parts[1]):
                composing.add(parts[1])
        if word.match(c) or (nfkc := unicodedata.normalize("NFKC", c)) == c:
            continue
        if re.search(r"[^\W_]", nfkc):
            signs.add(c)
        elif nfkc in ("'", "’", "`"):
            apostrophes.add(c)
        elif nfkc in ("#", "@"):
            tags.add(c)
    assert signs == set(re.findall(f"[{_SIGNS}]", "".join(map(chr, range(sys.maxunicode + 1)))))
    assert apostrophes <= set(_APOSTROPHE_LIKE) and tags <= set(_TAG_SIGNS)
    missing = sorted(f"U+{ord(c):04X}" for c in composing - set(_MARKS) if not "\u0300" <= c <= "\u036f")
    assert missing == []
