"""source -> post -> match -> story -> store -> alert: one function for replay and live posts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable, Iterator

from .match.matcher import Match, Matcher
from .post import Post
from .store.db import Store, utcnow
from .story import StoryIndex

__all__ = ["Pipeline", "Processed", "Summary"]


@dataclass
class Processed:
    """What happened to one post."""

    post: Post
    status: str  # new | edited | unchanged | old
    story_id: int | None = None
    matches: list[Match] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)
    update_ids: list[int] = field(default_factory=list)  # sent alerts of this story queued for an update


@dataclass
class Summary:
    read: int = 0
    new: int = 0
    edited: int = 0
    unchanged: int = 0
    too_old: int = 0
    matches: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    updates: int = 0

    def add(self, p: Processed) -> None:
        self.read += 1
        if p.status == "old":
            self.too_old += 1
        else:
            setattr(self, p.status, getattr(self, p.status) + 1)
        for m in p.matches:
            self.matches[m.rule] += 1
        self.alerts += len(p.alert_ids)
        self.updates += len(p.update_ids)


class Pipeline:
    """Stores posts idempotently, folds new ones into stories (`StoryIndex`), matches new and
    edited ones, queues one alert per story x rule; a story that grows after its alert was sent
    queues an update of that alert instead of a new one.

    Batches commit atomically: a crash loses at most the batch in flight, never stored data,
    and the alert is queued in the same transaction as the match that caused it.
    """

    def __init__(self, store: Store, matcher: Matcher, *, alert_state: str = "queued",
                 since: datetime | None = None, window_hours: float = 48.0) -> None:
        self.store = store
        self.matcher = matcher
        self.alert_state = alert_state
        self.since = since
        self.stories = StoryIndex(store, window_hours)
        self.summary = Summary()

    def process(self, posts: Iterable[Post], *, batch_size: int = 500,
                on_batch: Callable[[list[Processed]], None] | None = None, in_order: bool = True,
                alert_after: datetime | None = None) -> Iterator[Processed]:
        """Process posts in batches; yields each post's outcome after its batch is committed.

        `in_order`: the posts are each channel's history read without gaps, so the channel's
        high-water mark may advance to them; live events pass False (a post pushed after a
        silent gap must not hide the gap from the next history poll). `alert_after`: posts dated
        before it are matched and stored with their alerts muted, never pushed."""
        batch: list[Post] = []
        for post in posts:
            batch.append(post)
            if len(batch) >= batch_size:
                yield from self._commit(batch, on_batch, in_order, alert_after)
                batch = []
        if batch:
            yield from self._commit(batch, on_batch, in_order, alert_after)

    def _commit(self, batch: list[Post], on_batch: Callable[[list[Processed]], None] | None,
                in_order: bool = True, alert_after: datetime | None = None) -> list[Processed]:
        known = self.store.known_hashes([p.key for p in batch])
        out: list[Processed] = []
        now = utcnow()
        with self.store.transaction():
            channels: dict[int, tuple[Post, int]] = {}
            pending: list[tuple[object, ...]] = []  # new posts, written in one statement

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
                if prev is not None and prev[0] == post.text_hash:
                    out.append(Processed(post, "unchanged", prev[1]))
                    continue
                status = "new" if prev is None else "edited"
                story_id = self.stories.assign(post, prev[1] if prev else None)
                matches = self.matcher.match(post)
                edited = status == "edited"
                if edited:  # in order: a post new earlier in this batch is written before its edit
                    flush()
                    self.store.write_post(post, story_id, now=now, edited=True)
                else:
                    pending.append(self.store.post_row(post, story_id, now))
                self.store.write_matches(post, matches, now=now, edited=edited)
                alert_ids: list[int] = []
                update_ids: list[int] = []
                for m in matches:
                    state = self.alert_state if alert_after is None or post.date >= alert_after else "muted"
                    a = self.store.queue_alert(story_id, post, m, state=state, now=now)
                    if a is not None:
                        alert_ids.append(a)
                    elif status == "new" and (u := self.store.update_alert(story_id, m.rule, post, now=now)) is not None:
                        update_ids.append(u)
                known[post.key] = (post.text_hash, story_id)
                out.append(Processed(post, status, story_id, matches, alert_ids, update_ids))
            flush()
            for channel_id, (post, high) in channels.items():
                self.store.upsert_channel(channel_id, post.channel_title, post.channel_username)
                if in_order:
                    self.store.advance_high_water(channel_id, high)
            self.store.sync_search()
        self.stories.before_read = lambda: None  # nothing pending outside a batch
        for p in out:
            self.summary.add(p)
        if on_batch:
            on_batch(out)
        return out

