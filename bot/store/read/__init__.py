"""Streaming read queries over the store: export rows, stored posts, stories, full-text search.

Every reader here iterates an SQLite cursor row by row (never `fetchall`), so memory stays
constant however large the store is. Dates are compared as the ISO 8601 UTC strings the store
writes (`2024-11-20T09:04:00+00:00`).

The readers the CLI, the chat and the exports share, each in a module of its own, in the order
a question flows: `resolve` (the channels and rules a user names), `links` (how a post is named),
`storedposts` and `storedrange` (the posts, the dates they span), `storylist` and `storydetail`
(stories), search as `querytext` (the typed words read) -> `querybuild` (the FTS5 query) ->
`ftsquery` (what it keeps and highlights) -> `search` (run over the index), and `exportrows`.
Every public name is importable from here, as before; a private one (`_query_pieces`, `_stems`)
from its own module only.
"""

from __future__ import annotations

from .resolve import AmbiguousChannel, channel_names, resolve_channels, resolve_rules, rule_names
from .links import shown_link
from .storedposts import StoredPost, count_posts, iter_posts, stored_post, story_stored_posts
from .storedrange import OutsideStored, outside_stored, stored_range
from .storylist import StoryRow, count_stories, iter_stories, top_stories
from .storydetail import StoryPost, iter_story_posts, recorded_span, story_detail
from .querytext import SearchError
from .querybuild import fts_query
from .ftsquery import FtsQuery
from .search import IN_LINKS, SearchHit, count_search, search_posts
from .exportrows import EXPORT_FIELDS, iter_export_rows

__all__ = [
    "AmbiguousChannel", "channel_names", "resolve_channels", "resolve_rules", "rule_names",
    "shown_link",
    "StoredPost", "count_posts", "iter_posts", "stored_post", "story_stored_posts",
    "OutsideStored", "outside_stored", "stored_range",
    "StoryRow", "count_stories", "iter_stories", "top_stories",
    "StoryPost", "iter_story_posts", "recorded_span", "story_detail",
    "SearchError", "fts_query", "FtsQuery",
    "IN_LINKS", "SearchHit", "count_search", "search_posts",
    "EXPORT_FIELDS", "iter_export_rows",
]
