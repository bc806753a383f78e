"""A store restored from last night's backup: no alert nor digest item twice, none lost, and the
"recovered" line says what is true. Real TelegramClients (the user account, and the bot when alerts
go through it) against the offline server; real SQLite files, the backup made by `tgwatch backup`."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from click.testing import CliRunner

from bot.cli import cli
from bot.config import Config
from bot.live.service import Service
from bot.live.session import SessionBusy, database_lock
from bot.store.backup import BACKUP_KEY
from bot.store.db import Store
from bot.store.runlock import hold_runs_off

from .fake_telegram import FakeTelegram, eventually
from .sample_store import Sample
from .telegram_fixtures import deliver_alone, hold_clock_jobs, served
from .test_chat import OPTIONS as BOT_OPTIONS
from .test_live import DESERTION, OPTIONS, ROOT, SHOT, TOPOR, alerts, channels, config, notices, run
from .test_live_edges import TEAM
from .test_live_sender_faults import digests, low_rules
from .test_review195_move import LATE, _service_writes

ANALYST = 5001
PLAIN = "Курс доллара на торгах 27 ноября"  # matched by no rule
MOSCOW = "Погода в Москве: завтра до +5, без осадков"  # the low-severity rule's: the digest
LATER = "Под Белгородом двое солдат самовольно оставили позиции и скрылись, их ищет военная полиция"


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


def _restore(tmp_path: Path, db: str) -> None:
    """The README's manual steps: the service stopped, its -wal and -shm removed, the backup copied over."""
    for leftover in (f"{db}-wal", f"{db}-shm"):
        (tmp_path / leftover).unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "nightly.db", tmp_path / db)


async def _start(fake: FakeTelegram, tmp_path: Path, rules: Path = ROOT / "rules", *, bot: bool = False,
                 later: bool = False, runs: Path | None = None, **kw: Any) -> Service:
    """The service as `tgwatch run` starts it over tmp_path/t.db; with `bot`, `send_via = "bot"`: the
    user account reads, the bot sends to the analyst's private chat (a bot reads no chat history).
    `later`: its clock a minute ahead (a restore takes a while): the posts made since the service
    before it stopped are older than its start. `runs`: the file counting the store's sends outside it."""
    user = await fake.client(session=tmp_path / "user.session", **OPTIONS)
    sending = await fake.client(bot=True, session=tmp_path / "bot.session", **BOT_OPTIONS) if bot else None
    first = bot and not (tmp_path / "t.db").exists()
    if first:
        fake.message_to_bot(ANALYST, "/start")  # a user must start a bot before it may write to them
    base: dict[str, Any] = dict(db=tmp_path / "t.db", rules=rules, channels=("shot_shot", "mash", "topor"), chats=(ANALYST,),
                                analysts=(ANALYST,), send_via="bot", resolve_delay_seconds=0, edit_every_seconds=0,
                                poll_minutes=60) if bot else dict(config(tmp_path, rules=rules).__dict__)
    base.update(db=tmp_path / "t.db", **kw)
    ahead = timedelta(minutes=1) if later else timedelta(0)
    service = Service(Config(**base), Store(tmp_path / "t.db"), user, bot=sending,
                      scheduler=AsyncIOScheduler(timezone=timezone.utc), clock=lambda: datetime.now(timezone.utc) + ahead,
                      runs=runs)
    await service.start()
    hold_clock_jobs(service)
    if first:
        await eventually(lambda: _to_analyst(fake))  # the answer to /start: the bot knows the analyst
    return service


def _running(fake: FakeTelegram, tmp_path: Path, rules: Path = ROOT / "rules", **kw: Any) -> AbstractAsyncContextManager[Service]:
    return served(_start(fake, tmp_path, rules, **kw))


async def _backed_up(fake: FakeTelegram, tmp_path: Path, rules: Path, *where: int, **kw: Any) -> None:
    """A first run stores a post no rule matches in each channel of `where`; then `tgwatch backup`
    copies the store to nightly.db."""
    async with _running(fake, tmp_path, rules, **kw) as service:
        for channel in where:
            fake.publish(channel, PLAIN)
        await eventually(lambda: service.store.count("posts") == len(where))
    assert _cli("backup", str(tmp_path / "nightly.db"), "--db", str(tmp_path / "t.db"))[0] == 0


async def bot_backed_up(fake: FakeTelegram, tmp_path: Path, rules: Path) -> None:
    """`_backed_up` through a bot to the analyst's private chat: a post no rule matches in SHOT."""
    channels(fake)
    fake.add_user(ANALYST, "Anna")
    await _backed_up(fake, tmp_path, rules, SHOT, bot=True)


def _to_analyst(fake: FakeTelegram) -> list[Any]:
    return [m for m in fake.chat if m.peer == ANALYST]


def test_alerts_through_a_bot_after_a_restore_are_held_with_one_line_until_released(fake: FakeTelegram,
                                                                                    tmp_path: Path) -> None:
    """A bot cannot read the chat to see which alerts it sent after last night's backup: the service
    started on the restored store sent them all again, blind. Now it holds the alerts (and digest
    items) of posts older than its start, says in one line how many and how to release them, and
    /release sends them; once caught up it holds nothing more (a later restart alerts as always)."""
    rules = low_rules(tmp_path)

    async def go() -> None:
        await bot_backed_up(fake, tmp_path, rules)
        async with _running(fake, tmp_path, rules, bot=True) as service:
            fake.publish(SHOT, DESERTION)
            fake.publish(TOPOR, MOSCOW)
            await eventually(lambda: len(alerts(fake)) == 2)  # desertion and regiment
            await eventually(lambda: service.store.count("alerts") == 3)
            assert await service.sender.send_digest() == 1
        shown, told = len(alerts(fake)), len(digests(fake))
        _restore(tmp_path, "t.db")
        async with _running(fake, tmp_path, rules, bot=True, later=True) as service:
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) == shown, [m.text[:40] for m in _to_analyst(fake)]
            assert await service.sender.send_digest() == 0 and len(digests(fake)) == told
            said = [n for n in notices(fake) if "alerts held:" in n]
            assert len(said) == 1 and "3 alerts held" in said[0] and "/release" in said[0], notices(fake)
            assert "recovered 2 posts from 2 channels" in said[0]
            before = len(fake.chat)
            fake.message_to_bot(ANALYST, "/release")
            await eventually(lambda: any("Released 3 held alerts" in m.text for m in fake.chat[before:]))
            await eventually(lambda: len(alerts(fake)) == shown + 2)  # the analyst's choice: sent now
            assert await service.sender.send_digest() == 1  # the low one goes with the next digest
        fake.publish(TOPOR, LATER)  # while stopped: caught up since, so this restart is no restore
        async with _running(fake, tmp_path, rules, bot=True, later=True) as service:
            await eventually(lambda: len(alerts(fake)) > shown + 2)
            assert not [n for n in notices(fake) if "alerts held:" in n][1:]
    run(go())


def test_a_restore_with_nothing_to_hold_says_only_what_it_recovered(fake: FakeTelegram, tmp_path: Path) -> None:
    """Through a bot, a restored store whose recovered posts raise no alert holds none: no «0 alerts held»."""
    async def go() -> None:
        await bot_backed_up(fake, tmp_path, ROOT / "rules")
        async with _running(fake, tmp_path, bot=True) as service:
            fake.publish(SHOT, PLAIN + ".")
            await eventually(lambda: service.store.count("posts") == 2)
        _restore(tmp_path, "t.db")
        async with _running(fake, tmp_path, bot=True, later=True):
            await eventually(lambda: [n for n in notices(fake) if n.startswith("recovered")])
            assert [n for n in notices(fake) if n.startswith("recovered")] == ["recovered 1 post from 1 channel"]
    run(go())


def test_a_digest_already_in_the_chat_is_not_sent_again_after_a_restore(fake: FakeTelegram, tmp_path: Path) -> None:
    """The alerts of a post older than the run are looked for in the chat (the user account reads it);
    a digest item was not: the restored store's digest carried the item the chat had had an hour
    before. Now it is looked for too, and the recovered line says what was already there."""
    rules = low_rules(tmp_path)
    chats = ("teamgroup",)  # (the offline server serves no Saved Messages history)

    async def go() -> None:
        channels(fake)
        fake.add_channel(TEAM, "teamgroup", "Team", megagroup=True)
        await _backed_up(fake, tmp_path, rules, SHOT, chats=chats)
        async with _running(fake, tmp_path, rules, chats=chats) as service:
            fake.publish(SHOT, MOSCOW)
            await eventually(lambda: service.store.count("alerts") == 1)
            assert await service.sender.send_digest() == 1
        assert len(digests(fake)) == 1
        _restore(tmp_path, "t.db")
        async with _running(fake, tmp_path, rules, chats=chats, later=True) as service:
            await service.poll()
            await deliver_alone(service)
            await service.sender.send_digest()
            assert len(digests(fake)) == 1, [d.text for d in digests(fake)]
            line = [n for n in notices(fake) if n.startswith("recovered")]
            assert line == ["recovered 1 post from 1 channel; alerts: 1 already in the chat, none sent now"], notices(fake)
    run(go())


async def alerted_then_restored(fake: FakeTelegram, tmp_path: Path, chats: tuple[str, ...]) -> None:
    """Last night's backup (a post no rule matches in SHOT and TOPOR), then a SHOT post alerted in the
    team group, one in TOPOR while the service was stopped, and the backup put back by hand."""
    channels(fake)
    fake.add_channel(TEAM, "teamgroup", "Team", megagroup=True)
    await _backed_up(fake, tmp_path, ROOT / "rules", SHOT, TOPOR, chats=chats)
    async with _running(fake, tmp_path, chats=chats) as service:
        fake.publish(SHOT, DESERTION)
        await eventually(lambda: len(alerts(fake)) == 2)
        await deliver_alone(service)
    fake.publish(TOPOR, LATER)  # while the service was stopped for the restore
    _restore(tmp_path, "t.db")


def test_the_recovered_line_after_a_restore_counts_the_alerts_already_in_the_chat_apart(fake: FakeTelegram,
                                                                                      tmp_path: Path) -> None:
    """«recovered 2 posts» read as news the analysts had not seen, though one post's alerts were in
    the chat already (sent after the backup): the line now says how many were there and how many
    went out now (a post made while the store was being restored)."""
    chats = ("teamgroup",)

    async def go() -> None:
        await alerted_then_restored(fake, tmp_path, chats)
        async with _running(fake, tmp_path, chats=chats, later=True) as service:
            await service.poll()
            await deliver_alone(service)
            sent = len(alerts(fake)) - 2
            assert sent >= 1
            line = [n for n in notices(fake) if n.startswith("recovered")]
            assert line == [f"recovered 2 posts from 2 channels; alerts: 2 already in the chat, {sent} sent now"], notices(fake)
    run(go())


def _posts(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT text FROM posts")}
    finally:
        conn.close()


def test_restore_puts_the_backup_in_place_and_keeps_the_store_as_it_was(sample: Sample, tmp_path: Path) -> None:
    """The README's manual steps (stop the service, delete the -wal and -shm, copy the backup over)
    as one command: the store as it was, its -wal's posts too, is kept beside it; the restored store
    is the backup's, and a service started on it knows it was restored."""
    nightly = tmp_path / "nightly.db"
    assert _cli("backup", str(nightly), "--db", str(sample.db))[0] == 0
    service = _service_writes(sample.db)  # a post stored since, still in the -wal (as a killed service leaves it)
    try:
        with database_lock(sample.db):  # the service runs: refused, nothing changes
            code, said = _cli("restore", str(nightly), "--db", str(sample.db))
        assert code == 2 and said.count("\n") == 1 and said.startswith("error: ") and "tgwatch run" in said, said
        assert not Path(f"{sample.db}.before-restore").exists()
        code, said = _cli("restore", str(nightly), "--db", str(sample.db))  # its connection still open: refused too
        assert code == 2 and said.count("\n") == 1 and "another program" in said, said
        killed = {end: Path(f"{sample.db}{end}").read_bytes() for end in ("", "-wal")}  # as its kill leaves them
    finally:
        service.close()
    for end, held in killed.items():
        Path(f"{sample.db}{end}").write_bytes(held)
    code, said = _cli("restore", str(nightly), "--db", str(sample.db))
    assert code == 0 and "before-restore" in said, said
    kept = Path(f"{sample.db}.before-restore")
    assert LATE.text in _posts(kept) and LATE.text not in _posts(sample.db)
    assert _posts(sample.db) == _posts(nightly)
    restored = Store(sample.db)
    assert restored.get_meta(BACKUP_KEY) is not None  # (what the service reads: `restored_from`)
    restored.close()
    with hold_runs_off(sample.db), pytest.raises(SessionBusy):  # a service started mid-restore is refused
        with database_lock(sample.db):
            pass


def test_restore_refuses_what_is_no_tgwatch_store_with_one_line_and_changes_nothing(sample: Sample, tmp_path: Path) -> None:
    before = sample.db.read_bytes()
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.close()
    sqlite3.connect(tmp_path / "empty.db").close()
    for name in ("notes.txt", "other.db", "empty.db", "missing.db"):
        code, said = _cli("restore", str(tmp_path / name), "--db", str(sample.db))
        assert code == 2 and said.count("\n") == 1 and said.startswith("error: ") and name in said, (name, said)
    code, said = _cli("restore", str(sample.db), "--db", str(sample.db))
    assert code == 2 and said.startswith("error: "), said
    assert sample.db.read_bytes() == before
    assert not Path(f"{sample.db}.before-restore").exists()
