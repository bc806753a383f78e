"""A long downtime: the start-up read recovers every post published meanwhile, alerts only the last
day's, and tells in its «recovered» line how many matched posts were too old to alert and how to
list them; the same count holds when a restart comes before that read finishes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.store.db import iso

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, history_flooded
from .test_live import DESERTION, MASH, NEUTRAL, SHOT, TOPOR, alerts, channels, notices, run, running

OLD_LOCKDOWN = "Район оцеплен, жителей эвакуируют из-за подозрительного предмета"
FRESH = "Срочник сбежал из части с автоматом"



async def last_ran(fake: FakeTelegram, tmp_path: Path, at: datetime) -> None:
    """A run that read SHOT, Mash and Топор, last known running at `at` (the fake's clock cannot
    stop for a week: the mark is set back)."""
    async with running(fake, tmp_path) as service:
        for c in (SHOT, MASH, TOPOR):
            fake.publish(c, NEUTRAL, date=at - timedelta(days=1))
        await service.poll()
        service.store.set_meta("live_alive_at", iso(at) or "")

def test_a_week_down_alerts_only_the_last_days_posts_and_the_line_names_the_older_matches(fake: FakeTelegram,
                                                                                          tmp_path: Path) -> None:
    """Down a week: SHOT (joined, so Telegram's start-up difference brings it) posted a desertion six
    days ago, Mash (read by the poll alone) a lockdown three days ago, Топор a desertion an hour
    ago. Only Топор's rings; the line says two matched posts were not alerted, and the command it
    names lists them."""
    week_ago = datetime.now(timezone.utc) - timedelta(days=7)

    async def go() -> None:
        channels(fake, mash_joined=False)
        await last_ran(fake, tmp_path, week_ago)
        now = datetime.now(timezone.utc)
        fake.publish(SHOT, DESERTION, date=now - timedelta(days=6))
        fake.publish(MASH, OLD_LOCKDOWN, date=now - timedelta(days=3))
        fake.publish(TOPOR, FRESH, date=now - timedelta(hours=1))
        async with running(fake, tmp_path) as service:
            await eventually(lambda: service.store.count("posts") == 6)
            await service.poll()
            await deliver_alone(service)
            rung = [a.text for a in alerts(fake)]
            assert len(rung) == 1 and "Срочник" in rung[0], rung
            told = [n for n in notices(fake) if "recovered" in n]
            assert told == [f"recovered 3 posts from 3 channels; 2 matched posts older than a day were not alerted: "
                            f"tgwatch export --since {week_ago.date().isoformat()}"], told
        command = told[0].split(": ", 1)[1].split()[1:]  # as the analyst would type it
        r = CliRunner().invoke(cli, [*command, "--db", str(tmp_path / "tgwatch.db"), "--format", "jsonl"])
        assert r.exit_code == 0, r.output
        assert "дезертиров" in r.output and "оцеплен" in r.output
    run(go())


def test_a_restart_before_the_start_up_read_finishes_still_tells_the_whole_downtime_once(fake: FakeTelegram,
                                                                                        tmp_path: Path) -> None:
    """Down a week; the start-up read stores SHOT's six-day-old desertion (muted) and Mash's post,
    then an hour's flood wait stops it at Топор, and tgwatch is restarted before it finishes: the
    start that finishes tells the whole downtime, the old match included, once; the next start
    tells nothing."""
    week_ago = datetime.now(timezone.utc) - timedelta(days=7)

    async def go() -> None:
        for c, name in ((SHOT, "shot_shot"), (MASH, "mash"), (TOPOR, "topor")):
            fake.add_channel(c, name, name, joined=False)
        await last_ran(fake, tmp_path, week_ago)
        now = datetime.now(timezone.utc)
        fake.publish(SHOT, DESERTION, date=now - timedelta(days=6))
        fake.publish(MASH, NEUTRAL + " (1)", date=now - timedelta(hours=2))
        fake.publish(TOPOR, FRESH, date=now - timedelta(hours=1))
        with history_flooded(fake, TOPOR):
            async with running(fake, tmp_path) as service:
                assert service.store.count("posts") == 5 and not service.ingest.complete
        async with running(fake, tmp_path) as service:
            assert service.store.count("posts") == 6
            await deliver_alone(service)
        async with running(fake, tmp_path) as service:
            await service.poll()
        told = [n for n in notices(fake) if "recovered" in n]
        assert told == [f"recovered 3 posts from 3 channels; 1 matched post older than a day was not alerted: "
                        f"tgwatch export --since {week_ago.date().isoformat()}"], told
        assert [a.text for a in alerts(fake) if "дезертиров" in a.text] == []
        assert any("Срочник" in a.text for a in alerts(fake))
    run(go())
