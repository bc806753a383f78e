"""Story folding (bot.story.index.StoryIndex) through the pipeline, on a real SQLite file per test."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.source import read_paths
from bot.store.db import Store
from bot.story.index import StoryIndex

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
SAMPLE = ROOT / "examples" / "export"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
SHOT, MASH, TOPOR = 1800000001, 1800000002, 1800000003

REPORT = ("Семеро военнослужащих попытались самовольно покинуть воинскую часть в Краснодаре, пятерых уже "
          "задержали. Группа ушла с территории части ночью, вокруг части выставлено оцепление.")


def replay(*args: Any) -> Result:
    return CliRunner().invoke(cli, ["replay", *map(str, args), "--rules", str(RULES)])


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rules(RULES))


def post(channel: int, mid: int, text: str, minutes: float = 0, **kw: Any) -> Post:
    return Post(channel, mid, T0 + timedelta(minutes=minutes), text, channel_title=f"ch{channel}", **kw)


def stories_of(tmp_path: Path, matcher: Matcher, posts: list[Post]) -> list[int]:
    store = Store(tmp_path / "t.db")
    try:
        return [p.story_id for p in Pipeline(store, matcher).process(posts)]  # type: ignore[misc]
    finally:
        store.close()


def sample_posts() -> dict[tuple[int, int], Post]:
    return {p.key: p for p in read_paths([SAMPLE]) if isinstance(p, Post)}


def test_forward_joins_its_originals_story(tmp_path: Path, matcher: Matcher) -> None:
    a, b, c = stories_of(tmp_path, matcher, [
        post(SHOT, 1, REPORT),
        post(MASH, 1, "Погода: до +15, дождь"),
        post(TOPOR, 7, "Смотрите, что пишут коллеги", 30, forward_channel_id=SHOT, forward_post_id=1),
    ])
    assert c == a != b
    size, channels = rows(tmp_path / "t.db", "SELECT size, channels FROM stories WHERE id = ?", a)[0]
    assert size == 2 and json.loads(channels) == [SHOT, TOPOR]


def test_an_earlier_post_read_later_leads_the_storys_channels(tmp_path: Path, matcher: Matcher) -> None:
    """Exports replayed one after another (a later file first): the story's first post moves to the
    earlier one, and its channel list, which /stories and `tgwatch stories` show, must follow."""
    a, b = stories_of(tmp_path, matcher, [
        post(MASH, 5, "⚡️" + REPORT, 40),
        post(SHOT, 1, REPORT + "\n\n👉 Подписывайтесь на SHOT"),
    ])
    assert a == b
    first, channels = rows(tmp_path / "t.db", "SELECT first_channel_id, channels FROM stories WHERE id = ?", a)[0]
    assert first == SHOT and json.loads(channels) == [SHOT, MASH]


def test_repost_with_footer_joins(tmp_path: Path, matcher: Matcher) -> None:
    a, b = stories_of(tmp_path, matcher, [
        post(SHOT, 1, REPORT + "\n\n👉 Подписывайтесь на SHOT"),
        post(MASH, 2, "⚡️" + REPORT + "\n\nПрислать новость: @mash_bot\n#Краснодар", 40),
    ])
    assert a == b


def test_reworded_report_from_the_sample_joins(tmp_path: Path, matcher: Matcher) -> None:
    sample = sample_posts()
    # Сводка 24's details post and Южный Телеграф's own wording 80 minutes later
    a, b = stories_of(tmp_path, matcher, [sample[(1700000001, 48218)], sample[(1700000002, 18738)]])
    assert a == b


def test_same_template_different_event_does_not_join(tmp_path: Path, matcher: Matcher) -> None:
    a, b = stories_of(tmp_path, matcher, [
        post(SHOT, 1, "В Подольске горит склад площадью 2000 квадратных метров, на месте работают пожарные."),
        post(MASH, 1, "В Казани горит склад площадью 1500 квадратных метров, на месте работают пожарные.", 20),
    ])
    assert a != b


def test_post_outside_the_window_starts_a_new_story(tmp_path: Path, matcher: Matcher) -> None:
    a, b, c = stories_of(tmp_path, matcher, [
        post(SHOT, 1, REPORT),
        post(MASH, 1, REPORT, 47 * 60),   # the same text 47 h later: same story
        post(TOPOR, 1, REPORT, 49 * 60 + 47 * 60),  # 49 h after the newest: a new story
    ])
    assert a == b != c


FLASH = "Россия имеет несколько готовых к применению ракетных систем «Орешник» — Путин"
ROUNDUP = ("Главное из заявлений Путина на саммите ОДКБ в Астане:\n"
           "— Россия имеет несколько готовых к применению ракетных систем «Орешник»;\n"
           "— удары возможны по центрам принятия решений в Киеве;\n"
           "— серийное производство комплекса уже налажено.")


def roundup_stories(tmp_path: Path, earlier: float = 32, **keys: int) -> list[int]:
    """Stories of a flash and, ten minutes later, a roundup containing it, after posts 30 h earlier
    (in the window, too far apart to be the same story) that make the flash's words common and two
    of the roundup's rare: the roundup's two query keys find only those."""
    store = Store(tmp_path / "t.db")
    index = StoryIndex(store, query_keys=2, **keys)
    try:
        return [index.assign(p) for p in [
            post(SHOT, 1, "Путин: Россия имеет несколько готовых к применению ракетных систем, испытания продолжатся",
                 -earlier * 60),
            post(MASH, 1, "Путин рассказал, как Россия будет применять ракетные системы «Орешник» и сколько их готово",
                 -(earlier - 1) * 60),
            post(TOPOR, 1, "Саммит ОДКБ пройдет в Астане в конце ноября", -(earlier - 2) * 60),
            post(SHOT, 2, FLASH),
            post(MASH, 2, ROUNDUP, 10),
        ]][3:]
    finally:
        store.close()


def test_roundup_finds_the_flash_it_contains_through_its_rarest_words(tmp_path: Path) -> None:
    flash, roundup = roundup_stories(tmp_path)
    assert roundup == flash


def test_without_the_top_word_index_the_roundups_rare_words_miss_the_flash(tmp_path: Path) -> None:
    flash, roundup = roundup_stories(tmp_path, top_keys=0)
    assert roundup != flash


def test_words_whose_posts_all_left_the_window_take_no_query_key(tmp_path: Path) -> None:
    """The same posts three days earlier (outside the window): the roundup's rarest words find
    nothing live, so its query keys go to words that do, and find the flash without the second
    index. (They used to take keys all the same, though a restarted run, which never filed them,
    did not: on the corpus, 13 posts folded differently after a restart.)"""
    flash, roundup = roundup_stories(tmp_path, earlier=72, top_keys=0)
    assert roundup == flash


def test_the_index_forgets_the_words_of_posts_that_left_the_window(tmp_path: Path) -> None:
    """A long run of unrelated posts: the index holds the words of the posts of the last 48 h only
    (what a live service keeps in memory grows with its window, not with its uptime)."""
    letters = "бвгдзклмнпрстфхц"
    store = Store(tmp_path / "t.db")
    index = StoryIndex(store, 48.0)
    try:
        for i in range(300):  # one post an hour, each with words of its own
            own = [f"{letters[i % 16]}{letters[i // 16 % 16]}{letters[j]}ование" for j in range(8)]
            index.assign(post(SHOT, i + 1, " ".join(own) + ".", 60 * i))
        held = {t for e in index.entries.values() for t in e.terms}
        assert len(index) == 49
        assert set(index.postings) <= held and set(index.tops) <= held
    finally:
        store.close()


def test_second_process_run_folds_into_stored_stories(tmp_path: Path, matcher: Matcher) -> None:
    (a,) = stories_of(tmp_path, matcher, [post(SHOT, 1, REPORT)])
    (b,) = stories_of(tmp_path, matcher, [post(MASH, 1, REPORT + "\n\nПодписывайтесь на Mash", 15)])
    assert a == b


def test_sample_replay_folds_stories_and_alerts_less(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    r = replay(SAMPLE, "--db", db)
    assert r.exit_code == 0, r.output
    alerts = rows(db, "SELECT count(*) FROM alerts")[0][0]
    matched = rows(db, "SELECT count(*) FROM matches")[0][0]
    assert matched == 41 and alerts < matched  # one alert per post x rule before stories (examples/README.md)
    assert rows(db, "SELECT count(DISTINCT story_id) FROM posts")[0][0] < 63
    s = CliRunner().invoke(cli, ["stories", "--db", str(db), "--min-size", "2", "--since", "2000-01-01"])
    assert s.exit_code == 0, s.output
    krasnodar = rows(db, "SELECT id, channels FROM stories WHERE id = "
                         "(SELECT story_id FROM posts WHERE channel_id = 1700000001 AND message_id = 48218)")[0]
    assert len(json.loads(krasnodar[1])) == 3
    assert f"#{krasnodar[0]} " in s.output and "Южный" in s.output and "Горячая" in s.output
    # the first lines of the table hold the biggest story: Krasnodar, 4 posts
    assert s.output.index(f"#{krasnodar[0]} ") < s.output.index("#", s.output.index(f"#{krasnodar[0]} ") + 2)
    again = replay(SAMPLE, "--db", db)
    assert again.exit_code == 0 and rows(db, "SELECT count(*) FROM alerts")[0][0] == alerts
    assert "https://t.me/" not in again.stdout and "UPDATE" not in again.stdout


def test_update_line_when_a_story_that_alerted_grows(tmp_path: Path) -> None:
    db, out = tmp_path / "s.db", tmp_path / "alerts.jsonl"
    first = tmp_path / "first"
    shutil.copytree(SAMPLE / "ChatExport_1700000001", first / "ChatExport_1700000001")
    r1 = replay(first, "--db", db)
    assert r1.exit_code == 0 and "UPDATE" not in r1.stdout
    r2 = replay(SAMPLE, "--db", db)
    assert r2.exit_code == 0, r2.output
    updates = [ln for ln in r2.stdout.splitlines() if ln.startswith("UPDATE")]
    assert updates, r2.stdout
    # Южный Телеграф's report came first, but said the soldiers left only in its 08:36 edit
    assert any(ln.startswith("UPDATE [desertion] story #") and "first: Южный Телеграф 07:52 (edited 08:36); also Сводка 24 08:07, "
               "Горячая линия 08:31" in ln for ln in updates), updates
    states = {s for (s,) in rows(db, "SELECT state FROM alerts")}
    assert states == {"sent"}
    # replaying again adds nothing: no alert, no update
    r3 = replay(SAMPLE, "--db", db, "--alerts", out)
    assert r3.exit_code == 0 and not out.exists() or out.read_text() == ""


def test_updates_go_to_jsonl_and_muted_stays_muted(tmp_path: Path) -> None:
    db, out = tmp_path / "s.db", tmp_path / "alerts.jsonl"
    first = tmp_path / "first"
    shutil.copytree(SAMPLE / "ChatExport_1700000001", first / "ChatExport_1700000001")
    assert replay(first, "--db", db, "--alerts", out).exit_code == 0
    n = len(out.read_text(encoding="utf-8").splitlines())
    assert replay(SAMPLE, "--db", db, "--alerts", out).exit_code == 0
    recs = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()[n:]]
    ups = [r for r in recs if r.get("update")]
    assert ups and all(r["summary"].startswith("first: ") and r["story_size"] > 1 for r in ups)
    # Южный Телеграф's 07:52 report, stored as edited at 08:36: the rules' words are from then
    edited = {(r["rule"], p["link"], p["edited_at"]) for r in ups for p in r["posts"] if p["edited_at"]}
    assert edited == {(rule, "https://t.me/c/1700000002/18737", "2026-11-20T08:36:40+00:00")
                      for rule in ("desertion", "lockdown", "regiment")}, edited  # (the export keeps its last text only)

    muted = tmp_path / "m.db"
    assert replay(first, "--db", muted, "--alerts", "none").exit_code == 0
    r = replay(SAMPLE, "--db", muted, "--alerts", "none")
    assert r.exit_code == 0 and "UPDATE" not in r.stdout
    assert {s for (s,) in rows(muted, "SELECT state FROM alerts")} == {"muted"}


def _partition(story_ids: list[int | None]) -> set[frozenset[int]]:
    """Which posts (by position) share a story, whatever the ids are."""
    groups: dict[int | None, set[int]] = {}
    for i, s in enumerate(story_ids):
        groups.setdefault(s, set()).add(i)
    return {frozenset(g) for g in groups.values()}


def _word_counts(pipe: Pipeline) -> tuple[int, dict[str, int]]:
    return pipe.stories.df.docs, dict(pipe.stories.df.counts)


@pytest.mark.parametrize("damage", ["none", "unreadable"])
def test_a_restart_ranks_words_as_a_run_that_never_stopped(tmp_path: Path, matcher: Matcher, damage: str) -> None:
    """A post is filed under its rarest words: after a restart their counts must be those of one
    run, not of the window alone (so rebuilt, a corpus replay in two parts folded 307 stories
    apart). Three runs: closed (counts saved), then killed (never closed), then the rest."""
    posts = sorted(sample_posts().values(), key=lambda p: p.date)
    window = 1.0  # hours: most of the sample is outside the window of its last posts
    assert posts[-1].date - posts[0].date > timedelta(hours=4 * window)
    with Pipeline(Store(tmp_path / "whole.db"), matcher, window_hours=window) as one:
        whole = [p.story_id for p in one.process(posts)]
    parts = [posts[: len(posts) // 3], posts[len(posts) // 3: 2 * len(posts) // 3], posts[2 * len(posts) // 3:]]
    db = tmp_path / "split.db"
    split: list[int | None] = []
    for i, part in enumerate(parts):
        store = Store(db)
        pipe = Pipeline(store, matcher, window_hours=window)
        split += [p.story_id for p in pipe.process(part, batch_size=5)]
        if i == 0:
            pipe.close()
            if damage == "unreadable":
                with store.transaction():
                    store.db.execute("UPDATE meta SET value = '[1, 2' WHERE key = 'story_words'")
        store.close()  # the second run is killed: what it counted was never saved
    assert _word_counts(pipe) == _word_counts(one)
    assert _partition(split) == _partition(whole)
    assert rows(db, "SELECT count(*) FROM meta WHERE key = 'story_words'") == [(1,)]
