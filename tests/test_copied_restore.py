"""A store put back by hand (`cp last-night.db tgwatch.db`: no restore mark) is found older than the
last run's by the count of sends kept beside the session: nothing alerted twice. Real TelegramClients
against the offline server, real SQLite files copied with shutil."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from bot.live.restored import restored_from
from bot.live.runmark import RUNS_FILE, RunMarks
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone
from .test_live import DESERTION, SHOT, TOPOR, alerts, channels, notices, run
from .test_live_edges import TEAM
from .test_live_sender_faults import digests, low_rules
from .test_restore_alerts import ANALYST, MOSCOW, PLAIN, _running


def _put_back(tmp_path: Path) -> None:
    """The analyst's own restore: the service stopped, last night's copy copied over the store."""
    for leftover in ("t.db-wal", "t.db-shm"):
        (tmp_path / leftover).unlink(missing_ok=True)
    shutil.copy(tmp_path / "last-night.db", tmp_path / "t.db")


def test_a_store_copied_back_by_hand_through_a_bot_holds_what_went_out_since(fake: FakeTelegram, tmp_path: Path) -> None:
    """Through a bot, a .db copied back from before two alerts and a digest went out sent them all
    again: no mark said it was restored. Now its send count, behind the one kept beside the session,
    says so: they are held, the line says the store is older than the last run's, /release sends them."""
    rules = low_rules(tmp_path)
    runs = tmp_path / "sessions" / RUNS_FILE
    runs.parent.mkdir()

    async def go() -> None:
        channels(fake)
        fake.add_user(ANALYST, "Anna")
        async with _running(fake, tmp_path, rules, bot=True, runs=runs) as service:
            fake.publish(SHOT, PLAIN)
            await eventually(lambda: service.store.count("posts") == 1)
        shutil.copy(tmp_path / "t.db", tmp_path / "last-night.db")
        async with _running(fake, tmp_path, rules, bot=True, runs=runs) as service:
            fake.publish(SHOT, DESERTION)
            fake.publish(TOPOR, MOSCOW)
            await eventually(lambda: len(alerts(fake)) == 2)
            await eventually(lambda: service.store.count("alerts") == 3)
            assert await service.sender.send_digest() == 1
        shown, told = len(alerts(fake)), len(digests(fake))
        _put_back(tmp_path)
        async with _running(fake, tmp_path, rules, bot=True, later=True, runs=runs) as service:
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) == shown, [m.text[:40] for m in fake.chat if m.peer == ANALYST]
            assert await service.sender.send_digest() == 0 and len(digests(fake)) == told
            said = [n for n in notices(fake) if "alerts held:" in n]
            assert len(said) == 1 and "3 alerts held" in said[0], notices(fake)
            assert "the store is older than the last run's" in said[0] and "/release" in said[0]
            before = len(fake.chat)
            fake.message_to_bot(ANALYST, "/release")
            await eventually(lambda: any("Released 3 held alerts" in m.text for m in fake.chat[before:]))
            await eventually(lambda: len(alerts(fake)) == shown + 2)  # the analyst's choice: sent now
        async with _running(fake, tmp_path, rules, bot=True, later=True, runs=runs) as service:
            assert restored_from(service.store) is None  # caught up: this start is an ordinary one
    run(go())


def test_a_store_copied_back_by_hand_sends_nothing_the_chat_has_through_the_user_account(fake: FakeTelegram,
                                                                                       tmp_path: Path) -> None:
    """Through the user account, the alerts of a store copied back by hand are looked for in the chat
    first, as after `tgwatch restore`: the one sent since the copy is not sent again."""
    chats = ("teamgroup",)
    runs = tmp_path / RUNS_FILE

    async def go() -> None:
        channels(fake)
        fake.add_channel(TEAM, "teamgroup", "Team", megagroup=True)
        async with _running(fake, tmp_path, chats=chats, runs=runs) as service:
            fake.publish(SHOT, PLAIN)
            await eventually(lambda: service.store.count("posts") == 1)
        shutil.copy(tmp_path / "t.db", tmp_path / "last-night.db")
        async with _running(fake, tmp_path, chats=chats, runs=runs) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            await deliver_alone(service)
        shown = len(alerts(fake))
        _put_back(tmp_path)
        async with _running(fake, tmp_path, chats=chats, later=True, runs=runs) as service:
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) == shown, [m.text[:40] for m in alerts(fake)]
            line = [n for n in notices(fake) if n.startswith("recovered")]
            assert line == ["recovered 1 post from 1 channel; alerts: 2 already in the chat, none sent now"], notices(fake)
    run(go())


def test_a_new_store_or_another_stores_count_is_no_restore(tmp_path: Path) -> None:
    """A store never counted, or one at another path with a higher count, is not taken as put back."""
    runs = tmp_path / RUNS_FILE
    other = Store(tmp_path / "other.db")
    marks = RunMarks(runs, tmp_path / "other.db", other)
    assert not marks.check()
    for _ in range(5):
        marks.sent()
    shutil.copy(tmp_path / "other.db", tmp_path / "t.db")  # the same store's copy at another path: its own count
    fresh = Store(tmp_path / "t.db")
    assert not RunMarks(runs, tmp_path / "t.db", fresh).check() and restored_from(fresh) is None
    new = Store(tmp_path / "new.db")
    assert not RunMarks(runs, tmp_path / "new.db", new).check() and restored_from(new) is None
    for s in (other, fresh, new):
        s.close()


def test_a_damaged_runs_file_costs_one_warning_and_is_written_afresh(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    runs = tmp_path / RUNS_FILE
    runs.write_text("{not json")
    store = Store(tmp_path / "t.db")
    marks = RunMarks(runs, tmp_path / "t.db", store)
    with caplog.at_level(logging.WARNING):
        assert not marks.check()
        marks.sent()
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 1 and str(runs) in said[0] and "unreadable" in said[0], said
    assert RunMarks(runs, tmp_path / "t.db", store).check() is False  # written whole since: read fine
    store.close()
