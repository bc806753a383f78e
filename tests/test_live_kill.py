"""SIGKILL at random moments: a live run killed again and again, then let finish, has stored every
post and shown the analyst each alert exactly once, as many alerts as a run never killed."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from .fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parents[1]
KILLS = 8


def run_child(state: Path, rng: random.Random | None) -> bool:
    """Run the child once; with `rng`, SIGKILL it after a random number of its steps. True when
    it finished its script."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.live_child", str(state)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    budget = rng.randint(1, 25) if rng else None
    finished = False
    assert proc.stdout is not None
    for n, line in enumerate(proc.stdout, 1):
        if line.strip() == "done":
            finished = True
            break
        if budget is not None and n >= budget:
            proc.send_signal(signal.SIGKILL)
            break
    proc.stdout.close()
    err = proc.stderr.read() if proc.stderr else ""
    code = proc.wait(timeout=120)
    assert code in (0, -signal.SIGKILL), f"child failed ({code}):\n{err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    return finished


def outcome(state: Path) -> tuple[set[tuple[int, int]], set[tuple[int, int]], list[dict[str, object]], list[object]]:
    """(published posts, stored posts, alert rows, alert messages in the chat)."""
    fake = FakeTelegram(state / "telegram.json")
    published = {(c, m.id) for c in (1800000001, 1800000002, 1800000003) for m in fake.messages(c)}
    db = sqlite3.connect(state / "tgwatch.db")
    db.row_factory = sqlite3.Row
    stored = {(r[0], r[1]) for r in db.execute("SELECT channel_id, message_id FROM posts")}
    alerts = [dict(r) for r in db.execute("SELECT id, rule, story_id, state FROM alerts")]
    db.close()
    return published, stored, alerts, [m for m in fake.chat if "matched:" in m.text]


def test_sigkill_at_random_moments_loses_no_post_and_sends_no_alert_twice(tmp_path: Path) -> None:
    seed = int(os.environ.get("TGWATCH_KILL_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    clean.mkdir()
    killed.mkdir()
    assert run_child(clean, None)

    kills = 0
    while kills < KILLS:
        if run_child(killed, rng):
            break  # finished before the budget ran out: still a valid run, with fewer kills
        kills += 1
    finished = run_child(killed, None)
    assert finished, f"seed {seed}"

    published, stored, alerts, messages = outcome(killed)
    _, _, clean_alerts, clean_messages = outcome(clean)
    where = f"(seed {seed}, {kills} kills)"
    assert published <= stored, f"posts lost {sorted(published - stored)} {where}"
    assert {a["state"] for a in alerts} == {"sent"}, where
    texts = [json.dumps([m.text.split("\n")[0], m.text.split("\n")[-2:]], ensure_ascii=False) for m in messages]
    assert len(messages) == len(alerts), f"{len(messages)} alert messages for {len(alerts)} alerts {where}: {texts}"
    assert len({m.random_id for m in messages}) == len(messages)
    assert len(alerts) == len(clean_alerts) == len(clean_messages), where
    assert sorted(str(a["rule"]) for a in alerts) == sorted(str(a["rule"]) for a in clean_alerts), where
