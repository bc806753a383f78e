"""What the live sender remembers per alert in memory (`Sender._alert_due`, `_edit_due`) is let go
once the alert has nothing more to send: a run of months holds no entry per alert ever given up."""

from __future__ import annotations

from pathlib import Path

from bot.live.sender import MAX_ATTEMPTS
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, DESERTION_2, MASH, SHOT, alerts, channels, run, running
from .test_live_rule_off import rules, switched
from .test_live_sender_faults import Clocks, ticks


def test_an_alert_failed_for_good_leaves_no_retry_time_behind(fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> tuple[list[str], dict[int, float]]:
        channels(fake)
        async with running(fake, tmp_path, chats=("me",)) as service:
            clocks = Clocks(service)
            fake.fail("SendMessageRequest", "ENTITY_BOUNDS_INVALID", times=2 * MAX_ATTEMPTS)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)
            await ticks(service, clocks, MAX_ATTEMPTS + 1, seconds=3600)
            states = [r["state"] for r in service.store.db.query("SELECT state FROM alerts")]
            return states, dict(service.sender._alert_due)
    states, due = run(go())
    assert states == ["failed", "failed"]
    assert due == {}, f"retry times kept for alerts given up: {due}"


def test_a_throttled_story_update_dropped_with_its_rule_leaves_no_edit_time_behind(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> tuple[int, dict[int, float], int]:
        channels(fake)
        async with running(fake, tmp_path, rules=rules(tmp_path), edit_every_seconds=60) as service:
            clocks = Clocks(service)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 1)
            fake.publish(MASH, DESERTION_2)  # the story grows: an update is queued, throttled
            await service.poll()
            await eventually(lambda: any(r["state"] == "update_queued" for r in service.store.queued_alerts()))
            await ticks(service, clocks, 1)
            throttled = len(service.sender._edit_due)
            await switched(service, False)
            await ticks(service, clocks, 6)  # past the throttle: the update of a rule switched off is dropped
            return throttled, dict(service.sender._edit_due), len(alerts(fake)[0].edits)
    throttled, due, edits = run(go())
    assert throttled == 1  # (the update waited for its throttle)
    assert edits == 0  # (and was dropped with its rule)
    assert due == {}, f"throttle times kept for updates dropped: {due}"


def test_an_alert_waiting_to_retry_that_leaves_the_queue_elsewhere_leaves_no_retry_time_behind(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """An alert waiting for its retry time that another program (the CLI, a replay) takes out of the
    queue before that time comes is no longer the sender's: its retry time goes at the next pass."""
    async def go() -> tuple[dict[int, float], dict[int, float]]:
        channels(fake)
        async with running(fake, tmp_path, chats=("me",)) as service:
            clocks = Clocks(service)
            fake.fail("SendMessageRequest", "ENTITY_BOUNDS_INVALID", times=2)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(service.sender._alert_due) == 2)  # both failed once: retried in 15 s
            waiting = dict(service.sender._alert_due)
            other = Store(service.store.path)  # another program marks them failed before they are due
            try:
                with other.transaction():
                    other.db.execute("UPDATE alerts SET state = 'failed'")
            finally:
                other.close()
            await ticks(service, clocks, 1, seconds=1)  # (not due yet)
            return waiting, dict(service.sender._alert_due)
    waiting, due = run(go())
    assert len(waiting) == 2  # (both waited for their retry time)
    assert due == {}, f"retry times kept for alerts no longer queued: {due}"
