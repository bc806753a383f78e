"""The query a search runs (`FtsQuery`): its FTS5 expression, and what it finds in a post's text,
which posts to keep (`matches`) and where to highlight (`spans`), as the rules would find them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import islice, product
from typing import Any, Callable, Iterator

from ...match.matcher import Matcher, _capitals, look_alikes
from ...match.query import Or, Phrase, Word, to_text
from ...match.rules import Rule
from ...text import tokenize

__all__ = ["Family", "FtsQuery"]


@dataclass(frozen=True)
class FtsQuery:
    """A safe FTS5 MATCH expression, and per query word what it reaches (for highlighting)."""

    expression: str
    words: tuple[str, ...]  # the normalised query words (prefixes)
    forms: frozenset[str] = field(default_factory=frozenset)  # inflected forms matched exactly
    phrases: tuple[tuple[str, ...], ...] = ()  # words in a row: quoted, or written with / or - (в/ч)
    exact: frozenset[str] = frozenset()  # words matched whole: abbreviations in capitals (СОЧ, ВСУ), =word
    cased: frozenset[str] = frozenset()  # of those, the ones a post must write in capitals (КТО, not «кто»)
    # per phrase, per part, the inflected forms it also takes («воинская часть» is «воинской части»)
    phrase_forms: tuple[tuple[frozenset[str], ...], ...] = ()
    # a phrase with too many combinations of forms is searched by its words' stems in a row
    # (воинск* част*), a designation with a star by its spellings: the posts found must then pass `matches`
    checked: bool = False
    # (word, its Cyrillic reading) of each word typed in look-alike Latin capitals («CBO», «сво»)
    twins: tuple[tuple[str, str], ...] = ()
    families: tuple[Family, ...] = ()  # designations with a star (`Ту-95*`), abbreviations in capitals (`КТО`)
    # pieces written `-word` or `NOT word` whose posts only `matches` tells (the others are in `expression`)
    left_out: tuple[FtsQuery, ...] = ()

    @property
    def sifted(self) -> bool:
        """Must each post the expression finds also pass `matches`?"""
        return self.checked or bool(self.left_out)

    def _phrase_at(self, text: str, tokens: list[Any], n: int) -> list[tuple[int, int]]:
        """Where phrase `n` occurs among the `tokens` of `text`: (first token, last token) indexes."""
        parts = self.phrases[n]
        forms = self.phrase_forms[n] if n < len(self.phrase_forms) else tuple(frozenset() for _ in parts)
        twins = dict(self.twins)

        def part(p: str, k: int, tok: Any) -> bool:
            return ((tok.text in forms[k] or _part_matches(p, tok.text, self.exact)
                     or (p in twins and _part_matches(twins[p], tok.text, self.exact)))
                    and (p not in self.cased or _capitals(text[tok.start:tok.end])))
        return [(i, i + len(parts) - 1) for i in range(len(tokens) - len(parts) + 1)
                if all(part(p, k, tokens[i + k]) for k, p in enumerate(parts))]

    def matches(self, text: str) -> bool:
        """Does `text` hold every designation with a star as a rule finds it, and every phrase, its parts
        as typed or inflected, in a row, and none of the pieces `left_out`? (Asked only when `sifted`:
        otherwise the expression alone says so.)"""
        if any(e.matches(text) for e in self.left_out):
            return False
        if not self.checked:
            return True
        if not all(f.spans(text) for f in self.families):
            return False
        if not self.phrases:
            return True
        tokens = tokenize(text)
        return all(self._phrase_at(text, tokens, n) for n in range(len(self.phrases)))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the query's words occur in `text` (original offsets); a phrase as one span, the words
        inside it not again (`"бомбардировщиков Ту-95МС"` is one, not it and «95МС»)."""
        tokens = tokenize(text)

        def hit(word: str) -> bool:
            return (word in self.forms or (word in self.exact and word not in self.cased)
                    or any(word.startswith(w) for w in self.words))
        spans = [(t.start, t.end) for t in tokens if hit(t.text)]
        spans.extend(_after_apostrophes(tokens, hit))
        for n in range(len(self.phrases)):
            spans.extend((tokens[i].start, tokens[j].end) for i, j in self._phrase_at(text, tokens, n))
        for family in self.families:
            spans.extend(family.spans(text))
        return _outermost(spans)


def _outermost(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`spans` in order, one that overlaps an earlier one joined to it (a word inside a phrase found too)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def _after_apostrophes(tokens: list[Any], hit: Callable[[str], bool]) -> Iterator[tuple[int, int]]:
    """The parts after a word's inner apostrophe that `hit` takes: the search index parts «скри'ок» there
    (FTS5's unicode61), so `ок` finds the post; each is highlighted where it is written."""
    for t in tokens:
        if "'" not in t.text or t.end - t.start != len(t.text):
            continue
        pos = 0
        for part in t.text.split("'"):
            if pos and part and hit(part):
                yield t.start + pos, t.start + pos + len(part)
            pos += len(part) + 1


@dataclass(frozen=True)
class Family:
    """A designation with a star (`Ту-95*`: Ту-95, «Ту-95МС», «Ту95МСМ», «Ty-95MS») as the rule language
    reads it (`designation_family`), or an abbreviation in capitals as a rule's `=КТО` (`capitals`): the
    FTS5 terms of its spellings find the posts, the rule's own matcher keeps those a rule would match
    (hyphenated or glued with a capital: not «с 40» for `С-40*`; «КТО» in capitals, not «кто»)."""

    phrase: Phrase | Word | Or
    matcher: Matcher = field(compare=False)
    only: frozenset[str] = frozenset()  # the post's words a hit must be (an abbreviation's: not «BBC» for ВВС)

    @classmethod
    def of(cls, phrase: Phrase | Word | Or) -> Family:
        return cls(phrase, Matcher([Rule("search", to_text(phrase), phrase)]))

    @classmethod
    def capitals(cls, words: list[str]) -> Family:
        """`=КТО` of a rule: each word (an abbreviation and its other reading: «cbo», «сво») whole and
        only where a post writes it in capitals, a shouted pronoun («КТО ВИНОВАТ?») aside; the words as
        search reads them (the rule's look-alike spellings, «BBC» for `=ВВС`, are left to `FtsQuery.twins`)."""
        ws = tuple(Word(w, "exact", cased=True) for w in words)
        return replace(cls.of(ws[0] if len(ws) == 1 else Or(ws)), only=frozenset(words))

    def expression(self) -> str:
        """Its FTS5 terms, OR-ed: each spelling (`look_alikes`, as the matcher's) in a row (`"ту" + "95"*`),
        at most `_MAX_PHRASES` (a designation of many letter parts has 2 to the power of them), or glued (`"ту95"*`).
        In a phrase (`"самолёт Ту-95*"`), its designations' terms AND-ed: the matcher checks the other words."""
        assert isinstance(self.phrase, Phrase), "an abbreviation's terms are its words' own (`_expression`)"
        runs: list[list[str]] = []  # a designation's parts are joined to the part before them
        for w in self.phrase.words:
            if w.joined and runs:
                runs[-1].append(w.text)
            else:
                runs.append([w.text])
        return " AND ".join(_designation_terms(r) for r in runs if len(r) > 1 or len(runs) == 1)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where a rule of it matches in `text`: each designation as one span («Ту-95МС», not «Ту» and «95МС»)."""
        spans: list[tuple[int, int]] = []
        hits = (h for m in self.matcher.match(text) for h in m.hits
                if not self.only or any(t.text in self.only for t in tokenize(h.form)))
        for h in sorted(hits, key=lambda h: h.start):
            if spans and 0 <= h.start - spans[-1][1] <= 1 and not text[spans[-1][1]:h.start].isspace():
                spans[-1] = (spans[-1][0], h.end)  # a part after its hyphen
            else:
                spans.append((h.start, h.end))
        return spans


def _designation_terms(words: list[str]) -> str:
    """A designation's spellings as FTS5 terms, OR-ed (`Family.expression`)."""
    spellings = islice(product(*(sorted(look_alikes(w)) for w in words)), _MAX_PHRASES)
    rows = [" + ".join(map(_quote, spelling)) + "*" for spelling in spellings]
    return "(" + " OR ".join([*rows, *(_quote(g) + "*" for g in sorted(look_alikes("".join(words))))]) + ")"


def _exact_part(part: str) -> bool:
    """A phrase part matched whole (в, ч, й, 137), not as a prefix: a letter or two, or a number."""
    return len(part) <= 2 or part.isdigit()


def _part_matches(part: str, token: str, exact: frozenset[str] = frozenset()) -> bool:
    return token == part if _exact_part(part) or part in exact else token.startswith(part)


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


_MAX_PHRASES = 1000  # phrases OR-ed for one quoted part (FTS5 finds 700 in 0.2 s on 22k posts)
