"""Review 157: resource bounds. Each test names an input an analyst or a channel gives and asserts
the work or memory it costs stays bounded, or that the live loop is not held while it is spent.
Costs are counted (calls, occurrences, stored hits, threads), never timed."""

from __future__ import annotations

import asyncio
import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from bot.match import matcher as matcher_module
from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.source.jsonl import post_from_dict
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .test_chat import PLAIN, SHOT, alerts, ask, run, running

WORDS = "дрон ракета полк взрыв обстрел атака удар город село мост".split()


def _on_loop_thread() -> bool:
    """Is the caller running on a thread whose asyncio event loop is running (the live loop)?"""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@pytest.fixture
def match_threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """(what, on the loop?) for every Matcher.match / why_not call while the test runs."""
    seen: list[tuple[str, bool]] = []
    match, why_not = Matcher.match, Matcher.why_not

    def spy_match(self: Matcher, *a: Any, **kw: Any) -> Any:
        seen.append(("match", _on_loop_thread()))
        return match(self, *a, **kw)

    def spy_why_not(self: Matcher, *a: Any, **kw: Any) -> Any:
        seen.append(("why_not", _on_loop_thread()))
        return why_not(self, *a, **kw)

    monkeypatch.setattr(Matcher, "match", spy_match)
    monkeypatch.setattr(Matcher, "why_not", spy_why_not)
    return seen


def test_chat_test_matches_off_the_event_loop(fake: FakeTelegram, tmp_path: Path,
                                              match_threads: list[tuple[str, bool]]) -> None:
    """/test TEXT runs Matcher.match and why_not on the event loop itself (cmd_test calls them
    directly, unlike /add_rule's back-test, which goes through _off_loop): a costly rule (a NEAR
    chain: seconds per post) and a 4,096-character /test text hold every post, alert and command
    meanwhile. It should match in a worker thread as the back-test does."""
    async def go() -> None:
        async with running(fake, tmp_path):
            match_threads.clear()
            r = await ask(fake, "/test " + " ".join([PLAIN] * 60))  # matched by none: why_not runs too
            assert "No rule matches" in r.text
    run(go())
    assert match_threads, "the /test never reached the matcher"
    on_loop = [what for what, loop in match_threads if loop]
    assert not on_loop, f"/test ran {on_loop} on the event loop: a slow rule stalls the live service"


def test_a_channel_post_is_matched_off_the_event_loop(fake: FakeTelegram, tmp_path: Path,
                                                      match_threads: list[tuple[str, bool]]) -> None:
    """A channel's post goes through Pipeline.process synchronously inside LiveIngest._process
    (bot/live/ingest.py): its matching runs on the event loop, so one post that is costly for one
    rule (a 32-term NEAR chain: ~24 s) freezes the chat, the sender and the other channels' posts
    for that long. Matching should run in the loop's executor."""
    async def go() -> None:
        async with running(fake, tmp_path):
            match_threads.clear()
            fake.publish(SHOT, "В Краснодаре задержали троих дезертиров, сбежавших из воинской части")
            await eventually(lambda: alerts(fake))
    run(go())
    assert any(what == "match" for what, _ in match_threads), "the post never reached the matcher"
    on_loop = [what for what, loop in match_threads if loop]
    assert not on_loop, f"the live post was matched on the event loop ({len(on_loop)} calls)"


def _chain(n: int) -> str:
    return " NEAR/3 ".join(WORDS[i % len(WORDS)] for i in range(n))


@pytest.fixture
def near_output(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The occurrences every NEAR evaluation yields, summed (index 0): the matcher's work."""
    total = [0]
    near = matcher_module._near

    def counted(*a: Any) -> Any:
        out = near(*a)
        total[0] += len(out or ())
        return out

    monkeypatch.setattr(matcher_module, "_near", counted)
    return total


def test_a_near_chain_does_not_nearly_double_its_work_with_each_term(near_output: list[int]) -> None:
    """`a NEAR/3 b NEAR/3 c …` (left-nested: ((a NEAR b) NEAR c) …) on one post where the words
    repeat: each NEAR pairs every occurrence with its farthest partners but never folds pairs
    that span the same words, so the occurrences nearly double with each term (40 per word, 400
    words: 8 terms 319, 16 terms 28,894; a 32-term rule takes 24 s a post). Doubling the rule's
    length may multiply the work by a few (8 allows cubic growth), not by 90. (Folding equal
    spans alone gives 6,149: still 19 times.)"""
    text = " ".join(WORDS * 40)
    costs = {}
    for n in (8, 16):
        near_output[0] = 0
        found = Matcher([Rule.from_query("chain", _chain(n))]).match(text)
        assert found, "the chain occurs in the post"
        costs[n] = near_output[0]
    assert costs[16] <= 8 * costs[8], f"occurrences: {costs} (8 terms against 16)"


def test_a_near_chain_on_one_telegram_post_holds_bounded_memory() -> None:
    """The same fault in memory: every occurrence carries all its hits, so a 15-term chain on a
    4,096-character post of 650 words peaks at 6 to 7 MiB (8 terms: 0.4; 16: 12.6; 18: 52 MiB)."""
    text = " ".join(WORDS * 70)[:4096]
    m = Matcher([Rule.from_query("chain", _chain(15))])
    tracemalloc.start()
    try:
        found = m.match(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found
    assert peak < 2 << 20, f"{peak / 2**20:.0f} MiB to match one 4,096-character post"


def test_one_enormous_post_does_not_store_a_hit_per_word(tmp_path: Path) -> None:
    """A JSON Lines line is read whole whatever its length (no limit, unlike Telegram's 4,096
    characters), and every matched word is kept as a hit: one 47 MB line of «дезертир сбежал»
    took `replay` 89 s and 2.4 GB and stored a 90 MB `matches.hits` cell for that one post (export
    and alerts read it back). A post's stored hits should stay bounded (a Telegram-sized post
    holds at most ~2,000 words)."""
    text = "дезертир сбежал " * 15_000  # 240,000 characters
    store = Store(tmp_path / "t.db")
    try:
        pipeline = Pipeline(store, Matcher([Rule.from_query("desertion", "дезертир")]), alert_state="muted", workers=0)
        post = post_from_dict({"channel_id": 5, "message_id": 1, "date": "2024-11-20T09:00:00Z", "text": text})
        list(pipeline.process([post]))
    finally:
        store.close()
    db = sqlite3.connect(tmp_path / "t.db")
    try:
        (size,) = db.execute("SELECT length(hits) FROM matches WHERE message_id = 1").fetchone()
    finally:
        db.close()
    assert size < 256 << 10, f"one post's stored hits: {size:,} bytes"


class _CountingText(str):
    """A rule file's text that counts the characters `count` and `rfind` look through."""

    scanned = 0

    def count(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        s, e, _ = slice(start, end).indices(len(self))
        _CountingText.scanned += max(0, e - s)
        return super().count(sub, s, e)

    def rfind(self, sub: str, start: Any = None, end: Any = None) -> int:  # type: ignore[override]
        s, e, _ = slice(start, end).indices(len(self))
        found = super().rfind(sub, s, e)
        _CountingText.scanned += e - max(found, s)
        return found


def test_rules_check_of_a_big_rule_file_reads_it_a_bounded_number_of_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`rules check` finds each rule's header by computing the line of every header before it,
    each by counting newlines from the file's start (bot/match/check.py: `loc.line_col(h)` inside
    a scan of `loc.headers`): cubic in the rules. One 200 KB file of 500 rules with examples took
    9.0 s (7.1 s of it there); 2,000 rules (830 KB) did not finish in 300 s. A file a team grows
    for a year should be checked in time proportional to its size."""
    from bot.match import rules as rules_module
    from bot.match.check import check_examples
    from bot.match.rules import load_rules

    body = []
    for i in range(200):
        a, b = WORDS[i % 10], WORDS[(i + 3) % 10]
        body.append(f'[[rule]]\nname = "r{i}"\nquery = "{a} NEAR/3 {b}"\nnotes = """{"x" * 300}"""\n'
                    f'should_match = ["{a} {b}"]\n')
    path = tmp_path / "team.toml"
    path.write_text("\n".join(body), encoding="utf-8")
    ruleset = load_rules(tmp_path)
    assert len(ruleset.rules) == 200 and not ruleset.errors
    init = rules_module._Locator.__init__

    def counting(self: Any, text: str) -> None:
        init(self, _CountingText(text))

    monkeypatch.setattr(rules_module._Locator, "__init__", counting)
    _CountingText.scanned = 0
    assert check_examples(ruleset) == []
    size = path.stat().st_size
    assert _CountingText.scanned <= 20 * size, (
        f"{_CountingText.scanned:,} characters looked through to check a {size:,}-character file")


DEEP = 3000  # levels of TOML arrays: tomllib recurses per level and hits Python's limit


def test_a_rule_file_nested_too_deeply_is_an_error_at_its_line_not_a_traceback(tmp_path: Path) -> None:
    """tomllib recurses once per nested array or inline table; a rule file with `notes = [[[…]]]`
    3,000 deep (a script's runaway output, a pasted blob) makes `rules check` (and `replay`, `run`'s
    reload: parse_rules_text promises "errors are collected, never raised") end in a RecursionError
    traceback instead of one `file:line:col: …` line."""
    from click.testing import CliRunner

    from bot.cli import cli
    from bot.match.rules import parse_rules_text

    text = '[[rule]]\nname = "x"\nquery = "дрон"\nnotes = ' + "[" * DEEP + "]" * DEEP + "\n"
    (tmp_path / "deep.toml").write_text(text, encoding="utf-8")
    try:
        ruleset = parse_rules_text(text, "deep.toml")
    except RecursionError:
        pytest.fail("parse_rules_text raised RecursionError for a deeply nested value")
    assert [e.line for e in ruleset.errors] == [4]
    result = CliRunner().invoke(cli, ["rules", "check", str(tmp_path)])
    assert "Traceback" not in result.output and not isinstance(result.exception, RecursionError)
    assert result.exit_code == 1 and f"{tmp_path / 'deep.toml'}:4:" in result.output


def test_a_config_nested_too_deeply_is_a_config_error(tmp_path: Path) -> None:
    """The same in config.toml: load_config lets the RecursionError out (every command given
    `-c` prints a traceback) where any other TOML error is a ConfigError naming the file and line."""
    from bot.config import ConfigError, load_config

    p = tmp_path / "config.toml"
    p.write_text("[channels]\nwatch = " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}:")
