"""Input fields that read as valid but mean something else: a channel_id of -5 (Telegram's
marked id of basic group 5, not channel 5) and an edit_date before the post's date."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def replay(f: Path, db: Path) -> Result:
    return CliRunner().invoke(cli, ["replay", str(f), "--db", str(db), "--rules", str(ROOT / "rules"), "--alerts", "none"])


def write(f: Path, recs: list[dict[str, Any]]) -> Path:
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    return f


def rec(mid: int, **extra: Any) -> dict[str, Any]:
    return {"channel_id": 1700000001, "message_id": mid, "date": "2026-11-20T08:00:00Z", "text": f"пост {mid}", **extra}


def warnings(f: Path, db: Path) -> list[str]:
    """The warning lines of a replay of `f` into `db`, which must end cleanly."""
    r = replay(f, db)
    assert r.exit_code == 0 and r.exception is None, r.output
    return [ln for ln in r.stderr.splitlines() if ln.startswith("warning")]


def stored(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT channel_id, message_id, edit_date, forward_channel_id FROM posts ORDER BY 2").fetchall()


@pytest.mark.parametrize("value", [-5, "-5", -1700000001])
def test_a_basic_groups_marked_id_is_a_skip_never_channel_5(tmp_path: Path, value: Any) -> None:
    """-5 is how Telegram (Bot API, Telethon's marked ids) writes basic group 5; channel 5 is
    -1000000000005. Stored as channel 5, its posts linked t.me/c/5/N and mixed with that channel's."""
    f, db = write(tmp_path / "in.jsonl", [rec(1), rec(2, channel_id=value)]), tmp_path / "s.db"
    r = replay(f, db)
    assert r.exit_code == 0 and r.exception is None, r.output
    skips = [ln for ln in r.stderr.splitlines() if ln.startswith("skipped")]
    assert skips == [f"skipped {f}: line 2: channel_id {json.dumps(value)} is a basic group's id (Telegram marks "
                     f"a basic group's id -N, a channel's -100N), not a channel's"]
    assert stored(db) == [(1700000001, 1, None, None)]


def test_a_forward_from_a_basic_groups_id_is_kept_without_its_origin(tmp_path: Path) -> None:
    f, db = write(tmp_path / "in.jsonl", [rec(1, forward_channel_id=-5, forward_post_id=3)]), tmp_path / "s.db"
    assert warnings(f, db) == [
        f"warning {f}: line 1: forward_channel_id -5 is a basic group's id (Telegram marks a basic group's id -N, "
        f"a channel's -100N), not a channel's: the post is kept without its forward origin"]
    assert stored(db) == [(1700000001, 1, None, None)]


def test_a_marked_channel_id_is_still_read_as_its_channel(tmp_path: Path) -> None:
    f, db = write(tmp_path / "in.jsonl", [rec(1, channel_id=-1001700000001)]), tmp_path / "s.db"
    assert replay(f, db).exit_code == 0
    assert stored(db) == [(1700000001, 1, None, None)]


def test_an_edit_date_before_the_post_is_a_warning_and_the_post_kept_without_it(tmp_path: Path) -> None:
    """An edit comes after its post: an earlier edit_date is a swapped field or a local time read as
    UTC. Kept, it marks the post «edited» and outranks a later copy's real edit in the store."""
    f = write(tmp_path / "in.jsonl", [rec(1, edit_date="2026-11-20T07:59:59Z"),
                                      rec(2, edit_date="2026-11-20T08:00:00Z"), rec(3, edit_date="2026-11-20T09:00:00Z")])
    db = tmp_path / "s.db"
    assert warnings(f, db) == [
        f'warning {f}: line 1: edit_date "2026-11-20T07:59:59Z" is before the post\'s date (2026-11-20 08:00:00 UTC): '
        f"the post is kept without an edit date"]
    assert [row[2] for row in stored(db)] == [None, "2026-11-20T08:00:00+00:00", "2026-11-20T09:00:00+00:00"]


def test_a_desktop_exports_edit_before_its_post_is_a_warning_too(tmp_path: Path) -> None:
    """The same in a Telegram Desktop export (`edited_unixtime` before `date_unixtime`)."""
    def m(mid: int, **extra: Any) -> dict[str, Any]:
        return {"id": mid, "type": "message", "date": "2026-11-20T08:00:00", "date_unixtime": "1795161600",
                "from": "Baza", "from_id": "channel1700000001", "text": f"пост {mid}", **extra}
    f = tmp_path / "result.json"
    f.write_text(json.dumps({"name": "Baza", "type": "public_channel", "id": 1700000001,
                             "messages": [m(1, edited_unixtime="1795161599"), m(2, edited_unixtime="1795165200")]}),
                 encoding="utf-8")
    db = tmp_path / "s.db"
    assert warnings(f, db) == [
        f'warning {f}: message #0 (id 1): edited_unixtime "1795161599" is before the post\'s date '
        f"(2026-11-20 08:00:00 UTC): the post is kept without an edit date"]
    assert [row[2] for row in stored(db)] == [None, "2026-11-20T09:00:00+00:00"]
