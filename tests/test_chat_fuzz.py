"""Any text after any command gets one answer from the command layer, never an exception: the
analysts type in a hurry, on phones, in two layouts. The real Commands over a real store (the
sample, built by the pipeline) and a copy of the shipped rules; no Telegram needed here."""

from __future__ import annotations

import asyncio
import html
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat.commands import Caller, Commands
from bot.match.edit import RuleBook
from bot.store.db import Store

from .sample_store import ROOT, Sample, built, prune_part_of_a_story, sample, shipped_matcher  # noqa: F401
from .test_live import config

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
COMMANDS = ["help", "status", "rules", "rule", "test", "enable", "disable", "mute", "unmute", "mute_channel",
            "unmute_channel", "export", "search", "stories", "stats", "digest", "add_rule", "edit_rule", "undo",
            "history", "story"]
TOKENS = st.sampled_from(["desertion", "lockdown", "regiment", "DESERTION", "nosuch", "7d", "0d", "1h", "30m", "2w",
                          "99999d", "-1d", "1.5h", "csv", "xlsx", "pdf", "@shot_shot", "@", "@@x", "#9", "9", "-1",
                          "10" * 12, "дезертир", "«дезертир»", '"воинская часть"', "(", ")", "AND", "OR", "NOT",
                          "NEAR/3", "NEAR/0", "~2", "*", "url:", "url:t.me", "=ВСУ", "channels", "\u200b", "🪖",
                          "&lt;b&gt;", "<b>", "\n", "\t", " ", "𗀀", "\U000e0001", "\ufffd"])
ARGS = st.lists(st.one_of(TOKENS, st.text(max_size=8)), max_size=6).map(" ".join)


@pytest.fixture
def commands(sample: Sample, tmp_path: Path) -> Commands:  # noqa: F811
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    store = Store(sample.db)
    cfg = config(tmp_path, db=sample.db, rules=rules)

    async def digest(_now: datetime) -> int:
        return 0

    return Commands(store, RuleBook(rules, store), cfg, matcher=shipped_matcher, on_rules_changed=lambda: None,
                    status=lambda _now: "watching", digest=digest, clock=lambda: NOW)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(COMMANDS), args=ARGS)
def test_any_text_after_any_command_is_answered_never_raised(commands: Commands, name: str, args: str) -> None:
    reply = asyncio.run(commands.handle(f"/{name} {args}", Caller(1, "Analyst")))
    assert reply is not None and (reply.html.strip() or reply.file is not None), (name, args)



def test_a_pruned_story_says_how_many_posts_it_had_and_lists_the_kept_ones(commands: Commands) -> None:
    """Retention deletes a story's unmatched posts: /story says how many the story had (as
    /stories and alerts count) and how many are kept and listed (helper-50: '35 posts' above one
    listed post, with no word why)."""
    sid, size, kept = prune_part_of_a_story(commands.store)
    reply = asyncio.run(commands.handle(f"/story {sid}", Caller(1, "Analyst")))
    assert reply is not None and reply.html.startswith(f"<b>Story #{sid}</b>: {size} posts, {kept} kept (posts that "
                                                       "matched no rule are dropped after 30 days)")
    assert reply.html.count("\n• ") + reply.html.startswith("• ") == kept


@pytest.mark.parametrize("text, shown", [
    ("/rule " + "\u200f" * 20, "/rule: no rule named '" + "\\u200f" * 9 + "…' (have: "),  # RTL marks pasted with a name
    ("/stories " + "\x14" * 30, "/stories: '" + "\\x14" * 14 + "…' is not a duration"),
])
def test_an_argument_with_invisible_characters_is_quoted_once(commands: Commands, text: str, shown: str) -> None:
    """The input is quoted with its escapes (\\u200f: what is there, though invisible), once: past
    60 characters of escapes, the quote was quoted again, and the analyst read \\\\u200f\\\\u200f…"""
    reply = asyncio.run(commands.handle(text, Caller(1, "Analyst")))
    assert reply is not None and html.unescape(reply.html).startswith(shown), reply and reply.html


@pytest.mark.parametrize("text", ["/rule desertion\u200f", "/rule \u200fDesertion\u200e", "/disable desertion\u2066"])
def test_a_rule_name_pasted_with_bidi_marks_names_the_rule(commands: Commands, text: str) -> None:
    """A name copied from an RTL chat interface brings its invisible marks along: it was answered
    'no rule named ...' though the analyst sees exactly the rule's name."""
    reply = asyncio.run(commands.handle(text, Caller(1, "Analyst")))
    assert reply is not None and "no rule named" not in reply.html and "desertion" in reply.html, reply and reply.html


def test_the_story_button_of_an_alert_whose_story_is_gone_says_the_story_is_gone(commands: Commands) -> None:
    """The story button under a stored alert whose story no longer is (its row and posts gone)
    answered 'This alert is no longer stored.', though the alert was there to press."""
    alert_id, story_id = commands.store.db.execute("SELECT id, story_id FROM alerts ORDER BY id LIMIT 1").fetchone()
    with commands.store.transaction():
        commands.store.db.execute("DELETE FROM posts WHERE story_id = ?", [story_id])
        commands.store.db.execute("DELETE FROM stories WHERE id = ?", [story_id])
    reply = asyncio.run(commands.press(f"st:{alert_id}".encode(), Caller(1, "Analyst")))
    assert reply.toast == f"Story #{story_id} is no longer stored.", reply
