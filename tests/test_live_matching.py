"""The live service matches in worker threads (a post costly for one rule takes seconds): the loop
answers meanwhile, and a rules change made meanwhile matches the post."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.match.matcher import Matcher
from bot.pipeline import Matched, Pipeline

from .fake_telegram import FakeTelegram, eventually
from .test_chat import SHOT, alerts, ask, running
from .test_live_rule_catchup import DRONE, DRONE_RULE, drone_matches

HELD = 60.0  # seconds a held match waits at most for the test to let it go (a test that failed)


class Hold:
    """Pipeline.match, the first call held in its thread until `release`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered, self.released = threading.Event(), threading.Event()
        match = Pipeline.match

        def held(pipeline: Pipeline, posts: Any, matcher: Matcher) -> Matched:
            if not self.entered.is_set():
                self.entered.set()
                self.released.wait(HELD)
            return match(pipeline, posts, matcher)

        monkeypatch.setattr(Pipeline, "match", held)


def test_a_rule_change_made_while_a_post_matches_matches_that_post(fake: FakeTelegram, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The chat answers while a post matches, and a rule that goes in use meanwhile alerts on it:
    the post is stored after the change, so it is matched with the rules in use then."""
    hold = Hold(monkeypatch)

    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, DRONE)  # no rule watches drones yet
            await eventually(hold.entered.is_set)
            assert "SHOT" in (await ask(fake, "/status")).text  # answered while the post matches
            (tmp_path / "rules" / "drones.toml").write_text(DRONE_RULE, encoding="utf-8")
            await service.reload_rules()  # the new matcher is in use
            hold.released.set()
            await eventually(lambda: [a for a in alerts(fake) if "Беспилотники" in a.text])
            await service.rules_caught_up()
        assert drone_matches(tmp_path / "t.db") == {(SHOT, 1, 1)}
    try:
        asyncio.run(go())
    finally:
        hold.released.set()

