"""The fake Telegram server is faithful: real TelegramClients (Telethon 1.45.0) behave through their public API
as they do against Telegram. Each test runs its own event loop with asyncio.run (no pytest-asyncio here)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import pytest
import telethon
from telethon import Button, errors, events
from telethon.tl import functions, types

from .fake_telegram import BOT_ID, USER_ID, FakeSender, FakeTelegram, access_hash, eventually, roundtrip

CH = 1234567890
MARKED = -1001234567890
OTHER = 1111111111


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))  # a hang fails; a slow machine does not


async def watching(fake: FakeTelegram, **kw):
    """A user client and the joined public channel @news_ru."""
    fake.add_channel(CH, "news_ru", "News")
    return await fake.client(**kw)


def test_canary_private_telethon_attributes():
    """What the fake relies on inside Telethon: an upgrade that moves any of it must fail here first."""
    assert telethon.__version__ == "1.45.0"
    from telethon._updates import messagebox
    from telethon.events import album
    from telethon.network.mtprotosender import MTProtoSender

    client = telethon.TelegramClient(telethon.sessions.StringSession(), 1, "0" * 32)
    for attr in ("_sender", "_updates_queue", "_message_box", "_mb_entity_cache", "_flood_waited_requests",
                 "_handle_auto_reconnect", "_dispatch_update", "_update_loop", "_init_request"):
        assert hasattr(client, attr), attr
    assert isinstance(client._sender, MTProtoSender)
    assert client._sender._updates_queue is client._updates_queue
    for attr in ("connect", "disconnect", "is_connected", "send", "disconnected", "auth_key",
                 "_transport_connected", "_keepalive_ping", "_store_own_updates"):
        assert hasattr(MTProtoSender, attr) or hasattr(client._sender, attr), attr
        assert hasattr(FakeSender, attr) or attr == "auth_key", attr  # auth_key: set in __init__
    assert messagebox.POSSIBLE_GAP_TIMEOUT == 0.5 and messagebox.USER_CHANNEL_DIFF_LIMIT == 100
    assert messagebox.NO_UPDATES_TIMEOUT == 15 * 60 and album._HACK_DELAY == 0.5
    assert telethon.client.users.asyncio is asyncio  # telethon_sleeps patches this module attribute


def test_roundtrip_rejects_an_invalid_payload():
    with pytest.raises(AssertionError, match="views, forwards"):
        roundtrip(types.Message(id=1, peer_id=types.PeerChannel(CH), message="x", views=3))


def test_connect_and_get_entity_by_username(fake):
    async def main():
        client = await watching(fake)
        assert await client.is_user_authorized()
        me = await client.get_me()
        assert (me.id, me.bot, me.is_self) == (USER_ID, False, True)
        channel = await client.get_entity("@news_ru")
        assert isinstance(channel, types.Channel)
        assert (channel.id, channel.username, channel.title, channel.broadcast) == (CH, "news_ru", "News", True)
        assert channel.access_hash
        # cached afterwards: by marked id (no request) and again by username
        n = fake.count("ResolveUsernameRequest")
        assert (await client.get_input_entity(MARKED)).channel_id == CH
        assert fake.count("ResolveUsernameRequest") == n
        with pytest.raises(ValueError, match="nobody_here"):
            await client.get_entity("nobody_here")
        # connect() ran Telethon's real login path against the fake
        names = [type(r).__name__ for r in fake.requests]
        assert names[:4] == ["GetConfigRequest", "GetUsersRequest", "GetStateRequest", "GetDifferenceRequest"]
        await client.disconnect()

    run(main())


def test_unauthorized_client(fake):
    async def main():
        client = await fake.client(authorized=False)
        assert await client.get_me() is None
        assert not await client.is_user_authorized()
        fake.add_channel(CH, "news_ru", "News")
        with pytest.raises(errors.AuthKeyUnregisteredError):
            await client.get_entity("news_ru")
        await client.disconnect()

    run(main())


def test_iter_messages_reverse_from_min_id_over_several_pages(fake):
    async def main():
        client = await watching(fake)
        for i in range(1, 251):
            fake.publish(CH, f"post {i}", push=False)
        before = fake.count("GetHistoryRequest")
        # wait_time=0: without a limit Telethon sleeps 1 s between 100-message pages (RequestIter.wait_time)
        got = [m async for m in client.iter_messages("news_ru", min_id=17, reverse=True, wait_time=0)]
        assert [m.id for m in got] == list(range(18, 251))
        assert [m.raw_text for m in got[:2]] == ["post 18", "post 19"]
        assert fake.count("GetHistoryRequest") - before >= 3  # 100-message pages
        assert all(isinstance(m.peer_id, types.PeerChannel) and m.post for m in got)
        # newest first, limit, max_id and offset_date behave as on Telegram
        assert [m.id async for m in client.iter_messages(MARKED, limit=3)] == [250, 249, 248]
        assert [m.id async for m in client.iter_messages(MARKED, max_id=5)] == [4, 3, 2, 1]
        assert [m.id async for m in client.iter_messages(MARKED, min_id=245)] == [250, 249, 248, 247, 246]
        assert [m.id async for m in client.iter_messages(MARKED, min_id=250, reverse=True)] == []
        # a joined-but-empty and a not-joined channel are readable too
        fake.add_channel(OTHER, "quiet", "Quiet", joined=False)
        fake.publish(OTHER, "one", date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
        fake.publish(OTHER, "two", date=dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc))
        later = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)
        assert [m.raw_text async for m in client.iter_messages("quiet", offset_date=later, wait_time=0)] == ["one"]
        assert [m.raw_text async for m in client.iter_messages("quiet", offset_date=later, reverse=True, wait_time=0)] == ["two"]
        await client.disconnect()

    run(main())


def test_new_message_event_for_a_published_post(fake):
    async def main():
        client = await watching(fake)
        got = []

        @client.on(events.NewMessage(chats=[MARKED]))
        async def on_new(event):
            got.append(event)

        await client.get_entity("news_ru")  # resolve once (the chats filter needs it)
        fake.add_channel(OTHER, "src", "Source")
        bold = [types.MessageEntityBold(0, 4)]
        mid = fake.publish(CH, "Взрыв в порту", entities=bold, fwd_from=(OTHER, 77), media=True)
        await eventually(lambda: got)
        event = got[0]
        assert event.chat_id == MARKED and event.message.id == mid
        assert event.raw_text == "Взрыв в порту" and event.message.entities == bold
        assert event.message.fwd_from.from_id == types.PeerChannel(OTHER) and event.message.fwd_from.channel_post == 77
        assert isinstance(event.message.media, types.MessageMediaPhoto) and event.message.photo
        assert (await event.get_chat()).username == "news_ru"
        await client.disconnect()

    run(main())


def test_album_fires_once_for_three_posts_sharing_a_grouped_id(fake, fast_updates):
    async def main():
        client = await watching(fake)
        albums, singles = [], []
        client.add_event_handler(lambda e: _append(albums, e), events.Album())
        client.add_event_handler(lambda e: _append(singles, e), events.NewMessage())
        ids = [fake.publish(CH, f"photo {i}", grouped_id=4242, media=True) for i in range(3)]
        await eventually(lambda: len(singles) == 3 and not _albums_pending())  # no more album can come
        assert len(albums) == 1 and [m.id for m in albums[0].messages] == ids
        assert len(singles) == 3  # NewMessage fires once per item
        ids2 = fake.publish_album(CH, ["a", "b", "c"])  # one Updates, as Telegram sends albums
        await eventually(lambda: len(albums) == 2)
        assert [m.id for m in albums[1].messages] == ids2 and albums[1].text == "a"
        await client.disconnect()

    run(main())


async def _append(target, event):
    target.append(event)


def _albums_pending() -> bool:
    """Whether Telethon still holds an album it will fire (its `AlbumHack` waits out the album window)."""
    return any(t.get_coro().__qualname__ == "AlbumHack.deliver_event" for t in asyncio.all_tasks() if not t.done())


def test_message_edited_on_edit_and_on_reaction(fake):
    async def main():
        client = await watching(fake)
        edits = []
        client.add_event_handler(lambda e: _append(edits, e), events.MessageEdited())
        mid = fake.publish(CH, "first")
        fake.edit(CH, mid, "second")
        await eventually(lambda: edits)
        assert edits[0].raw_text == "second" and edits[0].message.edit_date and edits[0].chat_id == MARKED
        fake.react(CH, mid)
        await eventually(lambda: len(edits) == 2)
        assert edits[1].raw_text == "second" and edits[1].message.reactions.results[0].count == 1
        await client.disconnect()

    run(main())


def test_silent_gap_is_filled_through_get_channel_difference(fake, fast_updates):
    async def main():
        client = await watching(fake)
        seen = []
        client.add_event_handler(lambda e: _append(seen, e), events.NewMessage())
        fake.publish(CH, "one")  # gives Telethon the channel's pts
        await eventually(lambda: seen)
        fake.publish(CH, "two (lost push)", push=False)
        fake.publish(CH, "three")
        await eventually(lambda: len(seen) == 3)
        assert [e.raw_text for e in seen] == ["one", "two (lost push)", "three"]
        assert fake.count("GetChannelDifferenceRequest") == 1
        await client.disconnect()

    run(main())


def test_channel_difference_too_long_loses_posts_so_the_poll_is_needed(fake, fast_updates):
    async def main():
        client = await watching(fake)
        seen = []
        client.add_event_handler(lambda e: _append(seen, e), events.NewMessage())
        first = fake.publish(CH, "one")
        await eventually(lambda: seen)
        # forced: Telegram may answer channelDifferenceTooLong for a small gap too
        fake.publish(CH, "missed", push=False)
        fake.too_long(CH)
        fake.publish(CH, "pushed, but its gap is too long")
        await eventually(lambda: fake.count("GetChannelDifferenceRequest") >= 2)
        # natural: more than 100 (USER_CHANNEL_DIFF_LIMIT) missed posts
        for i in range(150):
            fake.publish(CH, f"bulk {i}", push=False)
        last = fake.publish(CH, "after the bulk")
        await eventually(lambda: fake.count("GetChannelDifferenceRequest") >= 4)
        fake.publish(CH, "live again")
        await eventually(lambda: len(seen) == 2)
        assert [e.raw_text for e in seen] == ["one", "live again"]
        polled = [m.id async for m in client.iter_messages(MARKED, min_id=first, reverse=True, wait_time=0)]
        assert polled == list(range(first + 1, last + 2))  # the reconcile poll finds everything
        await client.disconnect()

    run(main())


def test_send_message_html_lands_in_chat_with_entities(fake):
    async def main():
        client = await fake.client()
        sent = await client.send_message("me", '<b>Взрыв</b> в <a href="https://t.me/news_ru/5">порту</a>',
                                         parse_mode="html", link_preview=False)
        [landed] = fake.chat
        assert landed.peer == USER_ID and landed.sender_id == USER_ID  # Saved Messages
        assert landed.text == "Взрыв в порту" and landed.no_webpage and not landed.silent
        assert landed.entities == [types.MessageEntityBold(0, 5),
                                   types.MessageEntityTextUrl(8, 5, "https://t.me/news_ru/5")]
        assert sent.id == landed.id and sent.raw_text == "Взрыв в порту"
        fake.add_chat(555, "Analysts")
        await client.send_message(types.PeerChat(555), "to the group", silent=True)
        assert (fake.chat[-1].peer, fake.chat[-1].silent) == (-555, True)
        with pytest.raises(errors.MessageTooLongError):
            await client.send_message("me", "x" * 4097)
        edited = await client.edit_message("me", sent.id, "<i>fixed</i>", parse_mode="html")
        assert edited.raw_text == "fixed" and landed.edits[-1][1] == "fixed" and landed.text == "fixed"
        with pytest.raises(errors.MessageNotModifiedError):
            await client.edit_message("me", sent.id, "<i>fixed</i>", parse_mode="html")
        assert not fake.count("GetDifferenceRequest") > 1  # own pts stayed in step: no gap
        await client.disconnect()

    run(main())


def test_random_id_duplicate_is_rejected(fake, telethon_sleeps):
    async def main():
        client = await fake.client(raise_last_call_error=True)
        request = functions.messages.SendMessageRequest(peer="me", message="alert", random_id=42)
        await client(request)
        with pytest.raises(errors.RandomIdDuplicateError):
            await client(functions.messages.SendMessageRequest(peer="me", message="alert", random_id=42))
        assert len(fake.chat) == 1
        # RANDOM_ID_DUPLICATE is a 500 (ServerError): Telethon retries it request_retries times, 2 s apart,
        # and by default ends with a ValueError instead of the RPC error
        n = fake.count("SendMessageRequest")
        plain = await fake.client(request_retries=2)
        with pytest.raises(ValueError, match="unsuccessful"):
            await plain(functions.messages.SendMessageRequest(peer="me", message="alert", random_id=42))
        assert fake.count("SendMessageRequest") - n == 3 and len(fake.chat) == 1
        assert 2 in telethon_sleeps.sleeps
        await client.disconnect()
        await plain.disconnect()

    run(main())


def test_flood_wait_below_threshold_is_slept_through_above_raises(fake, telethon_sleeps):
    async def main():
        client = await fake.client(flood_sleep_threshold=30)
        fake.flood("SendMessageRequest", 20)
        await client.send_message("me", "hello")
        assert telethon_sleeps.sleeps == [20] and len(fake.chat) == 1
        assert fake.count("SendMessageRequest") == 2  # the flooded attempt and the retry
        fake.flood("ResolveUsernameRequest", 3600)
        fake.add_channel(CH, "news_ru", "News")
        with pytest.raises(errors.FloodWaitError) as info:
            await client.get_entity("news_ru")
        assert info.value.seconds == 3600
        n = fake.count("ResolveUsernameRequest")
        with pytest.raises(errors.FloodWaitError):  # Telethon remembers the deadline: raises without sending
            await client.get_entity("news_ru")
        assert fake.count("ResolveUsernameRequest") == n
        await client.disconnect()

    run(main())


def test_fail_and_private_channel(fake, fast_updates):
    async def main():
        client = await watching(fake)
        fake.publish(CH, "one")
        fake.fail("GetHistoryRequest", "CHANNEL_INVALID")
        with pytest.raises(errors.ChannelInvalidError):
            await client.get_messages("news_ru", limit=5)
        assert [m.id for m in await client.get_messages(MARKED, limit=5)] == [1]
        fake.make_private(CH)
        with pytest.raises(errors.ChannelPrivateError):
            await client.get_messages(MARKED, limit=5)
        with pytest.raises(errors.ChannelPrivateError):
            await client(functions.updates.GetChannelDifferenceRequest(
                CH, types.ChannelMessagesFilterEmpty(), pts=1, limit=100))
        await client.disconnect()

    run(main())


def test_state_persists_across_server_instances(tmp_path, telethon_sleeps):
    path = tmp_path / "server.json"
    session = tmp_path / "user.session"

    async def first():
        fake = FakeTelegram(path)
        fake.add_channel(CH, "news_ru", "News")
        for i in range(3):
            fake.publish(CH, f"post {i}")
        fake.edit(CH, 2, "post 1 (edited)")
        client = await fake.client(session=session)
        await client.get_entity("news_ru")
        await client(functions.messages.SendMessageRequest(peer="me", message="alert", random_id=7))
        await client.disconnect()

    async def second():
        fake = FakeTelegram(path)  # e.g. a new process after SIGKILL
        assert [m.message for m in fake.messages(CH)] == ["post 0", "post 1 (edited)", "post 2"]
        assert [(m.text, m.random_id) for m in fake.chat] == [("alert", 7)]
        client = await fake.client(session=session, raise_last_call_error=True, request_retries=0)
        assert await client.is_user_authorized()
        assert (await client.get_input_entity(MARKED)).channel_id == CH  # entity cache from the SQLite session
        got = [m.raw_text async for m in client.iter_messages(MARKED, reverse=True, wait_time=0)]
        assert got == ["post 0", "post 1 (edited)", "post 2"]
        with pytest.raises(errors.RandomIdDuplicateError):  # the server remembers random_ids
            await client(functions.messages.SendMessageRequest(peer="me", message="alert", random_id=7))
        mid = fake.publish(CH, "post 3")
        assert mid == 4 and len(fake.chat) == 1
        await client.disconnect()

    run(first())
    run(second())



def test_disconnect_loses_pushes_until_the_next_gap(fake, fast_updates):
    async def main():
        client = await watching(fake)
        seen = []
        client.add_event_handler(lambda e: _append(seen, e), events.NewMessage())
        fake.publish(CH, "before")
        await eventually(lambda: seen)
        await fake.disconnect(client)
        fake.publish(CH, "while offline")  # pushed into a dead connection: lost
        pending = asyncio.ensure_future(client.get_messages(MARKED, limit=1))
        await fake.idle()
        assert not pending.done()  # requests wait for the transport
        await fake.reconnect(client)
        assert (await pending)[0].raw_text == "while offline"
        await fake.idle()
        assert [e.raw_text for e in seen] == ["before"]  # Telethon does not catch up after a reconnect...
        fake.publish(CH, "next")
        await eventually(lambda: len(seen) == 3)  # ...the next push reveals the gap
        assert [e.raw_text for e in seen] == ["before", "while offline", "next"]
        await client.disconnect()

    run(main())


def test_bot_receives_messages_and_button_presses(fake):
    analyst = 4242
    fake.add_user(analyst, "Анна", "anna")
    fake.add_chat(555, "Analysts")

    async def main():
        bot = await fake.client(bot=True)
        me = await bot.get_me()
        assert me.bot and me.id == BOT_ID
        fake.add_channel(CH, "news_ru", "News")
        with pytest.raises(errors.BotMethodInvalidError):  # bots cannot read channel history
            await bot.get_messages(types.InputPeerChannel(CH, access_hash(BOT_ID, CH)), limit=1)
        inbox, presses = [], []
        bot.add_event_handler(lambda e: _append(inbox, e), events.NewMessage(pattern="/start"))
        bot.add_event_handler(lambda e: _append(presses, e), events.CallbackQuery())
        fake.message_to_bot(analyst, "/start")
        await eventually(lambda: inbox)
        assert inbox[0].chat_id == analyst and inbox[0].sender_id == analyst
        sent = await inbox[0].respond("Alert", buttons=[Button.inline("Mute", b"mute:1")])
        landed = fake.chat[-1]
        assert (landed.peer, landed.sender_id, landed.id, landed.text) == (analyst, BOT_ID, sent.id, "Alert")
        assert landed.reply_markup.rows[0].buttons[0].type.data == b"mute:1"  # layer 229 inline buttons
        fake.press_button(analyst, sent.id, b"mute:1")
        await eventually(lambda: presses)
        assert presses[0].data == b"mute:1" and presses[0].message_id == sent.id
        await presses[0].answer("Muted")
        await presses[0].edit("Alert (muted)")
        assert fake.callback_answers[0].message == "Muted" and landed.edits[-1][1] == "Alert (muted)"
        # a group message and a forwarded one
        fake.message_to_bot(analyst, "/start in group", chat_id=555)
        fake.message_to_bot(analyst, "/start fwd", forwarded=True)
        await eventually(lambda: len(inbox) == 3)
        assert inbox[1].chat_id == -555 and inbox[2].message.fwd_from is not None
        # a document goes through upload.saveFilePart + messages.sendMedia; the bytes are kept
        data = b"id,post\n" * 50_000  # > 512 KiB: several parts
        stream = io.BytesIO(data)
        stream.name = "export.csv"  # how Telethon names an in-memory file (send_file swallows unknown kwargs)
        doc = await bot.send_file(analyst, stream, caption="export", force_document=True)
        assert fake.chat[-1].file == data and fake.chat[-1].file_name == "export.csv"
        assert doc.document and doc.id == fake.chat[-1].id and fake.count("SaveFilePartRequest") > 1
        # a user who never wrote to the bot cannot be messaged
        fake.add_user(777, "Stranger")
        stranger = types.InputPeerUser(777, access_hash(BOT_ID, 777))
        with pytest.raises(errors.PeerIdInvalidError):
            await bot.send_message(stranger, "hi")
        await bot.disconnect()

    run(main())


def test_user_and_bot_share_a_server(fake):
    async def main():
        user = await fake.client()
        bot = await fake.client(bot=True)
        inbox = []
        bot.add_event_handler(lambda e: _append(inbox, e), events.NewMessage())
        await user.send_message("tgwatch_bot", "/start")  # resolves the bot by username
        await eventually(lambda: inbox)
        assert inbox[0].chat_id == USER_ID and inbox[0].raw_text == "/start"
        got = []
        user.add_event_handler(lambda e: _append(got, e), events.NewMessage(incoming=True))
        await bot.send_message(inbox[0].chat_id, "<b>alert</b>", parse_mode="html")
        await eventually(lambda: got)
        assert got[0].raw_text == "alert" and got[0].chat_id == BOT_ID
        user_hash = (await user.get_input_entity("tgwatch_bot")).access_hash
        assert user_hash != (await bot.get_me(input_peer=True)).access_hash  # access hashes are per account
        await user.disconnect()
        await bot.disconnect()

    run(main())


_KILLED_CHILD = """
import asyncio, os, signal, sys
sys.path.insert(0, sys.argv[3])
from tests.fake_telegram import FakeTelegram
from telethon.tl import functions

async def main():
    fake = FakeTelegram(sys.argv[1])
    fake.add_channel(1234567890, "news_ru", "News")
    fake.publish(1234567890, "post 0")
    client = await fake.client(session=sys.argv[2])
    await client.get_entity("news_ru")
    await client(functions.messages.SendMessageRequest(peer="me", message="alert", random_id=7))
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_state_survives_sigkill_of_the_client_process(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    path, session = tmp_path / "server.json", tmp_path / "user.session"
    root = str(Path(__file__).resolve().parents[1])
    proc = subprocess.run([sys.executable, "-c", _KILLED_CHILD, str(path), str(session), root], timeout=60)
    assert proc.returncode == -9

    async def main():
        fake = FakeTelegram(path)
        assert [(m.text, m.random_id) for m in fake.chat] == [("alert", 7)]
        client = await fake.client(session=session)
        assert await client.is_user_authorized()  # the auth key was saved at connect()
        # the SQLite session had not flushed the entity cache when the process died: resolve again
        with pytest.raises(ValueError):
            await client.get_input_entity(MARKED)
        assert [m.raw_text async for m in client.iter_messages("news_ru", wait_time=0)] == ["post 0"]
        await client.disconnect()

    run(main())
