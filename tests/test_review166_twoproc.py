"""Review (helper-166): two tgwatch processes on one store, as analysts run them: a live `run`
beside a `replay`, an `export` from cron beside the analyst's, a second `run` by mistake. Each test
fails on the code reviewed because of the fault its name says. Real SQLite files; the processes are
threads or second connections, ordered by events (no sleeps)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from click.testing import CliRunner

import bot.cli.export as export_module
from bot.cli import cli
from bot.live.session import SessionBusy, database_lock
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import SCHEMA_VERSION, Store

from .fake_telegram import FakeTelegram
from .sample_store import Sample, shipped_matcher
from .telegram_fixtures import deliver_alone
from .test_chat import ask, run
from .test_chat import running as chat_running
from .test_live import DESERTION, MASH, NEUTRAL, SHOT, channels
from .test_live import alerts as chat_alerts
from .test_live import running as live_running

ROOT = Path(__file__).resolve().parents[1]


# -- a second `tgwatch run` by mistake ---------------------------------------------------------------

def test_a_second_run_on_the_same_database_through_a_symlink_is_refused(tmp_path: Path) -> None:
    """`paths.db` of a second config names the store through a symlink (~/tgwatch.db -> /srv/tgwatch.db):
    SQLite opens the one file, so the two services would each send every alert; the second must be
    refused as one given the same path is. The lock file is named after the path as written
    (`<db>.lock` beside the link), so both services run."""
    real = tmp_path / "srv" / "tgwatch.db"
    real.parent.mkdir()
    real.touch()
    link = tmp_path / "tgwatch.db"
    link.symlink_to(real)
    with database_lock(real):
        with pytest.raises(SessionBusy, match="another `tgwatch run`"):
            with database_lock(link):
                pass


# -- two exports to one -o at once ------------------------------------------------------------------

def _export(args: list[str]) -> int:
    """`tgwatch export ARGS` in this thread; its exit code."""
    try:
        export_module.export.main(args, standalone_mode=False)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


def test_two_exports_to_one_file_at_once_leave_one_whole_export_and_both_succeed(
        sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An hourly cron `export -o report.csv` runs while the analyst's own `export --all-posts -o
    report.csv` is being written. Both write through the same `.report.csv.part`: the second
    truncates the first's file under it, renames it, and the first then writes on into what is
    now report.csv and fails (`cannot write (No such file or directory)`) when its own rename finds
    no .part. The analyst should get one whole export in report.csv (either) and no error."""
    alone_a, alone_b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert _export(["--db", str(sample.db), "-o", str(alone_a)]) == 0
    assert _export(["--db", str(sample.db), "--all-posts", "-o", str(alone_b)]) == 0
    assert alone_a.read_bytes() != alone_b.read_bytes()

    a_writing, b_done = threading.Event(), threading.Event()
    real_rows = export_module.iter_export_rows

    def gated(*args: Any, **kw: Any) -> Iterator[dict[str, Any]]:
        rows = real_rows(*args, **kw)
        if threading.current_thread().name != "cron":
            yield from rows
            return
        yield next(rows)  # taken before the .part is opened (`_first_checked`)
        a_writing.set()  # the next row is asked for with the .part open
        assert b_done.wait(30)
        yield from rows

    monkeypatch.setattr(export_module, "iter_export_rows", gated)
    target = tmp_path / "report.csv"
    codes: dict[str, int] = {}
    cron = threading.Thread(name="cron", target=lambda: codes.__setitem__(
        "cron", _export(["--db", str(sample.db), "-o", str(target)])))
    cron.start()
    try:
        assert a_writing.wait(30)
        codes["analyst"] = _export(["--db", str(sample.db), "--all-posts", "-o", str(target)])
    finally:
        b_done.set()
        cron.join(30)
    assert not cron.is_alive()
    got = target.read_bytes()
    assert got in (alone_a.read_bytes(), alone_b.read_bytes()), "report.csv is a mix of the two exports"
    assert codes == {"cron": 0, "analyst": 0}
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".part")]


# -- a new release upgrades the store an old `tgwatch run` still has open ------------------------------

def _older(db: Path) -> None:
    """Make the store one migration older (the last one, idempotent, is run again by the upgrade)."""
    with sqlite3.connect(db) as c:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    c.close()


def test_an_upgrade_while_a_run_holds_the_store_is_refused_with_one_line(sample: Sample, tmp_path: Path) -> None:
    """After `pip install -U`, the analyst replays an export into the store the old `tgwatch run` (of
    the release before) still serves: every release's `run` holds `<db>.lock`. The new replay
    upgrades the schema under it with only a `note: upgrading the store` line, and the old code then
    writes into a schema it does not know (across migration 15 it queues alerts with no owner, which
    the new release never sends, and sends a replay's alerts to the chat). The upgrade should wait
    for the run to stop: one `error:` line naming the store and the running `tgwatch run`, nothing
    changed."""
    _older(sample.db)
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"channel_id": 42, "message_id": 1, "date": "2026-11-25T10:00:00Z",
                               "text": "В Краснодаре задержали дезертиров"}) + "\n", encoding="utf-8")
    with database_lock(sample.db):  # the old release's `tgwatch run`, serving the store
        result = CliRunner().invoke(cli, ["replay", str(new), "--db", str(sample.db), "--rules", str(ROOT / "rules"),
                                          "--alerts", "none"])
    with sqlite3.connect(sample.db) as c:
        version = c.execute("PRAGMA user_version").fetchone()[0]
    c.close()
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert version == SCHEMA_VERSION - 1, f"upgraded under the running service: {result.stderr}"
    assert result.exit_code == 2 and len(errors) == 1 and str(sample.db) in errors[0] and "tgwatch run" in errors[0]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a file its user cannot open (root can)")
def test_an_upgrade_beside_a_lock_file_this_user_cannot_open_is_refused_with_one_line(sample: Sample,
                                                                                      tmp_path: Path) -> None:
    """Another user's `tgwatch run` serves the store: its `<db>.lock` is not this user's to open.
    The probe took «cannot open» for «no run» and upgraded the schema under that service; it should
    refuse as for a held lock, one `error:` line naming the lock file and what to do."""
    _older(sample.db)
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"channel_id": 42, "message_id": 1, "date": "2026-11-25T10:00:00Z",
                               "text": "В Краснодаре задержали дезертиров"}) + "\n", encoding="utf-8")
    lock = sample.db.with_name(sample.db.name + ".lock")
    lock.touch(mode=0o000)
    try:
        result = CliRunner().invoke(cli, ["replay", str(new), "--db", str(sample.db), "--rules", str(ROOT / "rules"),
                                          "--alerts", "none"])
    finally:
        lock.chmod(0o600)
    with sqlite3.connect(sample.db) as c:
        version, posts = c.execute("SELECT (SELECT user_version FROM pragma_user_version), count(*) FROM posts "
                                   "WHERE channel_id = 42").fetchone()
    c.close()
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert version == SCHEMA_VERSION - 1 and posts == 0, f"upgraded beside another user's run: {result.stderr}"
    assert result.exit_code == 2 and len(errors) == 1 and "Traceback" not in result.output, result.output
    assert str(lock) in errors[0] and "tgwatch run" in errors[0] and "run this as the user the service runs as" in errors[0]


def test_an_alert_an_older_run_queued_after_the_upgrade_is_sent_by_the_new_one(fake: FakeTelegram, tmp_path: Path) -> None:
    """The old run (a release before migration 15) went on queueing alerts after a new replay
    upgraded the store: its INSERT names no owner, so they are stored with owner NULL (one held by
    a flood wait, or queued just before the analyst stopped it to restart on the new release).
    Restarted on the new release, `tgwatch run` sends only owner = 'live': the chat never gets
    them (0 alerts here; 2 with owner 'live'). They should be the service's, as migration 15 made
    every earlier one."""
    channels(fake)
    mid = fake.publish(SHOT, DESERTION, push=False)
    store = Store(tmp_path / "tgwatch.db")
    list(Pipeline(store, shipped_matcher()).process([Post(
        channel_id=SHOT, message_id=mid, date=datetime.now(timezone.utc).replace(microsecond=0), text=DESERTION,
        channel_title="SHOT", channel_username="shot_shot")]))
    store.db.execute("UPDATE alerts SET owner = NULL")  # as release 35e3c77^'s `queue_alert` wrote them
    assert store.count("alerts") == 2
    store.close()

    async def go() -> int:
        async with live_running(fake, tmp_path) as service:  # the new release's `tgwatch run`
            await deliver_alone(service)
            return len(chat_alerts(fake))

    assert run(go()) == 2


def test_a_running_service_whose_store_a_newer_release_upgraded_says_so_in_the_chat(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The analyst tries a newer release (another venv) with `tgwatch replay --db` on the store this
    `tgwatch run` serves, and it upgrades the schema. From then on every chat command read off the
    loop (/search, /stats, /export, /stories) opens a connection that refuses the newer schema, and
    the chat gets «Sorry, that command failed on our side; the error is in tgwatch's log» with an
    ERROR traceback logged for each, as for a bug, while the service's own connection goes on writing
    into the schema it does not know. The answer should say what happened (a newer tgwatch
    upgraded the store: restart with it), with no traceback in the log."""
    async def go() -> str:
        async with chat_running(fake, tmp_path):
            with sqlite3.connect(tmp_path / "t.db") as c:  # the newer release's upgrade, committed
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            c.close()
            return str((await ask(fake, "/search дезертир")).text)

    answer = run(go())
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]
    assert "failed on our side" not in answer and ("newer" in answer or "upgrade" in answer), answer
    assert not tracebacks, tracebacks


# -- a replay into the live store, beside the running service ---------------------------------------------

def test_a_fresh_post_of_a_watched_channel_a_replay_stored_first_still_reaches_the_chat(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Mash (watched, not joined: read by the poll alone) posts a desertion report at 10:00; at 10:03
    the analyst replays a Desktop export of Mash into the store `tgwatch run` uses (`--alerts none`,
    say, or the terminal of one analyst); the service's poll at 10:05 reads the post, finds it
    stored with the same text and does nothing: the chat never gets the alert. README: a replay's
    story is taken over «once a watched channel reports one of its stories live», and this one did,
    fresh, as the service read it (no backfill, no downtime)."""
    async def go() -> int:
        channels(fake, mash_joined=False)
        async with live_running(fake, tmp_path) as service:
            fake.publish(MASH, NEUTRAL)
            await service.poll()  # Mash read once: its next posts are new, not a backfill
            await deliver_alone(service)
            shown = len(chat_alerts(fake))
            mid = fake.publish(MASH, DESERTION, push=False)
            export = tmp_path / "mash.jsonl"
            export.write_text(json.dumps({"channel_id": MASH, "message_id": mid, "channel_title": "Mash",
                                          "channel_username": "mash", "text": DESERTION,
                                          "date": datetime.now(timezone.utc).isoformat(timespec="seconds")},
                                         ensure_ascii=False) + "\n", encoding="utf-8")
            result = CliRunner().invoke(cli, ["replay", str(export), "--db", str(tmp_path / "tgwatch.db"),
                                              "--rules", str(ROOT / "rules"), "--alerts", "none"])
            assert result.exit_code == 0, result.output
            await service.poll()  # reads the post of Mash, fresh
            await deliver_alone(service)
            return len(chat_alerts(fake)) - shown

    assert run(go()) >= 1, "the chat never got the alert of a fresh post of a watched channel"
