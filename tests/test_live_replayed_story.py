"""A story a replay into the live store alerted (its terminal's alert, `alerts.owner` 'replay')
that a watched channel then reports live: the chat gets it, once, as a full alert; a live post
the old-post rules mute (a new channel's backfill) hands it nothing. Real TelegramClient against
the offline server, a real SQLite store, `tgwatch replay` as the analyst runs it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, DESERTION_2, MASH, ROOT, alerts, channels, run, running
from .telegram_fixtures import deliver_alone

ELSEWHERE = 1700000009  # a channel the service does not watch: only the export has it


def replay(tmp_path: Path, when: datetime, text: str = DESERTION) -> str:
    """`tgwatch replay` of one JSON Lines line into the live store; its terminal output."""
    export = tmp_path / f"export-{when:%H%M%S%f}.jsonl"
    export.write_text(json.dumps({"channel_id": ELSEWHERE, "message_id": int(when.timestamp()) % 100000, "text": text,
                                  "date": when.isoformat(), "channel_title": "Elsewhere"}, ensure_ascii=False) + "\n",
                      encoding="utf-8")
    r = CliRunner().invoke(cli, ["replay", str(export), "--db", str(tmp_path / "tgwatch.db"), "--rules", str(ROOT / "rules")])
    assert r.exit_code == 0, r.output
    return r.output


def test_a_live_post_joining_a_replayed_story_alerts_the_chat_once_and_not_the_terminal_again(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            await fake.idle()
            assert "Elsewhere" in replay(tmp_path, datetime.now(timezone.utc))  # printed in the terminal
            fake.publish(MASH, DESERTION_2)
            await eventually(lambda: len(alerts(fake)) == 2)  # desertion, and the military unit it names
            await deliver_alone(service)
            await fake.idle()
            assert len(alerts(fake)) == 2 and not any(a.edits for a in alerts(fake))
            for alert in alerts(fake):  # the whole story, as the live service's own alert shows it
                assert alert.text.split("\n")[1].startswith("Mash") and "first: Elsewhere" in alert.text, alert.text
            later = replay(tmp_path, datetime.now(timezone.utc), "Погода в Москве: завтра до +5, без осадков")
            assert "дезертир" not in later.lower() and "Mash" not in later, later
    run(go())


def test_a_backfilled_post_of_a_replayed_story_days_old_hands_the_chat_nothing(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        old = datetime.now(timezone.utc) - timedelta(days=3)
        replay(tmp_path, old)
        fake.publish(MASH, DESERTION_2, date=old + timedelta(minutes=20))  # before the service watched it
        async with running(fake, tmp_path) as service:
            await eventually(lambda: service.store.count("posts") == 2)
            await deliver_alone(service)
            await fake.idle()
            assert alerts(fake) == []
            assert {r["owner"] for r in service.store.db.query("SELECT owner FROM alerts")} == {"replay"}  # left to it
    run(go())
