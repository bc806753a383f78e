"""halbum (review 117): the 1-day rule for a channel never read in order, on the live path of an
album item pushed late (after its album's Album event stored the album), through the real
TelegramClient and the fake server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from telethon.tl import types as tl

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, NEUTRAL, SHOT, alerts, channels, run, running
from .telegram_fixtures import deliver_alone


def test_an_old_album_completed_by_a_late_item_of_a_channel_never_read_does_not_alert(fake: FakeTelegram, tmp_path: Path,
                                                                                      fast_updates: None) -> None:
    """SHOT is newly watched and its first read has not happened (an hour's flood wait on history).
    Telegram pushes a three-day-old album (as a start-up difference brings posts of any age): its
    first two items make the Album event, stored, not sent (older than the day before tgwatch began
    watching). Its last item, carrying a desertion caption, comes in an update of its own after the
    Album event: the album is read again whole and matches now, yet it is the same old album. It
    alerts no one, as the album would not have had it come in one update."""
    async def go() -> None:
        channels(fake)
        fake.flood("GetHistoryRequest", 3600)  # the start-up read stops at its first channel: none is read
        async with running(fake, tmp_path) as service:
            assert service.store.high_water(SHOT) is None
            fake.publish(SHOT, NEUTRAL)  # Telethon learns the channel's pts
            await eventually(lambda: service.store.count("posts") == 1)
            old = datetime.now(timezone.utc) - timedelta(days=3)
            made = [fake._new_post(SHOT, text, None, 4747, None, True, old) for text in ("", "", DESERTION)]
            fake._push_channel(SHOT, [tl.UpdateNewChannelMessage(m, pts, 1) for m, pts in made[:2]])
            await eventually(lambda: service.store.count("posts") == 2)  # the Album event of two items
            fake._push_channel(SHOT, [tl.UpdateNewChannelMessage(made[2][0], made[2][1], 1)])
            await eventually(lambda: [r["text"] for r in service.store.db.query(
                "SELECT text FROM posts WHERE media = 'album'")] == [DESERTION])  # the late item was taken
            await deliver_alone(service)
            assert service.store.high_water(SHOT) is None  # still never read in order
            assert alerts(fake) == []
            assert {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"muted"}  # kept, not news
    run(go())
