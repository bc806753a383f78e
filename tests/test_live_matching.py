"""The live service matches in worker threads (a post costly for one rule takes seconds): the loop
answers meanwhile, a rules change made meanwhile matches the post, and the threads that match with
the rules in use (a post's batch, /test, the sender's check of a held alert) take turns."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.live.service import Service
from bot.match.matcher import Matcher
from bot.pipeline import Matched, Pipeline

from .fake_telegram import FakeTelegram, eventually
from .test_chat import DESERTION, PLAIN, SHOT, alerts, ask, running
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


def test_the_rules_in_use_match_in_one_thread_at_a_time(fake: FakeTelegram, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The matcher's word cache is emptied when full: a thread emptying it while another has read a
    post's words but not yet looked them up loses that post's match. So every match with the rules
    in use (a post, its alert's check before sending, /test and why_not) runs off the loop, holding
    the pipeline's `matching` lock."""
    seen: list[tuple[str, bool, bool]] = []  # (what, on the loop?, lock held?) of the live matcher's calls
    live: list[Service] = []

    def spy(name: str) -> None:
        real = getattr(Matcher, name)

        def spied(self: Matcher, *a: Any, **kw: Any) -> Any:
            if live and self is live[0].pipeline.matcher:
                try:
                    asyncio.get_running_loop()
                    on_loop = True
                except RuntimeError:
                    on_loop = False
                seen.append((name, on_loop, live[0].pipeline.matching.locked()))
            return real(self, *a, **kw)

        monkeypatch.setattr(Matcher, name, spied)

    spy("match")
    spy("why_not")

    async def go() -> None:
        async with running(fake, tmp_path) as service:
            live.append(service)
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: alerts(fake))
            assert "No rule matches" in (await ask(fake, "/test " + PLAIN)).text
            assert "✅" in (await ask(fake, "/test " + DESERTION)).text
    asyncio.run(go())
    assert {what for what, _, _ in seen} == {"match", "why_not"}
    assert [call for call in seen if call[1] or not call[2]] == []


def test_idle_returns_once_a_post_matched_in_its_thread_is_alerted(fake: FakeTelegram, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """`fake.idle()` (what a test waits with before it asserts nothing more came) counted loop turns
    only: a post still matching in its worker thread (slow on a loaded machine) was not waited for, and
    a test then saw the chat before its alert. Here the match is held past many more loop turns."""
    hold = Hold(monkeypatch)

    async def go() -> None:
        async with running(fake, tmp_path):
            fake.publish(SHOT, DESERTION)
            await eventually(hold.entered.is_set)
            idle = asyncio.ensure_future(fake.idle())
            try:
                for _ in range(500):  # ten times the turns idle counts: the thread still matches
                    await asyncio.sleep(0)
                returned_early = idle.done()
            finally:
                hold.released.set()  # (before the service stops: asyncio.run joins the thread)
            await idle
            assert not returned_early, "idle returned while the post was still matching in its thread"
            assert len(alerts(fake)) == 2  # desertion and the military unit it names, when idle returns
    asyncio.run(go())
