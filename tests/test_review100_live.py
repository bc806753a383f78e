"""helper-100: the watching client's catch-up (f803c68, `catch_up=True`) and a newly watched channel."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path


from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, stop_service
from .test_live import DESERTION, NEUTRAL, TOPOR, alerts, channels, run, start


def test_a_newly_watched_channels_old_post_the_backfill_left_out_does_not_alert(fake: FakeTelegram, tmp_path: Path,
                                                                              fast_updates: None) -> None:
    """Topor is joined but not watched; the client learns its pts from a push, and saves it at the
    stop. While stopped, Topor is added to the config and posts a desertion three days ago, then
    60 more. The start-up poll backfills its last 50 (the desertion is left out, as a backfill
    leaves out posts older than its last 50, and would only have stored it muted: older than a day).
    Topor's next push makes Telethon ask for the difference since the saved pts: the desertion
    comes as a live NewMessage, is stored as new and alerts, three days late. (With catch_up=False,
    as before f803c68, it never comes: Telethon takes the push as Topor's start.)"""
    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path, channels=("shot_shot", "mash"))
        try:
            fake.publish(TOPOR, NEUTRAL)  # pushed: the client now keeps Topor's pts
            await service.poll()
        finally:
            await stop_service(service)
        old = datetime.now(timezone.utc) - timedelta(days=3)
        deserter = fake.publish(TOPOR, DESERTION, date=old, push=False)
        for i in range(60):
            fake.publish(TOPOR, f"{NEUTRAL} ({i})", date=old + timedelta(minutes=i + 1), push=False)
        service = await start(fake, tmp_path, channels=("shot_shot", "mash", "topor"))
        try:
            await deliver_alone(service)
            assert alerts(fake) == []  # the backfill: the last 50, none of them a match
            last = fake.publish(TOPOR, NEUTRAL + "!")  # Topor's first push: Telethon asks what it missed
            await eventually(lambda: service.store.known_hashes([(TOPOR, last)]))
            await eventually(lambda: service.store.known_hashes([(TOPOR, deserter)]))  # the difference's posts, one event each
            await deliver_alone(service)
            assert alerts(fake) == []
        finally:
            await stop_service(service)
    run(go())
