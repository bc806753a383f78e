"""Alerts with no owner (`alerts.owner` NULL): a release before migration 15 still running on a store a
newer release upgraded (a replay, or `tgwatch run` until restarted) queues them so. They get the owner
migration 15 gave an older store's alerts (`give_owners`): sent by the live service where one ran,
else by the next replay; printed ones stay a replay's. Real SQLite files, `tgwatch replay` as run."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import LIVE, REPLAY, Store

from .fake_telegram import FakeTelegram
from .sample_store import shipped_matcher
from .telegram_fixtures import deliver_alone
from .test_live import DESERTION, ROOT, alerts, channels, run, running

ELSEWHERE = 1700000009  # a channel the service does not watch


def replay(db: Path, alerts_to: str, tmp_path: Path) -> list[str]:
    """`tgwatch replay` of one desertion report (2 rules) into `db`; the lines `--alerts FILE` got."""
    feed, shown = tmp_path / "feed.jsonl", tmp_path / "shown.jsonl"
    feed.write_text(json.dumps({"channel_id": ELSEWHERE, "message_id": 1, "date": "2026-11-20T09:04:00Z",
                                "text": DESERTION}, ensure_ascii=False) + "\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["replay", str(feed), "--db", str(db), "--rules", str(ROOT / "rules"),
                                 "--alerts", str(shown) if alerts_to == "file" else alerts_to])
    assert r.exit_code == 0, r.output
    return shown.read_text(encoding="utf-8").splitlines() if shown.exists() else []


def owners(db: Path) -> list[tuple[str, str | None]]:
    store = Store(db)
    try:
        return [(str(r[0]), r[1]) for r in store.db.execute("SELECT state, owner FROM alerts ORDER BY id")]
    finally:
        store.close()


def older_release(db: Path, sql: str, *args: object) -> None:
    """Write into the store as a release before alert owners did (its INSERT names no owner)."""
    store = Store(db)
    store.db.execute(sql, list(args))
    store.close()


def test_alerts_an_older_replay_left_queued_with_no_owner_are_shown_by_the_next_replay(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    assert replay(db, "none", tmp_path) == []
    older_release(db, "UPDATE alerts SET state = 'queued', owner = NULL")  # its replay was stopped before showing them
    assert len(replay(db, "file", tmp_path)) == 2
    assert owners(db) == [("sent", REPLAY)] * 2


def test_in_the_live_store_alerts_with_no_owner_are_left_to_the_service_and_printed_ones_to_replays(
        tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    replay(db, "none", tmp_path)
    older_release(db, "INSERT INTO meta (key, value) VALUES ('live_run', '3')")  # `tgwatch run` served it
    older_release(db, "UPDATE alerts SET state = CASE WHEN id % 2 THEN 'queued' ELSE 'sent' END, owner = NULL")
    assert replay(db, "file", tmp_path) == []  # neither shown: one is the chat's, one was printed
    assert owners(db) == [("queued", LIVE), ("sent", REPLAY)]


def test_an_alert_queued_with_no_owner_while_the_service_runs_reaches_the_chat(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> int:
        channels(fake)
        async with running(fake, tmp_path) as service:
            await deliver_alone(service)  # the first pass found none
            other = Store(tmp_path / "tgwatch.db")  # an older release's process beside it
            list(Pipeline(other, shipped_matcher()).process([Post(
                channel_id=ELSEWHERE, message_id=1, date=datetime.now(timezone.utc).replace(microsecond=0),
                text=DESERTION, channel_title="Elsewhere")]))
            other.db.execute("UPDATE alerts SET owner = NULL")
            other.close()
            await deliver_alone(service)
            return len(alerts(fake))

    assert run(go()) == 2
