"""The store's small reads the chat answers from (mutes running, a channel to give as an example),
on a real SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.store.db import Mute, Store, iso


def test_channel_mutes_are_the_running_mutes_of_channels_soonest_end_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    now = "2024-11-20T12:00:00+00:00"
    store.mute("desertion", "2024-11-25T00:00:00+00:00")  # every channel: /rules shows it beside the rule
    store.mute("*", "2024-11-22T00:00:00+00:00", channel_id=2)
    store.mute("desertion", "2024-11-21T00:00:00+00:00", channel_id=1)
    store.mute("arrest", "2024-11-21T00:00:00+00:00", channel_id=1)
    store.mute("arrest", "2024-11-20T11:00:00+00:00", channel_id=3)  # over
    assert store.channel_mutes(now) == [Mute("arrest", 1, "2024-11-21T00:00:00+00:00"),
                                        Mute("desertion", 1, "2024-11-21T00:00:00+00:00"),
                                        Mute("*", 2, "2024-11-22T00:00:00+00:00")]
    assert store.channel_mutes("2024-11-23T00:00:00+00:00") == []


def test_newest_mute_by_is_the_users_latest_mute_still_running(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    before = iso(datetime.now(timezone.utc) - timedelta(minutes=1)) or ""
    now = iso(datetime.now(timezone.utc)) or ""
    store.mute("desertion", "2999-01-01T00:00:00+00:00", by_user=7)
    store.mute("*", "2999-01-01T00:00:00+00:00", channel_id=5, by_user=7)
    store.mute("arrest", "2000-01-01T00:00:00+00:00", by_user=7)  # made last, but over
    store.mute("drones", "2999-01-01T00:00:00+00:00", by_user=8)  # another analyst's
    assert store.newest_mute_by(7, now) == Mute("*", 5, "2999-01-01T00:00:00+00:00")
    assert store.newest_mute_by(7, now, since=before) == Mute("*", 5, "2999-01-01T00:00:00+00:00")
    assert store.newest_mute_by(7, now, since="2999-01-01T00:00:00+00:00") is None  # none made since then
    assert store.newest_mute_by(9, now) is None


def test_first_username_is_of_the_lowest_channel_id_that_has_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.first_username() is None
    store.upsert_channel(10, "Без имени", "")
    store.upsert_channel(30, "Alpha", "alpha")
    store.upsert_channel(20, "Mash", "mash")
    store.upsert_channel(5, "Только заголовок")
    assert store.first_username() == "mash"
