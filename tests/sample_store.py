"""A store built from the bundled sample plus hand-made posts, by the real pipeline; one build
per module, a fresh copy of the file per test."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline, Processed
from bot.post import Post
from bot.source import Skip, read_paths
from bot.store.db import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "export"

# A channel with a public username (the sample's exports have none), on a day of its own.
KUBAN = 1800000001


@lru_cache(maxsize=1)
def shipped_matcher() -> Matcher:
    """The shipped rules, compiled once per test run (compiling takes seconds)."""
    return Matcher(load_rules(ROOT / "rules"))


def utc(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=timezone.utc)


def hand_made() -> list[Post]:
    """Posts the sample lacks: a username, ё, a forward by id and by name, a later edit."""
    kw = dict(channel_id=-1000000000000 - KUBAN, channel_title="Кубань Онлайн", channel_username="Kuban_Online")
    return [
        Post(message_id=501, date=utc(23, 9), text="Под Краснодаром задержали дезертира, самовольно оставившего часть.", **kw),
        Post(message_id=502, date=utc(23, 10), text="Ёлку на главной площади установят в пятницу.", **kw),
        Post(message_id=503, date=utc(23, 11), text="Срочник сбежал из части с автоматом — его ищет полиция.",
             forward_channel_id=1700000001, forward_post_id=48217, **kw),
        Post(message_id=504, date=utc(23, 12), text="Дезертирство: возбуждено уголовное дело.",
             forward_name="Иван Петров", **kw),
    ]


@dataclass
class Sample:
    """A store file built from the bundled sample and the hand-made posts, and what the pipeline did."""

    db: Path
    processed: list[Processed]

    def matched(self, rule: str | None = None) -> list[Processed]:
        """The posts whose latest version matched (`rule`, or any rule)."""
        last = {p.post.key: p for p in self.processed if p.status != "unchanged"}
        return [p for p in last.values() if p.matches and (rule is None or any(m.rule == rule for m in p.matches))]


def build(path: Path) -> Sample:
    posts = [p for p in read_paths([SAMPLE]) if not isinstance(p, Skip)] + hand_made()
    edit = hand_made()[0]
    edit.text += " Позже его отпустили."
    edit.edit_date = utc(23, 15)
    store = Store(path)
    try:
        pipeline = Pipeline(store, shipped_matcher())
        processed = list(pipeline.process(posts)) + list(pipeline.process([edit]))
        store.sync_search()  # the edit re-indexed, as the next search does first
    finally:
        store.close()
    assert not Path(f"{path}-wal").exists()  # closed cleanly: the file alone is the whole store
    return Sample(path, processed)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return build(tmp_path_factory.mktemp("template") / "tg.db")


@pytest.fixture
def sample(built: Sample, tmp_path: Path) -> Sample:
    """Each test gets its own copy of the store file the pipeline built (building takes a while)."""
    db = tmp_path / "tg.db"
    shutil.copyfile(built.db, db)
    return Sample(db, built.processed)


def prune_part_of_a_story(store: Store) -> tuple[int, int, int]:
    """Make one post of the largest story an unmatched one no alert refers to, then prune as
    retention does: returns (story id, posts it had, posts kept)."""
    sid, size, cid, mid = store.db.execute(
        "SELECT s.id, s.size, p.channel_id, p.message_id FROM stories s JOIN posts p ON p.story_id = s.id "
        "WHERE s.size >= 2 AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.channel_id = p.channel_id "
        "AND a.message_id = p.message_id) ORDER BY s.size DESC, s.id").fetchone()
    with store.transaction():  # as if it had matched nothing
        store.db.execute("DELETE FROM matches WHERE channel_id = ? AND message_id = ?", [cid, mid])
    assert store.prune("9999-01-01T00:00:00+00:00") > 0
    kept = store.db.execute("SELECT count(*) FROM posts WHERE story_id = ?", [sid]).fetchone()[0]
    assert kept < size
    return sid, size, kept
