"""The live path as an analyst meets it with real credentials (helper-39's review): reactions and
edits of posts older than what tgwatch read, notices held through a restart, polls that a flood
wait stops part way, a mistyped channel in /unmute_channel, an alert chat upgraded to a
supergroup, a bot logged out. Real TelegramClients against the offline server; each test
asserts what the analysts' chat shows."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.live.sender import MAX_RETRY_DELAY

from .fake_telegram import FakeTelegram, RpcFail, eventually
from .test_chat import ANALYST, STRANGER, ask
from .test_chat import running as chat_running
from .test_live import (
    DESERTION,
    DESERTION_2,
    MASH,
    NEUTRAL,
    SHOT,
    TOPOR,
    alerts,
    channels,
    notices,
    run,
    running,
)
from .test_live_sender_faults import Clocks, ticks
from .telegram_fixtures import deliver_alone

# -- reactions and edits of posts before the first read ----------------------------------------------

def test_a_reaction_on_a_post_older_than_the_backfill_alerts_no_one(fake: FakeTelegram, tmp_path: Path) -> None:
    """Reactions fire MessageEdited: one on a matching post from before tgwatch watched the channel
    (older than the 50 posts it backfills) must not push a ten-day-old post as a new alert."""
    async def go() -> None:
        channels(fake)
        old = fake.publish(SHOT, DESERTION, date=datetime.now(timezone.utc) - timedelta(days=10))
        for i in range(50):
            fake.publish(SHOT, f"{NEUTRAL} ({i})")
        async with running(fake, tmp_path) as service:
            assert service.store.count("posts") == 50
            fake.react(SHOT, old)
            fake.edit(SHOT, old, DESERTION + " (обновлено)")
            last = fake.publish(SHOT, NEUTRAL + " (last)")  # events are handled in order: a barrier
            await eventually(lambda: service.store.known_hashes([(SHOT, last)]))
            await service.poll()
            await deliver_alone(service)
            assert alerts(fake) == []
            assert not service.store.known_hashes([(SHOT, old)])  # as the poll does: not stored either
    run(go())



def test_a_reaction_on_an_old_post_before_the_first_read_alerts_no_one(fake: FakeTelegram, tmp_path: Path) -> None:
    """The first read of a channel was stopped by a flood wait (no high-water mark yet): a reaction
    on a ten-day-old matching post is stored, but only the last day's posts alert, as in a backfill."""
    async def go() -> None:
        channels(fake)
        old = fake.publish(SHOT, DESERTION, date=datetime.now(timezone.utc) - timedelta(days=10))
        fake.flood("GetHistoryRequest", 3000)
        async with running(fake, tmp_path) as service:
            assert service.store.high_water(SHOT) is None
            fake.react(SHOT, old)
            await eventually(lambda: service.store.known_hashes([(SHOT, old)]))
            await deliver_alone(service)
            assert alerts(fake) == []
            fresh = fake.publish(SHOT, "Срочно: подробности позже")
            await eventually(lambda: service.store.known_hashes([(SHOT, fresh)]))
            fake.edit(SHOT, fresh, DESERTION_2)  # an edit of today's post still alerts
            await eventually(lambda: len(alerts(fake)) == 2)
    run(go())

# -- notices held through a restart ------------------------------------------------------------------

def test_a_notice_held_by_a_flood_pause_is_sent_after_a_restart_once(fake: FakeTelegram, tmp_path: Path) -> None:
    """A channel gone private is reported once, ever (its status is stored): a notice held in
    memory through a long flood wait and lost to a restart would leave the analysts believing the
    channel is still watched."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.flood("SendMessageRequest", 3600)  # an hour: the operator restarts tgwatch meanwhile
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)
            await deliver_alone(service)  # or the service's own pass, running meanwhile, meets the flood wait
            await eventually(lambda: service.sender.paused_until is not None)
            fake.make_private(MASH)
            await service.poll()  # the one-time notice comes while sending is paused
            assert notices(fake) == []
        async with running(fake, tmp_path) as service:  # the wait is over by the time it runs again
            await deliver_alone(service)  # returns at once if the service's own pass is running: wait for it
            gone = await eventually(lambda: [n for n in notices(fake) if "mash" in n.lower()])
            assert len(gone) == 1 and "private" in gone[0]
            await eventually(lambda: len(alerts(fake)) == 2)
        async with running(fake, tmp_path) as service:
            await deliver_alone(service)
            assert len([n for n in notices(fake) if "mash" in n.lower()]) == 1
    run(go())


def test_a_notice_sent_just_before_a_crash_is_not_shown_twice(fake: FakeTelegram, tmp_path: Path) -> None:
    """Killed after Telegram took the notice and before the store heard: the next run resends it
    with the stored random_id, which Telegram refuses as a duplicate."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            await service.sender.notify("ℹ️ one notice")
            assert notices(fake).count("ℹ️ one notice") == 1
            service.store.db.execute("UPDATE meta SET value = ? WHERE key = 'held_notices'",
                                     [json.dumps([["me", "ℹ️ one notice", fake.chat[-1].random_id]])])
        async with running(fake, tmp_path) as service:  # ... as if the run died before storing "sent"
            await deliver_alone(service)
            assert notices(fake).count("ℹ️ one notice") == 1
            assert service.sender._unsent == {}
    run(go())


# -- polls that a flood wait stops part way ------------------------------------------------------------

@pytest.mark.parametrize("fault, logged", [
    (RpcFail(420, "FLOOD_WAIT_3000"), "Telegram asks to wait 3000 s; the next poll goes on from it"),
    (ConnectionError("Connection to Telegram failed 5 time(s)"), "network problem (ConnectionError: Connection to "
                                                                  "Telegram failed 5 time(s)); the next poll goes on from it"),
])
def test_a_poll_stopped_part_way_each_time_still_reaches_every_channel(fake: FakeTelegram, tmp_path: Path,
                                                                       caplog: Any, fault: Exception, logged: str) -> None:
    """A long flood wait, or Telethon giving up reconnecting, stops a poll part way (one warning
    line, nothing raised out of the poll); the next poll must go on where it stopped, or the
    channels after it (a channel not joined has no live updates) are never read again."""
    async def go() -> None:
        fake.add_channel(SHOT, "shot_shot", "SHOT")
        fake.add_channel(MASH, "mash", "Mash")
        fake.add_channel(TOPOR, "topor", "Топор", joined=False)
        async with running(fake, tmp_path) as service:
            served = fake._on_GetHistoryRequest
            read: set[int] = set()  # channels read in this poll

            def second_channel_fails(account: int, r: Any) -> object:
                if read and r.peer.channel_id not in read:
                    raise fault
                read.add(r.peer.channel_id)
                return served(account, r)

            fake._on_GetHistoryRequest = second_channel_fails  # type: ignore[method-assign]
            fake.publish(TOPOR, DESERTION)
            caplog.set_level(logging.WARNING)
            for _ in range(3):  # three polls, an hour apart: Telegram's wait is over each time
                read.clear()
                service.user._flood_waited_requests.clear()
                await service.poll()
            assert [a.text.split("\n")[1].split(" · ")[0] for a in alerts(fake) if "desertion" in a.text] == ["Топор"]
            said = [r for r in caplog.records if "the next poll goes on" in r.getMessage()]
            assert said and all(logged in r.getMessage() and not r.exc_info for r in said)
    run(go())


# -- the analysts' chat ----------------------------------------------------------------------------------

def test_unmute_channel_with_a_mistyped_name_says_there_is_no_such_channel(fake: FakeTelegram, tmp_path: Path) -> None:
    """'@mahs was not muted' after a typo reads as 'Mash is not muted', while Mash stays silenced for
    every rule: the reply must name the command and say the channel is unknown."""
    async def go() -> None:
        async with chat_running(fake, tmp_path):
            assert "muted for every rule" in (await ask(fake, "/mute_channel @mash 1d")).text
            r = await ask(fake, "/unmute_channel @mahs")
            assert r.text.startswith("/unmute_channel: no stored channel '@mahs'"), r.text
            assert (await ask(fake, "/unmute_channel @mash")).text == "🔔 Mash (@mash) unmuted."
            assert (await ask(fake, "/unmute_channel @mash")).text == "Mash (@mash) was not muted."
    run(go())


# -- an alert chat upgraded to a supergroup ---------------------------------------------------------------

GROUP, SUPERGROUP = 4518810, 1900000001
REGIMENT = "Полк покинул позиции под Курском без приказа, сообщают источники"


def test_alerts_follow_an_alert_chat_upgraded_to_a_supergroup(fake: FakeTelegram, tmp_path: Path) -> None:
    """Telegram upgrades a basic group to a supergroup (public link, history for new members, 200
    members...) under a new id and refuses the old one: alerts must follow it there, not wait
    for the old group forever while the analysts see nothing."""
    async def go() -> None:
        channels(fake)
        fake.add_chat(GROUP, "Analysts")
        async with running(fake, tmp_path, chats=(-GROUP,)) as service:
            clocks = Clocks(service)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            assert {m.peer for m in alerts(fake)} == {-GROUP}
            fake.migrate_chat(GROUP, SUPERGROUP)
            fake.publish(MASH, REGIMENT)
            await eventually(lambda: service.store.count("alerts") == 3)
            await ticks(service, clocks, 3)
            moved = [m.text for m in fake.chat if m.peer == -1_000_000_000_000 - SUPERGROUP]
            assert any("matched:" in t and "Полк" in t for t in moved), moved
            assert any("supergroup" in t and str(-1_000_000_000_000 - SUPERGROUP) in t for t in moved), moved
            assert len(alerts(fake)) == 3
    run(go())


def test_the_bot_answers_analysts_in_the_supergroup_an_alert_chat_became(fake: FakeTelegram, tmp_path: Path) -> None:
    """Commands from analysts in the upgraded group come from its new id: they are answered there,
    after a restart too (found at start, before any alert needs sending)."""
    async def go() -> None:
        fake.add_chat(GROUP, "Analysts")
        marked = -1_000_000_000_000 - SUPERGROUP
        async with chat_running(fake, tmp_path, chats=(ANALYST, -GROUP)) as service:
            assert service.chat is not None and service.chat.allowed(ANALYST, -GROUP)
            assert not service.chat.allowed(ANALYST, marked)
        fake.migrate_chat(GROUP, SUPERGROUP)
        async with chat_running(fake, tmp_path, chats=(ANALYST, -GROUP)) as service:
            assert service.chat is not None and service.chat.allowed(ANALYST, marked)
            assert not service.chat.allowed(STRANGER, marked)
    run(go())


# -- a bot whose token was revoked ----------------------------------------------------------------------

def test_alerts_wait_while_the_bot_is_logged_out_and_go_out_once_it_is_back(fake: FakeTelegram, tmp_path: Path) -> None:
    """The bot's token revoked in BotFather (and then a new one set up): Telegram answers every send
    with 401. That is no fault of the alert; it must wait, not fail for good after eight tries."""
    async def go() -> None:
        async with chat_running(fake, tmp_path) as service:
            clocks = Clocks(service)
            fake.fail("SendMessageRequest", "AUTH_KEY_UNREGISTERED", code=401, times=10_000)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)
            await ticks(service, clocks, 5 * 60, seconds=60)  # five hours
            assert {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"queued"}
            fake._faults.pop("SendMessageRequest")
            await ticks(service, clocks, MAX_RETRY_DELAY // 15 + 1)
            assert len(alerts(fake)) == 2
    run(go())


# -- a username changed while running ---------------------------------------------------------------------

def test_a_post_pushed_right_after_a_rename_links_to_the_new_username(fake: FakeTelegram, tmp_path: Path) -> None:
    """The old username is free after a rename (anyone may take it): a live post's alert and its
    stored link must use the name the update carries, not the one resolved at the last poll."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake._channels[SHOT].username = "shot_news"
            msg = fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            links = {getattr(e, "url", None) for a in alerts(fake) for e in a.entities} - {None}
            assert links == {f"https://t.me/shot_news/{msg}"}
            row = service.store.db.execute("SELECT link FROM posts WHERE message_id = ?", [msg]).fetchone()
            assert row[0] == f"https://t.me/shot_news/{msg}"
            assert sum("now @shot_news" in n for n in notices(fake)) == 1
            await service.poll()
            assert sum("now @shot_news" in n for n in notices(fake)) == 1
    run(go())


# -- channels configured by id --------------------------------------------------------------------------

def test_a_joined_channel_configured_by_id_is_watched_from_a_fresh_login(fake: FakeTelegram, tmp_path: Path) -> None:
    """config.example.toml: ids work for channels the account has joined. A session just logged in
    knows no channel yet; tgwatch must look the id up among the account's dialogs, not report
    'cannot watch' and leave the channel unread for six hours."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, channels=(SHOT, MASH)) as service:  # as load_config gives ids
            assert sorted(service.ingest.watched) == [SHOT, MASH]
            assert not any("cannot watch" in n for n in notices(fake))
            fake.publish(MASH, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
    run(go())


def test_an_id_the_account_has_not_joined_says_how_to_watch_it(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake, mash_joined=False)
        async with running(fake, tmp_path, channels=(SHOT, MASH)) as service:
            assert list(service.ingest.watched) == [SHOT]
            said = [n for n in notices(fake) if "cannot watch" in n]
            assert said == [f"⚠️ cannot watch {MASH}: not a channel this account has joined: join it, "
                            "or name it by its @username"]
            await service.poll()
            assert fake.count("GetDialogsRequest") == 1  # read once, not on every poll
    run(go())




def test_a_first_read_held_back_by_a_flood_wait_reads_back_to_the_first_live_post(fake: FakeTelegram, tmp_path: Path) -> None:
    """A new channel's first read was held back (a flood wait) while it posted, and Telegram pushed
    only its first post: the read goes back to that post, not just the last 50, so none between is
    missed; what came before tgwatch watched stays unread (a reaction on an old post is no start)."""
    async def go() -> None:
        channels(fake)
        old = fake.publish(SHOT, NEUTRAL + " (old)", date=datetime.now(timezone.utc) - timedelta(days=10))
        before = [fake.publish(SHOT, f"{NEUTRAL} (before {i})") for i in range(5)]
        fake.flood("GetHistoryRequest", 3000)
        async with running(fake, tmp_path) as service:
            assert service.store.high_water(SHOT) is None
            fake.react(SHOT, old)
            await eventually(lambda: service.store.known_hashes([(SHOT, old)]))
            live = fake.publish(SHOT, NEUTRAL + " (live)")
            await eventually(lambda: service.store.known_hashes([(SHOT, live)]))
            silent = [fake.publish(SHOT, f"{NEUTRAL} ({i})", push=False) for i in range(60)]
            service.user._flood_waited_requests.clear()  # the wait is over
            await service.poll()
            stored = {m for (c, m) in service.store.known_hashes([(SHOT, i) for i in before + silent])}
            assert stored == set(silent)
            assert service.store.high_water(SHOT) == silent[-1]
    run(go())
