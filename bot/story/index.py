"""StoryIndex: which story a new post joins, conservatively (a false merge hides an event's alert).

A post joins an earlier story when
  (a) it forwards a stored post (forward channel id + post id): the original's story, any age; or
      stored posts forward it (or its original): theirs, so an original read after its forwards
      (the reposting channel's export replayed first) joins them and alerts nothing twice;
  (b) its normalised, boilerplate-stripped text is identical (at least `MIN_EXACT_WORDS` words) to a
      post within the window;
  (c) `similar.story_score` accepts it against a post within the window that came within
      `REACH_HOURS` (8) of its story's first post (a story's later posts chain nothing to it), at
      the high-precision operating point `PRECISE_RULE`. Candidates come from an inverted index:
      every post is filed under its `post_keys` rarest folded words (six-letter prefixes, rarity
      from a running document frequency), a new post looks up the `query_keys` rarest of its words that some post
      is filed under (newest `max_postings` posts per word, at most `max_checks` posts in all,
      rarest word first: the work per post is bounded however full the window). A long post's
      rarest words are its own details, seldom a short flash's: so a short post (at most
      `top_max_terms` words) is also filed, in a second index, under its `top_keys` rarest words,
      and a new post looks that index up under all its words (at most `top_checks` posts): a
      roundup finds the flashes it contains. A cheap word-set overlap drops most candidates
      before the fingerprints are compared. Of the accepted candidates the post joins the one most
      alike both ways (`similar.mutual`: each post's weight share of the shared words, the
      smaller), not the one with the highest one-sided score: a short post held whole in many
      posts (a hub) scores 1.0 one-sided against all of them. The first candidate that reaches
      `settle` (0.95) both ways ends the search: a near copy joins the story it copies without the
      rest being scored (in the 100k window of reworded copies a post costs 0.6 of a full search).
A post with fewer than `similar.MIN_SHARED` (2) content words can share no more than one word with
any post, which is no evidence (`similar.similarity`): it takes no near path and is filed in
neither index, so it can neither join nor gather a story by similarity (a forward or an exact copy
still joins it).

Thin evidence and hubs (found on the corpus, 2026-11-28): a one-word meme caption («Работает
100%») had gathered 25 posts of 12 channels that merely said «работает» (18 by the `tops` index,
one shared word each, score 1.0: the post held whole), a subscriber-milestone post («2 500 000
подписчиков!») 25 posts of 10 channels by «подписал»; of 4,955 near joins 86 rested on one shared
word and 117 on two, nearly all of them false. Now one shared word is no similarity, two count
only both ways, the hub no longer wins the choice, and a short call-with-a-link last line (an ad)
is boilerplate. Stories of >= 5 posts from >= 5 channels: 231 -> 216; of the 30 largest, 5 folded
in an unrelated event before, 1 after (three coffee-price posts in a dollar-rate story, joined by a
template headline, as before).
Reach (2026-11-30): a post joined a story through any one of its posts, so an ongoing situation
chained day to day (two days of dollar rates with the minister's statement between; Georgia's EU
decision with three nights of protests), and a new development joining a days-old story only
updated an alert days old. Now a story's posts after its first `REACH_HOURS` are held (found by a
forward, an exact copy) and filed, but a near join's search passes over them (`_collect`), judged
from the story's first post as it is then (`starts`): an earlier post read late (a polled channel,
a file read after another) moves the reach back for the posts already filed, as a restart reads
them (judged when filed, a post at 12 h of a story begun at 6 h stayed in reach when a 0 h post
joined, until a restart: one run and a restart folded apart). On the corpus: the "index" row 0.839 / 0.600
/ 0.700 -> 0.857 / 0.600 / 0.706; of the 743 posts of the 30 largest stories 69 came over 24 h
after their story's first post, of 700 now 5; the same 194 alerts; split at 9,500 or 15,000, two
runs still fold as one (a stored post comes back with its story's first date). 2, 4 and 12 h, or a
bound on the joining post's own age (24, 36, 48 h), measured no better (bench/stories_quality.py,
"reach").
Otherwise it starts a new story. The index lives in memory, holds the posts of the last
`window_hours` (measured from the newest post seen) and is rebuilt lazily from the store when the
first post arrives, so a second process run folds into stories stored earlier. Its word counts (the
rarities that pick a post's keys) are saved in the store (`save_words`) and come back with it, with
the posts stored since counted again: a restart ranks words as one long run would. Rebuilt from the
window alone, the corpus replayed in two runs (split at post 9,500) folded 307 story sets
differently from one run; with the counts kept, 40. The rest came from words whose every post had
left the window: they took query keys from the words that could still find a candidate in one long
run, but not after a restart (none filed). They take none now: split at 9,500 or 15,000 the two
runs fold exactly as one (16,080 stories; 16,118 before, the 38 more joins read right: a magnetic
storm, a court case, a Telegram feature, each reported by two or three channels). Not at every
split point: stopped after batch 35 (17,500 posts), one post of the rest joins the other of two
alike ceasefire stories (2026-11-29).
A post is filed (its keys) and weighed (its fingerprint) by the word counts of when it comes, once.
A restart filed and weighed the window's posts again by the counts of the restart: a word grown
common since left a post's keys and a rarer one came in, so a later post found it in one run only
(the live service, stopped and started, folded posts apart from a replay of them in the order it
met them: test_live_vs_replay's slice, with a looser rule, 3 posts). It now takes back from the
counts every post counted since, and files and weighs each as the run that met it
(`_hold_as_counted`). A post was weighed when first compared, which a restart cannot tell: it is
weighed by the counts of when it came now, noted then (`_note_counts`; the corpus in one run: 5
story sets of 11 posts differ, a reworded pair split, one more post joins a story of four, a
story's four posts grouped 3 + 1, not 2 + 2; 2,928 stories of 2+ posts, 2,930 before; 16,107 in
all, the same 194 alerts, the "index" row unchanged; split at 9,500, 15,000 or 17,500 it folds as
one run, as before; 2026-11-30).
What a restart cannot give back is a post edited since it came: the store keeps its last text
only, so its first text, which a later post can still join in one run, is gone, and the counts
taken back are its last text's. A run files and weighs the edit by the counts of when the edit
came: a restart files a post a later batch edited by its own, the nearest it knows (filed by
those of when the post first came, the flash of test_live_vs_replay, edited into the full report
before a restart, folded 3 posts apart from the replay with the shipped rule too). Which posts a
later batch edited the store marks (`posts.edited_after`, a posts rowid, no clock): told by
`updated_at > first_seen`, whole seconds, an edit stored in its post's second was missed under
load, and the restarted service folded apart from the replay now and then (2026-11-30).
Exports read one at a time (each channel's as it arrives): a post read after later posts of an
earlier run was accepted both by an earlier story and by a later one that one run, in date order,
had not met yet, and took whichever was more alike: replayed channel 2 first, the sample's Krasnodar
story fell 3 + 3 and alerted `regiment` twice. A near join now searches the posts not later than the
post first, as one run met them, and the later ones only when none of those accepts it (`_near`).
What is left: a post read late is filed and weighed by counts that hold the later posts of the runs
before (one run's did not), so it can miss a candidate one run finds (channel 3 first, 48217 misses
18737); and a later story is not folded into the earlier one the late post joined (in one run it
had joined that post). The corpus, 24 exports one at a time: 16,275 stories, 2,943 of 2+ posts, 197
alerts (16,285 / 2,953 / 196 before; one run 16,107 / 2,928 / 194, unchanged; 2026-11-30).

PRECISE_RULE (the similarity needed grows with the gap; beyond 8 h the numbers must agree), with
the prefix fold and a document frequency of the whole corpus in date order, on
tests/data/story_pairs.csv (hard cases both ways), pair by pair: precision 0.94, recall 0.62
(`similar.DEFAULT_RULE` on the same fingerprints: 0.86 / 0.73). What analysts see is lower: after
a replay of the corpus, two posts of a pair share a story with precision 0.86, recall 0.60 (0.83
before the reach; below, the figures are from before it)
(bench/stories_quality.py, "index" row; 0.827 / 0.623 before thin evidence and hubs were dealt
with: the milestone hub had then split the South Korea martial-law posts in two by chance, which
the labels, counting declared / lifted as two events, rewarded): a story grows by chains.
Candidates are not what is lost: comparing every post of the window gives 0.80 / 0.65. Before the labels' review the row
read 0.82 / 0.68 (0.81 / 0.65 without the second index, 0.79 / 0.62 with 10/8 keys; 16/12 and
20/12 keys reach the same recall less precisely). Folding two stories into one when a post is
accepted by both would have raised recall to 0.79 but cost precision (0.76), on those labels:
ongoing events (a night of protests, a day of exchange rates) fuse, so it is not done.
"""

from __future__ import annotations

import math
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator
from itertools import chain, repeat
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

from ..post import Post
from ..store.db import Store
from ..text import rough_head_words, rough_lines
from .similar import (
    MIN_SHARED,
    STOP_WORDS,
    Body,
    DocumentFrequency,
    Fingerprint,
    Rule,
    fold_prefix,
    idf_weights,
    mutual,
    names_in,
    numbers_in,
    body_lines,
    story_score,
    text_digest,
)

__all__ = ["StoryIndex", "PRECISE_RULE", "MIN_EXACT_WORDS", "REACH_HOURS", "Prepared", "prepare"]

PRECISE_RULE = Rule(near=0.39, slope=0.15, window_hours=8.0, agree_hours=48.0, dup=1.01, max_gap_hours=48.0)
MIN_EXACT_WORDS = 4  # an identical text shorter than this («Видео», «Срочно») is no evidence
REACH_HOURS = 8.0  # a story is joined by similarity only through its posts of its first hours (no chain off a late one)
_PREFILTER = 0.3  # unweighted overlap of the smaller word set below which no fingerprint is built


class Prepared(NamedTuple):
    """What the story step needs of a post's text, computed once (`prepare`)."""

    terms: frozenset[str]  # folded content words
    digest: str | None  # exact-copy digest, None when too short to be evidence
    lead: frozenset[str]  # folded content words of the headline (first line)
    numbers: frozenset[str]
    names: frozenset[str]  # folded proper nouns among `terms`
    ordered: tuple[str, ...]  # `terms` sorted (the ties' order in `StoryIndex._by_rarity`), sorted where prepared

    def __reduce__(self) -> tuple[Callable[..., Prepared], tuple[str, str | None, str | None, str, str]]:
        """Pickled as joined strings, the words in their order (a replay worker sends one per post): a
        tenth of the time of frozensets to unpickle, the words come back as the receiver's shared
        objects, and the receiver sorts nothing again."""
        lead = None if self.lead is self.terms else _SEP.join(self.lead)
        return _unpickle, (_SEP.join(self.ordered), self.digest, lead, _SEP.join(self.numbers), _SEP.join(self.names))


_SEP = "\x00"  # never in a word or a number


def _shared(joined: str) -> tuple[str, ...]:
    """Joined words split, each the shared object `_KEYS` holds (C-level: a third of the time of a method per word)."""
    ws = joined.split(_SEP) if joined else []
    return tuple(map(_KEYS.folded.setdefault, ws, ws))


def _unpickle(terms: str, digest: str | None, lead: str | None, numbers: str, names: str) -> Prepared:
    ordered = _shared(terms)
    t = frozenset(ordered)
    return Prepared(t, digest, t if lead is None else frozenset(_shared(lead)),
                    frozenset(numbers.split(_SEP)) if numbers else frozenset(), frozenset(_shared(names)), ordered)


class _Keys(dict[str, str]):
    """Normalised word -> its folded content word (six-letter prefix), "" for a stop word, a
    one-letter word or a bare number: filled as words are met, so a post's words are folded by one
    C-level map (a third faster than folding each). The folded words are shared objects: a window of
    100k posts holds each once, not in each post, and a set lookup of a shared word ends at an
    identity test. (Posts a replay worker prepared arrive as copies, and are shared again as unpickled.)"""

    MAX = 1 << 20  # emptied when full: only the sharing is lost

    def __init__(self) -> None:
        super().__init__()
        self.folded: dict[str, str] = {}

    def __missing__(self, word: str) -> str:
        if len(self) >= self.MAX:
            self.clear()
            self.folded.clear()
        key = ""
        if len(word) > 1 and word not in STOP_WORDS and not word.isdigit():
            key = self.folded.setdefault(word[:6], word[:6])
        self[word] = key
        return key


_KEYS = _Keys()
_NOT_CONTENT = frozenset({""})


def _content(ws: list[str]) -> frozenset[str]:
    """Folded content words of normalised words: cheap (six-letter prefixes, no morphology)."""
    return frozenset(map(_KEYS.__getitem__, set(ws))) - _NOT_CONTENT


def _own_content(ws: list[str]) -> frozenset[str]:
    """`_content` folded afresh, not shared: for words that leave this process (a replay worker's, pickled
    as text). A quarter cheaper: `_KEYS` grows to 100k words, and each lookup in it waits on memory."""
    # (`_Keys.__missing__`'s test, written out: a call per word would cost a third of the gain; every
    # word tested, not a set of them: a post repeats one word in six, too few to pay for the set)
    return frozenset([w[:6] for w in ws if len(w) > 1 and w not in STOP_WORDS and not w.isdigit()])


# What, cut from before a line's first word, may have read as part of it: a letter or digit, a sign
# that made it a hashtag («#МоскваСегодня» is two words, «МоскваСегодня» one), or U+0345, a mark that
# case folding makes the letter «ι». Marks, emoji, punctuation and spaces cut from there never do.
_READS_ON_RE = re.compile(r"[^\W_]|[#@＃＠﹟﹫\u0345]")


def _body_words(body: Body, lines: list[list[str]]) -> tuple[list[str], list[str]] | None:
    """`rough_head_words` of the body from the text's `rough_lines`: a line kept whole, or the first
    with only marks cut (⚡️, «— »), is read as the text's, another cut one (or the last with white
    space `strip` takes) folded again; None when `strip` would reach past the first or last line (one
    left blank by its cut)."""
    kept, start = body.kept, body.start
    if not kept or not kept[0].strip() or not kept[-1].strip():
        return None
    n = len(kept)
    first, raw = kept[0].strip() if n == 1 else kept[0].lstrip(), body.lines[start]
    as_read = raw.endswith(first) and not _READS_ON_RE.search(raw, 0, len(raw) - len(first))
    head = lines[start] if as_read else rough_lines(first)[0]
    if n == 1:
        return head, head
    last = kept[-1].rstrip()
    tail = lines[start + n - 1] if last == body.lines[start + n - 1] else rough_lines(last)[0]
    return head, [*head, *chain.from_iterable(lines[start + 1:start + n - 1]), *tail]


def prepare(text: str, shared: bool = True, lines: list[list[str]] | None = None) -> Prepared:
    """The part of `StoryIndex.assign` that depends on the text alone (so another process can do
    it): boilerplate stripped, words folded (six-letter prefixes, no morphology), headline,
    numbers and names picked out. `shared=False`: the words are not this process's shared objects
    (`_KEYS`), as a worker's need not be (equal, just cheaper to make). `lines`: `rough_lines(text)`,
    when the caller folded the text already (the worker's matcher reads them too)."""
    parts = body_lines(text)
    body = "\n".join(parts.kept).strip()
    hw = None if lines is None else _body_words(parts, lines)
    head, ws = rough_head_words(body) if hw is None else hw
    content = _content if shared else _own_content
    terms = content(ws)
    return Prepared(
        terms=terms,
        digest=text_digest(ws) if len(ws) >= MIN_EXACT_WORDS else None,
        lead=terms if head is ws else content(head),
        numbers=numbers_in(body),
        names=frozenset(names_in(body, fold_prefix) & terms) if terms else frozenset(),
        ordered=tuple(sorted(terms)),  # (here, in the worker of a replay: one sort less in the story step)
    )


class _Entry:
    __slots__ = ("key", "story_id", "when", "prep", "terms", "need", "fp", "counts", "alive", "filed")

    def __init__(self, key: tuple[int, int], story_id: int, when: float, prep: Prepared) -> None:
        self.key = key
        self.story_id = story_id
        self.when = when
        self.prep = prep
        self.terms = prep.terms  # a slot, not a property: read for every posting walked
        # shared words another post needs to be compared: `_PREFILTER` of its words, and never fewer than
        # `MIN_SHARED` (`similar.similarity`: fewer are no similarity, so `story_score` refuses them unweighed)
        self.need = max(_PREFILTER * len(prep.terms), MIN_SHARED)
        self.fp: Fingerprint | None = None
        self.counts: tuple[int, tuple[int, ...]] | None = None  # (posts, each word's) counted when it came: `fp` is weighed by them
        self.alive = True  # False once expired or replaced by a later entry of the same post
        self.filed: list[str] = []  # the words it is filed under in `postings`, the first ones in `tops` too


class _Stored(NamedTuple):
    """A stored post of the window, read back to be held (`StoryIndex._load`)."""

    rowid: int
    key: tuple[int, int]
    date: str
    story_id: int
    story_first: str | None
    prep: Prepared
    edited: bool  # by a later batch than the one that counted it (`posts.edited_after`)


def _forward_of(post: Post) -> tuple[int, int] | None:
    """(channel id, post id) of the post a post forwards, None when it is no forward."""
    if post.forward_channel_id is None or post.forward_post_id is None:
        return None
    return post.forward_channel_id, post.forward_post_id


def _file(index: dict[str, list[_Entry]], keys: list[str], entry: _Entry, size: int) -> None:
    """File the entry under each key in time order (the newest `size` posts per key are kept): a
    scan walks each key's posts newest first and stops at the first one older than its window, so
    an earlier post filed later (an edit, a stored post loaded for a late one) goes where its time is.
    (Lists, not bounded deques: six in ten filings start a word's list, most of them a post's rare
    word that is dropped with it; a list of one is made and freed in a third of the time, in a ninth
    of the memory: 88 bytes, not 760.)"""
    when = entry.when
    for t in keys:
        q = index.get(t)
        if q is None:
            q = index[t] = []
        if not q or q[-1].when <= when:
            if len(q) == size:
                del q[0]
            q.append(entry)
            continue
        at = len(q) - 1
        while at > 0 and q[at - 1].when > when:
            at -= 1
        if len(q) == size:
            if at == 0:
                continue  # older than every post kept under the word
            del q[0]
            at -= 1
        q.insert(at, entry)


def _unfile(index: dict[str, list[_Entry]], keys: list[str], limit: float) -> None:
    """Drop the posts older than `limit` from the front of each key's posts (and a key left with none):
    what `_collect` would stop at, and a key `_candidates` would pass over, for any post not older."""
    for t in keys:
        q = index.get(t)
        if q is not None:
            while q and q[0].when < limit:
                del q[0]
            if not q:
                del index[t]


def _sweep(index: dict[str, list[_Entry]]) -> dict[str, list[_Entry]]:
    """The index without its dead entries (and without the words left with none)."""
    fresh: dict[str, list[_Entry]] = {}
    for t, q in index.items():
        alive = [e for e in q if e.alive]
        if alive:
            fresh[t] = alive
    return fresh


class StoryIndex:
    """Gives each new post a story id (joining an earlier story or starting one) and keeps the
    store's story rows (size, channels, first post, first/last date) up to date."""

    def __init__(self, store: Store, window_hours: float = 48.0, *, rule: Rule | None = None,
                 post_keys: int = 12, query_keys: int = 10, top_keys: int = 2, max_postings: int = 32,
                 max_checks: int = 64, top_checks: int = 16, top_max_terms: int = 16, settle: float = 0.95,
                 reach_hours: float = REACH_HOURS) -> None:
        self.store = store
        self.window = window_hours * 3600.0
        self.reach = reach_hours * 3600.0
        base = rule or PRECISE_RULE
        self.rule = replace(base, window_hours=min(base.window_hours, window_hours),
                            agree_hours=min(base.agree_hours, window_hours), max_gap_hours=window_hours)
        self.post_keys = post_keys
        self.query_keys = query_keys
        self.max_postings = max_postings
        self.max_checks = max_checks
        self.top_keys = top_keys
        self.top_checks = top_checks
        self.top_max_terms = top_max_terms
        self.settle = settle
        self.df = DocumentFrequency()
        self.entries: dict[tuple[int, int], _Entry] = {}
        self.order: deque[_Entry] = deque()
        self.postings: dict[str, list[_Entry]] = {}  # word -> posts filed under it (`post_keys`)
        self.tops: dict[str, list[_Entry]] = {}  # word -> short posts among whose `top_keys` rarest it is
        self.exact: dict[str, _Entry] = {}
        self.newest = float("-inf")
        self.latest = float("-inf")  # the latest date of a post held (stored ones too): a post before it came late
        self.held_from: float | None = None  # the stored posts from this time on are indexed
        self.forwarded: set[tuple[int, int]] = set()  # posts some stored post forwards (`_forwarded_story`)
        self._prunes = 0  # the store's `prunes` when `forwarded` was read
        self._noted: set[tuple[int, int]] | None = None  # forwards met while the stored ones are read elsewhere
        self._seen_rowid = 0  # the stored posts up to this rowid were read (`_take_in_others`)
        self._version: int | None = None  # the store's data_version when they were
        self._written = 0  # the store's `posts_written` when `_seen_rowid` last followed this connection's posts
        self._dropped = 0
        self.starts: dict[int, float] = {}  # story -> when its first post came (its reach runs from it)
        self.joined = {"forward": 0, "exact": 0, "near": 0}  # since this index was built (a run's: `Summary.joined`)
        self.last_joined = ""  # how the post `assign` last gave a story joined an earlier one ("": it did not)
        self._unsaved = 0  # posts counted in `df` since it was last saved to the store
        self.before_read: Callable[[], None] = lambda: None  # a writer batching posts flushes them here

    # -- public ----------------------------------------------------------------------------------

    def assign(self, post: Post, known_story: int | None = None, prepared: Prepared | None = None) -> int:
        """The post's story id. An edit of a stored post (`known_story`) keeps its story, and later
        posts are compared with its new text; but a post alone in a story that never alerted is
        folded again as a new post is (a flash edited into the full report joins the story other
        channels tell, as a replay of the final text does). `prepared`: `prepare(post.text)` when
        done elsewhere."""
        self.last_joined = ""
        when = post.date.timestamp()
        if self.held_from is not None:
            self._take_in_others()
        if known_story is not None and self.held_from is not None and when < self.newest - self.window:
            return known_story  # an edit of a post older than the window: nothing left to fold it with
        if self.held_from is None or (known_story is None and when - self.window < self.held_from):
            self._load(post.date)  # (not for an edit: it folds with the posts the window holds)
        prep = prepared if prepared is not None else prepare(post.text)
        ranked = self._by_rarity(prep)
        entry = _Entry(post.key, 0, when, prep)
        if known_story is not None:
            old = self.entries.get(post.key)
            if old is not None:
                old.alive = False  # never its own candidate
            story, how = (self._find(post, entry, ranked) if self.store.lone_story(known_story) else (None, ""))
            if story is None or story == known_story:
                story = known_story
            else:
                self.before_read()  # the post itself may wait to be written in this batch
                self.store.move_to_story(post, known_story, story)
                self._joined(how)
            entry.story_id = story
            self._began(story, self._start(story))
            self._add(entry, ranked, prep.digest)
            self._note_forward(post)
            if old is not None:  # its first text still finds it: a copy of the post as first seen joins
                old.alive, old.story_id = True, story
            return story
        story, how = self._find(post, entry, ranked)
        if story is None:
            story = self.store.new_story(post)
            self.starts[story] = when
        else:
            self.store.join_story(story, post)
            self._joined(how)
            self._began(story, self._start(story))  # (earlier when this post is: the reach moves back)
        entry.story_id = story
        self._add(entry, ranked, prep.digest)
        self._note_forward(post)
        self.df.add(prep.terms)
        self._unsaved += 1
        return story

    def _find(self, post: Post, entry: _Entry, ranked: list[str]) -> tuple[int | None, str]:
        """The earlier story the post belongs to, and how it was found: its original's (a forward),
        the same text's, or a near post's; (None, "") for a story of its own."""
        story = self._forwarded_story(post)
        if story is not None:
            return story, "forward"
        digest = entry.prep.digest
        if digest is not None:
            hit = self.exact.get(digest)
            if hit is not None and hit.alive and abs(hit.when - entry.when) <= self.window:
                return hit.story_id, "exact"
        if len(entry.prep.terms) >= MIN_SHARED:
            story = self._near(entry, ranked)
            if story is not None:
                return story, "near"
        return None, ""

    def _start(self, story: int) -> float | None:
        """When the story's first post was posted (the store's), None when the store has no date."""
        first = self.store.story_first_date(story)
        return None if first is None else datetime.fromisoformat(first).timestamp()

    def _began(self, story: int, start: float | None) -> None:
        """Note when the story's first post came (None: unknown), the earliest told: its reach runs from it."""
        if start is not None:
            held = self.starts.get(story)
            self.starts[story] = start if held is None or start < held else held

    def _joined(self, how: str) -> None:
        """Count a post that joined an earlier story (`joined`, `last_joined`)."""
        self.joined[how] += 1
        self.last_joined = how

    def save_words(self, every: int = 1) -> None:
        """Save the word counts (`df`) to the store once `every` posts have been counted since
        they were last saved: a restart then files posts under the words a run that never stopped
        would (rebuilt from the window alone, the corpus split in two folded 307 stories apart).
        Call inside the transaction that stores the posts counted."""
        if self.held_from is None or self._unsaved < max(every, 1):
            return
        self.before_read()  # the posts counted are written first: the saved counts cover them
        self.store.save_story_words(self.df.docs, self.df.counts)
        self._unsaved = 0

    def __len__(self) -> int:
        return len(self.entries)

    # -- steps -----------------------------------------------------------------------------------

    def _by_rarity(self, prep: Prepared, df: DocumentFrequency | None = None) -> list[str]:
        """The post's terms rarest first (by the running document frequency, or `df`; ties by the word itself)."""
        ranked = list(prep.ordered)  # sorted already, then a stable sort by int: twice as fast as tuples
        ranked.sort(key=(self.df if df is None else df).counts.__getitem__)  # a Counter: 0 for a word never counted
        return ranked

    def _forwarded_story(self, post: Post) -> int | None:
        """The story of the post's original (a forward), any age; else of the stored forwards of that
        original, or of the post itself: an original (or a forward) read after posts that forward it
        joins them, whichever export is replayed first. A set (`forwarded`) spares the store the
        question for the posts nothing forwards."""
        source = _forward_of(post)
        if source is not None:
            e = self.entries.get(source)
            if e is not None:
                return e.story_id
            self.before_read()
            story = self.store.story_of(*source)
            if story is not None:
                return story
        for key in (source, post.key):
            if key in self.forwarded:
                self.before_read()  # a forward of it may wait to be written in this batch
                story = self.store.forwards_story(*key)
                if story is not None:
                    return story
        return None

    def _note_forward(self, post: Post) -> None:
        """Remember what a post given a story forwards: its original, read later, asks the store for it."""
        source = _forward_of(post)
        if source is not None:
            self._forwards(source)

    def _forwards(self, source: tuple[int, int]) -> None:
        self.forwarded.add(source)
        if self._noted is not None:
            self._noted.add(source)

    def reading_forwards(self) -> None:
        """The forwards the store holds are about to be read on another connection (after retention
        pruned some, off the loop): those met from now on are kept when they come (`forwards_read`)."""
        self._noted = set()

    def forwards_read(self, stored: set[tuple[int, int]] | None) -> None:
        """The forwards the store held when read (`reading_forwards`; None: not read after all) replace
        those held: the forwards retention pruned are forgotten, those met meanwhile kept."""
        noted, self._noted = self._noted, None
        if stored is not None and noted is not None and self.held_from is not None:
            self.forwarded = stored | noted

    def _forget_pruned(self) -> None:
        """Retention pruned posts on this index's connection (`Store.prune`): the forwards are read
        again, so those gone with the posts are forgotten (a year's would be 300,000 held)."""
        if self.store.prunes != self._prunes:
            self.before_read()  # a forward in this batch may wait to be written
            self._prunes = self.store.prunes
            self.forwarded = self.store.forwarded_posts()

    def _take_in_others(self) -> None:
        """Index the posts another connection (a replay beside the live service) stored since this index
        last read the store, those within the window: a copy of one, arriving here, joins its story as
        in a fresh process. Asked per post, read only after another connection committed
        (`Store.data_version`, read once per transaction): a lone process never reads, and the mark
        follows the posts this connection stores while none other commits, so a read after such a
        commit does not read them back. Their words are not counted (`df`): this index cannot tell
        them from its own posts already counted."""
        self._forget_pruned()
        mine = None
        if self._written != self.store.posts_written:  # (read before the version: a commit between shows)
            self._written, mine = self.store.posts_written, self.store.newest_post()
        version = self.store.data_version()
        if version == self._version:
            if mine is not None:  # no other connection committed since the last read: the posts after it are ours
                self._seen_rowid = max(self._seen_rowid, mine)
            return
        self._version = version
        since = datetime.fromtimestamp(self.held_from or 0.0, timezone.utc).isoformat(timespec="seconds")
        for row in self.store.posts_after(self._seen_rowid):  # (sqlite rows: the store types their values object)
            self._seen_rowid = int(row["rowid"])  # type: ignore[call-overload]
            key = (int(row["channel_id"]), int(row["message_id"]))  # type: ignore[call-overload]
            if row["forward_channel_id"] is not None and row["forward_post_id"] is not None:
                self._forwards((int(row["forward_channel_id"]), int(row["forward_post_id"])))  # type: ignore[call-overload]
            if key not in self.entries and str(row["date"]) >= since:
                self.preload(*key, str(row["date"]), str(row["text"] or ""), row["story_id"],  # type: ignore[arg-type]
                             story_first=row["story_first"])  # type: ignore[arg-type]

    def _near(self, entry: _Entry, ranked: list[str]) -> int | None:
        """The story of the accepted candidate that is most alike both ways (`similar.mutual`: the
        first one at `settle` or above, a near copy, ends the search), or None. Accepted is by the
        one-sided `story_score`; chosen is by the two-sided share, so a short post contained in
        many (a hub) does not win over the post this one actually rewords. The posts not later than
        this one are searched first, as one run in date order met them; the later ones (stored by
        an earlier run: this post came late) only when none of those accepts it."""
        story = self._best(entry, self._candidates(entry, ranked, later=False))
        if story is None and entry.when < self.latest:
            story = self._best(entry, self._candidates(entry, ranked, later=True))
        return story

    def _best(self, entry: _Entry, candidates: Iterator[tuple[_Entry, frozenset[str]]]) -> int | None:
        """The story of the accepted candidate most alike both ways (`_near`), None when none is accepted."""
        fp: Fingerprint | None = None
        best, best_story = -1.0, None
        for e, common in candidates:
            if fp is None:
                fp = self._fp(entry)
            other = self._fp(e)
            if story_score(fp, other, self.rule, common) is None:
                continue
            m = mutual(fp, other, common)
            if m > best:
                best, best_story = m, e.story_id
                if m >= self.settle:
                    break
        return best_story

    def _candidates(self, entry: _Entry, ranked: list[str], later: bool) -> Iterator[tuple[_Entry, frozenset[str]]]:
        """Live posts within the window that share enough words with the post (each with the words
        shared), found as they are asked for: those filed under its rarest indexed words (a word no
        post of the part searched is filed under finds nothing, and takes none of the `query_keys`),
        then the short posts whose rarest words it has (`tops`). `later`: the posts dated after it,
        else those not (a late post searches those first: one run could not have met the others)."""
        postings, tops = self.postings, self.tops
        seen: set[_Entry] = set()
        when = entry.when
        lo, hi = (when, when + self.window) if later else (when - self.window, when)
        keys: list[str] = []
        # (the words no post is filed under passed over in C: two in three of those a post looks at)
        for t in filter(postings.__contains__, ranked) if self.query_keys > 0 else ():
            q = postings[t]  # (time order: some post of the part searched when the newest reaches it and the oldest does not pass it)
            if q[-1].when >= lo and (q[-1].when > when if later else q[0].when <= hi):
                keys.append(t)
                if len(keys) == self.query_keys:
                    break
        yield from self._collect(entry, postings, keys, self.max_checks, seen, lo, hi, later)
        if shared := tops.keys() & entry.terms:  # (one C-level pass; most posts hold none)
            yield from self._collect(entry, tops, [t for t in ranked if t in shared], self.top_checks, seen, lo, hi,
                                     later)

    def _collect(self, entry: _Entry, index: dict[str, list[_Entry]], keys: list[str], budget: int,
                 seen: set[_Entry], lo: float, hi: float, later: bool) -> Iterator[tuple[_Entry, frozenset[str]]]:
        """The posts of `index` under `keys` (newest first per word, at most `budget` not seen
        before) dated from `lo` to `hi` (`later`: after `lo`) that share enough words with the post."""
        terms, need, starts, reach = entry.terms, entry.need, self.starts, self.reach
        for t in keys:
            for e in reversed(index[t]):  # newest first: stop at the first one too old
                if (w := e.when) < lo or later and w == lo:
                    break
                if w > hi or e in seen or w - starts.get(e.story_id, w) > reach:
                    continue  # (a story's late post, past its reach from the story's first post now, chains nothing)
                if not budget:
                    return
                budget -= 1
                seen.add(e)
                # the smaller post's `need` shared
                if e.alive and len(common := terms & e.terms) >= (need if need < e.need else e.need):
                    yield e, common

    def _fp(self, e: _Entry) -> Fingerprint:
        """`similar.fingerprint` with the prefix fold, from the cheap words (the matcher's
        `rough_words`: no look-alike folding, no second normalisation pass) and without shingles:
        the same decision at a fifth of the cost. Weighted by the document frequency of when the post
        came (`_note_counts`), not of when it is first compared: a restart can weigh it so again."""
        if e.fp is None:
            p = e.prep
            if e.counts is None:
                weights = self.df.weights(p.terms)  # (a post being folded: it came now)
            else:
                weights = idf_weights(e.counts[0], p.ordered, e.counts[1])
                e.counts = None
            e.fp = Fingerprint(
                weights=weights, terms=p.terms, total=math.fsum(weights.values()), lead=p.lead,
                lead_total=math.fsum([weights[t] for t in p.lead]), rare=(), numbers=p.numbers,
                names=p.names, exact=repr(e.key), shingles=frozenset(), when=e.when)
        return e.fp

    def _add(self, entry: _Entry, ranked: list[str], digest: str | None, *, expire: bool = True) -> None:
        """Hold the post: found by its key and digest, and filed for near joins (`_collect` passes
        over it while it lies past its story's reach: an earlier post joining moves the reach back)."""
        old = self.entries.get(entry.key)
        if old is not None:
            old.alive = False
        self.entries[entry.key] = entry
        self.order.append(entry)
        if entry.when > self.latest:
            self.latest = entry.when
        if digest is not None:
            self.exact[digest] = entry
        if len(ranked) >= MIN_SHARED:  # fewer words can share too few with any post
            self._note_counts(entry)
            entry.filed = ranked[: max(self.post_keys, self.top_keys)]
            _file(self.postings, entry.filed[: self.post_keys], entry, self.max_postings)
            if len(ranked) <= self.top_max_terms:
                _file(self.tops, ranked[: self.top_keys], entry, self.max_postings)
        if expire and entry.when > self.newest:
            self.newest = entry.when
            self._expire()

    def _note_counts(self, e: _Entry, df: DocumentFrequency | None = None) -> None:
        """Note the word counts of now (or `df`'s) for the post's words, for `_fp` to weigh it by: a
        tuple, not the fingerprint, which many posts never need (built when they came, the corpus's
        replay peaked 20 MiB higher; so, 4 MiB)."""
        if e.fp is None and e.counts is None:
            df = self.df if df is None else df
            e.counts = (df.docs, tuple(map(df.counts.get, e.prep.ordered, repeat(0))))

    def _expire(self) -> None:
        """Forget posts older than the window (from the newest post seen), from the words they are
        filed under too: a key search then passes over no word of an expired post (12.6 of the 22.5
        words a post looked at on the corpus), and the walk under a word ends with the window. Sweep
        the posts replaced by an edit once as many posts have gone as are held."""
        limit = self.newest - self.window
        if self.held_from is not None and limit > self.held_from:
            self.held_from = limit  # an earlier post arriving later reloads what it needs
        order, postings, tops = self.order, self.postings, self.tops
        while order and order[0].when < limit:
            e = order.popleft()
            if e.filed:  # its words forget it (and the posts before it) now, not at the next sweep
                _unfile(postings, e.filed[: self.post_keys], limit)
                if len(e.terms) <= self.top_max_terms:
                    _unfile(tops, e.filed[: self.top_keys], limit)
            if e.alive:
                e.alive = False
                if self.entries.get(e.key) is e:  # (an edited post's first version is held beside it)
                    del self.entries[e.key]
                self._dropped += 1
        if self._dropped > max(20_000, 4 * len(self.entries)):
            self._dropped = 0
            self.exact = {d: e for d, e in self.exact.items() if e.alive}
            held = {e.story_id for e in self.entries.values()}
            self.starts = {s: t for s, t in self.starts.items() if s in held}
            self.postings = _sweep(self.postings)
            self.tops = _sweep(self.tops)

    def _load(self, first: datetime) -> None:
        """Index the stored posts within the window before `first` not held: on the first post this
        process sees, and again when an earlier post arrives (files are read one at a time, so a
        channel's posts can follow another's later ones; the posts of this run are stored too).
        The first time, the word counts come back too: those saved, then the posts stored since;
        and each post is filed and weighed as when it was counted (`_hold_as_counted`)."""
        start = first - timedelta(seconds=self.window)
        since = start.astimezone(timezone.utc).isoformat(timespec="seconds")
        until = (None if self.held_from is None else
                 datetime.fromtimestamp(self.held_from, timezone.utc).isoformat(timespec="seconds"))
        self.before_read()
        after = None
        if self.held_from is None:
            self._version = self.store.data_version()  # (before the posts: a write between is read again)
            self._prunes = self.store.prunes
            self.forwarded = self.store.forwarded_posts()
            saved = self.store.story_words()
            self.df = DocumentFrequency()
            after = 0
            if saved is not None:
                self.df.docs, counts, after = saved
                self.df.counts.update(counts)
        if after is not None:  # every post stored after `after` is read below (the newest last)
            self._seen_rowid = after
        held: list[_Stored] = []  # the window's posts, to hold once every count is back
        others: list[tuple[int, frozenset[str]]] = []  # (rowid, words) of the other posts read, for `_hold_as_counted`
        for row in self.store.posts_since(since, until, after=after):  # (sqlite rows: values typed object)
            key = (row["channel_id"], row["message_id"])
            rowid = int(row["rowid"])  # type: ignore[call-overload]
            if after is not None and rowid > self._seen_rowid:
                self._seen_rowid = rowid
            counted = after is None or rowid <= after
            in_window = str(row["date"]) >= since and key not in self.entries
            if counted and not in_window:
                continue
            prep = prepare(str(row["text"] or ""))
            if in_window and row["story_id"] is not None:
                held.append(_Stored(rowid, key, str(row["date"]), row["story_id"], row["story_first"], prep,  # type: ignore[arg-type]
                                    bool(row["edited"])))
            elif after is not None:
                others.append((rowid, prep.terms))
            if not counted:  # stored after the counts were saved (a crash): counted as it was met
                self.df.add(prep.terms)
                self._unsaved += 1
        if after is None:  # an earlier post met later: its window is filed by the counts of now
            for p in held:
                self.preload(*p.key, p.date, "", p.story_id, p.prep, story_first=p.story_first)
        else:
            self._hold_as_counted(held, others, since, after)
        if self.held_from is None:
            # the window runs from the posts now arriving, not from the newest stored one (a replay
            # of older files must still meet the stored posts of its time)
            self.newest = first.timestamp()
        self.held_from = start.timestamp()

    def _hold_as_counted(self, held: list[_Stored], others: list[tuple[int, frozenset[str]]], since: str,
                         after: int) -> None:
        """Hold the window's stored posts (`held`, oldest stored first), each filed under its rarest
        words and weighed by the word counts of when it was counted: those of now less every post
        counted since (stored after it: the window's, `others` read with them as (rowid, words),
        and those dated before the window, read here). A run that never stopped filed and weighed
        them so; filed by the counts of now, a restart put a post under other words than that run
        had, and a later post found it in one run only (the live service, restarted, folded a post
        apart from a replay of the same posts). What the counts cannot give back: counts halved
        since (`DocumentFrequency.max_docs`), and a post edited by a later batch, counted with its
        first text, which the store no longer has (taken back with its text of now; filed and
        weighed by the counts of now, as near as the store tells to those of when the edit came)."""
        if not held:
            return
        others = others + [(int(r["rowid"]), prepare(str(r["text"] or "")).terms)  # type: ignore[call-overload]  # (a sqlite row)
                           for r in self.store.older_stored_between(held[0].rowid, after, since)]
        then = DocumentFrequency(self.df.max_docs)
        then.docs, then.counts = self.df.docs, Counter(self.df.counts)
        counts = then.counts
        filed: list[tuple[_Entry, list[str]]] = []
        steps = sorted(chain([(p.rowid, i) for i, p in enumerate(held)], [(r, -1 - i) for i, (r, _) in enumerate(others)]),
                       reverse=True)  # the newest stored first
        for _, i in steps:
            stored = held[i] if i >= 0 else None
            for t in stored.prep.terms if stored is not None else others[-1 - i][1]:  # this post counted no more
                if counts[t] > 0:
                    counts[t] -= 1
            then.docs = max(then.docs - 1, 0)
            if stored is not None:
                entry = _Entry(stored.key, stored.story_id, datetime.fromisoformat(stored.date).timestamp(), stored.prep)
                counted = self.df if stored.edited else then  # (an edit came later: as near now as then)
                ranked = self._by_rarity(stored.prep, counted)
                if len(ranked) >= MIN_SHARED:
                    self._note_counts(entry, counted)
                filed.append((entry, ranked))
        for (entry, ranked), stored in zip(reversed(filed), held):
            self._began(entry.story_id, None if stored.story_first is None else
                        datetime.fromisoformat(stored.story_first).timestamp())
            self._add(entry, ranked, stored.prep.digest, expire=False)

    def preload(self, channel_id: int, message_id: int, date: str, text: str, story_id: int | None,
                prepared: Prepared | None = None, story_first: str | None = None) -> None:
        """Index one stored post (already in a story) without touching the store or the word
        counts. `prepared`: `prepare(text)` when done elsewhere; `story_first`: the date of its
        story's first post (its reach runs from the earliest told)."""
        if story_id is None:
            return
        when = datetime.fromisoformat(date).timestamp()
        prep = prepared if prepared is not None else prepare(text)
        entry = _Entry((channel_id, message_id), story_id, when, prep)
        self._began(story_id, None if story_first is None else datetime.fromisoformat(story_first).timestamp())
        self._add(entry, self._by_rarity(prep), prep.digest, expire=False)
