"""Text normalisation and tokenising shared by matching, stories and search.

Posts are hurried and sometimes disguised: mixed case, ё/е, zero-width characters, soft
hyphens, stress marks, struck-through letters, Latin look-alike letters inside Cyrillic words, CamelCase hashtags.
`normalize` folds all of that with C-speed string operations on the whole text; `tokenize`
does the same word by word and keeps each word's span in the original text for highlighting.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterator, Sequence
from functools import lru_cache
from itertools import chain, filterfalse

from .post import TG_LINK, TG_LINK_HINT

__all__ = ["Token", "normalize", "normalize_word", "tokenize", "words", "find_words", "find_urls", "strip_urls",
           "rough_words", "rough_head_words", "rough_lines", "url_free_lines", "script_of", "search_fold", "search_reading", "printable", "cyrillic_reading",
           "twin_spelling", "latin_reading", "ORDINAL_SUFFIXES", "split_ordinal", "unformat", "glued_re", "unfolded_re", "FTS_TOKENIZE"]

# Marks that decorate letters rather than spell them: the overlays and lines text generators add
# after every letter for s̶t̶r̶u̶c̶k̶ (U+0334-U+0338), u̲n̲d̲e̲r̲l̲i̲n̲e̲d̲ and o̅v̅e̅r̅l̅i̅n̅e̅d̅ text, and the
# symbol overlays of U+20D2-U+20EB. None composes with a letter (U+0338 only with symbols: «≠»), so
# removing them reads «с̶т̶а̶ц̶и̶о̶н̶а̶р̶н̶ы̶м̶» as the word, not 12 one-letter words.
DECORATION_MARKS = ("\u0305\u0332\u0333\u033f\u0334\u0335\u0336\u0337\u0338"
                    "\u20d2\u20d3\u20d8\u20d9\u20da\u20e5\u20e6\u20ea\u20eb")

# Invisible format characters (zero-width space/joiners, soft hyphen, bidi marks, word joiner,
# BOM, ...) plus stress marks (combining, and the spacing acute «´» typed for one: «дезерти´р», which
# NFKC would make a space and a mark) and `DECORATION_MARKS`: removed, never word boundaries. Looked for where Unicode
# has them: planes 4-13 hold no character yet and 15-16 are private use (never a format
# character), so every command starts 0.1-0.4 s sooner than with a scan of every code point
# (tests/test_text.py checks the planes left out against this Python's Unicode).
FORMAT_PLANES = (range(0, 0x40000), range(0xE0000, 0xF0000))
_FORMAT_CHARS = "".join(
    chr(cp)
    for r in FORMAT_PLANES
    for cp in r
    if unicodedata.category(chr(cp)) == "Cf" or cp in (0x00B4, 0x0300, 0x0301)
) + DECORATION_MARKS


def _char_class(chars: str) -> str:
    """A regex character class body of code point ranges (a long list of single characters
    makes `re` fall back to a slow path: 100 µs per post instead of 7)."""
    cps = sorted(map(ord, chars))
    runs: list[tuple[int, int]] = []
    for cp in cps:
        if runs and cp == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], cp)
        else:
            runs.append((cp, cp))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in runs)


_FORMAT_CLASS = _char_class(_FORMAT_CHARS)
# One of `_FORMAT_CLASS`, found faster: `re` tests a class's astral code points one by one at every
# character (7 µs a post), so the class holds the BMP format characters and all astral characters
# as one range, and the lookbehind keeps the astral ones that are format characters (emoji, the
# astral characters posts have, are not).
_BMP_FORMAT_CLASS = _char_class("".join(c for c in _FORMAT_CHARS if ord(c) <= 0xFFFF))
_FORMAT_RE = re.compile(f"[{_BMP_FORMAT_CLASS}\U00010000-\U0010FFFF](?<=[{_FORMAT_CLASS}])")

_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'"})
# A spacing acute «´» between a consonant and a letter is an apostrophe typed with the key beside it
# («Кот д´Ивуар», «м´ясо», «don´t»); after a vowel it is a stress mark («дезерти´р»), removed.
_VOWELS = "аеёиоуыэюяіїєaeiouyАЕЁИОУЫЭЮЯІЇЄAEIOUY"
_ACUTE_APOSTROPHE_RE = re.compile(rf"(?<=[^\W\d_{_VOWELS}])\u00b4(?=[^\W\d_])")


def unformat(text: str) -> str:
    """`text` without its format characters and stress marks, an acute that is an apostrophe made one."""
    if "´" in text:
        text = _ACUTE_APOSTROPHE_RE.sub("'", text)
    return _FORMAT_RE.sub("", text) if _FORMAT_RE.search(text) else text

# Signs NFKC spells with letters or digits, none of them a letter itself: «№» (No), «™» (TM), «℃» (°C),
# «℅» (c/o), «₨» (Rs), squared units («㎞» km), enclosed and parenthesised letters («Ⓜ️», the metro emoji,
# «⒜»), CJK radicals, squared ideographs («🈺»). A sign parts the words beside it, as any symbol does:
# folding makes each a space, so NFKC never glues its letters to the next word («№155» is «155», not
# «no155»), and the whole text reads as `tokenize` reads it word by word. (Superscripts, fractions,
# ligatures, circled digits and fullwidth letters are letters or digits: NFKC's reading of them is kept.)
# Listed, not scanned for at import (tests/test_review92_signs.py checks the list against this Python's Unicode).
_SIGNS = ("₨℀℁℃℅℆℉№℠-™℻⒜-ⓩ⺟⻳⼀-⿕"
          "㆖-㆟㈀-㈞㈪-㉇㉐㉠-㉾㊊-㊰㋀-㏿﷼"
          "🄐-🄮🄰-🅏🅪-🅬🆐🈀-🈂"
          "🈐-🈻🉀-🉈🉐-🉑")
_SIGN_RE = re.compile(f"[{_SIGNS}]")
# What NFKC makes an apostrophe (fullwidth ＇ and ｀, the Greek varia) or a hashtag's «#» and «@» (the
# small and fullwidth forms): `tokenize` reads a raw word with them as folding the whole text does.
_APOSTROPHE_LIKE = "'’ʼ`＇｀`"
_TAG_SIGNS = "#@＃＠﹟﹫"

# A word: letters and digits, with inner apostrophes (Ukrainian об'єкт). Underscores,
# hyphens and slashes separate words.
WORD_RE = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
# The same words in a text without an apostrophe, at half the cost (`re` loops over a bare
# character class in C; the optional group after it makes every word a backtracking point).
_PLAIN_WORD_RE = re.compile(r"[^\W_]+")
# And in a text without an underscore either (most posts), a quarter cheaper still: `\w` is one
# category test, `[^\W_]` a negated set of two.
_WORD_CHARS_RE = re.compile(r"\w+")


def _word_re(text: str) -> re.Pattern[str]:
    """The cheapest pattern that reads `text`'s words as `WORD_RE` does."""
    if "'" in text:
        return WORD_RE
    return _PLAIN_WORD_RE if "_" in text else _WORD_CHARS_RE


def find_words(text: str) -> list[str]:
    """`WORD_RE.findall(text)`, faster."""
    return _word_re(text).findall(text)

# Combining marks NFKC may compose with the letter before them: a «й» typed as «и» + U+0306 (text from
# macOS or a PDF) is one word, which NFKC composes; without them «воинскои» + a lone breve matched only
# as a typo. Every mark of the BMP that is no starter (they reorder, so one may stand between a letter
# and the mark it takes), and the few starters that compose (Indic length marks; the astral ones too).
_MARKS = ("".join(c for c in map(chr, range(0x10000)) if unicodedata.combining(c))
          + "\u09be\u09d7\u0b3e\u0b56\u0b57\u0bbe\u0bd7\u0cc2\u0cd5\u0cd6\u0d3e\u0d57\u0dcf\u0ddf\u102e\u1b35"
          "\U000110ba\U00011127\U0001133e\U00011357\U000114b0\U000114ba\U000114bd\U000115af\U00011930")
# A format character or one of `_MARKS` (the astral ones found as `_FORMAT_RE` finds them: each astral
# code point of a class costs every character a test).
_IN_WORD = (f"[{_BMP_FORMAT_CLASS}{_char_class(''.join(c for c in _MARKS if ord(c) <= 0xFFFF))}\U00010000-\U0010FFFF]"
            f"(?<=[\u0000-\uffff{_char_class(''.join(c for c in _FORMAT_CHARS + _MARKS if ord(c) > 0xFFFF))}])")
# What looks like a word in the raw text: includes the characters `normalize` removes or composes, so
# a disguised word is one raw word, as it is one word after normalising. A word, and a part an apostrophe
# joins, has a letter or digit: marks alone are no word («-̶'̶0̶»: each strikes the sign before it through).
_RAW_WORD_RE = re.compile(
    rf"[{_TAG_SIGNS}](?:\w|{_IN_WORD})+(?:[{_APOSTROPHE_LIKE}](?:{_IN_WORD})*\w(?:\w|{_IN_WORD})*)*"
    rf"|[^\W_](?:[^\W_]|{_IN_WORD})*(?:[{_APOSTROPHE_LIKE}](?:{_IN_WORD})*[^\W_](?:[^\W_]|{_IN_WORD})*)*"
)

_TLD = r"(?:ru|com|org|net|me|ua|io|su|info|tv|рф)\b"
URL_RE = re.compile(
    rf"(?:https?://|www\.|{TG_LINK})[^\s<>\"'«»]+"
    rf"|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.{_TLD}(?:/[^\s<>\"'«»]*)?",
    re.IGNORECASE,
)
# What every URL_RE match contains but «://»: «www.», «.ru», a Telegram link's «.me/» or «.dog/». With
# `str.find` for «://», cheap searches that spare most texts the full pattern (`_hint`). Written to start
# at the literal «.» (the lookbehind looks back at «www.»), which `re` skips to with a plain character
# scan: a pattern that starts at either of two characters («:» too) is scanned 2.5x slower, for a set.
_DOT_HINT_RE = re.compile(rf"\.(?:(?<=www\.)|{_TLD}|{TG_LINK_HINT})", re.IGNORECASE)

_CYR = "а-яёіїєґў"
_MIXED_RE = re.compile(f"[a-z][{_CYR}]|[{_CYR}][a-z]")
_MIXED_WORD_RE = re.compile(f"[^\\W_]*(?:[a-z][{_CYR}]|[{_CYR}][a-z])[^\\W_]*")

# Lower-case look-alikes (after casefold): Latin -> Cyrillic and back.
_LAT_TO_CYR = dict(zip("aceopxykmthbi", "асеорхукмтнві"))
_CYR_TO_LAT = dict(zip("асеорхук", "aceopxyk"))
_LAT_TO_CYR_T = str.maketrans(_LAT_TO_CYR)
_CYR_TO_LAT_T = str.maketrans(_CYR_TO_LAT)

_HASHTAG_RE = re.compile(r"[#@][^\W_]\w*")
_CAMEL_RE = re.compile(r"(?<=[a-zа-яёіїєґ])(?=[A-ZА-ЯЁІЇЄҐ])|_")


def script_of(ch: str) -> str:
    """'cyr', 'lat' or '' for one lower-case letter."""
    if "a" <= ch <= "z":
        return "lat"
    if "а" <= ch <= "я" or ch in "ёіїєґў":
        return "cyr"
    return ""


def _fold_mixed_word(m: re.Match[str]) -> str:
    """Fold the minority script's look-alike letters into the majority script."""
    w = m.group()
    cyr = sum(script_of(c) == "cyr" for c in w)
    lat = sum(script_of(c) == "lat" for c in w)
    to_cyr = w.translate(_LAT_TO_CYR_T)
    cyr_ok = not any("a" <= c <= "z" for c in to_cyr)
    if cyr >= lat and cyr_ok:
        return to_cyr
    to_lat = w.translate(_CYR_TO_LAT_T)
    if not any(script_of(c) == "cyr" for c in to_lat):
        return to_lat
    # «CEPЖAHT»: mostly Latin look-alikes around a letter only Cyrillic has (Д, Ж, И, ...) is a
    # Cyrillic word in disguise when every Latin letter has a Cyrillic twin
    return to_cyr if cyr_ok else w


def _split_camel(m: re.Match[str]) -> str:
    return " " + _CAMEL_RE.sub(" ", m.group()[1:])


def _nfkc_words(text: str) -> str:
    """`unicodedata.normalize("NFKC", text)` with every sign NFKC would spell with letters («№», «™»,
    «Ⓜ») made a space first: the sign parts words, as it does in `tokenize`'s raw words. Faster too: a
    no-break space or «…» is most often what sends a post down NFKC's slow path (70 µs), so they are
    replaced first by what NFKC makes of them, and a text already NFKC is not searched for a sign."""
    text = text.replace("\u00a0", " ").replace("…", "...")
    if unicodedata.is_normalized("NFKC", text):
        return text
    if _SIGN_RE.search(text):
        text = _SIGN_RE.sub(" ", text)
    return unicodedata.normalize("NFKC", text)


def _fold_basic(text: str) -> str:
    """Everything `normalize` does but folding look-alike letters.

    Order matters for idempotence: invisible characters go first (so NFKC composes what they
    split), hashtags are split after NFKC (fullwidth ＃) and before case folding (CamelCase).
    """
    return _fold_nfkc(_nfkc_words(unformat(text)))


def _fold_nfkc(text: str) -> str:
    """`_fold_basic` of a text already without format characters and NFKC."""
    if "#" in text or "@" in text:
        text = _HASHTAG_RE.sub(_split_camel, text)
    text = text.casefold().replace("ё", "е")
    if "ѐ" in text or "ѝ" in text:
        text = text.replace("ѐ", "е").replace("ѝ", "и")
    if "’" in text or "ʼ" in text or "`" in text:
        text = text.translate(_APOSTROPHES)
    return text


def rough_words(text: str) -> list[str]:
    """The matcher's fast pre-filter: `words` without look-alike folding, a superset that costs a
    few C-level passes. Fold a word with `normalize_word`."""
    return find_words(_fold_basic(_blank_urls(text, find_urls(text))))


def rough_head_words(text: str) -> tuple[list[str], list[str]]:
    """`rough_words` of the first line, and of the whole text, in one folding pass."""
    folded = _fold_basic(text)
    nl = folded.find("\n")  # folding keeps newlines and never makes one
    word_re = _word_re(folded)
    if nl < 0:
        ws = word_re.findall(folded)
        return ws, ws
    head = word_re.findall(folded, 0, nl)  # (the patterns look at no character around a word)
    return head, head + word_re.findall(folded, nl)


def rough_lines(text: str) -> list[list[str]]:
    """`rough_words` of each line of `text` («\\n» parts lines), URLs left in, in one folding pass: what
    the story step and the matcher both read (the matcher's lines with a URL read again: `url_free_lines`).
    Folding keeps lines: a line of the folded text is the line folded on its own (no fold crosses a line
    break, NFKC included)."""
    folded = _fold_basic(text)
    word_re = _word_re(folded)
    return [word_re.findall(line) for line in folded.split("\n")]


def url_free_lines(text: str, lines: list[list[str]], urls: list[tuple[int, int]]) -> list[list[str]]:
    """`rough_lines` of `text` with its URLs (`find_urls`) blanked, from `lines` (its `rough_lines`): the
    words the matcher reads (`rough_words`), line by line, only the lines with a URL folded again."""
    if not urls:
        return lines
    blanked = _blank_urls(text, urls)  # (every other character where it was: lines start where they did)
    out = lines.copy()
    for first in {text.rfind("\n", 0, start) + 1 for start, _ in urls}:  # (each line with a URL once)
        end = text.find("\n", first)
        out[text.count("\n", 0, first)] = find_words(_fold_basic(blanked[first:len(text) if end < 0 else end]))
    return out


def cyrillic_reading(word: str) -> str | None:
    """A normalised word's Latin look-alikes written in Cyrillic, when every Latin letter has a
    twin: what an all-caps «BCУ» reads as, the case that told it being gone after folding."""
    to_cyr = word.translate(_LAT_TO_CYR_T)
    return None if any("a" <= c <= "z" for c in to_cyr) else to_cyr


_CYR_TO_LAT_ALL_T = str.maketrans({c: la for la, c in _LAT_TO_CYR.items()})
_TWIN_T = str.maketrans({**_LAT_TO_CYR, **{c: la for la, c in _LAT_TO_CYR.items()}})


def latin_reading(word: str) -> str | None:
    """A normalised word's Cyrillic look-alikes written in Latin, capital twins included (т, н, м,
    в: «NАТО»), when every Cyrillic letter has one; else None."""
    to_lat = word.translate(_CYR_TO_LAT_ALL_T)
    return None if any(script_of(c) == "cyr" for c in to_lat) else to_lat


def twin_spelling(word: str) -> str | None:
    """A one-script normalised word spelt in the other script's look-alikes («х» <-> «x», «кто» <->
    «kto»), when every letter has a twin; None otherwise."""
    out = word.translate(_TWIN_T)
    if out == word or any(script_of(a) == script_of(b) != "" for a, b in zip(word, out)):
        return None
    return out if len({script_of(c) for c in out} - {""}) == 1 else None


# The endings a number takes as an ordinal, hyphenated or not: 137-й, 137-го, 137го, 2024-м,
# 90-х, 5-я (Russian, and Ukrainian 137-ма, 137-ї).
ORDINAL_SUFFIXES = frozenset(
    "й ый ий ой го ого его му ому ему м ом ем ым им х ых их я ая яя е ое ее ые ие ю ую юю ми ыми ими"
    " ма ї".split())
# Written onto the number («137го»); not «м»: «100м» is a hundred metres more often than the 100th.
_GLUED_ORDINAL_RE = re.compile(r"([0-9]+)(%s)" % "|".join(sorted(ORDINAL_SUFFIXES - {"м"}, key=len, reverse=True)))


def split_ordinal(word: str) -> tuple[str, str] | None:
    """(number, ending) of a normalised word that is a number with an ordinal ending written onto
    it («137го» -> ("137", "го")); None for any other word."""
    m = _GLUED_ORDINAL_RE.fullmatch(word) if word[:1].isdigit() else None
    return (m.group(1), m.group(2)) if m else None


def is_mixed(word: str) -> bool:
    """Does a normalised word mix Latin and Cyrillic letters?"""
    return _MIXED_RE.search(word) is not None


# Capital look-alikes: an all-caps word that mixes scripts is a Cyrillic abbreviation in disguise
# («BCУ», «КTO») when every Latin capital has a Cyrillic twin; NATO, USA, HIMARS have letters
# with none (N, U, S, R) and stay Latin.
_CAPS_LAT_TO_CYR_T = str.maketrans("ACEOPXYKMTHBI", "АСЕОРХУКМТНВІ")
_CAPS_CYR_TO_LAT_T = str.maketrans("АСЕОРХУКМТНВІ", "ACEOPXYKMTHBI")
# A word of the raw text as folding will part it: «ʼ» (U+02BC) is a letter to `\w` but an apostrophe once
# folded, so «AʼʼAА» is the words «A» and «AА» (a Latin «a» and «аа», as `tokenize` reads them), not one
# mixed word whose capitals all read as Cyrillic.
_CAPS_WORD_RE = re.compile(r"[^\W_ʼ]+")


def _caps_to_cyr(m: re.Match[str]) -> str:
    """An all-caps word mixing scripts, written in one: Cyrillic when all its Latin capitals have twins."""
    w = m.group()
    # a mixed word as `_MIXED_RE` reads one (a Latin and a Cyrillic letter side by side), as
    # `tokenize` folds it word by word: not letter runs a digit parts («A0Ё», «ТУ22M3»: each run a
    # word of its own, as designations read them), which another mixed word in the same text made
    # `normalize` fold and `tokenize` not
    if not w.isupper() or not _MIXED_RE.search(w.casefold()):
        return w
    to_cyr = w.translate(_CAPS_LAT_TO_CYR_T)
    if not any("A" <= c <= "Z" for c in to_cyr):
        return to_cyr
    # a Latin capital with no twin (N of «NАТО» with Cyrillic А, Т, О): a Latin word, when every
    # Cyrillic capital has a Latin twin
    to_lat = w.translate(_CAPS_CYR_TO_LAT_T)
    return w if any("А" <= c <= "Я" or c in "ЁІЇЄҐЎ" for c in to_lat) else to_lat


def normalize(text: str) -> str:
    """Fold case, ё, invisible characters, look-alike letters and CamelCase hashtags.

    The result keeps word boundaries: tokenising it with `WORD_RE` gives the same words as
    `tokenize(text)`.
    """
    folded = _fold_basic(text)
    if _MIXED_RE.search(folded):
        # Case is gone once folded: read all-caps mixed words off the text before folding (rare: only
        # texts that mix scripts inside a word pay for it).
        raw = _nfkc_words(unformat(text))
        caps = _CAPS_WORD_RE.sub(_caps_to_cyr, raw)
        if caps != raw:
            # (not NFKC again: a look-alike read as Cyrillic takes no mark the Latin letter did not, «ЁY̆»
            # is «еу» and a stray breve, as in lower case and to the matcher's quick filter, never «еў»)
            folded = _fold_nfkc(caps)
        folded = _MIXED_WORD_RE.sub(_fold_mixed_word, folded)
    return folded


@lru_cache(maxsize=65536)
def normalize_word(word: str) -> str:
    """`normalize` for one word (cached: words repeat)."""
    return normalize(word)


def words(text: str) -> list[str]:
    """The normalised words of `text`, URLs left out: `tokenize`'s words, without their spans."""
    return find_words(normalize(_blank_urls(text, find_urls(text))))


def strip_urls(text: str) -> str:
    """`text` with every URL replaced by a space."""
    return URL_RE.sub(" ", text) if _hint(text) >= 0 else text


def find_urls(text: str) -> list[tuple[int, int]]:
    """Spans of URLs in the original text."""
    return [m.span() for m in _url_matches(text)]


def _hint(text: str, pos: int = 0) -> int:
    """Where the first hint of a URL («://» or `_DOT_HINT_RE`) at or after `pos` starts; -1 if none."""
    dot = _DOT_HINT_RE.search(text, pos)
    end = len(text) if dot is None else dot.start()
    colon = text.find("://", pos, end)  # (one starting before the «.» ends before it: it holds no «.»)
    return colon if colon >= 0 or dot is None else end


def _url_matches(text: str) -> Iterator[re.Match[str]]:
    """`URL_RE.finditer(text)`, only on the lines with a `_hint`: a URL never spans a line break and
    holds a hint, and the full pattern tries every character where the hint skips from one «.» to the
    next (a line's matches are the same: both patterns see past its ends)."""
    at = _hint(text)
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)  # (a hint holds no line break)
        end = len(text) if end < 0 else end
        yield from URL_RE.finditer(text, start, end)
        at = _hint(text, end)


def _blank_urls(text: str, urls: list[tuple[int, int]]) -> str:
    """`text` with each URL (spans from `find_urls`, in order) made spaces, every other character
    where it was: the words of the raw text outside links, a word glued to one («Читайтеlenta.ru»,
    «Источникt.me/baza») cut where the link starts, in `words` and `tokenize` alike."""
    if not urls:
        return text
    parts, pos = [], 0
    for start, end in urls:
        parts += [text[pos:start], " " * (end - start)]
        pos = end
    return "".join(parts) + text[pos:]


def _tokens_in_place(text: str, norm: str) -> list[Token]:
    out: list[Token] = []
    for m in _word_re(norm).finditer(norm):
        w = m.group()
        # (a mixed word is folded from its own letters: their case tells an abbreviation, «BCУ»)
        out.append(Token(normalize_word(text[m.start():m.end()]) if _MIXED_RE.search(w) else w, *m.span()))
    return out


@dataclass(frozen=True, slots=True)
class Token:
    """One normalised word and where it stands in the original text."""

    text: str
    start: int
    end: int


# Compatibility characters NFKC replaces one for one (spaces, a non-breaking hyphen), and signs
# folding makes a space («№»): they keep every later character where it was.
_ONE_FOR_ONE_RE = re.compile(f"[\u00a0\u2000-\u200a\u2011\u202f\u205f\u3000{_SIGNS}]")


def _in_place(text: str) -> bool:
    """Does folding keep each character at its place? Not when it removes one (a soft hyphen, a
    stress mark) or NFKC turns one into several («½» -> «1⁄2»), even if the two cancel out in length."""
    if _FORMAT_RE.search(text):
        return False
    return unicodedata.is_normalized("NFKC", text) or unicodedata.is_normalized("NFKC", _ONE_FOR_ONE_RE.sub(" ", text))


def tokenize(text: str) -> list[Token]:
    """Normalised words with their spans in `text`; words inside URLs are left out (a word glued
    to one ends where the URL starts: `_blank_urls`)."""
    text = _blank_urls(text, find_urls(text))
    if "#" not in text and "@" not in text and _in_place(text):
        norm = _fold_basic(text)
        if len(norm) == len(text):
            # Folding kept every character in place (the usual case): read the words and
            # their spans straight off the folded text.
            return _tokens_in_place(text, norm)
    out: list[Token] = []
    for m in _RAW_WORD_RE.finditer(text):
        start, end = m.span()
        raw = m.group()
        parts = WORD_RE.findall(normalize_word(raw))
        if not parts:
            continue
        if raw[0] in _TAG_SIGNS:
            start += 1
            raw = raw[1:]
        if len(parts) == 1:
            out.append(Token(parts[0], start, end))
            continue
        # CamelCase hashtags, underscores, odd NFKC expansions: place each part in the raw
        # word where its letters are; fall back to the whole word.
        nfkc = unicodedata.normalize("NFKC", raw)
        low = (nfkc if len(nfkc) == len(raw) else raw).casefold().replace("ё", "е")
        if len(low) != len(raw):  # casefolding changed the length (ῷ -> ῶι): offsets would not map back
            out.extend(Token(part, start, end) for part in parts)
            continue
        pos = 0
        for part in parts:
            i = low.find(part, pos)
            if i < 0:
                out.append(Token(part, start, end))
            else:
                out.append(Token(part, start + i, start + i + len(part)))
                pos = i + len(part)
    return out


# What may make a text read differently once normalised, each found in one cheap pass: a Latin
# letter touching a Cyrillic one (the pattern starts with the Latin letter, so `re` scans for it
# in C), an invisible character that can sit inside a word (a zero-width joiner only before a
# letter, digit or apostrophe: it joins emoji far more often), a CamelCase or underscored hashtag.
_CYR_ANY = "а-яёА-ЯЁіїєґўІЇЄҐЎ"
_MIXED_HINT_RE = re.compile(f"[a-zA-Z](?:(?<=[{_CYR_ANY}].)|(?=[{_CYR_ANY}]))")
_COMMON_INVISIBLE = ("\u00ad\u061c\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
                     f"\ufeff\ufff9-\ufffb\u00b4\u0300\u0301{DECORATION_MARKS}")
# Every other format character `unformat` removes (Arabic number signs, tag characters...): rare, yet
# one inside a word hides it from search as well as any zero-width space (the astral ones are kept by
# a lookbehind after any astral character, as in `_FORMAT_RE`: 0.5 µs a post more, not 7).
_RARE_INVISIBLE = "".join(c for c in _FORMAT_CHARS if unicodedata.category(c) == "Cf" and c != "\u200d"
                          and not re.fullmatch(f"[{_COMMON_INVISIBLE}]", c))
_RARE_BMP = _char_class("".join(c for c in _RARE_INVISIBLE if ord(c) <= 0xFFFF))
_RARE_ASTRAL = _char_class("".join(c for c in _RARE_INVISIBLE if ord(c) > 0xFFFF))
_INVISIBLE_RE = re.compile(
    f"[{_COMMON_INVISIBLE}{_RARE_BMP}\U00010000-\U0010FFFF](?:(?<=[{_RARE_ASTRAL}])|(?<![\U00010000-\U0010FFFF]))"
    "|\u200d(?=[\\w'’ʼ`])")
_CAMEL_TAG_RE = re.compile(r"[#@＃＠][^\W_]*(?:[a-zа-яёіїєґ][A-ZА-ЯЁІЇЄҐ]|_)")
# The apostrophes FTS5 parts words at, as at «'» («ʼ» U+02BC is a letter to it: «дʼИвуар» one word)
_APOSTROPHE_RE = re.compile("[’`]")
# Compatibility characters common in news that change no word: no-break and thin spaces,
# «…», «‼», a non-breaking hyphen (what keeps nine posts in ten from the slower checks; a
# regex, since str.translate with a table looks every character up in a dict).
_HARMLESS_RE = re.compile("[\u00a0\u2026\u2011\u203c\u202f\u2006\u2009\u200a\u2049]")


def search_reading(text: str, urls: Sequence[str] = ()) -> str | None:
    """What the search index holds beside a post's text: its `search_fold` reading, and the addresses
    of the links behind its words (`t.me/shot_shot` finds a post whose text only says «SHOT»); None
    when there is neither."""
    fold = search_fold(text) if text else None
    if not urls:
        return fold
    return "\n".join([fold, *urls] if fold else urls)


# The search index's tokenizer (bot/store/schema.py): what it takes for a word's letters is Unicode 6.1's.
FTS_TOKENIZE = "unicode61 remove_diacritics 2"


@lru_cache(maxsize=None)
def glued_re() -> re.Pattern[str]:
    """The characters FTS5's tokenizer takes for letters though they are none: symbols and emoji
    later than Unicode 6.1 («⏺», «₽», «🤔», «🪖»), so «⏺Путин» is one word to it and `search Путин`
    missed the post (1 post in 20 of the corpus). Asked of SQLite's FTS5 itself, once a process (7 ms)."""
    return _chars_re(_glued_chars())


@lru_cache(maxsize=None)
def unfolded_re() -> re.Pattern[str]:
    """The letters FTS5's tokenizer folds otherwise than a query's case folding: one that becomes two
    («ß» ss, «և» եւ, «ﬁ» fi) and capitals later than Unicode 6.1 (Georgian «Ა», Cherokee), which it
    leaves as they are, so `search Straße` missed «Straße». Asked of SQLite's FTS5 itself, once a process."""
    return _chars_re(_unfolded_chars())


@lru_cache(maxsize=None)
def _refold_hint_re() -> re.Pattern[str]:
    """`glued_re` or `unfolded_re`: one pass over a post, as fast as either alone (1.6 us a post)."""
    return _chars_re(_glued_chars() + _unfolded_chars())


def _chars_re(chars: str) -> re.Pattern[str]:
    """A pattern for any of `chars`; never matching when there is none."""
    if not chars:
        return re.compile("(?!)")  # (a tokenizer that knows them all)
    bmp = "".join(c for c in chars if ord(c) <= 0xFFFF)
    # (as `_FORMAT_RE`: the astral ones behind a lookbehind, so common characters are not tested one by one)
    return re.compile(f"[{_char_class(bmp) if bmp else ''}\U00010000-\U0010FFFF](?<=[{_char_class(chars)}])")


@lru_cache(maxsize=None)
def _glued_chars() -> str:
    """`glued_re`'s characters."""
    import sqlite3

    # (where symbols and emoji are: U+2000-U+2FFF, U+1F000-U+1FFFF, unassigned ones too, as emoji
    # newer than this Python's Unicode; letters and digits are passed over in C, and a mark or a
    # private-use character is part of a word)
    candidates = [c for c in filterfalse(str.isalnum, map(chr, chain(range(0x2000, 0x3000), range(0x1F000, 0x20000))))
                  if unicodedata.category(c)[0] != "M" and unicodedata.category(c) != "Co"]
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{FTS_TOKENIZE}')")
        conn.execute("INSERT INTO t (x) VALUES (?)", [" ".join(candidates)])
        conn.execute("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, t, row)")
        return "".join(sorted(set(candidates) & {c for (term,) in conn.execute("SELECT term FROM temp.v") for c in term}))
    finally:
        conn.close()


@lru_cache(maxsize=None)
def _unfolded_chars() -> str:
    """`unfolded_re`'s letters: those whose FTS5 terms alone differ from their case folding's (20 ms)."""
    import sqlite3

    cased = [c for c in map(chr, range(0x1F000)) if c.casefold() != c]  # (no cased letter lies above)
    conn = sqlite3.connect(":memory:")
    try:
        for table, texts in (("t", cased), ("f", [c.casefold() for c in cased])):
            conn.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(x, tokenize='{FTS_TOKENIZE}')")
            conn.executemany(f"INSERT INTO {table} (rowid, x) VALUES (?, ?)", enumerate(texts))
            conn.execute(f"CREATE VIRTUAL TABLE temp.{table}_v USING fts5vocab(main, {table}, instance)")
        differ = conn.execute("SELECT doc FROM temp.t_v EXCEPT SELECT doc FROM temp.t_v JOIN temp.f_v USING (doc, term)")
        return "".join(cased[doc] for (doc,) in sorted(differ))
    finally:
        conn.close()


def search_fold(text: str) -> str | None:
    """`normalize(text)` when a search index must hold it beside the text to find the post by its
    words (Latin look-alike letters, invisible characters inside words, CamelCase hashtags,
    compatibility forms such as a decomposed «й», a word glued to a symbol FTS5 takes for a letter:
    that symbol a space, a letter FTS5 folds otherwise than a query, «Straße»), else None: the text
    reads the same, as nine posts in ten do (told apart in a few microseconds)."""
    if _refold_hint_re().search(text):  # (a symbol FTS5 glues to a word, a letter it folds otherwise)
        return glued_re().sub(" ", normalize(text))
    low = text.casefold()  # («ß», «ﬁ» become Latin letters only here)
    # (each invisible character is a format character: `_FORMAT_RE` finds there is none at half the cost)
    if not (_MIXED_HINT_RE.search(low) or (_FORMAT_RE.search(text) and _INVISIBLE_RE.search(text)) or "ʼ" in text
            or (("#" in text or "@" in text) and _CAMEL_TAG_RE.search(text))):
        if unicodedata.is_normalized("NFKC", text) or unicodedata.is_normalized("NFKC", _HARMLESS_RE.sub(" ", text)):
            return None
        nf = unicodedata.normalize("NFKC", text)  # «…» and no-break spaces change no word; «ſ», «Ａ» do
        nfkc = nf.casefold()
        if not (_MIXED_HINT_RE.search(nfkc) or (("#" in nf or "@" in nf) and _CAMEL_TAG_RE.search(nf))) \
                and find_words(nfkc) == find_words(low):
            return None
    folded = normalize(text)
    plain = _APOSTROPHE_RE.sub("'", low.replace("ё", "е"))
    return folded if find_words(folded) != find_words(plain) else None


# C0/C1 controls (but line breaks and tabs), and the bidi controls that reorder what follows them:
# embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069, the LRM/RLM/ALM marks
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text a channel wrote, safe to print on a terminal: each control character (an ESC that
    would start a colour, clear the screen or hide the rest of an alert) and each bidi control (a
    U+202E that makes a channel's name or a line read backwards) becomes U+FFFD, one character for
    one, so offsets into the text still hold; line breaks and tabs stay."""
    return _CONTROL_RE.sub("\ufffd", text)
