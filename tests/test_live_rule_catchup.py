"""A rule added or changed while the live service runs (or while it was stopped) is matched against
the posts already stored, off the loop, as a replay would do it: exports, /stats and /rule count
them; no alert goes out for old news, but a story that goes on alerts with its next post."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .fake_telegram import FakeTelegram, eventually
from .test_chat import ANALYST, MASH, SHOT, alerts, ask, button_data, running

DRONE = "В Туапсе беспилотник атаковал нефтебазу, на месте работают пожарные"
DRONE_RULE = '''[[rule]]
name = "drones"
title = "Беспилотники"
query = "беспилотник OR дрон"
'''


def drone_matches(db: Path) -> set[tuple[int, int, int]]:
    with sqlite3.connect(db) as c:
        return set(c.execute("SELECT channel_id, message_id, current FROM matches WHERE rule = 'drones'").fetchall())


def test_a_rule_added_in_the_chat_matches_the_stored_posts_without_alerting_them(fake: FakeTelegram,
                                                                                 tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DRONE)  # no rule watches drones yet
            await eventually(lambda: service.store.count("posts") == 1)
            r = await ask(fake, "/add_rule drones беспилотник OR дрон")
            fake.press_button(ANALYST, r.id, button_data(r.reply_markup.rows[0].buttons[0]))
            await eventually(lambda: any(m.text.startswith("✅ Rule drones saved") for m in fake.chat))
            await service.rules_caught_up()
            assert {(m, cur) for _, m, cur in drone_matches(tmp_path / "t.db")} == {(1, 1)}
            assert "hits in the last 7 days: 1" in (await ask(fake, "/rule drones")).text
            assert not [a for a in alerts(fake) if "drones" in a.text]  # old news: stored muted, not sent
            fake.publish(MASH, DRONE)  # the story goes on: now it alerts, for Mash's post
            await eventually(lambda: any("drones" in a.text for a in alerts(fake)))
            (alert,) = [a for a in alerts(fake) if "drones" in a.text]
            assert alert.text.split("\n")[1].startswith("Mash · "), alert.text
    asyncio.run(go())


def test_a_rule_file_written_while_the_service_was_stopped_is_caught_up_when_it_starts(fake: FakeTelegram,
                                                                                     tmp_path: Path) -> None:
    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DRONE)
            await eventually(lambda: service.store.count("posts") == 1)
        (tmp_path / "rules" / "drones.toml").write_text(DRONE_RULE, encoding="utf-8")
        async with running(fake, tmp_path) as service:
            await service.rules_caught_up()
            assert drone_matches(tmp_path / "t.db") == {(SHOT, 1, 1)}
            assert not [a for a in alerts(fake) if "drones" in a.text]
            (tmp_path / "rules" / "drones.toml").write_text(DRONE_RULE.replace("беспилотник OR дрон", "дрон"),
                                                            encoding="utf-8")
            await service.reload_rules()  # the rule narrowed on disk: its match on the stored post is dropped
            await service.rules_caught_up()
            assert drone_matches(tmp_path / "t.db") == {(SHOT, 1, 0)}
    asyncio.run(go())



def test_a_rule_changed_and_changed_back_during_its_catch_up_ends_as_the_rule_now_is(fake: FakeTelegram, tmp_path: Path,
                                                                                     monkeypatch: Any) -> None:
    """A file saved and reverted (or /edit_rule then /undo) while the first change's catch-up runs:
    the revert stops that catch-up after a batch it has written, and its own catch-up must undo that
    batch (helper-94: the coverage still named the reverted-to version, so it matched nothing)."""
    import bot.rematch

    monkeypatch.setattr(bot.rematch, "BATCH", 1)
    armed, entered, release = threading.Event(), threading.Event(), threading.Event()
    write_batch = bot.rematch._write_batch

    def held(*args: Any) -> None:
        write_batch(*args)
        if armed.is_set() and not entered.is_set():
            entered.set()
            release.wait(60)

    monkeypatch.setattr(bot.rematch, "_write_batch", held)

    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DRONE)  # «беспилотник»
            await eventually(lambda: service.store.count("posts") == 1)
            fake.publish(MASH, "Над Белгородом сбили дрон, обломки упали во дворе")  # «дрон»
            await eventually(lambda: service.store.count("posts") == 2)
            rule = tmp_path / "rules" / "drones.toml"
            rule.write_text(DRONE_RULE.replace("беспилотник OR дрон", "беспилотник"), encoding="utf-8")
            await service.reload_rules()
            await service.rules_caught_up()
            armed.set()
            rule.write_text(DRONE_RULE.replace("беспилотник OR дрон", "дрон"), encoding="utf-8")
            await service.reload_rules()
            await eventually(entered.is_set)  # its first batch is written; the catch-up waits here
            rule.write_text(DRONE_RULE.replace("беспилотник OR дрон", "беспилотник"), encoding="utf-8")
            await service.reload_rules()
            release.set()
            await service.rules_caught_up()
            assert {cid for cid, _, cur in drone_matches(tmp_path / "t.db") if cur} == {SHOT}
    asyncio.run(go())
