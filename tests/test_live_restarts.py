"""Restarts of the live service against the offline Telegram (real TelegramClient, faked server):
what one run sent or kept in memory, the next run neither loses nor sends twice, even when the
config changed in between."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from telethon.tl import types as tl

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, stop_service

from .test_live import DESERTION, DESERTION_2, MASH, NEUTRAL, SHOT, TOPOR, alerts, channels, run, running, start
from .test_live_edges import TEAM, sent_then_forgotten
from .test_live_locked import beyond_look_back, locked
from .test_live_sender_faults import GROUP, digests, low_rules, refuse_sends


def test_a_digest_resent_after_the_chats_were_reordered_reaches_every_chat_once(fake: FakeTelegram,
                                                                                tmp_path: Path) -> None:
    """The digest reached "me" but not the group, then the process stopped; the analyst swapped the
    two chats in the config. Each part's random_id comes from the chat, not its place in the list:
    the group gets the digest (it was refused as a duplicate of the copy in "me"), "me" no second."""
    async def go() -> None:
        channels(fake)
        fake.add_chat(GROUP, "Analysts")
        rules = low_rules(tmp_path)
        service = await start(fake, tmp_path, rules=rules, chats=("me", -GROUP))
        try:
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: service.store.count("alerts") == 1)
            refuse_sends(fake, lambda r: isinstance(r.peer, tl.InputPeerChat), 403, "CHAT_WRITE_FORBIDDEN")
            await service.sender.send_digest()
            assert [m.peer for m in digests(fake)] == [7_000_001]
        finally:
            await stop_service(service)
        del fake._on_SendMessageRequest  # the group can be written to again
        service = await start(fake, tmp_path, rules=rules, chats=(-GROUP, "me"))
        try:
            await service.sender.send_digest()
            assert sorted(m.peer for m in digests(fake)) == [-GROUP, 7_000_001]
            assert [r["sent_at"] is not None for r in service.store.db.query("SELECT sent_at FROM digests")] == [True]
        finally:
            await stop_service(service)
    run(go())


def test_an_alert_resent_into_a_busy_chat_is_found_behind_the_analysts_messages(
        fake: FakeTelegram, tmp_path: Path, telethon_sleeps: Any) -> None:
    """The alert reached the group but the process died before recording it; while it was down the
    analysts wrote 150 messages there. The resend is refused (known random_id) and the copy must
    still be found, further back than one page of history, so the story update can edit it."""
    fake.add_channel(TEAM, "teamgroup", "Team", megagroup=True)
    chats = ("teamgroup",)

    async def go() -> None:
        await sent_then_forgotten(fake, tmp_path, chats)
        for i in range(150):
            fake.publish(TEAM, f"analyst remark {i}", push=False)
        async with running(fake, tmp_path, chats=chats) as service:
            await deliver_alone(service)
            assert len(alerts(fake)) == 2  # no second copy
            rows = list(service.store.db.query("SELECT message_id FROM deliveries ORDER BY message_id"))
            assert [r["message_id"] for r in rows] == sorted(m.id for m in alerts(fake))
            fake.publish(MASH, DESERTION_2)
            await service.poll()
            await eventually(lambda: all(m.edits for m in alerts(fake)))
    run(go())


async def crash(service: Any) -> None:
    """The process dies: nothing in memory is written anywhere (no `stop`: the pipeline saves nothing,
    the retry poll never runs); only the connections go, as the kernel closes them."""
    service.ingest.close()
    if service.scheduler.running:
        service.scheduler.shutdown(wait=False)
    for task in service._rebuilds:
        task.cancel()
    await service.user.disconnect()
    service.store.close()


def test_posts_kept_in_memory_through_a_lock_are_stored_and_alerted_once_after_a_crash(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Posts pushed while another program held the database's lock wait in memory (`_unstored`) for
    the retry poll; the process dies first. The channel's high-water mark never moved past them, so
    the start-up poll reads them again: each is stored, and each story alerts exactly once."""
    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path, busy_timeout=0.1)
        try:
            fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: service.store.count("posts") == 1)
            with locked(tmp_path / "tgwatch.db"):
                fake.publish(SHOT, DESERTION)
                fake.publish(MASH, "Полк мобилизованных самовольно оставил позиции под Угледаром")
                fake.publish(TOPOR, NEUTRAL + "!")
                await eventually(lambda: len(service.ingest._unstored) == 3)
                assert alerts(fake) == []
        finally:
            await crash(service)
        service = await start(fake, tmp_path)
        try:
            await deliver_alone(service)
            published = {(c, m.id) for c in (SHOT, MASH, TOPOR) for m in fake.messages(c)}
            stored = {(r["channel_id"], r["message_id"]) for r in service.store.db.query("SELECT channel_id, message_id FROM posts")}
            assert stored == published
            rows = list(service.store.db.query("SELECT rule, state FROM alerts ORDER BY rule"))
            assert [r["state"] for r in rows] == ["sent"] * len(rows) and len(rows) == len(alerts(fake)) >= 2
            assert len({m.text.split("\\n")[0] + str(m.entities[-1:]) for m in alerts(fake)}) == len(alerts(fake))
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) == len(rows)
        finally:
            await stop_service(service)
    run(go())


def test_an_edit_kept_in_memory_through_a_lock_is_not_lost_in_a_crash(fake: FakeTelegram, tmp_path: Path) -> None:
    """An edit that makes an old post (older than the poll's look-back) match arrives while the
    database is locked, and the process dies before the retry poll. The poll after the restart
    never reads that post again: the kept post's key, written beside the database, has it read."""
    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path, busy_timeout=0.1)
        try:
            old = await beyond_look_back(fake, service)
            with locked(tmp_path / "tgwatch.db"):
                fake.edit(SHOT, old, DESERTION)
                await eventually(lambda: len(service.ingest._unstored) == 1)
        finally:
            await crash(service)
        service = await start(fake, tmp_path)
        try:
            await deliver_alone(service)
            assert len(alerts(fake)) == 2  # desertion and regiment, once each
            text = service.store.db.execute("SELECT text FROM posts WHERE message_id = ?", [old]).fetchone()[0]
            assert text == DESERTION
            assert not (tmp_path / "tgwatch.db.pending.json").exists()
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) == 2
        finally:
            await stop_service(service)
    run(go())


def test_a_deletion_kept_in_memory_through_a_lock_is_not_lost_in_a_crash(fake: FakeTelegram, tmp_path: Path) -> None:
    """The channel deletes a matched post older than the poll's look-back while the database is
    locked, and the process dies before the retry poll: the poll after the restart never reads that
    post again, so only the deletion kept beside the database (`<db>.pending.json`) marks it."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            old = fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            await beyond_look_back(fake, service)
        service = await start(fake, tmp_path, busy_timeout=0.1)
        try:
            with locked(tmp_path / "tgwatch.db"):
                fake.delete(SHOT, [old])
                await eventually(lambda: len(service.ingest._unmarked) == 1)
            assert (tmp_path / "tgwatch.db.pending.json").exists()
        finally:
            await crash(service)
        service = await start(fake, tmp_path)
        try:
            assert service.store.deleted_at(SHOT, old) is not None
            await deliver_alone(service)
            await eventually(lambda: all(a.edits and "🗑 deleted by the channel" in a.text for a in alerts(fake)))
            assert not (tmp_path / "tgwatch.db.pending.json").exists()
            await service.poll()
            await deliver_alone(service)
            assert all(len(a.edits) == 1 for a in alerts(fake))
        finally:
            await stop_service(service)
    run(go())


def test_the_pending_file_is_fsynced_before_it_replaces_the_last_one(fake: FakeTelegram, tmp_path: Path,
                                                                     monkeypatch: Any) -> None:
    """`<db>.pending.json` is all that keeps a pushed edit through a crash: its temp file reaches the
    disk before the rename (a power cut must not leave the name on an empty file), the folder after."""
    synced: list[int] = []  # inodes fsynced, in order
    replaced: list[tuple[str, bool, int]] = []  # (new name, its temp file fsynced first, fsyncs before)
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    def replace(src: Any, dst: Any, **kw: Any) -> None:
        replaced.append((Path(dst).name, os.stat(src).st_ino in synced, len(synced)))
        real_replace(src, dst, **kw)

    async def go() -> None:
        channels(fake)
        service = await start(fake, tmp_path, busy_timeout=0.1)
        try:
            old = await beyond_look_back(fake, service)
            monkeypatch.setattr(os, "fsync", fsync)
            monkeypatch.setattr(os, "replace", replace)
            with locked(tmp_path / "tgwatch.db"):
                fake.edit(SHOT, old, DESERTION)
                await eventually(lambda: len(service.ingest._unstored) == 1)
        finally:
            await crash(service)
        saves = [r for r in replaced if r[0] == "tgwatch.db.pending.json"]
        assert saves and all(fsynced for _, fsynced, _ in saves)
        folder = os.stat(tmp_path).st_ino
        assert folder in synced[saves[-1][2]:]  # the rename reached the disk too
    run(go())
