"""A store an older tgwatch wrote, mended before today's migrations run on it (`bot.store.schema.repair`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.store.db import Store
from bot.store.read import search_posts

from .test_review147_upgrade import WHEN, first_release_store, post


def test_an_edit_on_a_store_of_the_first_release_leaves_its_old_words_unfound(tmp_path: Path) -> None:
    """The first release's store kept its search index by triggers: left in place, they index each
    post again beside today's bulk indexing, and an edited post stays found by the words it lost."""
    path = tmp_path / "v1.db"
    first_release_store(path)
    store = Store(path)
    edit = post(1, "В Туле задержан дезертир")
    edit.edit_date = WHEN + timedelta(hours=1)
    assert [p.status for p in Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process([edit])] == ["edited"]
    assert [h.message_id for h in search_posts(store, "подольске")] == [2]
    assert [h.message_id for h in search_posts(store, "туле")] == [1]
    store.db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")  # the index against the posts
    store.close()
