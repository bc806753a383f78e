"""Live: catch-up of more than a history page after a refused read; forwards, media-only posts and
service messages pushed live (the real TelegramClient against the offline fake Telegram)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .fake_telegram import FakeTelegram
from .test_live import DESERTION, NEUTRAL, SHOT, alerts, channels, running
from .telegram_fixtures import deliver_alone


def test_more_posts_than_a_history_page_while_stopped_are_all_recovered_once(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        fake.publish(SHOT, NEUTRAL)
        async with running(fake, tmp_path, channels=("shot_shot",)) as service:
            assert service.store.count("posts") == 1
        for i in range(250):
            fake.publish(SHOT, f"{NEUTRAL} {i}", push=False)
        fake.publish(SHOT, DESERTION, push=False)
        fake.flood("GetHistoryRequest", 3600)  # the first catch-up read is refused: nothing may be skipped
        async with running(fake, tmp_path, channels=("shot_shot",)) as service:
            assert service.store.count("posts") == 1 and "flood wait" in service.ingest.failing[SHOT]
            service.user._flood_waited_requests.clear()  # the hour has passed
            await service.poll()
            assert service.store.count("posts") == 252
            await service.poll()
            assert service.store.count("posts") == 252 and len(alerts(fake)) == 2  # desertion and regiment
            assert service.store.high_water(SHOT) == max(m.id for m in fake.messages(SHOT))
    asyncio.run(go())


def test_live_forwards_media_only_and_service_messages(fake: FakeTelegram, tmp_path: Path) -> None:
    from telethon.tl import types as tl

    from .fake_telegram import _now, eventually, roundtrip
    from .test_live import MASH

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            orig = fake.publish(MASH, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            fwd = fake.publish(SHOT, DESERTION, fwd_from=(MASH, orig))
            photo = fake.publish(SHOT, "", media=True)
            ch = fake._channels[SHOT]
            mid, ch.next_id = ch.next_id, ch.next_id + 1
            ch.pts += 1
            svc = roundtrip(tl.MessageService(id=mid, peer_id=tl.PeerChannel(SHOT), date=_now(), post=True,
                                               action=tl.MessageActionPinMessage()))
            ch.messages[mid] = svc
            ch.log.append([ch.pts, "new", mid])
            fake._push_channel(SHOT, [tl.UpdateNewChannelMessage(svc, ch.pts, 1)])
            await eventually(lambda: service.store.count("posts") == 3)
            await service.poll()
            await deliver_alone(service)
            rows = {r["message_id"]: r for r in service.store.db.query("SELECT * FROM posts WHERE channel_id = ?", [SHOT])}
            assert rows[fwd]["forward_channel_id"] == MASH and rows[fwd]["forward_post_id"] == orig
            assert rows[photo]["media"] == "photo" and mid not in rows
            assert service.store.high_water(SHOT) == mid
            stories = {r["story_id"] for r in service.store.db.query("SELECT story_id FROM posts")}
            print(len(alerts(fake)), [m.text[:200] for m in alerts(fake)], stories)
    asyncio.run(go())
