"""Deletion marks the live service holds in memory (`Ingest._marked`): a deletion marked while a read
of Telegram is under way stands whatever that read holds, and is forgotten once no such read is."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .fake_telegram import FakeTelegram, eventually
from .test_live import NEUTRAL, SHOT, channels, running


def test_a_deletion_marked_during_a_read_stands_against_it_and_is_forgotten_after(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> tuple[int, int, int, int]:
        channels(fake)
        async with running(fake, tmp_path) as service:
            ingest = service.ingest
            mid = fake.publish(SHOT, NEUTRAL)
            await eventually(lambda: service.store.count("posts") == 1)
            with ingest._reading() as seen:  # a read begun before the deletion, which still shows the post
                await ingest._mark_deleted(SHOT, [mid], "2026-01-01T00:00:00+00:00", "test")
                stood = await ingest._unmark(SHOT, [mid], seen)
                held = len(ingest._marked)
            after = len(ingest._marked)
            back = await ingest._unmark(SHOT, [mid], ingest._marks)  # a read begun after it: Telegram shows the post
            return stood, held, after, back
    stood, held, after, back = asyncio.run(go())
    assert (stood, held) == (0, 1)  # the read begun before the mark does not undo it
    assert after == 0  # no read begun before it is under way: nothing held
    assert back == 1  # and a later read that shows the post still un-marks it
