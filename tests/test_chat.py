"""The analysts' chat through the offline Telegram: a real bot TelegramClient receives commands
and button presses from the fake server; each test reads what the analyst would see."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import shutil
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telethon import helpers

from bot.chat.commands import Caller
from bot.config import Config
from bot.live.dbfaults import LIVE_BUSY_TIMEOUT
from bot.live.service import Service
from bot.live.session import CLIENT_OPTIONS, WATCH_OPTIONS
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, hold_clock_jobs, served, stop_service

ROOT = Path(__file__).resolve().parents[1]
SHOT, MASH = 1800000001, 1800000002
ANALYST, STRANGER, GROUP = 5001, 5002, 777
DESERTION = "В Краснодаре задержали троих дезертиров, сбежавших из воинской части"
NEUTRAL = "Погода в Москве: завтра до +5, без осадков"  # matched by the low-severity rule below
PLAIN = "Курс доллара на торгах 27 ноября"  # matched by nothing
OPTIONS = {k: v for k, v in CLIENT_OPTIONS.items() if k != "connection_retries"}
LOW_RULE = '''
[[rule]]
name = "weather"
title = "Weather"
query = "погода"
severity = "low"
'''


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def start(fake: FakeTelegram, tmp_path: Path, clock: Clock | None = None, *,
                busy_timeout: float = LIVE_BUSY_TIMEOUT, **kw: Any) -> Service:
    """The service with a bot over tmp_path/t.db, opened as `tgwatch run` opens it (a shorter
    `busy_timeout` keeps tests that hold the database's lock quick)."""
    rules = tmp_path / "rules"
    if not rules.exists():
        shutil.copytree(ROOT / "rules", rules)
        (rules / "weather.toml").write_text(LOW_RULE, encoding="utf-8")
    fake.add_channel(SHOT, "shot_shot", "SHOT")
    fake.add_channel(MASH, "mash", "Mash")
    fake.add_user(ANALYST, "Anna")
    fake.add_user(STRANGER, "Eve")
    fake.add_chat(GROUP, "somebody's group")
    user = await fake.client(session=tmp_path / "user.session", **OPTIONS, **WATCH_OPTIONS)
    bot = await fake.client(bot=True, session=tmp_path / "bot.session", **OPTIONS)
    fake.message_to_bot(ANALYST, "/start")  # a user must start a bot before it may write to them
    base: dict[str, Any] = dict(db=tmp_path / "t.db", rules=rules, channels=("shot_shot", "mash"), chats=(ANALYST,),
                                analysts=(ANALYST,), send_via="bot", resolve_delay_seconds=0, edit_every_seconds=0,
                                poll_minutes=60)
    base.update(kw)
    service = Service(Config(**base), Store(tmp_path / "t.db", busy_timeout=busy_timeout), user, bot=bot,
                      scheduler=AsyncIOScheduler(timezone=timezone.utc), **({"clock": clock} if clock else {}))
    await service.start()
    hold_clock_jobs(service)  # (before the scheduler's first turn: none can have run)
    await eventually(lambda: replies(fake))  # the answer to /start
    return service


def running(fake: FakeTelegram, tmp_path: Path, *args: Any, **kw: Any) -> contextlib.AbstractAsyncContextManager[Service]:
    """A started service, stopped (clients disconnected, store closed) however the test ends."""
    return served(start(fake, tmp_path, *args, **kw))


def replies(fake: FakeTelegram, to: int = ANALYST) -> list[Any]:
    return [m for m in fake.chat if m.peer == to]


async def ask(fake: FakeTelegram, text: str, *, who: int = ANALYST, **kw: Any) -> Any:
    """Send a command to the bot and wait for its answer: the first message after it that is no alert
    (a post published just before is matched in a thread, so its alert may land after the command)."""
    before = len(fake.chat)
    fake.message_to_bot(who, text, **kw)
    return await eventually(lambda: next((m for m in fake.chat[before:] if not m.text.startswith(_BADGES)), None))


_BADGES = ("🔴 HIGH · ", "🟡 NORMAL · ", "⚪ LOW · ")  # how an alert's message starts (bot/alert/html.py)


def alerts(fake: FakeTelegram) -> list[Any]:
    return [m for m in fake.chat if "matched:" in m.text]


def button_data(button: Any) -> bytes:
    """An inline button's callback data (layer 229 keeps it on the button's type)."""
    return bytes(getattr(button, "data", None) or button.type.data)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_only_analysts_in_their_chats_get_answers(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path):
            before = len(fake.chat)
            fake.message_to_bot(STRANGER, "/status")
            fake.message_to_bot(ANALYST, "/status", forwarded=True)
            fake.message_to_bot(ANALYST, "/status", chat_id=GROUP)  # a group a stranger added the bot to
            fake.message_to_bot(STRANGER, "/rules", chat_id=GROUP)
            reply = await ask(fake, "/help")  # the analyst's own chat: answered, and only that
            assert len(fake.chat) == before + 1 and reply.peer == ANALYST and "/export" in reply.text
    run(go())


def test_rules_rule_test_and_mistakes(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            assert "desertion" in (await ask(fake, "/rules")).text
            r = await ask(fake, "/rule desertion")
            assert "query:" in r.text and "дезертир" in r.text
            assert (await ask(fake, "/rule Desertion")).text == r.text  # a phone capitalised it: names are lower case
            r = await ask(fake, f"/test {DESERTION}")
            assert "desertion" in r.text and "дезертиров" in r.text
            r = await ask(fake, f"/test {PLAIN}")
            assert r.text.startswith("No rule matches this text.\n• desertion: has none of its ")  # how close each came
            r = await ask(fake, "/rule nosuch")
            assert r.text.startswith("/rule: no rule named 'nosuch'") and "\n" not in r.text
            assert "Unknown command /frobnicate" in (await ask(fake, "/frobnicate")).text
            assert "is not a duration" in (await ask(fake, "/mute desertion 2x")).text
            r = await ask(fake, "/status")
            assert "SHOT" in r.text and "up to date" in r.text
            fake.publish(SHOT, PLAIN)  # stored live, not yet confirmed by a poll: stored is not behind
            await eventually(lambda: service.store.count("posts") == 1)
            r = await ask(fake, "/status")
            assert "SHOT (@shot_shot): last post " in r.text and "not stored" not in r.text and "up to date" in r.text
            await service.poll()
            assert "not stored" not in (await ask(fake, "/status")).text
    run(go())


def test_alert_buttons_triage_mute_and_story(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            alert = next(m for m in alerts(fake) if "Дезертирство" in m.text)
            datas = [button_data(b) for row in alert.reply_markup.rows for b in row.buttons]
            assert any(d.startswith(b"rel:") for d in datas) and any(d.startswith(b"st:") for d in datas)
            alert_id = int(next(d for d in datas if d.startswith(b"rel:")).split(b":")[1])
            fake.press_button(ANALYST, alert.id, f"fp:{alert_id}".encode())
            await eventually(lambda: service.store.count("feedback") == 1)
            assert next(service.store.db.query("SELECT verdict FROM feedback"))["verdict"] == "false_positive"
            before = len(fake.chat)
            fake.press_button(ANALYST, alert.id, f"st:{alert_id}".encode())
            await eventually(lambda: len(fake.chat) > before)
            story = fake.chat[-1]
            assert "Story #" in story.text and "desertion" in story.text  # the rules each post matches
            assert any("https://t.me/shot_shot/" in str(getattr(e, "url", "")) for e in story.entities)
            fake.press_button(STRANGER, alert.id, f"rel:{alert_id}".encode())  # not an analyst: ignored
            fake.press_button(ANALYST, alert.id, f"mr:{alert_id}".encode())
            await eventually(lambda: any("muted until" in m.text for m in fake.chat))
            assert service.store.count("feedback") == 1
            fake.publish(MASH, "Ещё двое дезертиров сбежали из части под Самарой, их ищет военная полиция")
            await eventually(lambda: service.store.count("posts") == 2)
            await deliver_alone(service)
            assert len([m for m in alerts(fake) if "Дезертирство" in m.text]) == 1  # muted for an hour
    run(go())


def test_mute_unmute_and_mute_channel(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            assert "muted until" in (await ask(fake, "/mute desertion 2h")).text
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 1)  # regiment only
            assert "unmuted" in (await ask(fake, "/unmute desertion")).text
            assert "muted for every rule" in (await ask(fake, "/mute_channel @mash 1d")).text
            fake.publish(MASH, "Трое дезертиров задержаны под Тверью после побега из воинской части")
            await eventually(lambda: service.store.count("posts") == 2)
            await deliver_alone(service)
            assert len(alerts(fake)) == 1
            r = await ask(fake, "/mute_channel @nosuch 1d")
            assert "no stored channel" in r.text
    run(go())


def test_disable_add_edit_undo_history(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            assert "disabled" in (await ask(fake, "/disable regiment")).text
            assert "enabled = false" in (tmp_path / "rules" / "regiment.toml").read_text(encoding="utf-8")
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 1)  # desertion only: regiment is off
            assert "regiment is enabled again" in (await ask(fake, "/undo")).text
            assert service.rulebook.ruleset.get("regiment").enabled  # type: ignore[union-attr]

            r = await ask(fake, "/add_rule krasnodar Краснодар AND задержали")
            assert "Back-test, last 7 days: 1 of 1 post would match" in r.text and "⚠️" not in r.text
            w = await ask(fake, "/add_rule kuban Кубань AND NOT Кубань")  # offered with the warning
            assert "⚠️ kuban.toml:" in w.text and "rule 'kuban' can never match" in w.text and "Confirm" in str(
                w.reply_markup)
            token = button_data(r.reply_markup.rows[0].buttons[0])
            fake.press_button(ANALYST, r.id, token)
            await eventually(lambda: any(m.text.startswith("✅ Rule krasnodar saved") for m in fake.chat))  # once it matches
            assert service.rulebook.ruleset.get("krasnodar") is not None
            assert (tmp_path / "rules" / "krasnodar.toml").exists()
            fake.press_button(ANALYST, r.id, token)  # pressed twice: nothing more happens
            r = await ask(fake, "/edit_rule krasnodar (Краснодар AND задержали")
            assert r.text.startswith("/edit_rule:") and "query" in r.text and "^" in r.text  # points at the spot
            r = await ask(fake, "/edit_rule krasnodar Краснодар AND (задержали OR задержаны)")
            assert "before: Краснодар AND задержали" in r.text and "would match" in r.text
            fake.press_button(ANALYST, r.id, button_data(r.reply_markup.rows[0].buttons[0]))
            await eventually(lambda: sum(m.text.startswith("✅ Rule krasnodar saved") for m in fake.chat) == 2)
            assert "задержаны" in service.rulebook.ruleset.get("krasnodar").query  # type: ignore[union-attr]
            assert "задержаны" in (tmp_path / "rules" / "krasnodar.toml").read_text(encoding="utf-8")
            assert "disabled" in (await ask(fake, "/disable krasnodar")).text
            assert "enabled" in (await ask(fake, "/enable krasnodar")).text
            assert service.rulebook.ruleset.get("krasnodar").enabled  # type: ignore[union-attr]
            r = await ask(fake, "/history")
            assert "Anna" in r.text and "krasnodar" in r.text and "regiment" in r.text
    run(go())


def test_export_csv_and_xlsx_files_open(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DESERTION)
            fake.publish(SHOT, PLAIN)
            await eventually(lambda: len(alerts(fake)) == 2 and service.store.count("posts") == 2)
            r = await ask(fake, "/export desertion 7d csv")
            assert r.file_name.endswith(".csv") and "1 matched post of desertion" in r.text
            rows = list(csv.DictReader(io.StringIO(r.file.decode("utf-8-sig"))))
            assert [row["text"] for row in rows] == [DESERTION]
            r = await ask(fake, "/export xlsx")
            import openpyxl

            wb = openpyxl.load_workbook(io.BytesIO(r.file))
            texts = [c.value for c in wb.active["H"]][1:]
            assert DESERTION in texts and PLAIN not in texts
            assert "is not a rule" in (await ask(fake, "/export nosuch")).text
            # each file went from a folder beside the database, gone once sent: the disk does not fill up
            assert [p.name for p in tmp_path.iterdir() if "export" in p.name] == []
    run(go())


def test_stats_sends_a_png_chart(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            r = await ask(fake, "/stats 7d")
            assert r.file[:8] == b"\x89PNG\r\n\x1a\n" and r.file_name.endswith(".png")
            import matplotlib.image

            assert matplotlib.image.imread(io.BytesIO(r.file)).shape[0] > 100
    run(go())


def test_low_severity_waits_for_the_digest(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: service.store.count("alerts") == 1)
            await deliver_alone(service)
            assert alerts(fake) == []
            before = len(fake.chat)
            fake.message_to_bot(ANALYST, "/digest")
            # two messages come: the digest, then the answer (`ask` would take the digest for it)
            await eventually(lambda: len(fake.chat) >= before + 2)
            r = fake.chat[-1]
            digest = next(m for m in fake.chat if "📋 Digest" in m.text)
            assert "Weather" in digest.text and digest.silent and "Digest sent" in r.text
            assert "Nothing waiting" in (await ask(fake, "/digest")).text
            assert len([m for m in fake.chat if "📋 Digest" in m.text]) == 1
            # a digest collected but held (a flood wait, an unreachable chat) is not "nothing"
            service.store.db.execute("INSERT INTO digests (created_at, alert_ids, random_id) VALUES ('x', '[]', 1)")
            service.sender.paused_until = service.sender.clock() + timedelta(hours=1)
            service.sender._paused_mono = float("inf")
            assert "waiting to be sent" in (await ask(fake, "/digest")).text
    run(go())


def test_quiet_hours_silence_normal_alerts_not_high_ones(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(datetime(2026, 11, 28, 23, 30, tzinfo=timezone.utc))
        async with running(fake, tmp_path, clock, quiet_hours=(time(23, 0), time(7, 0))):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            by_rule = {("Дезертирство" in m.text): m.silent for m in alerts(fake)}
            assert by_rule == {True: False, False: True}  # desertion is high: it rings; regiment is normal
    run(go())


def test_rule_files_edited_on_disk_reload_and_errors_are_posted_once(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            path = tmp_path / "rules" / "weather.toml"
            path.write_text(LOW_RULE.replace('query = "погода"', 'query = "погода OR прогноз"'), encoding="utf-8")
            await service.reload_rules()
            assert "прогноз" in service.rulebook.ruleset.get("weather").query  # type: ignore[union-attr]
            path.write_text(LOW_RULE.replace('query = "погода"', 'query = "(погода"'), encoding="utf-8")
            await service.reload_rules()
            await service.reload_rules()
            errors = [m.text for m in fake.chat if "rule file error" in m.text]
            assert len(errors) == 1 and "weather.toml:" in errors[0]
            assert errors[0].startswith("⚠️ rule file error (weather.toml stays as it was in use until it is fixed): ")
            assert "прогноз" in service.rulebook.ruleset.get("weather").query  # type: ignore[union-attr]
            assert service.pipeline.matcher.match("прогноз на завтра")  # still matching with the rules in use
    run(go())


def test_scheduled_jobs_fire_when_the_clock_says(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        service = await start(fake, tmp_path, timezone="Europe/Moscow", digest="daily", digest_at=time(9, 0),
                              heartbeat_at=time(8, 0))
        try:
            now = datetime(2026, 11, 28, 10, 0, tzinfo=timezone.utc)  # 13:00 in Moscow
            fire = {j.id: j.trigger.get_next_fire_time(None, now) for j in service.scheduler.get_jobs()}
            assert fire["digest"] == datetime(2026, 11, 29, 6, 0, tzinfo=timezone.utc)  # 09:00 MSK
            assert fire["heartbeat"] == datetime(2026, 11, 29, 5, 0, tzinfo=timezone.utc)
            # an interval job counts from the real start, not from the fixed `now`: check its period
            assert service.scheduler.get_job("reconcile").trigger.interval <= timedelta(minutes=60)
            assert {"sender", "rules", "watchdog", "retention"} <= set(fire)
        finally:
            await stop_service(service)
    run(go())


def test_heartbeat_watchdog_and_retention(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(datetime.now(timezone.utc))
        async with running(fake, tmp_path, clock) as service:
            for i in range(12):  # SHOT posts every 10 minutes...
                fake.publish(SHOT, f"{PLAIN} ({i})", date=clock.now - timedelta(hours=12) + timedelta(minutes=10 * i))
            fake.publish(SHOT, DESERTION, date=clock.now - timedelta(hours=10))
            await eventually(lambda: service.store.count("posts") == 13)  # every live update handled
            await service.poll()
            await service.heartbeat()
            assert any("watching 2 channels" in m.text for m in fake.chat)
            await service.watchdog()  # ...then nothing for ten hours
            await service.watchdog()
            warnings = [m.text for m in fake.chat if "silent" in m.text]
            assert len(warnings) == 1 and "SHOT (@shot_shot)" in warnings[0]
            assert warnings[0].endswith("has been silent for 10 h (it usually posts every 10 min)")
            clock.now += timedelta(hours=4)  # no poll has finished for 4 h (polls every hour)
            await service.watchdog()
            await service.watchdog()
            assert len([m for m in fake.chat if "fallen behind" in m.text]) == 1
            clock.now += timedelta(days=40)
            assert await service.prune() == 12  # every unmatched post; the matched one stays
            assert [r["text"] for r in service.store.db.query("SELECT text FROM posts")] == [DESERTION]
            await service.poll()  # the poll re-reads recent history: pruned posts do not come back as new
            assert [r["text"] for r in service.store.db.query("SELECT text FROM posts")] == [DESERTION]
    run(go())


def test_an_unreachable_chat_does_not_keep_the_alert_from_the_others(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path, chats=(STRANGER, ANALYST)) as service:  # STRANGER never started the bot
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            assert {m.peer for m in alerts(fake)} == {ANALYST}
            def rows() -> list[dict[str, Any]]:
                return list(service.store.db.query("SELECT state, error FROM alerts"))

            await eventually(lambda: all(r["error"] for r in rows()))
            assert {r["state"] for r in rows()} == {"queued"}  # retried later, for STRANGER only
    run(go())


def test_a_confirm_after_the_file_changed_says_why(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path):
            r = await ask(fake, "/edit_rule weather погода OR прогноз")
            path = tmp_path / "rules" / "weather.toml"
            path.write_text(path.read_text(encoding="utf-8") + "\n# edited by hand\n", encoding="utf-8")
            before = len(fake.chat)
            fake.press_button(ANALYST, r.id, button_data(r.reply_markup.rows[0].buttons[0]))
            await eventually(lambda: len(fake.chat) > before)
            assert fake.chat[-1].text.startswith("Not saved:")
            assert "# edited by hand" in path.read_text(encoding="utf-8")
    run(go())


def stored_state(service: Service, tmp_path: Path) -> tuple[Any, ...]:
    """What a bad command must leave alone: the rule files, mutes, feedback and rule changes."""
    files = {p.name: p.read_bytes() for p in sorted((tmp_path / "rules").iterdir())}
    db = service.store.db
    return (files, list(db.execute("SELECT rule, channel_id, until FROM mutes")),
            list(db.execute("SELECT * FROM feedback")), list(db.execute("SELECT id, undone FROM rule_changes")))


def test_commands_addressed_to_another_bot_are_ignored(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path, chats=(ANALYST, -GROUP)) as service:
            state = stored_state(service, tmp_path)
            before = len(fake.chat)
            for text in ("/mute@otherbot desertion 2h", "/disable@otherbot regiment", "/help@otherbot",
                         "/unmute_channel@other_bot @mash"):
                fake.message_to_bot(ANALYST, text, chat_id=GROUP)
            r = await ask(fake, "/rules@TGWatch_Bot", chat_id=GROUP)  # ours (get_me), in any case
            assert len(fake.chat) == before + 1 and "<b>" not in r.text and "desertion" in r.text
            assert stored_state(service, tmp_path) == state
            assert "/export" in (await ask(fake, "/help@tgwatch_bot")).text
            service.commands.bot_username = None  # unknown (library use): no @suffix is taken as ours
            assert await service.commands.handle("/help@tgwatch_bot", Caller(ANALYST, "Anna")) is None
            assert await service.commands.handle("/mute@x desertion 2h", Caller(ANALYST, "Anna")) is None
            assert stored_state(service, tmp_path) == state
    run(go())


def test_forged_or_old_button_data_is_no_longer_valid(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            state = stored_state(service, tmp_path)
            msg = await ask(fake, "/help")
            for data in (b"rel:99999999999999999999", b"st:99999999999999999999", b"mc:99999999999999999999",
                         b"fp:9223372036854775808", b"rel:1_0", "rel:١".encode(), b"mr: 1", b"rel:-1", b"rel:",
                         b"rel:1\xff", b"\xff\xfe", b"st:\x80\x81"):  # (the last three not UTF-8)
                n = len(fake.callback_answers)
                fake.press_button(ANALYST, msg.id, data)
                await eventually(lambda: len(fake.callback_answers) > n)
                assert fake.callback_answers[-1].message == "This button is no longer valid.", data
            assert stored_state(service, tmp_path) == state
            n = len(fake.callback_answers)
            fake.press_button(ANALYST, msg.id, b"rel:9223372036854775807")  # the largest id: looked up, not there
            await eventually(lambda: len(fake.callback_answers) > n)
            assert fake.callback_answers[-1].message == "This alert is no longer stored."
    run(go())


def test_bad_arguments_get_one_line_naming_the_command_and_change_nothing(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            assert "muted for every rule" in (await ask(fake, "/mute_channel @mash 1d")).text
            state = stored_state(service, tmp_path)
            want = {
                "/unmute *": "/unmute: no rule named '*'",  # '*' is the all-rules marker of /mute_channel
                "/unmute nosuch": "/unmute: no rule named 'nosuch'",
                "/help!": "Unknown command /help!; did you mean /help?",
                "/rule2": "Unknown command /rule2; did you mean /rule?",
                "/помощь": "Unknown command /помощь.",
                "/ help": "No space after / in a command: write /help, not / help.",
                "/mute desertion 99999w": "/mute: '99999w' is too long: at most 365 days",
                "/mute desertion 9999w": "/mute: '9999w' is too long: at most 365 days",
                "/mute desertion 366d": "/mute: '366d' is too long: at most 365 days",
                "/mute_channel @mash 53w": "/mute_channel: '53w' is too long: at most 365 days",
                "/stats 99999999999999999999999d": "/stats: '99999999999999999999999d' is too long",
                "/export 400d": "/export: '400d' is too long: at most 365 days",
                "/mute desertion ١h": "/mute: '١h' is not a duration",
                "/add_rule 7d взрыв": "/add_rule: '7d' cannot be a rule name: /export and /stats would read it as a period",
                "/add_rule 30min взрыв": "/add_rule: '30min' cannot be a rule name",
                "/add_rule csv взрыв": "/add_rule: 'csv' cannot be a rule name: /export and /stats would read it as a file format",
                "/add_rule xlsx взрыв": "/add_rule: 'xlsx' cannot be a rule name",
                "/rule " + "x" * 4085: "/rule: no rule named '" + "x" * 59 + "…' (have: ",
                "/export " + "y" * 500: "/export: '" + "y" * 59 + "…' is not a rule",
                "/edit_rule " + "q" * 300 + " взрыв": "/edit_rule: no rule named '" + "q" * 59 + "…'",
                "/add_rule " + "Z" * 300 + " взрыв": "/add_rule: bad rule name '" + "Z" * 59 + "…'",
                "/mute_channel @" + "w" * 300 + " 1d": "/mute_channel: '@" + "w" * 58 + "…' is not a channel",
                "/add_rule foo ab" + "c" * 400 + "*=": "/add_rule: query: 1:1: '*' only ends a word",
            }
            for text, start in want.items():
                r = await ask(fake, text)
                assert r.text.startswith(start), (text[:40], r.text[:200])
                assert len(r.text) < 300 and "Traceback" not in r.text, text[:40]
            r = await ask(fake, "/add_rule foo " + "a" * 3000 + " (")  # the caret line is cut around the spot
            assert r.text.startswith("/add_rule: query: 1:3003:") and r.text.endswith(" (\n" + " " * 61 + "^")
            assert len(r.text) < 250
            assert stored_state(service, tmp_path) == state
            assert "Commands start with /" not in (await ask(fake, "/help!")).text
    run(go())


def test_arguments_split_on_any_unicode_whitespace(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path):
            for space in ("\u00a0", "\u2003", "\u3000"):
                r = await ask(fake, f"/add_rule krasnodar{space}Краснодар AND задержали")
                assert r.text.startswith("Add rule krasnodar") and "after: Краснодар AND задержали" in r.text, r.text
            assert "muted until" in (await ask(fake, "/mute\u00a0desertion\u00a02h")).text
    run(go())


def test_undo_says_what_it_undid(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path):
            await ask(fake, "/disable regiment")
            assert (await ask(fake, "/undo")).text == "↩️ Undone: regiment is enabled again."
            await ask(fake, "/disable weather")
            await ask(fake, "/enable weather")
            assert (await ask(fake, "/undo")).text == "↩️ Undone: weather is disabled again."
            assert (await ask(fake, "/undo")).text == "↩️ Undone: weather is enabled again."
            r = await ask(fake, "/edit_rule weather погода OR прогноз")
            fake.press_button(ANALYST, r.id, button_data(r.reply_markup.rows[0].buttons[0]))
            await eventually(lambda: "saved to" in fake.chat[-1].text)
            assert (await ask(fake, "/undo")).text == "↩️ Undone: the query of weather is back to погода."
            r = await ask(fake, "/add_rule krasnodar Краснодар")
            fake.press_button(ANALYST, r.id, button_data(r.reply_markup.rows[0].buttons[0]))
            await eventually(lambda: "saved to" in fake.chat[-1].text)
            assert (await ask(fake, "/undo")).text == "↩️ Undone: rule krasnodar removed."
            assert not (tmp_path / "rules" / "krasnodar.toml").exists()
    run(go())


def test_test_groups_repeated_hits_per_term(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path):
            before = len(fake.chat)
            r = await ask(fake, "/test " + "дезертир полк " * 290)
            assert len(r.text) < 400  # one short message, not six
            assert "дезертир ← дезертир (form) ×290 at 0, 14, 28, …" in r.text
            assert "×290" in r.text.split("\n")[1]
            r = await ask(fake, f"/test {DESERTION}")  # commands are answered in order: no part came between
            assert len(fake.chat) == before + 2
            assert "дезертиров ← " in r.text and "×" not in r.text  # a single hit: no count
    run(go())


def test_a_stale_confirm_button_says_the_proposal_expired(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            first = await ask(fake, "/edit_rule weather погода OR прогноз")
            for i in range(20):  # pushed out by 20 newer proposals
                last = await ask(fake, f"/add_rule n{i} взрыв")
            state = stored_state(service, tmp_path)
            n = len(fake.callback_answers)
            fake.press_button(ANALYST, first.id, button_data(first.reply_markup.rows[0].buttons[0]))
            await eventually(lambda: len(fake.callback_answers) > n)
            assert fake.callback_answers[-1].message == (
                "This proposal has expired (confirm buttons last until the bot restarts or 20 newer proposals); "
                "send the command again.")
            assert stored_state(service, tmp_path) == state
            fake.press_button(ANALYST, last.id, button_data(last.reply_markup.rows[0].buttons[1]))  # cancel
            await eventually(lambda: fake.chat[-1].text == "Cancelled: rule n19 unchanged.")
            n = len(fake.callback_answers)
            fake.press_button(ANALYST, last.id, button_data(last.reply_markup.rows[0].buttons[0]))
            await eventually(lambda: len(fake.callback_answers) > n)
            assert fake.callback_answers[-1].message == "This change was already cancelled."
            assert stored_state(service, tmp_path) == state
    run(go())


def test_mute_channel_by_a_title_and_a_title_two_channels_share(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            # channels replayed from Desktop exports: a title, no username
            service.store.upsert_channel(1900000001, "Vyorstka")
            service.store.upsert_channel(1900000002, "Ostorozhno")
            service.store.upsert_channel(1900000003, "OSTOROZHNO")
            assert "muted for every rule" in (await ask(fake, "/mute_channel @vyorstka 1d")).text
            r = await ask(fake, "/mute_channel ostorozhno 1d")
            assert "'ostorozhno' is the title of 2 channels" in r.text
            assert "1900000002 (Ostorozhno)" in r.text and "1900000003 (OSTOROZHNO)" in r.text
            assert "muted for every rule" in (await ask(fake, "/mute_channel 1900000003 1d")).text
    run(go())


def test_search_from_the_chat_finds_inflected_words_with_links_and_bold_words(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DESERTION)
            fake.publish(MASH, "Под Тверью задержан дезертир, самовольно оставивший часть")
            fake.publish(MASH, PLAIN)
            await eventually(lambda: service.store.count("posts") == 3)
            r = await ask(fake, "/search дезертир")
            assert r.text.startswith("2 posts with 'дезертир', best first:")
            links = sorted(str(e.url) for e in r.entities if getattr(e, "url", None))
            assert len(links) == 2 and links[0].startswith("https://t.me/mash/") and links[1].startswith("https://t.me/shot_shot/")
            bold = {r.text[e.offset:e.offset + e.length] for e in r.entities if type(e).__name__ == "MessageEntityBold"}
            assert {"дезертиров", "дезертир"} <= bold  # the words found, in any inflection, in bold
            assert "No stored post in the last 2 h has 'курс евро'." == (await ask(fake, "/search курс евро 2h")).text
            assert (await ask(fake, "/search")).text == "/search: usage: /search WORDS [7d], e.g. /search дезертир 7d"
            assert "no words" in (await ask(fake, '/search "?!"')).text
    run(go())


def test_stories_from_the_chat_list_the_largest_with_their_channels(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            assert (await ask(fake, "/stories")).text == "No story of 2+ posts in the last 1 d."
            fake.publish(SHOT, DESERTION)
            fake.publish(MASH, DESERTION + " (фото)")  # the same story, reworded a little
            fake.publish(MASH, PLAIN)
            await eventually(lambda: service.store.count("posts") == 3)
            r = await ask(fake, "/stories 7d")
            assert r.text.startswith("Largest stories, last 7 d:")
            assert "2 posts · SHOT, Mash" in r.text and "first: SHOT" in r.text and DESERTION in r.text
            assert "Курс доллара" not in r.text  # a story of one post is left out
            assert "is not a duration" in (await ask(fake, "/stories soon")).text
            number = int(r.text.split("#", 1)[1].split(" ", 1)[0])  # the #N /stories gives
            for ask_for in (f"/story {number}", f"/story #{number}"):
                s = await ask(fake, ask_for)
                assert s.text.startswith(f"Story #{number}: 2 posts from 2 channels")
                assert s.text.index("SHOT") < s.text.index("Mash") and "desertion" in s.text and DESERTION in s.text
                links = [str(e.url) for e in s.entities if getattr(e, "url", None)]
                assert [link.rsplit("/", 1)[0] for link in links] == ["https://t.me/shot_shot", "https://t.me/mash"]
            assert (await ask(fake, "/story 99999")).text == "No story #99999 is stored."
            assert (await ask(fake, "/story 99999999999999999999")).text.startswith("/story: '99999999999999999999' is not a story number")
            assert (await ask(fake, "/story soon")).text.startswith("/story: 'soon' is not a story number")
    run(go())


BROKEN_RULE = '\n[[rule]]\nname = "broken"\nquery = "x"\nseverity = "urgent"\n'  # a second rule, broken by hand


def test_an_edit_that_cannot_be_saved_is_refused_before_a_confirm_is_offered(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            path = tmp_path / "rules" / "weather.toml"
            path.write_text(LOW_RULE + BROKEN_RULE, encoding="utf-8")
            await service.reload_rules()  # refused: the rules in use stay, the error is posted
            state = stored_state(service, tmp_path)
            r = await ask(fake, "/edit_rule weather погода OR прогноз")  # no Confirm that can only fail
            assert r.text.startswith("/edit_rule: refused, the file would be invalid: weather.toml:11:1: severity must be")
            assert r.reply_markup is None and str(tmp_path) not in r.text  # the file, not the server's path
            r = await ask(fake, "/disable weather")
            assert r.text.startswith("/disable: refused, the file would be invalid: weather.toml:11:1:")  # on disk
            assert str(tmp_path) not in r.text
            assert stored_state(service, tmp_path) == state
    run(go())


def test_times_in_replies_are_in_the_analysts_zone(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(datetime(2026, 11, 28, 19, 30, tzinfo=timezone.utc))
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            assert (await ask(fake, "/mute desertion 2h")).text == "🔕 desertion muted until 2026-11-29 00:30 MSK. /unmute desertion lifts it."
            assert "desertion [high, on, muted until 2026-11-29 00:30 MSK]" in (await ask(fake, "/rules")).text
            await ask(fake, "/disable regiment")
            at = datetime.fromisoformat(str(service.store.rule_changes()[0]["at"]))
            want = at.astimezone(service.config.zone).strftime("%Y-%m-%d %H:%M MSK")
            assert f"• {want} Anna: disable regiment: disabled" in (await ask(fake, "/history")).text
            fake.publish(SHOT, NEUTRAL, date=datetime(2026, 11, 28, 18, 30, tzinfo=timezone.utc))
            await eventually(lambda: service.store.count("posts") == 1)
            assert "2026-11-28 21:30 MSK" in (await ask(fake, "/status")).text.split("Channels watched")[1]  # last post times
    run(go())


def test_export_of_several_rules_over_hours(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            for text in (DESERTION, NEUTRAL, PLAIN):
                fake.publish(SHOT, text)
            await eventually(lambda: service.store.count("posts") == 3 and service.store.count("alerts") == 3)
            r = await ask(fake, "/export desertion weather 2h")
            assert r.text == "2 matched posts of desertion, weather, last 2 h" and "desertion+weather" in r.file_name
            rows = list(csv.DictReader(io.StringIO(r.file.decode("utf-8-sig"))))
            assert sorted(row["text"] for row in rows) == sorted([DESERTION, NEUTRAL])
    run(go())


BORIS = 5003


def test_undo_says_whose_change_it_took_back_and_history_what_it_did(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        fake.add_user(BORIS, "Boris")
        async with running(fake, tmp_path, chats=(ANALYST, -GROUP), analysts=(ANALYST, BORIS)) as service:
            await ask(fake, "/disable regiment", who=BORIS, chat_id=GROUP)
            at = datetime.fromisoformat(str(service.store.rule_changes()[0]["at"])).strftime("%Y-%m-%d %H:%M UTC")
            r = await ask(fake, "/undo", chat_id=GROUP)  # Anna takes back Boris's change: she is told so
            assert r.text == f"↩️ Undone: regiment is enabled again (a change by Boris at {at})."
            history = (await ask(fake, "/history", chat_id=GROUP)).text.split("\n")
            assert history[1].endswith("Anna: undo regiment: enabled again") and "→" not in history[1]
            assert history[2].endswith("Boris: disable regiment (undone): disabled")
            await ask(fake, "/disable weather", chat_id=GROUP)
            assert (await ask(fake, "/undo", chat_id=GROUP)).text == "↩️ Undone: weather is enabled again."  # her own: no name
            r = await ask(fake, "/add_rule krasnodar Краснодар", chat_id=GROUP)
            fake.press_button(ANALYST, r.id, button_data(r.reply_markup.rows[0].buttons[0]), chat_id=GROUP)
            await eventually(lambda: "saved to" in fake.chat[-1].text)
            await ask(fake, "/undo", chat_id=GROUP)
            history = (await ask(fake, "/history", chat_id=GROUP)).text.split("\n")
            assert history[1].endswith("Anna: undo krasnodar: removed (Краснодар)")
    run(go())


def test_export_of_rules_with_long_names_as_xlsx(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        rules = tmp_path / "rules"
        shutil.copytree(ROOT / "rules", rules)
        names = [f"{'x' * 60}-{i}" for i in range(5)]
        (rules / "long.toml").write_text("".join(f'[[rule]]\nname = "{n}"\nquery = "дезертир"\n\n' for n in names),
                                         encoding="utf-8")
        async with running(fake, tmp_path):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 7)
            r = await ask(fake, f"/export xlsx {' '.join(names)}")  # an xlsx is written under its name first
            assert r.text.startswith("1 matched post of xxx") and r.file_name.startswith(f"tgwatch-{names[0]}+4-more-")
            import openpyxl

            assert DESERTION in [c.value for c in openpyxl.load_workbook(io.BytesIO(r.file)).active["H"]]
    run(go())


def test_a_group_command_from_a_min_user_is_answered_without_looking_the_user_up(fake: FakeTelegram, tmp_path: Path,
                                                                                 monkeypatch: Any) -> None:
    async def go() -> None:
        async with running(fake, tmp_path, chats=(ANALYST, -GROUP)) as service:
            user_obj = fake._user_obj

            def min_user(viewer: int, user_id: int) -> Any:  # as Telegram often sends group members to a bot
                user = user_obj(viewer, user_id)
                user.min = user_id == ANALYST
                return user

            monkeypatch.setattr(fake, "_user_obj", min_user)
            fake.flood("GetUsersRequest", 300, times=5)  # looking the analyst up would fail
            lookups = fake.count("GetUsersRequest")
            r = await ask(fake, "/disable regiment", chat_id=GROUP)
            assert r.text == "⏸ regiment disabled. /undo takes it back."
            assert service.store.rule_changes()[0]["user_name"] == "Anna"
            assert fake.count("GetUsersRequest") == lookups  # no request per command for a name
    run(go())


def test_a_broken_rule_file_at_start_up_says_what_is_out_and_commands_are_still_answered(fake: FakeTelegram,
                                                                                        tmp_path: Path) -> None:
    """The start-up notice names the file (not the server's path) and what the error takes out of
    use (the file's valid rules stay in use); the /start sent while it goes out is answered."""
    async def go() -> None:
        rules = tmp_path / "rules"
        shutil.copytree(ROOT / "rules", rules)
        (rules / "weather.toml").write_text(LOW_RULE + BROKEN_RULE, encoding="utf-8")
        async with running(fake, tmp_path) as service:
            await eventually(lambda: any("tgwatch commands" in m.text for m in replies(fake)))
            await eventually(lambda: any("rule file error" in m.text for m in fake.chat))
            (notice,) = [m.text for m in fake.chat if "rule file error" in m.text]
            assert notice.startswith("⚠️ rule file error (that rule is not in use until it is fixed): weather.toml:11:1: ")
            assert str(tmp_path) not in notice and str(tmp_path) not in (await ask(fake, "/rules")).text
            assert service.rulebook.ruleset.get("weather") is not None
    run(go())


def test_the_digest_shows_why_each_post_matched(fake: FakeTelegram, tmp_path: Path) -> None:
    """The matched word of a low-priority post is seldom in its first line: the digest shows the
    words around it, in bold, not the post's first 90 characters."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            opening = "Главное к этому часу: " + ", ".join(f"новость номер {i}" for i in range(12)) + ". "
            fake.publish(SHOT, opening + "А погода завтра испортится.")
            await eventually(lambda: service.store.count("alerts") == 1)
            await ask(fake, "/digest")
            digest = next(m for m in fake.chat if "📋 Digest" in m.text)
            text = helpers.add_surrogate(digest.text)  # entity offsets count UTF-16 units (📋 is two)
            bold = [helpers.del_surrogate(text[e.offset:e.offset + e.length]) for e in digest.entities or []
                    if type(e).__name__ == "MessageEntityBold"]
            assert "погода" in bold
    run(go())


def test_status_lists_the_channels_watched_not_every_channel_stored(fake: FakeTelegram, tmp_path: Path) -> None:
    """A channel gone private stays in the store (its posts, its status) but is no longer watched:
    /status reports it under errors and counts what the heartbeat counts."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.make_private(MASH)
            await service.poll()
            errors, watched = (await ask(fake, "/status")).text.split("Channels watched: ")
            assert "Mash" in errors and watched.startswith("1\n") and "Mash" not in watched
            await service.heartbeat()
            assert any("watching 1 channel" in m.text for m in fake.chat)
    run(go())


def test_a_mute_that_ran_out_is_not_unmuted_and_durations_may_have_a_space(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc))
        async with running(fake, tmp_path, clock):
            assert "muted until 2026-11-28 14:00" in (await ask(fake, "/mute desertion 2 h")).text  # as /stats 7 d
            assert "muted for every rule" in (await ask(fake, "/mute_channel @mash 1 d")).text
            clock.now += timedelta(hours=3)
            assert (await ask(fake, "/unmute desertion")).text == "desertion was not muted."  # it ran out at 14:00
            assert (await ask(fake, "/unmute_channel @mash")).text == "🔔 Mash (@mash) unmuted."
            assert (await ask(fake, "/unmute_channel @mash")).text == "Mash (@mash) was not muted."
    run(go())


def test_answers_in_a_group_reply_to_the_command_or_the_pressed_alert(fake: FakeTelegram, tmp_path: Path) -> None:
    """A reply keeps the answer in the command's forum topic (a message without one lands in
    General); in a private chat answers quote nothing. A command deleted meanwhile still gets its answer."""
    async def go() -> None:
        async with running(fake, tmp_path, chats=(ANALYST, -GROUP)):
            fake.publish(SHOT, DESERTION)
            # both alerts (desertion, regiment) in both chats: one arriving later would be taken for an answer
            await eventually(lambda: len(alerts(fake)) == 4)
            alert = next(m for m in alerts(fake) if m.peer == -GROUP and "Дезертирство" in m.text)
            assert alert.reply_to is None
            before = len(fake.chat)
            command = fake.message_to_bot(ANALYST, "/rules", chat_id=GROUP)
            await eventually(lambda: len(fake.chat) > before)
            assert (fake.chat[-1].peer, fake.chat[-1].reply_to) == (-GROUP, command)
            data = next(button_data(b) for row in alert.reply_markup.rows for b in row.buttons
                        if button_data(b).startswith(b"st:"))
            before = len(fake.chat)
            fake.press_button(ANALYST, alert.id, data, chat_id=GROUP)
            await eventually(lambda: len(fake.chat) > before)
            assert "Story #" in fake.chat[-1].text and fake.chat[-1].reply_to == alert.id
            assert (await ask(fake, "/help")).reply_to is None  # the private chat
            fake.fail("SendMessageRequest", "REPLY_MESSAGE_ID_INVALID")  # the command was deleted
            r = await ask(fake, "/status", chat_id=GROUP)
            assert r.peer == -GROUP and r.reply_to is None and "SHOT" in r.text
    run(go())


def test_alerts_digests_and_notices_go_to_the_configured_forum_topic(fake: FakeTelegram, tmp_path: Path) -> None:
    forum = 1800000077
    fake.add_channel(forum, "teamforum", "Team", megagroup=True)

    async def go() -> None:
        async with running(fake, tmp_path, chats=(ANALYST, "teamforum/7", "teamforum/1")) as service:
            fake.publish(SHOT, DESERTION)
            # both alerts (desertion, regiment) in every chat: one arriving later would be taken for an answer
            await eventually(lambda: len(alerts(fake)) == 6)
            sent = {(m.peer, m.reply_to) for m in alerts(fake) if "Дезертирство" in m.text}
            assert sent == {(ANALYST, None), (-1000000000000 - forum, 7), (-1000000000000 - forum, None)}  # 1: General
            await service.sender.notify("ℹ️ a notice")
            assert {(m.peer, m.reply_to) for m in fake.chat if m.text == "ℹ️ a notice"} == sent
            before = len(fake.chat)
            r = await ask(fake, "/rules")
            assert r.peer == ANALYST and len(fake.chat) == before + 1
    run(go())


def test_rule_names_the_terms_that_brought_its_recent_hits(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path):
            r = await ask(fake, "/rule desertion")
            assert "hits in the last 7 days: 0" in r.text and "Terms:" not in r.text
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)  # /rule counts off the loop: the alerts may come meanwhile
            r = await ask(fake, "/rule desertion")
            assert "hits in the last 7 days: 1" in r.text and "Terms: дезертир 1 (дезертиров)" in r.text
    run(go())


def test_test_and_a_proposed_edit_mark_a_disabled_rule(fake: FakeTelegram, tmp_path: Path) -> None:
    """/test shows what a disabled rule would match, as `rules test` does, marked as no alert; a
    proposed edit of it says so above its back-test."""
    mark = "(disabled: not matched live or in replay)"

    async def go() -> None:
        async with running(fake, tmp_path):
            assert "disabled" in (await ask(fake, "/disable desertion")).text
            r = await ask(fake, f"/test {DESERTION}")
            lines = r.text.splitlines()
            assert any(line.startswith(f"⏸ desertion [high] {mark}: ") and "дезертиров" in line for line in lines), lines
            assert not any(line.startswith("✅ desertion") for line in lines) and "No rule matches" not in r.text
            assert mark not in (await ask(fake, "/test Погода в Москве")).text  # only the rule that is off
            r = await ask(fake, "/edit_rule desertion дезертир OR дезертирство")
            assert r.text.splitlines()[0] == f"Change rule desertion in desertion.toml {mark}", r.text
    run(go())
