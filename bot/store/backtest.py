"""Backtests: what a new or edited rule would have matched in the stored posts.

The CLI's `tgwatch rules backtest` and the chat's /add_rule and /edit_rule run through this."""

from __future__ import annotations

import json
import re
from collections import Counter, deque
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterable, Mapping, NamedTuple, Sequence, TypedDict

from ..match.branches import Branches
from ..match.explain import fold_word, hit_edges, shown_word, term_words
from ..match.matcher import Hit, Match, Matcher
from ..match.query import Node, Phrase, terms_of, to_text
from ..match.rules import Rule
from .db import Store, iso
from .read import StoredPost, iter_posts, resolve_channels
from .schema import stored_links

__all__ = ["Backtest", "DayRow", "TermHits", "run_backtest", "stored_term_hits"]


@dataclass
class TermHits:
    """One query term's part in a rule's hits: what an analyst weighs to keep or drop the term."""

    written: str  # the term as the rule writes it
    posts: int = 0  # matched posts the term hit, in any branch of the query that holds in the post
    alone: int = 0  # of those, posts the rule would not match without this term (what dropping it loses)
    words: Counter[str] = field(default_factory=Counter)  # the post's word it hit (folded: lower case, ё as е) -> posts
    typos: set[str] = field(default_factory=set)  # the words it caught as typos (folded)
    spellings: dict[str, Counter[str]] = field(default_factory=dict)  # folded word -> the posts' own spellings -> posts

    def spelled(self, word: str) -> str:
        """A folded word as the posts write it most often («Ковёр» for ковер, «КТО» for кто), as
        alerts and exports show it."""
        own = self.spellings.get(word)
        return own.most_common(1)[0][0] if own else word

    def top_words(self, n: int, counts: bool = False) -> list[str]:
        """The n words it caught in most posts, each as the posts spell it, a typo marked («дизертир
        (typo)»), each with its posts when `counts` («дезертиров 5»); then «+3 more» when there are more."""
        top = [f"{self.spelled(w)}{' (typo)' * (w in self.typos)}" + f" {k:,}" * counts
               for w, k in self.words.most_common(n)]
        return top + ([f"+{len(self.words) - n:,} more"] if len(self.words) > n else [])

    @staticmethod
    def ranked(terms: dict[str, TermHits]) -> list[TermHits]:
        """The terms that hit, most posts first (query order among equals)."""
        return sorted((t for t in terms.values() if t.posts), key=lambda t: -t.posts)


class DayRow(NamedTuple):
    """A row of the hits per day: one day, or a run of days without a hit (`first` to `last`)."""

    first: str  # YYYY-MM-DD
    last: str  # the same day, or the run's last
    hits: int  # posts matched
    posts: int  # posts backtested (stored) in these days


@dataclass
class Backtest:
    """What a set of rules would have matched in the store."""

    rules: list[str]
    posts: int = 0
    hits: Counter[str] = field(default_factory=Counter)  # rule -> posts matched
    matched_posts: int = 0
    by_channel: Counter[tuple[int, str]] = field(default_factory=Counter)  # (id, name) -> posts matched
    by_day: Counter[str] = field(default_factory=Counter)  # YYYY-MM-DD -> posts matched
    posts_by_day: Counter[str] = field(default_factory=Counter)  # YYYY-MM-DD -> posts backtested
    samples: deque[tuple[StoredPost, list[Match]]] = field(default_factory=deque)
    stored: Counter[str] = field(default_factory=Counter)  # rule -> posts the store has as matched
    gained: Counter[str] = field(default_factory=Counter)  # matched now, not in the store
    lost: Counter[str] = field(default_factory=Counter)  # in the store, not matched now
    terms: dict[str, dict[str, TermHits]] = field(default_factory=dict)  # rule -> term (as hits name it) -> counts
    first_day: str | None = None  # YYYY-MM-DD: the first UTC day of the span asked (--since), if any
    last_day: str | None = None  # YYYY-MM-DD: its last (--until's, today at the latest), if any

    def day_rows(self) -> list[DayRow]:
        """Every UTC day of the span asked (else from the first backtested post's to the last's),
        oldest first: a day with hits alone, a run of days without one folded into one row (split
        where stored posts stop or start), so a trend reads right and a gap in the store is not
        read as a quiet spell."""
        days = sorted(self.posts_by_day)
        if not days:
            return []
        rows: list[DayRow] = []
        for day in _days(min(days[0], self.first_day or days[0]), max(days[-1], self.last_day or days[-1])):
            hits, posts = self.by_day.get(day, 0), self.posts_by_day.get(day, 0)
            last = rows[-1] if rows else None
            if not hits and last and not last.hits and bool(last.posts) == bool(posts):
                rows[-1] = last._replace(last=day, posts=last.posts + posts)
            else:
                rows.append(DayRow(day, day, hits, posts))
        return rows


def run_backtest(store: Store, rules: Iterable[Rule], *, channels: Iterable[str | int] = (),
                 since: datetime | None = None, until: datetime | None = None, samples: int = 5,
                 progress: Callable[[], None] | None = None,
                 groups: Mapping[str, Sequence[str]] | None = None) -> Backtest:
    """Match every stored post (streaming; of `channels` only, when given) with a fresh Matcher
    (knowing the config's channel `groups`, which rules may be scoped to); keep counts and the
    latest samples."""
    matcher = Matcher(list(rules), groups=groups)
    result = Backtest([r.name for r in matcher.rules], samples=deque(maxlen=max(samples, 0)),
                      terms={r.name: _terms(r) for r in matcher.rules}, **_span_days(since, until))
    branches = Branches(matcher)
    channels = list(channels)
    channel_ids = resolve_channels(store, channels)[0] if channels else None
    stored = _stored_matches(store, result.rules, channel_ids, since, until)
    for post in iter_posts(store, channels=channels, since=since, until=until):
        result.posts += 1
        result.posts_by_day[post.date[:10]] += 1
        if progress:
            progress()
        matches = matcher.match(post)
        names = {m.rule for m in matches}
        for rule in result.rules:
            was = (post.channel_id, post.message_id) in stored.get(rule, ())
            now = rule in names
            result.gained[rule] += now and not was
            result.lost[rule] += was and not now
        if not matches:
            continue
        result.matched_posts += 1
        result.hits.update(names)
        result.by_channel[(post.channel_id, post.channel_title)] += 1
        result.by_day[post.date[:10]] += 1
        result.samples.append((post, matches))
        for rule, (hits, needed) in branches.of(post, names).items():
            _count_terms(result.terms[rule], post.text, hits, needed)
    result.stored = Counter({rule: len(keys) for rule, keys in stored.items()})
    return result


class _SpanDays(TypedDict, total=False):
    """`Backtest.first_day` and `last_day`, each when its end of the span was asked."""

    first_day: str
    last_day: str


def _span_days(since: datetime | None, until: datetime | None) -> _SpanDays:
    """The UTC days a --since/--until span covers, as `Backtest.first_day` and `last_day`: its
    days without a stored post are a gap in the store. Not past today: no post can be there yet."""
    days: _SpanDays = {}
    if since is not None:
        days["first_day"] = since.astimezone(timezone.utc).date().isoformat()
    if until is not None:
        try:
            last = (until - timedelta(seconds=1)).astimezone(timezone.utc)  # --until is the end, left out
        except OverflowError:  # --until 0001-01-01T00:00
            last = until
        days["last_day"] = min(last.date(), datetime.now(timezone.utc).date()).isoformat()
    return days


def _days(first: str, last: str) -> Iterable[str]:
    """Each day from `first` to `last` (YYYY-MM-DD), both included; the two alone when one is no date."""
    try:
        day, end = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        yield from dict.fromkeys([first, last])
        return
    while day <= end:
        yield day.isoformat()
        day += timedelta(days=1)


def _terms(rule: Rule) -> dict[str, TermHits]:
    """Every term of the rule's query (not those under a NOT: they never hit), in query order."""
    return {to_text(n): TermHits(_as_written(rule.query, n)) for n in terms_of(rule.node)}


_QUOTED = re.compile(r'"[^"]*"|«[^»]*»|[“„][^“”]*[“”]')


def _as_written(query: str, node: Node) -> str:
    """A term as the query has it: «в/ч», where the parsed phrase reads "=в =ч"."""
    text = to_text(node)
    if not isinstance(node, Phrase):
        return text
    if query[node.pos:node.pos + 1] not in "\"«“„":
        return query[node.pos:].split(None, 1)[0].rstrip(")")
    quoted = _QUOTED.match(query, node.pos)  # «"в/ч"» as written, not «"=в =ч"»
    return quoted.group() if quoted else text


class _Linked(NamedTuple):
    """What `Branches.of` reads of a stored post: its text and the links behind its words."""

    text: str
    links: tuple[tuple[int, int, str], ...]


def stored_term_hits(store: Store, rule: Rule, since: datetime) -> dict[str, TermHits]:
    """`TermHits` of the posts since `since` that the rule matches now: the hits the store kept with
    each match, and those of every branch of its query that holds (see `Branches`: only these posts
    are matched again, not the whole store)."""
    terms = _terms(rule)
    branches = Branches(Matcher([replace(rule, enabled=True)]))
    rows = store.db.execute(
        "SELECT p.text, p.entities, m.hits FROM matches m JOIN posts p ON p.channel_id = m.channel_id "
        "AND p.message_id = m.message_id WHERE m.rule = ? AND m.current = 1 AND p.date >= ?", [rule.name, iso(since)])
    for text, entities, hits in rows:
        try:
            found = [Hit(*h) for h in json.loads(hits or "[]")]
        except (ValueError, TypeError):  # an unreadable row counts for nothing (a store is read, never refused)
            continue
        post = _Linked(text or "", stored_links(text or "", entities))  # a `url:` term reads the links behind words
        more, needed = branches.of(post, [rule.name])[rule.name]
        _count_terms(terms, text or "", [*found, *more], needed)
    return terms


def _count_terms(terms: dict[str, TermHits], text: str, hits: Iterable[Hit], needed: set[str]) -> None:
    """Add one matched post to the counts of the terms that hit it (`hits`: of every branch that
    holds), and of the words they hit; `needed`: the terms the post would not match without."""
    by_term: dict[str, dict[tuple[int, int], Hit]] = {}
    for h in sorted(hits, key=lambda h: (h.start, h.end, -h.score)):  # a word two branches hit: its surer hit
        by_term.setdefault(h.term, {}).setdefault((h.start, h.end), h)
    found: dict[str, dict[str, bool]] = {}
    own: dict[str, Counter[str]] = {}  # a folded word -> the post's spellings of it
    for term, spans in by_term.items():  # each term on its own: a phrase's words stay one run
        rows = [(h.term, h.form, h.start, h.end, h.score, h.kind) for h in spans.values()]
        found.update(term_words(text, rows))
        edges = hit_edges(rows)  # the words as term_words cuts them (a phrase in «#СЗЧ_ВСУ» whole)
        for h in spans.values():
            word = shown_word(text, h.start, h.end, h.kind, edges)
            own.setdefault(fold_word(word), Counter())[word] += 1
    for term, words in found.items():
        counts = terms.setdefault(term, TermHits(term))
        counts.posts += 1
        counts.alone += term in needed
        counts.words.update(words.keys())
        counts.typos.update(w for w, typo in words.items() if typo)
        for w in words:  # (term_words folds the words it counts: the post's spelling of each, word by word)
            spelled = " ".join(own[p].most_common(1)[0][0] if p in own else p for p in w.split(" "))
            counts.spellings.setdefault(w, Counter())[spelled] += 1


def _stored_matches(store: Store, rules: list[str], channel_ids: list[int] | None, since: datetime | None,
                    until: datetime | None) -> dict[str, set[tuple[int, int]]]:
    """Which posts the store currently has as matched by these rules (to show what changes)."""
    out: dict[str, set[tuple[int, int]]] = {r: set() for r in rules}
    sql = ("SELECT m.rule, m.channel_id, m.message_id FROM matches m JOIN posts p "
           "ON p.channel_id = m.channel_id AND p.message_id = m.message_id "
           f"WHERE m.current = 1 AND m.rule IN ({','.join('?' * len(rules)) or 'NULL'})")
    args: list[object] = list(rules)
    if channel_ids is not None:
        sql += f" AND m.channel_id IN ({','.join('?' * len(channel_ids)) or 'NULL'})"
        args.extend(channel_ids)
    if since:
        sql += " AND p.date >= ?"
        args.append(iso(since))
    if until:
        sql += " AND p.date < ?"
        args.append(iso(until))
    for rule, cid, mid in store.db.execute(sql, args):
        out[rule].add((cid, mid))
    return out
