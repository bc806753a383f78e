"""Which post of its story an alert quotes: the one it was raised for while its rule matches it, else
the story's oldest other post the rule matches that its channel has not deleted (an edit took the
words out of one channel's report of the event, not out of the others'). Replay
(`outbox.deliver_queued`) and the live sender (`bot.live.retired`) aim their alerts here; the
matching reads no store (`first_matching`), so the live sender runs it in a worker thread."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from ..store.alerts import move_alert
from ..store.db import Store, utcnow
from ..store.read import StoredPost, stored_post, story_stored_posts

if TYPE_CHECKING:
    from ..match.matcher import Matcher

__all__ = ["aim", "first_matching", "matching_post", "no_longer_matches", "others"]

log = logging.getLogger(__name__)


def no_longer_matches(store: Store, rule: str, key: tuple[int, int], matcher: Matcher) -> bool:
    """True when `matcher` (the rules in use) no longer matches the stored post `key` with `rule`: the
    post (or the rule) was edited after the alert was queued, so its text and hits are not what matched.
    False while it matches, and when the post is no longer stored."""
    post = stored_post(store, *key)
    return post is not None and first_matching([post], rule, matcher) is None


def others(store: Store, story_id: int, key: tuple[int, int]) -> list[StoredPost]:
    """The posts of story `story_id` an alert aimed at `key` may quote instead: every other one its
    channel has not deleted, oldest first (a big story's one other report may be its 500th post)."""
    return [p for p in story_stored_posts(store, story_id) if (p.channel_id, p.message_id) != key]


def first_matching(posts: Iterable[StoredPost], rule: str, matcher: Matcher) -> StoredPost | None:
    """The first of `posts` `matcher` matches with `rule`; reads no store (a worker thread may run it)."""
    return next((p for p in posts if any(m.rule == rule for m in matcher.match(p))), None)


def matching_post(store: Store, rule: str, story_id: int, key: tuple[int, int], matcher: Matcher) -> StoredPost | None:
    """The post of story `story_id` an alert of `rule` aimed at `key` is to quote now: that one while
    `matcher` matches it with `rule`, else the first of `others` it matches; None when no post of the
    story matches any more. `key` itself when it is no longer stored."""
    post = stored_post(store, *key)
    if post is None or first_matching([post], rule, matcher) is not None:
        return post
    return first_matching(others(store, story_id, key), rule, matcher)


def aim(store: Store, row: Mapping[str, object], post: StoredPost, owner: str) -> bool:
    """Aim the queued alert `row` at `post` (`matching_post`), while it is still aimed where `row`
    says and held by `owner` (the store's owner, or a replay's claim: `bot.store.claims`), so its
    message quotes that post with that post's hits; one log line. False when it moved meanwhile."""
    key = (int(row["channel_id"]), int(row["message_id"]))  # type: ignore[call-overload]
    if not move_alert(store, int(row["id"]), key, (post.channel_id, post.message_id), owner=owner, now=utcnow()):  # type: ignore[call-overload]
        return False
    log.info("alert %s (%s, story %s): post %d of channel %d no longer matches; it quotes post %d of channel %d",
             row["id"], row["rule"], row["story_id"], key[1], key[0], post.message_id, post.channel_id)
    return True
