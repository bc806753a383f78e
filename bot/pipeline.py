"""source -> post -> match -> story -> store -> alert: one function for replay and live posts."""

from __future__ import annotations

import gc
import logging
import sqlite3
import threading
from collections import Counter, deque
from contextlib import contextmanager
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Callable, ClassVar, Collection, Iterable, Iterator

from .match.matcher import Match, Matcher
from .post import Post, content_hash
from .rematch import RuleVersion, advance_coverage, last_rowid, rule_versions, uncover_edits
from .store.db import Known, Store, iso, older_than_stored, utcnow
from .store.searchbuild import SearchBuild
from .story import StoryIndex
from .worker import BULK_GC_THRESHOLD, Work, Worker, work

__all__ = ["Matched", "Pipeline", "Processed", "Summary"]

log = logging.getLogger(__name__)

# New posts between two saves of the story word counts in a long run (a save writes ~0.5 MB
# for the corpus's 47k words; `close` saves the rest).
SAVE_WORDS_EVERY = 10_000

# New posts the search index may lag behind within one `process` call (a replay): indexed after each
# batch of 500, the corpus cost FTS5 1.7-2.1 s of CPU (a segment written and merged per batch),
# every 5,000 posts 0.9-1.1 s. The rest is indexed when the call ends; `search`, `export --search`
# and the chat's search index whatever is left before they read (`Store.sync_search`), so none
# misses a stored post, even of a run that stopped. (A search index built beside the replay, in a
# thread, is handed posts every `SearchBuild.CHUNK`: it costs this process nothing.)
SEARCH_EVERY = 5_000


@contextmanager
def _bulk_gc() -> Iterator[None]:
    """`worker.BULK_GC_THRESHOLD` while posts are processed, the old threshold after."""
    old = gc.get_threshold()
    gc.set_threshold(BULK_GC_THRESHOLD, *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


@dataclass
class Processed:
    """What happened to one post."""

    post: Post
    status: str  # new | edited | unchanged | stale (an older version than the stored one) | old
    story_id: int | None = None
    matches: list[Match] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)
    update_ids: list[int] = field(default_factory=list)  # sent alerts of this story queued for an update
    joined: str = ""  # how it joined an earlier story (`StoryIndex.last_joined`); "": it did not


@dataclass
class Matched:
    """A batch matched ahead of `Pipeline.process` (`Pipeline.match`, in a worker thread): the matcher
    it was matched with (whose rules' coverage the batch advances, though a reload replaced it since)
    and each post's `Work`, by post object (`id`)."""

    matcher: Matcher
    work: dict[int, Work] = field(default_factory=dict)


@dataclass
class Summary:
    """What a run did: versions read by status, and the posts each rule matched as last read."""

    read: int = 0
    new: int = 0
    edited: int = 0
    unchanged: int = 0
    too_old: int = 0
    stale: int = 0
    matches: Counter[str] = field(default_factory=Counter)  # rule -> posts it matches (a post and its edit: one)
    alerts: int = 0
    updates: int = 0
    # posts that joined an earlier story, by how: counted here, as each batch commits, not by the story
    # index, which starts again from the store after a batch rolled back (an interrupt) and forgets them
    joined: Counter[str] = field(default_factory=lambda: Counter({"forward": 0, "exact": 0, "near": 0}))
    # post -> the rules its last version matched: an edit read later takes back what the post counted
    # (the newest REMEMBERED matched posts: an edit of an older one counts as a post of its own)
    REMEMBERED: ClassVar[int] = 100_000
    _matched: dict[tuple[int, int], frozenset[str]] = field(default_factory=dict, repr=False)

    def add(self, p: Processed) -> None:
        self.read += 1
        if p.status == "old":
            self.too_old += 1
        elif p.status == "stale":
            self.stale += 1
        else:
            setattr(self, p.status, getattr(self, p.status) + 1)
        if p.status in ("new", "edited"):  # (only these are matched)
            self._recount(p.post.key, frozenset(m.rule for m in p.matches))
        self.alerts += len(p.alert_ids)
        self.updates += len(p.update_ids)
        if p.joined:
            self.joined[p.joined] += 1

    def _recount(self, key: tuple[int, int], rules: frozenset[str]) -> None:
        """Count the post for `rules`, no longer for those an earlier version read in this run matched."""
        before = self._matched.pop(key, frozenset())
        for rule in before - rules:
            self.matches[rule] -= 1
            if not self.matches[rule]:
                del self.matches[rule]
        for rule in rules - before:
            self.matches[rule] += 1
        if rules:
            self._matched[key] = rules
            if len(self._matched) > self.REMEMBERED:  # (the live service's pipeline lives for months)
                del self._matched[next(iter(self._matched))]


class Pipeline:
    """Stores posts idempotently, folds new ones into stories (`StoryIndex`), matches new and
    edited ones, queues one alert per story x rule; a story that grows after its alert was sent
    queues an update of that alert instead of a new one.

    Batches commit atomically: a crash loses at most the batches in flight, never stored data,
    and the alert is queued in the same transaction as the match that caused it.
    With `workers=1` (`worker.default_workers()`), a second process matches and prepares the next
    batches while this one stores the current one: the same results, 1.6x as fast on two cores
    (bench/replay.py). Close the pipeline (or use it as a context manager) to stop that process.
    """

    def __init__(self, store: Store, matcher: Matcher, *, alert_state: str = "queued",
                 since: datetime | None = None, window_hours: float = 48.0, workers: int = 0) -> None:
        self.store = store
        self.matcher = matcher
        self.alert_state = alert_state
        self.since = since
        self._window_hours = window_hours
        self.stories = StoryIndex(store, window_hours)
        self.summary = Summary()
        self.worker = self._start_worker(matcher) if workers > 0 else None
        self._names: dict[int, tuple[str, str | None]] = {}  # channel id -> (title, username) last known
        self._versions: tuple[Matcher, dict[str, RuleVersion]] | None = None  # the matcher's rules' `rule_versions`
        self._unindexed = 0  # new posts stored since the search index was last brought up to date
        self._build: SearchBuild | None = None  # the search index built beside a long replay (`_search_due`)
        self._build_asked = False  # whether this call of `process` has asked for one
        # one of the live service's threads matches at a time (posts, alerts' checks, the chat's /test),
        # so a costly post holds one thread, not the executor; each Matcher also locks its own word cache
        self.matching = threading.Lock()

    AHEAD = 2  # batches handed to the worker before the oldest is stored: evens out uneven batches
    # While the worker has not finished the oldest batch, this process reads and hands over the next
    # ones, up to this many in flight, rather than wait: the worker's first batches are slow (its
    # word caches are cold), and what this process reads then it need not read later, when it is
    # the longer path (its story step grows with the channels' density). 40 batches (20,000 posts):
    # the corpus replays in 4.16-4.27 s, against 4.35-4.70 s with 16 and 4.14-4.50 s with 48-64.
    MAX_AHEAD = 40

    @staticmethod
    def _start_worker(matcher: Matcher) -> Worker | None:
        try:
            return Worker(matcher)
        except Exception as e:  # fork refused (process limit, no /dev/shm): one process will do
            log.warning("no worker process (%s): matching in the main process", e)
            return None

    def close(self) -> None:
        """Save the story index's word counts and stop the worker process, if any."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None
        try:
            with self.store.transaction():
                self.stories.save_words()
        except sqlite3.Error as e:  # a closed or read-only store: the next run counts them again
            log.warning("story word counts not saved (%s)", e)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def to_match(self, posts: list[Post]) -> list[Post]:
        """The posts of a batch `match` should match before it is processed (`_todo`), named first as
        `process` names them. Reads the store: called on its thread."""
        self._name_all(posts)
        return self._todo(posts)

    def match(self, posts: list[Post], matcher: Matcher) -> Matched:
        """Match posts (`to_match`) with `matcher`, for `process(matched=)`: no store, so a worker thread
        does it while the event loop goes on (a post costly for one rule takes seconds)."""
        with self.matching:
            return Matched(matcher, dict(zip(map(id, posts), work(matcher, posts))))

    def process(self, posts: Iterable[Post], *, batch_size: int = 500,
                on_batch: Callable[[list[Processed]], None] | None = None, in_order: bool = True,
                alert_after: datetime | None = None,
                in_batch: Callable[[list[Processed]], object] | None = None,
                matched: Matched | None = None) -> Iterator[Processed]:
        """Process posts in batches; yields each post's outcome after its batch is committed.
        `on_batch` is told of each batch after its commit, `in_batch` inside its transaction (what it
        writes commits with the batch, or not at all).

        `in_order`: the posts are each channel's history read without gaps, so the channel's
        high-water mark may advance to them; live events pass False (a post pushed after a
        silent gap must not hide the gap from the next history poll). `alert_after`: posts dated
        before it (an edit: edited before it) are matched and stored with their alerts muted, never pushed. `matched`: the posts
        matched already (`match`), with a matcher that may since have been replaced: the batch is stored
        as matched with it (a post it lacks, one stored or changed meanwhile, is matched with it here)."""
        it = iter(posts)
        self._build_asked = False
        pending: deque[tuple[list[Post], list[Post], Future[list[Work]] | None]] = deque()  # oldest first
        try:
            with _bulk_gc():
                while batch := list(islice(it, batch_size)):
                    self._name_all(batch)  # before the worker matches them: a rule scoped to @channel reads the name
                    todo = self._todo(batch) if self.worker is not None and matched is None else []
                    pending.append((batch, todo, self._submit(todo) if todo else None))
                    while self._store_now(pending):
                        yield from self._commit_next(pending, on_batch, in_order, alert_after, in_batch, matched)
                while pending:
                    yield from self._commit_next(pending, on_batch, in_order, alert_after, in_batch, matched)
                if self._unindexed or self._build is not None:
                    self._sync_search(last=True)
        finally:
            if self._build is not None:  # stopped early (or as it waited for the build): indexed in place, later
                self._build.cancel()
                self._build = None

    def _store_now(self, pending: deque[tuple[list[Post], list[Post], Future[list[Work]] | None]]) -> bool:
        """Store the oldest pending batch now, rather than read the next one: always without a worker;
        with one, once `AHEAD` batches follow it and the worker is done with it (or `MAX_AHEAD` do)."""
        if self.worker is None:
            return bool(pending)
        future = pending[0][2] if pending else None
        return len(pending) > self.AHEAD and (future is None or future.done() or len(pending) > self.MAX_AHEAD)

    def _sync_search(self, last: bool = False) -> None:
        """Index the posts stored since the last time (`Store.sync_search`: never in a batch's
        transaction), or hand them to the search index built beside the replay (`_search_due`),
        which the `last` call puts in place; what it could not take, the store indexes then."""
        if self._build is not None:
            if not last:
                self._build.advance()
                self._unindexed = 0
                return
            self._build.finish()
            self._build = None  # (not before: a Ctrl-C as it waits has `process` cancel it)
        self.store.sync_search()
        self._unindexed = 0

    def _search_due(self) -> bool:
        """Is it time to index the posts stored since the last time? Every `SEARCH_EVERY` posts; with
        a worker process (a spare core) into a store whose search index is empty, a thread builds the
        index beside the replay (`SearchBuild`), from its first `SearchBuild.CHUNK` posts, and is
        handed every `SearchBuild.CHUNK` more."""
        if self._build is None and not self._build_asked and self.worker is not None \
                and self._unindexed >= SearchBuild.CHUNK:
            self._build_asked = True  # (once a call of `process`: an index not empty stays so)
            self._build = SearchBuild.beside(self.store.db.conn, self.store.path)
        return self._unindexed >= (SearchBuild.CHUNK if self._build is not None else SEARCH_EVERY)

    def _commit_next(self, pending: deque[tuple[list[Post], list[Post], Future[list[Work]] | None]],
                     on_batch: Callable[[list[Processed]], None] | None, in_order: bool,
                     alert_after: datetime | None, in_batch: Callable[[list[Processed]], object] | None,
                     matched: Matched | None = None) -> list[Processed]:
        batch, todo, future = pending.popleft()
        if future is not None and self.worker is not None:
            # balance the two processes: while this one waits for the worker, the worker leaves it the
            # posts' search readings, from its next post on (batches already handed over too: this
            # process may have read 40 ahead). They cost the same here as there; story preparation
            # costs twice as much here (its words looked up in the story index's shared table, its
            # text folded again): handing that over too made replay slower.
            self.worker.leave_readings(not future.done())
        done = self._done(todo, future) if future else matched.work if matched else None
        return self._commit(batch, on_batch, in_order, alert_after, done, in_batch, matched.matcher if matched else None)

    def _submit(self, todo: list[Post]) -> Future[list[Work]] | None:
        """Hand posts to the worker; None (do them here) when it has stopped."""
        assert self.worker is not None
        try:
            return self.worker.submit(todo)
        except Exception as e:  # BrokenProcessPool: the child died between two batches
            self._lost(e)
            return None

    def _lost(self, e: Exception) -> None:
        if self.worker is not None:  # said once: the batches already handed over fail the same way
            log.warning("worker process failed (%s): matching in the main process from here", e)
            self.close()

    def _todo(self, batch: list[Post]) -> list[Post]:
        """The posts of a batch worth sending to the worker: not too old, not stored unchanged
        (a guess: `_commit` decides again, and does what the worker was not sent)."""
        known = self.store.known_hashes([p.key for p in batch], {p.key for p in batch if not p.entities})
        todo = []
        for p in batch:
            if self.since and p.date < self.since:
                continue
            k = known.get(p.key)
            if k is None or (k.text_hash != p.text_hash and not older_than_stored(p, k)):
                todo.append(p)
        return todo

    def _done(self, todo: list[Post], future: Future[list[Work]]) -> dict[int, Work]:
        """The worker's results by post object; empty (all done here) when the worker failed."""
        try:
            done: dict[int, Work] = {}
            for p, w in zip(todo, future.result()):
                p.seed_text_hash(w.text_hash)  # hashed in the worker, not here
                done[id(p)] = w
            return done
        except Exception as e:  # a killed or broken worker: carry on in this process
            self._lost(e)
            return {}

    def _commit(self, batch: list[Post], on_batch: Callable[[list[Processed]], None] | None,
                in_order: bool = True, alert_after: datetime | None = None,
                done: dict[int, Work] | None = None,
                in_batch: Callable[[list[Processed]], object] | None = None,
                matcher: Matcher | None = None) -> list[Processed]:
        out: list[Processed] | None = None
        try:
            with self.store.transaction():
                out = self._store_batch(batch, in_order, alert_after, done, in_batch, matcher or self.matcher)
        except BaseException:
            if out is not None and self._stored(out):  # a Ctrl-C during the COMMIT surfaces once it is done
                self._committed(out)
                raise
            # the rollback took back the stories this batch started; the index, which names them,
            # starts again from the store (else a retry of these posts joins a story that is not
            # there and fails its foreign key, again and again)
            self.stories = StoryIndex(self.store, self._window_hours)
            raise
        finally:
            self.stories.before_read = lambda: None  # nothing pending outside a batch
        self._committed(out)
        if self._search_due():  # after the commit: the index is written in transactions of its own
            self._sync_search()
        if on_batch:
            on_batch(out)
        return out

    def _stored(self, out: list[Processed]) -> bool:
        """Was a batch whose transaction failed as it ended committed all the same? Its first new or edited
        post is stored as written. One that changed no post counts as stored: what it says holds either way."""
        changed = next((p for p in out if p.status in ("new", "edited")), None)
        if changed is None:
            return True
        try:
            k = self.store.known_hashes([changed.post.key]).get(changed.post.key)
        except sqlite3.Error:  # the store failed (not an interrupt): nothing is known to be committed
            return False
        return k is not None and k.text_hash == changed.post.text_hash and k.story_id == changed.story_id

    def _committed(self, out: list[Processed]) -> None:
        """Count a committed batch in the summary, before anything after its commit can be interrupted."""
        for p in out:
            self.summary.add(p)
        self._unindexed += sum(1 for p in out if p.status == "new")

    def _rule_versions(self, matcher: Matcher) -> dict[str, RuleVersion]:
        """A matcher's rules by name -> `rematch.RuleVersion` (worked out again when the matcher is replaced)."""
        if self._versions is None or self._versions[0] is not matcher:
            rules, groups = getattr(matcher, "rules", ()), getattr(matcher, "groups", None)  # (a stand-in may have none)
            self._versions = (matcher, rule_versions(rules, groups))
        return self._versions[1]

    def rules_in_use(self, matcher: Matcher | None = None) -> Collection[str] | None:
        """The names of a matcher's rules (default: the one in use; None: a stand-in without them): an
        alert of a rule out of use (switched off, removed) gets no story update, nor is taken over."""
        matcher = matcher or self.matcher
        return self._rule_versions(matcher).keys() if hasattr(matcher, "rules") else None

    def _name(self, post: Post) -> None:
        """Give a post that does not name its channel (a JSON Lines line without channel_title or
        channel_username) the names known from the channel's earlier posts or the store: its link,
        its alert, the channel row and rules scoped to the channel read them. A name is never
        taken away, as in the store. Done as posts are batched, in stream order, whether or not a
        worker matches them."""
        known = self._names.get(post.channel_id)
        if known is None:
            row = self.store.channel(post.channel_id)
            known = (str(row["title"] or ""), str(row["username"]) if row and row["username"] else None) if row else ("", None)
        post.channel_title = post.channel_title or known[0]
        post.channel_username = post.channel_username or known[1]
        self._names[post.channel_id] = (post.channel_title, post.channel_username)

    def _name_all(self, batch: list[Post]) -> None:
        for post in batch:
            if not (self.since and post.date < self.since):
                self._name(post)

    def _store_batch(self, batch: list[Post], in_order: bool, alert_after: datetime | None, done: dict[int, Work] | None,
                     in_batch: Callable[[list[Processed]], object] | None, matcher: Matcher) -> list[Processed]:
        """Write a batch in the caller's transaction; what happened to each post."""
        out: list[Processed] = []
        now = utcnow()
        # read under the write lock: a post another process (the live service beside a replay)
        # stored meanwhile is then an edit or unchanged here, never written over as new
        known = self.store.known_hashes([p.key for p in batch], {p.key for p in batch if not p.entities})
        before = last_rowid(self.store)  # (the write lock is held: the rowids after it are this batch's)
        channels: dict[int, tuple[Post, int]] = {}
        pending: list[tuple[object, ...]] = []  # new posts, written in one statement
        updated: set[int] = set()  # alerts this batch queued an update of
        edits: list[tuple[int, int]] = []  # stored posts this batch edited

        def flush() -> None:
            self.store.write_new_posts(pending)
            pending.clear()

        self.stories.before_read = flush  # the story index reads stored posts: write ours first
        for post in batch:
            if self.since and post.date < self.since:
                out.append(Processed(post, "old"))
                continue
            prev = known.get(post.key)
            last = channels.get(post.channel_id)
            channels[post.channel_id] = (post, max(post.last_id, last[1] if last else 0))
            if prev is not None and prev.text_hash == post.text_hash:
                out.append(Processed(post, "unchanged", prev.story_id))
                continue
            if prev is not None and older_than_stored(post, prev):  # the stored version stays
                out.append(Processed(post, "stale", prev.story_id))
                continue
            status = "new" if prev is None else "edited"
            work = done.get(id(post)) if done else None
            story_id = self.stories.assign(post, prev.story_id if prev else None, work.prepared if work else None)
            matches = work.matches if work else matcher.match(post)
            edited = status == "edited"
            if edited:  # in order: a post new earlier in this batch is written before its edit
                flush()
                self.store.write_post(post, story_id, now=now, edited=True, batch_after=before)
                edits.append(post.key)
            else:
                pending.append(self.store.post_row(post, story_id, now, work.folded if work else True))
            self.store.write_matches(post, matches, now=now, edited=edited)
            alert_ids: list[int] = []
            update_ids: list[int] = []
            # an edit is news when it is made: an old post edited since `alert_after` alerts
            news = alert_after is None or (post.edit_date if edited and post.edit_date else post.date) >= alert_after
            for m in matches:
                state = self.alert_state if news else "muted"
                a = self.store.queue_alert(story_id, post, m, state=state, now=now)
                if a is not None:
                    alert_ids.append(a)
            if self.stories.last_joined:  # an earlier story: its alerts, of every rule, say who else reported it
                for u in self.store.update_story_alerts(story_id, post, now=now, rules=self.rules_in_use(matcher)):
                    if u not in updated:  # one update per alert and batch, however many posts joined
                        updated.add(u)
                        update_ids.append(u)
            plain = work.plain_hash if work else content_hash(post.text) if post.links else None
            known[post.key] = Known(post.text_hash, story_id, iso(post.edit_date), bool(post.text), plain)
            out.append(Processed(post, status, story_id, matches, alert_ids, update_ids, self.stories.last_joined))
        flush()
        if in_batch is not None:
            in_batch(out)
        if edits:
            uncover_edits(self.store, self._rule_versions(matcher), edits)
        advance_coverage(self.store, self._rule_versions(matcher), before, last_rowid(self.store))
        self.stories.save_words(every=SAVE_WORDS_EVERY)  # a crash recounts at most these
        for channel_id, (post, high) in sorted(channels.items(), key=lambda c: c[1][0].date):  # the newer claim of a username wins
            self.store.upsert_channel(channel_id, post.channel_title, post.channel_username)
            if in_order:
                self.store.advance_high_water(channel_id, high)
        return out

