"""Same-story decision for two posts: cheap fingerprints, IDF-weighted containment, time, vetoes.

A post is fingerprinted once (`fingerprint` / `fingerprint_post`): its channel footer and ad lines
are stripped, its words normalised (`bot.text.words`), stop words dropped and every word folded
to its dictionary lemma (pymorphy3, first parse, cached); its numbers are read in canonical form
(«5 000», «5 тыс.» and «5 тысяч» are all 5000). `similarity` is the larger of two IDF-weighted
containments: the lighter post's words inside the heavier post, and either post's headline (first
line) inside the other post. `same_story` (DEFAULT_RULE) accepts a pair when

* the normalised stripped texts are identical (exact hash), or
* the similarity reaches `near + slope * ln(1 + gap hours)` (0.2 at the same time, 0.34 an hour
  apart, 0.68 at 10 h, 0.84 at 24 h, 0.97 at 47 h) and, when the posts are more than
  `window_hours` (18 h) apart, both state the same numbers (the next day's exchange rates, tally or
  digest repeats yesterday's words with new figures: another event),

unless the two differ only in proper nouns and numbers (`template_pair`: one template filled
with two events). Thin evidence counts less (`similarity`): one shared word is no similarity, two
count only as `mutual` (each post's share of them, the smaller), so a one-word meme or a
subscriber-milestone post is not "contained" in every post that says its word. A `Rule` without
`slope` and `agree_hours` has the older shape (a fixed `near` within `window_hours`; beyond it only
a `dup` similarity with no new number in the shorter post).

On the 260 labelled pairs (tests/data/story_pairs.csv, bench/stories_quality.py) DEFAULT_RULE
scores P 0.85 R 0.79 F1 0.82 on the whole set (P 0.84 R 0.82 F1 0.83 before thin evidence
counted less: the recall lost is captions and rewordings sharing one or two words; the older shape
at its best then: 0.75 / 0.85 / 0.80);
tuned on one half and scored on the other, F1 0.80 (older shape 0.76). Two careful readers agree
with each other at F1 0.94 on these pairs (tests/data/story_pairs.md). What is left is mostly two
different events inside one big story posted within the hour (South Korea's martial law: declared,
parliament blocked, lifted), which share their words; and rewordings or next-day toll updates
that share few. Tried and not kept (no gain on held-out halves): word vectors (navec: pairs of two
stories are nearly as alike as pairs of one, AUC 0.63; bench/stories_quality.py --vectors), names
vetoes, a document frequency of the last hours, IDF powers, cosine, rare-word agreement, a logistic
regression over 17 pair features (F1 0.79).
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections import Counter, deque
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from typing import Callable, Collection, Hashable, Iterable, NamedTuple

from ..post import TG_LINK, TG_LINK_HINT, Post
from ..text import WORD_RE, find_words, normalize_word, strip_urls, words

__all__ = [
    "STOP_WORDS",
    "DocumentFrequency",
    "idf_weights",
    "Fingerprint",
    "Rule",
    "DEFAULT_RULE",
    "strip_boilerplate",
    "Body",
    "body_lines",
    "fingerprint",
    "fingerprint_post",
    "similarity",
    "mutual",
    "MIN_SHARED",
    "same_story",
    "story_score",
    "fold_lemma",
    "fold_prefix",
    "fold_stemmer",
    "new_numbers",
    "template_pair",
    "gap_hours",
    "CandidateIndex",
    "RARE_KEYS",
]

# --- boilerplate -----------------------------------------------------------------------------

# A footer line: a call to subscribe / send news / read elsewhere, an ad marker, a "mirror" link
# label. Matched on the case-folded line, and only on lines of at most _FOOTER_MAX_WORDS words
# (so «Путин подписал закон …» as a last line is content). Every alternative starts with a letter,
# so `re` skips from one candidate letter to the next in C: the word boundary before a word is
# checked after its first letter, «р(?<!\wр)» being «\bр».
_FOOTER_RE = re.compile(
    r"п(?:(?<!\wп)одпи(?:саться|сывайся|сывайтесь|шись|шитесь)\b|рислать новост|редложить новост)|"
    r"читать нас|без vpn|наш канал|р(?<!\wр)еклама\b|e(?<!\we)rid\b|з(?<!\wз)еркало\b"
)
_FOOTER_MAX_WORDS = 12
# Words that never carry a story on their own (a line of only these is a label, not content).
_LABEL_WORDS = frozenset("читать статью зеркало источник подробнее смотреть ссылка на github гайд далее полностью".split())
_LEAD_MARK_RE = re.compile(r"^[\W_]+", re.UNICODE)
_TAG_RE = re.compile(r"[@#][^\W_]\w*")
_BOT_RE = re.compile(r"@\w+bot\b")
_TRAIL_MENTION_RE = re.compile(r"(?:\s*(?:@[A-Za-z0-9_]{4,}|#[^\W_][\w]*))+\s*$")


def _is_footer(line: str) -> bool:
    """Is this (stripped, non-empty) line a signature, an ad marker or a bare link/label?"""
    low = line.casefold().replace("ё", "е")
    low_nolink = strip_urls(low)
    if "@" in low_nolink or "#" in low_nolink:
        low_nolink = _TAG_RE.sub(" ", low_nolink)
    ws = find_words(low_nolink)
    if not ws:  # only links, mentions, hashtags, emoji or punctuation
        return True
    if len(ws) <= _FOOTER_MAX_WORDS and _FOOTER_RE.search(low):
        return True
    return len(ws) <= 3 and all(w in _LABEL_WORDS for w in ws)


def _has_link(text: str) -> bool:
    """Does `_LINK_RE` find a link? (Most lines lack what every link holds: asked first.)"""
    return _LINK_HINT_RE.search(text) is not None and _LINK_RE.search(text) is not None


def _is_link_call(line: str) -> bool:
    """Is this last line a short call with a link or a bot: an ad («Быстрый VPN … t.me/…_bot»), a
    «read more: https://…»? Two posts sharing such a line share an advertiser, not a story."""
    low = line.casefold()
    if not (_has_link(low) or _BOT_RE.search(low)):
        return False
    return len(find_words(strip_urls(low))) <= _FOOTER_MAX_WORDS


def strip_boilerplate(text: str) -> str:
    """The post without its channel signature, footer, ad lines and leading ⚡️/❗️ markers.

    Trailing lines are dropped while they look like footers (subscribe / send-news calls, "read
    the article", mirrors, links, mentions and hashtags only); then one more last line if it is a
    short call with a link or a bot (an ad: «Быстрый VPN … t.me/…_bot», «Подробнее: https://…»),
    when another line is left; a trailing @channel mention is cut from the last line; leading
    emoji and punctuation are cut from the first line. Never returns more text than it got.
    """
    return "\n".join(body_lines(text).kept).strip()


class Body(NamedTuple):
    """`strip_boilerplate` before its lines are joined and stripped of white space."""

    lines: list[str]  # the text's lines (`text.split("\\n")`)
    start: int  # the index among them of the first line kept
    kept: list[str]  # the lines kept: the text's, but the first and the last may be cut


def body_lines(text: str) -> Body:
    """The lines `strip_boilerplate` keeps, and where they stand in the text: a caller that read the
    text's lines already reads all but the first and the last as they are."""
    lines = text.split("\n")
    end = len(lines)
    while end and (not lines[end - 1].strip() or _is_footer(lines[end - 1].strip())):
        end -= 1
    start = 0
    while start < end and not lines[start].strip():
        start += 1
    if start == end:
        return Body(lines, 0, [])
    if end - start > 1 and _is_link_call(lines[end - 1]):
        end -= 1  # one promo line with its link (an ad, «Подробнее здесь: …»): never a whole digest
    kept = lines[start:end]
    last = kept[-1]
    if "@" in last or "#" in last:
        cut = _TRAIL_MENTION_RE.sub("", last)
        if cut.strip():
            kept[-1] = cut
    if m := _LEAD_MARK_RE.match(kept[0]):
        kept[0] = kept[0][m.end():]
    return Body(lines, start, kept)


# --- folding -----------------------------------------------------------------------------------

# Function words and reporting verbs: frequent in every story, never what tells two stories apart.
STOP_WORDS = frozenset(
    """
    а в во и или но да не ни на по под при про для до от из к ко с со у о об обо за над перед через
    без между что чтобы как так также тоже это этот эта эти этих этом эту тот та те то того тем том
    же ли бы вот уже еще был была были было будет будут быть есть его ее их им ими ему ей он она
    они оно мы вы я ты нас вас нам вам себя свой своя свои своих который которая которые которых
    которого которой где когда если чем все всех весь вся более менее очень после около только
    даже сейчас теперь пока ранее там тут здесь может могут можно нет него нее ним них
    сообщил сообщила сообщили сообщает сообщают заявил заявила заявили заявляет передает
    пишет пишут данным сми также ещё
    срочно молния подробности позже уточняются
    """.split()
)

Fold = Callable[[str], str]


@lru_cache(maxsize=1 << 17)
def fold_lemma(word: str) -> str:
    """The first pymorphy3 parse's normal form (ё folded); words it cannot help stay as they are."""
    if word.isascii() or len(word) <= 2:
        return word
    from ..match.morph import default_morphology

    return default_morphology().lemma(word)


def fold_prefix(word: str) -> str:
    """The crude fold: the first six letters."""
    return word[:6]


def fold_stemmer() -> Fold:
    """Snowball Russian stemmer (PyStemmer), cached; ImportError when PyStemmer is not installed."""
    import Stemmer  # type: ignore[import-not-found]  # (optional, and ships no types)

    stemmer = Stemmer.Stemmer("russian")
    return lru_cache(maxsize=1 << 17)(stemmer.stemWord)


# --- document frequency ------------------------------------------------------------------------


class DocumentFrequency:
    """Word document frequencies, updated as posts arrive; gives IDF weights.

    Memory is one counter entry per distinct folded word. When `max_docs` documents have been
    added, every count is halved so old posts fade (cheap exponential forgetting).
    """

    def __init__(self, max_docs: int = 200_000) -> None:
        self.counts: Counter[str] = Counter()
        self.docs = 0
        self.max_docs = max_docs

    def add(self, terms: Iterable[str]) -> None:
        """Count one document's distinct terms."""
        self.counts.update(terms if isinstance(terms, (set, frozenset)) else set(terms))
        self.docs += 1
        if self.docs >= self.max_docs:
            self.counts = Counter({t: c // 2 for t, c in self.counts.items() if c >= 2})
            self.docs //= 2

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency, at least 1 (1 for every word before any post)."""
        return math.log((self.docs + 1) / (self.counts.get(term, 0) + 1)) + 1.0 if self.docs else 1.0

    def weights(self, terms: Collection[str]) -> dict[str, float]:
        """`idf` of every term, in one pass."""
        return idf_weights(self.docs, terms, map(self.counts.get, terms, repeat(0)))

    def __len__(self) -> int:
        return self.docs


def idf_weights(docs: int, terms: Iterable[str], counts: Iterable[int]) -> dict[str, float]:
    """`DocumentFrequency.idf` of each term from `docs` and the term's count (in the same order): the
    weights of a frequency as it was, from what was noted of it (`StoryIndex` weighs a post so)."""
    if not docs:
        return dict.fromkeys(terms, 1.0)
    top, log = docs + 1, math.log
    return {t: log(top / (c + 1)) + 1.0 for t, c in zip(terms, counts)}


# --- fingerprint -------------------------------------------------------------------------------

# (Starting with a bare `\d` lets `re` skip to the next digit in C: «\d(?:\d{0,2}…|\d*…)» is
# «\d{1,3}…|\d+…» with the first digit taken out. Case is ignored only where it can matter.)
_NUM_RE = re.compile(
    r"(\d(?:\d{0,2}(?:[ \u00a0]\d{3})+(?![\d,.])|\d*(?:[.,]\d+)?))"
    r"(?:[ \u00a0]?((?i:тыс(?:яч[а-я]{0,3})?|млн|млрд|трлн|(?:миллион|миллиард|триллион)[а-я]{0,3}))(?![^\W\d_]))?"
)
_SCALES = {"тыс": 1e3, "млн": 1e6, "мил": 1e6, "млр": 1e9, "трл": 1e12, "три": 1e12}
# A link: every match runs to the end of its run of non-spaces. The second form is tried only where
# a run starts (a «\S+» that starts inside the run matches from its start just as well): tried at
# every character it made each run cost its length squared.
_LINK_RE = re.compile(
    rf"(?:https?://|www\.|{TG_LINK})\S+|(?<!\S)\S+\.(?:ru|com|org|net|me|io|info)/\S*", re.IGNORECASE
)
# What every _LINK_RE match holds («://», «www.», «.ru/», a Telegram link's «.me/» or «.dog/»), found in
# one cheap search: it starts at the «:» or «.», so `re` skips from one to the next in C (the lookbehind
# looks back at «www.»), where _LINK_RE tries every character.
_LINK_HINT_RE = re.compile(rf"://|\.(?:(?<=www\.)|(?:ru|com|org|net|me|io|info)/|{TG_LINK_HINT})", re.IGNORECASE)
# A capitalised word (from the first capital of its alphanumeric run on), or a sentence end with the
# capitalised word that starts the sentence and what lies between (no letter, digit or sentence
# end: «[^\w.!?…\n]» and `_`, which `\w` holds). One character class first lets `re` skip to the
# next capital or sentence end in C; the lookbehind after it tells which of the two it found.
_CAPS = "A-ZА-ЯЁІЇЄҐ"
_NAME_OR_START_RE = re.compile(
    rf"[.!?…\n{_CAPS}](?:(?<=[.!?…\n])[^\w.!?…\n]*(?:_[^\w.!?…\n]*)*[{_CAPS}]|(?<=[{_CAPS}]))[^\W_]*"
)
_SENT_END = frozenset(".!?…\n")
RARE_KEYS = 16  # how many of a post's heaviest words a Fingerprint keeps for candidate indexes


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What `same_story` needs of a post, computed once.

    weights: folded content word -> IDF weight at fingerprint time; terms: its keys; total: the
    weights' sum.
    lead: folded words of the headline (first line); lead_total: their weight.
    rare: the heaviest words, heaviest first (for candidate indexes).
    numbers: canonical numbers («5 000» -> 5000, «106,3» -> 106.3).
    names: folded capitalised words that do not start a sentence (proper nouns, acronyms).
    exact: digest of the normalised stripped text. shingles: 32-bit hashes of the folded word
    3-grams (built from crc32, stable across processes), ready for MinHash / LSH.
    when: post time (Unix seconds) or None.
    """

    weights: dict[str, float]
    terms: frozenset[str]
    total: float
    lead: frozenset[str]
    lead_total: float
    rare: tuple[str, ...]
    numbers: frozenset[str]
    names: frozenset[str]
    exact: str
    shingles: frozenset[int]
    when: float | None = None


def _canon_number(raw: str) -> str:
    """«5 000» -> «5000», «106,30» -> «106.3», «007» -> «7»."""
    s = raw.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s.lstrip("0") or "0"


@lru_cache(maxsize=1 << 17)
def _word_hash(word: str) -> int:
    """crc32 of one folded word (cached: words repeat)."""
    return zlib.crc32(word.encode())


def _shingles(seq: list[str]) -> frozenset[int]:
    """32-bit hashes of the word 3-grams (one for a shorter text): stable across processes."""
    if not seq:
        return frozenset()
    h = [_word_hash(w) for w in seq]
    if len(h) < 3:
        h += [0] * (3 - len(h))
    return frozenset(
        ((x * 0x9E3779B1) ^ (y * 0x85EBCA77) ^ (z * 0xC2B2AE3D)) & 0xFFFFFFFF for x, y, z in zip(h, h[1:], h[2:])
    )


def _content(ws: Iterable[str], fold: Fold) -> list[str]:
    """Folded content words: stop words, one-letter words and bare digits left out."""
    return [fold(w) for w in ws if len(w) > 1 and w not in STOP_WORDS and not w.isdigit()]


def _scaled(raw: str, scale: str) -> str:
    """«4,8» «тысячи» -> «4800»; «20» «млн» -> «20000000» (canonical, as `_canon_number`)."""
    word = scale.casefold()
    key = "млр" if word.startswith("миллиард") else word[:3]
    value = float(raw.replace(" ", "").replace("\u00a0", "").replace(",", ".")) * _SCALES[key]
    return _canon_number(f"{value:.6f}") if math.isfinite(value) else _canon_number(raw)


def numbers_in(body: str) -> frozenset[str]:
    """The numbers a text states (canonical form), not counting those inside links.

    A number followed by «тыс.» / «тысяч», «млн» / «миллион», «млрд» / «миллиард» or «трлн» is
    scaled: «20 тысяч» and «20 000» are the same number.
    """
    if "/" in body and _LINK_HINT_RE.search(body):
        body = _LINK_RE.sub(" ", body)
    return frozenset(_scaled(m[1], m[2]) if m[2] else _canon_number(m[1]) for m in _NUM_RE.finditer(body))


def text_digest(ws: list[str]) -> str:
    """A short hash of a text's normalised words: equal for copies of the same text."""
    return hashlib.blake2b(" ".join(ws).encode(), digest_size=8).hexdigest()


def names_in(body: str, fold: Fold) -> set[str]:
    """Folded capitalised words not at the start of a sentence (or of the text)."""
    # (the line break put first makes the text's first word start a sentence)
    found = {w for w in _NAME_OR_START_RE.findall("\n" + body) if w[0] not in _SENT_END}
    out: set[str] = set()
    for w in found:  # each distinct name folded once
        out.update(_name_terms(w, fold))
    return out


# A word of basic Latin or of Russian Cyrillic letters only: `normalize` of it is its case fold, ё
# made е (nothing for NFKC to do, one script: no look-alike to fold)
_ONE_SCRIPT_RE = re.compile("[A-Za-z]+|[А-Яа-яЁё]+")


@lru_cache(maxsize=1 << 16)
def _name_terms(name: str, fold: Fold) -> tuple[str, ...]:
    """A capitalised word's folded content words (cached: names repeat from post to post). Most are
    of one alphabet, folded without `normalize` (half the time of a name first seen)."""
    if _ONE_SCRIPT_RE.fullmatch(name):
        return tuple(_content([name.casefold().replace("ё", "е")], fold))
    return tuple(_content(WORD_RE.findall(normalize_word(name)), fold))


def fingerprint(
    text: str,
    df: DocumentFrequency | None = None,
    *,
    when: float | None = None,
    fold: Fold = fold_lemma,
    stripped: bool = False,
) -> Fingerprint:
    """Fingerprint one post text (stripped of boilerplate first unless `stripped`).

    With `df`, words are weighted by IDF; without, every word weighs 1.
    """
    body = text if stripped else strip_boilerplate(text)
    ws = words(body)
    seq = _content(ws, fold)
    nl = body.find("\n")
    # the headline's words: as many of `ws` as the raw first line has words (cheaper than
    # normalising it again; a disguised word may shift the cut by a word)
    lead = frozenset(_content(ws[: len(WORD_RE.findall(body[:nl]))], fold)) if nl >= 0 else frozenset(seq)
    idf: Callable[[str], float] = df.idf if df is not None else (lambda _t: 1.0)
    weights = {t: idf(t) for t in seq}
    rare = tuple(sorted(weights, key=lambda t: (-weights[t], t))[:RARE_KEYS])
    numbers = numbers_in(body)
    exact = text_digest(ws)
    return Fingerprint(
        weights=weights,
        terms=frozenset(weights),
        total=math.fsum(weights.values()),
        lead=lead,
        lead_total=math.fsum([weights[t] for t in lead]),
        rare=rare,
        numbers=numbers,
        names=frozenset(names_in(body, fold) & weights.keys()),
        exact=exact,
        shingles=_shingles(seq),
        when=when,
    )


def fingerprint_post(post: Post, df: DocumentFrequency | None = None, *, fold: Fold = fold_lemma) -> Fingerprint:
    """`fingerprint` of a Post's text, timed at the post's date."""
    return fingerprint(post.text, df, when=post.date.timestamp(), fold=fold)


# --- decision ----------------------------------------------------------------------------------

# Thin evidence (`similarity`). Containment is one-sided: a short post is "contained" in every
# post that happens to hold its few words. One shared word is chance (a one-line caption or meme,
# «Работает 100%», a milestone «2 500 000 подписчиков!», is inside every post saying «работает» or
# «подписал»: on the corpus such posts gathered a dozen unrelated posts each), so it is no
# similarity at all; two shared words count only as far as they make up both posts (two short
# rewordings), not when a long post holds a short post's two words. Exact copies are not affected.
MIN_SHARED = 2
MUTUAL_BELOW = 3


def mutual(a: Fingerprint, b: Fingerprint, common: frozenset[str] | None = None) -> float:
    """0..1: the smaller of the two posts' IDF-weighted shares of words they share (how much each
    post is of the other, both ways: 1 for a near copy, low when a short post is merely contained
    in a long one). `common`: `a.terms & b.terms` when the caller has it already."""
    if common is None:
        common = a.terms & b.terms
    if not common or a.total <= 0 or b.total <= 0:
        return 0.0
    fsum = math.fsum  # (of a C-level map, as `similarity`)
    return min(fsum(map(a.weights.__getitem__, common)) / a.total, fsum(map(b.weights.__getitem__, common)) / b.total)


def similarity(a: Fingerprint, b: Fingerprint, common: frozenset[str] | None = None) -> float:
    """0..1: max(containment of the lighter post in the heavier, headline of either in the other).

    Containment is IDF-weighted: the weight share of one side's words that the other side has.
    Thin evidence counts less: fewer than `MIN_SHARED` shared words give 0, fewer than
    `MUTUAL_BELOW` give only `mutual` (each post's share, the smaller). `common`: `a.terms &
    b.terms` when the caller has it already.
    """
    if common is None:
        common = a.terms & b.terms
    if len(common) < MIN_SHARED:
        return 0.0
    if len(common) < MUTUAL_BELOW:
        return mutual(a, b, common)
    light = a if a.total <= b.total else b
    fsum = math.fsum  # (of a C-level map: no list built, no comprehension run)
    best = fsum(map(light.weights.__getitem__, common)) / light.total
    if a.lead_total > 0:
        best = max(best, fsum(map(a.weights.__getitem__, a.lead & common)) / a.lead_total)
    if b.lead_total > 0:
        best = max(best, fsum(map(b.weights.__getitem__, b.lead & common)) / b.lead_total)
    return best


@dataclass(frozen=True, slots=True)
class Rule:
    """Thresholds of `same_story` (hours and similarity).

    The near path asks for similarity `near + slope * ln(1 + gap hours)`: the farther apart two
    posts, the more alike they must be. Posts at most `window_hours` apart need only that; posts
    farther apart (up to `agree_hours`) must also state the same numbers (tomorrow's exchange
    rates, tally or digest reuse yesterday's words with new figures). The dup path accepts a
    similarity of `dup` at any gap up to `max_gap_hours` when the shorter post has no number the
    longer lacks. The defaults of `slope` and `agree_hours` (0) give the older rule: a fixed
    threshold inside the window and nothing beyond it but the dup path.
    """

    near: float = 0.3  # similarity for posts at the same time
    window_hours: float = 12.0
    dup: float = 0.85  # similarity for a repost at any gap up to `max_gap_hours`
    max_gap_hours: float = 48.0
    slope: float = 0.0  # the near threshold grows by slope * ln(1 + gap hours)
    agree_hours: float = 0.0  # beyond window_hours, posts up to this far apart with equal numbers


# Chosen on tests/data/story_pairs.csv (bench/stories_quality.py): 4 numbers tuned (near, slope,
# window_hours, dup); agree_hours is max_gap_hours. A dup above 1 turns the dup path off: the
# sloped near path with the numbers check already takes near-copies up to 48 h.
DEFAULT_RULE = Rule(near=0.2, slope=0.2, window_hours=18.0, agree_hours=48.0, dup=1.01)


def new_numbers(a: Fingerprint, b: Fingerprint) -> bool:
    """Does the shorter post have a number the longer lacks?"""
    light, heavy = (a, b) if a.total <= b.total else (b, a)
    return bool(light.numbers - heavy.numbers)


def template_pair(a: Fingerprint, b: Fingerprint) -> bool:
    """Do the posts differ only in proper nouns and numbers, each side in some?

    That is one template filled twice («Доллар выше 105 рублей» / «… 108 рублей», «Склад горит
    в Подольске» / «… в Казани»): two events, however similar the words.
    """
    a_only = a.terms - b.terms
    if not a_only <= a.names:  # (the common answer, found before the other side's words are taken)
        return False
    b_only = b.terms - a.terms
    if not b_only <= b.names:
        return False
    return bool((a_only or a.numbers - b.numbers) and (b_only or b.numbers - a.numbers))


def gap_hours(a: Fingerprint, b: Fingerprint) -> float:
    """Hours between the posts (0 when either time is unknown)."""
    if a.when is None or b.when is None:
        return 0.0
    return abs(a.when - b.when) / 3600.0


def story_score(a: Fingerprint, b: Fingerprint, rule: Rule = DEFAULT_RULE,
                common: frozenset[str] | None = None) -> float | None:
    """The similarity when `same_story` accepts the pair (1.0 for an exact copy), else None.
    `common`: `a.terms & b.terms` when the caller has it already."""
    gap = gap_hours(a, b)
    if gap > rule.max_gap_hours:
        return None
    if a.exact == b.exact and a.terms:
        return 1.0
    s = similarity(a, b, common)
    if s < min(rule.near, rule.dup) or template_pair(a, b):
        return None
    if s >= rule.near + rule.slope * math.log1p(gap) and (
        gap <= rule.window_hours or (gap <= rule.agree_hours and a.numbers == b.numbers)
    ):
        return s
    if s >= rule.dup and not new_numbers(a, b):
        return s
    return None


def same_story(a: Fingerprint, b: Fingerprint, rule: Rule = DEFAULT_RULE) -> bool:
    """Are these two posts the same news story? (See the module docstring for the rule.)"""
    return story_score(a, b, rule) is not None


# --- candidate index ---------------------------------------------------------------------------


class CandidateIndex:
    """Finds earlier same-story posts without comparing against the whole window.

    Each post is filed under its `post_keys` heaviest (rarest) words; a new post looks up its own
    `query_keys` heaviest words and is compared, with `same_story`, only to the posts filed there
    (newest `max_postings` per word, within the rule's `max_gap_hours`: posting lists are walked
    newest first and the walk stops at the first post too old, so old posts cost nothing).
    """

    def __init__(self, rule: Rule = DEFAULT_RULE, post_keys: int = 8, query_keys: int = RARE_KEYS,
                 max_postings: int = 256) -> None:
        self.rule = rule
        self.post_keys = post_keys
        self.query_keys = query_keys
        self.max_postings = max_postings
        self.postings: dict[str, deque[tuple[float, Hashable]]] = {}
        self.prints: dict[Hashable, Fingerprint] = {}

    def add(self, key: Hashable, fp: Fingerprint) -> None:
        """Index one post under `key` (posts are expected to arrive roughly in time order)."""
        self.prints[key] = fp
        when = fp.when if fp.when is not None else math.inf
        for t in fp.rare[: self.post_keys]:
            q = self.postings.get(t)
            if q is None:
                q = self.postings[t] = deque(maxlen=self.max_postings)
            q.append((when, key))

    def candidates(self, fp: Fingerprint) -> set[Hashable]:
        """Indexed posts sharing a key word with `fp`, within the rule's time window."""
        out: set[Hashable] = set()
        postings = self.postings
        if fp.when is None:
            lo, hi = -math.inf, math.inf
        else:
            limit = self.rule.max_gap_hours * 3600.0
            lo, hi = fp.when - limit, fp.when + limit
        for t in fp.rare[: self.query_keys]:
            q = postings.get(t)
            if not q:
                continue
            for when, key in reversed(q):  # newest first: stop at the first one too old
                if when < lo:
                    break
                if when <= hi or when == math.inf:
                    out.add(key)
        prints = self.prints
        return {k for k in out if k in prints}

    def match(self, fp: Fingerprint) -> list[Hashable]:
        """Indexed posts that are the same story as `fp`, most similar first."""
        prints, rule = self.prints, self.rule
        hits: list[tuple[float, Hashable]] = []
        for k in self.candidates(fp):
            s = story_score(fp, prints[k], rule)
            if s is not None:
                hits.append((s, k))
        hits.sort(key=lambda h: -h[0])
        return [k for _, k in hits]

    def forget_before(self, when: float) -> int:
        """Drop every post timed before `when` (Unix seconds); returns how many."""
        old = [k for k, p in self.prints.items() if p.when is not None and p.when < when]
        for k in old:
            del self.prints[k]
        return len(old)

    def __len__(self) -> int:
        return len(self.prints)
