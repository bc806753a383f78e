"""Properties of the analysts' chat commands over the real Commands, a real store file (the
sample, built by the pipeline) and a copy of the shipped rules: any arguments after any command
get one non-empty answer Telegram accepts (split at 4096 as the bot sends it), never an
exception; a refused command changes no row of the store and no rule file on disk."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telethon.helpers import add_surrogate

from bot.alert.html import MAX_LENGTH, to_parts
from bot.chat.commands import Caller, Commands, Reply
from bot.match.edit import RuleBook
from bot.store.db import Store

from .sample_store import ROOT, Sample, built, shipped_matcher  # noqa: F401
from .test_live import config

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
NAMES = sorted(n[4:] for n in dir(Commands) if n.startswith("cmd_"))
WRITERS = {"enable", "disable", "mute", "unmute", "mute_channel", "unmute_channel", "undo"}  # the rest only read
WORDS = st.sampled_from([
    "desertion", "Lockdown", "regiment", "nosuch", "7d", "7 d", "0d", "1h", "30m", "52w", "53w", "-1d", "1.5h",
    "csv", "xlsx", "@Kuban_Online", "t.me/Kuban_Online/501", "t.me/c/1117628569/48217", "Кубань Онлайн", "#1", "1",
    "-1", "0", "9" * 30, "-" + "9" * 30, "1e400", "nan", "дезертир", "«дезертир»", '"воинская часть"', "'", '"',
    "(", ")", "AND", "OR", "NOT", "NEAR/3", "NEAR/99999999999", "~2", "*", "=ВСУ", "\u200f", "\u202e", "\u2066",
    "\u200b", "\u00a0", "🪖", "🇺🇦", "<b>", "</a>", "&amp;", "&", "**bold**", "__x__", "`code`", "[a](http://x)",
    "\n", "\r\n", "\t", "\x00", "\ufeff", "𗀀", "\U000e0001", "\ud7ff", "a" * 5000, "дезертир " * 300,
    "٣d", "１h", "2H", "1min", "0001d", "365d", "366d", "8760h", "525601m", "99999999999w", "desertion\u200f",
    "\u200fdesertion", "DESERTION", "1117628569", "-1001117628569", "@", "@@x", "t.me/+AbCdEf", "/mute",
])
RULES = st.sampled_from(["desertion", "Lockdown", "regiment", "nosuch", "DESERTION", "desertion\u200f", "@Kuban_Online",
                         "Кубань Онлайн", "1", "#1"])
SPANS = st.one_of(st.sampled_from(["2h", "7 d", "1min", "52w", "3 H"]),
                  st.sampled_from(["0d", "-1d", "1.5h", "366d", "٣d", "99999999999w", "1e400", "2x"]))
# What a command takes, in either order (names or channels and a period), with a mistake or not; or anything
def shaped(names: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.lists(names, min_size=1, max_size=3), SPANS, st.booleans()).map(
        lambda t: " ".join([t[1], *t[0]] if t[2] else [*t[0], t[1]]))


SHAPED = shaped(st.one_of(RULES, WORDS))
ARGS = st.one_of(SHAPED, st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=6).map(" ".join))


def snapshot(db: Path, rules: Path) -> tuple[dict[str, list[tuple[object, ...]]], dict[str, bytes]]:
    """Every row of every table of the store file, and every rule file's bytes."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    finally:
        con.close()
    return rows, {str(p.relative_to(rules)): p.read_bytes() for p in sorted(rules.rglob("*")) if p.is_file()}


def refused(reply: Reply, name: str) -> bool:
    """An answer saying the command was not done: «/mute: ...» (a mistake) or «/mute not done: ...»."""
    return reply.html.startswith((f"/{name}: ", f"/{name} not done"))


@pytest.fixture(scope="module")
def chat(built: Sample, tmp_path_factory: pytest.TempPathFactory) -> Commands:  # noqa: F811
    """The commands over one copy of the sample store and the shipped rules, for the whole module."""
    folder = tmp_path_factory.mktemp("chat")
    rules, db = folder / "rules", folder / "tg.db"
    shutil.copytree(ROOT / "rules", rules)
    shutil.copyfile(built.db, db)
    store = Store(db)

    async def digest(_now: datetime) -> int:
        return 0

    return Commands(store, RuleBook(rules, store), config(folder, db=db, rules=rules), matcher=shipped_matcher,
                    on_rules_changed=lambda: None, status=lambda _now: "watching", digest=digest, clock=lambda: NOW)


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(NAMES), args=ARGS, case=st.sampled_from([str, str.upper, str.title]))
def test_any_arguments_get_one_answer_and_a_refusal_changes_nothing(chat: Commands, name: str, args: str,
                                                                    case: object) -> None:
    answered(chat, f"/{case(name)} {args}", name)  # type: ignore[operator]


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(WRITERS)), args=shaped(RULES))
def test_a_command_that_would_change_something_changes_nothing_when_refused(chat: Commands, name: str, args: str) -> None:
    """The commands that mute, enable or undo, with what they take and a mistake among it (a rule
    name misspelt after a right one, a bad period): refused, they leave the store and rules as they were."""
    answered(chat, f"/{name} {args}", name)


def answered(chat: Commands, text: str, name: str) -> None:
    """Send `text`; check its answer (one, non-empty, in parts of at most 4096) and, when the command
    only reads or was refused, that no row of the store and no rule file changed."""
    rules = chat.rulebook.folder
    before = snapshot(chat.config.db, rules)
    reply = asyncio.run(chat.handle(text, Caller(1, "Analyst")))
    try:
        assert reply is not None, text
        parts = to_parts(reply.html)
        assert reply.file is not None or "".join(t for t, _ in parts).strip(), f"an empty answer to {text!r}"
        assert all(len(add_surrogate(t)) <= MAX_LENGTH for t, _ in parts), f"a part over 4096 for {text[:80]!r}"
        if "\\" not in text:  # input quoted once: '\x14', not '\\x14' (escaped twice, unreadable)
            assert "\\\\" not in "".join(t for t, _ in parts), f"{text[:80]!r} answered {reply.html[:200]!r}"
        if name not in WRITERS or refused(reply, name):
            assert snapshot(chat.config.db, rules) == before, f"{text[:80]!r} answered {reply.html[:200]!r}, yet changed"
    finally:
        if reply is not None:
            reply.discard()
