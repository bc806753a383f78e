"""Sender faults against the offline Telegram (real TelegramClient, faked server): long flood waits,
an unreachable alert chat, Telegram's error codes, notices held through a pause, a wall clock
stepped back, a lost reply. Each test asserts what the analyst's chat shows and what the log says."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import apscheduler.schedulers.base
import apscheduler.triggers.interval
import pytest
from telethon.tl import types as tl

from bot.live.sender import MAX_ATTEMPTS, MAX_RETRY_DELAY
from bot.store.db import Store

from .fake_telegram import FakeTelegram, RpcFail, eventually
from .telegram_fixtures import deliver_alone
from .test_live import (
    DESERTION,
    DESERTION_2,
    MASH,
    NEUTRAL,
    ROOT,
    SHOT,
    TOPOR,
    alerts,
    channels,
    notices,
    run,
    running,
)

WEATHER = '''[[rule]]
name = "weather"
title = "Погода / weather"
severity = "low"
query = 'погода'
should_match = ["Погода в Москве"]
should_not_match = ["Курс доллара"]
'''


def low_rules(tmp_path: Path) -> Path:
    """The repo's rules plus a low-severity one (its alerts go to the digest)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    for f in (ROOT / "rules").glob("*.toml"):
        shutil.copy(f, rules / f.name)
    (rules / "weather.toml").write_text(WEATHER, encoding="utf-8")
    return rules


class Clocks:
    """The sender's wall clock and monotonic clock, moved by the test."""

    def __init__(self, service: Any) -> None:
        self.wall = datetime.now(timezone.utc)
        self.mono = 1000.0
        service.sender.clock = lambda: self.wall
        service.sender.monotonic = lambda: self.mono

    def tick(self, seconds: float = 15) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


async def ticks(service: Any, clocks: Clocks, n: int, seconds: float = 15) -> None:
    """n scheduled sender passes, `seconds` apart."""
    for _ in range(n):
        clocks.tick(seconds)
        await eventually(lambda: not service.sender._lock.locked())
        await deliver_alone(service)


def digests(fake: FakeTelegram) -> list[Any]:
    return [m for m in fake.chat if "Digest" in m.text]


def lines(caplog: Any, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("bot.live") and word in r.getMessage()]


@asynccontextmanager
async def one_low_alert(fake: FakeTelegram, tmp_path: Path, **kw: Any) -> AsyncIterator[tuple[Any, Clocks]]:
    """A running service with a low-severity rule and one alert waiting for the digest."""
    channels(fake)
    async with running(fake, tmp_path, rules=low_rules(tmp_path), **kw) as service:
        clocks = Clocks(service)
        fake.publish(SHOT, NEUTRAL)
        await eventually(lambda: service.store.count("alerts") == 1)
        yield service, clocks


def test_a_digest_waits_out_a_long_flood_wait_and_is_sent_once(fake: FakeTelegram, tmp_path: Path, caplog: Any) -> None:
    async def go() -> None:
        async with one_low_alert(fake, tmp_path) as (service, clocks):
            caplog.set_level(logging.INFO)
            fake.flood("SendMessageRequest", 600)
            await service.sender.send_digest()
            assert service.sender.paused_until is not None
            await ticks(service, clocks, 8)  # two minutes of sender passes: the digest is kept
            assert digests(fake) == []
            assert [r["sent_at"] for r in service.store.db.query("SELECT sent_at FROM digests")] == [None]
            await ticks(service, clocks, 32)  # Telegram's 600 s are over (Telethon's own deadline too)
            assert len(digests(fake)) == 1 and "Погода" in digests(fake)[0].text
            await ticks(service, clocks, 3)
            assert len(digests(fake)) == 1
            assert [r["sent_at"] is not None for r in service.store.db.query("SELECT sent_at FROM digests")] == [True]
            assert any("FLOOD_WAIT 600 s" in line for line in lines(caplog, "digest"))
    run(go())


def test_a_digest_waits_for_an_unreachable_chat_and_is_sent_once_it_works(fake: FakeTelegram, tmp_path: Path,
                                                                       caplog: Any) -> None:
    async def go() -> None:
        async with one_low_alert(fake, tmp_path) as (service, clocks):
            caplog.set_level(logging.INFO)
            fake.fail("SendMessageRequest", "CHAT_WRITE_FORBIDDEN", code=403, times=1000)
            await service.sender.send_digest()
            await ticks(service, clocks, 4 * 60)  # an hour unreachable
            assert digests(fake) == []
            assert [r["sent_at"] for r in service.store.db.query("SELECT sent_at FROM digests")] == [None]
            tries = fake.count("SendMessageRequest")
            assert tries <= 12  # backed off, not every 15 s
            fake._faults.pop("SendMessageRequest")  # the account may write to the chat again
            await ticks(service, clocks, MAX_RETRY_DELAY // 15 + 1)
            assert len(digests(fake)) == 1
            assert [r["state"] for r in service.store.db.query("SELECT state FROM alerts")] == ["digested"]
            assert len(lines(caplog, "cannot be written to (CHAT_WRITE_FORBIDDEN)")) == 1
            assert len(lines(caplog, "can be written to again")) == 1
    run(go())


def test_a_digest_telegram_refuses_gives_its_alerts_back_to_the_next_digest(fake: FakeTelegram, tmp_path: Path,
                                                                         caplog: Any) -> None:
    async def go() -> None:
        async with one_low_alert(fake, tmp_path) as (service, clocks):
            caplog.set_level(logging.WARNING)
            fake.fail("SendMessageRequest", "ENTITY_BOUNDS_INVALID", times=MAX_ATTEMPTS)
            await service.sender.send_digest()
            await ticks(service, clocks, MAX_ATTEMPTS + 2, seconds=3600)
            assert digests(fake) == [] and service.store.count("digests") == 0  # given up: not marked sent
            assert [r["state"] for r in service.store.db.query("SELECT state FROM alerts")] == ["queued"]
            assert any("ENTITY_BOUNDS_INVALID" in line and "back to the queue" in line for line in lines(caplog, "digest"))
            await service.sender.send_digest()  # the next digest carries it
            assert len(digests(fake)) == 1 and "Погода" in digests(fake)[0].text
            assert [r["state"] for r in service.store.db.query("SELECT state FROM alerts")] == ["digested"]
    run(go())


def test_alerts_wait_for_an_unreachable_chat_and_are_sent_when_it_works(fake: FakeTelegram, tmp_path: Path,
                                                                     caplog: Any) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clocks = Clocks(service)
            caplog.set_level(logging.INFO)
            fake.fail("SendMessageRequest", "CHAT_WRITE_FORBIDDEN", code=403, times=10_000)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)
            await ticks(service, clocks, 5 * 60)  # 75 min
            rows = list(service.store.db.query("SELECT state, error FROM alerts"))
            assert rows == [{"state": "queued", "error": "CHAT_WRITE_FORBIDDEN"}] * 2
            fake._faults.pop("SendMessageRequest")  # the bot is back in the chat
            await ticks(service, clocks, MAX_RETRY_DELAY // 15 + 1)
            assert len(alerts(fake)) == 2
            assert {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"sent"}
            assert len(lines(caplog, "cannot be written to (CHAT_WRITE_FORBIDDEN)")) == 1  # one line, not one per try
            assert len(lines(caplog, "can be written to again")) == 1
            assert not any(r.exc_info for r in caplog.records)
    run(go())


def test_an_error_about_the_message_still_fails_the_alert_with_telegrams_code(fake: FakeTelegram, tmp_path: Path,
                                                                             caplog: Any) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, chats=("me",)) as service:
            clocks = Clocks(service)
            caplog.set_level(logging.WARNING)
            fake.fail("SendMessageRequest", "ENTITY_BOUNDS_INVALID", times=2 * MAX_ATTEMPTS)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)
            await ticks(service, clocks, MAX_ATTEMPTS + 1, seconds=3600)
            rows = list(service.store.db.query("SELECT state, error FROM alerts"))
            assert rows == [{"state": "failed", "error": "ENTITY_BOUNDS_INVALID"}] * 2
            assert any("failed for good (ENTITY_BOUNDS_INVALID)" in line for line in lines(caplog, "alert"))
    run(go())


def test_a_long_flood_wait_is_logged_with_its_seconds(fake: FakeTelegram, tmp_path: Path, caplog: Any) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            Clocks(service)
            caplog.set_level(logging.WARNING)
            fake.flood("SendMessageRequest", 600)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.sender.paused_until is not None)
            assert any("FLOOD_WAIT 600 s" in line for line in lines(caplog, "wait"))
            assert not any("FLOOD)" in line for line in lines(caplog, ""))
    run(go())


def test_a_notice_during_a_long_flood_pause_is_sent_when_it_ends(fake: FakeTelegram, tmp_path: Path,
                                                                caplog: Any) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clocks = Clocks(service)
            fake.flood("SendMessageRequest", 600)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)
            await deliver_alone(service)  # not deliver(): folded into the service's pass, it returned before the flood
            assert service.sender.paused_until is not None
            caplog.set_level(logging.INFO)
            fake.make_private(MASH)
            await service.poll()  # the channel's one-time notice comes while sending is paused
            await service.poll()
            assert notices(fake) == []
            assert any("Mash" in line for line in lines(caplog, "notice to me held"))
            await ticks(service, clocks, 41)  # the 600 s are over
            gone = [n for n in notices(fake) if "mash" in n.lower()]
            assert len(gone) == 1 and "private" in gone[0]
            assert len(alerts(fake)) == 2
            fake.publish(TOPOR, NEUTRAL)
            await service.poll()
            await ticks(service, clocks, 2)
            assert len([n for n in notices(fake) if "mash" in n.lower()]) == 1
    run(go())


def test_notices_wait_for_an_unreachable_chat_in_order(fake: FakeTelegram, tmp_path: Path, caplog: Any) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clocks = Clocks(service)
            caplog.set_level(logging.WARNING)
            fake.fail("SendMessageRequest", "CHAT_WRITE_FORBIDDEN", code=403, times=3)
            await service.sender.notify("first notice")
            await service.sender.notify("second notice")
            assert notices(fake) == []
            assert any("'first notice'" in line for line in lines(caplog, "held (CHAT_WRITE_FORBIDDEN)"))
            await ticks(service, clocks, 3)  # backing off: 15, 30, 60 s
            assert fake.count("SendMessageRequest") <= 3
            await ticks(service, clocks, 6)
            assert notices(fake) == ["first notice", "second notice"]
    run(go())


def test_a_wall_clock_stepped_back_never_holds_longer_than_the_flood_wait(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clocks = Clocks(service)
            fake.flood("SendMessageRequest", 120)  # > flood_sleep_threshold: the sender pauses 120 s
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.sender.paused_until is not None)
            clocks.wall -= timedelta(hours=1)  # an NTP correction steps the wall clock back an hour
            await ticks(service, clocks, 7)  # 105 s: still within Telegram's wait
            assert alerts(fake) == []
            await ticks(service, clocks, 2)  # 135 s (Telethon's own wall-clock deadline is let go too)
            assert len(alerts(fake)) == 2
    run(go())


def test_an_alert_waiting_to_retry_is_not_held_by_a_clock_set_back(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clocks = Clocks(service)
            fake.fail("SendMessageRequest", "CHAT_WRITE_FORBIDDEN", code=403, times=2)
            fake.publish(SHOT, DESERTION)  # two rules, two alerts: both refused once
            await eventually(lambda: fake.count("SendMessageRequest") >= 2)
            await eventually(lambda: all(r["next_attempt_at"] for r in service.store.queued_alerts()))
            clocks.wall -= timedelta(days=1)  # their retry times now lie a day ahead
            await ticks(service, clocks, 2)
            assert len(alerts(fake)) == 2
    run(go())


def test_an_alert_retried_in_15_s_is_not_held_by_a_clock_set_back_half_an_hour(fake: FakeTelegram, tmp_path: Path) -> None:
    """A step back of less than the sender's furthest retry (an hour) left the stored retry time
    looking legitimate: the alert waited for the wall clock to catch up, 30 min."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clocks = Clocks(service)
            fake.fail("SendMessageRequest", "CHAT_WRITE_FORBIDDEN", code=403, times=2)
            fake.publish(SHOT, DESERTION)  # two rules, two alerts: both refused once, retried in 15 s
            await eventually(lambda: fake.count("SendMessageRequest") >= 2)
            await eventually(lambda: all(r["next_attempt_at"] for r in service.store.queued_alerts()))
            clocks.wall -= timedelta(minutes=30)
            await ticks(service, clocks, 2)
            assert len(alerts(fake)) == 2
    run(go())


def test_a_story_update_is_not_held_by_a_clock_set_back(fake: FakeTelegram, tmp_path: Path) -> None:
    """Story updates wait edit_every after the last send, a time the store keeps by the wall clock:
    stepped back an hour, the update waited an hour and a minute instead of a minute."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, edit_every_seconds=60) as service:
            clocks = Clocks(service)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            clocks.wall -= timedelta(hours=1)
            fake.publish(MASH, DESERTION_2)  # the story grows: an update is queued, throttled
            await service.poll()
            await eventually(lambda: any(r["state"] == "update_queued" for r in service.store.queued_alerts()))
            await ticks(service, clocks, 2)
            assert not any(m.edits for m in alerts(fake))  # the throttle still holds: a minute
            await ticks(service, clocks, 4)
            assert all(m.edits and "also Mash" in m.edits[-1][1] for m in alerts(fake))
    run(go())


def test_the_scheduled_jobs_are_not_held_by_a_clock_set_back(fake: FakeTelegram, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """APScheduler waits for the wall clock: stepped back an hour, the sender's 15 s pass (retries,
    a flood wait's end), the poll and the digest all waited an hour more. The service notices the
    step and moves them back; APScheduler here reads the test's wall clock."""
    wall = [datetime.now(timezone.utc)]

    class Stepped(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return wall[0].astimezone(tz) if tz else wall[0].replace(tzinfo=None)

    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", Stepped)
    monkeypatch.setattr(apscheduler.triggers.interval, "datetime", Stepped)

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, digest="hourly", clock_jobs=True) as service:
            mono = [1000.0]
            service.clock, service.monotonic = (lambda: wall[0]), (lambda: mono[0])
            service.check_clock()
            before = {j.id: j.next_run_time for j in service.scheduler.get_jobs()}
            wall[0] -= timedelta(hours=1)
            mono[0] += 1
            assert service.check_clock() == pytest.approx(3601, abs=1)
            after = {j.id: j.next_run_time for j in service.scheduler.get_jobs()}
            assert after["sender"] - wall[0] <= timedelta(seconds=15)
            assert after["reconcile"] - wall[0] <= timedelta(minutes=60)
            assert after["digest"] - wall[0] <= timedelta(hours=1) and after["digest"] < before["digest"]
            mono[0] += 30
            wall[0] += timedelta(seconds=30)
            assert service.check_clock() == 0  # a clock that runs on is left alone
            assert {j.id: j.next_run_time for j in service.scheduler.get_jobs()} == after
    run(go())


def _lose_reply_once(fake: FakeTelegram, client: Any, name: str = "SendMessageRequest") -> list[Any]:
    """The server executes the first `name` but its answer is lost in a connection drop; Telethon
    re-sends the pending request (same random_id) after reconnecting."""
    sender = client._sender
    real = sender._serve
    done: list[Any] = []

    def serve(request: Any, data: bytes, fut: asyncio.Future) -> None:
        if type(request).__name__ == name and not done and not fut.done():
            done.append(request)
            try:
                fake._handle(sender, request)  # executed server-side
            except Exception:
                pass
            sender._transport_up = False  # the connection drops before the answer arrives
            sender._held.append((request, fut))
            asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(fake.reconnect(client)))
            return
        real(request, data, fut)

    sender._serve = serve
    return done


def test_a_lost_reply_resent_shows_no_duplicate_and_logs_what_happened(fake: FakeTelegram, tmp_path: Path,
                                                                      telethon_sleeps: Any, caplog: Any) -> None:
    """Saved Messages: the fake server cannot read that history, so the message id stays unknown and
    the log says so in one line (not "delivered before a restart")."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            caplog.set_level(logging.INFO)
            lost = _lose_reply_once(fake, service.user)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: lost and {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"sent"})
            assert len(alerts(fake)) == 2
            said = lines(caplog, "already sent")
            assert len(said) == 1 and "message id is unknown" in said[0]
            assert not lines(caplog, "before a restart")
    run(go())


GROUP = 77


def refuse_sends(fake: FakeTelegram, when: Callable[[Any], bool], code: int, message: str) -> None:
    """Make the fake server refuse the SendMessage requests `when` picks, with this RPC error."""
    real = fake._on_SendMessageRequest

    def on_send(account: Any, r: Any) -> Any:
        if when(r):
            raise RpcFail(code, message)
        return real(account, r)
    fake._on_SendMessageRequest = on_send


def test_a_digest_one_chat_got_is_never_sent_there_again(fake: FakeTelegram, tmp_path: Path) -> None:
    """The group refuses the digest as a message: given up, it counts as sent (the private chat has
    it), so its stories do not come back in the next digest."""
    async def go() -> None:
        fake.add_chat(GROUP, "Analysts")
        async with one_low_alert(fake, tmp_path, chats=("me", -GROUP)) as (service, clocks):
            refuse_sends(fake, lambda r: isinstance(r.peer, tl.InputPeerChat) and "Digest" in r.message,
                         400, "ENTITY_BOUNDS_INVALID")
            await service.sender.send_digest()
            await ticks(service, clocks, MAX_ATTEMPTS + 2, seconds=3600)
            await service.sender.send_digest()
            mine = [m for m in digests(fake) if m.peer != -GROUP]
            assert len(mine) == 1 and "Погода" in mine[0].text
    run(go())


def test_a_notice_for_an_unreachable_chat_backs_off(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clocks = Clocks(service)
            before = fake.count("SendMessageRequest")
            fake.fail("SendMessageRequest", "CHAT_WRITE_FORBIDDEN", code=403, times=100_000)
            await service.sender.notify("a notice")
            await ticks(service, clocks, 4 * 60)  # an hour of 15 s passes
            assert fake.count("SendMessageRequest") - before <= 12  # not every pass (it was 241)
    run(go())


def test_a_chat_is_never_said_to_work_again_when_nothing_reached_it(fake: FakeTelegram, tmp_path: Path,
                                                                   caplog: Any) -> None:
    async def go() -> None:
        channels(fake)
        fake.add_chat(GROUP, "Analysts")
        async with running(fake, tmp_path, chats=("me", -GROUP)) as service:
            clocks = Clocks(service)
            caplog.set_level(logging.INFO)
            state = {"me_dead": False}
            refuse_sends(fake, lambda r: isinstance(r.peer, tl.InputPeerChat) or state["me_dead"],
                         403, "CHAT_WRITE_FORBIDDEN")
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            state["me_dead"] = True
            fake.publish(SHOT, "Погибли военнослужащие при обстреле, сообщает источник; дезертиры задержаны в Ростове")
            await service.poll()
            await ticks(service, clocks, 4 * 60 * 3)
            assert lines(caplog, "chat me can be written to again") == []  # it never could (was 11 in 3 h)
    run(go())


def test_an_alert_resent_to_two_topics_of_a_forum_is_found_in_each_topic(fake: FakeTelegram, tmp_path: Path,
                                                                        telethon_sleeps: Any) -> None:
    """The same alert went to two topics of one forum group, and the process died before recording
    either send: after the restart Telegram refuses the resends (known random_ids), and each copy
    is looked up in its own topic, so the story update edits both copies, not one of them twice."""
    forum = 1800000077
    fake.add_channel(forum, "teamforum", "Team", forum=True)
    chats = ("teamforum/42", "teamforum/77")

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, chats=chats):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 4)  # two rules, each in both topics
        store = Store(tmp_path / "tgwatch.db")  # the store never heard of the sends
        store.db.execute("UPDATE deliveries SET message_id = NULL, sent_at = NULL")
        store.db.execute("UPDATE alerts SET state = 'queued', sent_at = NULL")
        store.close()
        async with running(fake, tmp_path, chats=chats) as service:
            await deliver_alone(service)
            assert len(alerts(fake)) == 4  # no second copy anywhere
            topic_of = {m.id: m.reply_to for m in alerts(fake)}
            rows = list(service.store.db.query("SELECT chat, message_id FROM deliveries"))
            assert sorted((r["chat"], topic_of[r["message_id"]]) for r in rows) == [
                ("teamforum/42", 42), ("teamforum/42", 42), ("teamforum/77", 77), ("teamforum/77", 77)]
            fake.publish(MASH, DESERTION_2)
            await eventually(lambda: all(m.edits for m in alerts(fake)))
            assert all("also Mash" in m.edits[-1][1] for m in alerts(fake))
    run(go())
