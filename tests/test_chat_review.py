"""The chat face as a demanding analyst uses it (helper-54's review): the real Commands over the
sample store the pipeline built and a copy of the shipped rules; no Telegram needed here."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.chat.commands import Caller, Commands, Reply
from bot.match.edit import RuleBook
from bot.store.db import Store, iso

from .sample_store import ROOT, Sample, built, sample, shipped_matcher  # noqa: F401
from .test_live import config

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
SVODKA = 1700000001  # "Сводка 24": replayed from a Desktop export, so a title and no username
ANALYST = Caller(1, "Analyst")


@pytest.fixture
def commands(sample: Sample, tmp_path: Path) -> Commands:  # noqa: F811
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    store = Store(sample.db)
    cfg = config(tmp_path, db=sample.db, rules=rules, timezone="Europe/Moscow")

    async def digest(_now: datetime) -> int:
        return 0

    return Commands(store, RuleBook(rules, store), cfg, matcher=shipped_matcher, on_rules_changed=lambda: None,
                    status=lambda _now: "watching", digest=digest, clock=lambda: NOW)


def ask(commands: Commands, text: str) -> Reply:
    reply = asyncio.run(commands.handle(text, ANALYST))
    assert reply is not None
    return reply


def test_mute_channel_by_its_title_as_the_cli_takes_it(commands: Commands) -> None:
    """`tgwatch export --channel "Сводка 24"` takes a channel's exact title (stores replayed from
    Desktop exports know no usernames), but /mute_channel read only the first word of a title and
    refused any title that is not shaped like a username: "'Сводка' is not a channel"."""
    r = ask(commands, "/mute_channel Сводка 24 1d")
    assert "muted for every rule until 2026-11-25 15:00 MSK" in r.html, r.html
    assert commands.store.muted("desertion", SVODKA, iso(NOW) or "") is not None
    assert ask(commands, "/unmute_channel сводка 24").html == "🔔 Сводка 24 unmuted."  # as it is named
    assert commands.store.muted("desertion", SVODKA, iso(NOW) or "") is None
    # a reference that is no channel at all still says so, in one line
    assert ask(commands, "/mute_channel Нет такого 1d").html == "/mute_channel: no stored channel &#x27;Нет такого&#x27;"
    assert ask(commands, "/unmute_channel @@").html.startswith("/unmute_channel: &#x27;@@&#x27; is not a channel")


def test_a_private_invite_link_given_for_a_channel_is_not_posted_back_whole(commands: Commands) -> None:
    """The reply to a group chat cuts an invite's hash as errors elsewhere do (`cut_link`): the
    analyst's own message can be deleted, the bot's reply naming the link stays for everyone."""
    for text in ("/mute_channel t.me/+AbCdEfGh12345 1d", "/unmute_channel https://t.me/joinchat/AbCdEfGh12345",
                 "/mute_channel tg://join?invite=AbCdEfGh12345 1d", "/mute_channel join t.me/+AbCdEfGh12345 1d",
                 "/mute_channel www.t.me/+AbCdEfGh12345 1d", "/unmute_channel https://www.telegram.me/joinchat/AbCdEfGh12345"):
        html = ask(commands, text).html
        assert ("not a channel" in html or "no stored channel" in html) and "AbCdEfGh12345" not in html, html


def test_undo_naming_another_rule_than_the_last_change_takes_nothing_back(commands: Commands) -> None:
    """/undo takes back the last rule change, whoever made it; «/undo lockdown» read as /undo, so
    an analyst who meant to take back their lockdown edit re-enabled the regiment rule a colleague
    had just disabled. A rule named is now checked against the last change."""
    ask(commands, "/disable lockdown")
    ask(commands, "/disable regiment")
    r = ask(commands, "/undo lockdown")
    assert r.html.startswith("/undo: the last rule change is to regiment, not &#x27;lockdown&#x27;"), r.html
    assert "\n" not in r.html
    assert not commands.rulebook.ruleset.get("regiment").enabled  # nothing was undone
    assert ask(commands, "/undo Regiment").html.startswith("↩️ Undone: regiment is enabled again")
    assert ask(commands, "/undo").html.startswith("↩️ Undone: lockdown is enabled again")


def test_export_with_two_periods_or_two_formats_says_which_is_meant(commands: Commands) -> None:
    """«/export 7d 30d» exported 30 days and «/export csv xlsx» an xlsx, the earlier word dropped
    without a word: the analyst cannot tell which period the file covers without reading its caption."""
    for text, clash in {"/export 7d 30d": "two periods (&#x27;7d&#x27;, &#x27;30d&#x27;)",
                        "/export desertion csv XLSX": "two formats (&#x27;csv&#x27;, &#x27;xlsx&#x27;)"}.items():
        r = ask(commands, text)
        assert r.file is None and r.html.startswith(f"/export: {clash}"), r.html
    assert ask(commands, "/export 7d 7d csv csv").file is not None  # the same word twice means the same


def test_a_proposed_rule_change_shows_each_sample_where_it_matched(commands: Commands) -> None:
    """The back-test's samples under /add_rule and /edit_rule showed each post's first 120
    characters: a long post that matched further on («… план «Перехват» …») gave no clue why it
    was there. They now show the words around the hit, in bold, linked to the post as /search does."""
    r = ask(commands, '/edit_rule lockdown "план Перехват"')
    samples = [line for line in r.html.split("\n") if line.startswith("• ")]
    assert len(samples) == 3, r.html
    for line in samples:
        assert '<a href="https://t.me/' in line and "<b>" in line and "ерехват</b>" in line, line


def test_export_and_chart_file_names_carry_the_analysts_time(commands: Commands) -> None:
    """Every time the chat shows is in the configured zone, but /export and /stats named their
    files by the UTC clock: at 15:00 in Moscow the export was tgwatch-all-…-1200.csv."""
    assert ask(commands, "/export").file_name == "tgwatch-all-20261124-1500.csv"
    commands.clock = lambda: datetime(2026, 11, 24, 22, tzinfo=timezone.utc)  # 01:00 on the 25th in Moscow
    assert ask(commands, "/stats").file_name == "tgwatch-stats-20261125.png"


def test_mute_channel_by_a_post_link_as_alerts_give_it(commands: Commands) -> None:
    """An alert links its channel's name to the post (t.me/c/1700000001/48217, t.me/name/123), and
    `--channel` on the command line takes such a link; /mute_channel said it "is not a channel"."""
    r = ask(commands, "/mute_channel https://t.me/c/1700000001/48217 1d")
    assert "muted for every rule" in r.html, r.html
    assert commands.store.muted("desertion", SVODKA, iso(NOW) or "") is not None
    assert ask(commands, "/unmute_channel t.me/c/1700000001/48217").html.endswith(" unmuted.")
    assert "muted for every rule" in ask(commands, "/mute_channel t.me/Kuban_Online/501 1d").html
    assert ask(commands, "/mute_channel t.me/c/1999999999/5 1d").html.startswith("/mute_channel: no stored channel")


def test_mute_channel_by_the_apps_tg_resolve_link(commands: Commands) -> None:
    """tg://resolve?domain=NAME (&post=N) is the apps' own link to @NAME (its post): the chat reads it
    as the config, the rules and --channel do (it was taken as a title no channel has)."""
    assert "muted for every rule" in ask(commands, "/mute_channel tg://resolve?domain=Kuban_Online 1d").html
    assert ask(commands, "/unmute_channel TG://resolve?domain=kuban_online&post=501").html.endswith(" unmuted.")


def test_rules_lists_the_channel_mutes_running(commands: Commands) -> None:
    """A channel muted (/mute_channel, or a rule muted for one channel by the button under an
    alert) was shown nowhere: /rules named only whole-rule mutes, so a week's channel mute was
    forgotten with no way to see it from the chat."""
    ask(commands, "/mute_channel Сводка 24 1w")
    commands.store.mute("lockdown", "2026-11-25T12:00:00+00:00", channel_id=1700000003)  # the alert button
    commands.store.mute("regiment", "2026-11-01T12:00:00+00:00", channel_id=1700000003)  # ran out
    r = ask(commands, "/rules")
    assert "\n🔕 Сводка 24: every rule, until 2026-12-01 15:00 MSK" in r.html, r.html
    assert "\n🔕 Горячая линия: lockdown, until 2026-11-25 15:00 MSK" in r.html
    assert "regiment, until" not in r.html


def test_export_as_xlsx_says_when_a_cell_was_cut_at_excels_limit(commands: Commands) -> None:
    """`tgwatch export` says on stderr when a text was longer than an Excel cell holds; the chat's
    /export sent the cut file without a word."""
    assert "cut" not in ask(commands, "/export xlsx").html
    commands.store.db.execute("UPDATE posts SET text = text || printf('%.*c', 40000, 'x') "
                              "WHERE rowid = (SELECT min(p.rowid) FROM posts p JOIN matches m "
                              "ON m.channel_id = p.channel_id AND m.message_id = p.message_id)")
    r = ask(commands, "/export xlsx")
    assert r.html.endswith("; 1 cell cut at Excel's 32,767 characters (the csv export has them whole)"), r.html
    assert "cut" not in ask(commands, "/export csv").html


def test_a_period_after_the_newest_stored_post_says_so_in_search_export_and_stories(commands: Commands) -> None:
    """`tgwatch search --since 7d` on a store whose posts end earlier says so on stderr; /search,
    /export and /stories answered «No stored post in the last 7 d» (or sent an empty file) as if
    nothing had happened in that week. They now end with one line naming the newest stored post."""
    commands.clock = lambda: datetime(2026, 12, 30, 12, tzinfo=timezone.utc)  # five weeks after the newest post
    hint = ("ℹ️ Nothing stored is in that period: the newest stored post is from 2026-11-23 15:00 MSK "
            "(a period like 7d counts back from now).")
    for text in ("/search дезертир 7d", "/export", "/export desertion 30d xlsx", "/stories", "/stories 1w"):
        r = ask(commands, text)
        first, last = r.html.split("\n")
        assert last == hint and "Nothing stored" not in first, (text, r.html)
    assert ask(commands, "/export").file is None  # a reply in words, no file of the header row alone
    # a period that reaches the stored posts, or no period: no such line, found or not
    for text in ("/search дезертир 60d", "/search нетакогослова 60d", "/search нетакогослова", "/export 60d",
                 "/stories 60d"):
        assert "Nothing stored" not in ask(commands, text).html, text
