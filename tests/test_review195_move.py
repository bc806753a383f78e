"""Review 195: backing up, restoring and moving a store, with the real CLI on real SQLite files.

`tgwatch run` keeps its store open for its life, in WAL mode: what it wrote lately is in
`<db>-wal` until a checkpoint, so a `cp` of the .db alone is yesterday's store, or a torn one."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import Config, Secrets
from bot.live import service as live_service
from bot.live.session import make_client
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .fake_telegram import USER_ID, FakeSender, FakeTelegram, eventually
from .sample_store import Sample, built, shipped_matcher  # noqa: F401  (fixtures; `sample` and `fake` come from conftest)
from .telegram_fixtures import deliver_alone  # noqa: F401  (fixtures)
from .test_live import DESERTION, NEUTRAL, SHOT, alerts, channels, run, running
from .test_live_bot_token import HASH, ROOT, _session_file, run_cli
from .test_live_edges import TEAM

MASH_ID = 1800000002

LATE = Post(channel_id=-1001700000009, message_id=77, date=datetime(2026, 11, 24, 8, 0, tzinfo=timezone.utc),
            channel_title="Поздний канал", text="Ночью из воинской части сбежал дезертир-контрактник.")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _service_writes(db: Path) -> Store:
    """A store held open as `tgwatch run` holds it, one post just stored and committed (in the -wal)."""
    store = Store(db, busy_timeout=2.0)
    store.db.execute("PRAGMA wal_autocheckpoint=0")  # as a busy service between checkpoints
    list(Pipeline(store, shipped_matcher()).process([LATE]))
    assert Path(f"{db}-wal").stat().st_size > 0
    return store


def test_a_backup_taken_while_the_service_writes_holds_its_latest_post_in_one_file(sample: Sample, tmp_path: Path) -> None:
    """No safe way to copy a running store was documented (a `cp` of the .db lost the -wal's posts):
    `tgwatch backup` copies what was committed, the -wal's posts too, into one whole file."""
    service = _service_writes(sample.db)
    try:
        service.db.execute("BEGIN IMMEDIATE")  # the service mid-write: the backup neither waits nor takes it
        service.db.execute("UPDATE posts SET text = 'half-written' WHERE message_id = 77")
        code, _, stderr = _run("backup", str(tmp_path / "copy.db"), "--db", str(sample.db))
        service.db.execute("ROLLBACK")
    finally:
        service.close()
    assert code == 0, stderr
    assert "copy.db" in stderr and "posts" in stderr
    assert not Path(f"{tmp_path / 'copy.db'}-wal").exists()  # the file alone is the whole store
    code, stdout, _ = _run("search", "дезертир-контрактник", "--db", str(tmp_path / "copy.db"))
    assert code == 0 and "Поздний канал" in stdout and "half-written" not in stdout


def test_a_backup_never_upgrades_nor_writes_the_store_it_copies(sample: Sample, tmp_path: Path) -> None:
    """A backup taken before an upgrade of tgwatch is the store as the old release left it."""
    conn = sqlite3.connect(sample.db)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute(f"PRAGMA user_version = {version + 1}")  # as a newer tgwatch left it: refused by the others
    conn.close()
    before = sample.db.read_bytes()
    code, _, stderr = _run("backup", str(tmp_path / "copy.db"), "--db", str(sample.db))
    assert code == 0, stderr
    assert sample.db.read_bytes() == before
    copied = sqlite3.connect(tmp_path / "copy.db")
    assert copied.execute("PRAGMA user_version").fetchone()[0] == version + 1
    copied.close()


def test_a_backup_replaces_last_nights_whole_and_keeps_the_stores_file_mode(sample: Sample, tmp_path: Path) -> None:
    target = tmp_path / "nightly.db"
    target.write_bytes(b"last night's backup")
    sample.db.chmod(0o640)
    code, _, stderr = _run("backup", str(target), "--db", str(sample.db))
    assert code == 0, stderr
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    code, _, _ = _run("stories", "--db", str(target), "--since", "2020-01-01")
    assert code == 0


def test_a_bad_backup_is_one_error_line_naming_the_file_and_the_store_is_untouched(sample: Sample, tmp_path: Path) -> None:
    before = sample.db.read_bytes()
    cases = [
        (["backup", str(tmp_path / "copy.db"), "--db", str(tmp_path / "none.db")], "none.db"),
        (["backup", str(sample.db), "--db", str(sample.db)], "tg.db"),
        (["backup", str(tmp_path / "no" / "copy.db"), "--db", str(sample.db)], "copy.db"),
    ]
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    cases.append((["backup", str(tmp_path / "copy.db"), "--db", str(tmp_path / "notes.txt")], "notes.txt"))
    for args, named in cases:
        code, stdout, stderr = _run(*args)
        assert code == 2, (args, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], (args, stderr)
        assert "Traceback" not in stdout + stderr
    assert sample.db.read_bytes() == before
    assert not (tmp_path / "copy.db").exists()
    assert os.listdir(tmp_path).count("none.db") == 0  # a missing store is not created by its backup


def test_the_service_started_on_yesterdays_backup_reads_what_it_missed_and_alerts_nothing_twice(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Restored from last night's backup, the store lacks today's posts and the alerts sent for
    them: the start-up read fetches those posts again, and the chat must not get their alerts twice.
    (The analysts' group: the offline server serves no Saved Messages history.)"""
    fake.add_channel(TEAM, "teamgroup", "Team", megagroup=True)
    chats = ("teamgroup",)

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, chats=chats):
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: len(fake.messages(SHOT)) == 1)
        assert _run("backup", str(tmp_path / "nightly.db"), "--db", str(tmp_path / "tgwatch.db"))[0] == 0
        async with running(fake, tmp_path, chats=chats) as service:
            fake.publish(SHOT, DESERTION, date=datetime.now(timezone.utc) - timedelta(minutes=10))  # (a restore takes a while)
            await eventually(lambda: len(alerts(fake)) == 2)  # desertion and regiment
            await deliver_alone(service)
        sent = len(alerts(fake))
        for leftover in ("tgwatch.db-wal", "tgwatch.db-shm"):
            (tmp_path / leftover).unlink(missing_ok=True)
        shutil.copyfile(tmp_path / "nightly.db", tmp_path / "tgwatch.db")
        async with running(fake, tmp_path, chats=chats) as service:
            await service.poll()
            await deliver_alone(service)
            stored = {r["message_id"] for r in service.store.db.query("SELECT message_id FROM posts")}
            assert stored == {m.id for m in fake.messages(SHOT)}  # what it missed is read again
            assert len(alerts(fake)) == sent, [m.text.splitlines()[0] for m in alerts(fake)]
    run(go())


@pytest.mark.parametrize("when", ["at start", "while running"])
def test_a_session_used_on_two_machines_stops_run_with_one_line_and_keeps_what_was_stored(
        fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    """The session file copied to a second machine: Telegram answers AUTH_KEY_DUPLICATED to every
    request and the key is dead. `tgwatch run` went on as a zombie (a warning per channel per poll,
    no post read, no alert); it must stop with one line saying why and what to do."""
    fake.add_channel(MASH_ID, "mash", "Mash")
    fake.publish(MASH_ID, DESERTION)
    folder = tmp_path / "s"
    config = Config(session_dir=folder, db=tmp_path / "t.db", rules=ROOT / "rules", channels=("mash",), chats=("me",))
    _session_file(fake, config, USER_ID, bot=False)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\ndb = "{tmp_path / "t.db"}"\nrules = "{ROOT / "rules"}"\nsession_dir = "{folder}"\n'
                   '[channels]\nwatch = ["mash"]\n[alerts]\nchats = ["me"]\n'
                   '[schedule]\nresolve_delay_seconds = 0\npoll_minutes = 0.1\n', encoding="utf-8")
    if when == "at start":
        fake.fail("GetHistoryRequest", "AUTH_KEY_DUPLICATED", code=406, times=10_000)

    async def copied_elsewhere() -> None:  # the other machine starts once this one has served
        await eventually(lambda: len(alerts(fake)) >= 1)
        fake.fail("GetHistoryRequest", "AUTH_KEY_DUPLICATED", code=406, times=10_000)

    def make(config: Config, secrets: Secrets, bot: bool = False, **kw: Any) -> Any:
        client = make_client(config, secrets, bot=bot, **kw)
        client._sender = FakeSender(fake, client, client.session.auth_key)
        if when == "while running":
            asyncio.get_running_loop().create_task(copied_elsewhere())
        return client

    monkeypatch.setattr(live_service, "run", partial(live_service.run, make=make))
    r = run_cli(cfg, {"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH}, 60)
    assert r is not None, "tgwatch run went on serving on a session Telegram no longer takes"
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    errors_said = [line for line in r.output.splitlines() if line.startswith("error:")]
    assert len(errors_said) == 1 and "copied" in errors_said[0] and "tgwatch login" in errors_said[0], r.output
    assert str(folder) in errors_said[0], r.output  # which session file
    if when == "while running":
        conn = sqlite3.connect(tmp_path / "t.db")
        assert conn.execute("SELECT count(*) FROM posts").fetchone()[0] == 1  # what was stored is kept
        conn.close()
