"""The watch-rule query language: a lexer and recursive-descent parser to a small AST.

    дезертир OR "самовольное оставление части"   any form of a word; a phrase in order
    =СОЧ  бригад*  дезертир~2                     exact form; prefix; typo allowance
    полк NEAR/5 (бежать OR покинуть)              within 5 words of each other
    полк -"бессмертный полк"                      a space means AND; -x or NOT x excludes
    url:t.me/baza                                 a piece of a link in the post

Precedence, tightest first: NOT, NEAR/n, AND (or a space), OR. Operators are upper case;
lower-case and/or/not are ordinary words. A query nests at most MAX_DEPTH levels (parentheses,
NOT, NEAR, AND/OR inside one another), so no tree is too deep to walk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Callable, Iterator
from typing import Union

from ..text import ORDINAL_SUFFIXES, URL_RE, normalize, split_ordinal, tokenize

__all__ = [
    "MAX_DEPTH", "QueryError", "Word", "Phrase", "Url", "And", "Or", "Not", "Near", "Node",
    "parse", "designation_family", "designation_phrase", "nodes", "words_of", "terms_of", "needs_hit", "to_text",
]

MAX_TYPOS = 2
MIN_PREFIX = 3
MAX_DEPTH = 50  # levels of nesting; walking the tree recurses once per level


class QueryError(ValueError):
    """A query that cannot be parsed; `pos` is the 0-based character offset in the query."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos

    def __str__(self) -> str:
        return f"{self.message} (at character {self.pos + 1})"


@dataclass(frozen=True)
class Word:
    """One normalised word: all its forms (`forms`), this form only (`exact`) or a `prefix`."""

    text: str
    mode: str = "forms"
    typos: int | None = None  # None: the rule's default (by word length)
    pos: int = 0
    raw: str = field(default="", compare=False)  # as the analyst wrote it
    cased: bool = False  # `=КТО`: an exact form written in capitals matches capitals only (not «кто»)
    ordinal: bool = False  # `137-й`: the number `text` with any ordinal ending (137-го, 137й, 137-м)
    # `С-400`'s «400»: hyphenated to the word before it in a designation, so the post must join them
    # too (С-400, С400), never a preposition and a number («с 400 человек»)
    joined: bool = False

    @property
    def key(self) -> tuple[str, str, int | None, bool, bool]:
        return (self.text, self.mode, self.typos, self.cased, self.ordinal)


@dataclass(frozen=True)
class Phrase:
    """Words that must stand next to each other, in order."""

    words: tuple[Word, ...]
    pos: int = 0
    # as the analyst wrote it, quoted («"в/ч"» for в/ч, «"сбежал из в/ч"»): what `to_text` shows, where
    # its words alone would read «"=в =ч"»
    raw: str = field(default="", compare=False)


@dataclass(frozen=True)
class Url:
    """A piece of a link (`url:t.me/baza`), matched against the post's URLs."""

    text: str
    pos: int = 0


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"
    pos: int = 0


@dataclass(frozen=True)
class Near:
    left: "Node"
    right: "Node"
    distance: int
    pos: int = 0


Node = Union[Word, Phrase, Url, And, Or, Not, Near]

# A phrase may also be quoted as word processors and phones type it: «…», “…”, „…“.
_OPEN_QUOTES, _CLOSE_QUOTES = '"«“„', '"»”“'
_QUOTES = "".join(dict.fromkeys(_OPEN_QUOTES + _CLOSE_QUOTES))
_TOKEN_RE = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<quote>[{_OPEN_QUOTES}][^{_QUOTES}]*[{_CLOSE_QUOTES}]?)
  | (?P<near>NEAR(?:/(?P<dist>\S*))?(?=[\s({_OPEN_QUOTES}]|$))
  | (?P<op>(?:AND|OR|NOT)(?=[\s({_OPEN_QUOTES}]|$))
  | (?P<minus>-(?=[^\s)]))
  | (?P<url>url:[^\s(){_QUOTES}]*)
  | (?P<word>[^\s(){_QUOTES}]+)
  | (?P<stray>[{_QUOTES}])
    """,
    re.VERBOSE,
)


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int
    dist: str | None = None


def _lex(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    for m in _TOKEN_RE.finditer(query):
        kind = m.lastgroup
        if kind == "dist":
            kind = "near"
        if kind == "ws":
            continue
        toks.append(_Tok(kind or "word", m.group(), m.start(), m.group("dist")))
    return toks


def _count(digits: str) -> int:
    """The number written in `digits`, at most 10**9: every bound here is far below it, and int()
    refuses 4,301 digits (a paste gone wrong) with a ValueError no caller expects."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) < 10 else 10**9


def _parse_word(raw: str, pos: int) -> Word | Phrase:
    """One bare query word: `=exact`, `prefix*`, `word~N`; several words (в/ч) make a phrase."""
    _refuse_field_or_link(raw, pos)
    _refuse_hidden_operator(raw, pos)
    text, mode, typos = raw, "forms", None
    m = re.search(r"~([0-9]*)$", text)
    if m:
        if not m.group(1) or _count(m.group(1)) > MAX_TYPOS:
            raise QueryError(f"typo allowance must be ~0, ~1 or ~2, not '{m.group()}'", pos + m.start())
        typos = _count(m.group(1))
        text = text[: m.start()]
    if text.startswith("="):
        mode, text = "exact", text[1:]
    if text.endswith("*"):
        if mode == "exact":
            raise QueryError("'=' and '*' cannot be combined", pos)
        mode, text = "prefix", text[:-1]
    if "*" in text or "=" in text:
        raise QueryError(f"'*' only ends a word and '=' only starts one: '{raw}'", pos)
    if "~" in text:  # (`военкомат~1~1`: the rest would be the phrase «военкомат 1», in no post)
        raise QueryError(f"a typo allowance (~0, ~1 or ~2) ends a word, once: '{raw}'", pos + raw.index("~"))
    # the words a post's text would give (`tokenize`): «№155» is «155» there, never NFKC's «no155»
    parts = [t.text for t in tokenize(text)]
    if not parts:
        raise QueryError(f"'{raw}' has no letters or digits to match", pos)
    designation = len(parts) > 1 and _DESIGNATION_RE.fullmatch(normalize(text)) is not None
    if mode == "prefix":
        _check_prefix(raw, text, parts, designation, pos)
    if mode != "forms" and typos:
        raise QueryError(f"'{raw}': typos apply to plain words, not to exact forms or prefixes", pos)
    if mode != "prefix" and typos is None and (num := _ordinal_number(parts)) is not None:
        return Word(num, "exact", None, pos, raw, ordinal=True)
    if len(parts) == 1:
        return Word(parts[0], mode, typos, pos, raw, cased=mode == "exact" and is_abbreviation(text))
    # в/ч, 137-й: a phrase; the last part keeps the wildcard, every part stays exact-ish. A designation's
    # number keeps it however short (`Ту-95*`: Ту-95, Ту-95МС, Ту-95МСМ).
    ws = []
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        part_mode = ("prefix" if last and mode == "prefix" and designation else "exact" if len(p) <= 2 or p.isdigit()
                     else mode if last else "forms")
        ws.append(Word(p, part_mode, typos if part_mode == "forms" else None, pos, joined=designation and i > 0))
    return Phrase(tuple(ws), pos, f'"{raw}"')


# A designation: letters hyphenated to a number (С-400, Су-34, Х-101, Ту-22М3, F-16). The corpus
# writes it hyphenated (С-400 17 times, Х-101 10, Ту-95 10) or glued (Х101), with a capital, never
# with a space: «с 400» (700 times) and «С 1500» are a preposition and a number.
_DESIGNATION_RE = re.compile(r"[^\W\d_]+(?:[-\u2010\u2011\u2013][^\W_]+)*[-\u2010\u2011\u2013][0-9][^\W_]*")


# A designation's letters (up to 4) and a hyphen with no number after them (`МиГ-*`): its prefix missing
# its digits (`Северо-*` is a word's prefix).
_BARE_DESIGNATION_RE = re.compile(r"[^\W\d_]{1,4}[-\u2010\u2011\u2013]")


def _check_prefix(raw: str, text: str, parts: list[str], designation: bool, pos: int) -> None:
    """Refuse a prefix that would take too many words: under MIN_PREFIX letters, or a designation
    under MIN_PREFIX letters and digits (`С-4*` takes the explosive С-4 and С-400 alike; `Су-3*`,
    `Ту-95*` are a family)."""
    if designation:
        if len("".join(parts)) < MIN_PREFIX:
            raise QueryError(f"'{raw}' is too broad: a designation's prefix needs at least {MIN_PREFIX} letters and "
                             f"digits before '*' (write more of its number, or the designations with OR)", pos)
        return
    if text[:1].isupper() and _BARE_DESIGNATION_RE.fullmatch(text):
        raise QueryError(f"'{raw}': a designation's prefix needs the first digit of its number before '*', as in "
                         f"{text}2*", pos)
    if len(parts[-1]) < MIN_PREFIX:
        raise QueryError(f"a prefix needs at least {MIN_PREFIX} letters before '*': '{raw}'", pos)


def designation_family(raw: str, pos: int = 0) -> Phrase | None:
    """A word with a star as a rule reads a designation's family (`Ту-95*`: its letters, then its number's
    start as a prefix), else None; a QueryError for one too broad (`С-4*`) or missing its digits (`МиГ-*`).
    Search reads such a word so too."""
    text = raw[:-1] if raw.endswith("*") else ""
    if not (_DESIGNATION_RE.fullmatch(normalize(text)) or text[:1].isupper() and _BARE_DESIGNATION_RE.fullmatch(text)):
        return None
    node = _parse_word(raw, pos)
    return node if isinstance(node, Phrase) and node.words[-1].mode == "prefix" else None


def designation_phrase(words: str, pos: int = 0) -> Phrase | None:
    """The words of a quoted phrase holding a designation with a star (`самолёт Ту-95*`) as a rule reads
    that phrase (the designation's family in it), else None; a QueryError as `designation_family`'s."""
    if not any(designation_family(w.group(), pos + w.start()) for w in re.finditer(r"\S+\*(?!\S)", words)):
        return None
    node = _parse_phrase(f'"{words}"', pos - 1)  # (`pos`: its first word's; the quote's is one before)
    return node if isinstance(node, Phrase) else None


def _ordinal_number(parts: list[str]) -> str | None:
    """The number of an ordinal written as one query word (137-й, 137-го, 137й), else None: it
    matches the number with any ordinal ending, as posts write it."""
    if len(parts) == 2 and parts[0].isdigit() and parts[1] in ORDINAL_SUFFIXES:
        return parts[0]
    glued = split_ordinal(parts[0]) if len(parts) == 1 else None
    return glued[0] if glued else None


def is_abbreviation(word: str) -> bool:
    """Written in capitals, with two letters or more (КТО, СЗЧ): an `=` form of it matches only
    capitals, so that the abbreviation does not match a common word («кто»)."""
    return word.isupper() and sum(c.isalpha() for c in word) >= 2


_INVISIBLE_RE = re.compile(r"[\u00ad\u200b-\u200d\u2060-\u2064\ufeff]+")  # zero-width space, joiners, word joiner, BOM
_OPERATOR_RE = re.compile(r"(?:OR|AND|NOT|NEAR(?:/[0-9]*)?)")


def _refuse_hidden_operator(raw: str, pos: int) -> None:
    """«дрон\u200bOR» is one word to the lexer (a zero-width space is no space) and to a post's text
    none: the rule loaded and never matched дрон. An operator an invisible character glues to a word
    (a query pasted from a web page or a phone) is an error saying where to put the space."""
    pieces = _INVISIBLE_RE.split(raw)
    op = next((p for p in pieces if _OPERATOR_RE.fullmatch(p)), None)
    if len(pieces) > 1 and op is not None:
        m = _INVISIBLE_RE.search(raw)
        assert m is not None
        raise QueryError(f"an invisible character (U+{ord(m.group()[0]):04X}) beside '{op}' makes it part of a word, "
                         f"not the operator: delete it, with a space on each side of '{op}'", pos + m.start())


def _refuse_field_or_link(raw: str, pos: int) -> None:
    """A link, `title:x` or `URL:x` written as a word would never match: the words of links are
    not among a post's words, and url: is the only field."""
    bare = raw.lstrip("=")
    if URL_RE.fullmatch(bare.rstrip("*")):
        raise QueryError(f"'{raw}' is a link, and links are not among a post's words: write url:{bare}", pos)
    for pattern, say in _FOREIGN_OPERATORS:
        if m := pattern.search(raw):
            raise QueryError(say(m, raw), pos + m.start())
    m = re.match(r"([A-Za-z]{2,}):(?=\S)", bare)  # one letter is a drive (c:\x), not a field
    if m and m.group(1).casefold() == "url":
        raise QueryError(f"write url: in lower case: url:{bare[m.end():]}", pos)
    if m:
        raise QueryError(f"unknown field '{m.group()}': url: is the only one (for the word alone, drop the colon)", pos)


def _near(m: re.Match[str], raw: str) -> str:
    n, fixes = m.group("n"), []
    if raw[:4] != "NEAR":
        fixes.append("operators are upper case")
    if "/" not in raw:
        fixes.append("NEAR takes a slash before its distance")
    return f"{' and '.join(fixes)}: NEAR/{n}, not '{raw}'"


def _wildcard(m: re.Match[str], raw: str) -> str:
    stem = raw[:m.start()].lstrip("=")
    prefix = f"{stem}*" if len(stem) >= MIN_PREFIX and stem.isalpha() else "эвакуац*"
    return (f"'?' is no wildcard here: a word matches all its inflected forms already, '*' ends a word for "
            f"any ending ({prefix}), and ~1 after a word allows a typo in it: '{raw}'")


# Other search tools' operators written into a word (Google's and Lucene's `!` and `^`, Lucene's `?`,
# Factiva's and Nexis's `W/5`, `PRE/5`, a NEAR mistyped): the word's letters alone would be read, as a
# word or phrase that asks for something else (`!повестка` *requires* «повестка»), so each is an error
# that says what to write. The match's start is where the error points.
_FOREIGN_OPERATORS: list[tuple[re.Pattern[str], Callable[[re.Match[str], str], str]]] = [
    (re.compile(r"(?i)^near/?(?P<n>[0-9]+)$"), _near),
    (re.compile(r"^!+(?=[^\W_])"), lambda m, raw: (
        f"'!' is no operator here: to leave out posts with «{raw[m.end():]}» write -{raw[m.end():]} "
        f"or NOT {raw[m.end():]}")),
    (re.compile(r"\^[0-9.]*"), lambda m, raw: (
        f"'{m.group()}' (another tool's boost) is no operator here and a rule has no weights: write "
        f"{raw[:m.start()] + raw[m.end():] or 'the word alone'}")),
    (re.compile(r"\?"), _wildcard),
    (re.compile(r"(?i)^(?:w|pre)?/(?P<n>[0-9]+)$"), lambda m, raw: (
        f"'{raw}' is no operator here: for words within {m.group('n')} words of each other write "
        f"NEAR/{m.group('n')} between them, as in дрон NEAR/{m.group('n')} НПЗ")),
]


# What no phrase holds: an operator or a parenthesis inside quotes is a quote left open, which ran on
# to the next phrase's opening quote («"ударный дрон) NEAR/10 (НПЗ OR "нефтебаза"»).
_PHRASE_OPERATOR_RE = re.compile(r"(?<!\S)(?:OR|AND|NOT|NEAR(?:/\S*)?)(?!\S)|[()]")


def _parse_phrase(raw: str, pos: int, query: str = "", habit: Callable[[QueryError], None] | None = None) -> Node:
    if len(raw) < 2 or raw[-1] not in _CLOSE_QUOTES:
        raise QueryError("unclosed quote", pos)
    inner = raw[1:-1]
    if op := _PHRASE_OPERATOR_RE.search(inner):
        if sum(c in _QUOTES for c in query) % 2 == 0:  # every quote has its pair: an operator written inside one
            fix = (f"for the words in a row write \"{' '.join(inner.replace('(', ' ').replace(')', ' ').split())}\""
                   if op.group() in "()" else f"write it without them: {' '.join(inner.split())}")
            e = QueryError(f"'{op.group()}' inside quotes is no operator (a phrase holds words only): {fix}",
                           pos + 1 + op.start())
            if habit is None or op.group().startswith("NEAR"):  # (a NEAR in quotes was an error before too)
                raise e
            habit(e)  # a rule file that loaded before: its phrase is read as it was, with a warning
        else:
            words = inner[:op.start()].split()
            where = f"close it after «{words[-1]}»" if words else "a quote is missing or one too many"
            raise QueryError(f"unclosed quote: the phrase opened here runs on to the quote at character "
                             f"{pos + len(raw)} over '{op.group()}', which a phrase cannot hold; {where}", pos)
    ws: list[Word] = []
    for m in re.finditer(r"\S+", inner):
        node = _parse_word(m.group(), pos + 1 + m.start())
        ws.extend(node.words if isinstance(node, Phrase) else [node])
    if not ws:
        raise QueryError("empty phrase", pos)
    return ws[0] if len(ws) == 1 else Phrase(tuple(ws), pos, '"' + " ".join(inner.split()) + '"')


class _Parser:
    def __init__(self, query: str, habits: list[QueryError] | None = None) -> None:
        self.query = query
        self.habits = habits  # None: another tool's habit that reads as something else is an error
        self.toks = _lex(query)
        self.i = 0
        self.nesting = 0  # the '(' and NOT the parser is inside: bounds its own recursion
        self.depths: dict[int, tuple[Node, int]] = {}  # id(node) -> (node, levels below and at it)

    def enter(self, tok: _Tok) -> None:
        """One more open '(' or NOT; a QueryError past MAX_DEPTH."""
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise _too_deep(tok.pos)

    def depth(self, node: Node) -> int:
        entry = self.depths.get(id(node))
        return entry[1] if entry else 0  # a word, phrase or link

    def made(self, node: Node, children: tuple[Node, ...], pos: int) -> Node:
        """Record an operator node's depth (one level over its deepest child); a QueryError
        at `pos` past MAX_DEPTH."""
        level = 1 + max(self.depth(c) for c in children)
        if level > MAX_DEPTH:
            raise _too_deep(pos)
        self.depths[id(node)] = (node, level)
        return node

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def end_pos(self) -> int:
        return len(self.query.rstrip())

    def parse(self) -> Node:
        if not self.toks:
            raise QueryError("the query is empty", 0)
        node = self.or_expr()
        tok = self.peek()
        if tok is not None:
            if tok.kind == "rparen":
                raise QueryError("')' without a matching '('", tok.pos)
            raise QueryError(f"unexpected '{tok.text}'", tok.pos)
        return node

    def or_expr(self) -> Node:
        start = self.peek()
        items = [self.and_expr()]
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text == "OR":
            self.take()
            items.append(self.and_expr(after=tok))
        if len(items) == 1:
            return items[0]
        return self.made(Or(tuple(items)), tuple(items), start.pos if start else 0)

    def and_expr(self, after: _Tok | None = None) -> Node:
        start = self.peek()
        items = [self.near_expr(after)]
        while (tok := self.peek()) is not None and not (tok.kind == "rparen" or (tok.kind == "op" and tok.text == "OR")):
            if tok.kind == "op" and tok.text == "AND":
                self.take()
                items.append(self.near_expr(after=tok))
            else:
                items.append(self.near_expr())
        if len(items) == 1:
            return items[0]
        return self.made(And(tuple(items)), tuple(items), start.pos if start else 0)

    def near_expr(self, after: _Tok | None = None) -> Node:
        left = self.unary(after)
        while (tok := self.peek()) is not None and tok.kind == "near":
            self.take()
            if tok.dist is None or not (tok.dist.isascii() and tok.dist.isdigit()) or not 1 <= _count(tok.dist) <= 100:
                raise QueryError("NEAR needs a distance from 1 to 100, as in NEAR/5", tok.pos)
            right = self.unary(after=tok)
            for side in (left, right):
                if _contains(side, Not):
                    raise QueryError("NOT cannot stand inside NEAR", tok.pos)
                if _contains(side, Url):
                    raise QueryError("url: cannot stand inside NEAR (a link is not among the post's words)", tok.pos)
            left = self.made(Near(left, right, _count(tok.dist), tok.pos), (left, right), tok.pos)
        return left

    def unary(self, after: _Tok | None = None) -> Node:
        tok = self.peek()
        if tok is None:
            where = after.pos if after else self.end_pos()
            what = f"after '{after.text}'" if after else "at the end"
            raise QueryError(f"a word or '(' is missing {what}", where)
        if (tok.kind == "op" and tok.text == "NOT") or tok.kind == "minus":
            self.take()
            self.enter(tok)
            item = self.unary(after=tok)
            self.nesting -= 1
            return self.made(Not(item, tok.pos), (item,), tok.pos)
        return self.primary(after)

    def primary(self, after: _Tok | None) -> Node:
        tok = self.take()
        if tok.kind == "lparen":
            if (nxt := self.peek()) is not None and nxt.kind == "rparen":
                raise QueryError("empty parentheses", tok.pos)
            self.enter(tok)
            node = self.or_expr()
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise QueryError("'(' is never closed", tok.pos)
            self.take()
            self.nesting -= 1
            return node
        if tok.kind == "quote":
            return _parse_phrase(tok.text, tok.pos, self.query, None if self.habits is None else self.habits.append)
        if tok.kind == "url":
            text = tok.text[4:].casefold()
            if not text:
                raise QueryError("url: needs a piece of a link after it, as in url:t.me/baza", tok.pos)
            return Url(text, tok.pos)
        if tok.kind == "word":
            self.refuse_loose(tok)
            return _parse_word(tok.text, tok.pos)
        if tok.kind == "rparen":
            raise QueryError("')' without a word before it", tok.pos)
        if tok.kind == "stray":
            raise QueryError(f"closing quote {tok.text} without an opening one", tok.pos)
        raise QueryError(f"'{tok.text}' needs a word before it", tok.pos)


    def refuse_loose(self, tok: _Tok) -> None:
        """A word that is the habit of another search tool, or a modifier cut off its word, said as
        such: `|` and `&`, a comma between words (the words around it must all be present),
        `"a b"~2` (Lucene's proximity), `дезертир ~1`, `="a b"`, `- word`."""
        text, prev, nxt = tok.text, self.toks[self.i - 2] if self.i >= 2 else None, self.peek()
        after_quote = prev is not None and prev.kind == "quote" and prev.pos + len(prev.text) == tok.pos
        if after_quote and re.fullmatch(r"~[0-9]*|\*", text):
            assert prev is not None
            raise QueryError(f"'{text}' cannot follow a phrase: {_after_phrase(prev.text[1:-1].split(), text.lstrip('~'))}", tok.pos)
        if text == "=" and nxt is not None and nxt.kind == "quote" and nxt.pos == tok.pos + 1:
            raise QueryError("'=' cannot stand before a phrase: put it on each word inside the quotes, as in "
                             '"=СОЧ дезертир"', tok.pos)
        hint = _LOOSE.get(text[:1] if re.fullmatch(r"~[0-9]*", text) else text)
        if hint:
            raise QueryError(f"'{text}' has no letters or digits to match: {hint}", tok.pos)
        if re.search(r"(?<![0-9])[,;]|[,;](?![0-9])", text):
            words = [w for w in re.split(r"[,;]+", text) if w]
            if text[-1] in ",;" and nxt is not None and nxt.kind == "word":
                words.append(nxt.text.strip(",;"))
            example = f"{words[0]} OR {words[1]}" if len(words) >= 2 else "полк OR бригада"  # (their own words when two are known)
            mark = " or ".join(name for c, name in ((",", "comma"), (";", "semicolon")) if c in text)
            e = QueryError(f"'{text}': a {mark} is no operator, and words with only a space or a {mark} between them "
                           f"must all be present; for any of them write OR between them, as in {example}", tok.pos)
            if self.habits is None:
                raise e
            self.habits.append(e)  # a rule file that loaded before: read as it was, with a warning


def _after_phrase(words: list[str], mark: str) -> str:
    """What to write for `"a b"` followed by `~n` or `*` (`mark`: the digits, or "*"): what that
    asks for, said in this language with the phrase's own words (else with an example's)."""
    mark = str(_count(mark)) if mark.isdigit() else mark  # ~00 is ~0, as a typo allowance reads it
    if mark in ("*", "0"):  # a word's start, or no typos: marked on the words inside the quotes
        end = "*" if mark == "*" else "~0"
        if not words or not all(w.isalpha() and (mark != "*" or len(w) >= MIN_PREFIX) for w in words):
            words = ["воинская", "часть"]
        marked = " ".join(w + end for w in words)
        if mark == "*":
            return f"a '*' goes on each word inside the quotes that may go on, as in \"{marked}\""
        return (f"a phrase already finds its words next to each other, in order (Lucene's ~0): \"{' '.join(words)}\"; "
                f"for no typos in them put ~0 on each word inside the quotes: \"{marked}\"")
    n = min(_count(mark), 100) if mark.isdigit() else None  # a bare '~': no distance was written
    dist = "n" if n is None else str(n)
    near = (f"{words[0]} NEAR/{dist} {words[1]}" if len(words) == 2  # (only a pair's own words make the example)
            else f"NEAR/{dist} between them, as in воинская NEAR/{dist} часть")
    within = ("n words of each other (n from 1 to 100)" if n is None
              else f"{n} word{'s' * (n != 1)} of each other" + (" (NEAR's widest)" if _count(mark) > 100 else ""))
    return f"for its words within {within} write {near}; a typo allowance or '*' goes on a word inside the quotes"


# What a word of no letters means elsewhere, and how this language says it.
_LOOSE = {
    "|": "write OR", "||": "write OR", "&": "write AND (or a space)", "&&": "write AND (or a space)",
    "~": "a typo allowance follows its word with no space, as in дезертир~1",
    "*": "'*' ends a word with no space, as in эвакуац*",
    "-": "'-' excludes the word right after it, with no space, as in полк -бессмертный",
    "=": "'=' starts a word with no space, as in =СОЧ",
    "!": "'!' is no operator here; to leave out posts with a word write -word or NOT word",
}


def _too_deep(pos: int) -> QueryError:
    return QueryError(f"the query is nested too deeply (more than {MAX_DEPTH} levels)", pos)


def _contains(node: Node, kind: type) -> bool:
    """Does the tree hold a node of this kind (under AND, OR and NEAR; NOT is refused inside
    NEAR before a URL is asked about)?"""
    if isinstance(node, kind):
        return True
    if isinstance(node, (And, Or)):
        return any(_contains(n, kind) for n in node.items)
    if isinstance(node, Near):
        return _contains(node.left, kind) or _contains(node.right, kind)
    return False


def needs_hit(node: Node) -> bool:
    """True when every post this node matches contains at least one of its words."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(needs_hit(n) for n in node.items)
    if isinstance(node, Or):
        return all(needs_hit(n) for n in node.items)
    return True


def parse(query: str, *, habits: list[QueryError] | None = None) -> Node:
    """Parse a query; raise `QueryError` with a position on any mistake. With `habits`, two habits of
    other search tools that earlier versions read without a word (a comma between words, which then
    all must be present; OR, AND, NOT or a parenthesis inside quotes, read as words) are added to it
    instead, and read as before: a rule file that loaded keeps loading, with a warning."""
    node = _Parser(query, habits).parse()
    if not needs_hit(node):
        raise QueryError("the query would match posts that contain none of its words; add a word that must be present", 0)
    return node


def terms_of(node: Node) -> Iterator[Word | Phrase | Url]:
    """The words, phrases and url: terms of a tree, in order, without those under a NOT: what a
    post must hold some of for the tree to match."""
    if isinstance(node, (Word, Phrase, Url)):
        yield node
    elif isinstance(node, (And, Or)):
        for item in node.items:
            yield from terms_of(item)
    elif isinstance(node, Near):
        yield from terms_of(node.left)
        yield from terms_of(node.right)


def nodes(node: Node) -> Iterator[Node]:
    """Every node of the tree, a phrase's words included, parents first, in order."""
    yield node
    if isinstance(node, Phrase):
        yield from node.words
    elif isinstance(node, (And, Or)):
        for item in node.items:
            yield from nodes(item)
    elif isinstance(node, Not):
        yield from nodes(node.item)
    elif isinstance(node, Near):
        yield from nodes(node.left)
        yield from nodes(node.right)


def words_of(node: Node) -> list[Word]:
    """Every Word in the tree, in order."""
    return [n for n in nodes(node) if isinstance(n, Word)]


def _word_text(w: Word) -> str:
    if w.raw:
        return w.raw
    if w.ordinal:
        return f"{w.text}-й"
    text = w.text.upper() if w.cased else w.text
    s = {"exact": "=", "forms": "", "prefix": ""}[w.mode] + text + ("*" if w.mode == "prefix" else "")
    return s + (f"~{w.typos}" if w.typos is not None else "")


def to_text(node: Node) -> str:
    """Render a tree back to query syntax (fully parenthesised where it matters)."""
    if isinstance(node, Word):
        return _word_text(node)
    if isinstance(node, Phrase):
        return node.raw or '"' + " ".join(_word_text(w) for w in node.words) + '"'
    if isinstance(node, Url):
        return "url:" + node.text
    if isinstance(node, Not):
        return "NOT " + _wrap(node.item)
    if isinstance(node, Near):
        return f"{_wrap(node.left)} NEAR/{node.distance} {_wrap(node.right)}"
    sep = " AND " if isinstance(node, And) else " OR "
    return sep.join(_wrap(n) for n in node.items)


def _wrap(node: Node) -> str:
    s = to_text(node)
    return f"({s})" if isinstance(node, (And, Or, Near)) else s
