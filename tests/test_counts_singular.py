"""A count of one is said in the singular wherever the CLI and the chat put a count before a noun
(review 169 found `1 forwards`, `latest 1 hits`, `1 terms hit nothing`; these are the others)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from bot.chat.commands import Caller, Commands, _terms_line
from bot.cli import cli
from bot.store.backtest import TermHits

from .sample_store import Sample, prune_part_of_a_story, sample  # noqa: F401
from .test_chat_fuzz import commands  # noqa: F401

RULE = """\
[[rule]]
name = "near"
title = "Near"
severity = "high"
query = "полк NEAR/1 командир OR 2024 OR дезертир"
"""


def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "t.toml").write_text(RULE, encoding="utf-8")
    return folder


def test_rules_explain_says_within_1_word_and_1_form(tmp_path: Path) -> None:
    """NEAR/1 said `within 1 words`; a number, which has one form, `1 forms`."""
    r = CliRunner().invoke(cli, ["rules", "explain", "near", "--rules", str(rules(tmp_path))])
    assert r.exit_code == 0, r.output
    assert "NEAR, within 1 word\n" in r.stdout and "2024  1 form;" in r.stdout, r.stdout
    assert "полк  12 forms" in r.stdout, r.stdout  # more than one stays plural


def test_backtest_of_one_stored_post_on_one_day_says_so_in_the_singular(tmp_path: Path) -> None:
    """The head said `1 of 1 stored posts matched (100%; on 1 of 1 days, …)`."""
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"channel_id": 1, "message_id": 1, "date": "2024-11-01T10:00:00Z", "channel_title": "One",
                               "text": "Задержан дезертир на вокзале"}, ensure_ascii=False) + "\n", encoding="utf-8")
    db, folder = tmp_path / "t.db", rules(tmp_path)
    assert CliRunner().invoke(cli, ["replay", str(src), "--rules", str(folder), "--db", str(db), "--alerts", "none"]).exit_code == 0
    r = CliRunner().invoke(cli, ["rules", "backtest", "near", "--rules", str(folder), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("1 of 1 stored post matched (100%; on 1 of 1 day, up to 1 a day)\n"), r.stdout


def test_the_chats_backtest_says_1_more_term_hit() -> None:
    """Four terms that hit, three named: the rest was `1 more terms hit`."""
    terms = {w: TermHits(w, posts=n) for w, n in (("а", 4), ("б", 3), ("в", 2), ("г", 1))}
    assert _terms_line(terms).endswith("; 1 more term hit."), _terms_line(terms)
    terms["д"] = TermHits("д", posts=1)
    assert _terms_line(terms).endswith("; 2 more terms hit."), _terms_line(terms)


def test_a_pruned_story_under_a_one_day_retention_says_1_day(commands: Commands) -> None:  # noqa: F811
    """`/story` of a story retention pruned said `dropped after 1 days` with `retention_days = 1`."""
    sid, size, kept = prune_part_of_a_story(commands.store)
    commands.config = replace(commands.config, retention_days=1)
    reply = asyncio.run(commands.handle(f"/story {sid}", Caller(1, "Analyst")))
    assert reply is not None and reply.html.startswith(f"<b>Story #{sid}</b>: {size} posts, {kept} kept (posts that "
                                                       "matched no rule are dropped after 1 day)"), reply.html


def test_why_a_near_1_missed_says_within_1_word() -> None:
    """/test's and `rules test`'s «why not» said `but not within 1 words` for NEAR/1."""
    from bot.match.matcher import Matcher
    from bot.match.rules import Rule

    matcher = Matcher([Rule.from_query("n", "полк NEAR/1 командир"), Rule.from_query("m", "полк NEAR/3 командир")])
    assert dict(matcher.why_not("полк стоял у реки долго, и командир пришёл")) == {
        "m": "has полк and командир, but not within 3 words", "n": "has полк and командир, but not within 1 word"}
    assert dict(matcher.why_not("полк стоял у реки долго")) == {
        "m": "has полк but not командир within 3 words", "n": "has полк but not командир within 1 word"}
