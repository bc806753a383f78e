"""Another program holds the database's write lock (an analyst's sqlite3 shell, a replay into the
same file): real SQLite files, the lock held from a second connection with BEGIN IMMEDIATE, the
real TelegramClients against the offline fake server. The service keeps serving meanwhile; what
could not be stored or recorded is done once the lock is gone, exactly once."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import bot.live.ingest as ingest_module
from bot.chat.commands import Caller
from bot.cli.common import open_store as cli_store
from bot.live.dbfaults import store_down
from bot.live.service import _guarded, open_store
from bot.live.session import database_lock
from bot.store.db import SCHEMA_VERSION, Store, StoreError

from .fake_telegram import FakeTelegram, eventually
from .test_chat import ANALYST, DESERTION, MASH, NEUTRAL, PLAIN, SHOT, Clock, alerts, ask, button_data, replies, run, running
from .test_live import config
from .telegram_fixtures import deliver_alone

BUSY = "The database is busy (another program is writing to it); try again in a moment."
DESERTION_2 = "Трое дезертиров из воинской части в Краснодаре задержаны полицией, сообщают источники"
QUICK = 0.1  # the service's busy timeout in these tests (2 s in use): the test waits for nothing


class Lock:
    """Another program's write transaction on the store, from its own connection."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


@contextmanager
def locked(path: Path) -> Iterator[Lock]:
    lock = Lock(path)
    try:
        yield lock
    finally:
        lock.release()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def writes(statements: list[str]) -> list[str]:
    """The statements among those traced that write (each would wait for the lock)."""
    return [s for s in statements if s.split(None, 1)[0].upper() in {"BEGIN", "INSERT", "UPDATE", "DELETE", "REPLACE"}]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def beyond_look_back(fake: FakeTelegram, service: Any) -> int:
    """A stored SHOT post with eight stored after it, out of reach of a poll whose `edit_lookback`
    is 5; returns its id."""
    old = fake.publish(SHOT, PLAIN, push=False)
    for i in range(8):
        fake.publish(SHOT, f"{PLAIN} {i}", push=False)
    await service.ingest.reconcile()
    return old


def digests(fake: FakeTelegram) -> list[Any]:
    return [m for m in fake.chat if "📋 Digest" in m.text]


@pytest.fixture
def soon(monkeypatch: pytest.MonkeyPatch) -> None:
    """The poll after a database failure comes at once (30 s in use)."""
    monkeypatch.setattr(ingest_module, "DB_RETRY_DELAY", 0.05)


def test_the_live_store_waits_2_s_for_a_lock_and_the_cli_30_s(tmp_path: Path) -> None:
    live = open_store(config(tmp_path))
    assert live.db.execute("PRAGMA busy_timeout").fetchone()[0] == 2000
    live.close()
    cli = cli_store(str(tmp_path / "tgwatch.db"))
    assert cli.db.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    cli.close()


def test_an_upgrade_the_lock_holds_back_is_a_clean_error_at_start(tmp_path: Path) -> None:
    store = Store(tmp_path / "tgwatch.db")
    store.db.execute("PRAGMA user_version = 6")  # a store the last migration has not seen
    store.close()
    with locked(tmp_path / "tgwatch.db"), pytest.raises(StoreError, match="another program is using it"):
        open_store(config(tmp_path))
    store = open_store(config(tmp_path))  # once the lock is gone, it upgrades
    assert store.version == SCHEMA_VERSION
    store.close()


def test_the_run_upgrades_its_own_store_under_the_lock_that_refuses_any_other_upgrade(tmp_path: Path) -> None:
    """`tgwatch run` holds `<db>.lock` before it opens the store: the lock that keeps a replay's
    upgrade off a running service must not keep the run of the new release off its own."""
    cfg = config(tmp_path)
    store = Store(cfg.db)
    store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    store.close()
    with database_lock(cfg.db):
        with pytest.raises(StoreError, match="a `tgwatch run` is serving this store"):
            Store(cfg.db)  # any other program (a replay, a search)
        store = open_store(cfg)
    assert store.version == SCHEMA_VERSION
    store.close()


def test_a_post_pushed_while_locked_alerts_once_after_and_the_bot_answers_meanwhile(
        fake: FakeTelegram, tmp_path: Path, soon: None, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK) as service:
            with locked(tmp_path / "t.db"):
                fake.publish(SHOT, DESERTION)
                await eventually(lambda: any("not stored now" in m for m in warnings(caplog)))
                await eventually(lambda: service.ingest.failing)  # /status names the channel whose post waits
                status = await ask(fake, "/status")  # answered while the lock is held (reads never wait)
                assert "SHOT: its posts cannot be stored now (database is locked)" in status.text
                assert (await ask(fake, "/mute desertion 2h")).text == BUSY
                assert alerts(fake) == [] and service.store.count("posts") == 0
            # no scheduled poll: the poll after the failure stores it, and it alerts once
            await eventually(lambda: len(alerts(fake)) == 2)
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) == 2 and service.store.count("posts") == 1
            assert service.store.count("mutes") == 0  # the refused /mute changed nothing
            assert "muted until" in (await ask(fake, "/mute desertion 2h")).text  # and works now
            assert "cannot be stored" not in (await ask(fake, "/status")).text
        pushed = [m for m in warnings(caplog) if "not stored now" in m]
        assert pushed == [pushed[0]] and "database is locked" in pushed[0] and "\n" not in pushed[0]
        assert tracebacks(caplog) == []
    run(go())


def test_an_alert_sent_while_its_state_cannot_be_recorded_is_not_sent_again(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The lock comes just as the first alert lands: its "sent" cannot be written. The next pass
    records it instead of sending it again, with its message id, so the story update edits it
    (the bot cannot read its chat's history to find a message it lost track of)."""
    held: list[Lock] = []
    real = fake._on_SendMessageRequest

    def on_send(account: Any, r: Any) -> Any:
        answer = real(account, r)
        if "matched:" in r.message and not held:
            held.append(Lock(tmp_path / "t.db"))
        return answer

    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK) as service:
            fake._on_SendMessageRequest = on_send
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: any("sending paused" in m for m in warnings(caplog)))
            assert len(alerts(fake)) == 1
            tried: list[str] = []
            service.store.db.conn.set_trace_callback(tried.append)
            await deliver_alone(service)  # still locked: nothing more goes out, nothing twice
            service.store.db.conn.set_trace_callback(None)
            assert len(alerts(fake)) == 1
            assert not writes(tried), tried  # asked without waiting for the lock
            held[0].release()
            await deliver_alone(service)
            assert len(alerts(fake)) == 2
            sent = {r["message_id"] for r in service.store.db.query("SELECT message_id FROM deliveries")}
            assert sent == {m.id for m in alerts(fake)}
            assert {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"sent"}
            assert sum("matched:" in r.message for r in fake.requests if type(r).__name__ == "SendMessageRequest") == 2
            fake.publish(MASH, DESERTION_2)
            await eventually(lambda: all(m.edits for m in alerts(fake)))
            assert all("also Mash" in m.edits[-1][1] for m in alerts(fake)) and len(alerts(fake)) == 2
        assert [m for m in warnings(caplog) if "sending paused" in m] == [
            "sending paused (database: database is locked); alerts stay queued for the next pass"]
        assert tracebacks(caplog) == []
    run(go())


def test_a_digest_due_while_locked_goes_out_at_the_next_pass_once(fake: FakeTelegram, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK) as service:
            fake.publish(SHOT, NEUTRAL)  # a low-severity match: it waits for the digest
            await eventually(lambda: service.store.count("alerts") == 1)
            job = service.scheduler.get_job("digest").func  # what the scheduler runs at digest time
            with locked(tmp_path / "t.db"):
                await job()
                assert (await ask(fake, "/digest")).text == BUSY
                assert digests(fake) == []
            await deliver_alone(service)  # the sender's next tick, not tomorrow's digest
            await deliver_alone(service)
            assert len(digests(fake)) == 1 and "Weather" in digests(fake)[0].text
            assert "Nothing waiting" in (await ask(fake, "/digest")).text
        assert tracebacks(caplog) == []
    run(go())


def test_buttons_pressed_while_locked_say_so_and_work_after(fake: FakeTelegram, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            alert = alerts(fake)[0]
            verdict = next(button_data(b) for row in alert.reply_markup.rows for b in row.buttons
                           if button_data(b).startswith(b"rel:"))
            proposal = await ask(fake, "/add_rule krasnodar Краснодар AND задержали")
            confirm = button_data(proposal.reply_markup.rows[0].buttons[0])
            with locked(tmp_path / "t.db"):
                for message, data in ((alert, verdict), (proposal, confirm)):
                    fake.press_button(ANALYST, message.id, data)
                    await eventually(lambda: len(fake.callback_answers) and fake.callback_answers[-1].message == BUSY)
                    fake.callback_answers.clear()
                assert not (tmp_path / "rules" / "krasnodar.toml").exists()
            fake.press_button(ANALYST, proposal.id, confirm)  # the same Confirm works once the lock is gone
            await eventually(lambda: (tmp_path / "rules" / "krasnodar.toml").exists())
            fake.press_button(ANALYST, alert.id, verdict)
            await eventually(lambda: service.store.count("feedback") == 1)
            assert service.store.count("rule_changes") == 1
        assert tracebacks(caplog) == []
    run(go())


def test_every_scheduled_job_run_while_locked_logs_a_line_at_most(fake: FakeTelegram, tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK, retention_days=30) as service:
            fake.publish(SHOT, DESERTION)
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: len(alerts(fake)) == 2 and service.store.count("alerts") == 3)
            await eventually(lambda: not service.sender._lock.locked())  # its pass is over: its warnings are no job's
            jobs = {j.id: j.func for j in service.scheduler.get_jobs()}
            assert set(jobs) == {"reconcile", "sender", "rules", "digest", "heartbeat", "watchdog", "retention"}
            with locked(tmp_path / "t.db"):
                fake.publish(MASH, DESERTION_2, push=False)  # read by the poll, stored after
                for name, job in jobs.items():
                    caplog.clear()
                    await job()  # raises nothing
                    said = warnings(caplog)
                    assert len(said) <= 1 and "\n" not in "".join(said), (name, said)
                assert any("💓" in m.text for m in replies(fake))  # the heartbeat reads, so it went out
            await jobs["reconcile"]()
            await jobs["sender"]()  # (a pass still under way takes this one's place: wait for what it sends)
            await eventually(lambda: service.store.count("posts") == 3 and any(m.edits for m in alerts(fake))  # the story grew
                             and len(digests(fake)) == 1)
        assert tracebacks(caplog) == []
    run(go())


def test_a_start_while_locked_watches_every_channel_once_the_lock_is_gone(
        fake: FakeTelegram, tmp_path: Path, soon: None, caplog: pytest.LogCaptureFixture) -> None:
    """The first start of a store another program holds: the channels Telegram resolved are kept
    in memory until the store can record them, so none is looked up twice."""
    Store(tmp_path / "t.db").close()  # created and migrated before the other program opened it

    async def go() -> None:
        lock = Lock(tmp_path / "t.db")
        async with running(fake, tmp_path, busy_timeout=QUICK) as service:
            assert (await ask(fake, "/status")).peer == ANALYST  # started, and answering
            assert service.ingest.watched == {}
            lock.release()
            await eventually(lambda: len(service.ingest.watched) == 2)
            assert fake.count("ResolveUsernameRequest") == 2  # shot_shot and mash, once each
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            rows = service.store.db.query("SELECT id FROM channels WHERE access_hash IS NOT NULL")
            assert {r["id"] for r in rows} == {SHOT, MASH}
        assert any("looking up channels stopped (database: database is locked)" in m for m in warnings(caplog))
        assert tracebacks(caplog) == []
    run(go())


def test_a_change_meeting_a_full_disk_answers_one_line_and_can_be_confirmed_later(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """SQLite's own "database or disk is full" (the store may not grow by a page), not a lock."""
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK) as service:
            analyst = Caller(ANALYST, "Anna")
            proposal = await service.commands.handle("/add_rule big " + " OR ".join(f"слово{i}" for i in range(400)), analyst)
            assert proposal is not None and proposal.buttons
            confirm = proposal.buttons[0][0][1]
            pages = service.store.db.execute("PRAGMA page_count").fetchone()[0]
            service.store.db.execute(f"PRAGMA max_page_count = {pages}")
            pressed = await service.commands.press(confirm, analyst)
            assert pressed.toast == "The database cannot be used right now (database or disk is full); try again later."
            assert not (tmp_path / "rules" / "big.toml").exists()
            service.store.db.execute(f"PRAGMA max_page_count = {pages * 100}")
            assert "saved" in (await service.commands.press(confirm, analyst)).html
        said = [m for m in warnings(caplog) if "not done" in m]
        assert said == ["button 'ok' not done (database: database or disk is full); the analyst is asked to try again"]
        assert tracebacks(caplog) == []
    run(go())


def test_a_bug_in_sql_is_not_taken_for_a_busy_database() -> None:
    conn = sqlite3.connect(":memory:")
    with pytest.raises(sqlite3.OperationalError) as bug:
        conn.execute("SELECT * FROM no_such_table")
    assert store_down(bug.value) is None
    conn.close()


def test_an_edit_pushed_while_locked_is_stored_after_even_beyond_the_polls_look_back(
        fake: FakeTelegram, tmp_path: Path, soon: None, caplog: pytest.LogCaptureFixture) -> None:
    """The retry poll re-reads only the last `edit_lookback` posts: an edit of an older post that
    the store could not take is kept and stored before it (helper-49 found it lost)."""
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK, edit_lookback=5) as service:
            old = await beyond_look_back(fake, service)
            assert service.store.count("posts") == 9
            with locked(tmp_path / "t.db"):
                fake.edit(SHOT, old, DESERTION)
                await eventually(lambda: any(f"post {old} of SHOT not stored now" in m for m in warnings(caplog)))

            def stored() -> str:
                return str(service.store.db.execute("SELECT text FROM posts WHERE channel_id = ? AND message_id = ?",
                                                    [SHOT, old]).fetchone()[0])
            await eventually(lambda: stored() == DESERTION)
            await deliver_alone(service)
            await eventually(lambda: len(alerts(fake)) == 2)  # desertion and regiment, once each
        assert tracebacks(caplog) == []
    run(go())


def test_reactions_while_locked_neither_write_nor_warn(
        fake: FakeTelegram, tmp_path: Path, soon: None, caplog: pytest.LogCaptureFixture) -> None:
    """Reactions arrive as edits with the text unchanged: they must not queue for the write lock
    (each would hold the loop for the busy timeout) nor speak for the outage."""
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK) as service:
            mid = fake.publish(SHOT, PLAIN)
            await eventually(lambda: service.store.count("posts") == 1)
            with locked(tmp_path / "t.db"):
                for _ in range(5):
                    fake.react(SHOT, mid)
                new = fake.publish(SHOT, DESERTION)  # handled after the reactions
                await eventually(lambda: any("not stored now" in m for m in warnings(caplog)))
            said = [m for m in warnings(caplog) if "not stored now" in m]
            assert len(said) == 1 and f"post {new} of SHOT" in said[0]
    run(go())


def test_the_watchdog_warns_when_a_pushed_post_waits_through_a_long_lock(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Polls that stop at a post they keep for the store are failed polls: the analysts hear that
    tgwatch has fallen behind (helper-50 found the watchdog silent)."""
    t0 = datetime.now(timezone.utc).replace(microsecond=0)
    clock = Clock(t0)

    async def go() -> None:
        async with running(fake, tmp_path, clock, busy_timeout=QUICK) as service:
            with locked(tmp_path / "t.db"):
                fake.publish(SHOT, DESERTION)
                await eventually(lambda: any("not stored now" in m for m in warnings(caplog)))
                for hour in range(1, 5):  # four hourly polls, all under the lock
                    clock.now = t0 + timedelta(hours=hour)
                    await service.poll()
                await service.watchdog(now=clock.now)
                assert any("fallen behind" in m.text for m in replies(fake))
    run(go())


def test_an_edit_reverted_while_locked_leaves_the_stored_text(
        fake: FakeTelegram, tmp_path: Path, soon: None, caplog: pytest.LogCaptureFixture) -> None:
    """Edited by mistake and back while the store was locked: the kept edit must not be stored
    after the lock (it would alert on text the channel no longer shows)."""
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK, edit_lookback=5) as service:
            old = await beyond_look_back(fake, service)
            with locked(tmp_path / "t.db"):
                fake.edit(SHOT, old, DESERTION)
                await eventually(lambda: service.ingest._unstored)
                fake.edit(SHOT, old, PLAIN)  # reverted: the same text as stored
                await eventually(lambda: not service.ingest._unstored)
            await service.ingest.reconcile()
            await deliver_alone(service)
            stored = service.store.db.execute("SELECT text FROM posts WHERE channel_id = ? AND message_id = ?",
                                              [SHOT, old]).fetchone()[0]
            assert stored == PLAIN and alerts(fake) == []
    run(go())


def test_a_kept_post_that_fails_for_another_reason_does_not_stop_the_polls(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK, edit_lookback=5) as service:
            old = await beyond_look_back(fake, service)
            lock = Lock(tmp_path / "t.db")
            fake.edit(SHOT, old, DESERTION)
            await eventually(lambda: service.ingest._unstored)
            # a failure that is no lock, for this one post (stands in for a bug of ours)
            lock.conn.execute(f"CREATE TRIGGER boom BEFORE UPDATE ON posts WHEN NEW.message_id = {old} "
                              "BEGIN SELECT RAISE(ABORT, 'boom'); END")
            lock.conn.execute("COMMIT")
            lock.conn.close()
            fake.publish(MASH, DESERTION, push=False)
            await service.poll()
            assert service.store.db.execute("SELECT count(*) FROM posts WHERE channel_id = ?", [MASH]).fetchone()[0] == 1
            assert not service.ingest._unstored
    run(go())


def test_in_a_long_lock_the_retry_polls_ask_without_waiting_for_it(
        fake: FakeTelegram, tmp_path: Path, soon: None, caplog: pytest.LogCaptureFixture) -> None:
    """Once a pushed post has met the lock, the retry polls first ask, on a second connection that
    waits for nothing, whether a write could start: no write is tried (each would hold the loop
    for the busy timeout) until the lock is gone; then the post is stored and the story's alerts
    are updated once."""
    async def go() -> None:
        async with running(fake, tmp_path, busy_timeout=QUICK) as service:
            asked: list[bool] = []
            probe = service.store.writable_now

            def counted() -> bool:
                asked.append(probe())
                return asked[-1]
            service.store.writable_now = counted  # type: ignore[method-assign]
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            tried: list[str] = []
            with locked(tmp_path / "t.db"):
                fake.publish(MASH, DESERTION + " (фото)")  # joins the story: its alerts are to be updated
                await eventually(lambda: service.ingest._unstored)
                service.store.db.conn.set_trace_callback(tried.append)
                await eventually(lambda: asked.count(False) >= 3)  # the retry task's turns
                service.store.db.conn.set_trace_callback(None)
                assert not writes(tried), tried
            await eventually(lambda: service.store.count("posts") == 2)  # the retry task stored it
            await deliver_alone(service)
            await eventually(lambda: all(m.edits and "also Mash" in m.edits[-1][1] for m in alerts(fake)))
            assert len(alerts(fake)) == 2
        assert tracebacks(caplog) == []
    run(go())


def test_a_store_a_newer_release_upgraded_under_the_service_is_one_error_line_in_its_background_reads(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A newer tgwatch (another venv's replay) upgrades the store the service serves: each read off
    the loop opens a connection that refuses the newer schema. The rules' catch-up (at start, after
    a rule edit) and the scheduled jobs that read so (the watchdog, the prune) say what happened in
    one line each, as the chat's commands do, not with a traceback as for a bug of ours."""
    async def go() -> tuple[object, list[str]]:
        async with running(fake, tmp_path) as service:
            await service.rules_caught_up()
            with sqlite3.connect(tmp_path / "t.db") as c:  # the newer release's upgrade, committed
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            c.close()
            caught_up = await service.catch_up_rules()
            for name, job in (("watchdog", service.watchdog), ("prune", service.prune)):
                await _guarded(job, name)()
            return caught_up, [r.getMessage() for r in caplog.records if "newer tgwatch has upgraded" in r.getMessage()]

    caught_up, said = run(go())
    assert caught_up is None and len(said) == 3, said
    assert not [r.getMessage() for r in caplog.records if r.exc_info]
