"""Restarts of the live service against the offline Telegram (real TelegramClient, faked server):
what one run sent or kept in memory, the next run neither loses nor sends twice, even when the
config changed in between."""

from __future__ import annotations

from pathlib import Path
from telethon.tl import types as tl

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import stop_service
from .test_live import NEUTRAL, SHOT, channels, run, start
from .test_live_sender_faults import GROUP, digests, low_rules, refuse_sends


def test_a_digest_resent_after_the_chats_were_reordered_reaches_every_chat_once(fake: FakeTelegram,
                                                                                tmp_path: Path) -> None:
    """The digest reached "me" but not the group, then the process stopped; the analyst swapped the
    two chats in the config. Each part's random_id comes from the chat, not its place in the list:
    the group gets the digest (it was refused as a duplicate of the copy in "me"), "me" no second."""
    async def go() -> None:
        channels(fake)
        fake.add_chat(GROUP, "Analysts")
        rules = low_rules(tmp_path)
        service = await start(fake, tmp_path, rules=rules, chats=("me", -GROUP))
        try:
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: service.store.count("alerts") == 1)
            refuse_sends(fake, lambda r: isinstance(r.peer, tl.InputPeerChat), 403, "CHAT_WRITE_FORBIDDEN")
            await service.sender.send_digest()
            assert [m.peer for m in digests(fake)] == [7_000_001]
        finally:
            await stop_service(service)
        del fake._on_SendMessageRequest  # the group can be written to again
        service = await start(fake, tmp_path, rules=rules, chats=(-GROUP, "me"))
        try:
            await service.sender.send_digest()
            assert sorted(m.peer for m in digests(fake)) == [-GROUP, 7_000_001]
            assert [r["sent_at"] is not None for r in service.store.db.query("SELECT sent_at FROM digests")] == [True]
        finally:
            await stop_service(service)
    run(go())
