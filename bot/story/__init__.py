"""Stories: the same event told by many posts. Every stored post belongs to one story."""

from __future__ import annotations

from .index import PRECISE_RULE, StoryIndex

__all__ = ["StoryIndex", "PRECISE_RULE"]
