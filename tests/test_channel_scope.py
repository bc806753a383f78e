"""A rule scoped to channels or a config group, on posts that know their channel by username or, as
Telegram Desktop exports do, only by title and id (replay, backtest)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from bot.config import load_config
from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.post import Post

MASH, SHOT = 1117628569, 1100158992  # the corpus's «Mash» and «SHOT» exports
WHEN = datetime(2024, 3, 1, tzinfo=timezone.utc)
TEXT = "В Краснодаре задержали дезертира"


def exported(cid: int, title: str, mid: int = 1) -> Post:
    """A post as a Telegram Desktop export gives it: title and bare id, no username."""
    return Post(cid, mid, WHEN, TEXT, channel_title=title)


def groups(tmp_path: Path) -> dict[str, tuple[str, ...]]:
    config = tmp_path / "config.toml"
    config.write_text('[channels.groups]\nmoscow = ["@mash", "Mash", 1100158992]\n', encoding="utf-8")
    return dict(load_config(config).groups)


def test_a_group_of_usernames_takes_the_exported_channel_of_that_title(tmp_path: Path) -> None:
    """Exports carry no username: «@mash» and «Mash» never matched the replayed Mash posts, only the
    id (SHOT's) did, and the rule said nothing."""
    matcher = Matcher([Rule.from_query("d", "дезертир", channels=["moscow"])], groups=groups(tmp_path))
    assert [m.rule for m in matcher.match(exported(MASH, "Mash"))] == ["d"]
    assert [m.rule for m in matcher.match(exported(SHOT, "SHOT"))] == ["d"]
    assert matcher.match(exported(1003313758, "Новости Москвы")) == []


def test_a_username_falls_back_to_the_title_only_when_the_post_has_no_username() -> None:
    """As `export --channel @mash` finds the channel titled «Mash» in a store that knows no
    usernames; a live post has its username, and another channel titled «Mash» is not @mash."""
    matcher = Matcher([Rule.from_query("d", "дезертир", channels=["@mash"])])
    assert [m.rule for m in matcher.match(exported(MASH, "MASH"))] == ["d"]  # any case
    assert [m.rule for m in matcher.match(Post(MASH, 2, WHEN, TEXT, channel_title="Mash", channel_username="mash"))] == ["d"]
    assert matcher.match(Post(5, 3, WHEN, TEXT, channel_title="Mash", channel_username="mash_fans")) == []


def test_a_title_that_is_no_username_names_its_channel_in_any_post() -> None:
    matcher = Matcher([Rule.from_query("d", "дезертир", channels=["Новости Москвы"])])
    assert [m.rule for m in matcher.match(exported(1003313758, "Новости Москвы"))] == ["d"]
    live = Post(1003313758, 2, WHEN, TEXT, channel_title="Новости москвы ", channel_username="moscownews")
    assert [m.rule for m in matcher.match(live)] == ["d"]
    assert matcher.match(exported(1125816841, "Москва с огоньком")) == []


def test_scope_entries_no_post_came_from_are_reported_once_after_a_run(tmp_path: Path) -> None:
    """What replay and backtest can warn about: a scope entry that matched no channel at all (a
    misspelt username, a channel the posts know by another name) silently matches nothing."""
    rules = [Rule.from_query("d", "дезертир", channels=["moscow"]),
             Rule.from_query("s", "дезертир", channels=["@baza", SHOT]), Rule.from_query("all", "дезертир")]
    matcher = Matcher(rules, groups={**groups(tmp_path), "south": ("shot_shot",)})
    assert matcher.unmatched_scope() == [("group", "moscow", ("1100158992", "mash")), ("group", "south", ("shot_shot",)),
                                         ("rule", "d", ("moscow",)), ("rule", "s", ("baza", "1100158992"))]
    for i in range(3):
        matcher.match(exported(SHOT, "SHOT", i))
        matcher.match(Post(SHOT, 10 + i, WHEN, "ни о чём", channel_title="SHOT"))  # no rule's words: still seen
    assert matcher.unmatched_scope() == [("group", "moscow", ("mash",)), ("group", "south", ("shot_shot",)),
                                         ("rule", "s", ("baza",))]
    matcher.match(exported(MASH, "Mash"))
    assert matcher.scope_warnings() == [
        "group 'south': no post came from shot_shot; it matched no channel (a username, id or exact title)",
        "rule 's': no post came from baza; it matched no channel (a username, id or exact title)"]


def test_a_rule_scoped_to_a_group_none_of_whose_channels_posted_names_it_as_a_group(tmp_path: Path) -> None:
    """«rule 'k': no post came from kuban; it matched no channel (a username, …)» called the config's
    group `kuban` a channel, sending the analyst to look for a misspelt username."""
    matcher = Matcher([Rule.from_query("k", "дезертир", channels=["south"])], groups={"south": ("shot_shot",)})
    matcher.match(exported(MASH, "Mash"))
    assert matcher.scope_warnings() == [
        "group 'south': no post came from shot_shot; it matched no channel (a username, id or exact title)",
        "rule 'k': no post came from group south (none of its channels); see the group's line"]
