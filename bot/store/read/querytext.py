"""A search text as a user types it read into pieces: words, phrases (quoted, or в/ч, 137-й),
designations with a star, the pieces left out (-word, NOT word); or a SearchError saying why not."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence, Union

from ...match.query import Phrase, QueryError, designation_family, designation_phrase, is_abbreviation
from ...text import cyrillic_reading, find_urls, script_of, tokenize
from .ftsquery import _exact_part

__all__ = ["Piece", "SearchError"]


class SearchError(ValueError):
    """The search text cannot be turned into a query (no words in it, a designation's star too broad)."""


_JOINED = re.compile(r"[^\W_]+(?:[-‐‑/][^\W_]+)+")  # в/ч, 137-й, Ростов-на-Дону: one word written in parts
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")
# a quoted part of the query: "…", «…», “…”, „…“ (a quote left open is ignored, as punctuation)
_QUOTED = re.compile(r'"([^"]*)"|«([^»]*)»|“([^”]*)”|„([^“”]*)[“”]')
_OPERATORS = frozenset({"OR", "AND", "NOT", "NEAR"})  # the rules' operators: in quotes words, never abbreviations
_ABBREVIATION_MAX = 5  # letters of a word in capitals matched whole (СОЧ, ВСУ, НАТО), not as a prefix


def _abbreviation(raw: str, word: str) -> bool:
    """Is a query word, as typed (`raw`), an abbreviation in capitals (СОЧ, ВСУ, «BCУ»): 2 to 5
    letters, all capitals? It is matched whole: «СОЧ» is not «Сочи»."""
    return (2 <= len(word) <= _ABBREVIATION_MAX and not word.isdigit() and raw.isupper()
            and raw not in _OPERATORS)


def _twin_reading(raw: str, word: str) -> str | None:
    """The Cyrillic reading of a query word typed in Latin capitals that all look Cyrillic («CBO» is
    «сво», «BCY» «всу», «T72» «т72», the «T» of «T-72»), searched beside the word as typed; None for
    any other word. (Capitals only: a word in lower case, «hot», «cop», is an English word, not «нот», «сор».)"""
    if not raw.isupper() or any(script_of(c) == "cyr" for c in word):
        return None
    reading = cyrillic_reading(word)
    return reading if reading != word else None


Piece = Union[str, tuple[str, ...], Phrase]  # a word, words in a row, or a designation's family


@dataclass
class _Pieces:
    """A search text read: the pieces a post must have (`wanted`) and those it must not (`unwanted`,
    each written `-word` or `NOT word`), the words matched whole (typed as abbreviations in capitals,
    `_abbreviation`, or as a rule's exact form, `=word`), those of them a post must write in capitals
    (`cased`: КТО, =КТО), and the Cyrillic reading of each typed in look-alike Latin capitals (`_twin_reading`)."""

    wanted: list[Piece] = field(default_factory=list)
    unwanted: list[Piece] = field(default_factory=list)
    exact: set[str] = field(default_factory=set)
    cased: set[str] = field(default_factory=set)
    twins: dict[str, str] = field(default_factory=dict)


_MINUS = re.compile(r"-(?=[^\W_])")  # `-часть`: without the word, as a rule's `-a` (a lone dash is punctuation)
_NEAR = re.compile(r"NEAR(?:/\S*)?")


_NOT_ALONE = "'NOT' needs a word after it, as in дезертир NOT часть"


def _no_operator(word: str) -> SearchError:
    return SearchError(f"{word!r}: search finds posts with every word and has no OR or NEAR (a rule's query has them); "
                       f"search each word on its own, or write {word.lower()!r} in lower case to search the word")


def _rules_error(e: QueryError) -> SearchError:
    """A rule's QueryError as search's one line: the rule's advice to name the designations with OR,
    which search refuses, made what search can do instead."""
    said = e.message.replace(", or the designations with OR)", ", or search each designation on its own)")
    return SearchError(f"search failed: {QueryError(said, e.pos)}")


def _query_pieces(text: str) -> _Pieces:
    """The query's normalised pieces, each once, in order. Words in a row are the tuple of them: a
    phrase. A quoted part of two words or more is one («"сбежал из части"»), and so is a word written
    with a slash or hyphen (в/ч, 137-й), as in rules («в/ч» is not «в» and «ч» anywhere: «км/ч» has
    them too). A designation with a star is the rule language's phrase of it (`Ту-95*`: its family),
    or a SearchError where a rule's would be a QueryError (`С-4*`, too broad). As in the rule
    language, `-word`, `-"a b"` and `NOT word` leave out the posts with it, `AND` is the space, and
    `OR` and `NEAR` (which search has not) are a SearchError; in lower case they are words. A number
    is that number whole (`10` is not «106»), a prefix only with a star (`10*`)."""
    out = _Pieces()
    negated: str | None = None  # the `NOT` or `-` the next piece follows
    numbers: set[str] = set()  # typed without a star: a word of them alone is that number (in a phrase, always)

    def read(chunk: str) -> list[str]:
        tokens = tokenize(chunk)
        starred = {t.text for t in tokens if chunk[t.end:t.end + 1] == "*"}  # a prefix, as typed (`ВСУ*`, `10*`)
        for t in tokens:  # `=word`: a rule's exact form; in capitals, or an abbreviation typed so: capitals only
            raw, equals = chunk[t.start:t.end], chunk[t.start - 1:t.start] == "="
            if equals and t.text in starred:
                raise SearchError(f"'={raw}*': '=' and '*' cannot be combined (as in a rule): ={raw} is the word "
                                  f"whole, {raw}* every word it starts")
            if equals or (_abbreviation(raw, t.text) and t.text not in starred):
                out.exact.add(t.text)
                if is_abbreviation(raw):
                    out.cased.add(t.text)
        numbers.update(t.text for t in tokens if t.text.isdigit() and t.text not in starred)
        out.twins.update((t.text, r) for t in tokens if (r := _twin_reading(chunk[t.start:t.end], t.text)))
        return [t.text for t in tokens]

    def put(pieces: Sequence[Piece]) -> None:
        nonlocal negated
        if negated == "NOT" and not pieces:
            raise SearchError(_NOT_ALONE)
        (out.unwanted if negated else out.wanted).extend(pieces)
        out.exact.update(p for p in pieces if isinstance(p, str) and p in numbers)
        negated = None

    at = 0
    for m in [*_QUOTED.finditer(text), None]:
        end = m.start() if m else len(text)
        for c in re.finditer(r"\S+", text[at:end]):
            chunk = c.group()
            if chunk == "OR" or _NEAR.fullmatch(chunk):
                raise _no_operator(chunk)
            minus = chunk == "-" and m is not None and at + c.end() == end  # -"бессмертный полк"
            if negated and (chunk in ("AND", "NOT") or minus or _MINUS.match(chunk)):
                raise SearchError(_NOT_ALONE)
            if chunk in ("AND", "NOT") or minus:
                negated = {"AND": None, "NOT": "NOT"}.get(chunk, "-")
                continue
            if _MINUS.match(chunk):
                negated, chunk = "-", chunk[1:]
            try:
                family = designation_family(chunk, at + c.start())
            except QueryError as e:
                raise _rules_error(e) from None
            if family is not None:
                put([family])
                continue
            if link := _link_words(chunk):  # rbc.ru, t.me/baza: the link's words in a row, as the index holds them
                put([tuple(link)] if len(link) > 1 else link)
                continue
            parts = read(chunk)
            put([tuple(parts)] if len(parts) > 1 and _JOINED.fullmatch(_EDGES.sub("", chunk)) else list(parts))
        if m:
            inner = next(g for g in m.groups() if g is not None)
            if family := _starred_phrase(inner, m.start() + 1):
                put([family])
            else:
                parts = read(inner)
                put([tuple(parts) if len(parts) > 1 else parts[0]] if parts else [])
            at = m.end()
    if negated == "NOT":
        raise SearchError(_NOT_ALONE)
    out.wanted = list(dict.fromkeys(out.wanted))
    out.unwanted = list(dict.fromkeys(out.unwanted))
    return out


_PUNCTUATION_EDGES = re.compile(r"^[^\w*]+|[^\w*]+$")


def _starred_phrase(inner: str, pos: int) -> Phrase | None:
    """A quoted phrase holding a designation with a star (`"самолёт Ту-95*"`: «самолётами Ту-95МС») as a rule
    reads it, else None. A star a phrase of words cannot keep (`"10* дней"`: a number or a short word in a
    phrase is whole) is a SearchError, never dropped; one on a longer word is kept (a phrase's words are prefixes)."""
    try:
        if family := designation_phrase(inner, pos):
            return family
    except QueryError as e:
        raise _rules_error(e) from None
    if len(tokenize(inner)) < 2:  # a word alone in quotes: a word, its star as outside them
        return None
    for word in inner.split():
        word = _PUNCTUATION_EDGES.sub("", word)  # «(дезертир*),»: the word and its star
        if "*" not in word or not tokenize(word):  # a star alone is punctuation
            continue
        parts = tokenize(word[:-1]) if word.endswith("*") and "*" not in word[:-1] else []
        if not parts or _exact_part(parts[-1].text) or _abbreviation(word[:-1], parts[-1].text):
            raise SearchError(f"'{word}' in the phrase \"{' '.join(inner.split())}\": a star there ends a word of "
                              f"3 letters or more (a number, an abbreviation or a shorter word in a phrase is matched "
                              f"whole); write it outside the quotes")
    return None


def _left_out_wanted(p: _Pieces) -> str | None:
    """A piece the search both asks for and leaves out (`дезертир -дезертир`, or `-дезертир` with
    `дезертира`, which starts with it), as typed; None when there is none."""
    for u in p.unwanted:
        for w in p.wanted:
            if u == w or (isinstance(u, str) and isinstance(w, str) and u not in p.exact and w.startswith(u)):
                return " ".join(u) if isinstance(u, tuple) else str(u)
    return None


def _link_words(chunk: str) -> list[str]:
    """The words of a query word that is a link or a domain (`rbc.ru`, `t.me/baza`, a whole URL),
    which `tokenize` leaves out as it does in posts: the search index holds a link's words, and an
    analyst searches who links where. Empty for any other word."""
    if not find_urls(chunk) or tokenize(chunk):  # (the cheap test first: most words hold no link)
        return []
    return [t.text for t in tokenize(_LINK_SEPARATORS.sub(" ", _LINK_START.sub("", chunk)))]


_LINK_SEPARATORS = re.compile(r"[^\w]+|_")
# a pasted link's scheme and www. (Telegram's «Copy link» and a browser add them; a post may not write them)
_LINK_START = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?", re.IGNORECASE)
