"""Reviewer helper-130's reproductions: today's alert-ownership, re-arm, retire and downtime changes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from .fake_telegram import FakeTelegram, eventually
from .test_live_downtime import last_ran
from .test_live import DESERTION, DESERTION_2, MASH, SHOT, alerts, channels, run, running
from .telegram_fixtures import SleepRecorder, deliver_alone


def test_an_edit_of_a_days_old_recovered_post_does_not_alert_its_old_story_as_news(fake: FakeTelegram,
                                                                                   tmp_path: Path) -> None:
    """Down a week: SHOT reported the desertion six days ago, Mash the same story an hour later; the
    start-up read stores both with the story's alert muted (too old to be news). Later Mash fixes a
    typo in its six-day-old post: the chat must still get no alert about the week-old desertion
    (an edit is not a new report). Reviewed, the edit re-aimed the muted alert at Mash's post
    (`rearm_muted` could not tell a downtime's age mute from a channel mute) and it rang as news."""
    week_ago = datetime.now(timezone.utc) - timedelta(days=7)

    async def go() -> None:
        channels(fake, mash_joined=False)
        await last_ran(fake, tmp_path, week_ago)
        now = datetime.now(timezone.utc)
        fake.publish(SHOT, DESERTION, date=now - timedelta(days=6))
        mash_id = fake.publish(MASH, DESERTION_2, date=now - timedelta(days=6) + timedelta(hours=1))
        async with running(fake, tmp_path) as service:
            await eventually(lambda: service.store.count("posts") == 5)
            await service.poll()
            await deliver_alone(service)
            assert [a.text for a in alerts(fake)] == []
            rows = list(service.store.db.query("SELECT state, channel_id FROM alerts"))
            assert rows and all(r["state"] == "muted" and r["channel_id"] == SHOT for r in rows), rows
            stories = {r["story_id"] for r in service.store.db.query(
                "SELECT story_id FROM posts WHERE channel_id IN (?, ?) AND text LIKE '%дезертиров%'", [SHOT, MASH])}
            assert len(stories) == 1, stories  # one story, its alerts aimed at SHOT's post
            fake.edit(MASH, mash_id, DESERTION_2 + ".", push=False)
            await service.poll()
            await deliver_alone(service)
            assert [a.text for a in alerts(fake)] == [], "a six-day-old story alerted as news after an edit"
    run(go())


def test_an_alert_that_reached_the_chat_before_a_crash_is_not_sent_again_after_a_rule_off_and_on(
        fake: FakeTelegram, tmp_path: Path, telethon_sleeps: SleepRecorder) -> None:
    """Mash's desertion post alerts; the process is killed after Telegram took the message and before
    the store recorded it (its random_id stored, sent_at empty: the restart's retry would be refused
    as a duplicate). Before the restart the analyst switches the rule off: the start mutes the alert
    as «rule switched off». The rule comes back on and SHOT reports the same story: the chat already
    has the story's alert, so it must not get a second one. Reviewed, the re-arm took the planned
    random_id for an unsent one, dropped it, and the story was alerted a second time."""
    from .test_live import killed_after_a_send
    from .test_live_rule_off import rules

    async def go() -> None:
        await killed_after_a_send(fake, tmp_path, rules=rules(tmp_path))
        rules(tmp_path, extra="enabled = false\n")
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            await service.rules_caught_up()
            await deliver_alone(service)
            await deliver_alone(service)
            muted = [(r["state"], r["error"]) for r in service.store.db.query("SELECT state, error FROM alerts")]
            assert muted == [("muted", "rule switched off")], muted  # (it is in the chat, though)
        rules(tmp_path)
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            await service.rules_caught_up()
            fake.publish(SHOT, DESERTION_2)
            await eventually(lambda: service.store.count("posts") == 2)
            await deliver_alone(service)
            await deliver_alone(service)
            await fake.idle()
        rung = [a.text for a in alerts(fake)]
        assert len(rung) == 1, f"the chat got the same story's alert {len(rung)} times: {rung}"
    run(go())
