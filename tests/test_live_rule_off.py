"""Alerts held back (a flood wait on sending) whose rule is switched off or edited meanwhile: not
sent when sending resumes, recorded muted with why, and not sent either once the rule is back.
Real TelegramClient against the offline server, a real SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.live.retired import NO_MATCH, RULE_OFF

from .fake_telegram import FakeTelegram, eventually
from .test_live import DESERTION, SHOT, alerts, channels, run, running
from .telegram_fixtures import deliver_alone

RULE = '''[[rule]]
name = "desertion"
title = "Desertion"
severity = "{severity}"
query = "{query}"
{extra}'''


def rules(tmp_path: Path, query: str = "дезертир", extra: str = "", severity: str = "high") -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "desertion.toml").write_text(RULE.format(query=query, extra=extra, severity=severity), encoding="utf-8")
    return folder


def held(fake: FakeTelegram, tmp_path: Path) -> None:
    """A desertion post whose alert a long flood wait holds, when the service stops."""
    async def go() -> None:
        async with running(fake, tmp_path, rules=rules(tmp_path)) as service:
            fake.flood("SendMessageRequest", 3600)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 1)
            await deliver_alone(service)  # (or the pass under way when asked: it sets the pause)
            await eventually(lambda: service.sender.paused_until is not None)
            assert alerts(fake) == []
    run(go())


async def resumed(fake: FakeTelegram, tmp_path: Path) -> list[tuple[str, str]]:
    """Start again (the flood wait over), let sending run; the alerts' (state, error)."""
    async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
        await service.rules_caught_up()
        await deliver_alone(service)
        await deliver_alone(service)
        return [(r["state"], r["error"]) for r in service.store.db.query("SELECT state, error FROM alerts")]


def test_a_held_alert_of_a_rule_switched_off_stays_unsent_when_the_rule_is_switched_on_again(
        fake: FakeTelegram, tmp_path: Path) -> None:
    channels(fake)
    held(fake, tmp_path)
    rules(tmp_path, extra="enabled = false\n")
    assert run(resumed(fake, tmp_path)) == [("muted", RULE_OFF)] and alerts(fake) == []
    rules(tmp_path)  # back on: the post it held is no news now
    assert run(resumed(fake, tmp_path)) == [("muted", RULE_OFF)] and alerts(fake) == []


def test_a_held_alert_whose_post_the_edited_rule_no_longer_matches_is_not_sent(fake: FakeTelegram, tmp_path: Path) -> None:
    channels(fake)
    held(fake, tmp_path)
    rules(tmp_path, query="самоволка")  # fixed: the post it alerted for is not what the rule is about
    assert run(resumed(fake, tmp_path)) == [("muted", NO_MATCH)] and alerts(fake) == []


def test_a_held_alert_of_a_rule_still_on_and_matching_is_sent_once_sending_resumes(fake: FakeTelegram, tmp_path: Path) -> None:
    channels(fake)
    held(fake, tmp_path)
    assert run(resumed(fake, tmp_path)) == [("sent", None)] and len(alerts(fake)) == 1


def test_a_low_alert_waiting_for_the_digest_is_left_out_of_it_once_its_rule_is_switched_off(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """/disable while the service runs, then the digest (scheduled, or /digest) before any sending pass."""
    from .test_live_sender_faults import digests

    channels(fake)

    async def go() -> None:
        async with running(fake, tmp_path, rules=rules(tmp_path, severity="low")) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 1)  # low: waits for the digest
            service.rulebook.apply(service.rulebook.plan_set_enabled("desertion", False), user_id=1, user_name="analyst")
            service.rules_changed()
            await service.rules_settled()
            await service.sender.send_digest()
            assert digests(fake) == []
            assert [(r["state"], r["error"]) for r in service.store.db.query("SELECT state, error FROM alerts")] == [
                ("muted", RULE_OFF)]
    run(go())


def test_after_the_rule_is_back_on_a_new_post_of_the_held_story_alerts_once_under_its_planned_random_id(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """The held alert's send was planned (its random_id stored) when the rule went off: the story's
    next post still alerts, as one whose alert waited for the digest does, and the old post never; under
    the random_id planned, which stands for the alert (a send that reached the chat before a crash is
    then dropped by Telegram as a copy: tests/test_review130_live.py)."""
    from .test_live import DESERTION_2, MASH

    channels(fake)
    held(fake, tmp_path)
    rules(tmp_path, extra="enabled = false\n")
    assert run(resumed(fake, tmp_path)) == [("muted", RULE_OFF)]
    rules(tmp_path)

    async def go() -> int:
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            planned = [int(r["random_id"]) for r in service.store.db.query("SELECT random_id FROM deliveries")]
            assert len(planned) == 1  # (the flood wait held the send it was planned for)
            fake.publish(MASH, DESERTION_2)
            await eventually(lambda: len(alerts(fake)) == 1)
            await deliver_alone(service)
            await fake.idle()
            return planned[0]
    planned = run(go())
    [alert] = alerts(fake)
    assert alert.text.split("\n")[1].startswith("Mash") and alert.random_id == planned


async def switched(service: Any, on: bool) -> None:
    """/disable or /enable the rule while the service runs, and wait until the service uses it."""
    service.rulebook.apply(service.rulebook.plan_set_enabled("desertion", on), user_id=1, user_name="analyst")
    service.rules_changed()
    await service.rules_settled()


def test_a_sent_alert_of_a_rule_switched_off_is_not_edited_as_its_story_grows_until_the_rule_is_back(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Switched off, the rule's alert does not follow its story (Mash); back on, the next post of the
    story (Топор) edits it to show the whole story, Mash included."""
    from .test_live import DESERTION_2, MASH, TOPOR

    channels(fake)

    async def go() -> None:
        async with running(fake, tmp_path, rules=rules(tmp_path)) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 1)
            await switched(service, False)
            fake.publish(MASH, DESERTION_2)
            await eventually(lambda: service.store.count("posts") == 2)
            await deliver_alone(service)
            await fake.idle()
            assert alerts(fake)[0].edits == [], "the alert of the rule switched off was edited"
            await switched(service, True)
            fake.publish(TOPOR, DESERTION_2 + ", пишут местные каналы")
            await eventually(lambda: bool(alerts(fake)[0].edits))
            [alert] = alerts(fake)
            assert len(alert.edits) == 1 and "also Mash" in alert.edits[-1][1] and "Топор" in alert.edits[-1][1]
    run(go())


def test_a_post_deleted_while_its_rule_is_switched_off_does_not_edit_its_alert(fake: FakeTelegram, tmp_path: Path) -> None:
    """The channel deletes the alerted post while the rule is off (`enabled = false`): the alert's update
    (🗑) is dropped, no edit, no reply; the alert stays sent."""
    channels(fake)

    async def sent() -> int:
        async with running(fake, tmp_path, rules=rules(tmp_path)):
            mid = fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 1)
            return mid
    mid = run(sent())
    rules(tmp_path, extra="enabled = false\n")

    async def go() -> None:
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            fake.delete(SHOT, [mid])
            await eventually(lambda: service.store.deleted_at(SHOT, mid) is not None)
            await deliver_alone(service)
            await fake.idle()
            assert [r["state"] for r in service.store.db.query("SELECT state FROM alerts")] == ["sent"]
    run(go())
    assert alerts(fake)[0].edits == [] and len(fake.chat) == 1, "the alert of the rule switched off was updated"


def test_a_held_alert_of_a_rule_lowered_to_low_waits_for_the_digest_and_goes_in_it(fake: FakeTelegram, tmp_path: Path) -> None:
    """A flood wait holds a high alert; the analysts lower the rule to low meanwhile: once sending
    resumes, the alert is not rung at once but goes in the digest, as low."""
    from .test_live_sender_faults import digests

    channels(fake)
    held(fake, tmp_path)
    rules(tmp_path, severity="low")

    async def go() -> None:
        async with running(fake, tmp_path, rules=tmp_path / "rules") as service:
            await service.rules_caught_up()
            await deliver_alone(service)
            await fake.idle()
            assert alerts(fake) == [], "the alert of the rule now low was sent at once"
            assert await service.sender.send_digest() == 1
            assert [r["severity"] for r in service.store.db.query("SELECT severity FROM alerts")] == ["low"]
    run(go())
    assert len(digests(fake)) == 1 and alerts(fake) == []
