"""Stories: the same event told by many posts. Every stored post belongs to one story."""

from __future__ import annotations

from ..post import Post
from ..store.db import Store

from .index import PRECISE_RULE, StoryIndex

__all__ = ["StoryAssigner", "StoryIndex", "PRECISE_RULE"]


class StoryAssigner:
    """Gives each new post a story. This baseline folds only what is certainly the same post
    (an edit of a stored post keeps its story); `StoryIndex` folds forwards, copies and rewordings."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def assign(self, post: Post, known_story: int | None) -> int:
        if known_story is not None:
            return known_story
        return self.store.new_story(post)
