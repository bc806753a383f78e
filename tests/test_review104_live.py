"""helper-104 (hlive): the live path across a restart, end to end through the real TelegramClient
and the fake server: what Telegram's start-up difference brings, and the notice of the posts found
at start."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.live.service import Service
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, hold_clock_jobs, stop_service
from .test_live import (DESERTION, DESERTION_2, MASH, NEUTRAL, OPTIONS, SHOT, TOPOR, alerts, channels, config, notices,
                        run, start)
from .test_live_sender_faults import digests, low_rules, refuse_sends
from .test_review97_chat import weather_reports


async def start_slowly(fake: FakeTelegram, tmp_path: Path) -> Service:
    """A service started as `tgwatch run` starts it, whose login check Telegram answers only once
    the client has nothing more to ask: Telethon's start-up catch-up (getDifference, then the
    differences of the channels it announces) has run as far as it can before the handlers are
    put in place, as it does on a real connection, where resolving the channels takes seconds."""
    login = fake.hold("GetStateRequest")  # what `is_user_authorized` asks of a restarted client
    user = await fake.client(session=tmp_path / "user.session", **OPTIONS)
    service = Service(config(tmp_path), Store(tmp_path / "tgwatch.db"), user, scheduler=AsyncIOScheduler(timezone=timezone.utc))
    starting = asyncio.ensure_future(service.start())
    await fake.idle()
    login.set()
    await starting
    hold_clock_jobs(service)  # as `start` does
    return service


def test_a_post_made_while_stopped_comes_with_the_start_up_difference_and_alerts_once(fake: FakeTelegram, tmp_path: Path,
                                                                                     fast_updates: None) -> None:
    """SHOT posts a desertion while tgwatch is stopped, and the start-up poll cannot read any channel
    (a flood wait of an hour). Telegram's difference for the session's saved pts brings the post:
    it is stored and alerts at once, not an hour later; the poll, when it can read again, adds nothing."""
    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path)
        try:
            fake.publish(SHOT, NEUTRAL)  # pushed: the session saves SHOT's pts at the stop
            await eventually(lambda: service.store.count("posts") == 1)
        finally:
            await stop_service(service)
        post = fake.publish(SHOT, DESERTION)  # nobody is connected: no push reaches tgwatch
        fake.flood("GetHistoryRequest", 3600)
        service = await start_slowly(fake, tmp_path)
        try:
            assert "flood wait" in service.ingest.failing[SHOT]  # the start-up poll read nothing
            await eventually(lambda: len(alerts(fake)) == 2)  # desertion and regiment
            assert service.store.known_hashes([(SHOT, post)])
            service.user._flood_waited_requests.clear()  # the hour has passed
            await service.poll()
            await service.poll()
            assert len(alerts(fake)) == 2 and service.store.count("posts") == 2
        finally:
            await stop_service(service)
    run(go())


def test_a_newly_watched_channels_old_posts_in_the_start_up_difference_do_not_alert(fake: FakeTelegram, tmp_path: Path,
                                                                                  fast_updates: None) -> None:
    """Topor is joined but not watched; the session saves its pts at the stop. While stopped, Topor is
    added to the config and posts a desertion three days ago, then 60 more. Telegram's start-up
    difference brings all 61 before the first read of Topor's history (here held until then): a
    channel never read in order alerts only on its last day's posts, as its backfill does, so the
    three-day-old desertion is stored, not sent."""
    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path, channels=("shot_shot", "mash"))
        try:
            fake.publish(TOPOR, NEUTRAL)  # pushed: the client now keeps Topor's pts
            await eventually(lambda: TOPOR in service.user._message_box.map)  # (Telethon 1.45's state of each channel)
            await service.poll()
        finally:
            await stop_service(service)
        old = datetime.now(timezone.utc) - timedelta(days=3)
        desertion = fake.publish(TOPOR, DESERTION, date=old)
        for i in range(60):
            fake.publish(TOPOR, f"{NEUTRAL} ({i})", date=old + timedelta(minutes=i + 1))
        history = fake.hold("GetHistoryRequest")
        user = await fake.client(session=tmp_path / "user.session", **OPTIONS)
        service = Service(config(tmp_path, channels=("shot_shot", "mash", "topor")), Store(tmp_path / "tgwatch.db"), user,
                          scheduler=AsyncIOScheduler(timezone=timezone.utc))
        starting = asyncio.ensure_future(service.start())
        try:
            await eventually(lambda: service.store.known_hashes([(TOPOR, desertion)]))  # the difference, before any read
            await fake.idle()
            history.set()
            await starting
            hold_clock_jobs(service)
            await deliver_alone(service)
            assert alerts(fake) == []
        finally:
            await starting
            await stop_service(service)
    run(go())


def test_recovered_counts_the_posts_published_while_stopped_however_they_came(fake: FakeTelegram, tmp_path: Path,
                                                                           fast_updates: None) -> None:
    """Mash is polled only: a post it made a minute before the stop was not read yet, and is no news
    the downtime kept from anyone. SHOT's post made while stopped comes with Telegram's start-up
    difference (here before the history read), Mash's with the read: both are recovered."""
    async def go() -> None:
        channels(fake, mash_joined=False)
        service = await start(fake, tmp_path)
        try:
            fake.publish(SHOT, NEUTRAL)  # pushed: the session saves SHOT's pts at the stop
            await eventually(lambda: service.store.count("posts") == 1)
            fake.publish(MASH, NEUTRAL, date=datetime.now(timezone.utc) - timedelta(minutes=1))
        finally:
            await stop_service(service)
        shot = fake.publish(SHOT, DESERTION)
        fake.publish(MASH, DESERTION_2)
        history = fake.hold("GetHistoryRequest")
        user = await fake.client(session=tmp_path / "user.session", **OPTIONS)
        service = Service(config(tmp_path), Store(tmp_path / "tgwatch.db"), user, scheduler=AsyncIOScheduler(timezone=timezone.utc))
        starting = asyncio.ensure_future(service.start())
        try:
            await eventually(lambda: service.store.known_hashes([(SHOT, shot)]))  # the difference, before the read
            history.set()
            await starting
            hold_clock_jobs(service)
            assert [n for n in notices(fake) if "recovered" in n] == ["recovered 2 posts from 2 channels"]
            assert service.store.count("posts") == 4
        finally:
            history.set()
            await starting
            await stop_service(service)
    run(go())


@pytest.mark.parametrize("planned", [True, False, None],
                         ids=["planned", "stored-by-a-version-without-plans", "its-plan-damaged"])
def test_a_digest_in_flight_across_an_upgrade_shows_each_item_once(fake: FakeTelegram, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch, planned: bool | None) -> None:
    """A digest of 25 stories went out in messages of 10 (an older version's split); its first
    message reached the chat, then Telegram asked to wait an hour, and tgwatch was stopped and
    upgraded to one that sends 20 a message. Part 0 was now another message under the random_id
    of the one sent: items 11 to 16 never reached the chat. The chat ends with each story once; so it
    does when the digest's plan cannot be read (damaged; it would hold back every later digest)."""
    import bot.live.sender.digesttext as digest_text
    from bot.live.digestplan import PLAN_KEY, forget_plan

    async def go() -> None:
        channels(fake)
        rules = low_rules(tmp_path)
        monkeypatch.setattr(digest_text, "DIGEST_ITEMS", 10)
        service = await start(fake, tmp_path, rules=rules)
        try:
            for i, text in enumerate(weather_reports(25)):
                fake.publish(SHOT if i % 2 else MASH, text)
            await eventually(lambda: service.store.count("alerts") == 25, timeout=30)
            refuse_sends(fake, lambda r: bool(digests(fake)) and "Digest" in r.message, 420, "FLOOD_WAIT_3600")
            await service.sender.send_digest()
            assert len(digests(fake)) == 1
            if planned is False:
                forget_plan(service.store, 1)
            elif planned is None:
                service.store.set_meta(f"{PLAN_KEY}1", '{"random_id": 7, "parts": [{"text": "Digest')
        finally:
            await stop_service(service)
        del fake._on_SendMessageRequest  # the hour has passed
        monkeypatch.setattr(digest_text, "DIGEST_ITEMS", 20)
        service = await start(fake, tmp_path, rules=rules)
        try:
            await service.sender.send_digest()
            links = [e.url for m in digests(fake) for e in m.entities or [] if getattr(e, "url", None)]
            assert len(links) == 25 and len(set(links)) == 25
            assert [r["sent_at"] is not None for r in service.store.db.query("SELECT sent_at FROM digests")] == [True]
        finally:
            await stop_service(service)
    run(go())
