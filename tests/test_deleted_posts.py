"""Deleted posts: a channel deleting a post is news, and the stored copy is the evidence. The live
tests run the real TelegramClient against the offline server (tests/fake_telegram.py); each test
asserts what the analysts see: the alert, a reply, `tgwatch story`, `export`, `search`, `/story`."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from click.testing import CliRunner

from bot.cli import cli as tgwatch
from bot.pipeline import Pipeline
from bot.source import Skip, read_paths
from bot.store.db import SCHEMA_VERSION, Store, iso

from .fake_telegram import FakeTelegram, eventually
from .sample_store import KUBAN, Sample, shipped_matcher
from .telegram_fixtures import deliver_alone, fail_forgetting_deliveries, stop_service
from .test_chat import ANALYST, DESERTION, MASH, SHOT, Clock, alerts, ask, running, start

MSK = ZoneInfo("Europe/Moscow")
GONE = "🗑 deleted by the channel at"
PLAIN = "Курс доллара на торгах 27 ноября"  # matched by nothing
WEATHER = "Погода в Москве: завтра до +5, без осадков"  # the low-severity rule's


def hhmm(when: datetime, post: datetime) -> str:
    """A time as the chat shows it in Moscow: HH:MM, with the day when not the post's."""
    w, p = when.astimezone(MSK), post.astimezone(MSK)
    return f"{w:%H:%M}" if w.date() == p.date() else f"{w:%d.%m %H:%M}"


def deletion_notices(fake: FakeTelegram) -> list[Any]:
    return [m for m in fake.chat if m.text.startswith("🗑")]


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def run(coro: Any) -> Any:
    import asyncio
    return asyncio.run(coro)


def mash_not_joined(fake: FakeTelegram) -> None:
    """Mash, as the service adds it, is not joined: read by the poll alone, no pushes."""
    add = fake.add_channel
    fake.add_channel = lambda cid, *a, **kw: add(cid, *a, **{**kw, "joined": cid != MASH})  # type: ignore[method-assign]


async def alerted(fake: FakeTelegram) -> int:
    """SHOT posts a desertion in a military unit; returns its id once both alerts (desertion and
    regiment) are sent."""
    msg = fake.publish(SHOT, DESERTION)
    await eventually(lambda: len(alerts(fake)) == 2)
    return msg


# -- live: a joined channel's MessageDeleted ------------------------------------------------------


def test_a_deleted_post_edits_its_alert_once_and_stays_stored_with_its_matches(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now() - timedelta(minutes=1))
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            posted = fake.messages(SHOT)[-1].date
            clock.now = now() + timedelta(minutes=3)  # the deletion comes later
            fake.delete(SHOT, [msg])
            await eventually(lambda: all(a.edits for a in alerts(fake)))
            line = f"{GONE} {hhmm(clock.now, posted)}"
            for a in alerts(fake):
                assert [text.count(line) for _, text in a.edits] == [1]
                assert a.text.split("\n")[2] == line  # under the channel and time, one line
            await service.poll()  # the re-read finds the post gone too: nothing more is said
            await deliver_alone(service)
            assert all(len(a.edits) == 1 for a in alerts(fake)) and deletion_notices(fake) == []
            # the stored copy stays, with its matches, alerts and story
            store = service.store
            assert store.count("posts") == 1 and store.count("matches") == 2 and store.count("alerts") == 2
            assert store.deleted_at(SHOT, msg) == iso(clock.now)
            story = store.story_of(SHOT, msg)
            answer = await ask(fake, f"/story {story}")
            assert f"🗑 deleted by the channel {clock.now.astimezone(MSK):%Y-%m-%d %H:%M} MSK" in answer.text
            answer = await ask(fake, "/search дезертиров")
            assert f"🗑 deleted by the channel {clock.now.astimezone(MSK):%Y-%m-%d %H:%M} MSK" in answer.text
    run(go())


def test_a_deletion_in_a_gap_of_a_joined_channel_is_marked_when_the_gap_is_filled(
        fake: FakeTelegram, tmp_path: Path, fast_updates: None) -> None:
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            fake.delete(SHOT, [msg], push=False)  # never pushed
            fake.publish(SHOT, PLAIN)  # reveals the gap: getChannelDifference carries the deletion
            # (Telethon 1.45 drops it: `difference.keep_difference_edits` hands it on), no poll needed
            await eventually(lambda: service.store.deleted_at(SHOT, msg) == iso(clock.now))
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
    run(go())


def test_a_deletion_lost_in_a_gap_too_long_of_a_joined_channel_is_found_by_the_poll(
        fake: FakeTelegram, tmp_path: Path, fast_updates: None) -> None:
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            fake.delete(SHOT, [msg], push=False)  # never pushed
            fake.too_long(SHOT)
            later = fake.publish(SHOT, PLAIN)  # reveals the gap: Telegram answers ChannelDifferenceTooLong
            await eventually(lambda: fake.count("GetChannelDifferenceRequest") >= 1)
            await service.poll()  # Telethon jumped ahead: the poll reads the channel, and its re-read is the safety net
            assert service.store.story_of(SHOT, later) is not None
            assert service.store.deleted_at(SHOT, msg) == iso(clock.now)
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
    run(go())


def test_an_alert_that_cannot_be_edited_gets_one_reply_saying_so_even_across_a_restart(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        service = await start(fake, tmp_path, clock, timezone="Europe/Moscow")
        try:
            msg = await alerted(fake)
            sent = {a.id: a for a in alerts(fake)}
            fake.fail("EditMessageRequest", "MESSAGE_EDIT_TIME_EXPIRED", times=20)  # too old to edit
            fake.flood("SendMessageRequest", 600)  # and the first reply meets a long flood wait
            posted, deleted = fake.messages(SHOT)[-1].date, clock.now
            fake.delete(SHOT, [msg])
            await eventually(lambda: fake.count("EditMessageRequest") >= 1 and service.sender.paused_until is not None)
            assert deletion_notices(fake) == []
        finally:
            await stop_service(service)
        clock.now = now()
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:  # a restart
            await eventually(lambda: len(deletion_notices(fake)) == 2)
            await service.poll()
            await deliver_alone(service)
            notes = deletion_notices(fake)
            assert sorted(n.reply_to for n in notes) == sorted(sent)  # one per alert, replying to it
            for n in notes:
                title = sent[n.reply_to].text.split("\n")[0].split(" · ", 1)[1]  # "🔴 HIGH · Дезертирство"
                assert n.text == f"{GONE} {hhmm(deleted, posted)}: SHOT · {title}" and n.peer == ANALYST
            assert all(not a.edits for a in alerts(fake))
    run(go())


def not_deleted_notices(fake: FakeTelegram) -> list[Any]:
    return [m for m in fake.chat if m.text.startswith("↩️")]


def test_an_alert_told_of_its_deletion_by_a_reply_gets_one_reply_when_the_post_is_shown_again(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """The alerts cannot be edited, so a wrong deletion signal was told by a reply to each. Telegram
    then shows the post (an edit: it never edits a deleted message): each alert gets one silent reply
    saying it is not deleted after all, once across a restart; a deletion after that is news again
    and is told again."""
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            sent = {a.id: a for a in alerts(fake)}
            fake.fail("EditMessageRequest", "MESSAGE_EDIT_TIME_EXPIRED", times=100)  # too old to edit
            fake.delete(SHOT, [msg], keep=True)  # a wrong deletion signal
            await eventually(lambda: len(deletion_notices(fake)) == 2)
            assert not_deleted_notices(fake) == []
            fake.edit(SHOT, msg, DESERTION + " (обновлено)")
            await eventually(lambda: len(not_deleted_notices(fake)) == 2)
            notes = not_deleted_notices(fake)
            assert sorted(n.reply_to for n in notes) == sorted(sent)  # one per alert, replying to it
            for n in notes:
                title = sent[n.reply_to].text.split("\n")[0].split(" · ", 1)[1]
                assert n.text == f"↩️ not deleted after all: SHOT · {title}" and n.peer == ANALYST and n.silent
                assert next(e.url for e in n.entities if hasattr(e, "url")) == f"https://t.me/shot_shot/{msg}"
            await service.poll()  # the re-read holds it too: nothing more is said
            await deliver_alone(service)
            assert len(not_deleted_notices(fake)) == 2 and len(deletion_notices(fake)) == 2
            fake.delete(SHOT, [msg])  # deleted for good now: news again, told again
            await eventually(lambda: len(deletion_notices(fake)) == 4)
            assert sorted(n.reply_to for n in deletion_notices(fake)[2:]) == sorted(sent)
            await deliver_alone(service)
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:  # once: nor after a restart
            await service.poll()
            await deliver_alone(service)
            assert len(deletion_notices(fake)) == 4 and len(not_deleted_notices(fake)) == 2
            assert all(not a.edits for a in alerts(fake))
    run(go())


def test_an_alert_that_cannot_be_edited_back_gets_one_reply_and_a_later_deletion_is_told_again(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """The deletion was told by editing the alert; by the time Telegram shows the post again the
    alert can no longer be edited: it still says deleted, so a reply says it is not. A deletion after
    that, which the alert cannot show either, gets its reply (the first deletion's record went)."""
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            sent = {a.id for a in alerts(fake)}
            fake.delete(SHOT, [msg], keep=True)
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
            fake.fail("EditMessageRequest", "MESSAGE_EDIT_TIME_EXPIRED", times=100)
            await service.poll()  # the re-read holds the post
            await eventually(lambda: len(not_deleted_notices(fake)) == 2)
            assert sorted(n.reply_to for n in not_deleted_notices(fake)) == sorted(sent)
            assert deletion_notices(fake) == []
            fake.delete(SHOT, [msg])
            await eventually(lambda: len(deletion_notices(fake)) == 2)
            assert sorted(n.reply_to for n in deletion_notices(fake)) == sorted(sent)
            await service.poll()
            await deliver_alone(service)
            assert len(not_deleted_notices(fake)) == 2 and len(deletion_notices(fake)) == 2
    run(go())


def test_an_alert_edited_back_after_a_deletion_shows_a_later_deletion_and_sends_no_reply(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Edited to say deleted, edited back when Telegram shows the post: the alert itself told both,
    so no reply goes; a later deletion the alert cannot show any more is told by a reply."""
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            fake.delete(SHOT, [msg], keep=True)
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
            await service.poll()
            await eventually(lambda: all(len(a.edits) == 2 and GONE not in a.text for a in alerts(fake)))
            fake.fail("EditMessageRequest", "MESSAGE_EDIT_TIME_EXPIRED", times=100)
            fake.delete(SHOT, [msg])
            await eventually(lambda: len(deletion_notices(fake)) == 2)
            assert not_deleted_notices(fake) == []
    run(go())


def test_a_crash_between_sending_an_alerts_not_deleted_reply_and_recording_it_never_shows_it_twice(
        fake: FakeTelegram, tmp_path: Path) -> None:
    import contextlib
    import sqlite3

    async def go() -> None:
        clock = Clock(now())
        with contextlib.suppress(sqlite3.OperationalError):  # the crash
            async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
                msg = await alerted(fake)
                fake.fail("EditMessageRequest", "MESSAGE_EDIT_TIME_EXPIRED", times=100)
                fake.delete(SHOT, [msg], keep=True)
                await eventually(lambda: len(deletion_notices(fake)) == 2)
                fail_forgetting_deliveries(service.sender.store)  # the reply went; recording it fails
                fake.edit(SHOT, msg, DESERTION + " (обновлено)")
                await eventually(lambda: not_deleted_notices(fake))
                await deliver_alone(service)
        assert len(not_deleted_notices(fake)) == 1
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            await eventually(lambda: not service.store.db.execute(
                "SELECT 1 FROM deliveries WHERE part IN (-1, -3)").fetchall())
            await deliver_alone(service)
            notes = not_deleted_notices(fake)
            assert sorted(n.reply_to for n in notes) == sorted(a.id for a in alerts(fake))
    run(go())


def test_a_flood_wait_on_editing_holds_the_deletion_line_through_a_restart_and_it_is_shown_once(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        service = await start(fake, tmp_path, clock, timezone="Europe/Moscow")
        try:
            msg = await alerted(fake)
            fake.flood("EditMessageRequest", 600)
            fake.delete(SHOT, [msg])
            await eventually(lambda: service.sender._edits_until is not None)
            assert all(not a.edits for a in alerts(fake))
        finally:
            await stop_service(service)
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            await deliver_alone(service)
            assert all(not a.edits for a in alerts(fake))  # Telegram's wait is the account's: it outlives the run
            clock.now += timedelta(seconds=601)
            await deliver_alone(service)
            await eventually(lambda: all(a.edits for a in alerts(fake)))
            await service.poll()
            await deliver_alone(service)
            assert [len(a.edits) for a in alerts(fake)] == [1, 1]
            assert all(GONE in a.text for a in alerts(fake)) and deletion_notices(fake) == []
    run(go())


def test_a_deletion_reply_telegram_already_has_is_found_by_what_it_replies_to(
        fake: FakeTelegram, tmp_path: Path, telethon_sleeps: Any, caplog: Any) -> None:
    """A group the watching account writes to: the alerts cannot be edited any more, and the answer to
    the first deletion reply is lost in a connection drop. Telethon sends it again, Telegram answers
    RANDOM_ID_DUPLICATE, and the reply already there is found in one history request (it is in no
    forum topic: the alert it answers is not one) and recorded, with no warning."""
    from .test_live import channels, running as running_live
    from .test_live_edges import TEAM
    from .test_live_sender_faults import _lose_reply_once

    fake.add_channel(TEAM, "teamgroup", "Team", megagroup=True)

    async def go() -> None:
        channels(fake)
        async with running_live(fake, tmp_path, chats=("teamgroup",)) as service:
            msg = await alerted(fake)
            for i in range(150):  # the analysts talk meanwhile
                fake.publish(TEAM, f"analyst remark {i}", push=False)
            fake.fail("EditMessageRequest", "MESSAGE_EDIT_TIME_EXPIRED", times=2)
            lost = _lose_reply_once(fake, service.user)
            caplog.set_level(logging.INFO)
            read = fake.count("GetHistoryRequest")
            fake.delete(SHOT, [msg])
            await eventually(lambda: lost and len(deletion_notices(fake)) == 2 and not service.store.db.execute(
                "SELECT 1 FROM deliveries WHERE part = -1 AND sent_at IS NULL").fetchall())
            notes = {n.reply_to: n.id for n in deletion_notices(fake)}
            assert sorted(notes) == sorted(a.id for a in alerts(fake))
            rows = service.store.db.execute("SELECT d.message_id, a.message_id FROM deliveries d JOIN deliveries a "
                                            "ON a.alert_id = d.alert_id AND a.part = 0 WHERE d.part = -1").fetchall()
            assert {a: n for n, a in rows} == notes  # each reply recorded as itself
            assert fake.count("GetHistoryRequest") - read == 1
            assert not [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("bot.")]
    run(go())


def test_the_story_line_marks_each_deleted_post_the_origin_first_then_its_follower(fake: FakeTelegram, tmp_path: Path) -> None:
    """The alerted post is deleted while Mash's copy stands: the alert says so and its story line
    still names Mash, unmarked (the story is still being told). Then Mash deletes its copy: the
    story line marks it too, by an edit, with no reply notice (the alert's own post was told)."""
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            posted = fake.messages(SHOT)[-1].date
            copy = fake.publish(MASH, DESERTION)
            copied = fake.messages(MASH)[-1].date
            await eventually(lambda: all("also Mash" in a.text for a in alerts(fake)))
            story = service.store.story_of(SHOT, msg)
            assert service.store.story_of(MASH, copy) == story
            line = f"story #{story} (2 posts): first: SHOT {hhmm(posted, posted)}{{}}; also Mash {hhmm(copied, posted)}{{}}"
            fake.delete(SHOT, [msg])
            await eventually(lambda: all(GONE in a.text for a in alerts(fake)))
            assert [a.text.split("\n")[-1] for a in alerts(fake)] == [line.format(" 🗑", "")] * 2
            edits = [len(a.edits) for a in alerts(fake)]
            fake.delete(MASH, [copy])
            await eventually(lambda: [len(a.edits) for a in alerts(fake)] == [n + 1 for n in edits])
            assert [a.text.split("\n")[-1] for a in alerts(fake)] == [line.format(" 🗑", " 🗑")] * 2
            assert deletion_notices(fake) == []
            await service.poll()
            await deliver_alone(service)
            assert [len(a.edits) for a in alerts(fake)] == [n + 1 for n in edits]
    run(go())


def test_a_deleted_follower_is_marked_in_the_story_line_of_the_alert_whose_post_stands(fake: FakeTelegram, tmp_path: Path) -> None:
    """Mash's copy of the alerted post is deleted: the alert (SHOT's, still there) is edited once so
    its story line marks Mash; it gains no deleted line and no reply. Telegram showing the copy
    again takes the mark back."""
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow"):
            await alerted(fake)
            posted = fake.messages(SHOT)[-1].date
            copy = fake.publish(MASH, DESERTION)
            copied = fake.messages(MASH)[-1].date
            await eventually(lambda: all("also Mash" in a.text for a in alerts(fake)))
            edits = [len(a.edits) for a in alerts(fake)]
            fake.delete(MASH, [copy], keep=True)  # a wrong signal: Telegram still has the post
            await eventually(lambda: all("Mash" in a.text.split("\n")[-1] and "🗑" in a.text.split("\n")[-1]
                                         for a in alerts(fake)))
            for a, n in zip(alerts(fake), edits):
                assert len(a.edits) == n + 1 and GONE not in a.text
                assert a.text.split("\n")[-1].endswith(f"; also Mash {hhmm(copied, posted)} 🗑")
            assert deletion_notices(fake) == []
            fake.edit(MASH, copy, DESERTION + ".")  # Telegram pushes an edit of it: it is not deleted
            await eventually(lambda: all(a.text.split("\n")[-1].endswith(f"; also Mash {hhmm(copied, posted)}")
                                         for a in alerts(fake)))
    run(go())


def test_an_edit_pushed_after_a_wrong_deletion_signal_undeletes_but_a_replayed_copy_does_not(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now() - timedelta(minutes=5))
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            fake.delete(SHOT, [msg], keep=True)  # Telegram says it was deleted; it was not
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
            # a replay of a copy taken earlier (another wording, no later edit) leaves it deleted
            line = {"channel_id": SHOT, "message_id": msg, "date": iso(fake.messages(SHOT)[-1].date),
                    "channel_username": "shot_shot", "text": DESERTION + "!"}
            copy = tmp_path / "old.jsonl"
            copy.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
            other = Store(tmp_path / "t.db")
            try:
                list(Pipeline(other, shipped_matcher()).process([p for p in read_paths([copy]) if not isinstance(p, Skip)]))
                assert other.deleted_at(SHOT, msg) is not None
            finally:
                other.close()
            fake.edit(SHOT, msg, DESERTION + " (обновлено)")  # Telegram never edits a deleted post
            await eventually(lambda: service.store.deleted_at(SHOT, msg) is None)
            await deliver_alone(service)  # the scheduled pass (every 15 s)
            await eventually(lambda: all(len(a.edits) == 2 for a in alerts(fake)))
            assert all(GONE not in a.text for a in alerts(fake))
    run(go())


def test_any_edit_telegram_pushes_undeletes_whatever_our_clock_says_and_no_replayed_copy_does(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Our clock runs ten minutes fast, so the deletion is recorded after any edit date Telegram can
    give: the edit still proves the post exists (Telegram never edits a deleted message), and so does
    a reaction (an edit with the same text). A replayed copy, even dated after the mark, proves nothing."""
    async def go() -> None:
        clock = Clock(now() + timedelta(minutes=10))
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            fake.delete(SHOT, [msg], keep=True)  # a wrong deletion signal
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
            fake.edit(SHOT, msg, DESERTION + " (обновлено)")  # dated before our clock's mark
            await eventually(lambda: service.store.deleted_at(SHOT, msg) is None)
            await deliver_alone(service)
            await eventually(lambda: all(len(a.edits) == 2 and GONE not in a.text for a in alerts(fake)))
            fake.delete(SHOT, [msg], keep=True)
            await eventually(lambda: all(len(a.edits) == 3 and GONE in a.text for a in alerts(fake)))
            fake.react(SHOT, msg)  # a reaction is an edit Telegram pushes too
            await eventually(lambda: service.store.deleted_at(SHOT, msg) is None)
            await deliver_alone(service)
            await eventually(lambda: all(len(a.edits) == 4 and GONE not in a.text for a in alerts(fake)))
    run(go())
    # a copy replayed into a store where the post is marked deleted leaves it marked, whatever its date
    line = {"channel_id": SHOT, "message_id": 7, "date": "2026-11-20T10:00:00+00:00", "channel_username": "shot_shot",
            "text": DESERTION}
    store = Store(tmp_path / "t.db")
    try:
        copy = tmp_path / "one.jsonl"
        for text, edited in ((DESERTION, None), (DESERTION + "!", "2026-11-29T10:00:00+00:00")):
            copy.write_text(json.dumps({**line, "text": text, "edit_date": edited}, ensure_ascii=False) + "\n", encoding="utf-8")
            list(Pipeline(store, shipped_matcher()).process([p for p in read_paths([copy]) if not isinstance(p, Skip)]))
            if edited is None:
                assert store.mark_deleted(SHOT, [7], "2026-11-21T10:00:00+00:00") == [7]
        assert store.deleted_at(SHOT, 7) == "2026-11-21T10:00:00+00:00"
        assert store.db.execute("SELECT text FROM posts WHERE message_id = 7").fetchone()[0] == DESERTION + "!"
    finally:
        store.close()


def test_a_photo_taken_out_of_an_album_leaves_it_standing_and_its_last_item_going_deletes_it(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """An album is stored under its first item's id: Telegram's deletion of that item alone (one
    photo taken out, the caption on another) must not mark the album deleted nor edit its alerts;
    the items deleted one by one, the last one takes it."""
    async def go() -> None:
        clock = Clock(now() - timedelta(minutes=1))
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            ids = fake.publish_album(SHOT, ["", DESERTION, ""])
            await eventually(lambda: len(alerts(fake)) == 2)
            fake.delete(SHOT, [ids[0]])
            await service.poll()
            await deliver_alone(service)
            assert service.store.deleted_at(SHOT, ids[0]) is None
            assert all(not a.edits for a in alerts(fake))
            fake.delete(SHOT, [ids[1]])
            fake.delete(SHOT, [ids[2]])
            await eventually(lambda: service.store.deleted_at(SHOT, ids[0]) is not None)
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
    run(go())


# -- live: a channel read by the poll alone --------------------------------------------------------


def test_the_poll_marks_a_post_missing_inside_what_it_read_and_nothing_on_a_failed_read_or_past_the_end(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        mash_not_joined(fake)
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            assert not service.ingest.watched[MASH].joined
            first = fake.publish(MASH, WEATHER)
            matched = fake.publish(MASH, DESERTION)
            last = fake.publish(MASH, PLAIN)
            await service.poll()
            await eventually(lambda: len(alerts(fake)) == 2)
            store = service.store
            fake.delete(MASH, [matched])
            fake.fail("GetHistoryRequest", "MSG_ID_INVALID", times=2)  # the reads fail
            await service.poll()
            assert store.deleted_at(MASH, matched) is None and all(not a.edits for a in alerts(fake))
            await service.poll()  # read whole: the post is missing between two that are there
            assert store.deleted_at(MASH, matched) == iso(clock.now)
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
            assert store.deleted_at(MASH, first) is None and store.deleted_at(MASH, last) is None
            fake.delete(MASH, [last])  # the newest: nothing after it was read, so nothing proves it
            await service.poll()
            assert store.deleted_at(MASH, last) is None
            fake.service_message(MASH)  # a pin has an id too: the read now reaches past the post
            clock.now += timedelta(minutes=10)
            await service.poll()
            assert store.deleted_at(MASH, last) == iso(clock.now) and store.deleted_at(MASH, first) is None
            assert store.count("posts") == 3
    run(go())


def test_a_post_the_history_leaves_out_but_telegram_still_has_is_not_marked_and_a_failed_check_marks_nothing(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Telegram's history may leave out a post that exists (hidden "due to local laws"): the poll asks
    for the missing post by id before marking it, and marks nothing when that request fails."""
    async def go() -> None:
        clock = Clock(now())
        mash_not_joined(fake)
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            fake.publish(MASH, WEATHER)
            matched = fake.publish(MASH, DESERTION)
            fake.publish(MASH, PLAIN)
            await service.poll()
            await eventually(lambda: len(alerts(fake)) == 2)
            store = service.store
            fake.hide(MASH, [matched])
            asked = fake.count("GetMessagesRequest")
            await service.poll()
            await deliver_alone(service)
            assert fake.count("GetMessagesRequest") == asked + 1  # one request for the post left out
            assert store.deleted_at(MASH, matched) is None and all(not a.edits for a in alerts(fake))
            fake.hide(MASH, [matched], hidden=False)
            fake.delete(MASH, [matched])
            fake.fail("GetMessagesRequest", "MSG_ID_INVALID")  # the check fails
            await service.poll()
            assert store.deleted_at(MASH, matched) is None and all(not a.edits for a in alerts(fake))
            await service.poll()  # the next poll checks again
            assert store.deleted_at(MASH, matched) == iso(clock.now)
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
    run(go())


def test_a_post_marked_deleted_that_a_later_read_holds_is_not_deleted_and_its_alert_is_edited_back(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        clock = Clock(now())
        async with running(fake, tmp_path, clock, timezone="Europe/Moscow") as service:
            msg = await alerted(fake)
            fake.delete(SHOT, [msg], keep=True)  # Telegram says it was deleted; it was not
            await eventually(lambda: all(a.edits and GONE in a.text for a in alerts(fake)))
            await service.poll()  # the re-read holds the post
            assert service.store.deleted_at(SHOT, msg) is None
            await eventually(lambda: all(len(a.edits) == 2 for a in alerts(fake)))
            assert all(GONE not in a.text for a in alerts(fake)) and deletion_notices(fake) == []
            await service.poll()
            await deliver_alone(service)
            assert all(len(a.edits) == 2 for a in alerts(fake))
    run(go())


# -- the store ------------------------------------------------------------------------------------


def test_an_old_store_upgrades_in_place_and_retention_keeps_a_deleted_post_that_matched(sample: Sample) -> None:
    store = Store(sample.db)
    store.db.execute("DROP INDEX idx_posts_deleted")  # a later migration's index of the column: not in that store
    store.db.execute("ALTER TABLE posts DROP COLUMN deleted_at")  # as a store of the last release has it
    store.db.execute("PRAGMA user_version = 7")  # the version before posts.deleted_at
    counts = {t: store.count(t) for t in ("posts", "matches", "alerts", "stories")}
    store.close()
    store = Store(sample.db)
    try:
        assert store.version == SCHEMA_VERSION and {t: store.count(t) for t in counts} == counts
        (cid, mid), = store.db.execute("SELECT channel_id, message_id FROM alerts ORDER BY id LIMIT 1").fetchall()
        plain = store.db.execute("SELECT channel_id, message_id FROM posts p WHERE NOT EXISTS (SELECT 1 FROM matches m "
                                 "WHERE m.channel_id = p.channel_id AND m.message_id = p.message_id) LIMIT 1").fetchone()
        at = "2026-11-24T08:00:00+00:00"
        assert store.mark_deleted(cid, [mid, 999_999], at) == [mid]  # a post never stored is no news
        assert store.mark_deleted(cid, [mid], "2026-11-25T08:00:00+00:00") == []  # seen again: the first time stands
        store.mark_deleted(plain[0], [plain[1]], at)
        store.prune("9999-01-01T00:00:00+00:00")  # everything is past retention
        assert store.deleted_at(cid, mid) == at
        assert store.count("matches") == counts["matches"] and store.count("alerts") == counts["alerts"]
        assert store.deleted_at(*plain) is None and store.story_of(*plain) is None  # unmatched: pruned as ever
    finally:
        store.close()


# -- faces: story, export, search --------------------------------------------------------------------


def kuban_deleted(sample: Sample) -> str:
    """Mark the hand-made Kuban post 501 (matched, edited) deleted; returns when, ISO."""
    store = Store(sample.db)
    try:
        at = "2026-11-23T16:45:00+00:00"
        assert store.mark_deleted(KUBAN, [501], at) == [501]
        return at
    finally:
        store.close()


def cli(*args: str) -> Any:
    return CliRunner().invoke(tgwatch, list(args), catch_exceptions=False)


def test_story_and_search_mark_the_deleted_post(sample: Sample) -> None:
    kuban_deleted(sample)
    store = Store(sample.db)
    story = store.story_of(KUBAN, 501)
    store.close()
    shown = cli("story", str(story), "--db", str(sample.db)).output
    marked = [line for line in shown.splitlines() if "deleted by the channel" in line]
    assert len(marked) == 1 and "Kuban_Online/501" in marked[0] and "🗑 deleted by the channel 2026-11-23 16:45 UTC" in marked[0]
    found = cli("search", "дезертира", "--db", str(sample.db)).output
    heads = [line for line in found.splitlines() if "t.me/" in line]
    assert [("Kuban_Online/501" in h, "🗑 deleted by the channel 2026-11-23 16:45 UTC" in h) for h in heads
            if "Kuban_Online/501" in h or "deleted" in h] == [(True, True)]


def test_export_ends_with_deleted_at_in_csv_jsonl_and_xlsx(sample: Sample, tmp_path: Path) -> None:
    at = kuban_deleted(sample)
    rows = list(csv.reader(io.StringIO(cli("export", "--db", str(sample.db)).stdout)))
    assert rows[0][-1] == "deleted_at"
    by_link = {r[4]: r[-1] for r in rows[1:]}
    assert by_link.pop("https://t.me/Kuban_Online/501") == at and set(by_link.values()) == {""}
    lines = [json.loads(x) for x in cli("export", "--db", str(sample.db), "--format", "jsonl").stdout.splitlines()]
    assert all(list(x)[-1] == "deleted_at" for x in lines)
    assert {x["link"]: x["deleted_at"] for x in lines if x["deleted_at"]} == {"https://t.me/Kuban_Online/501": at}
    out = tmp_path / "e.xlsx"
    cli("export", "--db", str(sample.db), "--format", "xlsx", "-o", str(out))
    sheet = list(openpyxl.load_workbook(out, data_only=True).active.iter_rows(values_only=True))
    assert sheet[0][-1] == "deleted_at"
    cells = {r[4]: r[-1] for r in sheet[1:]}
    assert cells.pop("https://t.me/Kuban_Online/501") == datetime(2026, 11, 23, 16, 45)
    assert set(cells.values()) == {None}

