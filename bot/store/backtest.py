"""Backtests: what a new or edited rule would have matched in the stored posts.

The CLI's `tgwatch rules backtest` and the chat's /add_rule and /edit_rule run through this."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Mapping, Sequence

from ..match.matcher import Match, Matcher
from ..match.rules import Rule
from .db import Store, iso
from .read import StoredPost, iter_posts, resolve_channels

__all__ = ["Backtest", "run_backtest"]


@dataclass
class Backtest:
    """What a set of rules would have matched in the store."""

    rules: list[str]
    posts: int = 0
    hits: Counter[str] = field(default_factory=Counter)  # rule -> posts matched
    matched_posts: int = 0
    by_channel: Counter[tuple[int, str]] = field(default_factory=Counter)  # (id, name) -> posts matched
    by_day: Counter[str] = field(default_factory=Counter)  # YYYY-MM-DD -> posts matched
    samples: deque[tuple[StoredPost, list[Match]]] = field(default_factory=deque)
    stored: Counter[str] = field(default_factory=Counter)  # rule -> posts the store has as matched
    gained: Counter[str] = field(default_factory=Counter)  # matched now, not in the store
    lost: Counter[str] = field(default_factory=Counter)  # in the store, not matched now


def run_backtest(store: Store, rules: Iterable[Rule], *, channels: Iterable[str | int] = (),
                 since: datetime | None = None, until: datetime | None = None, samples: int = 5,
                 progress: Callable[[], None] | None = None,
                 groups: Mapping[str, Sequence[str]] | None = None) -> Backtest:
    """Match every stored post (streaming; of `channels` only, when given) with a fresh Matcher
    (knowing the config's channel `groups`, which rules may be scoped to); keep counts and the
    latest samples."""
    matcher = Matcher(list(rules), groups=groups)
    result = Backtest([r.name for r in matcher.rules], samples=deque(maxlen=max(samples, 0)))
    channels = list(channels)
    channel_ids = resolve_channels(store, channels)[0] if channels else None
    stored = _stored_matches(store, result.rules, channel_ids, since, until)
    for post in iter_posts(store, channels=channels, since=since, until=until):
        result.posts += 1
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
    result.stored = Counter({rule: len(keys) for rule, keys in stored.items()})
    return result


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
