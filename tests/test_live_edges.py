"""Live-path edge cases: an alert sent before a crash and grown since, a flood wait on edits, a late
album item (real TelegramClient, faked server)."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from pathlib import Path
from typing import Any

import pytest

import bot.live.service as service_module
from bot.match.matcher import Matcher
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, DESERTION_2, MASH, SHOT, alerts, channels, run, running
from .test_live_sender_faults import WEATHER, low_rules
from .telegram_fixtures import deliver_alone

TEAM = 1800000078  # a supergroup the analysts read alerts in (its history can be read back)



async def sent_then_forgotten(fake: FakeTelegram, tmp_path: Path, chats: tuple[str, ...]) -> None:
    """SHOT's post alerted into `chats`, then the store as a crash between sending the alerts and
    recording them leaves it: queued, unsent."""
    channels(fake, mash_joined=False)
    async with running(fake, tmp_path, chats=chats):
        fake.publish(SHOT, DESERTION)
        await eventually(lambda: len(alerts(fake)) == 2)
    store = Store(tmp_path / "tgwatch.db")
    store.db.execute("UPDATE deliveries SET message_id = NULL, sent_at = NULL")
    store.db.execute("UPDATE alerts SET state = 'queued', sent_at = NULL")
    store.close()

def test_an_alert_sent_before_a_crash_whose_story_grew_meanwhile_is_found_and_edited(
        fake: FakeTelegram, tmp_path: Path, telethon_sleeps: Any) -> None:
    """The alert reached the chat but the process died before recording it; while it was down the
    story grew. After the restart the resend (same random_id) is refused, and the copy in the chat,
    which shows the story as it was, must still be found and edited to show it as it is now."""
    fake.add_channel(TEAM, "teamgroup", "Team", megagroup=True)
    chats = ("teamgroup",)

    async def go() -> None:
        await sent_then_forgotten(fake, tmp_path, chats)
        fake.publish(MASH, DESERTION_2)  # while stopped: the story grows
        async with running(fake, tmp_path, chats=chats) as service:
            await deliver_alone(service)
            assert len(alerts(fake)) == 2  # no second copy
            rows = list(service.store.db.query("SELECT message_id FROM deliveries"))
            assert sorted(r["message_id"] for r in rows) == sorted(m.id for m in alerts(fake))
            await eventually(lambda: all(m.edits and "Mash" in m.text for m in alerts(fake)))
    run(go())


CURFEW = "В Белгороде с 22:00 вводится комендантский час, жителей просят не выходить на улицу"


def test_a_flood_wait_on_editing_alerts_does_not_hold_new_alerts(fake: FakeTelegram, tmp_path: Path) -> None:
    """Telegram asks to wait ten minutes before the next editMessage (stories grew fast): the update
    waits that long, but a new alert meanwhile goes out at once; the update follows, once."""
    from .test_live_sender_faults import Clocks, ticks

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            clocks = Clocks(service)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
            fake.flood("EditMessageRequest", 600)
            fake.publish(MASH, DESERTION_2)  # the story grows: its alerts are to be edited
            await eventually(lambda: service.store.count("posts") == 2)
            for _ in range(10):  # sender passes, 15 s apart (past any edit throttle), until one meets the flood wait
                if fake.count("EditMessageRequest"):
                    break
                await ticks(service, clocks, 1)
            assert fake.count("EditMessageRequest") == 1
            await ticks(service, clocks, 1)
            fake.publish(SHOT, CURFEW)  # another story, another rule
            await eventually(lambda: service.store.count("alerts") == 3)
            await ticks(service, clocks, 1)
            assert len(alerts(fake)) == 3 and "комендантский" in alerts(fake)[-1].text  # not held for 10 min
            assert not any(m.edits for m in alerts(fake))
            await ticks(service, clocks, 41)  # the 600 s are over
            assert len(alerts(fake)) == 3
            assert all(m.edits and "also Mash" in m.edits[-1][1] for m in alerts(fake)[:2])
    run(go())


def test_an_album_part_pushed_after_the_album_event_alerts_without_waiting_for_the_poll(
        fake: FakeTelegram, tmp_path: Path, fast_updates: None) -> None:
    """Telegram pushes an album's items in separate updates when they come from another data centre;
    one later than Telethon's album window (0.5 s) never makes an Album event (Telethon keeps the
    album's delivered collector and extends it), and NewMessage items of albums are left to the
    Album event: the caption it carries waited for the next poll (five minutes)."""
    from telethon.tl import types as tl

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, "Фото с места событий")  # Telethon learns the channel's pts
            await eventually(lambda: service.store.count("posts") == 1)
            made = [fake._new_post(SHOT, text, None, 4242, None, True, None)
                    for text in ("", "", DESERTION)]
            fake._push_channel(SHOT, [tl.UpdateNewChannelMessage(m, pts, 1) for m, pts in made[:2]])
            await eventually(lambda: service.store.count("posts") == 2)  # the Album event of two items
            reads = fake.count("GetHistoryRequest")
            fake._push_channel(SHOT, [tl.UpdateNewChannelMessage(made[2][0], made[2][1], 1)])
            await eventually(lambda: len(alerts(fake)) == 2)
            assert fake.count("GetHistoryRequest") == reads  # no poll ran: the push alone brought it
            rows = list(service.store.db.query("SELECT message_id FROM posts WHERE media = 'album'"))
            assert rows == [{"message_id": made[0][0].id}]  # one post, keyed by its first item
            await service.poll()
            assert len(alerts(fake)) == 2
    run(go())


def test_album_collectors_are_forgotten_and_a_later_item_still_joins_its_album(
        fake: FakeTelegram, tmp_path: Path, fast_updates: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Telethon keeps every album's collector for the life of the client (a leak over months); the
    poll drops those delivered long ago. Later items of a forgotten album then make an Album event of
    their own (two or more: Telethon lets no one-item album through): they must be stored into the
    album stored earlier, not as a second album post."""
    from telethon.tl import types as tl

    from bot.live.ingest import Ingest

    albums: list[list[int]] = []  # the Album events handled, by their items' ids
    handle = Ingest._on_album

    async def on_album(self: Ingest, event: Any) -> None:
        await handle(self, event)
        albums.append(sorted(m.id for m in event.messages))

    monkeypatch.setattr(Ingest, "_on_album", on_album)

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, "Фото с места событий")  # Telethon learns the channel's pts
            await eventually(lambda: service.store.count("posts") == 1)
            made = [fake._new_post(SHOT, text, None, 4343, None, True, None) for text in ("", "", "", DESERTION)]
            fake._push_channel(SHOT, [tl.UpdateNewChannelMessage(m, pts, 1) for m, pts in made[:2]])
            await eventually(lambda: service.store.count("posts") == 2)
            assert service.ingest.forget_albums(older_than=3600) == 0  # delivered just now: kept
            await eventually(lambda: service.ingest.forget_albums(older_than=0) == 1)  # the canary for Telethon's dict
            assert service.ingest.forget_albums(older_than=0) == 0
            fake._push_channel(SHOT, [tl.UpdateNewChannelMessage(m, pts, 1) for m, pts in made[2:]])
            await eventually(lambda: len(albums) == 2)
            assert albums[1] == [m.id for m, _ in made[2:]]  # the late items' own Album event
            await eventually(lambda: len(alerts(fake)) == 2)
            await service.poll()
            rows = list(service.store.db.query("SELECT message_id, text FROM posts WHERE media = 'album'"))
            assert rows == [{"message_id": made[0][0].id, "text": DESERTION}]  # one post, keyed by its first item
            assert len(alerts(fake)) == 2
    run(go())


def test_a_rules_change_is_built_off_the_loop_and_the_newest_change_wins(
        fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A new matcher takes 0.2 s warm, seconds cold: built on the loop it stalled every update and
    send. Here each build waits for the test to let it finish: an alert goes out meanwhile, two
    quick changes end with the newer one even when the older build ends last, a bad file changes
    nothing and says where it is wrong in one line."""
    gates = [threading.Event(), threading.Event()]
    built: list[Any] = []
    stalled: list[int] = []

    def gated(ruleset: Any, **kw: Any) -> Any:
        k = len(built)
        built.append(ruleset)
        matcher = Matcher(ruleset, **kw)
        if k < len(gates) and not gates[k].wait(60):
            stalled.append(k)  # the loop never came back to let it go: it was blocked
        return matcher

    async def go() -> None:
        channels(fake)
        rules = low_rules(tmp_path)
        weather = rules / "weather.toml"
        async with running(fake, tmp_path, rules=rules) as service:
            in_use = service.pipeline.matcher
            monkeypatch.setattr(service_module, "Matcher", gated)
            weather.write_text(WEATHER.replace("query = 'погода'", "query = 'погода OR прогноз'"), encoding="utf-8")
            first = asyncio.ensure_future(service.reload_rules())
            await eventually(lambda: len(built) == 1)
            fake.publish(SHOT, DESERTION)  # served while the matcher is being built
            await eventually(lambda: len(alerts(fake)) == 2)
            assert service.pipeline.matcher is in_use and not first.done()
            weather.write_text(WEATHER.replace("query = 'погода'", "query = 'погода OR синоптик'"), encoding="utf-8")
            second = asyncio.ensure_future(service.reload_rules())
            await eventually(lambda: len(built) == 2)
            gates[1].set()  # the newer change is built first...
            await second
            gates[0].set()  # ...and the older one after it: it must not replace it
            await first
            await service.rules_settled()
            assert service.pipeline.matcher.match("синоптик обещает снег")
            assert not service.pipeline.matcher.match("прогноз на завтра")
            assert not stalled
            newest = service.pipeline.matcher
            caplog.set_level(logging.WARNING)
            weather.write_text(WEATHER.replace("query = 'погода'", "query = '(погода'"), encoding="utf-8")
            await service.reload_rules()
            assert service.pipeline.matcher is newest and len(built) == 2
            said = [r.getMessage() for r in caplog.records if "rule file error" in r.getMessage()]
            assert len(said) == 1 and re.search(r"weather\.toml:\d+:\d+: ", said[0]), said
    run(go())
