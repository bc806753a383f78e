"""Reviewer helper-123: faults of the live path found by driving the real TelegramClient against the fake
server. Each test fails on the code as reviewed and asserts what the analysts would notice."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.store.db import iso

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, history_flooded
from .test_live import DESERTION, MASH, NEUTRAL, ROOT, SHOT, TOPOR, alerts, channels, notices, run, running


def copied_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    for f in (ROOT / "rules").glob("*.toml"):
        shutil.copy(f, rules / f.name)
    return rules


# -- 1. a week down: the backlog's week-old posts alert as news ---------------------------------------

def test_after_a_week_down_a_six_day_old_post_is_recovered_but_not_alerted_as_news(fake: FakeTelegram,
                                                                                tmp_path: Path) -> None:
    """tgwatch was down for a week (a server died on Friday, noticed the next Friday). The start-up
    read recovers every post of the week, as it should; but a post published six days ago goes to
    the chat as a fresh alert, ringing the analysts for week-old news. The same post from a channel
    watched for the first time is stored with its alert muted (older than a day: `BACKFILL_ALERTS`);
    a channel tgwatch had watched gets no such cut-off after downtime."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, NEUTRAL, date=datetime.now(timezone.utc) - timedelta(days=8))
            await eventually(lambda: service.store.count("posts") == 1)
            await service.poll()
            # (the fake's clock cannot stop for a week: the run's last complete read is set a week back)
            service.store.set_meta("live_alive_at", iso(datetime.now(timezone.utc) - timedelta(days=7)) or "")
        old = fake.publish(SHOT, DESERTION, date=datetime.now(timezone.utc) - timedelta(days=6))
        async with running(fake, tmp_path) as service:
            await eventually(lambda: service.store.known_hashes([(SHOT, old)]))
            await service.poll()
            await deliver_alone(service)
            assert any("recovered 1 post" in n for n in notices(fake))  # recovered: stored and counted
            assert alerts(fake) == [], [a.text for a in alerts(fake)]  # ... but six-day-old news rings no one
            states = {r["state"] for r in service.store.db.query("SELECT state FROM alerts")}
            assert states == {"muted"}  # stored, exportable, as a new channel's old posts are
    run(go())


# -- 2. a rule switched off while its alerts wait still alerts -----------------------------------------

def test_alerts_queued_for_a_rule_switched_off_meanwhile_are_not_sent(fake: FakeTelegram, tmp_path: Path) -> None:
    """Telegram asked for an hour's wait on sending while two desertion stories were queued; the
    analysts, drowning in that rule's false positives, switch it off (`enabled = false`, as /disable
    writes it) and tgwatch is restarted. When sending resumes the rule's queued alerts still ring the
    chat: the sender checks a mute at send time, but never whether the alert's rule is still in use."""
    rules = copied_rules(tmp_path)

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path, rules=rules) as service:
            fake.flood("SendMessageRequest", 3600)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: service.store.count("alerts") == 2)  # desertion and regiment
            await deliver_alone(service)
            assert service.sender.paused_until is not None and alerts(fake) == []
        text = (rules / "desertion.toml").read_text(encoding="utf-8")
        (rules / "desertion.toml").write_text(text.replace('severity = "high"\n', 'severity = "high"\nenabled = false\n', 1),
                                              encoding="utf-8")
        async with running(fake, tmp_path, rules=rules) as service:
            assert not next(r for r in service.rulebook.ruleset.rules if r.name == "desertion").enabled
            await service.rules_caught_up()
            await deliver_alone(service)
            await deliver_alone(service)
            shown = [a.text.split("\n")[0] for a in alerts(fake)]
            assert not [a for a in alerts(fake) if "desertion" in a.text.split("\n")[0]], shown
    run(go())


# -- 3. a restart while the start-up read is cut short loses its «recovered» count ---------------------

def test_recovered_counts_the_posts_a_cut_short_start_stored_when_a_restart_comes_before_the_read_finishes(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Four posts were published while tgwatch was down. The start-up read stores SHOT's and Mash's,
    then a long flood wait stops it at Топор, so «recovered» waits for the poll that finishes it
    (as the README says). Before that poll, tgwatch is restarted (an upgrade, systemd): the new start
    takes «the newest post stored before this start» as its line, so the posts the cut-short start
    stored are no longer counted: the chat says «recovered 1 post from 1 channel», and the other
    three are never told by any run."""
    async def go() -> None:
        fake.add_channel(SHOT, "shot_shot", "SHOT", joined=False)
        fake.add_channel(MASH, "mash", "Mash", joined=False)
        fake.add_channel(TOPOR, "topor", "Топор", joined=False)
        async with running(fake, tmp_path) as service:
            for c in (SHOT, MASH, TOPOR):
                fake.publish(c, NEUTRAL)
            await service.poll()
            assert service.store.count("posts") == 3
        fake.publish(SHOT, NEUTRAL + " (1)")
        fake.publish(SHOT, NEUTRAL + " (2)")
        fake.publish(MASH, NEUTRAL + " (3)")
        fake.publish(TOPOR, NEUTRAL + " (4)")
        with history_flooded(fake, TOPOR, 3000):
            async with running(fake, tmp_path) as service:
                assert service.store.count("posts") == 6 and not service.ingest.complete
                assert not [n for n in notices(fake) if "recovered" in n]  # told once the read finishes
        async with running(fake, tmp_path) as service:
            assert service.store.count("posts") == 7
            told = [n for n in notices(fake) if "recovered" in n]
            assert told == ["recovered 4 posts from 3 channels"], told
    run(go())



# -- 5. one alert chat the bot was removed from stops every later digest in the others -----------------

def test_a_chat_that_cannot_be_written_to_does_not_hold_back_later_digests_from_the_chat_that_works(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """Two alert chats: the analysts' group and Saved Messages ("me"). The account is removed from the
    group (CHAT_WRITE_FORBIDDEN, for days). Alerts go on reaching "me" ("one unreachable chat must not
    keep the others from the alert"), and so does the first digest; but that digest stays unsent,
    waiting for the group, and every later digest waits behind it (oldest first): from then on no
    low-severity story reaches "me" at all, until someone fixes the group."""
    from telethon.tl import types as tl

    from .test_live_sender_faults import GROUP, Clocks, digests, low_rules, refuse_sends, ticks

    async def go() -> None:
        channels(fake)
        fake.add_chat(GROUP, "Analysts")
        async with running(fake, tmp_path, rules=low_rules(tmp_path), chats=("me", -GROUP)) as service:
            clocks = Clocks(service)
            refuse_sends(fake, lambda r: isinstance(r.peer, tl.InputPeerChat), 403, "CHAT_WRITE_FORBIDDEN")
            fake.publish(SHOT, "Погода в Москве: завтра до +5, без осадков")
            await eventually(lambda: service.store.count("alerts") == 1)
            await service.sender.send_digest()
            assert len(digests(fake)) == 1  # "me" has the first digest
            fake.publish(MASH, "Погода в Новосибирске: метель, до -25, закрыты школы")
            await eventually(lambda: service.store.count("alerts") == 2)
            clocks.tick(3600)
            await service.sender.send_digest()  # the next hour's digest
            await ticks(service, clocks, 24, seconds=600)  # four hours of sender passes
            shown = [d.text for d in digests(fake)]
            assert len(shown) == 2 and "Новосибирск" in shown[1], shown
    run(go())


# -- 6. a replay into the live store takes the live service's queued alerts --------------------------

def test_a_replay_into_the_live_store_does_not_take_the_alerts_the_service_has_yet_to_send(fake: FakeTelegram,
                                                                                      tmp_path: Path) -> None:
    """The README has an analyst replay an export into the live service's database while it runs.
    `replay`'s default `--alerts terminal` prints "every queued alert" of the store and marks each
    sent: the live service's alerts waiting for the digest (a low rule's, for hours) or through a
    flood wait are printed in the analyst's terminal and never reach the chat."""
    import json

    from click.testing import CliRunner

    from bot.cli import cli

    from .test_live_sender_faults import digests, low_rules

    async def go() -> None:
        channels(fake)
        rules = low_rules(tmp_path)
        async with running(fake, tmp_path, rules=rules) as service:
            fake.publish(SHOT, "Погода в Москве: завтра до +5, без осадков")
            await eventually(lambda: service.store.count("alerts") == 1)  # low: waits for the digest
            export = tmp_path / "old.jsonl"
            export.write_text(json.dumps({"channel_id": 1700000009, "message_id": 1, "date": "2024-11-20T09:04:00Z",
                                          "text": "Курс доллара не изменился"}, ensure_ascii=False) + "\n", encoding="utf-8")
            r = CliRunner().invoke(cli, ["replay", str(export), "--db", str(tmp_path / "tgwatch.db"), "--rules", str(rules)])
            assert r.exit_code == 0, r.output
            await service.sender.send_digest()
            shown = [d.text for d in digests(fake)]
            assert len(shown) == 1 and "Погода в Москве" in shown[0], (shown, r.output)
    run(go())


def test_alerts_a_replay_into_the_live_store_queued_for_an_old_export_never_reach_the_chat(
        fake: FakeTelegram, tmp_path: Path, monkeypatch: object) -> None:
    """The other way round: replay queues its alerts in the shared `alerts` table ('queued', as the
    live service's) and hands them to its terminal after each batch. An analyst pressing Ctrl-C
    between the two ("every batch committed so far is stored") leaves them queued, and the live
    sender, which takes every queued alert as its own, posts a 2024 export's desertion story to the
    analysts' chat as a fresh HIGH alert."""
    import json

    import bot.cli.replay as replay_cli
    from click.testing import CliRunner

    from bot.cli import cli

    def interrupted(*a: object, **kw: object) -> int:
        raise KeyboardInterrupt

    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            export = tmp_path / "old.jsonl"
            export.write_text(json.dumps({"channel_id": 1700000009, "message_id": 1, "date": "2024-11-20T09:04:00Z",
                                          "text": DESERTION}, ensure_ascii=False) + "\n", encoding="utf-8")
            monkeypatch.setattr(replay_cli, "deliver_queued", interrupted)  # type: ignore[attr-defined]
            r = CliRunner().invoke(cli, ["replay", str(export), "--db", str(tmp_path / "tgwatch.db"), "--rules", str(ROOT / "rules")])
            assert r.exit_code != 0 and "interrupted" in r.output, r.output
            await deliver_alone(service)
            await deliver_alone(service)
            assert alerts(fake) == [], [a.text for a in alerts(fake)]
    run(go())
