"""Properties of the buttons under alerts, digests and rule changes, over the real Commands, a real
store file (the sample, built by the pipeline, with an alert deleted, a story deleted and a post
pruned) and a copy of the shipped rules: any callback data pressed by an analyst (random bytes, a
button's data cut short, a known kind with a wrong, huge or deleted id, bytes that are not UTF-8)
gets an answer, never an exception; a press whose answer does not say it did something changed no
row of the store and no rule file on disk; a mute's answer offers an /unmute that lifts it."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from telethon.helpers import add_surrogate

from bot.alert.html import MAX_LENGTH, to_parts
from bot.chat.commands import Caller, Commands, Reply

from .fake_telegram import BUTTON_DATA_MAX
from .sample_store import ROOT, Sample, built, sample  # noqa: F401
from .test_chat_props import snapshot
from .test_review122_inputs import BROKEN, chat

TOAST_MAX = 200  # characters of a button's popup answer Telegram shows
KINDS = ["rel", "fp", "mr", "mc", "st", "ok", "no"]
GONE_ALERT, GONE_STORY, PRUNED_POST, RETIRED = 3, 5, 7, 9  # (alert ids in the sample; see `commands`)


@pytest.fixture(scope="module")
def commands(built: Sample, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Commands]:  # noqa: F811
    """The commands over one copy of the sample store and the shipped rules, for the whole module:
    alert GONE_ALERT deleted, the story of alert GONE_STORY deleted, the post of PRUNED_POST pruned,
    alert RETIRED of a rule since removed from the rules."""
    folder = tmp_path_factory.mktemp("buttons")
    rules, db = folder / "rules", folder / "tg.db"
    shutil.copytree(ROOT / "rules", rules)
    shutil.copyfile(built.db, db)
    con = sqlite3.connect(db)
    with con:
        con.execute("DELETE FROM alerts WHERE id = ?", [GONE_ALERT])
        con.execute("DELETE FROM stories WHERE id = (SELECT story_id FROM alerts WHERE id = ?)", [GONE_STORY])
        con.execute("DELETE FROM posts WHERE (channel_id, message_id) = (SELECT channel_id, message_id FROM alerts "
                    "WHERE id = ?)", [PRUNED_POST])
        con.execute("UPDATE alerts SET rule = 'retired' WHERE id = ?", [RETIRED])
    con.close()
    commands = chat(db, rules)
    yield commands
    commands.store.close()


def proposals(commands: Commands) -> list[str]:
    """The tokens of the rule changes proposed and not answered (two at least: more are proposed, a
    new rule each), then those of a few answered ones: what Confirm and Cancel buttons carry."""
    while len(commands.pending) < 2:
        n = len(commands.pending) + len(commands.answered)
        reply = asyncio.run(commands.handle(f"/add_rule drones{n} беспилотник", Caller(1, "Analyst")))
        assert reply is not None and reply.buttons, reply
    return [*commands.pending, *list(commands.answered)[-3:]]


def ids() -> st.SearchStrategy[str]:
    """What follows a button's «kind:»: an alert id stored or deleted, a huge number, or anything."""
    return st.one_of(st.integers(0, 30).map(str), st.sampled_from([str(GONE_ALERT), str(GONE_STORY), str(PRUNED_POST), str(RETIRED)]),
                     st.integers(2**63 - 3, 2**70).map(str), st.integers(-5, -1).map(str),
                     st.sampled_from(["", " 1", "1 ", "01", "1_0", "١", "１", "1e3", "0x1", "9" * 40, "1:2", "\n1"]),
                     st.text(max_size=12))


Press = Callable[[list[str]], bytes]  # callback data, given the rule-change tokens of the moment


def data() -> st.SearchStrategy[Press]:
    """Callback data as Telegram may carry it: a button's data (right or wrong id), cut short, with
    bytes that are not UTF-8 put in, or random bytes; at most 64 bytes, as Telegram allows. A Confirm
    or Cancel token is picked by its place among the tokens of the moment (the draw stays the same)."""
    token: st.SearchStrategy[Callable[[list[str]], str]] = st.one_of(
        st.integers(0, 4).map(lambda i: lambda ts: ts[i % len(ts)]),
        st.integers(0, 4).map(lambda i: lambda ts: ts[i % len(ts)][:-1]),
        st.text(max_size=10).map(lambda t: lambda ts: t))
    alert = st.tuples(st.sampled_from(KINDS[:5]), ids()).map(lambda t: lambda ts: f"{t[0]}:{t[1]}".encode())
    change = st.tuples(st.sampled_from(KINDS[5:]), token).map(lambda t: lambda ts: f"{t[0]}:{t[1](ts)}".encode())
    valid: st.SearchStrategy[Press] = st.one_of(alert, change)
    cut = st.tuples(valid, st.integers(0, 20)).map(lambda t: lambda ts: t[0](ts)[:t[1]])
    spoilt = st.tuples(valid, st.integers(0, 20), st.binary(min_size=1, max_size=3)).map(
        lambda t: lambda ts: t[0](ts)[:t[1]] + bytes(b | 0x80 for b in t[2]) + t[0](ts)[t[1]:])
    raw = st.binary(max_size=BUTTON_DATA_MAX).map(lambda b: lambda ts: b)
    return st.one_of(valid, valid, cut, spoilt, raw)  # (a right button's data twice as often)


def did(reply: Reply) -> bool:
    """The answer says the press did something: a verdict recorded, a mute set, a rule change saved."""
    return (reply.toast or "").startswith("Recorded: ") or reply.html.startswith(("🔕 ", "✅ Rule "))


@settings(max_examples=400, derandomize=True, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_any_button_data_gets_an_answer_and_a_refused_press_changes_nothing(commands: Commands, data_: st.DataObject) -> None:
    pressed = data_.draw(data())(proposals(commands))[:BUTTON_DATA_MAX]
    note(f"pressed {pressed!r}")
    rules = commands.rulebook.folder
    before = snapshot(commands.config.db, rules)
    reply = asyncio.run(commands.press(pressed, Caller(1, "Analyst")))
    try:
        assert isinstance(reply, Reply), pressed
        assert reply.toast or reply.html.strip() or reply.file is not None, f"no answer to {pressed!r}"
        assert len(add_surrogate(reply.toast or "")) <= TOAST_MAX, f"{pressed!r}: toast {reply.toast!r}"
        assert all(len(add_surrogate(t)) <= MAX_LENGTH for t, _ in to_parts(reply.html)), pressed
        if not did(reply):
            assert snapshot(commands.config.db, rules) == before, f"{pressed!r} answered {reply}, yet changed"
        if reply.html.startswith("🔕 "):
            lifted_by_offered_unmute(commands, reply)
    finally:
        reply.discard()


def lifted_by_offered_unmute(commands: Commands, reply: Reply) -> None:
    """The /unmute a mute's answer offers is done, not refused, and leaves no mute of that rule."""
    offered = re.search(r"/unmute (\S+) lifts it", reply.html)
    assert offered is not None, reply.html
    unmuted = asyncio.run(commands.handle(f"/unmute {html.unescape(offered[1])}", Caller(1, "Analyst")))
    assert unmuted is not None and unmuted.html.startswith("🔔 "), (reply.html, unmuted)
    assert not commands.store.db.execute("SELECT 1 FROM mutes WHERE rule = ?", [html.unescape(offered[1])]).fetchall()


@pytest.mark.parametrize("rule, why", [("retired", "is no longer in the rules"), ("drones", "is out of use for an error")])
def test_the_mute_buttons_under_an_alert_of_a_rule_gone_mute_nothing(sample: Sample, tmp_path: Path,  # noqa: F811
                                                                     rule: str, why: str) -> None:
    """An alert still in the chat whose rule was since removed from the rules, or is out of use for
    an error in its query: its mute buttons would mute a rule that no /unmute can name; they say
    why and change nothing."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "drones.toml").write_text(BROKEN, encoding="utf-8")
    con = sqlite3.connect(sample.db)
    with con:
        con.execute("UPDATE alerts SET rule = ? WHERE id = 1", [rule])
    con.close()
    commands = chat(sample.db, rules)
    try:
        before = snapshot(sample.db, rules)
        for data in (b"mr:1", b"mc:1"):
            reply = asyncio.run(commands.press(data, Caller(1, "Analyst")))
            assert reply.toast == f"Rule {rule} {why}: nothing to mute.", (data, reply)
            assert not reply.html
        assert snapshot(sample.db, rules) == before
    finally:
        commands.store.close()
