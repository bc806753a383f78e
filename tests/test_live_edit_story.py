"""A flash edited into the full report, live: found by the live-vs-replay check on the corpus
(tests/test_live_vs_replay.py). The pipeline kept an edited post in the story its first version
started, so the report never joined the story other channels already told, and alerted again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .test_live import MASH, ROOT, SHOT, TOPOR, alerts, channels, run, running

CORDON = ("В Тбилиси полиция выставила оцепление у здания парламента и применила водометы против участников "
          "акции протеста, задержаны десятки человек")
CORDON_2 = ("Полиция в Тбилиси выставила оцепление у парламента и применила водометы против протестующих, "
            "десятки задержанных")
CORDON_3 = ("Силовики выставили оцепление у здания парламента в Тбилиси и разгоняют протестующих водометами, "
            "задержаны десятки человек")
FLASH = "⚡️Срочная новость из Грузии, подробности позже"


def test_replayed_the_report_joins_the_story_and_alerts_nothing_new(tmp_path: Path) -> None:
    """What replay makes of the three reports (the edited one as exported, in its final text):
    one story, one alert. The live test below must come to the same."""
    t0 = datetime(2024, 11, 29, 10, tzinfo=timezone.utc)
    posts = [Post(SHOT, 1, t0, CORDON), Post(MASH, 1, t0 + timedelta(minutes=5), CORDON_2),
             Post(TOPOR, 1, t0 + timedelta(minutes=10), CORDON_3, edit_date=t0 + timedelta(minutes=20))]
    store = Store(tmp_path / "replay.db")
    with Pipeline(store, Matcher(load_rules(ROOT / "rules"))) as pipeline:
        list(pipeline.process(posts))
    assert store.db.execute("SELECT count(DISTINCT story_id) FROM posts").fetchone()[0] == 1
    assert [r["rule"] for r in store.db.query("SELECT rule FROM alerts")] == ["lockdown"]
    store.close()


def test_a_flash_edited_into_the_report_of_an_alerted_event_does_not_alert_again(fake: FakeTelegram,
                                                                                tmp_path: Path) -> None:
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, CORDON)
            fake.publish(MASH, CORDON_2)
            await eventually(lambda: service.store.count("posts") == 2 and len(alerts(fake)) == 1)
            flash = fake.publish(TOPOR, FLASH)  # matches nothing: a story of its own
            await eventually(lambda: service.store.count("posts") == 3)
            fake.edit(TOPOR, flash, CORDON_3)  # the full report, as SHOT and Mash told it
            await eventually(lambda: service.store.db.execute(
                "SELECT count(*) FROM matches WHERE message_id = ? AND channel_id = ?", [flash, TOPOR]).fetchone()[0])
            await service.poll()
            stories = service.store.db.execute("SELECT count(DISTINCT story_id) FROM posts").fetchone()[0]
            assert (stories, len(alerts(fake))) == (1, 1)  # it was (2, 2): a second cordon alert
    run(go())
