"""/mute with two periods through the offline Telegram: «/mute desertion 2h 3h» answered «no rule
named '2h'», sending the analyst to look for a rule. Now it names both periods, as /export does, and
mutes nothing; the same period written twice is that period."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from .fake_telegram import FakeTelegram
from .test_chat import Clock, ask, run, running


def test_two_periods_in_a_mute_are_named_and_nothing_is_muted(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path, Clock(datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc))):
            for text, first, second in (("/mute desertion 2h 3h", "2h", "3h"), ("/mute 2h desertion 30 m", "2h", "30m"),
                                        ("/mute desertion regiment 1d 2h", "1d", "2h")):
                r = await ask(fake, text)
                assert r.text == f"/mute: two periods ('{first}', '{second}'): give one", r.text
            assert (await ask(fake, "/unmute desertion")).text == "desertion was not muted."
            assert (await ask(fake, "/unmute regiment")).text == "regiment was not muted."
            assert (await ask(fake, "/mute 2h 2h")).text.startswith("/mute: usage: /mute NAME 2h")
            r = await ask(fake, "/mute desertion 2h 120m")  # one period, written twice
            assert r.text == "🔕 desertion muted until 2026-11-28 14:00 UTC. /unmute desertion lifts it.", r.text
    run(go())
