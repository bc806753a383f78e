"""A search text turned into the FtsQuery that finds its posts: each word as a prefix and its
inflected forms, phrases in a row, ё spellings, look-alike readings; never an FTS5 syntax error."""

from __future__ import annotations

import os
from dataclasses import replace
from itertools import islice, product
from math import prod
from typing import Callable

from ...match.morph import Morphology, default_morphology
from ...match.query import Phrase
from .ftsquery import _MAX_PHRASES, Family, FtsQuery, _exact_part, _quote
from .querytext import Piece, SearchError, _left_out_wanted, _query_pieces

__all__ = ["fts_query"]


_MAX_WORDS = 16  # pieces a search takes; more is a SearchError (a pasted paragraph is not a query: 16 take 1 s)
_MAX_ALTERNATIVES = 120  # FTS terms per query word (forms x ё spellings)


def _yo_spellings(word: str) -> list[str]:
    """The word, and each spelling with one е written ё: the index keeps ё, queries fold it."""
    return [word] + [word[:i] + "ё" + word[i + 1:] for i, c in enumerate(word) if c == "е"]


def fts_query(text: str, *, forms: bool = True, morphology: Morphology | None = None,
              stored: Callable[[str], int] | None = None) -> FtsQuery:
    """Turn a user's words into an FTS5 query that never raises a syntax error.

    Each normalised word (`bot.text.words`: case, ё, look-alike letters folded; punctuation
    dropped) becomes a quoted prefix term `"word"*`; with `forms` the word itself and its
    inflected forms are OR-ed in as exact terms, so «воинская» also finds «воинской» and a post
    that says «СВО» ranks above one that only has «своих». An abbreviation typed in capitals
    (СОЧ, КТО) is an exact term alone, kept only where a post writes it in capitals, as a rule's
    `=КТО` (`Family.capitals`); `=word` is that form alone, as in a rule. A word typed in Latin capitals that all look Cyrillic
    («CBO») is searched in both readings, «cbo» or «сво», each as that word would be, unless
    `stored` (how many stored posts have a word) finds the Latin word in more posts than its
    Cyrillic reading: then it is a word of its own («BBC», the broadcaster, not «ВВС»). A quoted
    part ("сбежал из части") and a word written with / or - are phrases: their words in a row, each
    a prefix (a letter or two, numbers and abbreviations whole). A designation with a star (`Ту-95*`)
    is its family, as a rule reads it (`Family`); one too broad (`С-4*`) is a SearchError. Words,
    phrases and families are AND-ed; a piece written `-word` or `NOT word` leaves out the posts it
    would find (`_query_pieces`). More than `_MAX_WORDS` pieces, or only left-out ones, is a SearchError.
    """
    p = _query_pieces(text)
    twins = p.twins
    if stored is not None:
        # (a letter alone keeps both: «t» counts every t.me link, and says nothing of the «T» of «T-72»)
        twins = {w: r for w, r in twins.items() if len(w) < 2 or stored(w) <= stored(r)}
    if len(p.wanted) + len(p.unwanted) > _MAX_WORDS:
        raise SearchError(f"too many words: {len(p.wanted) + len(p.unwanted)}, and a search takes at most {_MAX_WORDS} "
                          "(a phrase in quotes counts as one)")
    if not p.wanted:
        raise SearchError(f"nothing to search for in {text!r}: " + (
            "it has no words" if not p.unwanted else
            "every word in it is left out (-word, NOT word); give a word the posts must have, as in дезертир -часть"))
    if clash := _left_out_wanted(p):
        raise SearchError(f"{clash!r} is both asked for and left out, so no post can be found: drop one of them")
    exact = p.exact | {twins[w] for w in p.exact if w in twins}  # «CBO» typed as an abbreviation: «сво» whole too
    cased = frozenset(p.cased | {twins[w] for w in p.cased if w in twins})
    morph = (morphology or default_morphology()) if forms else None
    q = _expression(p.wanted, exact, twins, morph, cased)
    if not p.unwanted:
        return q
    # a left-out piece in the FTS expression (NOT), unless only checking each post tells (a widened phrase, a family)
    left_out = [_expression([piece], exact, twins, morph, cased) for piece in p.unwanted]
    barred = [e.expression for e in left_out if not e.checked]
    return replace(q, expression=f"({q.expression}) NOT ({' OR '.join(barred)})" if barred else q.expression,
                   left_out=tuple(e for e in left_out if e.checked))


def _expression(pieces: list[Piece], exact: frozenset[str] | set[str], twins: dict[str, str],
                morph: Morphology | None, cased: frozenset[str] = frozenset()) -> FtsQuery:
    """The FtsQuery that finds the posts with every one of `pieces` (`fts_query`); a word in `cased`
    only where a post writes it in capitals, as a rule's `=КТО` (`Family.capitals`)."""
    groups: list[str] = []
    all_forms: set[str] = set()
    ws = [w for w in pieces if isinstance(w, str)]
    phrases = tuple(w for w in pieces if isinstance(w, tuple))
    families = tuple(Family.of(w) for w in pieces if isinstance(w, Phrase))
    groups.extend(f.expression() for f in families)
    # an abbreviation in capitals: its terms below find the posts, the rule matcher keeps those in capitals
    families += tuple(Family.capitals([w, *([twins[w]] if w in twins else [])]) for w in ws if w in cased)
    phrase_forms: list[tuple[frozenset[str], ...]] = []
    checked = any(p in cased for parts in phrases for p in parts)  # a post's capitals: only its text tells
    for parts in phrases:  # the parts in a row: short ones, numbers and abbreviations whole, longer ones as prefixes
        # a longer part in any inflection too («воинская часть» finds «воинской части»), and in its
        # Cyrillic reading when typed in look-alike Latin capitals
        readings = [[p, *([twins[p]] if p in twins else [])] for p in parts]
        forms = tuple(frozenset(f for r in rs if morph is not None and not _exact_part(r) and r not in exact
                                for f in morph.forms(r) if not f.startswith(r)) for rs in readings)
        phrase_forms.append(forms)
        # each part's terms: the part (a prefix, unless short or an abbreviation) and its other forms
        # (whole), each spelling with ё too (the index keeps it); one phrase per combination
        terms = [[_quote(y) + ("" if _exact_part(r) or r in exact else "*") for r in rs for y in _yo_spellings(r)]
                 + [_quote(y) for f in sorted(f_) for y in _yo_spellings(f)] for rs, f_ in zip(readings, forms)]
        if prod(map(len, terms)) > _MAX_PHRASES:  # too many: the stems in a row, checked by `matches`
            checked = checked or any(forms)
            terms = [[_quote(y) + ("" if _exact_part(r) or r in exact else "*")
                      for r in rs for stem in ([r] if not f_ else _stems(r, f_)) for y in _yo_spellings(stem)]
                     for rs, f_ in zip(readings, forms)]
        alternatives = [" + ".join(c) for c in islice(product(*terms), _MAX_PHRASES)]
        groups.append(alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")")
    prefixes: list[str] = []
    for w in ws:
        alternatives = []  # the word's terms, any one of which a post must hold
        for r in [w, *([twins[w]] if w in twins else [])]:
            if r in exact:  # an abbreviation: the word alone, no prefix, no inflected forms
                alternatives += [_quote(s) for s in _yo_spellings(r)]
                continue
            prefixes.append(r)
            word_terms = [_quote(s) + "*" for s in _yo_spellings(r)]
            if morph is not None:
                extra = sorted(f for f in morph.forms(r) if not f.startswith(r))
                all_forms.update(extra)
                # the word itself as a form too: bm25 then ranks «СВО» above the «своих» it starts
                word_terms += [_quote(r)] + [_quote(s) for f in extra for s in _yo_spellings(f)]
            alternatives += word_terms[:_MAX_ALTERNATIVES]
        groups.append(alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")")
    return FtsQuery(" AND ".join(groups), tuple(prefixes), frozenset(all_forms), phrases,
                    frozenset(exact), cased, tuple(phrase_forms), checked or bool(families),
                    tuple(sorted(twins.items())), families)


_STEM_MIN = 3  # letters a stem searched as a prefix keeps at least (a shorter one would find too much)


def _stems(word: str, forms: frozenset[str]) -> list[str]:
    """The prefixes that reach `word` and all its `forms`: the one they share (воинск), or, when
    that is too short (шел, идти), the word itself and each form's first letters."""
    shared = os.path.commonprefix([word, *forms])
    if len(shared) >= _STEM_MIN or len(shared) == len(word):
        return [shared]
    heads = {word, *(f[:_STEM_MIN] for f in forms)}
    return sorted(h for h in heads if not any(o != h and h.startswith(o) for o in heads))
