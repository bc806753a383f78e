"""An alert chat given as a basic group's id (-N) that the account is not in (a typo, or a group it
left): Telegram's getChats leaves such a chat out of its answer, and Telethon's get_entity then raises
KeyError. That chat's alerts wait, as for any chat that cannot be written to; the other chats get
every alert, and no traceback reaches the log."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone
from .test_live import DESERTION, SHOT, alerts, channels, run, running
from .test_live_sender_faults import Clocks, lines


def test_a_group_the_account_is_not_in_holds_its_own_alerts_only(fake: FakeTelegram, tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.WARNING)

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, chats=(-123456, "me")) as service:
            clocks = Clocks(service)
            fake.publish(SHOT, DESERTION)  # two rules match it: two alerts
            await eventually(lambda: service.store.count("alerts") == 2)
            for _ in range(3):
                clocks.tick(3600)
                await deliver_alone(service)  # raised KeyError: 123456 on every pass
            assert len(alerts(fake)) == 2 and {m.peer for m in alerts(fake)} == {7_000_001}  # "me"
            rows = list(service.store.db.query("SELECT state, error FROM alerts"))
            assert rows == [{"state": "queued", "error": "PEER_ID_INVALID"}] * 2  # held for the group, not failed
    run(go())
    assert not [r for r in caplog.records if r.exc_info]
    assert lines(caplog, "-123456") == ["chat -123456 cannot be written to (PEER_ID_INVALID): alerts for it stay "
                                        "queued and are retried at least every 30 min until it works"]
