"""Review 201: `tgwatch backup` / `tgwatch restore` and the alerts held after a restore, used as an
analyst would: a store an earlier release left, and the counts /stats gives of held alerts."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli import cli
from bot.live.restored import held_count, restored_from
from bot.live.service import Service
from bot.store.db import SCHEMA_VERSION, Store
from bot.store.read import search_posts

from .fake_telegram import FakeTelegram, eventually
from .test_chat import ask
from .telegram_fixtures import deliver_alone, history_flooded
from .test_live import DESERTION, SHOT, TOPOR, alerts, channels, notices, run
from .test_live_edges import TEAM
from .test_live_sender_faults import digests, low_rules
from .test_restore_alerts import (ANALYST, MOSCOW, _backed_up, _posts, _restore, _running, alerted_then_restored,
                                  bot_backed_up)
from .sample_store import Sample
from .test_review147_upgrade import first_release_store
from .test_review195_move import LATE, _service_writes


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


def _version(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_a_store_of_the_first_release_is_backed_up_and_restored_then_upgraded_marked(tmp_path: Path) -> None:
    """An analyst upgrading from the first release backs the store up before anything opens (and
    upgrades) it, or restores a copy that release left: both were refused («no such table: meta»,
    «not a tgwatch store»). Now the copy is made and restored, and the store it gives opens
    upgraded, its posts found, still marked as restored (the service then sends nothing twice)."""
    old = tmp_path / "old.db"
    first_release_store(old)
    before = old.read_bytes()
    code, said = _cli("backup", str(tmp_path / "nightly.db"), "--db", str(old))
    assert code == 0, said
    assert old.read_bytes() == before  # (the store copied is never written nor upgraded)
    for backup in ("nightly.db", "old.db"):  # ours, and a copy the old release's owner made with cp
        db = tmp_path / f"from-{backup}"
        code, said = _cli("restore", str(tmp_path / backup), "--db", str(db))
        assert code == 0 and said.count("\n") == 1 and "2 posts" in said, said
        assert _version(db) == 1  # restored as it was: opening it upgrades it
        store = Store(db)
        try:
            assert _version(db) == SCHEMA_VERSION
            assert restored_from(store) is not None, backup
            assert len(list(search_posts(store, "Подольске"))) == 2
        finally:
            store.close()


async def _desertion_restored(fake: FakeTelegram, tmp_path: Path, rules: Path) -> None:
    """Through a bot: the night's backup, then DESERTION's two alerts sent, then the backup restored."""
    await bot_backed_up(fake, tmp_path, rules)
    async with _running(fake, tmp_path, rules, bot=True):
        fake.publish(SHOT, DESERTION)
        await eventually(lambda: len(alerts(fake)) == 2)
    _restore(tmp_path, "t.db")


@asynccontextmanager
async def _two_held(fake: FakeTelegram, tmp_path: Path, rules: Path) -> AsyncIterator[Service]:
    """`_desertion_restored`, then the service started on it, caught up: «2 alerts held»."""
    await _desertion_restored(fake, tmp_path, rules)
    async with _running(fake, tmp_path, rules, bot=True, later=True) as service:
        await service.poll()
        await eventually(lambda: [n for n in notices(fake) if "2 alerts held:" in n])
        yield service


def test_stats_tells_the_alerts_held_after_a_restore_apart(fake: FakeTelegram, tmp_path: Path) -> None:
    """After a restore through a bot, the alerts of posts older than the run are held until /release:
    /stats counted them as its rules' alerts, as if the chat had had them. It says how many are held;
    once released, they count as any other."""
    rules = low_rules(tmp_path)

    async def go() -> None:
        async with _two_held(fake, tmp_path, rules):
            caption = (await ask(fake, "/stats 7d", who=ANALYST)).text
            counted = [line for line in caption.split("\n") if ": 1 match" in line]
            assert len(counted) == 2 and all("1 alert (1 held)," in line for line in counted), caption
            assert "alerts: 1 (1 held);" in (await ask(fake, "/rule desertion", who=ANALYST)).text
            before = len(fake.chat)
            fake.message_to_bot(ANALYST, "/release")  # its reply may come after the alerts: waited for, so /stats's is read next
            await eventually(lambda: any("Released 2 held alerts" in m.text for m in fake.chat[before:]))
            await eventually(lambda: len(alerts(fake)) == 4)
            caption = (await ask(fake, "/stats 7d", who=ANALYST)).text
            assert "held" not in caption and caption.count("1 alert,") == 2, caption
    run(go())


def test_the_recovered_line_counts_what_a_start_cut_short_sent_before_a_restart(fake: FakeTelegram, tmp_path: Path) -> None:
    """After a restore, the first start's read of one channel failed (the line waits for a complete
    read) and the service was restarted: the alert it had sent meanwhile was counted in memory only,
    so the line the next start gave said «none sent now». The counts outlive the restart."""
    chats = ("teamgroup",)

    async def go() -> None:
        await alerted_then_restored(fake, tmp_path, chats)
        fake.fail("GetHistoryRequest", "SOMETHING_WRONG")  # the first channel read (SHOT's): the read is cut short
        async with _running(fake, tmp_path, chats=chats, later=True) as service:
            await eventually(lambda: len(alerts(fake)) > 2)  # LATER's: sent now
            await deliver_alone(service)
            assert not [n for n in notices(fake) if n.startswith("recovered")], notices(fake)
        sent = len(alerts(fake)) - 2
        async with _running(fake, tmp_path, chats=chats, later=True) as service:
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) - 2 == sent  # the desertion alerts were found in the chat, not sent again
            line = [n for n in notices(fake) if n.startswith("recovered")]
            assert line == [f"recovered 2 posts from 2 channels; alerts: 2 already in the chat, {sent} sent now"], notices(fake)
    run(go())


OTHER = 1800000079  # a second alert chat (a supergroup)


def test_a_digest_item_one_chat_had_before_a_restore_goes_only_to_the_chat_that_lacks_it(fake: FakeTelegram,
                                                                                      tmp_path: Path) -> None:
    """The digest sent after last night's backup reached one alert chat; the other could not be written
    to. The restored store's digest carried the item to both again: the chat that had it got it twice.
    Now it goes only to the chat that lacks it."""
    rules = low_rules(tmp_path)
    chats = ("othergroup", "teamgroup")

    def digests_in(channel: int) -> list[Any]:
        return [d for d in digests(fake) if d.peer == int(f"-100{channel}")]

    async def go() -> None:
        channels(fake)
        fake.add_channel(TEAM, "teamgroup", "Team", megagroup=True)
        fake.add_channel(OTHER, "othergroup", "Other", megagroup=True)
        await _backed_up(fake, tmp_path, rules, SHOT, chats=chats)
        async with _running(fake, tmp_path, rules, chats=chats) as service:
            fake.publish(SHOT, MOSCOW)
            await eventually(lambda: service.store.count("alerts") == 1)
            fake.fail("SendMessageRequest", "CHAT_WRITE_FORBIDDEN", code=403)  # othergroup's: tried first
            await service.sender.send_digest()
            assert len(digests_in(TEAM)) == 1 and not digests_in(OTHER)
        _restore(tmp_path, "t.db")
        async with _running(fake, tmp_path, rules, chats=chats, later=True) as service:
            await service.poll()
            await deliver_alone(service)
            await service.sender.send_digest()
            await eventually(lambda: len(digests_in(OTHER)) == 1)
            await deliver_alone(service)
            assert len(digests_in(TEAM)) == 1, [d.text for d in digests_in(TEAM)]
    run(go())


def test_a_second_restore_keeps_the_store_the_first_one_replaced(sample: Sample, tmp_path: Path) -> None:
    """An analyst restores the wrong backup, then the right one: the second restore kept the store as
    the first had left it under the same name, so the store as it was before both (its latest
    posts) was gone. Each restore now keeps its own copy, and names it."""
    nightly = tmp_path / "nightly.db"
    assert _cli("backup", str(nightly), "--db", str(sample.db))[0] == 0
    _service_writes(sample.db).close()  # a post stored since the backup: only the store has it
    latest = _posts(sample.db)
    assert LATE.text in latest and LATE.text not in _posts(nightly)
    code, first = _cli("restore", str(nightly), "--db", str(sample.db))
    assert code == 0, first
    code, second = _cli("restore", str(nightly), "--db", str(sample.db))
    assert code == 0 and second.count("\n") == 1, second
    kept = [p for p in tmp_path.glob("*before-restore*")]
    assert len(kept) == 2 and any(_posts(p) == latest for p in kept), kept
    assert all(p.name in first + second for p in kept), (first, second)


def test_alerts_released_before_the_catch_up_are_not_held_again_after_a_restart(fake: FakeTelegram, tmp_path: Path) -> None:
    """After a restore through a bot, an analyst released the held alerts before the start's read
    was through (a flood wait on one channel), and Telegram asked the bot to wait before it could
    send them; the service was restarted. The release was kept in memory only: the next start held
    them again and announced «2 alerts held» a second time. Now the release outlives the restart."""
    rules = low_rules(tmp_path)

    async def go() -> None:
        await _desertion_restored(fake, tmp_path, rules)
        with history_flooded(fake, TOPOR):  # the start's read is cut short: not caught up
            async with _running(fake, tmp_path, rules, bot=True, later=True) as service:
                await eventually(lambda: held_count(service.store) == 2)
                assert len(alerts(fake)) == 2
                fake.flood("SendMessageRequest", 3600)  # the first alert released meets a flood wait
                sends = fake.count("SendMessageRequest")
                fake.message_to_bot(ANALYST, "/release")
                await eventually(lambda: fake.count("SendMessageRequest") > sends)
                await deliver_alone(service)
        assert len(alerts(fake)) == 2  # released, none sent yet
        async with _running(fake, tmp_path, rules, bot=True, later=True) as service:
            await service.poll()
            await deliver_alone(service)
            assert not [n for n in notices(fake) if "alerts held:" in n], notices(fake)
            await eventually(lambda: len(alerts(fake)) == 4)  # the released alerts go out
    run(go())


def test_the_heartbeat_tells_the_alerts_held_after_a_restore_apart(fake: FakeTelegram, tmp_path: Path) -> None:
    """After a restore through a bot, the daily heartbeat's «2 alerts in 24 h» counted the held
    alerts as if the chat had had them; it says how many are held, as /stats does."""
    rules = low_rules(tmp_path)

    async def go() -> None:
        async with _two_held(fake, tmp_path, rules) as service:
            await service.heartbeat()
            assert [n for n in notices(fake) if n.startswith("💓")][-1].endswith(", 2 alerts (2 held) in 24 h"), notices(fake)
            fake.message_to_bot(ANALYST, "/release")
            await eventually(lambda: len(alerts(fake)) == 4)
            await service.heartbeat()
            assert [n for n in notices(fake) if n.startswith("💓")][-1].endswith(", 2 alerts in 24 h"), notices(fake)
    run(go())


def test_restore_and_backup_name_a_folder_given_for_the_store_in_one_line(sample: Sample, tmp_path: Path) -> None:
    """`tgwatch restore BACKUP --db SOMEFOLDER` said «cannot open database (disk I/O error)», and a
    path under a file «folder … does not exist»: one line now names the path and what it is, as
    every other command's --db does; nothing is written."""
    folder = tmp_path / "stores"
    folder.mkdir()
    assert _cli("backup", str(tmp_path / "nightly.db"), "--db", str(sample.db))[0] == 0
    before = sample.db.read_bytes()
    code, said = _cli("restore", str(tmp_path / "nightly.db"), "--db", str(folder))
    assert (code, said) == (2, f"error: {folder}: is a folder, expected a database file\n")
    code, said = _cli("restore", str(tmp_path / "nightly.db"), "--db", str(sample.db / "t.db"))
    assert (code, said) == (2, f"error: {sample.db / 't.db'}: {sample.db} is a file, not a folder\n")
    code, said = _cli("backup", str(sample.db / "copy.db"), "--db", str(sample.db))
    assert (code, said) == (2, f"error: {sample.db / 'copy.db'}: {sample.db} is a file, not a folder\n")
    assert list(folder.iterdir()) == [] and sample.db.read_bytes() == before
