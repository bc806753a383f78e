"""The analysts' chat after helper-87's review (helper-91): what /status, /stats, the mutes, /story
and the silence warning say, as the analysts meet them. Real TelegramClients against the offline
server, real SQLite files; each test asserts what the analysts' chat shows."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.chat.commands import USAGE

from .fake_telegram import FakeTelegram, eventually
from .test_chat import ANALYST, DESERTION, PLAIN, alerts, ask, button_data, running
from .test_live import SHOT, channels, notices
from .test_live_locked import QUICK, locked
from .test_live import running as running_user


def silence_warnings(fake: FakeTelegram) -> list[str]:
    return [t for t in notices(fake) if "has been silent" in t]


def test_a_restart_does_not_repeat_a_silence_warning_that_still_holds(fake: FakeTelegram, tmp_path: Path) -> None:
    """The channels already warned about lived in memory only: after each restart (a deploy, a
    systemd restart) the next watchdog run told the analysts again that SHOT is silent."""
    # ten hours back: each watchdog's `now` is before the service's start-up read (its real clock), as
    # silence is judged only up to what tgwatch has read
    t0 = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=10, minutes=5)

    async def go() -> None:
        channels(fake)
        for i in range(12):  # SHOT posts every 10 minutes, then nothing for ten hours
            fake.publish(SHOT, f"{PLAIN} ({i})", date=t0 - timedelta(hours=12) + timedelta(minutes=10 * i), push=False)
        async with running_user(fake, tmp_path) as service:
            await service.watchdog(now=t0)
            assert len(silence_warnings(fake)) == 1 and "SHOT (@shot_shot)" in silence_warnings(fake)[0]
        async with running_user(fake, tmp_path) as service:  # restarted: SHOT is still silent
            await service.watchdog(now=t0 + timedelta(minutes=15))
            assert len(silence_warnings(fake)) == 1, silence_warnings(fake)
            fake.publish(SHOT, PLAIN + " (снова)", date=t0 + timedelta(minutes=20))  # it posts again
            await eventually(lambda: service.store.count("posts") == 13)
            await service.watchdog(now=t0 + timedelta(minutes=30))
            assert len(silence_warnings(fake)) == 1
        async with running_user(fake, tmp_path) as service:  # ...and falls silent again: told anew
            await service.watchdog(now=t0 + timedelta(hours=10))
            assert len(silence_warnings(fake)) == 2 and "silent for 9.7 h" in silence_warnings(fake)[1]
    asyncio.run(go())


def test_mute_and_unmute_answers_name_the_channel_not_the_id_typed(fake: FakeTelegram, tmp_path: Path) -> None:
    """«/mute_channel 1800000001 1d» answered «🔕 1800000001 muted for every rule…»: the analyst who
    copied an id from a link could not tell from the answer which channel went quiet."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            r = await ask(fake, f"/mute_channel {SHOT} 1d")
            assert r.text.startswith("🔕 SHOT (@shot_shot) muted for every rule until "), r.text
            assert "🔕 SHOT (@shot_shot): every rule, until " in (await ask(fake, "/rules")).text
            assert (await ask(fake, f"/unmute_channel -100{SHOT}")).text == "🔔 SHOT (@shot_shot) unmuted."
            assert (await ask(fake, "/unmute_channel @shot_shot")).text == "SHOT (@shot_shot) was not muted."
            alert = next(m for m in alerts(fake) if "Дезертирство" in m.text)
            data = next(button_data(b) for row in alert.reply_markup.rows for b in row.buttons
                        if button_data(b).startswith(b"mc:"))
            fake.press_button(ANALYST, alert.id, data)  # «mute the channel for this rule for 1 d»
            answer = await eventually(lambda: next((m for m in fake.chat if m.text.startswith("🔕 desertion muted for")), None))
            assert answer.text.startswith("🔕 desertion muted for SHOT (@shot_shot) until "), answer.text
            assert service.store.count("mutes") == 1
    asyncio.run(go())


def test_a_command_sent_without_its_argument_answers_its_usage_with_an_example_that_works(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """«/story» alone answered «/story: nothing is not a story number»; other commands gave a bare
    «usage: /rule NAME». Each command that needs an argument now answers its usage and an example
    (a rule in use, a stored channel), and the example, sent as it is written, is not a mistake."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            assert (await ask(fake, "/story")).text == ("/story: usage: /story N (the #N an alert or /stories gives), "
                                                        "e.g. /story 12")
            assert (await ask(fake, "/mute desertion")).text == "/mute: usage: /mute NAME 2h, e.g. /mute desertion 2h"
            for command in USAGE:
                r = await ask(fake, f"/{command}")
                assert r.text.startswith(f"/{command}: usage: /{command} ") and "\n" not in r.text, r.text
                example = r.text.split(", e.g. ", 1)[1]
                assert example.startswith(f"/{command} "), r.text
                answer = await ask(fake, example)
                assert not answer.text.startswith(f"/{command}:"), (example, answer.text)
            assert "@shot_shot" in (await ask(fake, "/unmute_channel")).text  # a stored channel, as it is named
            assert service.store.count("posts") == 1
    asyncio.run(go())


def test_stats_and_status_name_the_analysts_zone_as_every_reply_does(fake: FakeTelegram, tmp_path: Path) -> None:
    """With alerts.timezone = Europe/Moscow, /stats said «… Europe/Moscow» and /status «Alerts
    today (UTC)» while alerts, /story and /search say «MSK»."""
    async def go() -> None:
        async with running(fake, tmp_path, timezone="Europe/Moscow"):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            stats = await ask(fake, "/stats 7d")
            head = stats.text.split("\n", 1)[0]
            assert head.startswith("Matches per rule, ") and head.endswith(" MSK") and "Europe" not in stats.text, head
            status = (await ask(fake, "/status")).text.split("\n")
            assert status[0].endswith(" MSK") and status[1] == "Alerts today (since 00:00 MSK): 2 (2 sent)", status
    asyncio.run(go())


def shot_line(status: str) -> str:
    return next(line for line in status.split("\n") if line.startswith("- SHOT (@shot_shot): "))


def test_status_calls_behind_only_the_posts_telegram_gave_that_are_not_stored(fake: FakeTelegram,
                                                                              tmp_path: Path) -> None:
    """After every live post /status said «1 behind» on its channel until the next poll (5 min):
    it counted the posts stored past the poll's last in-order read, read as lag though they were
    stored and alerted. Behind is now what Telegram gave and the store has not: a post pushed while
    another program holds the database."""
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            line = shot_line((await ask(fake, "/status")).text)
            assert line.endswith(" ago), up to date") and "behind" not in line, line
            with locked(tmp_path / "t.db"):
                fake.publish(SHOT, PLAIN)
                await eventually(lambda: service.ingest.failing)
                status = (await ask(fake, "/status")).text
                assert shot_line(status).endswith(" ago), 1 post not stored yet, may be behind (see Errors)"), status
                assert "- SHOT: its posts cannot be stored now (database is locked)" in status
            await service.poll()
            assert service.store.count("posts") == 2
            assert shot_line((await ask(fake, "/status")).text).endswith(" ago), up to date")
    asyncio.run(go())


def test_a_locked_store_holds_back_neither_warning(fake: FakeTelegram, tmp_path: Path) -> None:
    """Recording a silence warning writes to the store: while another program holds it, the
    «fallen behind» warning still comes, and the silence is told once the store can record it."""
    t0 = datetime.now(timezone.utc).replace(microsecond=0)

    async def go() -> None:
        channels(fake)
        for i in range(12):
            fake.publish(SHOT, f"{PLAIN} ({i})", date=t0 - timedelta(hours=12) + timedelta(minutes=10 * i), push=False)
        async with running_user(fake, tmp_path, busy_timeout=QUICK) as service:
            with locked(tmp_path / "tgwatch.db"), pytest.raises(sqlite3.OperationalError):  # the scheduled job logs it
                await service.watchdog(now=t0 + timedelta(hours=4))  # no poll for 4 h (polls every hour)
            assert [t for t in notices(fake) if "fallen behind" in t] and silence_warnings(fake) == []
            await service.watchdog(now=t0 + timedelta(hours=4))
            await service.watchdog(now=t0 + timedelta(hours=5))
            assert len(silence_warnings(fake)) == 1 and len([t for t in notices(fake) if "fallen behind" in t]) == 1
    asyncio.run(go())
