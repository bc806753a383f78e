"""A replay shows what an earlier, stopped run queued only for the rules it is given: the alerts of
a rule switched off, or not in this run's `--rules`, stay queued for a run that has the rule (the
live service mutes them as no news, `bot.live.retired`), never shown by the rules' leave nor lost."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import bot.cli.replay as replay_cli
from bot.cli import cli

ROOT = Path(__file__).resolve().parents[1]
BOTH = "В Краснодаре задержали троих дезертиров, сбежавших из воинской части"  # desertion and regiment


def replay(export: Path, db: Path, rules: Path, shown: Path) -> Result:
    return CliRunner().invoke(cli, ["replay", str(export), "--db", str(db), "--rules", str(rules), "--alerts", str(shown)])


def shown_rules(path: Path) -> list[str]:
    if not path.exists():
        return []
    return sorted(json.loads(line)["rule"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def states(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as c:
        return dict(c.execute("SELECT rule, state FROM alerts"))


@pytest.fixture
def stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """A store whose first replay was stopped (Ctrl-C) after queuing its two alerts, before
    showing them; the rules folder it used (desertion and regiment)."""
    export, db, rules = tmp_path / "posts.jsonl", tmp_path / "s.db", tmp_path / "rules"
    export.write_text(json.dumps({"channel_id": 1700000001, "message_id": 1, "date": "2024-11-20T09:04:00Z",
                                  "text": BOTH}, ensure_ascii=False) + "\n", encoding="utf-8")
    rules.mkdir()
    for name in ("desertion", "regiment"):
        shutil.copy(ROOT / "rules" / f"{name}.toml", rules)

    def interrupted(*a: Any, **kw: Any) -> int:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(replay_cli, "deliver_queued", interrupted)
        r = replay(export, db, rules, tmp_path / "first.jsonl")
    assert r.exit_code != 0 and "interrupted" in r.output, r.output
    assert states(db) == {"desertion": "queued", "regiment": "queued"}
    return export, db, rules


def test_an_earlier_runs_alert_of_a_rule_switched_off_since_is_not_shown_and_stays_queued(
        stopped: tuple[Path, Path, Path], tmp_path: Path) -> None:
    export, db, rules = stopped
    toml = rules / "desertion.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("severity =", "enabled = false\nseverity =", 1), encoding="utf-8")
    r = replay(export, db, rules, tmp_path / "second.jsonl")
    assert r.exit_code == 0, r.output
    assert shown_rules(tmp_path / "second.jsonl") == ["regiment"]
    assert states(db) == {"desertion": "queued", "regiment": "sent"}
    assert "1 queued alert of a rule not in use (desertion)" in " ".join(r.output.split()), r.output
    toml.write_text(toml.read_text(encoding="utf-8").replace("enabled = false\n", ""), encoding="utf-8")
    r = replay(export, db, rules, tmp_path / "third.jsonl")
    assert r.exit_code == 0, r.output
    assert shown_rules(tmp_path / "third.jsonl") == ["desertion"]  # back in use: shown once, by the run that has it
    assert states(db) == {"desertion": "sent", "regiment": "sent"}


def test_a_replay_with_one_experimental_rules_folder_leaves_the_other_rules_alerts_queued(
        stopped: tuple[Path, Path, Path], tmp_path: Path) -> None:
    export, db, _ = stopped
    only = tmp_path / "experiment"
    only.mkdir()
    shutil.copy(ROOT / "rules" / "regiment.toml", only)
    r = replay(export, db, only, tmp_path / "second.jsonl")
    assert r.exit_code == 0, r.output
    assert shown_rules(tmp_path / "second.jsonl") == ["regiment"]
    assert states(db)["desertion"] == "queued"
