"""Live-path faults found by helper-52's review (real TelegramClient, faked server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, DESERTION_2, MASH, SHOT, alerts, channels, run, running

TEAM = 1800000078  # a supergroup the analysts read alerts in (its history can be read back)


def test_an_alert_sent_before_a_crash_whose_story_grew_meanwhile_is_found_and_edited(
        fake: FakeTelegram, tmp_path: Path, telethon_sleeps: Any) -> None:
    """The alert reached the chat but the process died before recording it; while it was down the
    story grew. After the restart the resend (same random_id) is refused, and the copy in the chat,
    which shows the story as it was, must still be found and edited to show it as it is now."""
    fake.add_channel(TEAM, "teamgroup", "Team", megagroup=True)
    chats = ("teamgroup",)

    async def go() -> None:
        channels(fake, mash_joined=False)
        async with running(fake, tmp_path, chats=chats):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 2)
        store = Store(tmp_path / "tgwatch.db")  # the store never heard of the sends
        store.db.execute("UPDATE deliveries SET message_id = NULL, sent_at = NULL")
        store.db.execute("UPDATE alerts SET state = 'queued', sent_at = NULL")
        store.close()
        fake.publish(MASH, DESERTION_2)  # while stopped: the story grows
        async with running(fake, tmp_path, chats=chats) as service:
            await service.sender.deliver()
            assert len(alerts(fake)) == 2  # no second copy
            rows = list(service.store.db.query("SELECT message_id FROM deliveries"))
            assert sorted(r["message_id"] for r in rows) == sorted(m.id for m in alerts(fake))
            await eventually(lambda: all(m.edits and "Mash" in m.text for m in alerts(fake)))
    run(go())
