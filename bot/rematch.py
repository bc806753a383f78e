"""Rules added or changed since the stored posts were matched: match those posts again.

The pipeline matches a post once, when it is new or edited; a replay of stored, unchanged posts
matches nothing. So a rule fixed or added after a replay would never see the history it was
written for. The store keeps, per rule, a digest of what decides its matches and the last posts
rowid matched with it (`rule_coverage`, migration 10). `tgwatch replay` compares (`stale_rules`),
matches the posts a rule has not seen as it is now (`rematch`: its matches, and one alert per
story and rule as the pipeline queues them), then records what is covered (`record_coverage`). The
pipeline advances the coverage of the rules it matches new posts with (`advance_coverage`), live or
replayed, so posts stored by the live service are not matched twice; an edit of a stored post takes it
out of the coverage of the rules it was not matched with (`uncover_edits`: a rule switched off, or its
file broken, meanwhile). The live service catches up itself after its rules change and at start
(`catch_up`, in a worker thread beside the pipeline).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import metadata
from typing import Any, Callable, Iterable, Mapping, NamedTuple, Sequence

from .match.matcher import Match, Matcher
from .match.rules import Rule, channel_key
from .store.db import Store, iso, utcnow
from .store.read import StoredPost
from .store.schema import stored_links

__all__ = ["MATCHING", "Rematch", "RuleVersion", "Stale", "Stopped", "advance_coverage", "catch_up", "held_rules", "last_rowid",
           "matching_version", "rematch", "record_coverage", "rule_digest", "rule_versions", "stale_rules", "uncover_edits"]

BATCH = 500  # posts per transaction
# What tgwatch's matching finds for an unchanged rule, as a number: raise it in a release that
# changes that (a word form, a typo allowance, a disguise now read), so the next replay matches
# the stored posts again with every rule, as it does for a changed rule. 1: forms of nouns the
# dictionary lacks (самоволка), glued designations (МиГ29), titles as channel keys (2026-11-29).
# 2: a number after «№» (`155` finds «колонии №155»); terms written with «/» or «-» stored as written.
# 3: every sign NFKC spells with letters parts words, glued or not («ⓂЦирк» is «цирк», «100㎞» «100»); a
# fullwidth apostrophe joins a word («об＇єкт»), a small «﹟» starts a hashtag.
# 4: the marks that strike through, underline or overline each letter are removed, never word ends
# («с̶т̶а̶ц̶и̶о̶н̶а̶р̶н̶ы̶м̶» is «стационарным», not 12 one-letter words); capitals parted by «ʼ» are words
# apart («ОEʼʼʼX»), and a look-alike read as Cyrillic takes no mark («ЁY̆» is «еу»), as search reads them.
# 5: a designation's prefix keeps its star (`Ту-160*` finds «Ту-160М», «Ту160М»; `Ту-22М*` «Ту-22M3»); a
# word of up to 4 letters has no typo in any form («проном» is no дрон), a typo of a form under 7 letters
# keeps its first letter («бакете» is no ракета); a word glued to a link is a word («дезертировria.ru»).
MATCHING = 5
# The word dictionaries matching reads: a new release of one changes the forms a rule's words reach.
DICTIONARIES = ("pymorphy3", "pymorphy3-dicts-ru", "pymorphy3-dicts-uk", "lemminflect")
_RECORD = ("INSERT INTO rule_coverage (rule, digest, groups, through, updated_at) VALUES (?,?,?,?,?) ON CONFLICT(rule) DO UPDATE "
           "SET digest = excluded.digest, groups = excluded.groups, through = excluded.through, updated_at = excluded.updated_at")


@lru_cache(maxsize=1)
def _dictionaries() -> str:
    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "none"
    return "/".join(f"{p}={version(p)}" for p in DICTIONARIES)


def matching_version() -> str:
    """`MATCHING` and the installed `DICTIONARIES`' versions: what tgwatch's matching finds for an
    unchanged rule (an upgraded dictionary, as an upgraded tgwatch, has the stored posts matched again)."""
    return f"{MATCHING}/{_dictionaries()}"


def rule_digest(rule: Rule, groups: Mapping[str, Iterable[str | int]] | None = None) -> str:
    """A digest of what decides a rule's matches: its query, exclusions, scope (with the config
    groups it names expanded), severity and typo allowance, after `matching_version()` and a colon
    (so a store can tell an upgrade from a rule change). A title or a note changes nothing."""
    scope = None
    if rule.channels is not None:
        members = {g.casefold(): sorted({channel_key(c) for c in m}) for g, m in (groups or {}).items()}
        scope = sorted([c, members.get(c, [])] for c in rule.channels)
    what = [rule.query, list(rule.exclude), scope, rule.severity, rule.typos]
    return f"{matching_version()}:" + hashlib.sha256(json.dumps(what, ensure_ascii=False).encode()).hexdigest()[:16]


class RuleVersion(NamedTuple):
    """What `rule_coverage` records of a rule as it is: its `rule_digest`, and the config groups its
    scope names (a JSON list; None for none), which a replay without the config cannot expand."""

    digest: str
    groups: str | None


def rule_versions(rules: Iterable[Rule], groups: Mapping[str, Iterable[str | int]] | None = None) -> dict[str, RuleVersion]:
    """Each rule's name -> its `RuleVersion` (with `groups`, the config's channel groups)."""
    names = {g.casefold() for g in (groups or {})}
    out = {}
    for rule in rules:
        named = [c for c in rule.channels or () if c in names]
        out[rule.name] = RuleVersion(rule_digest(rule, groups), json.dumps(named, ensure_ascii=False) if named else None)
    return out


def held_rules(store: Store, rules: Iterable[Rule], groups: Mapping[str, Iterable[str | int]] | None = None) -> dict[str, list[str]]:
    """The enabled rules matched before with config groups they still name and `groups` lacks: name ->
    those groups. Matched without them, such a rule would drop every match the groups' channels gave
    (a replay without `-c`); left as they are, they wait for a replay given the config."""
    names = {g.casefold() for g in (groups or {})}
    recorded = {rule: json.loads(named) for rule, named in
                store.db.execute("SELECT rule, groups FROM rule_coverage WHERE groups IS NOT NULL")}
    out = {}
    for rule in rules:
        if rule.enabled and (lacking := [g for g in recorded.get(rule.name, ()) if g in (rule.channels or ()) and g not in names]):
            out[rule.name] = lacking
    return out


def _rule_part(digest: str) -> str:
    """A `rule_digest` without its `matching_version()` (a digest stored before there was one is all rule)."""
    return digest.partition(":")[2] or digest


@dataclass(frozen=True)
class Stale:
    """A rule the stored posts after rowid `through` were not matched with (0: none were, as it is now)."""

    rule: str
    through: int
    changed: bool  # the rule was matched before, as it was then: its matches on these posts may be stale
    upgraded: bool = False  # the rule is as it was, tgwatch's matching is not (`matching_version()`)
    new: bool = False  # no stored post was ever matched with the rule (its name is new to this store)


@dataclass
class Rematch:
    """What matching stored posts again found."""

    posts: Counter[str] = field(default_factory=Counter)  # rule -> stored posts matched again with it
    matched: Counter[str] = field(default_factory=Counter)  # rule -> of those, posts it matches now
    dropped: Counter[str] = field(default_factory=Counter)  # rule -> posts it matched before, no longer
    alerts: Counter[str] = field(default_factory=Counter)  # rule -> new alerts queued
    why: dict[str, str] = field(default_factory=dict)  # rule -> "changed", "upgrade", "new" (to this store) or "behind"


def last_rowid(store: Store) -> int:
    """The newest stored post's rowid (0 for an empty store)."""
    return int(store.db.execute("SELECT coalesce(max(rowid), 0) FROM posts").fetchone()[0])


def stale_rules(store: Store, rules: Sequence[Rule], upto: int,
                groups: Mapping[str, Iterable[str | int]] | None = None) -> list[Stale]:
    """The enabled rules that some stored post up to rowid `upto` was not matched with as it is now."""
    covered = {r: (d, t) for r, d, t in store.db.execute("SELECT rule, digest, through FROM rule_coverage")}
    out = []
    for rule in rules:
        if not rule.enabled:
            continue
        digest, through = covered.get(rule.name, (None, 0))
        now = rule_digest(rule, groups)
        same = digest == now
        through = through if same else 0
        if through < upto:
            upgraded = digest is not None and not same and _rule_part(digest) == _rule_part(now)
            out.append(Stale(rule.name, through, changed=digest is not None and not same and not upgraded, upgraded=upgraded,
                             new=digest is None))
    return out


def advance_coverage(store: Store, versions: Mapping[str, RuleVersion], before: int, after: int) -> None:
    """In the transaction that stored the posts `before` < rowid <= `after`, every one matched with the
    rules of `versions` (`rule_versions`): a rule that covered every post up to `before` as it is
    now covers these too (one that did not keeps its gap, for `rematch` to fill)."""
    if after <= before:
        return
    now = utcnow()
    if before == 0:  # the first posts of a store: nothing before them to have missed
        store.db.conn.executemany(_RECORD, [(rule, *version, after, now) for rule, version in versions.items()])
        return
    store.db.conn.executemany(
        "UPDATE rule_coverage SET through = ?, updated_at = ? WHERE rule = ? AND digest = ? AND through >= ?",
        [(after, now, rule, version.digest, before) for rule, version in versions.items()])


def uncover_edits(store: Store, versions: Mapping[str, RuleVersion], keys: Iterable[tuple[int, int]]) -> None:
    """In the transaction that stored edits of these posts ((channel id, message id) each), matched with
    the rules of `versions` alone: every other rule covers only the posts before the first of them (an
    edit is marked not current in every rule's matches; a rule out of use meanwhile has not read it, and
    `rematch` matches it again once the rule is back)."""
    rowids = [row[0] for key in keys
              if (row := store.db.execute("SELECT rowid FROM posts WHERE channel_id = ? AND message_id = ?", key).fetchone())]
    if not rowids:
        return
    first, now = min(rowids), utcnow()
    store.db.conn.executemany("UPDATE rule_coverage SET through = ?, updated_at = ? WHERE rule = ?", [
        (first - 1, now, rule) for rule, digest in store.db.execute("SELECT rule, digest FROM rule_coverage WHERE through >= ?", [first])
        if rule not in versions or versions[rule].digest != digest])


def record_coverage(store: Store, rules: Sequence[Rule], through: int,
                    groups: Mapping[str, Iterable[str | int]] | None = None) -> None:
    """Record that every stored post up to rowid `through` was matched with these rules as they are."""
    now = utcnow()
    with store.transaction():
        store.db.conn.executemany(_RECORD, [(rule, *version, through, now) for rule, version
                                            in rule_versions([r for r in rules if r.enabled], groups).items()])


def rematch(store: Store, rules: Sequence[Rule], stale: Sequence[Stale], upto: int, *,
            groups: Mapping[str, Iterable[str | int]] | None = None, alert_state: str = "queued",
            since: datetime | None = None, progress: Callable[[int], None] | None = None) -> Rematch:
    """Match the stored posts up to rowid `upto` (dated `since` or later) that each stale rule has not
    seen as it is now: record its current matches, mark the ones it no longer makes as not current
    (kept, as an edit's are), and queue one alert per story and rule, as the pipeline does. With
    `since`, a changed rule then covers no stored post (the older ones are the next whole replay's).
    `progress(n)` is told of each batch of n posts."""
    todo = {s.rule: s for s in stale}
    matcher = Matcher([r for r in rules if r.name in todo], groups=groups)
    result = Rematch(why={s.rule: "changed" if s.changed else "upgrade" if s.upgraded else "new" if s.new else "behind"
                          for s in stale})
    if not matcher.rules:
        return result
    low = min(s.through for s in todo.values())
    sql = ("SELECT p.rowid, p.channel_id, p.message_id, p.date, p.text, p.link, c.title, c.username, p.entities, "
           "p.story_id, p.text_hash FROM posts p LEFT JOIN channels c ON c.id = p.channel_id WHERE p.rowid > ? AND p.rowid <= ?"
           + (" AND p.date >= ?" if since else "") + " ORDER BY p.rowid LIMIT ?")
    versions = rule_versions(matcher.rules, groups)
    if since is not None:  # the posts before `since` keep what the rule as it was made of them, those after
        # get what it makes now: recorded as covering none, as it is now, so the next whole replay matches
        # every post again, with this version or any other (one changed back included)
        with store.transaction():
            store.db.conn.executemany(_RECORD, [(s.rule, *versions[s.rule], 0, utcnow()) for s in stale
                                                if (s.changed or s.upgraded) and s.rule in versions])
    while True:
        rows = store.db.execute(sql, [low, upto, *([iso(since)] if since else []), BATCH]).fetchall()
        if not rows:
            return result
        low = rows[-1][0]
        found = _match_rows(matcher, todo, rows)  # (before the write lock: live posts are stored meanwhile)
        with store.transaction():
            _write_batch(store, todo, rows, found, alert_state, result)
            if since is None:  # every post up to this batch's last is matched with these rules as they are
                # now: a run stopped here (or undone by a change back) resumes from what it wrote
                store.db.conn.executemany(_RECORD, [(name, *versions[name], low, utcnow()) for name, st in todo.items()
                                                    if low > st.through and name in versions])
        if progress:
            progress(len(rows))


class Stopped(Exception):
    """`catch_up` was asked to stop (its batches so far are stored, and counted as covered: the next one resumes)."""


def catch_up(store: Store, rules: Sequence[Rule], *, groups: Mapping[str, Iterable[str | int]] | None = None,
             alert_state: str = "muted", stop: Callable[[], bool] = lambda: False) -> Rematch:
    """Match every stored post with the enabled rules that have not seen it as they are now, and
    record that they cover the store: what the live service does after its rules change, while it
    goes on storing posts. A first pass runs beside the pipeline; the posts the pipeline stored
    meanwhile (matched with the new rules, but not counted as covered) are matched in a second,
    under the write lock, so that from then on the pipeline keeps the rules' coverage up to date
    batch by batch. `stop()` is asked after each batch: True raises `Stopped`; each batch written
    counts as covered (`rematch`), so the next catch-up resumes after it."""
    def asked(_: int) -> None:
        if stop():
            raise Stopped

    result = Rematch()
    first = 0  # the first pass covered its rules up to this rowid
    for locked in (False, True):
        # the second pass fills only the gap after the first (a rule changed meanwhile by another
        # program is left whole to the next catch-up, never matched again under the lock)
        if locked and not [s for s in stale_rules(store, rules, last_rowid(store), groups) if s.through >= first]:
            break  # (nothing stored meanwhile: no lock taken)
        with store.transaction() if locked else nullcontext():
            upto = last_rowid(store)
            stale = [s for s in stale_rules(store, rules, upto, groups) if not locked or s.through >= first]
            first = upto
            if not stale:
                continue
            one = rematch(store, rules, stale, upto, groups=groups, alert_state=alert_state, progress=asked)
            for mine, theirs in ((result.posts, one.posts), (result.matched, one.matched),
                                 (result.dropped, one.dropped), (result.alerts, one.alerts)):
                mine.update(theirs)
            result.why = {**one.why, **result.why}  # (the first pass says why a rule was matched again)
            names = {s.rule for s in stale}
            record_coverage(store, [r for r in rules if r.name in names], upto, groups)
    return result


_Found = dict[int, tuple[set[str], list[Match], StoredPost]]  # rowid -> (rules due on the post, their matches, the post)


def _match_rows(matcher: Matcher, todo: Mapping[str, Stale], rows: Sequence[tuple[Any, ...]]) -> _Found:
    """The stale rules due on each post of a batch of stored posts, and their matches."""
    out: _Found = {}
    for rowid, cid, mid, date, text, link, title, username, entities, story_id, _ in rows:
        due = {name for name, s in todo.items() if rowid > s.through}
        if not due:
            continue
        post = StoredPost(cid, mid, date or "", text or "", link or "", title or str(cid), username or None,
                          stored_links(text or "", entities))
        out[rowid] = (due, [m for m in matcher.match(post) if m.rule in due], post)
    return out


def _write_batch(store: Store, todo: Mapping[str, Stale], rows: Sequence[tuple[Any, ...]],
                 found: _Found, alert_state: str, result: Rematch) -> None:
    """In the batch's transaction: the matches found, for the posts whose text and links are still
    what was matched (an edit stored meanwhile was matched by the pipeline that stored it); the matches the
    rules no longer make marked not current; one alert per story and rule."""
    now = utcnow()
    first, last = rows[0][0], rows[-1][0]
    hashes = dict(store.db.execute("SELECT rowid, text_hash FROM posts WHERE rowid >= ? AND rowid <= ?", [first, last]).fetchall())
    had = set(store.db.execute(  # the batch's current matches of the rules matched again
        "SELECT m.channel_id, m.message_id, m.rule FROM posts p JOIN matches m ON m.channel_id = p.channel_id "
        f"AND m.message_id = p.message_id WHERE p.rowid >= ? AND p.rowid <= ? AND m.current = 1 AND m.rule IN "
        f"({','.join('?' * len(todo))})", [first, last, *todo]).fetchall())
    gone: list[tuple[int, int, str]] = []
    for rowid, cid, mid, *_, story_id, text_hash in rows:
        if rowid not in found or hashes.get(rowid) != text_hash:  # (the hash covers the links behind words too)
            continue
        due, matches, post = found[rowid]
        result.posts.update(due)
        found_rules = {m.rule for m in matches}
        gone += [(cid, mid, r) for r in due - found_rules if (cid, mid, r) in had]
        if not matches:
            continue
        # write_matches and queue_alert take a Post but read only channel_id and message_id, which a StoredPost has
        store.write_matches(post, matches, now=now)  # type: ignore[arg-type]
        result.matched.update(found_rules)
        for m in matches:
            if story_id is not None and store.queue_alert(story_id, post, m, state=alert_state, now=now) is not None:  # type: ignore[arg-type]
                result.alerts[m.rule] += 1
    store.db.conn.executemany("UPDATE matches SET current = 0 WHERE channel_id = ? AND message_id = ? AND rule = ?", gone)
    result.dropped.update(r for _, _, r in gone)
