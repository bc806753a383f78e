"""Edits Telegram made while the live service could not see them: in a gap Telethon fills with a
channel's difference, or while the service was stopped. Found comparing the live service with a
replay of the same corpus posts (tests/test_live_vs_replay.py): an edit of a post older than the
poll's look-back was never stored, so the live store kept the first text and missed its alerts."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

from telethon import TelegramClient
from telethon._updates import ChannelState, EntityCache, MessageBox, SessionState
from telethon.tl import functions as fn, types as tl
from telethon.tl.types import updates as tlu

from bot.config import Config, Secrets
from bot.live.difference import keep_difference_edits
from bot.live.session import LOGIN_OPTIONS, make_client

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import stop_service
from .test_live import DESERTION, NEUTRAL, SHOT, alerts, channels, run, running, start

LOOK_BACK = 5  # the tests' config: the poll re-reads the last 5 ids of each channel


async def old_post(fake: FakeTelegram, service) -> int:  # type: ignore[no-untyped-def]
    """A neutral post, stored, then pushed further back than the poll's look-back."""
    msg = fake.publish(SHOT, NEUTRAL)
    for i in range(LOOK_BACK + 5):
        fake.publish(SHOT, f"{NEUTRAL} ({i})")
    await eventually(lambda: service.store.count("posts") == LOOK_BACK + 6)
    await service.poll()  # the channel is read in order up to here
    return msg


def stored_text(service, msg: int) -> str:  # type: ignore[no-untyped-def]
    return str(service.store.db.execute("SELECT text FROM posts WHERE channel_id = ? AND message_id = ?",
                                        [SHOT, msg]).fetchone()[0])


def test_an_edit_made_in_a_gap_is_matched_when_telethon_fills_the_gap(fake: FakeTelegram, tmp_path: Path,
                                                                      fast_updates: None) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            msg = await old_post(fake, service)
            fake.edit(SHOT, msg, DESERTION, push=False)  # Telegram never pushes the edit
            fake.publish(SHOT, NEUTRAL + "!")  # the next push reveals the gap: its difference carries the edit
            await eventually(lambda: len(alerts(fake)) == 2)  # desertion and regiment, before any poll
            assert stored_text(service, msg) == DESERTION
            await service.poll()
            assert len(alerts(fake)) == 2
    run(go())


def test_an_edit_made_while_stopped_is_matched_after_the_restart(fake: FakeTelegram, tmp_path: Path,
                                                                 fast_updates: None) -> None:
    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path)
        try:
            msg = await old_post(fake, service)
        finally:
            await stop_service(service)
        fake.edit(SHOT, msg, DESERTION)  # while tgwatch is stopped: beyond the start-up poll's look-back
        async with running(fake, tmp_path) as service:
            # no push needed: Telegram's start-up difference names SHOT, and Telethon asks what it missed
            await eventually(lambda: len(alerts(fake)) == 2)
            assert stored_text(service, msg) == DESERTION
            fake.publish(SHOT, NEUTRAL + "!")
            await eventually(lambda: service.store.count("posts") == LOOK_BACK + 7)
            await service.poll()
            assert len(alerts(fake)) == 2
    run(go())


def test_the_watching_client_catches_up_and_the_bot_and_login_do_not(tmp_path: Path) -> None:
    config, secrets = Config(session_dir=tmp_path / "s"), Secrets(api_id=1, api_hash="0" * 32)
    clients = [make_client(config, secrets), make_client(config, secrets, bot=True),
               make_client(config, secrets, **LOGIN_OPTIONS)]
    try:
        assert [c._catch_up for c in clients] == [True, False, False]
    finally:
        for c in clients:
            c.session.close()


def _difference_with_an_edit(box: MessageBox) -> list[object]:
    """What `box` hands on of a channel difference (pts 10 -> 12) holding one new post and one edit."""
    channel = tl.Channel(id=SHOT, title="SHOT", photo=tl.ChatPhotoEmpty(), date=dt.datetime(2024, 11, 20),
                         broadcast=True, access_hash=1)
    peer = tl.PeerChannel(SHOT)
    date = dt.datetime(2024, 11, 20, tzinfo=dt.timezone.utc)
    edited = tl.Message(id=3, peer_id=peer, date=date, message=DESERTION, edit_date=date, post=True)
    new = tl.Message(id=9, peer_id=peer, date=date, message=NEUTRAL, post=True)
    diff = tlu.ChannelDifference(pts=12, new_messages=[new], other_updates=[tl.UpdateEditChannelMessage(edited, 11, 1)],
                                 chats=[channel], users=[], final=True)
    box.load(SessionState(0, 0, 0, 1, 0, 0, 0, None), [ChannelState(SHOT, 10)])
    box.try_begin_get_diff(SHOT, "a gap")  # what a gap does before the difference is asked for
    request = fn.updates.GetChannelDifferenceRequest(tl.InputChannel(SHOT, 1), tl.ChannelMessagesFilterEmpty(), 10, 100)
    updates, _, _ = box.apply_channel_difference(request, diff, EntityCache())
    return updates


def test_canary_telethon_drops_the_edits_of_a_channel_difference() -> None:
    """Telethon 1.45 (pinned) drops them: the day it hands them on itself, `keep_difference_edits`
    would hand them on twice (harmless: the text is unchanged the second time), and can go."""
    kinds = [type(u).__name__ for u in _difference_with_an_edit(MessageBox(logging.getLogger("telethon")))]
    assert kinds == ["UpdateNewChannelMessage"]
    client = TelegramClient(None, 1, "0" * 32)  # built, never connected
    assert keep_difference_edits(client) and keep_difference_edits(client)  # a second call changes nothing
    kinds = [type(u).__name__ for u in _difference_with_an_edit(client._message_box)]
    assert kinds == ["UpdateEditChannelMessage", "UpdateNewChannelMessage"]


def test_the_start_up_catch_up_waits_for_the_handlers() -> None:
    """Telethon asks what happened while stopped as soon as the client connects; what it brings
    before `Events.listen` has put the handlers in place reaches none of them (helper-100's review).
    `make_client` holds it (here the real client class, not connected) until `listen` lets it go."""
    from telethon.sessions import StringSession

    from bot.live.difference import hold_catch_up, release_catch_up

    async def go() -> None:
        client = TelegramClient(StringSession(), 1, "0" * 32, catch_up=True)
        hold_catch_up(client)
        asked = asyncio.create_task(client.catch_up())  # what Telethon's update loop does first
        for _ in range(5):
            await asyncio.sleep(0)  # (yields to the task: no timing)
        assert not asked.done() and client._updates_queue.empty()
        release_catch_up(client)
        await asked
        assert isinstance(client._updates_queue.get_nowait(), tl.UpdatesTooLong)

    asyncio.run(go())


def test_make_client_holds_the_watching_clients_catch_up_only(tmp_path: Path) -> None:
    config = Config(session_dir=tmp_path / "s")
    user, bot = make_client(config, Secrets(api_id=1, api_hash="0" * 32)), \
        make_client(config, Secrets(api_id=1, api_hash="0" * 32), bot=True)
    try:
        assert getattr(user, "_tgwatch_ready", None) is not None and getattr(bot, "_tgwatch_ready", None) is None
    finally:
        user.session.close()
        bot.session.close()
