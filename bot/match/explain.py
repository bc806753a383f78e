"""Why a post matched, in the post's own words: each word a rule hit, with the rule's term beside it.

Alerts (terminal, Telegram) and exports show the same line, from the hits a `Match` stored."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from ..text import normalize_word

__all__ = ["HitRow", "dictionary_name", "kinship", "matched_words", "occurrences", "shown_term", "term_words"]

HitRow = tuple[str, str, int, int, float, str]  # a stored hit: term, form, start, end, score, kind

_BETWEEN = frozenset("\"«»„“”()[]{},:;!?…—–|")  # separate words even without a space; not . - / ' ’
_WORDY = re.compile(r"[^\W_]")  # between two words of one phrase occurrence there is none («#СЗЧ_ВСУ»)
_WORDS = re.compile(r"[^\W_]+")  # a phrase's words: «"в/ч"» has two, as «"воинская часть"»
_TYPOS = re.compile(r"~[0-9]+(?=[\s\"»”]|$)")  # a word's typo allowance (блокпост~0): how it matches, not what
# Parts of speech pymorphy3 files under one dictionary word (a verb's participles, an adjective's
# short form), grouped so a post word is named after the rule word of its own kind.
_KIND = {"INFN": "VERB", "GRND": "VERB", "PRTS": "PRTF", "ADJS": "ADJF", "COMP": "ADJF"}
_HYPHENS = frozenset("-\u2010\u2011")
_URL_SHOWN = 60  # a matched link longer than this is cut (the alert links the post; the text has it whole)


def _joined(text: str, i: int) -> bool:
    """Does text[i] belong to the written word it touches (a letter, «-» of «45-й», «/» of «в/ч»,
    «,» of «1,5»)? Not a space, nor punctuation that ends a word with no space after it («полк,бригада»)."""
    c = text[i]
    if c.isspace() or unicodedata.category(c)[0] == "S":  # a symbol: an emoji glued on (⚡️План), №, ₽, →
        return False
    return c not in _BETWEEN or (0 < i < len(text) - 1 and text[i - 1].isdecimal() and text[i + 1].isdecimal())


def _ends_word(c: str) -> bool:
    """May a shown word end in `c`: a letter or digit, or a mark on the one before (й typed as и +
    U+0306, a stress mark), not an emoji's variation selector nor a keycap's frame?"""
    return c.isalnum() or (unicodedata.category(c) in ("Mn", "Mc") and not "\ufe00" <= c <= "\ufe0f")


def _seam(text: str, i: int) -> bool:
    """Is text[i] a mark between two words that the word shown for a hit stops at: a hyphen between
    words of letters («всушник-дезертир»; not one that joins a number and its ending or letters,
    «45-й», «Су-34»), a hashtag's «_» («#СЗЧ_ВСУ»: the matcher reads two words), or a full stop with
    the space after it forgotten («дезертир.Его», «1.Задержан», «С.Илюхин»; not «Лента.ру», «т.е.»)?"""
    if not 0 < i < len(text) - 1:
        return False
    c, before, after = text[i], text[i - 1], text[i + 1]
    marked = unicodedata.category(before) in ("Mn", "Mc")  # й typed as и + U+0306, a stress mark
    if c == "_":
        return True
    if c == ".":  # (the last of an ellipsis too: «дезертир...Его»)
        return after.isupper() and (before.isalnum() or marked or before == ".")
    return c in _HYPHENS and after.isalpha() and (before.isalpha() or marked)


def _whole_word(text: str, start: int, end: int, edges: tuple[set[int], set[int]] = (set(), set())) -> str:
    """The written word around text[start:end], from its first letter or digit to its last: «45-й»
    for a hit on «й», «Краснодаре» for one on its letters, «дезертиров» in «Задержали,дезертиров»,
    «План» in «⚡️План», «в/ч» in «(в/ч)». What every face shows (alerts, export, back-test words).

    A compound of words is cut at its hyphen to the part hit («дезертир» of «всушник-дезертир»: the
    word the rule found, not a form of it), a hashtag at its «_» and two sentences at a full stop
    with no space after it (`_seam`), unless the part across was hit too («Нью-Йорк» of a phrase):
    `edges` are the (starts, ends) of the post's hits."""
    if not 0 <= start < end <= len(text):
        return text[start:end]
    starts, ends = edges
    first, last = start, end
    while first > 0 and _joined(text, first - 1) and not (_seam(text, first - 1) and first - 1 not in ends):
        first -= 1
    while last < len(text) and _joined(text, last) and not (_seam(text, last) and last + 1 not in starts):
        last += 1
    while first < start and not text[first].isalnum():  # quotes, «#», an emoji's selector or joiner
        first += 1
    while last > end and not _ends_word(text[last - 1]):
        last -= 1
    return text[first:last]


def _cut(url: str) -> str:
    return url if len(url) <= _URL_SHOWN else url[: _URL_SHOWN - 1] + "…"


def shown_word(text: str, start: int, end: int, kind: str, edges: tuple[set[int], set[int]] = (set(), set())) -> str:
    """The post's word a hit stands for: the whole word around it, a link cut to a readable length."""
    return _whole_word(text, start, end, edges) if kind != "url" else _cut(text[start:end])


def hit_edges(hits: Iterable[HitRow]) -> tuple[set[int], set[int]]:
    """Where the hits start and end: `shown_word` keeps a word the hits run across whole."""
    return {h[2] for h in hits}, {h[3] for h in hits}


def fold_word(word: str) -> str:
    """A word as hits are counted by: case and ё folded."""
    return word.casefold().replace("ё", "е")


def shown_term(term: str) -> str:
    """A rule term as analysts read it beside a matched word: its typo allowance left out
    (`блокпост~0` is блокпост, `"воинская~1 часть"` is «воинская часть»; «(typo)» says when one was
    used), a prefix's `*` written as «…» (`спецназ*` is «спецназ…», as `rules explain` lists its
    forms: query syntax is no part of the word), `=` and quotes kept, since they say what the term
    matches."""
    if term.startswith("url:"):
        return term
    term = _TYPOS.sub("", term)
    return term[:-1] + "…" if term.endswith("*") and not term.startswith('"') else term


# What pymorphy3 tags a proper name with: a first name, surname, patronymic, place, organisation, brand.
_NAME_TAGS = frozenset({"Name", "Surn", "Patr", "Geox", "Orgn", "Trad"})
_SENTENCE_END = frozenset(".!?…\n")


def _opens_sentence(text: str, start: int) -> bool:
    """Does the word at text[start] open the text, a line or a sentence (its capital tells nothing)?"""
    i = start - 1
    while i >= 0 and not text[i].isalnum() and text[i] not in _SENTENCE_END:
        i -= 1
    return i < 0 or text[i] in _SENTENCE_END


@lru_cache(maxsize=4096)
def dictionary_name(term: str) -> bool:
    """Does the dictionary know a lower-case term as a proper name only (азов, москва; not дезертир)?"""
    from .morph import default_morphology

    morph = default_morphology()
    try:
        # the Russian dictionary first: the Ukrainian one tags few names (its «азов» is a common noun)
        analyser = next((a for a in (morph.ru, morph.uk) if a.word_is_known(term)), None)
        parses = [p for p in analyser.parse(term) if normalize_word(p.normal_form) == term] if analyser else []
    except ValueError:  # pymorphy3 fails on characters Unicode names nothing for
        return False
    return bool(parses) and all(_NAME_TAGS & p.tag.grammemes for p in parses)


def _as_name(term: str, word: str, text: str, start: int) -> str:
    """A lower-case rule word a post writes as a name («Калиновского», «Азове»), shown as the name
    («Калиновский», «Азов»): a capital inside a sentence, or the dictionary's word for a place or a
    person where the capital tells nothing (a sentence's first word, a shouted headline)."""
    if not term.isalpha() or not term.islower() or not word[:1].isupper():
        return term
    titled = word[1:].islower() and not _opens_sentence(text, start)
    return term[:1].upper() + term[1:] if titled or dictionary_name(term) else term


def matched_words(text: str, hits: tuple[HitRow, ...]) -> str:
    """«оцеплена ← оцепить, 45-й, полка, дезертирв ← дезертир (typo)»: each word of the post a rule
    hit, once, in order, with the rule's term when it is not the same word (an inflection, a
    prefix, a typo); the words of a phrase or an exact form stand alone."""
    out: dict[str, str] = {}
    edges = hit_edges(hits)
    for term, _form, start, end, _score, kind in sorted(hits, key=lambda h: h[2]):
        word = shown_word(text, start, end, kind, edges)
        key = word.casefold()
        if not word or key in out:
            continue
        term = shown_term(term)
        same = normalize_word(term.lstrip("=").rstrip("…")) == normalize_word(word) or term.startswith(('"', "=")) or " " in term
        if not same:
            term = _as_name(term, word, text, start)
        out[key] = word if same else f"{word} ← {term}" + (" (typo)" if kind == "typo" else "")
    return ", ".join(out.values())


def _phrase_words(term: str) -> list[str]:
    """A phrase term's words, folded («"в/ч"»: в, ч); one entry for a word or an exact form."""
    return [fold_word(w) for w in _WORDS.findall(_TYPOS.sub("", term))] if term.startswith('"') else [term]


def occurrences(text: str, hits: Iterable[HitRow]) -> list[list[HitRow]]:
    """The hits in order, grouped into occurrences of their terms: a word's hit alone, the hits of one
    phrase occurrence together (both parts of «в/ч», «воинская часть» with a typo in either word,
    «Су34» written glued: one hit for the whole phrase). What counting a term's occurrences counts."""
    runs: list[list[HitRow]] = []
    left = 0  # words the last run's phrase still lacks
    for hit in sorted(hits, key=lambda h: h[2]):
        term, form, start = hit[0], hit[1], hit[2]
        words = _phrase_words(term)
        last = runs[-1] if runs else None
        if last and left and last[-1][0] == term and not _WORDY.search(text, last[-1][3], start):
            last.append(hit)  # the next word of the same phrase
            left -= 1
            continue
        runs.append([hit])
        glued = fold_word("".join(_WORDS.findall(form))).startswith("".join(words)) and len(words) > 1
        left = 0 if glued else len(words) - 1
    return runs


def term_words(text: str, hits: Iterable[HitRow]) -> dict[str, dict[str, bool]]:
    """{term: {word: caught as a typo?}}: the post's words (lower case, once each, in order) each
    query term hit; one occurrence of a phrase is one entry («самовольно оставивших»). What a
    back-test counts to show which terms bring the hits, and in which words."""
    hits = list(hits)
    edges = hit_edges(hits)
    out: dict[str, dict[str, bool]] = {}
    for run in occurrences(text, hits):
        words = list(dict.fromkeys(fold_word(shown_word(text, h[2], h[3], h[5], edges)) for h in run))
        key = " ".join(words)  # (both parts of «в/ч» are one written word)
        seen = out.setdefault(run[0][0], {})
        seen[key] = seen.get(key, False) or any(h[5] == "typo" for h in run)
    return out


@lru_cache(maxsize=8192)
def kinship(form: str, term: str, morph: Any) -> int:
    """How directly a post's word belongs to a rule term that hit it, for naming one term when several
    hit the same word: 2 when it is the term itself or one of its forms of the same kind (перекрыли
    and перекрыв of the verb перекрыть, перекрыта of the participle перекрытый, which pymorphy3 files
    under the verb too: its forms reach перекрыли), 1 when it is only in the term's lexeme or the
    term is a prefix; 3 for an exact form or a phrase, the analyst's most specific terms (a phrase
    names «режиме» in «режиме КТО» rather than `режим`), 0 for a link. `morph`: a `Morphology`.

    `Matcher.match` keeps one hit per word: where two terms hit it with the same score, the one of
    higher kinship (the alphabetical order breaks what ties remain; alone, it named «перекрыли ←
    перекрытый»)."""
    word = shown_term(term)
    if word.startswith("url:"):
        return 0
    if word.startswith(('"', "=")) or " " in word:
        return 3
    if word.endswith("…"):  # a prefix (`shown_term` writes its `*` so)
        return 1
    form, word = normalize_word(form), normalize_word(word)
    if form == word:
        return 2
    try:
        def kinds(w: str) -> set[tuple[str, str]]:
            return {(p.normal_form.replace("ё", "е"), _KIND.get(str(p.tag.POS), str(p.tag.POS)))
                    for a in (morph.ru, morph.uk) if a.word_is_known(w) for p in a.parse(w)}
        return 2 if kinds(word) & kinds(form) else 1
    except ValueError:  # pymorphy3 fails on characters Unicode names nothing for
        return 1
