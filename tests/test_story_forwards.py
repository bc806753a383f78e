"""Forwards read out of order: an original, or a second forward, replayed after the posts that forward
it joins their story, whatever the gap, and its rules do not alert the event twice."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli import cli

ROOT = Path(__file__).resolve().parents[1]
ORIGIN, FIRST, SECOND = 1700000001, 1700000002, 1700000003
DAY = 86400
T0 = 1790000000
HIT = "В Краснодаре задержали двух дезертиров, сбежавших из воинской части"  # desertion and regiment


def feed(path: Path, channel: int, mid: int, unix: int, text: str, **extra: Any) -> Path:
    path.write_text(json.dumps({"channel_id": channel, "message_id": mid, "date": unix, "text": text,
                                "channel_title": f"Канал {channel}", **extra}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return path


def replay(db: Path, alerts: Path, source: Path) -> None:
    r = CliRunner().invoke(cli, ["replay", str(source), "--db", str(db), "--rules", str(ROOT / "rules"),
                                 "--alerts", str(alerts)])
    assert r.exit_code == 0, r.output


def story_of(db: Path, channel: int, mid: int) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute("SELECT story_id FROM posts WHERE channel_id = ? AND message_id = ?", [channel, mid]).fetchone()[0])


def alert_count(*files: Path) -> int:
    return sum(1 for f in files if f.exists() for x in f.read_text(encoding="utf-8").splitlines()
               if x.strip() and not json.loads(x).get("update"))


def test_two_forwards_of_a_post_never_stored_share_a_story_ten_days_apart(tmp_path: Path) -> None:
    """Two channels repost one post of a channel nobody watches, ten days apart (beyond the 48 h
    window of the same-text path): one event, one alert per rule."""
    db = tmp_path / "t.db"
    replay(db, tmp_path / "a1.jsonl", feed(tmp_path / "f1.jsonl", FIRST, 7, T0, HIT,
                                           forward_channel_id=ORIGIN, forward_post_id=5))
    replay(db, tmp_path / "a2.jsonl", feed(tmp_path / "f2.jsonl", SECOND, 9, T0 + 10 * DAY, HIT,
                                           forward_channel_id=ORIGIN, forward_post_id=5))
    assert story_of(db, FIRST, 7) == story_of(db, SECOND, 9)
    assert alert_count(tmp_path / "a1.jsonl", tmp_path / "a2.jsonl") == 2  # desertion and regiment, once each


def test_an_original_whose_forwards_sit_in_two_stories_joins_the_one_that_alerted(tmp_path: Path) -> None:
    """Forwards stored apart (by a version before forwards were looked up both ways): the earlier one
    alerted nothing, the later one alerted. The original read now joins the alerted story, so its
    rules' alerts are not sent again for one event."""
    db = tmp_path / "t.db"
    replay(db, tmp_path / "a1.jsonl", feed(tmp_path / "f1.jsonl", FIRST, 7, T0 + DAY, "Фото с места событий, подробности позже",
                                           forward_channel_id=ORIGIN, forward_post_id=99))
    replay(db, tmp_path / "a2.jsonl", feed(tmp_path / "f2.jsonl", SECOND, 9, T0 + 10 * DAY, HIT,
                                           forward_channel_id=ORIGIN, forward_post_id=5))
    with sqlite3.connect(db) as c:  # the first forward's original was 5 too: stored apart, as before the fix
        c.execute("UPDATE posts SET forward_post_id = 5 WHERE channel_id = ?", [FIRST])
    assert story_of(db, FIRST, 7) != story_of(db, SECOND, 9)
    replay(db, tmp_path / "a3.jsonl", feed(tmp_path / "o.jsonl", ORIGIN, 5, T0, HIT))
    assert story_of(db, ORIGIN, 5) == story_of(db, SECOND, 9)
    assert alert_count(tmp_path / "a1.jsonl", tmp_path / "a2.jsonl", tmp_path / "a3.jsonl") == 2


def test_the_live_service_files_an_original_with_its_forward_a_replay_stored_beside_it(tmp_path: Path) -> None:
    """The live service runs; an analyst's replay (its own connection) stores a repost of a post the
    service has not seen. When the service then reads that post (a catch-up), it joins the repost's
    story, as a fresh process would file it: the running index learns what the replay's posts forward."""
    from datetime import datetime, timedelta, timezone

    from bot.match.matcher import Matcher
    from bot.match.rules import load_rules
    from bot.pipeline import Pipeline
    from bot.post import Post
    from bot.store.db import REPLAY, Store

    now = datetime.now(timezone.utc).replace(microsecond=0)
    matcher = Matcher(load_rules(ROOT / "rules"))
    db = tmp_path / "t.db"
    service, analyst = Store(db), Store(db, owner=REPLAY)
    with Pipeline(service, matcher) as live, Pipeline(analyst, matcher) as replayed:
        list(live.process([Post(SECOND, 1, now - timedelta(days=5), "Курс доллара на бирже вырос до 105 рублей")]))
        repost = Post(FIRST, 7, now - timedelta(hours=1), HIT, forward_channel_id=ORIGIN, forward_post_id=5)
        list(replayed.process([repost]))
        list(live.process([Post(ORIGIN, 5, now - timedelta(days=4), "Задержаны двое беглецов: подробности")]))
    assert story_of(db, ORIGIN, 5) == story_of(db, FIRST, 7)
    service.close()
    analyst.close()
