"""Digests across alert chats: a chat that cannot be written to holds back only its own digests, and
gets them later in order, once; the chats that work get theirs meanwhile, restarts included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from telethon.tl import types as tl

from .fake_telegram import FakeTelegram, eventually
from .test_live import MASH, SHOT, channels, run, running
from .test_live_sender_faults import GROUP, Clocks, digests, low_rules, refuse_sends, ticks

MOSCOW = "Погода в Москве: завтра до +5, без осадков"
NOVOSIBIRSK = "Погода в Новосибирске: метель, до -25, закрыты школы"


def shown(fake: FakeTelegram, group: bool) -> list[str]:
    """The digests in the group, or in Saved Messages, by the city each one carries."""
    return [next(c for c in ("Москв", "Новосибирск") if c in d.text) for d in digests(fake) if (d.peer == -GROUP) == group]


async def two_digests(fake: FakeTelegram, service: Any, clocks: Clocks) -> None:
    """Two digests an hour apart, while the group refuses every message."""
    for n, text in enumerate((MOSCOW, NOVOSIBIRSK), 1):
        fake.publish(SHOT if n == 1 else MASH, text)
        await eventually(lambda: service.store.count("alerts") == n)
        clocks.tick(3600)
        await service.sender.send_digest()


def test_the_group_gets_the_digests_it_missed_in_order_once_it_works_and_me_never_gets_them_twice(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """The account is removed from the group for hours, and tgwatch restarted meanwhile, days after
    the first digest (Telegram no longer knows its random_ids then): Saved Messages has each digest
    once, when it was due; the group, back, gets both, the older first, once each."""
    rules = low_rules(tmp_path)
    state = {"group": False}

    async def go() -> None:
        channels(fake)
        fake.add_chat(GROUP, "Analysts")
        async with running(fake, tmp_path, rules=rules, chats=("me", -GROUP)) as service:
            clocks = Clocks(service)
            refuse_sends(fake, lambda r: isinstance(r.peer, tl.InputPeerChat) and not state["group"], 403,
                         "CHAT_WRITE_FORBIDDEN")
            await two_digests(fake, service, clocks)
            assert shown(fake, group=False) == ["Москв", "Новосибирск"] and shown(fake, group=True) == []
        fake._random_ids.clear()  # days later: Telegram forgot them
        async with running(fake, tmp_path, rules=rules, chats=("me", -GROUP)) as service:
            clocks = Clocks(service)
            await ticks(service, clocks, 8, seconds=600)
            assert shown(fake, group=False) == ["Москв", "Новосибирск"]  # not again after the restart
            state["group"] = True  # the account is added back
            await ticks(service, clocks, 4, seconds=600)
            assert shown(fake, group=True) == ["Москв", "Новосибирск"]
            assert shown(fake, group=False) == ["Москв", "Новосибирск"]
            rows = service.store.db.query("SELECT sent_at FROM digests")
            assert [r["sent_at"] is not None for r in rows] == [True, True]
            assert not [k for k in service.store.db.query("SELECT key FROM meta") if k["key"].startswith("digest_plan:")]
            await ticks(service, clocks, 4, seconds=600)
            assert len(shown(fake, group=True)) == 2  # once
    run(go())


async def digest_asked_with_the_group_refusing(fake: FakeTelegram, service: Any) -> tuple[Any, Clocks]:
    """/digest's reply an hour after a low alert, the group refusing every message (the account was
    removed from it), and the clocks of the service."""
    from bot.chat.commands import Caller
    clocks = Clocks(service)
    refuse_sends(fake, lambda r: isinstance(r.peer, tl.InputPeerChat), 403, "CHAT_WRITE_FORBIDDEN")
    fake.publish(SHOT, MOSCOW)
    await eventually(lambda: service.store.count("alerts") == 1)
    clocks.tick(3600)
    return await service.commands.handle("/digest", Caller(1, "Analyst")), clocks


def test_status_and_digest_name_the_alert_chat_that_cannot_be_written_to(fake: FakeTelegram, tmp_path: Path) -> None:
    """The account was removed from the group: /digest answered «A digest is waiting to be sent
    (Telegram asked to wait, or an alert chat cannot be written to)», naming neither, and /status
    listed no problem at all, while every alert for the group was held."""
    rules = low_rules(tmp_path)

    async def go() -> None:
        channels(fake)
        fake.add_chat(GROUP, "Analysts")
        async with running(fake, tmp_path, rules=rules, chats=("me", -GROUP)) as service:
            reply, clocks = await digest_asked_with_the_group_refusing(fake, service)
            assert reply is not None and shown(fake, group=False) == ["Москв"]
            assert f"A digest is waiting to be sent: alert chat {-GROUP} (CHAT_WRITE_FORBIDDEN) cannot be" in reply.html, reply.html
            status = await service.status_text(clocks.wall)
            assert f"alert chat {-GROUP} cannot be written to (CHAT_WRITE_FORBIDDEN)" in status, status
    run(go())
