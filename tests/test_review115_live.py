"""helper-115's review of the live watched_since work: a channel whose high-water mark a replayed
export set, then watched live for the first time. Real TelegramClient against tests/fake_telegram.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .fake_telegram import eventually
from .sample_store import shipped_matcher
from .telegram_fixtures import stop_service
from .test_live import DESERTION, NEUTRAL, SHOT, alerts, channels, notices, run, start


@pytest.mark.parametrize("replayed", [False, True])
def test_a_channel_seeded_by_a_replayed_export_does_not_alert_its_weeks_old_posts_as_news(fake, tmp_path: Path,
                                                                                          replayed: bool) -> None:
    """An analyst replays a month-old Telegram Desktop export of @shot_shot into the store, then
    starts `tgwatch run` watching it for the first time. Replay advanced the channel's high-water
    mark (in_order): the first poll reads every post since the export (none missed), but a post of
    20 days ago is old news: stored muted, as for a channel new to the store (only the day before
    `watched_since` alerts)."""

    async def go() -> None:
        channels(fake)
        old = datetime.now(timezone.utc) - timedelta(days=30)
        ids = [fake.publish(SHOT, f"{NEUTRAL} ({i})", date=old + timedelta(minutes=i), push=False) for i in range(3)]
        store = Store(tmp_path / "tgwatch.db" if replayed else tmp_path / "other.db")  # `tgwatch replay export/` of those three posts
        list(Pipeline(store, shipped_matcher()).process(
            [Post(channel_id=SHOT, message_id=m, date=old + timedelta(minutes=i), text=f"{NEUTRAL} ({i})",
                  channel_title="SHOT", channel_username="shot_shot") for i, m in enumerate(ids)]))
        store.close()
        fake.publish(SHOT, DESERTION, date=datetime.now(timezone.utc) - timedelta(days=20), push=False)  # old news
        service = await start(fake, tmp_path)
        try:
            await eventually(lambda: service.store.count("posts") == 4)
            assert {s for (s,) in service.store.db.execute("SELECT state FROM alerts")} == {"muted"}
            assert alerts(fake) == []
        finally:
            await stop_service(service)
    run(go())


def test_a_channel_seeded_by_a_replayed_export_is_no_recovery_at_its_first_live_start(fake, tmp_path: Path) -> None:
    """An export replayed an hour ago, then `tgwatch run` watches the channel for the first time: the
    post made half an hour ago is its backfill, not a post of downtime (tgwatch never ran live), so
    no «recovered» notice, though the replay left the channel a high-water mark."""

    async def go() -> None:
        channels(fake)
        old = datetime.now(timezone.utc) - timedelta(days=30)
        first = fake.publish(SHOT, NEUTRAL, date=old, push=False)
        store = Store(tmp_path / "tgwatch.db")
        list(Pipeline(store, shipped_matcher()).process(
            [Post(channel_id=SHOT, message_id=first, date=old, text=NEUTRAL, channel_title="SHOT", channel_username="shot_shot")]))
        store.db.execute("UPDATE posts SET first_seen = ?", [(datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()])
        store.close()
        fake.publish(SHOT, f"{NEUTRAL} (2)", date=datetime.now(timezone.utc) - timedelta(minutes=30), push=False)
        service = await start(fake, tmp_path)
        try:
            await eventually(lambda: service.store.get_meta("live_alive_at") is not None)  # told what it recovered
            assert service.store.count("posts") == 2
            assert not [n for n in notices(fake) if "recovered" in n]
        finally:
            await stop_service(service)
    run(go())
