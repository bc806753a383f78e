"""The store's small reads the chat answers from (mutes running, a rule's recent hits, a story's
counts, an alert's post), on a real SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.alerts import alert_post
from bot.store.counts import StoryCounts, StorySpan, rule_hits, story_counts, story_span
from bot.store.db import Mute, Store, iso

DAY1 = datetime(2024, 11, 20, 9, 0, tzinfo=timezone.utc)
REPORT = "В Подольске задержали дезертира, который три недели скрывался у родственников в частном доме"


def store_with(tmp_path: Path, posts: list[Post], rules: list[Rule] | None = None) -> Store:
    store = Store(tmp_path / "s.db")
    matcher = Matcher(rules or [Rule.from_query("desertion", "дезертир"), Rule.from_query("arrest", "задержали")])
    list(Pipeline(store, matcher).process(posts))
    return store


def test_channel_mutes_are_the_running_mutes_of_channels_soonest_end_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    now = "2024-11-20T12:00:00+00:00"
    store.mute("desertion", "2024-11-25T00:00:00+00:00")  # every channel: /rules shows it beside the rule
    store.mute("*", "2024-11-22T00:00:00+00:00", channel_id=2)
    store.mute("desertion", "2024-11-21T00:00:00+00:00", channel_id=1)
    store.mute("arrest", "2024-11-21T00:00:00+00:00", channel_id=1)
    store.mute("arrest", "2024-11-20T11:00:00+00:00", channel_id=3)  # over
    assert store.channel_mutes(now) == [Mute("arrest", 1, "2024-11-21T00:00:00+00:00"),
                                        Mute("desertion", 1, "2024-11-21T00:00:00+00:00"),
                                        Mute("*", 2, "2024-11-22T00:00:00+00:00")]
    assert store.channel_mutes("2024-11-23T00:00:00+00:00") == []


def test_newest_mute_by_is_the_users_latest_mute_still_running(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    before = iso(datetime.now(timezone.utc) - timedelta(minutes=1)) or ""
    now = iso(datetime.now(timezone.utc)) or ""
    store.mute("desertion", "2999-01-01T00:00:00+00:00", by_user=7)
    store.mute("*", "2999-01-01T00:00:00+00:00", channel_id=5, by_user=7)
    store.mute("arrest", "2000-01-01T00:00:00+00:00", by_user=7)  # made last, but over
    store.mute("drones", "2999-01-01T00:00:00+00:00", by_user=8)  # another analyst's
    assert store.newest_mute_by(7, now) == Mute("*", 5, "2999-01-01T00:00:00+00:00")
    assert store.newest_mute_by(7, now, since=before) == Mute("*", 5, "2999-01-01T00:00:00+00:00")
    assert store.newest_mute_by(7, now, since="2999-01-01T00:00:00+00:00") is None  # none made since then
    assert store.newest_mute_by(9, now) is None


def test_first_username_is_of_the_lowest_channel_id_that_has_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.first_username() is None
    store.upsert_channel(10, "Без имени", "")
    store.upsert_channel(30, "Alpha", "alpha")
    store.upsert_channel(20, "Mash", "mash")
    store.upsert_channel(5, "Только заголовок")
    assert store.first_username() == "mash"


def test_rule_hits_count_the_current_matches_of_posts_dated_since(tmp_path: Path) -> None:
    store = store_with(tmp_path, [
        Post(1, 1, DAY1, "Дезертир найден"),
        Post(1, 2, DAY1 + timedelta(days=2), "В Подольске задержали дезертира"),
        Post(1, 3, DAY1 + timedelta(days=2), "Ещё один дезертир"),
        Post(1, 3, DAY1 + timedelta(days=2), "Погода на выходные", edit_date=DAY1 + timedelta(days=2, hours=1)),
    ])
    since = DAY1 + timedelta(days=1)
    assert rule_hits(store, since) == {"desertion": 1, "arrest": 1}  # post 3 no longer matches: edited
    assert rule_hits(store, DAY1) == {"desertion": 2, "arrest": 1}
    assert rule_hits(store, since + timedelta(days=2)) == {}


def test_story_counts_tell_what_the_story_had_from_what_is_kept(tmp_path: Path) -> None:
    store = store_with(tmp_path, [Post(c, 10, DAY1 + timedelta(minutes=c), REPORT, channel_title=f"Канал {c}")
                                  for c in (1, 2, 3)])
    sid = store.story_of(1, 10)
    assert sid is not None and {store.story_of(c, 10) for c in (2, 3)} == {sid}
    assert story_counts(store, sid) == StoryCounts(3, 3, 3)
    with store.transaction():  # channel 3's copy as if it had matched nothing: retention prunes it
        store.db.execute("DELETE FROM matches WHERE channel_id = 3")
    assert store.prune("9999-01-01T00:00:00+00:00") == 1
    counts = story_counts(store, sid)
    assert counts == StoryCounts(3, 2, 2) and counts.had == 3
    assert story_counts(store, sid + 100) == StoryCounts(None, 0, 0) and story_counts(store, sid + 100).had == 0


def test_alert_post_names_the_alerts_channel_and_post_date(tmp_path: Path) -> None:
    store = store_with(tmp_path, [Post(1117628569, 42, DAY1, REPORT, channel_username="mash")],
                       [Rule.from_query("desertion", "дезертир")])
    (alert_id,) = [r[0] for r in store.db.execute("SELECT id FROM alerts")]
    got = alert_post(store, alert_id)
    assert got is not None
    assert (got.rule, got.channel_id, got.message_id, got.story_id) == ("desertion", 1117628569, 42, store.story_of(1117628569, 42))
    assert (got.channel_title, got.username, got.date) == ("", "mash", iso(DAY1))  # no title known: the toast says @mash
    assert alert_post(store, alert_id + 1) is None


def test_count_stored_after_counts_the_posts_past_one_rowid_up_to_another(tmp_path: Path) -> None:
    store = store_with(tmp_path, [Post(1, m, DAY1 + timedelta(minutes=m), f"Пост номер {m}") for m in range(1, 6)])
    rowids = [r[0] for r in store.db.execute("SELECT rowid FROM posts ORDER BY rowid")]
    assert store.count_stored_after(rowids[1], rowids[3]) == 2  # the third and the fourth: the post at `after` was matched already
    assert store.count_stored_after(0, rowids[-1]) == 5
    assert store.count_stored_after(rowids[-1], rowids[-1] + 100) == 0


def test_a_story_retention_pruned_whole_still_opens_with_its_rows_span(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    store = store_with(tmp_path, [Post(c, 10, DAY1 + timedelta(minutes=c), "Погода на выходные: без осадков",
                                       channel_title=f"Канал {c}") for c in (1, 2)])
    sid = store.story_of(1, 10)
    assert sid is not None and story_span(store, sid) == StorySpan(iso(DAY1 + timedelta(minutes=1)), iso(DAY1 + timedelta(minutes=2)), 2)
    assert store.prune("9999-01-01T00:00:00+00:00") == 2  # matched nothing: both pruned, the story row stays
    assert story_span(store, sid) == StorySpan(iso(DAY1 + timedelta(minutes=1)), iso(DAY1 + timedelta(minutes=2)), 2)
    assert story_span(store, sid + 100) is None
    store.close()
    shown = CliRunner().invoke(cli, ["story", str(sid), "--db", str(tmp_path / "s.db")])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"story #{sid}: 2 posts (none kept: they matched no rule and were pruned) from 2 channels, "
                                   "2024-11-20 09:01 – 2024-11-20 09:02 UTC")
    assert CliRunner().invoke(cli, ["story", str(sid + 100), "--db", str(tmp_path / "s.db")]).exit_code == 1


def test_stats_date_an_alert_whose_post_is_gone_by_when_it_was_raised(tmp_path: Path) -> None:
    from bot.report.stats import rule_stats

    store = store_with(tmp_path, [Post(1, 1, DAY1 - timedelta(days=30), REPORT), Post(1, 2, DAY1, "Ещё один дезертир")],
                       [Rule.from_query("desertion", "дезертир")])
    with store.transaction():
        store.db.execute("UPDATE alerts SET created_at = ?", [iso(DAY1)])  # raised on DAY1, both
        store.db.execute("DELETE FROM posts WHERE message_id = 1")  # gone: dated by when it was raised
    week = rule_stats(store, since=DAY1 - timedelta(days=7), now=DAY1 + timedelta(hours=1))
    assert [(s.rule, s.matches, s.alerts) for s in week] == [("desertion", 1, 2)]
    month = rule_stats(store, since=DAY1 - timedelta(days=40), now=DAY1 - timedelta(days=20))
    assert [(s.rule, s.matches, s.alerts) for s in month] == []  # post 1's match went with it


WEATHER = "Погода на выходные: без осадков, до плюс пяти"


def partly_pruned_story(tmp_path: Path) -> int:
    """A story of 3 channels' posts (two forwards of the first) whose two unmatched ones, its first
    among them, a retention prune deleted: its id."""
    store = store_with(tmp_path, [
        Post(1, 10, DAY1, WEATHER, channel_title="Канал 1"),
        Post(2, 20, DAY1 + timedelta(minutes=5), WEATHER, channel_title="Канал 2", forward_channel_id=1, forward_post_id=10),
        Post(3, 30, DAY1 + timedelta(hours=2), "Задержали дезертира\n" + WEATHER, channel_title="Канал 3",
             forward_channel_id=1, forward_post_id=10)])
    sid = store.story_of(1, 10)
    assert sid is not None and store.story_of(3, 30) == sid == store.story_of(2, 20)
    assert store.prune("9999-01-01T00:00:00+00:00") == 2  # the two that matched nothing
    assert story_counts(store, sid) == StoryCounts(3, 1, 1)
    store.close()
    return sid


def test_a_partly_pruned_story_is_told_by_what_it_had_not_by_the_posts_kept(tmp_path: Path) -> None:
    """`story N` of a story retention partly pruned said «3 posts (1 kept) from 1 channel» over the kept
    post's minute alone, where `stories` lists it with its 3 channels from its first post on."""
    from click.testing import CliRunner

    from bot.cli import cli

    sid = partly_pruned_story(tmp_path)
    listed = CliRunner().invoke(cli, ["stories", "--db", str(tmp_path / "s.db"), "--since", "2024-11-20", "--format", "jsonl"])
    assert '"story_size": 3, "first_date": "2024-11-20T09:00:00+00:00", "last_date": "2024-11-20T11:00:00+00:00"' in listed.output
    shown = CliRunner().invoke(cli, ["story", str(sid), "--db", str(tmp_path / "s.db")])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith(f"story #{sid}: 3 posts (1 kept: the others matched no rule and were pruned) from 3 channels, "
                                   "2024-11-20 09:00 – 2024-11-20 11:00 UTC\n"), shown.output
    assert shown.output.count("https://t.me/") == 1  # the kept post alone is listed


def test_a_story_whose_first_post_was_pruned_is_headed_by_its_first_post_kept(tmp_path: Path) -> None:
    """`stories` listed a story whose first post retention pruned with an empty headline (39 of the
    corpus's stories pruned before its last day), though a post of it is kept."""
    from click.testing import CliRunner

    from bot.cli import cli
    from bot.store.read import top_stories

    sid = partly_pruned_story(tmp_path)
    listed = CliRunner().invoke(cli, ["stories", "--db", str(tmp_path / "s.db"), "--since", "2024-11-20", "--format", "jsonl"])
    assert listed.exit_code == 0, listed.output
    assert f'"story_id": {sid}, ' in listed.output and '"headline": "Задержали дезертира"}' in listed.output, listed.output
    table = CliRunner().invoke(cli, ["stories", "--db", str(tmp_path / "s.db"), "--since", "2024-11-20"], env={"COLUMNS": "160"})
    assert "Задержали дезертира" in table.output, table.output
    store = Store(tmp_path / "s.db")  # the chat's /stories reads the same row
    assert [r.first_text.split("\n")[0] for r in top_stories(store, min_size=2)] == ["Задержали дезертира"]
    store.close()
