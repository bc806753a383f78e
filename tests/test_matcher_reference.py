"""The matcher against a deliberately simple, slow reference of rules/README.md.

The reference reads the parsed query straight off the documented semantics over
`bot.text.tokenize`'s words: a term reaches the forms the same Morphology gives (morphology is
not what this tests), `=` one form, `*` a prefix, a phrase consecutive words, NEAR/n two
occurrences at most n words apart, typos as the README says. Hypothesis builds small queries
over a small vocabulary and posts from inflected, mistyped and disguised forms, and the two must
agree on whether the rule matches and on which words hit.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from bot.match.matcher import FIRST_LETTER_KEPT, Matcher, auto_typos
from bot.match.morph import default_morphology
from bot.match.query import And, Near, Node, Not, Or, Phrase, QueryError, Url, Word, to_text, words_of
from bot.match.rules import Rule
from bot.post import Post, bare_id
from bot.text import Token, find_urls, find_words, normalize, tokenize

MORPH = default_morphology()

# -- the reference ----------------------------------------------------------------------------

# One occurrence: first and last word index, and the words it is made of.
Occ = tuple[int, int, frozenset[int]]


def osa(a: str, b: str) -> int:
    """Optimal string alignment distance (an edit: a wrong, missing, extra or swapped letter)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def word_kind(w: Word, token: str, rule_typos: int | None, surface: str) -> str | None:
    """How a post word (normalised `token`, written `surface`) satisfies a query word ('form',
    'exact', 'prefix', 'typo'), or None. An exact form written in capitals (=СЗЧ) needs capitals."""
    if w.cased and not re.sub("['’ʼ`]s$", "", surface).isupper():
        return None
    return _kind(w.text, w.mode, w.typos if w.typos is not None else rule_typos, token)


@lru_cache(maxsize=None)
def _kind(text: str, mode: str, allowance: int | None, token: str) -> str | None:
    if token.endswith("'s") and token.isascii():  # an English possessive is its word
        own = "exact" if mode == "exact" and token == text else "form" if mode == "forms" and token in MORPH.forms(text) else None
        return own or _kind(text, mode, allowance, token[:-2])
    if mode == "exact":
        return "exact" if token == text else None
    if mode == "prefix":
        return "prefix" if token.startswith(text) else None
    forms = MORPH.forms(text)
    if token in forms:
        return "form"
    # Typos: a post word of at least 4 letters that is no dictionary word and no number.
    if len(token) < 4 or token.isdigit() or MORPH.is_known(token):
        return None
    for f in forms:
        k = 0 if f.isdigit() else allowance if allowance is not None else auto_typos(min(len(text), len(f)))
        if len(f) < FIRST_LETTER_KEPT and token[0] != f[0]:  # a short form's typo keeps its first letter
            continue
        if 0 < osa(token, f) <= k:
            return "typo"
    return None


class Reference:
    """The documented semantics of one rule over one post, computed the slow way."""

    def __init__(self, rule: Rule, text: str) -> None:
        self.rule = rule
        self.text = text
        self.tokens: list[Token] = tokenize(text)
        self.urls = [text[s:e].casefold() for s, e in find_urls(text)]

    def surface(self, t: Token) -> str:
        """The token as the post writes it."""
        return self.text[t.start:t.end]

    def eval(self, node: Node) -> list[Occ] | None:
        """Every occurrence of `node` (empty for a satisfied NOT), or None when it fails."""
        if isinstance(node, Word):
            occ = [(i, i, frozenset({i})) for i, t in enumerate(self.tokens)
                   if word_kind(node, t.text, self.rule.typos, self.surface(t))]
            return occ or None
        if isinstance(node, Phrase):
            n = len(node.words)
            occ = [(i, i + n - 1, frozenset(range(i, i + n))) for i in range(len(self.tokens) - n + 1)
                   if all(word_kind(w, self.tokens[i + k].text, self.rule.typos, self.surface(self.tokens[i + k]))
                          for k, w in enumerate(node.words))]
            return occ or None
        if isinstance(node, Url):
            # A link is not a word of the post: it stands far from every word.
            occ = [(-10**6, -10**6, frozenset()) for u in self.urls if node.text in u]
            return occ or None
        if isinstance(node, Not):
            return [] if self.eval(node.item) is None else None
        if isinstance(node, And):
            parts = [self.eval(n) for n in node.items]
            return None if any(p is None for p in parts) else [o for p in parts for o in p]  # type: ignore[union-attr]
        if isinstance(node, Or):
            parts = [p for n in node.items if (p := self.eval(n)) is not None]
            return [o for p in parts for o in p] if parts else None
        if isinstance(node, Near):
            left, right = self.eval(node.left), self.eval(node.right)
            if not left or not right:
                return None
            occ = [(min(a[0], b[0]), max(a[1], b[1]), a[2] | b[2]) for a in left for b in right
                   if max(b[0] - a[1], a[0] - b[1], 0) <= node.distance]
            return occ or None
        raise TypeError(node)

    def matches(self) -> bool:
        return self.eval(self.rule.node) is not None and all(self.eval(x) is None for x in self.rule.exclude_nodes)

    def hit_words(self) -> set[int]:
        """The words of every occurrence of the query: what the hits must point at."""
        return {i for o in self.eval(self.rule.node) or () for i in o[2]}


def check(rule: Rule, text: str, matcher: Matcher | None = None) -> None:
    """The matcher agrees with the reference on `text`: match or not, and the words that hit."""
    m = matcher or Matcher([rule])
    ref = Reference(rule, text)
    got = m.match(text)
    assert bool(got) == ref.matches(), (rule.query, rule.exclude, text, got)
    if not got:
        return
    (found,) = got
    index = {(t.start, t.end): i for i, t in enumerate(ref.tokens)}
    nodes: dict[str, list[Node]] = {}
    _by_text(rule.node, nodes, positive=True)
    words = set()
    for h in found.hits:
        if h.kind == "url":
            assert any(n.text in h.form.casefold() for n in nodes[h.term] if isinstance(n, Url)), h
            continue
        i = index[(h.start, h.end)]
        words.add(i)
        assert text[h.start:h.end] == h.form and ref.tokens[i].text in find_words(normalize(h.form))
        kinds = {word_kind(w, ref.tokens[i].text, rule.typos, h.form) for n in nodes[h.term] for w in words_of(n)}
        assert h.kind in kinds, (rule.query, text, h, kinds)
    assert words == ref.hit_words(), (rule.query, text, found.hits)


def _by_text(node: Node, out: dict[str, list[Node]], positive: bool) -> None:
    """The query's positive words and phrases by their text as hits name them."""
    if isinstance(node, (Word, Phrase, Url)):
        if positive:
            out.setdefault(to_text(node), []).append(node)
    elif isinstance(node, (And, Or)):
        for n in node.items:
            _by_text(n, out, positive)
    elif isinstance(node, Not):
        _by_text(node.item, out, False)
    elif isinstance(node, Near):
        _by_text(node.left, out, positive)
        _by_text(node.right, out, positive)


def test_osa_counts_each_kind_of_edit_once() -> None:
    assert [osa("полк", x) for x in ("полк", "пoлк", "пол", "полкк", "плок", "")] == [0, 1, 1, 1, 1, 4]


# -- generating queries and posts ----------------------------------------------------------------

VOCAB = ("полк", "часть", "дезертир", "бригада", "командир", "сержант", "эвакуация", "танк", "самовольно")
FILLER = ("и", "в", "из", "его", "новый", "погода", "слово", "полька", "десерт", "СЗЧ", "сзч", "Сзч")


@lru_cache(maxsize=None)
def forms_of(word: str) -> tuple[str, ...]:
    return tuple(sorted(MORPH.forms(word)))


LAT = dict(zip("асеорхук", "aceopxyk"))
CYR = "абвгдежзиклмнопрстуфхцчшщыьэюя"


@st.composite
def disguised(draw: st.DrawFn, word: str) -> str:
    """A form of `word`, perhaps mistyped, upper-cased, with Latin look-alikes or invisible marks."""
    w = draw(st.sampled_from(forms_of(word)))
    edit = draw(st.sampled_from(("", "", "", "sub", "del", "ins", "swap", "sub2")))
    for e in ("sub", "sub") if edit == "sub2" else (edit,) if edit else ():
        if len(w) < 2:
            break
        i = draw(st.integers(0, len(w) - 2))
        c = draw(st.sampled_from(CYR))
        w = {"sub": w[:i] + c + w[i + 1:], "del": w[:i] + w[i + 1:], "ins": w[:i] + c + w[i:],
             "swap": w[:i] + w[i + 1] + w[i] + w[i + 2:]}[e]
    look = draw(st.sampled_from(("", "", "lat", "zw", "shy", "stress")))
    if look == "lat":
        w = "".join(LAT.get(c, c) if draw(st.booleans()) else c for c in w)
        if all(c in LAT.values() for c in w):
            w = "п" + w  # keep it a Cyrillic word
    elif look in ("zw", "shy", "stress") and len(w) > 2:
        mark = {"zw": "\u200b", "shy": "\u00ad", "stress": "\u0301"}[look]
        i = draw(st.integers(1, len(w) - 1))
        w = w[:i] + mark + w[i:]
    case = draw(st.sampled_from(("", "", "upper", "title")))
    return w.upper() if case == "upper" else w.title() if case == "title" else w


@st.composite
def posts(draw: st.DrawFn) -> str:
    pieces = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(("vocab", "vocab", "vocab", "filler", "number", "url", "tag")))
        if kind == "vocab":
            pieces.append(draw(disguised(draw(st.sampled_from(VOCAB)))))
        elif kind == "filler":
            pieces.append(draw(st.sampled_from(FILLER)))
        elif kind == "number":
            pieces.append(draw(st.sampled_from(("45", "45-й", "137-го", "в/ч", "сзч", "СЗЧ"))))
        elif kind == "url":
            pieces.append(draw(st.sampled_from(("https://t.me/baza/1", "t.me/polk_news", "www.полк.рф", "mash.ru/часть"))))
        else:
            a, b = draw(st.sampled_from(VOCAB)), draw(st.sampled_from(VOCAB))
            pieces.append("#" + draw(st.sampled_from(forms_of(a))).title() + draw(st.sampled_from(forms_of(b))).title())
    seps = st.sampled_from((" ", " ", " ", ", ", ". ", " — ", "\n", "/", "-", " (", ") "))
    return "".join(p + draw(seps) for p in pieces)


@st.composite
def long_posts(draw: st.DrawFn) -> str:
    """A few hundred words in stretches where query words are crowded, sparse or absent."""
    rng = draw(st.randoms(use_true_random=False))
    words: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        share = draw(st.sampled_from((0.0, 0.05, 0.3, 0.9)))
        vocab = draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=2, unique=True))
        words += [rng.choice(forms_of(rng.choice(vocab))) if rng.random() < share else rng.choice(FILLER)
                  for _ in range(draw(st.integers(1, 250)))]
    return " ".join(words)


@st.composite
def leaves(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(VOCAB))
    kind = draw(st.sampled_from(("forms", "forms", "exact", "prefix", "typos", "phrase", "number", "url")))
    if kind == "exact":
        return "=" + draw(st.sampled_from(forms_of(word)))
    if kind == "prefix":
        return word[: draw(st.integers(3, len(word)))] + "*"
    if kind == "typos":
        return f"{word}~{draw(st.integers(0, 2))}"
    if kind == "phrase":
        return '"' + " ".join(draw(st.lists(st.sampled_from(VOCAB), min_size=2, max_size=3))) + '"'
    if kind == "number":
        return draw(st.sampled_from(("=45-й", "45", "137-го", "в/ч", "=сзч", "сзч", "=СЗЧ")))
    if kind == "url":
        return draw(st.sampled_from(("url:baza", "url:t.me/polk")))
    return word


def _grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    pair = st.tuples(inner, inner)
    return st.one_of(
        pair.map(lambda p: f"({p[0]} {p[1]})"),
        pair.map(lambda p: f"({p[0]} OR {p[1]})"),
        pair.map(lambda p: f"({p[0]} NOT {p[1]})"),
        st.tuples(inner, st.integers(1, 4), inner).map(lambda p: f"({p[0]} NEAR/{p[1]} {p[2]})"),
    )


queries = st.recursive(leaves(), _grow, max_leaves=5)
# NEAR inside NEAR, over plain words: what long posts test.
nested_near = st.recursive(st.sampled_from(VOCAB), lambda inner: st.tuples(inner, st.integers(1, 6), inner).map(
    lambda p: f"({p[0]} NEAR/{p[1]} {p[2]})"), max_leaves=4).filter(lambda q: "NEAR" in q)


def make_rule(query: str, **kw: object) -> Rule:
    try:
        return Rule.from_query("r", query, **kw)  # type: ignore[arg-type]
    except QueryError:
        assume(False)
        raise


SETTINGS = settings(max_examples=200, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(queries, st.lists(posts(), min_size=1, max_size=4), st.sampled_from((None, None, 0, 1, 2)))
def test_matcher_agrees_with_the_reference(query: str, texts: list[str], typos: int | None) -> None:
    rule = make_rule(query, typos=typos)
    shared = Matcher([rule])  # one matcher for every post: its word cache fills as it goes
    for text in texts:
        check(rule, text, shared)


@settings(SETTINGS, max_examples=120)
@given(queries, queries, posts())
def test_exclusions_agree_with_the_reference(query: str, exclude: str, text: str) -> None:
    check(make_rule(query, exclude=(exclude,)), text)


@settings(max_examples=40, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.one_of(queries, nested_near), long_posts())
@example("(полк NEAR/1 командир) NEAR/1 дезертир", "полк командир " * 150 + "дезертир")
@example("полк NEAR/2 командир", "полк командир " * 300)
def test_long_posts_agree_with_the_reference(query: str, text: str) -> None:
    check(make_rule(query), text)


# -- channel scopes ----------------------------------------------------------------------------

GROUPS = {"Moscow": ["@mash", "-1001234567890"]}
CHANNELS = ("baza", "@Mash", "t.me/shot_shot", "https://t.me/Baza", 1117628569, "-1001117628569", "moscow", "MOSCOW")


def in_scope(channels: tuple[str | int, ...] | None, username: str | None, channel_id: int) -> bool:
    """The README's scope: a username (any spelling), a bare or marked id, or a group holding the channel."""
    if channels is None:
        return True
    def key(c: str | int) -> str:
        s = str(c).removeprefix("https://").removeprefix("t.me/").lstrip("@").lower()
        return str(bare_id(int(s))) if s.lstrip("-").isdigit() else s
    own = {key(channel_id)} | ({key(username)} if username else set())
    groups = {g.lower() for g, members in GROUPS.items() if own & {key(m) for m in members}}
    return bool({key(c) for c in channels} & (own | groups))


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.one_of(st.none(), st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3).map(tuple)),
       st.sampled_from((None, "baza", "Baza", "@mash", "shot_shot", "other")),
       st.sampled_from((1117628569, -1001117628569, 1234567890, -1001234567890, 42)),
       st.booleans())
def test_channel_scopes_agree_with_the_reference(channels: tuple[str | int, ...] | None, username: str | None,
                                                 channel_id: int, hit: bool) -> None:
    rule = Rule.from_query("r", "дезертир", channels=channels)
    post = Post(channel_id=channel_id, message_id=1, date=datetime(2024, 3, 1, tzinfo=timezone.utc),
                text="Задержаны дезертиры" if hit else "Погода", channel_username=username)
    got = Matcher([rule], groups=GROUPS).match(post)
    assert bool(got) == (hit and in_scope(channels, username, channel_id))


# -- disguised words ---------------------------------------------------------------------------


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.sampled_from(VOCAB).flatmap(lambda w: st.tuples(st.just(w), disguised(w))),
       st.sampled_from(("", "Срочно: ", "#", "(")), st.sampled_from(("", ".", " задержан", ")")))
def test_a_disguised_form_matches_its_word(word_and_form: tuple[str, str], before: str, after: str) -> None:
    """Case, invisible marks and Latin look-alikes (fewer than the Cyrillic letters) change nothing;
    a typo still matches within the allowance; the hit spans the whole disguised word."""
    word, form = word_and_form
    plain = form.replace("\u200b", "").replace("\u00ad", "").replace("\u0301", "").lower()
    assume(sum(c in LAT.values() for c in plain) * 2 < len(plain))  # more look-alikes: see test_matcher.py
    unmarked = form.replace("\u200b", "").replace("\u00ad", "").replace("\u0301", "")
    assume(not (before == "#" and re.search("[a-zа-яіїєґ][A-ZА-ЯІЇЄҐ]", unmarked)))  # CamelCase: two words
    rule = make_rule(word)
    text = before + form + after
    ref = Reference(rule, text)
    check(rule, text)
    cyr = plain.translate(str.maketrans({v: k for k, v in LAT.items()}))
    if cyr.replace("ё", "е") in forms_of(word) and "п" + cyr not in forms_of(word):
        assert ref.matches(), (word, text)  # the form itself, disguised: the reference must read it
    if any(word_kind(w, t.text, None, ref.surface(t)) for t in ref.tokens for w in words_of(rule.node)):
        (h,) = Matcher([rule]).match(text)[0].hits
        assert h.form == form
