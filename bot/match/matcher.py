"""Match posts against rules, and say why: every hit with its term, surface form and span.

Every query word is expanded into all its forms when the matcher is built. Each distinct
post word is classified once (exact form, prefix, typo) and cached, so a post that contains
no rule word is rejected with a few C-speed set operations; only candidates are tokenised
with spans and evaluated against the query trees.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, combinations, product
from math import prod
from functools import wraps
from typing import Callable, Concatenate, Iterable, Mapping, ParamSpec, Protocol, TypeVar

from rapidfuzz.distance import OSA

from ..text import (
    DECORATION_MARKS,
    ORDINAL_SUFFIXES,
    Token,
    cyrillic_reading,
    find_urls,
    is_mixed,
    latin_reading,
    normalize_word,
    rough_words,
    split_ordinal,
    tokenize,
    twin_spelling,
)
from .explain import kinship
from .morph import Morphology, default_morphology
from .query import (
    And,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Url,
    Word,
    needs_hit,
    terms_of,
    to_text,
    nodes,
    words_of,
)
from .rules import Rule, RuleSet, channel_key, channel_title_key

__all__ = ["FIRST_LETTER_KEPT", "STORED_HITS", "Hit", "Match", "Matcher", "auto_typos", "look_alikes", "ordinal_ending"]

_CACHE_LIMIT = 500_000
STORED_HITS = 2_048  # a match's hits a store keeps (see Match.stored_hits)
_ALL_PAIRS = 256  # a NEAR with at most this many pairs of occurrences keeps them all


def auto_typos(length: int) -> int:
    """Edits allowed for a word of this length: none up to 4 letters, one beyond. (Two edits on
    long words caught only real words the dictionary lacks in the corpus: «детектировать» for
    дезертировать, «огроменную» for огородить; `~2` or `typos = 2` still asks for them.) The length
    is the shorter of the rule word and the form: дрон has no typo in «дроном» either («проном»,
    «дропы» were all its typos on the corpus), живой none in «жива» («жиза»)."""
    return 0 if length <= 4 else 1


# A typo of a form shorter than this keeps its first letter: on the corpus every typo hit of such a
# form that changed, added or dropped the first letter was another word («бакете» for ракета,
# «скамеры» for камера, «асти» for части), and no misspelling was.
FIRST_LETTER_KEPT = 7


@dataclass(frozen=True, slots=True)
class Hit:
    """One matched word: the query term, the form found, where it stands, how sure we are."""

    term: str
    form: str
    start: int
    end: int
    score: float
    kind: str  # form | exact | prefix | typo | url


@dataclass(frozen=True, slots=True)
class Match:
    """A rule that matched a post, with every hit that made it match."""

    rule: str
    title: str
    severity: str
    hits: tuple[Hit, ...]

    @property
    def terms(self) -> list[str]:
        """The distinct query terms that hit, in order of first appearance."""
        return list(dict.fromkeys(h.term for h in self.hits))

    @property
    def stored_hits(self) -> tuple[Hit, ...]:
        """The hits a store keeps: the first `STORED_HITS` in text order (every hit of a post
        Telegram allows: 4,096 characters hold fewer words), then each other term's first hit, so
        highlighting, the `matched` words and per-term counts stay whole while a runaway text
        (a 47 MB JSON Lines line) stores kilobytes, not a hit per word."""
        if len(self.hits) <= STORED_HITS:
            return self.hits
        kept = self.hits[:STORED_HITS]
        later: dict[str, Hit] = {}
        for h in self.hits[STORED_HITS:]:
            later.setdefault(h.term, h)
        seen = {h.term for h in kept}
        return kept + tuple(h for term, h in later.items() if term not in seen)


class _PostLike(Protocol):
    @property
    def text(self) -> str: ...  # and, read when present: links (Post.links), channel_username, channel_id


@dataclass(frozen=True, slots=True)
class _Term:
    word: Word
    allowance: int | None  # None: auto by form length


# A deletion key: the letters left of a word's prefix after deleting some (tuples, because
# itertools.combinations makes them in C, at a quarter of the cost of slicing strings).
_Key = tuple[str, ...]


# A typo candidate: a form, its term id, its allowance (edits) and its length.
_Entry = tuple[str, int, int, int]


class _TypoIndex:
    """The delete-key index frozen for lookups: the keys as a set (for C-speed intersection),
    each key's entries as ids into one sorted tuple (a union of ints sorts fast), the keys' first
    `_HEAD` letters, which turn away most words at a fraction of the keys' cost, and the deletions
    a word of each length gets (`k_from_2`: the length from which two, else `k`)."""

    __slots__ = ("entries", "heads", "ids", "k", "k_from_2", "keys")

    def __init__(self, deletes: dict[_Key, list[tuple[str, int, int]]], max_delete: int, min_len_k2: int) -> None:
        self.entries: tuple[_Entry, ...] = tuple(
            (f, tid, k, len(f)) for f, tid, k in sorted({e for es in deletes.values() for e in es}))
        rank = {e[:3]: i for i, e in enumerate(self.entries)}
        self.ids: dict[_Key, tuple[int, ...]] = {d: tuple(sorted({rank[e] for e in es})) for d, es in deletes.items()}
        self.keys: frozenset[_Key] = frozenset(self.ids)
        self.heads: frozenset[_Key] = frozenset(d[:_HEAD] for d in self.ids if len(d) >= _HEAD)
        # Two deletions only for words long enough to be 2 edits from a form that allows 2.
        self.k = min(max_delete, 1)
        self.k_from_2 = min_len_k2 - 2 if max_delete == 2 else 1 << 30


# One occurrence of a query node in a post: first and last token index and its hits.
_Occ = tuple[int, int, tuple[Hit, ...]]
_Known = tuple[str | None, int | None, str | None]  # what a channel is known by: (username, id, title)


def ordinal_ending(w: Word, in_phrase: bool = False) -> bool:
    """A bare ordinal ending (=я, =го, =й) outside a phrase: it stands for the ending of a unit's
    number («58-я армия»), never for a word of its own («я» is the pronoun, «ой» an interjection)."""
    return w.mode == "exact" and not in_phrase and w.text in ORDINAL_SUFFIXES


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[Concatenate[Matcher, _P], _R]) -> Callable[Concatenate[Matcher, _P], _R]:
    """Run `method` holding the matcher's lock: its word cache, emptied when full, and the terms
    `explain_forms` adds are shared by every thread that matches with it."""

    @wraps(method)
    def run(self: Matcher, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._lock:
            return method(self, *args, **kwargs)

    return run


class Matcher:
    """Compiled rules. `match(post)` is deterministic and thread-safe: one thread at a time uses a
    matcher (its word cache is shared); threads with two matchers (rules reloaded) run side by side."""

    def __init__(self, rules: RuleSet | Iterable[Rule], *, groups: Mapping[str, Iterable[str | int]] | None = None,
                 morphology: Morphology | None = None) -> None:
        self.morph = morphology or default_morphology()
        self._lock = threading.RLock()
        self.rules: list[Rule] = sorted((r for r in rules if r.enabled), key=lambda r: r.name)
        self.groups = {g.casefold(): {channel_key(c) for c in members} for g, members in (groups or {}).items()}
        self._terms: list[_Term] = []
        self._term_ids: dict[tuple[object, ...], int] = {}
        self._forms: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._prefixes: dict[str, list[tuple[int, str]]] = {}  # prefix -> (term id, kind: prefix or glued*)
        self._prefix_lens: list[int] = []  # the distinct prefix lengths
        self._deletes: dict[_Key, list[tuple[str, int, int]]] = defaultdict(list)
        self._max_delete = 0
        self._typo_index: _TypoIndex | None = None  # made from _deletes when first needed
        self._near_cache: dict[tuple[str, int], tuple[_Entry, ...]] = {}  # prefix -> typo entries
        self._min_len_k2 = 1 << 30
        self._typo_min_len, self._typo_max_len = 1 << 30, 0  # token lengths a typo can have
        self._rule_anchors: list[set[int]] = []
        self._rule_urls: list[bool] = []
        self._prefilters: list[Callable[[set[int]], bool]] = []
        self._word_ids: dict[int, int] = {}  # id(Word node) -> term id
        self._cased: set[int] = set()  # terms that match capitals only (`=КТО`): checked on the post's own text
        self._texts: dict[int, str] = {}  # id(node) -> its query text, for hits
        self._channels_seen: set[_Known] = set()  # (username, id, title) of posts matched: unmatched_scope
        self._scoped = frozenset(i for i, r in enumerate(self.rules) if r.channels is not None)  # rules with a channel scope
        self._glued: dict[int, int] = {}  # id(designation Phrase) -> the term of its glued spelling (С400)
        for rule in self.rules:
            for node in (rule.node, *rule.exclude_nodes):
                in_phrases = {id(w) for p in nodes(node) if isinstance(p, Phrase) for w in p.words}
                for w in words_of(node):
                    self._word_ids[id(w)] = self._add_term(w, rule.typos, id(w) in in_phrases)
                for p in nodes(node):
                    if isinstance(p, Phrase) and _glueable(p):
                        self._glued[id(p)] = self._add_glued(p)
                _texts(node, self._texts)
            self._rule_anchors.append(self._anchors(rule.node)[0])
            self._rule_urls.append(_has_url(rule.node))
            self._prefilters.append(self._prefilter(rule.node))
        self._cache: set[str] = set()  # every post word classified (until emptied at _CACHE_LIMIT words)
        self._interesting: set[str] = set()  # those that hit a term...
        self._hits: dict[str, tuple[tuple[int, str, float], ...]] = {}  # ...and what they hit (`_classify`)
        self._anchor_tids = frozenset().union(*self._rule_anchors)
        self._anchored: set[str] = set()  # the words that hit a rule's anchor
        self._forms_of: tuple[int, dict[int, list[str]]] = (-1, {})  # (terms then, term -> its forms): explain_forms

    # -- compiling ---------------------------------------------------------------------------

    def _add_term(self, w: Word, rule_typos: int | None, in_phrase: bool = False) -> int:
        allowance = w.typos if w.typos is not None else rule_typos
        # A name written capitalised (Лапин, "Часов Яр") also reaches the surname and place-name
        # forms the dictionary lacks; those that are another word's forms («часовом») only in a
        # phrase, where the next word tells the name.
        proper = 0 if w.mode != "forms" or not _capitalised(w.raw) else 2 if in_phrase else 1
        # a Latin exact word spells its Cyrillic twin only in a designation; alone (=HE, =CO)
        # it is a Latin abbreviation, and its twin a common word in capitals («НЕ», «СО»)
        twin = _twin(w.text) if w.mode == "exact" and (in_phrase or not w.text.isascii()) else None
        # the twin serves capitals and designations only («KTO», the «X» of X-101, «Cy-34»): a post word
        # in lower-case Latin is English, not a disguised Cyrillic word («pot» is no `=рот`, «he» no «не»)
        twin_kind = "" if twin is None else "twin_cap" if in_phrase else "twin_caps"
        ending = ordinal_ending(w, in_phrase)
        # a designation's number with letters («22м3» of Ту-22М3) in either script too («Ту-22M3»):
        # the letters before the hyphen, a twin only with a capital, tell the designation
        alike = (look_alikes(w.text) - {w.text} if w.joined and w.mode != "prefix" and not w.text.isalpha()
                 and not w.text.isdigit() else set())
        key = (w.text, w.mode, allowance, w.cased, w.ordinal, proper, twin_kind, ending, bool(alike))
        if key in self._term_ids:
            return self._term_ids[key]
        tid = len(self._terms)
        self._term_ids[key] = tid
        self._terms.append(_Term(w, allowance))
        if w.cased:
            self._cased.add(tid)
        if w.mode == "prefix":  # a designation's number in either script too (`Ту-22М*` takes «Ту-22M3»)
            self._add_prefixes(look_alikes(w.text) if w.joined else {w.text}, tid, "prefix")
            return tid
        if w.ordinal:  # the number, taken only where an ordinal ending follows it (see _Doc)
            self._forms[w.text].append((tid, "ordinal"))
            return tid
        forms = ({w.text} if w.mode == "exact" else self.morph.forms(w.text, short=True) if proper
                 else self.morph.forms(w.text))
        if proper:
            free, common = self.morph.proper_forms(w.text)
            forms = forms | free | (common if proper == 2 else frozenset())
        if twin:
            forms = {w.text, twin}
        for f in forms:
            self._forms[f].append((tid, twin_kind if f == twin else "ending" if ending else "exact" if w.mode == "exact" else "form"))
            k = (0 if w.mode == "exact" or f.isdigit()
                 else allowance if allowance is not None else auto_typos(min(len(w.text), len(f))))
            if k:
                self._max_delete = max(self._max_delete, k)
                self._typo_index = None
                self._near_cache.clear()
                if k == 2:
                    self._min_len_k2 = min(self._min_len_k2, len(f))
                self._typo_min_len = max(4, min(self._typo_min_len, len(f) - k))
                self._typo_max_len = max(self._typo_max_len, len(f) + k)
                for d in _subsequences(f, k):
                    self._deletes[d].append((f, tid, k))
        for f in alike - forms:
            self._forms[f].append((tid, "exact"))
        return tid

    def _add_prefixes(self, prefixes: Iterable[str], tid: int, kind: str) -> None:
        for p in prefixes:
            self._prefixes.setdefault(p, []).append((tid, kind))
        self._prefix_lens = sorted({len(p) for p in self._prefixes})

    def _add_glued(self, phrase: Phrase) -> int:
        """The term of a designation written as one word («С400» for С-400, «Ту22М3», «МиГ29»; «Ту95МС»
        for `Ту-95*`), each of its letter runs in either script as its letters are («C400», «Ty22M3»); it
        hits only a post word with a capital («х10», «x86» are something else)."""
        glued = "".join(w.text for w in phrase.words)
        prefix = phrase.words[-1].mode == "prefix"
        key = ("glued*" if prefix else "glued", glued)
        if key in self._term_ids:
            return self._term_ids[key]
        tid = self._term_ids[key] = len(self._terms)
        self._terms.append(_Term(Word(glued, "prefix" if prefix else "exact"), None))
        if prefix:
            self._add_prefixes(look_alikes(glued), tid, "glued*")
        for f in () if prefix else look_alikes(glued):
            self._forms[f].append((tid, "glued"))
        return tid

    def _anchors(self, node: Node) -> tuple[set[int], float]:
        """Terms of which every match of `node` contains at least one, chosen to be rare.

        Only these words make a post a candidate, so «в» inside "в/ч" or «из» inside
        "из части" never sends every post down the slow path. Returns (term ids, cost).
        """
        if isinstance(node, Word):
            tid = self._word_ids[id(node)]
            n = len(node.text)
            cost = 1000.0 if n <= 2 else 50.0 if n <= 3 else 5.0 if node.mode == "prefix" and n < 5 else 1.0
            return {tid}, cost
        if isinstance(node, Phrase):
            # on a tie the last word: «ч» of "в/ч", not the preposition before it, which most posts have
            anchors, cost = min((self._anchors(w) for w in reversed(node.words)), key=lambda a: a[1])
            glued = self._glued.get(id(node))
            return (anchors, cost) if glued is None else (anchors | {glued}, cost + 1.0)
        if isinstance(node, Or):
            parts = [self._anchors(n) for n in node.items]
            return set().union(*(p[0] for p in parts)), sum(p[1] for p in parts)
        if isinstance(node, And):
            parts = [self._anchors(n) for n in node.items if not isinstance(n, Not) and needs_hit(n)]
            return min(parts, key=lambda a: a[1])
        if isinstance(node, Near):
            return min(self._anchors(node.left), self._anchors(node.right), key=lambda a: a[1])
        return set(), float("inf")  # Url, Not: never an anchor

    def _prefilter(self, node: Node) -> Callable[[set[int]], bool]:
        """The query as a test on which terms a post contains, positions ignored.

        Necessary for a match, and compiled to one Python expression over term ids, so most
        posts that merely contain a common query word («режим», «план») stop here.
        """
        def expr(n: Node) -> str:
            if isinstance(n, Word):
                return f"({self._word_ids[id(n)]} in p)"
            if isinstance(n, Phrase):
                glued = self._glued.get(id(n))
                return ("(" + " and ".join(f"({self._word_ids[id(w)]} in p)" for w in n.words)
                        + ("" if glued is None else f" or ({glued} in p)") + ")")
            if isinstance(n, Or):
                return "(" + " or ".join(expr(x) for x in n.items) + ")"
            if isinstance(n, And):
                return "(" + " and ".join(expr(x) for x in n.items) + ")"
            if isinstance(n, Near):
                return f"({expr(n.left)} and {expr(n.right)})"
            return "True"  # Not and Url: decided later, on the full post
        return eval(f"lambda p: {expr(node)}")  # noqa: S307 - the expression holds only ints and operators

    # -- classifying post words ----------------------------------------------------------------

    def _classify(self, token: str) -> tuple[tuple[int, str, float], ...]:
        if _SPECIAL_HINT_RE.search(token) is not None and (special := self._classify_special(token)) is not None:
            self._remember(token, special)
            return special
        found: dict[int, tuple[int, str, float]] = {}
        for tid, kind in self._forms.get(token, ()):
            found[tid] = (tid, kind, 1.0)
        for n in self._prefix_lens:  # one dict lookup per prefix length, not a startswith per prefix
            for tid, kind in self._prefixes.get(token[:n], ()):
                if tid not in found:
                    found[tid] = (tid, kind, 1.0)
        if (self._typo_min_len <= len(token) <= self._typo_max_len and not token.isdigit()
                and (near := self._near_forms(token))):
            typo = self._typos(token, near, found)
            if typo and not self.morph.is_known(token):  # a dictionary word is nobody's typo
                found.update(typo)
        result = tuple(found.values()) if found else ()
        self._remember(token, result)
        return result

    def _classify_special(self, token: str) -> tuple[tuple[int, str, float], ...] | None:
        """A mixed-script word, a number with its ordinal ending, an English possessive: classified as
        the words it stands for; None for any other word (`_SPECIAL_HINT_RE` flags more than these)."""
        if readings := _readings(token):
            result: tuple[tuple[int, str, float], ...] = ()
            for r in readings:
                result = _union(result, self._lookup(r))
            return result
        if (glued := split_ordinal(token)) is not None:  # «137го»: the number and its ending
            return self._lookup(glued[0]) if _year(glued[0]) else _union(self._lookup(glued[0]), self._lookup(glued[1]))
        if token.endswith("'s") and token.isascii():
            return self._possessive(token)
        return None

    def _possessive(self, token: str) -> tuple[tuple[int, str, float], ...]:
        """An English possessive («russia's», one token for the apostrophe that keeps об'єкт one
        word) is its word: the word's terms, and those whose form writes the 's itself."""
        found = {tid: (tid, kind, 1.0) for tid, kind in self._forms.get(token, ())}
        for entry in self._lookup(token[:-2]):
            found.setdefault(entry[0], entry)
        return tuple(found.values())

    def _typos(self, token: str, near: tuple[_Entry, ...],
               found: dict[int, tuple[int, str, float]]) -> dict[int, tuple[int, str, float]]:
        """Terms not in `found` with a form among `near` within its allowance of `token` (OSA),
        each with its best score."""
        typo: dict[int, tuple[int, str, float]] = {}
        n = len(token)
        for form, tid, k, size in near:
            # OSA is at least the difference in length: most entries need no distance computed.
            if tid in found or not -k <= size - n <= k or (size < FIRST_LETTER_KEPT and token[0] != form[0]):
                continue
            dist = OSA.distance(token, form, score_cutoff=k)
            if 0 < dist <= k:
                score = round(1 - dist / max(len(form), len(token)), 3)
                if tid not in typo or score > typo[tid][2]:
                    typo[tid] = (tid, "typo", score)
        return typo

    def _near_forms(self, token: str) -> tuple[_Entry, ...]:
        """The (form, term id, allowance, form length) entries sharing a delete key with `token`'s
        prefix, each once; cached by prefix (inflections of one word share it)."""
        index = self._typo_index
        if index is None:
            index = self._typo_index = _TypoIndex(self._deletes, self._max_delete, self._min_len_k2)
        k = 2 if len(token) >= index.k_from_2 else index.k
        # A key of the prefix loses at most k of its letters: its first _HEAD are some _HEAD of the
        # prefix's first _HEAD + k, which no key of the index begins with for most words.
        if len(token) - k >= _HEAD and index.heads.isdisjoint(combinations(token[:_HEAD + k], _HEAD)):
            return ()
        key = (token[:_PREFIX], k)
        hit = self._near_cache.get(key)
        if hit is None:
            hit = self._near_cache[key] = self._entries_near(index, key[0], k)
        return hit

    @staticmethod
    def _entries_near(index: _TypoIndex, prefix: str, k: int) -> tuple[_Entry, ...]:
        """The entries of every delete key within k deletions of `prefix`, in sorted order.

        The keys are made and looked up in C (combinations, set.intersection)."""
        n = len(prefix)
        hits = index.keys.intersection(chain(*[combinations(prefix, r) for r in range(max(1, n - k), n + 1)]))
        if not hits:
            return ()
        ids = index.ids[next(iter(hits))] if len(hits) == 1 else sorted(set().union(*map(index.ids.__getitem__, hits)))
        return tuple(map(index.entries.__getitem__, ids))

    def _remember(self, token: str, result: tuple[tuple[int, str, float], ...]) -> None:
        self._cache.add(token)
        if result:
            self._interesting.add(token)
            self._hits[token] = result
            if any(e[0] in self._anchor_tids for e in result):
                self._anchored.add(token)

    def _lookup(self, token: str) -> tuple[tuple[int, str, float], ...]:
        hit = self._hits.get(token)
        if hit is not None:
            return hit
        return () if token in self._cache else self._classify(token)

    # -- matching -------------------------------------------------------------------------------

    @_locked
    def candidates(self, text: str, links: tuple[tuple[int, int, str], ...] = (),
                   words: set[str] | None = None) -> list[int]:
        """Indexes of the rules that could match `text` (one of their words is in it, or a link
        in it or behind its words for a `url:` rule). `words`: `set(rough_words(text))`, when the
        caller has them."""
        if len(self._cache) >= _CACHE_LIMIT:  # between posts: a post never loses words it classified
            self._cache.clear()
            self._interesting.clear()
            self._hits.clear()
            self._anchored.clear()
            self._near_cache.clear()
        toks = set(rough_words(text)) if words is None else words
        for t in toks.difference(self._cache):
            self._classify(t)
        urls = any(self._rule_urls) and (bool(links) or bool(find_urls(text)))
        if not urls and toks.isdisjoint(self._anchored):  # no rule's anchor: most posts stop here
            return []
        present = toks & self._interesting
        tids = {tid for t in present for tid, _, _ in self._hits[t]}
        if urls:
            return [i for i, ids in enumerate(self._rule_anchors)
                    if self._rule_urls[i] or (not ids.isdisjoint(tids) and self._prefilters[i](tids))]
        return [i for i, ids in enumerate(self._rule_anchors)
                if not ids.isdisjoint(tids) and self._prefilters[i](tids)]

    def channel_keys(self, post: object) -> set[str]:
        """The keys a post's channel is known by: username, bare id, title (`channel_title_key`:
        what a post replayed from a Telegram Desktop export, with no username, is known by), and the
        groups it is in."""
        keys = self._own_keys(getattr(post, "channel_username", None), getattr(post, "channel_id", None),
                              getattr(post, "channel_title", None))
        return keys | {g for g, members in self.groups.items() if not keys.isdisjoint(members)}

    @staticmethod
    def _own_keys(username: str | None, channel_id: int | None, title: str | None) -> set[str]:
        keys = {channel_key(v) for v in (username, channel_id) if v is not None and v != ""}
        if isinstance(title, str) and (key := channel_title_key(title, username if isinstance(username, str) else None)):
            keys.add(key)
        return keys

    @_locked
    def unmatched_scope(self, channels: Iterable[_Known] | None = None
                        ) -> list[tuple[str, str, tuple[str, ...]]]:
        """The channel scope entries none of `channels` ((username, id, title) each; by default those
        of the posts given to `match` since this Matcher was made) is known by: ("group", name,
        members) for config group members, ("rule", name, entries) for a rule's `channels` (a group
        counts as matched when one of its members did). A scope entry no channel is known by is most
        often a misspelt username, or a channel the posts know by another name (an export's title),
        and silently matches nothing. Entries are keys (`channel_key`: lower case, no «@»); see
        `scope_warnings` for the text."""
        seen: set[str] = set()
        for channel in self._channels_seen if channels is None else channels:
            seen |= self._own_keys(*channel)
        out: list[tuple[str, str, tuple[str, ...]]] = []
        matched_groups = set()
        for g, members in sorted(self.groups.items()):
            if missed := tuple(sorted(members - seen)):
                out.append(("group", g, missed))
            if not members.isdisjoint(seen):
                matched_groups.add(g)
        for rule in self.rules:
            if rule.channels is not None:
                if missed := tuple(c for c in rule.channels if c not in seen and c not in matched_groups):
                    out.append(("rule", rule.name, missed))
        return out

    def scope_warnings(self, channels: Iterable[_Known] | None = None) -> list[str]:
        """`unmatched_scope` as one warning line per rule or group (a rule's group named as a group:
        its members matched no channel, the group's own line says which)."""
        out = []
        for kind, name, missed in self.unmatched_scope(channels):
            groups = {c for c in missed if kind == "rule" and c in self.groups}
            named = [c if c not in groups else f"group {c} (none of its channels)" if self.groups[c]
                     else f"group {c} (it lists no channel)" for c in missed]
            channels_missed = len(missed) - len(groups)
            out.append(f"{kind} '{name}': no post came from {', '.join(named)}; " + (
                f"{'it' if channels_missed == 1 else 'they'} matched no channel (a username, id or exact title)"
                if channels_missed else "see the group's line" if any(self.groups[g] for g in groups)
                else "add channels to the group in the config"))
        return out

    @_locked
    def match(self, post: _PostLike | str, words: set[str] | None = None) -> list[Match]:
        """The rules that match a post (or a bare text), each with its hits; sorted by rule name.
        `words`: `set(rough_words(text))`, when the caller has them (a worker read the text's words once)."""
        if isinstance(post, str):
            text = post
        else:
            text = post.text
            self._channels_seen.add((getattr(post, "channel_username", None), getattr(post, "channel_id", None),
                                     getattr(post, "channel_title", None)))
        if not text:
            return []
        links: tuple[tuple[int, int, str], ...] = () if isinstance(post, str) else getattr(post, "links", ())
        cands = self.candidates(text, links, words)
        if not cands:
            return []
        if not isinstance(post, str) and not self._scoped.isdisjoint(cands):  # (the keys cost regexes: only when asked)
            keys = self.channel_keys(post)
            cands = [i for i in cands if self.rules[i].applies_to(keys)]
            if not cands:
                return []
        doc = _Doc(text, tokenize(text), self, links)
        out: list[Match] = []
        for i in cands:
            rule = self.rules[i]
            occ = doc.eval(rule.node)
            if occ is None or any(doc.eval(x) is not None for x in rule.exclude_nodes):
                continue
            best: dict[tuple[int, int], Hit] = {}
            for _, _, hs in occ:
                for h in hs:
                    if (old := best.get((h.start, h.end))) is None or h.score > old.score or (
                            h.score == old.score and h.term != old.term  # two terms hit one word: name its own
                            and (kinship(h.form, h.term, self.morph), old.term) > (kinship(old.form, old.term, self.morph), h.term)):
                        best[(h.start, h.end)] = h
            hits = sorted(best.values(), key=lambda h: (h.start, h.end))
            out.append(Match(rule.name, rule.title, rule.severity, tuple(hits)))
        return out

    @_locked
    def why_not(self, text: str) -> list[tuple[str, str]]:
        """(rule, why) for each enabled rule that does not match `text` (a bare text: channel scopes
        ignored): the parts of its query the text comes closest to, or the exclusion that ruled
        it out. What an analyst testing a rule needs when nothing matched."""
        doc = _Doc(text, tokenize(text), self)
        out: list[tuple[str, str]] = []
        for rule in (r for r in self.rules if r.enabled):
            if doc.eval(rule.node) is None:
                out.append((rule.name, _why_not(doc, rule.node)))
            elif (x := next((x for x in rule.exclude_nodes if doc.eval(x) is not None), None)) is not None:
                # the words that hit it, not the list's first words: the analyst must see which to blame
                words = _short(", ".join(_hit_terms(doc.eval(x) or [])) or to_text(x))
                out.append((rule.name, f"the query matches, but so does its exclusion {words}"))
        return out  # (a rule with neither matches the text: `match` gives it)

    @_locked
    def explain_forms(self, rule: Rule, word: Word) -> tuple[list[str], int | None]:
        """The forms a rule's word matches and its typo allowance (None: by length)."""
        in_phrase = any(word is w for node in (rule.node, *rule.exclude_nodes) for p in nodes(node) if isinstance(p, Phrase) for w in p.words)
        tid = self._add_term(word, rule.typos, in_phrase)
        term = self._terms[tid]
        if word.mode == "prefix":
            return [word.text + "…"], 0
        if self._forms_of[0] != len(self._terms):  # built once for all the words explained (a term added since: again)
            by_term: dict[int, list[str]] = defaultdict(list)
            for f, entries in self._forms.items():
                for t in {t for t, _ in entries}:
                    by_term[t].append(f)
            self._forms_of = (len(self._terms), by_term)
        return sorted(self._forms_of[1].get(tid, ())), (0 if word.mode == "exact" else term.allowance)


class _Doc:
    """One candidate post: its tokens and where each rule word occurs in it."""

    def __init__(self, text: str, tokens: list[Token], matcher: Matcher,
                 links: tuple[tuple[int, int, str], ...] = ()) -> None:
        self.text = text
        self.links = links
        self.tokens = tokens
        self.m = matcher
        self.positions: dict[int, list[tuple[int, str, float]]] = defaultdict(list)
        cased = matcher._cased
        endings: dict[int, str] = {}
        if _ORDINAL_HINT_RE.search(text):  # (one C-speed search spares most posts the loop over tokens)
            tokens, endings = _join_ordinals(text, tokens)
            self.tokens = tokens
        for i, tok in enumerate(tokens):
            entries = matcher._lookup(tok.text)
            ending = endings.get(i) if endings else None
            if ending is not None and not _year(tok.text):
                entries = _union(entries, matcher._lookup(ending))
            for tid, kind, score in entries:
                if kind == "ordinal" or kind == "ending":
                    # a number as an ordinal, and a bare ending term (=го): only a number with its
                    # ending, hyphenated or glued (137-го, 137го); never the bare number nor «я» alone
                    if ending is None and split_ordinal(tok.text) is None:
                        continue
                    kind = "exact"
                elif kind == "typo" and _latin_name(_unmarked(text[tok.start:tok.end])):
                    continue
                elif kind == "twin_caps" or kind == "twin_cap" or kind == "glued" or kind == "glued*":
                    # a look-alike twin in capitals (KTO), a designation's letter with a capital (X-101,
                    # Cy-34, С400, Ту95МС): not a lower-case word of the other script («pot» for =рот)
                    surface = text[tok.start:tok.end]
                    if not (_capitals(surface) if kind == "twin_caps" else surface[:1].isupper()):
                        continue
                    kind = "prefix" if kind == "glued*" else "exact"
                if tid in cased and (not _capitals(text[tok.start:tok.end]) or self._shouted(i)):
                    continue
                self.positions[tid].append((i, kind, score))
        self._urls: list[tuple[int, int, str]] | None = None
        self._hits: dict[tuple[str, int, str, float], Hit] = {}

    def _shouted(self, i: int) -> bool:
        """Is token i, in capitals, a shouted pronoun rather than an abbreviation (=КТО)? In a run
        of capitals it is when it opens a clause, before a verb or short adjective in capitals
        («КТО ВИНОВАТ?», «ТОГО, КТО ВВЁЛ»), and not when it follows a capital word («ВВЕДЁН РЕЖИМ
        КТО», «РЕЖИМ КТО ВВЕДЁН»). Only a word that is also a common word can be one: «СЗЧ ВЫРОСЛО» is the
        abbreviation."""
        tokens, text = self.tokens, self.text
        if i + 1 >= len(tokens):
            return False
        tok, nxt = tokens[i], tokens[i + 1]
        surface = text[nxt.start:nxt.end]
        if (not surface.isupper() or sum(c.isalpha() for c in surface) < 2 or "\n" in text[tok.end:nxt.start]
                or not self.m.morph.common_word(tok.text) or not self.m.morph.predicate_like(nxt.text)):
            return False
        if i > 0:
            prev = tokens[i - 1]
            between = _unmarked(text[prev.end:tok.start])
            if between.isspace() and "\n" not in between and text[prev.start:prev.end].isupper():
                return False
        return True

    def _hit(self, term: str, i: int, kind: str, score: float) -> Hit:
        """The hit of a term on token i, one object however many query words make it (a NEAR's
        spans fold their hits by identity: `_widest`)."""
        key = (term, i, kind, score)
        hit = self._hits.get(key)
        if hit is None:
            tok = self.tokens[i]
            hit = self._hits[key] = Hit(term, self.text[tok.start:tok.end], tok.start, tok.end, score, kind)
        return hit

    def eval(self, node: Node) -> list[_Occ] | None:
        """Occurrences of `node` (a list, empty for a satisfied NOT), or None when it fails."""
        if isinstance(node, Word):
            tid = self.m._word_ids[id(node)]
            term = self.m._texts[id(node)]
            occ: list[_Occ] = [(i, i, (self._hit(term, i, kind, score),)) for i, kind, score in self.positions.get(tid, ())]
            return occ or None
        if isinstance(node, Phrase):
            return self._phrase(node)
        if isinstance(node, Url):
            return self._url(node)
        if isinstance(node, Not):
            return [] if self.eval(node.item) is None else None
        if isinstance(node, And):
            out: list[_Occ] = []
            # Cheap checks first: a failing positive word or phrase ends the AND at once.
            for item in sorted(node.items, key=lambda n: not isinstance(n, (Word, Phrase))):
                item_occ = self.eval(item)
                if item_occ is None:
                    return None
                out.extend(item_occ)
            return out
        if isinstance(node, Or):
            found = [o for item in node.items if (o := self.eval(item)) is not None]
            return [x for o in found for x in o] if found else None
        if isinstance(node, Near):
            left = self.eval(node.left)
            right = self.eval(node.right) if left else None
            return _near(left, right, node.distance) if left and right else None
        raise TypeError(f"unknown node {node!r}")

    def _phrase(self, node: Phrase) -> list[_Occ] | None:
        term = self.m._texts[id(node)]
        glued = self.m._glued.get(id(node))
        out: list[_Occ] = [] if glued is None else [
            (i, i, (self._hit(term, i, kind, score),)) for i, kind, score in self.positions.get(glued, ())]
        ids = [self.m._word_ids[id(w)] for w in node.words]
        if any(tid not in self.positions for tid in ids):
            return out or None
        at = [{i: (kind, score) for i, kind, score in self.positions.get(tid, ())} for tid in ids]
        joined = [k for k in range(1, len(ids)) if node.words[k].joined]
        for start in at[0]:
            if all(start + k in at[k] for k in range(1, len(ids))) and all(self._hyphenated(start + k) for k in joined):
                hits = tuple(self._hit(term, start + k, *at[k][start + k]) for k in range(len(ids)))
                out.append((start, start + len(ids) - 1, hits))
        return out or None

    def _hyphenated(self, i: int) -> bool:
        """Is token i joined to the token before it by a hyphen (С-400), as a designation's parts are?"""
        return _unmarked(self.text[self.tokens[i - 1].end:self.tokens[i].start]) in _DESIGNATION_HYPHENS

    def _url(self, node: Url) -> list[_Occ] | None:
        if self._urls is None:  # the links the text shows, then those behind its words
            self._urls = [(s, e, self.text[s:e]) for s, e in find_urls(self.text)] + list(self.links)
        out: list[_Occ] = []
        for s, e, url in self._urls:
            if node.text in url.casefold():
                # URLs stand outside the word sequence: place them far from every word.
                out.append((-10**6, -10**6, (Hit(to_text(node), self.text[s:e], s, e, 1.0, "url"),)))
        return out or None


def _near(left: list[_Occ], right: list[_Occ], distance: int) -> list[_Occ] | None:
    """Pairs of a left and a right occurrence at most `distance` words apart.

    Every pair when there are few (the usual post), which is quicker to find. Otherwise each
    occurrence pairs with its farthest partner on either side: those pairs span every other
    pair's words, so any word a NEAR above needs is as near to one of them, and every word that
    has a partner hits. Those pairs are then folded to the spans no other contains, each with
    the hits of the spans inside it (`_widest`): at most one a first word, however many
    occurrences, so a chain `a NEAR b NEAR c …` over a post where its words repeat costs the same
    per term instead of nearly doubling with each (16 terms on 400 words: 28,894 occurrences)."""
    if len(left) * len(right) <= _ALL_PAIRS:
        pairs = [(min(a[0], b[0]), max(a[1], b[1]), a[2] + b[2]) for a in left for b in right
                 if max(b[0] - a[1], a[0] - b[1], 0) <= distance]
        return pairs or None
    out: dict[tuple[int, int], list[Hit]] = {}
    for xs, ys, flip in ((left, right, False), (right, left, True)):
        ys = sorted(ys, key=_first)
        firsts = [y[0] for y in ys]
        width = max(y[1] - y[0] for y in ys)
        for x in xs:
            lo = bisect_left(firsts, x[0] - distance - width)
            hi = bisect_right(firsts, x[1] + distance)
            far_left = next((ys[j] for j in range(lo, hi) if _close(x, ys[j], distance)), None)
            far_right = None
            for j in range(hi - 1, lo - 1, -1):  # by first word, last to first
                y = ys[j]
                if far_right is not None and y[0] + width <= far_right[1]:
                    break  # no span from here on reaches further right
                if (far_right is None or y[1] > far_right[1]) and _close(x, y, distance):
                    far_right = y
            for y in {id(y): y for y in (far_left, far_right) if y is not None}.values():
                a, b = (y, x) if flip else (x, y)
                hits = out.setdefault((min(a[0], b[0]), max(a[1], b[1])), [])
                hits += a[2]
                hits += b[2]
    return _widest(out) or None


def _widest(spans: dict[tuple[int, int], list[Hit]]) -> list[_Occ]:
    """The spans no other span contains, each with its own hits and those of the spans inside it,
    every hit once. A containing span is as near as the spans inside it to any other word, so a
    NEAR above finds all it can through it, and the words of the spans inside still hit."""
    out: list[tuple[int, int, list[Hit]]] = []
    for (first, last), hits in sorted(spans.items(), key=lambda s: (s[0][0], -s[0][1])):
        if out and last <= out[-1][1]:  # inside the last kept span (its first is not after this one's)
            out[-1][2].extend(hits)
        else:
            out.append((first, last, hits))
    return [(first, last, tuple(dict(zip(map(id, hits), hits)).values())) for first, last, hits in out]  # (by id: `_Doc._hit`)


def _latin_name(surface: str) -> bool:
    """A capitalised Latin word in a post (Gordon): a name, never a typo of a rule word (cordon);
    lemminflect's dictionary, which tells English words from typos, holds no names."""
    return surface.isascii() and surface[:1].isupper() and surface[1:].islower()


def _capitalised(raw: str) -> bool:
    """Is a query word written as a name: a capital, then lower case (Лапин; not ВСУ, not лапин)?"""
    letters = raw.lstrip("=").split("~")[0]
    return letters[:1].isupper() and letters[1:].islower()


def _readings(token: str) -> list[str]:
    """The words a mixed-script word of `rough_words` may stand for in the post (`tokenize` folds it by
    the post's own letters: in capitals «BCУ» is Cyrillic, «NАТО» Latin, and their case is gone here),
    so it is a candidate in any reading; [] for a word in one script. The parts an apostrophe parts are
    also read each on its own, as `tokenize` folds them when the apostrophe is one («A'AAО» is «a'аао»;
    «AʼЁA», with the letter «ʼ», is «а'еа»)."""
    if not is_mixed(token):
        return []
    out = _part_readings(token)
    if "'" in token:
        options = [_part_readings(p) for p in token.split("'")]
        if 1 < prod(map(len, options)) <= _MAX_READINGS:
            out = list(dict.fromkeys(chain(out, map("'".join, product(*options)))))
    return [r for r in out if r != token]


_MAX_READINGS = 27  # (three mixed parts: more only in a made-up word)

# A character every word `Matcher._classify_special` reads otherwise has: a Latin letter (a mixed-script
# word, the s of an English possessive) or a digit (a number with its ordinal ending). Few Cyrillic
# words have one: they skip the three tests.
_SPECIAL_HINT_RE = re.compile("[a-z0-9]")


def _part_readings(part: str) -> list[str]:
    """A word (or a part between apostrophes) in each reading `_readings` gives it, itself first."""
    if not is_mixed(part):
        return [part]
    return list(dict.fromkeys(r for r in (part, normalize_word(part), cyrillic_reading(part), latin_reading(part))
                              if r is not None))


def _union(a: tuple[tuple[int, str, float], ...],
           b: tuple[tuple[int, str, float], ...]) -> tuple[tuple[int, str, float], ...]:
    """Classifications of two readings of one word, each term once (the first reading's kept)."""
    if not b:
        return a
    seen = {e[0] for e in a}
    return a + tuple(e for e in b if e[0] not in seen)


_HYPHENS = ("-", "\u2010", "\u2011")
_DESIGNATION_HYPHENS = (*_HYPHENS, "\u2013")  # and an en dash a word processor made of it (Су–34)
# A number, a hyphen and an ordinal ending in the raw text: what `_join_ordinals` may join.
# (Any letter after the hyphen: the ending may be spelt with a combining mark, «45-и\u0306», which
# only the tokens' normalisation reads as «й»; `_join_ordinals` checks the ending itself. Struck
# through, each character has its mark: «1̶3̶7̶-̶г̶о̶».)
_ORDINAL_HINT_RE = re.compile("[0-9][{m}]*[{h}][{m}]*[^\\W\\d_]".format(m=DECORATION_MARKS, h="".join(_HYPHENS)))
_UNMARK = str.maketrans("", "", DECORATION_MARKS)


def _unmarked(surface: str) -> str:
    """Raw text between or of tokens without the marks that strike its characters through or underline
    them (`bot.text.DECORATION_MARKS`): the hyphen of «С̶у̶-̶3̶4̶» is a hyphen, «G̶o̶r̶d̶o̶n̶» a name."""
    return surface.translate(_UNMARK) if surface and not surface.isascii() else surface


def _year(number: str) -> bool:
    """Is an ordinal's number a year («с 2019-го», «в 2024-м»)? Its ending then hits no bare ending
    term (=го, =й: a unit's number, «137-го полка»); an ordinal rule word (2024-й) still matches it."""
    return len(number) == 4 and "1900" <= number <= "2099"


def _join_ordinals(text: str, tokens: list[Token]) -> tuple[list[Token], dict[int, str]]:
    """A number and the ordinal ending hyphenated to it («137-го») as one token (the number,
    spanning both), so they are one word apart from the next, as «137го» and «137» are; returns the
    tokens and, by index, the ending each joined token holds (its terms, =го, still hit there)."""
    out: list[Token] = []
    endings: dict[int, str] = {}
    i, n = 0, len(tokens)
    while i < n:
        tok = tokens[i]
        if (i + 1 < n and tok.text.isdigit() and (nxt := tokens[i + 1]).text in ORDINAL_SUFFIXES
                and _unmarked(text[tok.end:nxt.start]) in _HYPHENS):
            endings[len(out)] = nxt.text
            out.append(Token(tok.text, tok.start, nxt.end))
            i += 2
            continue
        out.append(tok)
        i += 1
    return out, endings


def _glueable(phrase: Phrase) -> bool:
    """A designation (С-400, Х-101, Су-34, МиГ-29, Ту-22М3, `Ту-95*`), which a post may also write as one
    word; a wildcard only on its last part."""
    return all(w.joined for w in phrase.words[1:]) and all(w.mode != "prefix" for w in phrase.words[:-1])


# A designation's letter runs and numbers («ту», «22», «м», «3» of «ту22м3»).
_RUN_RE = re.compile(r"[^\W\d_]+|[0-9]+")
_MAX_LOOK_ALIKES = 16


def look_alikes(word: str) -> set[str]:
    """A designation's spellings with each letter run in either script where all its letters have
    look-alikes (as `_twin` takes them): «ту22м3», «ty22м3», «ту22m3», «ty22m3»; «миг29» alone (и, г
    have none). A word with more such runs than `_MAX_LOOK_ALIKES` allows spells itself and its full
    twin only."""
    runs = _RUN_RE.findall(word)
    if "".join(runs) != word:
        return {word}
    options = [(r, t) if not r.isdigit() and (t := _twin(r)) else (r,) for r in runs]
    if 1 << sum(len(o) - 1 for o in options) > _MAX_LOOK_ALIKES:
        return {word, "".join(o[-1] for o in options)}
    return {"".join(p) for p in product(*options)}


def _twin(word: str) -> str | None:
    """The look-alike spelling an exact query word also matches: a Cyrillic abbreviation of up to 3
    letters typed in Latin (=КТО as «KTO»), and a designation's letters in either script (the «Х» of
    Х-101 as «X»); not a Latin word of 3 (=BMP, APC are real Latin abbreviations)."""
    if not word.isalpha() or len(word) > 3:
        return None
    twin = twin_spelling(word)
    if twin is None or (len(word) == 3 and word.isascii()):
        return None
    return twin


def _capitals(surface: str) -> bool:
    """Is a post word written in capitals, an English possessive's s aside («NATO's»)?"""
    if surface[-2:-1] in ("'", "’", "ʼ", "`") and surface[-1:] == "s":
        surface = surface[:-2]
    return surface.isupper()


def _first(occ: _Occ) -> int:
    return occ[0]


def _close(a: _Occ, b: _Occ, distance: int) -> bool:
    """At most `distance` words apart, either order (overlapping occurrences are 0 apart)."""
    return max(b[0] - a[1], a[0] - b[1], 0) <= distance


def _texts(node: Node, out: dict[int, str]) -> None:
    """Record every node's query text by id, so hits never re-render the tree."""
    out[id(node)] = to_text(node)
    if isinstance(node, Phrase):
        for w in node.words:
            out[id(w)] = to_text(node)
    elif isinstance(node, (And, Or)):
        for n in node.items:
            _texts(n, out)
    elif isinstance(node, Not):
        _texts(node.item, out)
    elif isinstance(node, Near):
        _texts(node.left, out)
        _texts(node.right, out)


def _short(query: str, limit: int = 60) -> str:
    return query if len(query) <= limit else query[: limit - 1] + "…"


def _found(doc: _Doc, node: Node) -> list[str]:
    """The terms of `node` the text has, each once."""
    return list(dict.fromkeys(to_text(n) for n in terms_of(node) if doc.eval(n) is not None))


def _hit_terms(occ: list[_Occ]) -> list[str]:
    """The terms that hit in `occ`, in the order of the text, each once: what made a node occur."""
    return list(dict.fromkeys(h.term for h in sorted((h for _, _, hs in occ for h in hs), key=lambda h: h.start)))


@dataclass
class _Miss:
    """How close a post came to a query node: the obstacles left (0: it occurs), the node's terms
    the post has, and each obstacle in words, so an OR can name the branch that came closest."""

    cost: int
    has: list[str]
    problems: list[str]


def _words(n: int) -> str:
    """«1 word», «5 words»: a NEAR's distance as `why_not` says it."""
    return f"{n} word{'s' * (n != 1)}"


def _need(node: Node) -> int:
    """The fewest terms a post without any of `node`'s must gain to have it."""
    if isinstance(node, (Word, Phrase, Url)):
        return 1
    if isinstance(node, Not):
        return 0
    if isinstance(node, Near):
        return _need(node.left) + _need(node.right)
    if isinstance(node, And):
        return sum(_need(n) for n in node.items)
    assert isinstance(node, Or)
    return min(_need(n) for n in node.items)


def _miss(doc: _Doc, node: Node, shown: int, top: bool = False) -> _Miss:
    """What keeps `node` from occurring in the post: obstacles that, all taken away, let it occur
    (a NEAR whose side fails blames that side, not its own distance; an OR, its closest branch)."""
    if doc.eval(node) is not None:
        return _Miss(0, [] if isinstance(node, Not) else _found(doc, node), [])
    if isinstance(node, (Word, Phrase, Url)):
        return _Miss(1, [], [f"lacks {to_text(node)}"])
    if isinstance(node, Not):
        return _Miss(1, [], [f"has {_short(', '.join(_hit_terms(doc.eval(node.item) or [])))}, which it excludes"])
    if isinstance(node, Near):
        left, right = _miss(doc, node.left, shown), _miss(doc, node.right, shown)
        if not left.cost and not right.cost:  # each side occurs, never close enough
            return _Miss(1, [], [f"has {', '.join(left.has[:shown])} and {', '.join(right.has[:shown])}, "
                                 f"but not within {_words(node.distance)}"])
        sides = (_found(doc, node.left), _found(doc, node.right))
        if not any(sides):
            return _Miss(_need(node), [], [f"lacks {_short(to_text(node))}"])
        for side, other, other_found, text in ((left, right, sides[1], node.right), (right, left, sides[0], node.left)):
            if not side.cost and not other_found:
                return _Miss(other.cost, [], [f"has {', '.join(side.has[:shown])} but not {_short(to_text(text))} "
                                              f"within {_words(node.distance)}"])
        return _Miss(left.cost + right.cost, list(dict.fromkeys(left.has + right.has)), left.problems + right.problems)
    if isinstance(node, And):
        parts = [_miss(doc, n, shown) for n in node.items]
        return _Miss(sum(p.cost for p in parts), list(dict.fromkeys(t for p in parts for t in p.has)),
                     [x for p in parts for x in p.problems])
    assert isinstance(node, Or)
    tried = [(_miss(doc, n, shown), len(found)) for n in node.items
             if not isinstance(n, (Word, Phrase, Url)) and (found := _found(doc, n))]
    if tried:  # the branch fewest obstacles away, then the one with most of its terms (query order on a tie)
        return min(tried, key=lambda t: (t[0].cost, -t[1]))[0]
    terms = list(dict.fromkeys(to_text(n) for n in terms_of(node)))
    if top:
        return _Miss(1, [], [f"has none of its {len(terms)} terms"])
    counted = f" ({len(terms)} terms)" if len(terms) > shown else ""
    return _Miss(1, [], [f"lacks any of {_short(', '.join(terms))}{counted}"])


def _why_not(doc: _Doc, node: Node, shown: int = 3) -> str:
    """Why `node` does not occur in the post (it does not), in one line: the terms it has, then
    each obstacle (a missing part, words too far apart, an excluded word), the rest counted."""
    miss = _miss(doc, node, shown, top=True)
    more = len(miss.problems) - shown
    return "; ".join(([f"has {', '.join(miss.has[:shown])}"] if miss.has else []) + miss.problems[:shown]
                     + ([f"and {more} more"] if more > 0 else []))


def _has_url(node: Node) -> bool:
    if isinstance(node, Url):
        return True
    if isinstance(node, (And, Or)):
        return any(_has_url(n) for n in node.items)
    if isinstance(node, Not):
        return _has_url(node.item)
    if isinstance(node, Near):
        return _has_url(node.left) or _has_url(node.right)
    return False


_PREFIX = 7
_HEAD = 4  # (3 let twice as many prefixes through to the keys, 5 a tenth fewer than 4 at more cost)


def _subsequences(word: str, k: int) -> set[_Key]:
    """SymSpell's keys: the word's first 7 letters and every (non-empty) string made by deleting
    up to k of them. Equal-length prefixes are never further apart than the words, so comparing
    prefixes finds every candidate (confirmed on whole words) at a fraction of the keys."""
    w = word[:_PREFIX]
    n = len(w)
    return set(chain.from_iterable(combinations(w, r) for r in range(max(1, n - k), n + 1)))
