"""The buttons under alerts, digests and rule changes, over the real Commands, a real store file
(the sample, built by the pipeline) and a copy of the shipped rules."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

from bot.chat.commands import Caller, Commands
from bot.match.edit import RuleBook
from bot.store.db import Store

from .sample_store import ROOT, Sample, built, sample, shipped_matcher  # noqa: F401
from .test_chat_props import NOW, snapshot
from .test_live import config


def commands_over(db: Path, rules: Path) -> Commands:
    """The real Commands over the store file `db` and the rules folder `rules`, at NOW."""
    store = Store(db)

    async def digest(_now: object) -> int:
        return 0

    return Commands(store, RuleBook(rules, store), config(db.parent, db=db, rules=rules), matcher=shipped_matcher,
                    on_rules_changed=lambda: None, status=lambda _now: "watching", digest=digest, clock=lambda: NOW)


def test_the_mute_buttons_under_an_alert_of_a_removed_rule_mute_nothing(sample: Sample, tmp_path: Path) -> None:  # noqa: F811
    """An alert still in the chat whose rule was since removed from the rules: its mute buttons would
    mute a rule that no /unmute can name; they say the rule is gone and change nothing."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    con = sqlite3.connect(sample.db)
    with con:
        con.execute("UPDATE alerts SET rule = 'retired' WHERE id = 1")
    con.close()
    commands = commands_over(sample.db, rules)
    try:
        before = snapshot(sample.db, rules)
        for data in (b"mr:1", b"mc:1"):
            reply = asyncio.run(commands.press(data, Caller(1, "Analyst")))
            assert reply.toast == "Rule retired is no longer in the rules: nothing to mute.", (data, reply)
            assert not reply.html
        assert snapshot(sample.db, rules) == before
    finally:
        commands.store.close()
