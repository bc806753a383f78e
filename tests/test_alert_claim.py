"""Claims on queued alerts (`bot.store.claims`): a replay killed between claiming an alert and marking
it shown leaves it to the next replay, which shows it once; a running replay's claim is its own."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from bot.store.claims import CLAIM_LEASE, claim, free_abandoned
from bot.alert.outbox import deliver_queued
from bot.cli import cli
from bot.store.db import REPLAY, Store

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
HIT_TEXT = "В Краснодаре задержали двух дезертиров, сбежавших из воинской части"  # desertion and regiment

# A replay whose file sink is SIGKILLed right after writing its first alert's line, before the mark.
KILLED_AFTER_ONE_LINE = """
import os, signal, sys
from bot.alert import sinks
from bot.cli import main
real = sinks.JsonlSink.send
def send(self, alert):
    real(self, alert)
    os.kill(os.getpid(), signal.SIGKILL)
sinks.JsonlSink.send = send
sys.argv = ["tgwatch", *sys.argv[1:]]
main()
"""


def export(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"channel_id": 1700000001, "message_id": mid, "date": 1790000000 + mid * 86400,
                                        "text": f"{HIT_TEXT} номер {mid}"}, ensure_ascii=False) + "\n"
                            for mid in range(1, n + 1)), encoding="utf-8")
    return path


def test_alerts_claimed_by_a_killed_replay_are_shown_by_the_next_once_each(tmp_path: Path) -> None:
    feed, db, shown = export(tmp_path / "feed.jsonl", 2), tmp_path / "t.db", tmp_path / "a.jsonl"
    args = ["replay", str(feed), "--db", str(db), "--rules", str(RULES), "--alerts", str(shown)]
    killed = subprocess.run([sys.executable, "-c", KILLED_AFTER_ONE_LINE, *args], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert killed.returncode == -9, killed.stderr
    assert len(shown.read_text(encoding="utf-8").splitlines()) == 1  # one line out, then the kill

    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in shown.read_text(encoding="utf-8").splitlines()]
    assert sorted((x["story_id"], x["rule"]) for x in lines) == sorted({(x["story_id"], x["rule"]) for x in lines})
    assert len(lines) == 4  # 2 stories x 2 rules, each once: the killed run's line not written again
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT DISTINCT state, owner FROM alerts").fetchall() == [("sent", REPLAY)]


def test_an_alert_a_running_replay_claimed_is_left_to_it_until_the_lease_ends(tmp_path: Path) -> None:
    feed, db = export(tmp_path / "feed.jsonl", 1), tmp_path / "t.db"
    r = CliRunner().invoke(cli, ["replay", str(feed), "--db", str(db), "--rules", str(RULES), "--alerts", "none"])
    assert r.exit_code == 0, r.output
    store = Store(db, owner=REPLAY)
    store.db.execute("UPDATE alerts SET state = 'queued'")  # as a replay that shows them left them
    first, second = [int(r["id"]) for r in store.queued_alerts()]  # type: ignore[call-overload]
    assert claim(store, first, "queued") is not None  # this process is showing it
    assert claim(store, first, "queued") is None  # no one takes it a second time

    class Shown:
        ids: list[int] = []

        def send(self, alert: object) -> None:
            self.ids.append(alert.id)  # type: ignore[attr-defined]

    other = Store(db, owner=REPLAY)  # a second replay beside it
    sink = Shown()
    assert deliver_queued(other, sink) == 1 and sink.ids == [second]
    assert free_abandoned(other, datetime.now(timezone.utc) + CLAIM_LEASE + timedelta(minutes=1)) == 1
    assert deliver_queued(other, sink) == 1 and sink.ids == [second, first]
    store.close()
    other.close()
