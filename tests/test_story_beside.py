"""The story index of a service sharing its store: the posts another connection stores between the
service's own batches fold into stories with the service's, however many it stored itself since."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.match.matcher import Matcher
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .test_live import DESERTION, DESERTION_2, MASH, NEUTRAL, SHOT


def story_of(store: Store, channel_id: int, message_id: int) -> int:
    return int(store.db.execute("SELECT story_id FROM posts WHERE channel_id = ? AND message_id = ?",
                                [channel_id, message_id]).fetchone()[0])


def test_a_post_another_connection_stored_between_own_batches_is_joined_by_its_copy(tmp_path: Path) -> None:
    path = tmp_path / "tgwatch.db"
    store = Store(path)
    pipeline = Pipeline(store, Matcher([]), window_hours=24)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    own = iter(range(1, 1000))

    def batch(n: int, hour: int) -> None:  # the service's own posts, nothing alike
        list(pipeline.process([Post(SHOT, i, start + timedelta(hours=hour, minutes=i % 60), f"{NEUTRAL}: №{i}, слово{i}")
                               for i in (next(own) for _ in range(n))], in_order=False))
    batch(10, 1)
    other = Store(path)  # a replay beside the service, on a connection of its own
    theirs = Pipeline(other, Matcher([]), window_hours=24)
    list(theirs.process([Post(MASH, 1, start + timedelta(hours=2), DESERTION)], in_order=False))
    theirs.close()
    other.close()
    for _ in range(3):
        batch(10, 3)
    list(pipeline.process([Post(SHOT, 900, start + timedelta(hours=4), DESERTION_2)], in_order=False))
    try:
        assert story_of(store, SHOT, 900) == story_of(store, MASH, 1)
    finally:
        pipeline.close()
        store.close()
