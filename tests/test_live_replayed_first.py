"""A post of a watched channel that a replay into the live store stored before the service read it
(the analyst replays a Desktop export of the last hour while `tgwatch run` serves the store): read
fresh by the service, it still reaches the chat, once, in full; one the service mutes as old (a long
downtime's) does not. Real TelegramClient against the offline server, `tgwatch replay` as run."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner
from telethon.tl import types as tl

from bot.cli import cli

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone
from .test_live import DESERTION, MASH, NEUTRAL, ROOT, alerts, channels, run, running


def replay(tmp_path: Path, fake: FakeTelegram, ids: list[int], *, alerts_to: str = "none") -> str:
    """`tgwatch replay` of these posts of Mash, as its Desktop export has them, into the live store."""
    export = tmp_path / f"mash-{ids[0]}.jsonl"
    by_id = {m.id: m for m in fake.messages(MASH)}
    export.write_text("".join(json.dumps({"channel_id": MASH, "message_id": i, "channel_title": "Mash",
                                          "channel_username": "mash", "text": by_id[i].message,
                                          "date": by_id[i].date.isoformat()}, ensure_ascii=False) + "\n"
                              for i in ids), encoding="utf-8")
    r = CliRunner().invoke(cli, ["replay", str(export), "--db", str(tmp_path / "tgwatch.db"),
                                 "--rules", str(ROOT / "rules"), "--alerts", alerts_to])
    assert r.exit_code == 0, r.output
    return r.output


def test_a_post_a_replay_printed_first_reaches_the_chat_once_and_the_terminal_never_again(
        fake: FakeTelegram, tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake, mash_joined=False)
        async with running(fake, tmp_path) as service:
            fake.publish(MASH, NEUTRAL)
            await service.poll()  # Mash read once: its next posts are news
            mid = fake.publish(MASH, DESERTION, push=False)
            assert "Mash" in replay(tmp_path, fake, [mid], alerts_to="terminal")  # the analyst saw it
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) == 2  # desertion and the military unit it names, once each
            assert all(f"https://t.me/mash/{mid}" in [getattr(e, "url", None) for e in a.entities] for a in alerts(fake))
            await service.poll()  # read again (the look-back): no news now
            await deliver_alone(service)
            assert len(alerts(fake)) == 2
            assert "дезертир" not in replay(tmp_path, fake, [mid], alerts_to="terminal").lower()
    run(go())


def test_a_replay_past_the_look_back_leaves_every_post_it_stored_for_the_service_to_read(
        fake: FakeTelegram, tmp_path: Path) -> None:
    """The export runs further than the poll reads back (`edit_lookback`, 5 here): the replay does not
    move the service's mark, so the poll reads the report as news however many posts followed it."""
    async def go() -> None:
        channels(fake, mash_joined=False)
        async with running(fake, tmp_path) as service:
            fake.publish(MASH, NEUTRAL)
            await service.poll()
            ids = [fake.publish(MASH, DESERTION, push=False)]
            ids += [fake.publish(MASH, f"{NEUTRAL}, выпуск {n}", push=False) for n in range(8)]
            replay(tmp_path, fake, ids)
            await service.poll()
            await deliver_alone(service)
            assert len(alerts(fake)) == 2
    run(go())


def test_a_pushed_post_a_replay_stored_first_alerts_at_once(fake: FakeTelegram, tmp_path: Path) -> None:
    """Mash is joined: Telegram pushes its post after the replay stored it (the push came late): the
    chat gets the alert without waiting for the next poll."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            mid = fake.publish(MASH, DESERTION, push=False)
            channel = fake._channels[MASH]
            pts = channel.pts
            replay(tmp_path, fake, [mid])
            fake._push_channel(MASH, [tl.UpdateNewChannelMessage(channel.messages[mid], pts, 1)])
            await eventually(lambda: service.store.db.execute(
                "SELECT count(*) FROM alerts WHERE owner = 'live'").fetchone()[0] == 2)
            await deliver_alone(service)
            assert len(alerts(fake)) == 2
    run(go())


def test_a_long_downtimes_post_a_replay_stored_first_stays_out_of_the_chat(fake: FakeTelegram, tmp_path: Path) -> None:
    """The service was down three days; the analyst replayed the export meanwhile. The posts past the
    service's mark are a long downtime's: muted as old, whoever stored them."""
    async def go() -> None:
        channels(fake, mash_joined=False)
        async with running(fake, tmp_path) as service:
            fake.publish(MASH, NEUTRAL, date=datetime.now(timezone.utc) - timedelta(days=3))
            await service.poll()
        mid = fake.publish(MASH, DESERTION, date=datetime.now(timezone.utc) - timedelta(days=2), push=False)
        replay(tmp_path, fake, [mid])
        async with running(fake, tmp_path) as service:
            await service.poll()
            await deliver_alone(service)
            assert alerts(fake) == []
    run(go())
