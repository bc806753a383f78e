"""Review 164 of the day's change: the live sender now matches a held alert's post again in a worker
thread (`Sender._matched`), an await between its checks that the loop fills with other work. Each
test holds that thread (as test_live_matching holds a batch's) and does what an analyst or the
service may do meanwhile."""

from __future__ import annotations

import asyncio
import contextvars
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.live.sender import Sender
from bot.live.service import Service
from bot.match.matcher import Matcher
from bot.match.query import QueryError, parse

from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone
from .test_chat import DESERTION, NEUTRAL, PLAIN, SHOT, alerts, ask, running
from .test_live_rule_catchup import DRONE_RULE

HELD = 60.0  # seconds a held match waits at most for the test to let it go (a test that failed)


class Hold:
    """Sender._match, its first call (that `which` picks) held in its thread until `released` is set,
    before it takes the lock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, which: Callable[[], bool] = lambda: True) -> None:
        self.entered, self.released = threading.Event(), threading.Event()
        match = Sender._match

        def held(sender: Sender, matcher: Matcher, posts: Any) -> Any:
            if which() and not self.entered.is_set():
                self.entered.set()
                self.released.wait(HELD)
            return match(sender, matcher, posts)

        monkeypatch.setattr(Sender, "_match", held)


def spy_on_loop(monkeypatch: pytest.MonkeyPatch, live: list[Service]) -> list[bool]:
    """Whether each call of the live matcher's `match` ran on the event loop's thread."""
    seen: list[bool] = []
    real = Matcher.match

    def spied(self: Matcher, *a: Any, **kw: Any) -> Any:
        if live and self is live[0].pipeline.matcher:
            try:
                asyncio.get_running_loop()
                seen.append(True)
            except RuntimeError:
                seen.append(False)
        return real(self, *a, **kw)

    monkeypatch.setattr(Matcher, "match", spied)
    return seen


def test_a_channel_muted_while_its_alert_is_checked_gets_no_alert(fake: FakeTelegram, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """/mute_channel is answered «muted» while the sender matches a queued alert's post again in its
    thread: that alert must not go out after the answer. The pass read the mute before the await
    (in `_pass` then, whose alert loop is `Sender._send_alerts` now: muted, then `_matched`) and sent
    without reading it again."""
    hold = Hold(monkeypatch)

    async def go() -> None:
        try:
            async with running(fake, tmp_path) as service:
                fake.publish(SHOT, DESERTION)
                await eventually(hold.entered.is_set)  # the first alert's post is being matched again
                assert "muted for every rule" in (await ask(fake, "/mute_channel @shot_shot 1h")).text
                hold.released.set()
                await deliver_alone(service)
                assert alerts(fake) == []
        finally:  # (before asyncio.run waits for the held thread)
            hold.released.set()
    asyncio.run(go())


def test_a_post_edited_while_its_alert_is_checked_is_judged_as_edited(fake: FakeTelegram, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender matches a queued alert's post as stored when its check began; an edit that takes the
    matched words out is stored while that thread waits its turn (the batch of the edit held the
    `matching` lock), and `retire` then judges the edited post by the old text's matches: the alert
    goes out quoting «Курс доллара…» with its words «(edited out)», where the check used to mute it
    (`NO_MATCH`), as the live sender does for an alert it held back."""
    hold = Hold(monkeypatch)

    async def go() -> None:
        try:
            async with running(fake, tmp_path) as service:
                mid = fake.publish(SHOT, DESERTION)
                await eventually(hold.entered.is_set)  # the first alert's post is being matched again
                fake.edit(SHOT, mid, PLAIN)  # the matched words taken out
                await eventually(lambda: service.store.db.execute(
                    "SELECT text FROM posts WHERE channel_id = ? AND message_id = ?", [SHOT, mid]).fetchone()[0] == PLAIN)
                hold.released.set()
                await deliver_alone(service)
                assert [m.text for m in alerts(fake)] == []
        finally:  # (before asyncio.run waits for the held thread)
            hold.released.set()
    asyncio.run(go())


def test_a_rules_change_while_a_held_alert_is_checked_matches_off_the_loop(fake: FakeTelegram, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A rules change while the sender matches a queued alert's post in its thread: `_no_news` finds
    the matcher replaced and `retire` matches the post again on the loop, without `Pipeline.matching`
    (the loop held for a costly post, the word cache shared with the batch's thread)."""
    hold = Hold(monkeypatch)
    live: list[Service] = []
    on_loop = spy_on_loop(monkeypatch, live)

    async def go() -> None:
        try:
            async with running(fake, tmp_path) as service:
                live.append(service)
                fake.publish(SHOT, DESERTION)
                await eventually(hold.entered.is_set)
                (tmp_path / "rules" / "drones.toml").write_text(DRONE_RULE, encoding="utf-8")
                await service.reload_rules()
                await service.rules_settled()  # the new matcher is in use
                hold.released.set()
                await eventually(lambda: len(alerts(fake)) == 2)
                await deliver_alone(service)
        finally:  # (before asyncio.run waits for the held thread)
            hold.released.set()
    asyncio.run(go())
    assert on_loop and True not in on_loop


def test_a_low_alert_queued_while_the_digest_is_checked_matches_off_the_loop(fake: FakeTelegram, tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The digest matches its low alerts' posts in a thread, then reads the queued low alerts again in
    its transaction: one queued meanwhile (a post stored while the thread ran) is matched on the loop,
    without `Pipeline.matching` (`_no_news` finds no match for its id and `retire` matches it)."""
    in_digest = contextvars.ContextVar("in_digest", default=False)  # (asyncio.to_thread hands it to the thread)
    collect = Sender._collect_digest

    async def collecting(sender: Sender, now: Any) -> int:
        token = in_digest.set(True)
        try:
            return await collect(sender, now)
        finally:
            in_digest.reset(token)

    monkeypatch.setattr(Sender, "_collect_digest", collecting)
    hold = Hold(monkeypatch, in_digest.get)  # the digest's check, not a pass's
    live: list[Service] = []
    on_loop = spy_on_loop(monkeypatch, live)

    async def go() -> None:
        try:
            async with running(fake, tmp_path) as service:
                live.append(service)
                fake.publish(SHOT, NEUTRAL)
                await eventually(lambda: service.store.count("alerts") == 1)
                await deliver_alone(service)
                digest = asyncio.get_running_loop().create_task(service.sender.send_digest())
                await eventually(hold.entered.is_set)
                fake.publish(SHOT, "Синоптики: погода на выходных испортится, на Урале ураган")  # a second low alert, queued now
                await eventually(lambda: service.store.count("alerts") == 2)
                hold.released.set()
                assert await digest == 1  # the alert queued meanwhile waits: its post was not matched yet
                assert await service.sender.send_digest() == 1  # and goes out in the next digest, never lost
                assert "Урале" in [m.text for m in fake.chat if "📋 Digest" in m.text][-1]
        finally:  # (before asyncio.run waits for the held thread)
            hold.released.set()
    asyncio.run(go())
    assert on_loop and True not in on_loop


@pytest.mark.parametrize("mark", ["~00", "~000"])
def test_a_phrase_with_a_zero_written_long_is_told_a_query_that_parses(mark: str) -> None:
    """`"a b"~00` asks what `~0` asks (a typo allowance reads its digits as a number), but only the
    exact text "0" gets ~0's advice (`_after_phrase`): ~00 is told `воинская NEAR/0 часть`, itself
    the error «NEAR needs a distance from 1 to 100»; the advice for ~101 was made to parse today."""
    with pytest.raises(QueryError) as info:
        parse(f'"воинская часть"{mark}')
    message = info.value.message
    assert "cannot follow a phrase" in message, message
    advice = re.findall(r'"[^"]+"', message)[-1] if "NEAR/" not in message else message.split(" write ")[1].split(";")[0]
    parse(advice)
