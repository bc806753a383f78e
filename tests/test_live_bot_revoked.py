"""A bot whose token was revoked in @BotFather while `tgwatch run` sends through it: Telegram answers
every send with 401. The alerts wait (test_live_review), and the one line the operator gets must name
the bot's login and the fix, not blame an alert chat that is fine."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .fake_telegram import FakeTelegram, eventually
from .test_chat import ANALYST, STRANGER
from .test_chat import running as chat_running
from .test_live import DESERTION, SHOT, run
from .test_live_sender_faults import Clocks, lines, ticks


def test_a_revoked_bot_is_one_warning_naming_the_bot_and_the_fix_not_the_chat(fake: FakeTelegram, tmp_path: Path,
                                                                              caplog: Any) -> None:
    caplog.set_level(logging.WARNING)

    async def go() -> None:
        async with chat_running(fake, tmp_path, chats=(ANALYST, STRANGER)) as service:  # one line for both
            clocks = Clocks(service)
            fake.fail("SendMessageRequest", "AUTH_KEY_UNREGISTERED", code=401, times=10_000)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)
            await ticks(service, clocks, 120, seconds=60)  # two hours of sender passes
            assert {r["state"] for r in service.store.db.query("SELECT state FROM alerts")} == {"queued"}
    run(go())
    said = lines(caplog, "AUTH_KEY_UNREGISTERED")
    assert said == ["the bot cannot send (AUTH_KEY_UNREGISTERED: Telegram no longer takes its login; its token was "
                    "revoked in @BotFather?): alerts stay queued and are retried at least every 30 min; set "
                    "TGWATCH_BOT_TOKEN to the bot's token and restart tgwatch"]
    assert not lines(caplog, "cannot be written to")
