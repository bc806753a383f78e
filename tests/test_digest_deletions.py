"""A post that went out as an item of a digest and that the channel then deletes: the analysts who
read the digest are told once per chat, by a reply to the digest message naming the item, across
flood waits, restarts and a crash between sending the reply and recording it. The real
TelegramClient runs against the offline server (tests/fake_telegram.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

from .fake_telegram import FakeTelegram, eventually
from .test_chat import ANALYST, NEUTRAL, SHOT, Clock, running
from .test_deleted_posts import GONE, deletion_notices, hhmm, now, run
from .telegram_fixtures import deliver_alone, fail_forgetting_deliveries


def digests(fake: FakeTelegram) -> list[Any]:
    return [m for m in fake.chat if "📋 Digest" in m.text]


async def deleted_before_its_digest(fake: FakeTelegram, service: Any, *, keep: bool = False) -> int:
    """SHOT posts the weather (an alert for the digest), then deletes it before the digest goes
    (`keep`: Telegram can still show it). Returns the post's id."""
    msg = fake.publish(SHOT, NEUTRAL)
    await eventually(lambda: service.store.count("alerts") == 1)
    fake.delete(SHOT, [msg], keep=keep)
    await eventually(lambda: service.store.deleted_at(SHOT, msg) is not None)
    return msg


async def digested(fake: FakeTelegram, service: Any) -> tuple[int, Any]:
    """SHOT posts the weather (the low-severity rule's); it goes out in the digest. Returns the
    post's id and the digest message."""
    msg = fake.publish(SHOT, NEUTRAL)
    await eventually(lambda: service.store.count("alerts") == 1)
    await service.sender.send_digest()
    assert len(digests(fake)) == 1
    return msg, digests(fake)[0]


def test_a_post_deleted_after_its_digest_gets_one_reply_to_the_digest_naming_it(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now() - timedelta(minutes=10))
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg, digest = await digested(fake, service)
            sent_at, posted = clock.now, fake.messages(SHOT)[-1].date
            clock.now = now()
            fake.delete(SHOT, [msg])
            await eventually(lambda: deletion_notices(fake))
            [note] = deletion_notices(fake)
            assert note.reply_to == digest.id and note.peer == ANALYST and note.silent
            assert note.text == (f"{GONE} {hhmm(clock.now, posted)}: SHOT post from the digest of "
                                 f"{hhmm(sent_at, posted)} (item 1) · Weather")
            link = next(e.url for e in note.entities if hasattr(e, "url"))
            assert link == f"https://t.me/shot_shot/{msg}"
            await service.poll()  # the re-read finds it gone too: nothing more is said
            await deliver_alone(service)
            assert len(deletion_notices(fake)) == 1 and not digests(fake)[0].edits  # the digest stays as it was
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:  # nor after a restart
            await deliver_alone(service)
            assert len(deletion_notices(fake)) == 1
    run(go())


def test_a_post_deleted_before_its_digest_went_is_marked_in_it_and_gets_no_reply(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            await deleted_before_its_digest(fake, service)
            await service.sender.send_digest()
            assert GONE in digests(fake)[0].text
            await deliver_alone(service)
            assert deletion_notices(fake) == []
    run(go())


def test_the_digest_deletion_reply_waits_out_a_flood_wait_through_a_restart_and_is_sent_once(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg, digest = await digested(fake, service)
            fake.flood("SendMessageRequest", 600)
            fake.delete(SHOT, [msg])
            await eventually(lambda: service.sender.paused_until is not None)
            await deliver_alone(service)
            assert deletion_notices(fake) == []
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            await eventually(lambda: deletion_notices(fake))
            await deliver_alone(service)
            assert [n.reply_to for n in deletion_notices(fake)] == [digest.id]
    run(go())


async def restart_and_settle(fake: FakeTelegram, tmp_path: Path, clock: Clock, pending_sql: str) -> None:
    """Start the service again after a crash and let it deliver until `pending_sql` finds no notice left
    to send: what it sends then is what the chat sees twice, if anything."""
    async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
        await deliver_alone(service)
        await eventually(lambda: not service.store.db.execute(pending_sql).fetchall())
        await deliver_alone(service)


def test_a_crash_between_sending_the_digest_deletion_reply_and_recording_it_never_shows_it_twice(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        with contextlib.suppress(sqlite3.OperationalError):  # the crash
            async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
                msg, digest = await digested(fake, service)
                store = service.sender.store
                mark = store.mark_delivered

                def lost(alert_id: int, chat: str, part: int, *a: Any, **kw: Any) -> None:
                    if part == -1:  # the reply reached the chat; recording it fails: the process dies here
                        raise sqlite3.OperationalError("disk I/O error")
                    mark(alert_id, chat, part, *a, **kw)
                store.mark_delivered = lost  # type: ignore[method-assign]
                fake.delete(SHOT, [msg])
                await eventually(lambda: deletion_notices(fake))
                await deliver_alone(service)
        assert len(deletion_notices(fake)) == 1
        await restart_and_settle(fake, tmp_path, clock, "SELECT 1 FROM deliveries WHERE part = -1 AND sent_at IS NULL")
        assert [n.reply_to for n in deletion_notices(fake)] == [digest.id]
    run(go())


def test_a_chat_that_cannot_be_written_to_gets_the_digest_deletion_reply_when_it_can(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg, digest = await digested(fake, service)
            fake.fail("SendMessageRequest", "USER_IS_BLOCKED", code=403)
            fake.delete(SHOT, [msg])
            await eventually(lambda: str(ANALYST) in service.sender._unreachable)
            assert deletion_notices(fake) == []
            clock.now += timedelta(minutes=31)  # the back-off of an unreachable chat, at most 30 min
            await deliver_alone(service)
            await eventually(lambda: deletion_notices(fake))
            await deliver_alone(service)
            assert [n.reply_to for n in deletion_notices(fake)] == [digest.id]
    run(go())


def not_deleted_notices(fake: FakeTelegram) -> list[Any]:
    return [m for m in fake.chat if m.text.startswith("↩️")]


def test_a_digest_item_shown_again_after_its_deletion_reply_gets_one_reply_saying_so(fake: FakeTelegram,
                                                                                   tmp_path: Path) -> None:
    """Telegram said the weather post was deleted, and the digest got its reply; then Telegram shows
    the post (an edit: it never edits a deleted message). The chat was left believing it gone: it
    now gets one silent reply to the digest message, once across restarts; a deletion after that
    is news again and told again."""
    async def go() -> None:
        clock = Clock(now() - timedelta(minutes=10))
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg, digest = await digested(fake, service)
            sent_at, posted = clock.now, fake.messages(SHOT)[-1].date
            clock.now = now()
            fake.delete(SHOT, [msg], keep=True)  # a wrong deletion signal
            await eventually(lambda: deletion_notices(fake))
            assert not_deleted_notices(fake) == []
            fake.edit(SHOT, msg, NEUTRAL + " (обновлено)")
            await eventually(lambda: not_deleted_notices(fake))
            [note] = not_deleted_notices(fake)
            assert note.reply_to == digest.id and note.peer == ANALYST and note.silent
            assert note.text == f"↩️ not deleted after all: SHOT post from the digest of {hhmm(sent_at, posted)} (item 1) · Weather"
            assert next(e.url for e in note.entities if hasattr(e, "url")) == f"https://t.me/shot_shot/{msg}"
            await service.poll()  # the re-read holds it too: nothing more is said
            await deliver_alone(service)
            assert len(not_deleted_notices(fake)) == 1 and len(deletion_notices(fake)) == 1
            fake.delete(SHOT, [msg])  # deleted for good now: news again, told again
            await eventually(lambda: len(deletion_notices(fake)) == 2)
            assert deletion_notices(fake)[-1].reply_to == digest.id
            await deliver_alone(service)
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:  # once: nor after a restart
            await service.poll()
            await deliver_alone(service)
            assert len(deletion_notices(fake)) == 2 and len(not_deleted_notices(fake)) == 1
    run(go())


def test_an_item_the_digest_showed_deleted_gets_one_reply_when_it_is_shown_again(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await deleted_before_its_digest(fake, service, keep=True)
            await service.sender.send_digest()
            [digest] = digests(fake)
            assert GONE in digest.text and deletion_notices(fake) == []
            fake.edit(SHOT, msg, NEUTRAL + " (обновлено)")
            await eventually(lambda: not_deleted_notices(fake))
            await deliver_alone(service)
            assert [n.reply_to for n in not_deleted_notices(fake)] == [digest.id] and deletion_notices(fake) == []
    run(go())


def test_a_crash_between_sending_the_not_deleted_reply_and_recording_it_never_shows_it_twice(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        with contextlib.suppress(sqlite3.OperationalError):  # the crash
            async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
                msg, digest = await digested(fake, service)
                fake.delete(SHOT, [msg], keep=True)
                await eventually(lambda: deletion_notices(fake))
                fail_forgetting_deliveries(service.sender.store)  # the reply went; recording it fails
                fake.edit(SHOT, msg, NEUTRAL + " (обновлено)")
                await eventually(lambda: not_deleted_notices(fake))
                await deliver_alone(service)
        assert len(not_deleted_notices(fake)) == 1
        await restart_and_settle(fake, tmp_path, clock, "SELECT 1 FROM deliveries WHERE part IN (-1, -3)")
        assert [n.reply_to for n in not_deleted_notices(fake)] == [digest.id]
    run(go())
