"""The analysts' chat after helper-97's review: triage of the digest's low-severity items, rule
names typed with a capital, and what a day of chat use showed. Real TelegramClients against the
offline server (tests/fake_telegram.py), real SQLite files; each test asserts what the chat shows."""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path
from typing import Any

from bot.chat.commands import Commands
from bot.store.db import iso

from .fake_telegram import FakeTelegram, eventually
from .sample_store import sample  # noqa: F401
from .test_chat import ANALYST, MASH, SHOT, ask, button_data, running
from .telegram_fixtures import hold
from .test_chat_review import NOW, SVODKA, commands  # noqa: F401
from .test_chat_review import ask as tell

SYLLABLES = "ка ло ми ре ту на ви со пе ра до лю зе ба ко ни".split()
WORDS = ("элеватор пекарня аптека почта банк суд мэрия полиция водитель пассажир студент пенсионер фермер рыбак "
         "автобус трамвай поезд самолет катер грузовик такси паром кирпич бетон стекло металл уголь нефть зерно "
         "сахар молоко хлеб мясо рыба чай кофе сок бензин север юг запад восток граница долина холм лес").split()


def weather_reports(n: int, seed: int = 7) -> list[str]:
    """Distinct posts the low-severity rule («погода») matches, none a rewording of another (each
    names places of its own), so each is a story and an item of the digest."""
    rng = random.Random(seed)

    def name() -> str:
        return "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()

    return [f"Погода в {name()}{name().lower()}ске: {name()}, {name()}ов, {name()}ин, {name()}, "
            f"{' '.join(rng.sample(WORDS, 3))} {rng.randrange(10**6)}" for _ in range(n)]


def digests(fake: FakeTelegram) -> list[Any]:
    return [m for m in fake.chat if "📋 Digest" in m.text]


def rows(message: Any) -> list[list[tuple[str, bytes]]]:
    """A message's inline keyboard as (label, callback data), row by row."""
    markup = message.reply_markup
    return [[(b.text, button_data(b)) for b in row.buttons] for row in (markup.rows if markup else [])]


def numbers(message: Any) -> list[int]:
    """The item numbers a digest message shows («3. 28.11 12:04 SHOT: …»)."""
    return [int(n) for n in re.findall(r"^([0-9]+)\. ", message.text, flags=re.MULTILINE)]


async def digest_of(fake: FakeTelegram, service: Any, texts: list[str]) -> list[Any]:
    """The texts published by SHOT and Mash in turn, then the digest sent; its messages."""
    for i, text in enumerate(texts):
        fake.publish(SHOT if i % 2 else MASH, text)
    await eventually(lambda: service.store.count("alerts") == len(texts), timeout=30)
    await service.sender.send_digest()
    return digests(fake)


def test_digest_items_are_triaged_with_numbered_buttons_and_count_in_stats(fake: FakeTelegram, tmp_path: Path) -> None:
    """Low-severity alerts arrive only in the digest, which had no buttons: a low rule's precision
    was never measured and /stats said «no verdicts» for it however much the analysts read."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            [digest] = await digest_of(fake, service, weather_reports(3))
            assert numbers(digest) == [1, 2, 3], digest.text
            keyboard = rows(digest)
            assert [[label for label, _ in row] for row in keyboard] == [
                [f"{n} ✅ relevant", f"{n} ❌ false positive"] for n in (1, 2, 3)]
            # each row is its item's: pressing «2 ❌» records a false positive on the post item 2 links
            second = next(line for line in digest.text.split("\n") if line.startswith("2. "))
            [alert_id] = {int(data.split(b":")[1]) for _, data in keyboard[1]}
            channel, message = next(service.store.db.execute("SELECT channel_id, message_id FROM alerts WHERE id = ?",
                                                             [alert_id]))
            post = next(m.message for m in fake.messages(channel) if m.id == message)
            assert post.split(":", 1)[0] in second, (second, post)  # «Погода в <its own town>»
            fake.press_button(ANALYST, digest.id, keyboard[0][0][1])  # 1 ✅
            fake.press_button(ANALYST, digest.id, keyboard[1][1][1])  # 2 ❌
            await eventually(lambda: service.store.count("feedback") == 2)
            toast = fake.callback_answers[-1].message  # it names the post: a press on the wrong row shows
            assert re.fullmatch(r"Recorded: false positive for weather \((SHOT|Mash), [0-9]{2}:[0-9]{2}\)\.", toast), toast
            assert f"({'SHOT' if channel == SHOT else 'Mash'}, " in toast, toast
            stats = (await ask(fake, "/stats 7d")).text
            assert "weather: 3 matches, 3 alerts, precision 0.50 (2 verdicts)" in stats, stats
            rule = (await ask(fake, "/rule weather")).text  # where the rule is tuned, its precision too
            assert "\nalerts: 3; triage: 1 relevant, 1 false positive (precision 0.50)\n" in rule, rule
    asyncio.run(go())


def test_a_long_digest_comes_as_messages_of_20_items_each_with_its_own_buttons(fake: FakeTelegram, tmp_path: Path) -> None:
    """45 items: one keyboard of 90 buttons would be a wall to scroll on a phone (and near
    Telegram's 100); each message carries 20 items and the rows of those 20, numbered on."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            messages = await digest_of(fake, service, weather_reports(45))
            assert [numbers(m) for m in messages] == [list(range(1, 21)), list(range(21, 41)), list(range(41, 46))]
            assert messages[0].text.startswith("📋 Digest: 45 low-priority stories")
            assert messages[1].text.startswith("📋 Digest, continued: 21–40 of 45")
            for m in messages:
                keyboard = rows(m)
                assert [row[0][0].split(" ", 1)[0] for row in keyboard] == [str(n) for n in numbers(m)]
                assert all(len(data) <= 64 for row in keyboard for _, data in row)
            ids = {int(data.split(b":")[1]) for m in messages for row in rows(m) for _, data in row}
            assert len(ids) == 45  # every item has its buttons, each item's its own
    asyncio.run(go())


def test_a_digest_sent_by_the_user_account_has_no_buttons(fake: FakeTelegram, tmp_path: Path) -> None:
    """A user account cannot send inline buttons (nor answer them): its digest is as before."""
    async def go() -> None:
        async with running(fake, tmp_path, send_via="user", chats=("me",)) as service:
            [digest] = await digest_of(fake, service, weather_reports(2))
            assert numbers(digest) == [1, 2] and digest.reply_markup is None
    asyncio.run(go())


def test_add_rule_takes_a_capitalised_name_as_rule_names_are_written_and_says_so(fake: FakeTelegram,
                                                                                tmp_path: Path) -> None:
    """«/add_rule Drones …» (a phone capitalises the first word) was refused for its capital, while
    «/rule Desertion» takes any case. The name is now written in lower case, and the proposal says
    which name it will be saved under, as /edit_rule's does when the rule is named otherwise."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            r = await ask(fake, "/add_rule Drones дрон OR беспилотник")
            lines = r.text.split("\n")
            assert lines[0] == "Add rule drones in drones.toml", r.text
            assert lines[1] == "(written 'Drones': rule names are lower case, so it is drones)", r.text
            fake.press_button(ANALYST, r.id, button_data(r.reply_markup.rows[0].buttons[0]))  # Confirm
            saved = await eventually(lambda: next((m for m in fake.chat if m.text.startswith("✅ Rule")), None))
            assert saved.text == "✅ Rule drones saved to drones.toml. /undo takes it back."
            assert "name = 'drones'" in (tmp_path / "rules" / "drones.toml").read_text(encoding="utf-8")
            assert (await ask(fake, "/rule Drones")).text.startswith("drones: ")
            r = await ask(fake, "/add_rule DRONES дрон")  # the same rule, in capitals: not a second one
            assert r.text.startswith("/add_rule: rule 'drones' already exists (drones.toml:"), r.text
            r = await ask(fake, "/edit_rule Drones дрон OR беспилотник OR квадрокоптер")
            assert r.text.split("\n")[:2] == ["Change rule drones in drones.toml",
                                              "(written 'Drones': rule names are lower case, so it is drones)"], r.text
            r = await ask(fake, "/add_rule Дроны дрон")  # not a capital's matter: refused, naming what was typed
            assert r.text.startswith("/add_rule: bad rule name 'Дроны': "), r.text
            assert service.rulebook.ruleset.get("drones") is not None
    asyncio.run(go())


def test_undo_after_a_mute_takes_back_no_older_rule_change(fake: FakeTelegram, tmp_path: Path) -> None:
    """«/disable … /undo takes it back» teaches /undo; an analyst who then muted a rule and sent
    /undo to lift the mute took back instead the last rule change, made hours before (perhaps by
    somebody else): the rule silently lost its edit, the mute stayed. /undo now refuses while the
    caller's own mute is newer than the last rule change, and names the command for each."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            path = tmp_path / "rules" / "weather.toml"
            r = await ask(fake, "/undo")
            assert r.text == "/undo: no rule change to undo: /undo takes back /add_rule, /edit_rule, /enable and /disable"
            r = await ask(fake, "/edit_rule weather погода OR прогноз")
            fake.press_button(ANALYST, r.id, button_data(r.reply_markup.rows[0].buttons[0]))  # Confirm
            await eventually(lambda: fake.chat[-1].text.startswith("✅ Rule weather saved"))
            muted = await ask(fake, "/mute desertion 2h")
            assert muted.text.endswith(" /unmute desertion lifts it."), muted.text
            r = await ask(fake, "/undo")
            assert r.text.startswith("/undo: nothing was undone: your last action was a mute (desertion until "), r.text
            assert ": /unmute desertion lifts it); /undo takes back rule changes only; the last rule change " in r.text
            assert r.text.endswith(" is taken back with /undo weather"), r.text
            assert "прогноз" in path.read_text(encoding="utf-8")  # the edit stands
            assert (await ask(fake, "/undo weather")).text == "↩️ Undone: the query of weather is back to погода."
            muted = await ask(fake, "/mute_channel @mash 1d")
            assert muted.text.endswith(" /unmute_channel @mash lifts it."), muted.text
            r = await ask(fake, "/undo")
            assert "(every rule for Mash (@mash) until " in r.text and "/unmute_channel @mash lifts it" in r.text, r.text
            assert service.store.count("mutes") == 2
    asyncio.run(go())


def test_status_says_a_low_severity_alert_waits_for_the_digest_not_that_it_is_queued(fake: FakeTelegram,
                                                                                    tmp_path: Path) -> None:
    """After a weather post /status said «Alerts today: 3 (2 sent, 1 queued)» until the digest, and
    «1 digested» after: «queued» reads as an alert stuck on its way to the chat."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, "В Краснодаре задержали троих дезертиров, сбежавших из воинской части")
            fake.publish(MASH, weather_reports(1)[0])
            await eventually(lambda: service.store.count("alerts") == 3)
            await eventually(lambda: len([m for m in fake.chat if "matched:" in m.text]) == 2)
            status = (await ask(fake, "/status")).text.split("\n")
            assert status[1] == "Alerts today (since 00:00 UTC): 3 (2 sent, 1 for the digest)", status
            fake.message_to_bot(ANALYST, "/digest")  # the digest, then the answer, which says where it went
            answer = await eventually(lambda: next((m for m in fake.chat if m.text.startswith("Digest sent")), None))
            assert answer.text == "Digest sent to the alert chat: 1 low-priority story.", answer.text
            status = (await ask(fake, "/status")).text.split("\n")
            assert status[1] == "Alerts today (since 00:00 UTC): 3 (2 sent, 1 in a digest)", status
    asyncio.run(go())


def test_mute_takes_the_period_first_and_several_rules(commands: Commands) -> None:  # noqa: F811
    """«/mute 2h desertion» (the order it is said in) answered «no rule named '2h'», and «/mute
    desertion regiment 2h» «'regiment 2h' is not a duration»; «/mute_channel 1d Сводка 24»
    «'24' is not a duration». Each is now read as meant; a typo in any rule mutes none."""
    def muted(rule: str, channel: int = 0) -> bool:
        return commands.store.muted(rule, channel, iso(NOW) or "") is not None

    r = tell(commands, "/mute 2h desertion")
    assert r.html == "🔕 desertion muted until 2026-11-24 17:00 MSK. /unmute desertion lifts it.", r.html
    r = tell(commands, "/mute lockdown Regiment 1 d")
    assert r.html == "🔕 lockdown, regiment muted until 2026-11-25 15:00 MSK. /unmute NAME lifts each.", r.html
    assert muted("lockdown") and muted("regiment")
    tell(commands, "/unmute lockdown")
    tell(commands, "/unmute regiment")
    r = tell(commands, "/mute lockdown nosuch 2h")
    assert r.html.startswith("/mute: no rule named &#x27;nosuch&#x27;") and not muted("lockdown"), r.html
    r = tell(commands, "/mute_channel 1d Сводка 24")
    assert r.html == ("🔕 Сводка 24 muted for every rule until 2026-11-25 15:00 MSK. "
                      f"/unmute_channel {SVODKA} lifts it."), r.html
    assert muted("lockdown", SVODKA)
    assert tell(commands, f"/unmute_channel {SVODKA}").html == "🔔 Сводка 24 unmuted."


def test_a_deleted_digest_item_is_named_by_its_number_in_the_reply(fake: FakeTelegram, tmp_path: Path) -> None:
    """Under a digest of many numbered items, «🗑 … SHOT post from the digest of 13:00 · Weather»
    left the analyst to find which SHOT item among them: the reply now names its number."""
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            [digest] = await digest_of(fake, service, weather_reports(4))
            [alert_id] = {int(data.split(b":")[1]) for _, data in rows(digest)[2]}  # item 3
            channel, message = next(service.store.db.execute("SELECT channel_id, message_id FROM alerts WHERE id = ?",
                                                             [alert_id]))
            fake.delete(channel, [message])
            note = await eventually(lambda: next((m for m in fake.chat if m.text.startswith("🗑")), None))
            assert note.reply_to == digest.id and " post from the digest of " in note.text, note.text
            assert note.text.endswith(" (item 3) · Weather"), note.text
    asyncio.run(go())


def test_a_digest_message_too_long_for_telegram_keeps_each_items_buttons_under_its_number() -> None:
    """Twenty items from channels with long titles pass 4096 characters: the message is split,
    and each part carries the rows of the items whose numbers it shows, never another's."""
    from telethon import helpers

    from bot.alert.outbox import Alert
    from bot.live.sender import _digest_parts

    long_title = "Очень длинное название канала " * 4  # 120 characters, within Telegram's 128
    alerts = [Alert(id=100 + i, rule="weather", title="Weather", severity="low", channel_id=1700000000 + i,
                    channel_title=long_title, username=None, message_id=i + 1, link=f"https://t.me/c/{1700000000 + i}/{i + 1}",
                    date="2026-11-29T10:00:00+00:00", text=text, hits=(("погода", "Погода", 0, 6, 1.0, "form"),),
                    story_id=i + 1, story_size=1) for i, text in enumerate(weather_reports(20))]
    parts = _digest_parts(alerts, None)
    assert len(parts) >= 2 and all(len(helpers.add_surrogate(p.text)) <= 4096 for p in parts)
    for p in parts:
        shown = [int(n) for n in re.findall(r"^([0-9]+)\. ", p.text, flags=re.MULTILINE)]
        assert [n for n, _ in p.items] == shown, (shown, [n for n, _ in p.items])
    assert [a.id for p in parts for _, a in p.items] == [a.id for a in alerts]


def test_test_builds_the_disabled_rules_matcher_while_alerts_go_on(fake: FakeTelegram, tmp_path: Path,
                                                                   monkeypatch: Any) -> None:
    """/test shows what disabled rules would match too; after a /disable its first answer built a
    matcher of them (0.2 s for one shipped rule, more for more) on the loop: meanwhile no post was
    stored and no alert sent. The build is held here until a post published meanwhile has alerted."""
    import bot.chat.commands.ruletest as commands_module

    h = hold(monkeypatch, commands_module, "Matcher")
    entered, release, waited = h.entered, h.release, h.waited

    async def go() -> None:
        async with running(fake, tmp_path):
            assert (await ask(fake, "/disable lockdown")).text.startswith("⏸ lockdown disabled.")
            fake.message_to_bot(ANALYST, "/test Район оцеплен, работают саперы")
            await eventually(entered.is_set)  # /test is building the disabled rules' matcher now
            fake.publish(SHOT, "В Краснодаре задержали троих дезертиров, сбежавших из воинской части")
            await eventually(lambda: any("Дезертирство" in m.text for m in fake.chat if "matched:" in m.text))
            release.set()
            answer = await eventually(lambda: next((m for m in fake.chat if m.text.startswith("⏸ lockdown [")), None))
            assert waited == [True] and answer.text.startswith("⏸ lockdown [high] "), answer.text
    asyncio.run(go())
