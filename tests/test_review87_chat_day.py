"""An analyst's day with the live service and the chat (helper-87's review): mutes, /status,
/rule and /story as the analysts meet them. Real TelegramClients against the offline server; each
test asserts what the analysts' chat shows."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, hold
from .test_chat import ANALYST, MASH, SHOT, Clock, alerts, ask, running
from .test_live import DESERTION, DESERTION_2


def desertion_alerts(fake: FakeTelegram) -> list[str]:
    return [m.text for m in alerts(fake) if "Дезертирство" in m.text]


def test_a_channel_muted_for_a_rule_does_not_silence_the_story_other_channels_report(fake: FakeTelegram,
                                                                                       tmp_path: Path) -> None:
    """«/mute_channel @mash 1d» (or the «channel for rule 1 d» button) is meant to quiet Mash. But
    the store keeps one alert per story and rule, aimed at the story's first post: when Mash was the
    first to report a desertion, the story's alert was dropped as muted, and SHOT's report of the
    same event a minute later only joined it: no alert at all."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            assert "muted for every rule" in (await ask(fake, "/mute_channel @mash 1d")).text
            fake.publish(MASH, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)
            await deliver_alone(service)
            assert alerts(fake) == []  # Mash is muted
            fake.publish(SHOT, DESERTION_2)
            await eventually(lambda: len(desertion_alerts(fake)) == 1)
            alert = desertion_alerts(fake)[0]
            assert alert.split("\n")[1].startswith("SHOT · ") and "Трое дезертиров" in alert, alert
            assert "Mash" in alert.split("\n")[-1]  # the story line still says who else reported it
            fake.publish(MASH, DESERTION + ", сообщает источник")  # Mash again: no alert of its own
            await eventually(lambda: service.store.count("posts") == 3)
            await deliver_alone(service)
            assert len(desertion_alerts(fake)) == 1 and len(alerts(fake)) == 2
    asyncio.run(go())


def test_a_story_that_began_while_its_rule_was_muted_alerts_when_it_goes_on_after_the_mute(fake: FakeTelegram,
                                                                                          tmp_path: Path) -> None:
    """«🔕 rule 1 h» under an alert: a desertion story that began in that hour was dropped as muted
    for good, so a new report of it two hours later, with the mute long over, alerted no one."""
    async def go() -> None:
        clock = Clock(datetime.now(timezone.utc))
        async with running(fake, tmp_path, clock) as service:
            assert "muted until" in (await ask(fake, "/mute desertion 1h")).text
            fake.publish(MASH, DESERTION)
            await eventually(lambda: len(alerts(fake)) == 1)  # regiment only
            await deliver_alone(service)
            fake.publish(SHOT, DESERTION_2)  # within the hour: still muted
            await eventually(lambda: service.store.count("posts") == 2)
            await deliver_alone(service)
            assert desertion_alerts(fake) == []
            clock.now += timedelta(hours=2)
            fake.publish(SHOT, DESERTION_2 + " Их ищет военная полиция.")
            await eventually(lambda: len(desertion_alerts(fake)) == 1)
            assert "военная полиция" in desertion_alerts(fake)[0]
    asyncio.run(go())


def test_rule_name_counts_its_hits_while_alerts_go_on(fake: FakeTelegram, tmp_path: Path, monkeypatch) -> None:
    """/rule NAME matches the rule's last 7 days of stored posts again to name the terms that brought
    them (a matcher built, each post read: 0.2 s for lockdown on the corpus's last week, more on a
    busier store), and did it on the loop: meanwhile no post was stored and no alert sent. The
    counting is held here until the alert of a post published meanwhile has reached the chat."""
    import bot.chat.commands.rules as commands_module

    h = hold(monkeypatch, commands_module, "stored_term_hits")
    entered, release, waited = h.entered, h.release, h.waited

    async def go() -> None:
        async with running(fake, tmp_path):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(desertion_alerts(fake)) == 1)
            fake.message_to_bot(ANALYST, "/rule desertion")
            await eventually(entered.is_set)  # /rule is counting now
            fake.publish(MASH, "Суд в Хабаровске приговорил дезертира к пяти годам колонии")
            await eventually(lambda: len(desertion_alerts(fake)) == 2)
            release.set()
            answer = await eventually(lambda: next((m for m in fake.chat if "hits in the last 7 days: " in m.text), None))
            assert waited == [True] and "дезертир" in answer.text
    asyncio.run(go())


def test_rules_counts_the_weeks_hits_while_alerts_go_on(fake: FakeTelegram, tmp_path: Path, monkeypatch) -> None:
    """/rules counts every rule's hits of the last 7 days as /rule does, and did it on the loop
    (helper-106 found it): on a busy store an alert waited for the count. Held here until the
    alert of a post published meanwhile has reached the chat."""
    import bot.chat.commands.rules as commands_module

    h = hold(monkeypatch, commands_module, "rule_hits")

    async def go() -> None:
        async with running(fake, tmp_path):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(desertion_alerts(fake)) == 1)
            fake.message_to_bot(ANALYST, "/rules")
            await eventually(h.entered.is_set)  # /rules is counting now
            fake.publish(MASH, "Суд в Хабаровске приговорил дезертира к пяти годам колонии")
            await eventually(lambda: len(desertion_alerts(fake)) == 2)
            h.release.set()
            answer = await eventually(lambda: next((m for m in fake.chat if "(hits in 7 days)" in m.text), None))
            assert h.waited == [True] and "desertion [high, on]: 2." in answer.text, answer.text
    asyncio.run(go())


def test_a_period_written_with_a_space_is_a_period_in_search_and_export(fake: FakeTelegram, tmp_path: Path) -> None:
    """/mute takes «2 h» and /stats «7 d», but /search read «дезертир 7 d» as three words and
    answered «No stored post has 'дезертир 7 d'»: a false «nothing found» for a post alerted an
    hour ago; /export refused «7 d» with «'7' is not a rule»."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: len(desertion_alerts(fake)) == 1)
            await deliver_alone(service)  # the post's other alert too: it must not be read as an answer
            r = await ask(fake, "/search дезертир 7 d")
            assert r.text.startswith("1 post in the last 7 d with 'дезертир'") and DESERTION in r.text, r.text
            r = await ask(fake, "/export desertion 7 d")
            assert r.text == "1 matched post of desertion, last 7 d" and r.file_name.endswith(".csv"), r.text
            assert (await ask(fake, "/search дезертир 2 x")).text.startswith("No stored post has 'дезертир 2 x'")
    asyncio.run(go())


def test_a_digest_names_the_story_of_each_item_for_story(fake: FakeTelegram, tmp_path: Path) -> None:
    """A low-priority story in the digest said «· 2 posts» and no number, so /story N, which lists
    a story's posts, could not be used on it; alerts and /stories give «#N»."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, "Погода в Москве: завтра до +5, без осадков, сообщает Гидрометцентр")
            fake.publish(MASH, "Погода в Москве: завтра до +5, без осадков, сообщает Гидрометцентр")
            await eventually(lambda: service.store.count("posts") == 2)
            await ask(fake, "/digest")
            digest = next(m.text for m in fake.chat if "📋 Digest" in m.text)
            number = service.store.db.execute("SELECT story_id FROM alerts WHERE rule = 'weather'").fetchone()[0]
            assert f"SHOT · story #{number} (2 posts): " in digest, digest
            assert f"Story #{number}: 2 posts" in (await ask(fake, f"/story {number}")).text
    asyncio.run(go())


def test_an_alert_another_channel_takes_over_during_a_send_is_not_muted_after_all(fake: FakeTelegram, tmp_path: Path,
                                                                                  monkeypatch: Any) -> None:
    """Helper-93's case: Mash, muted for regiment only, reports first; its regiment alert waits
    behind the desertion alert being sent when SHOT's report takes it over. The sender had read
    the alert before that send, and marked it muted for Mash's post: the alert was lost."""
    from bot.live.sender import Sender

    gates: list[asyncio.Event] = []  # the first send waits for the one put here
    began: list[int] = []
    deliver_one = Sender._deliver_one

    async def slow_first(self: Sender, alert_id: int, update: bool, now: datetime) -> bool:
        began.append(alert_id)
        if len(began) == 1:
            await gates[0].wait()
        return await deliver_one(self, alert_id, update, now)

    monkeypatch.setattr(Sender, "_deliver_one", slow_first)

    async def go() -> None:
        async with running(fake, tmp_path) as service:
            gates.append(asyncio.Event())
            service.store.mute("regiment", (datetime.now(timezone.utc) + timedelta(days=1)).isoformat(), channel_id=MASH)
            fake.publish(MASH, DESERTION)  # desertion and regiment alerts; the desertion one's send is held
            await eventually(lambda: began)
            fake.publish(SHOT, DESERTION_2)  # the same story: SHOT's post takes the regiment alert over
            await eventually(lambda: service.store.count("posts") == 2)
            gates[0].set()
            await eventually(lambda: any("Воинские формирования" in a.text for a in alerts(fake)))
            (regiment,) = [a for a in alerts(fake) if "Воинские формирования" in a.text]
            assert regiment.text.split("\n")[1].startswith("SHOT · "), regiment.text
    asyncio.run(go())
