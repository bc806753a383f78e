"""A restart folds the posts that come next as a run that never stopped (bot.story.index `_load`).

A post is filed for near joins under its rarest words, ranked by the word counts of when it came.
A restart read the window back from the store and filed each post by the counts of the restart: a
word that had become common since dropped out of a post's keys and a rarer one came in, so a later
post found (or missed) it only after the restart. The live service restarts, a replay of the same
posts does not: the corpus slice of test_live_vs_replay folded posts apart that way with a looser
rule. A post's words are weighed by their rarity too, once: a restart weighed them again.
The posts are made up: a report (15 words, the last three about an evacuation), a shorter repost
of its first words, then a note on the evacuation that shares only those last three.
A post a later batch edited is filed by the counts of the restart: the store marks such posts by
a posts rowid (`posts.edited_after`), not by seconds, which told an edit in its post's second apart.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from itertools import chain, repeat
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.match.matcher import Matcher
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .fake_telegram import FakeTelegram, eventually
from .test_live import MASH, SHOT, TOPOR, channels, run, running

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
REPORT = ("Аварийные бригады всю ночь восстанавливали газопровод: движение закрыто, жильцов известили, "
          "котельная молчит. Эвакуация южного ярмарочного павильона.")
REPOST = "Аварийные бригады восстанавливают газопровод, движение закрыто."
NOTE = "Эвакуация южного ярмарочного рынка."
TEXTS = [(SHOT, REPORT), (MASH, REPOST), (TOPOR, NOTE)]
WEATHER = "Погода в Москве: завтра до +5, без осадков, ветер слабый."


def posts() -> list[Post]:
    """The report, the repost, an unrelated post, the note."""
    return [Post(channel, i + 1, T0 + timedelta(minutes=10 * i), text, channel_title=str(channel))
            for i, (channel, text) in enumerate([*TEXTS[:2], (MASH, WEATHER), TEXTS[2]])]


def stories(store: Store, batch: list[Post], *, close: bool = True) -> list[int]:
    """The story of each post of one run; `close=False`: the run is killed (no word counts saved)."""
    pipe = Pipeline(store, Matcher([]))
    ids = [p.story_id for p in pipe.process(batch)]
    if close:
        pipe.close()
    store.close()
    return ids  # type: ignore[return-value]


@pytest.mark.parametrize("killed", [False, True], ids=["stopped", "then-killed"])
def test_a_post_after_a_restart_joins_the_story_it_joins_in_one_run(tmp_path: Path, killed: bool) -> None:
    """Stopped after the repost (the counts saved), then started again: with `killed`, one more run
    stores the unrelated post and is killed (its counts never saved: counted again at the start)."""
    whole = stories(Store(tmp_path / "whole.db"), posts())
    assert whole[0] == whole[1] and len(set(whole)) == 3  # the repost joins the report; the note shares 3 of its 15 words
    db = tmp_path / "split.db"
    parts = stories(Store(db), posts()[:2])
    if killed:
        parts += stories(Store(db), posts()[2:3], close=False)
    parts += stories(Store(db), posts()[len(parts):])
    assert parts == whole


METEOR = "Над Челябинском вечером жители видели яркий метеорит, обсерватория подтверждает."
FIREWORKS = "Вечером жители видели салют над набережной: праздник города, концерт, ярмарка, фейерверк."
EVENING = [  # each shares two of the meteor post's everyday words, too few to be compared with it
    "Вечером жители Перми остались без горячей воды: авария на теплотрассе, ремонт продлится сутки.",
    "Жители видели пожар на складе: огонь охватил крышу, пожарные расчеты тушили пламя до утра.",
    "Вечером видели лося на проспекте: животное вышло из леса, полиция перекрыла движение транспорта.",
    "Жители жалуются вечером на шум стройки: бригада работает круглосуточно, мэрия обещает проверку.",
    "Видели очередь у банкомата: вечером сбой платежной системы, карты отказывали покупателям магазинов.",
    "Жители видели утечку газа у школы: уроки отменили, аварийная служба заменила трубу.",
    "Вечером жители собрали подписи против вырубки парка: петиция ушла губернатору, депутаты молчат.",
    "Видели вечером колонну грузовиков с зерном: фермеры протестуют против закупочных цен элеватора.",
]
PHOTOS = "Метеорит над Челябинском: обсерватория опубликовала снимки, осколки ищут поисковые отряды МЧС."


@pytest.mark.parametrize("weighed", ["before", "after"])
def test_a_post_is_weighed_after_a_restart_as_in_one_run(tmp_path: Path, weighed: str) -> None:
    """Eight posts make the meteor post's everyday words («вечером», «жители», «видели») common, so
    its meteor words weigh more of it; the photos post shares only those. The meteor post was
    weighed when first compared (with the fireworks post, `before` or `after` the eight), and a
    restart weighed it again: the photos post joined it in one of the two runs. Now it is weighed
    when it comes, and a restart weighs it by the counts of then: the photos post joins in neither."""
    others = [Post(TOPOR, i + 1, T0, text) for i, text in enumerate(EVENING)]
    others.insert(0 if weighed == "before" else len(others), Post(MASH, 1, T0, FIREWORKS))
    batch = [Post(SHOT, 1, T0, METEOR, channel_title="a")]
    batch += [replace(p, date=T0 + timedelta(minutes=2 * i + 1)) for i, p in enumerate(others)]
    batch.append(Post(TOPOR + 1, 1, T0 + timedelta(minutes=30), PHOTOS))
    whole = stories(Store(tmp_path / "whole.db"), batch)
    assert len(set(whole)) == len(batch)
    db = tmp_path / "split.db"
    assert stories(Store(db), batch[:-1]) + stories(Store(db), batch[-1:]) == whole


def partition(db: Path) -> set[frozenset[str]]:
    """Which posts (by text) share a story in a store."""
    con = sqlite3.connect(db)
    try:
        members: dict[int, set[str]] = {}
        for text, story in con.execute("SELECT text, story_id FROM posts"):
            members.setdefault(story, set()).add(text)
    finally:
        con.close()
    return {frozenset(m) for m in members.values()}


def test_the_live_service_restarted_folds_as_a_replay_of_its_posts(fake: FakeTelegram, tmp_path: Path) -> None:
    """The service stores the report and its repost, is stopped and started again, then stores the
    note: its stories are those `tgwatch replay` makes of the same posts."""
    live = tmp_path / "tgwatch.db"

    async def go() -> None:
        channels(fake)
        for i, (channel, text) in enumerate(TEXTS):
            async with running(fake, tmp_path) as service:  # a run per post: restarts between them
                fake.publish(channel, text)
                await eventually(lambda: service.store.count("posts") == i + 1)
    run(go())

    con = sqlite3.connect(live)
    rows = con.execute("SELECT channel_id, message_id, date, text FROM posts ORDER BY rowid").fetchall()
    con.close()
    lines = tmp_path / "posts.jsonl"
    lines.write_text("".join(json.dumps({"channel_id": c, "message_id": m, "date": d, "text": t}, ensure_ascii=False)
                             + "\n" for c, m, d, t in rows), encoding="utf-8")
    r = CliRunner().invoke(cli, ["replay", str(lines), "--db", str(tmp_path / "replay.db"), "--alerts", "none"])
    assert r.exit_code == 0, r.output
    assert partition(live) == partition(tmp_path / "replay.db") == {frozenset(t for _, t in TEXTS[:2]),
                                                                   frozenset([NOTE])}


FLASH = "Аварийные бригады восстанавливали газопровод."


def edited_batches() -> list[list[Post]]:
    """The report first published as a flash, its repost, the flash edited into the report (a batch of
    its own, later), the note: batches of the live service as they came."""
    flash = Post(SHOT, 1, T0, FLASH, channel_title=str(SHOT))
    return [[flash], [Post(MASH, 2, T0 + timedelta(minutes=10), REPOST)],
            [replace(flash, text=REPORT, edit_date=T0 + timedelta(minutes=15))],
            [Post(TOPOR, 3, T0 + timedelta(minutes=30), NOTE)]]


def run_batches(db: Path, batches: list[list[Post]], *, restart: bool) -> set[frozenset[str]]:
    """Store each batch in turn, in one run or (`restart`) a run per batch; the stories made."""
    pipe = Pipeline(Store(db), Matcher([]))
    for i, batch in enumerate(batches):
        if restart and i:
            pipe.close()
            pipe.store.close()
            pipe = Pipeline(Store(db), Matcher([]))
        list(pipe.process(batch))
    pipe.close()
    pipe.store.close()
    return partition(db)


def clock(monkeypatch: pytest.MonkeyPatch, after_edit: int) -> None:
    """The stores' clock (`utcnow`, whole seconds) from now on: the first batch's second, then
    `after_edit` seconds later for every later batch."""
    stamps = chain(["2026-11-30T10:00:07+00:00"], repeat(f"2026-11-30T10:00:{7 + after_edit:02d}+00:00"))
    monkeypatch.setattr("bot.pipeline.utcnow", lambda: next(stamps))


@pytest.mark.parametrize("edit_second", ["its-post's", "a-later"])
def test_an_edit_folds_after_a_restart_as_in_one_run_whatever_its_second(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit_second: str) -> None:
    """The flash, edited into the report by a later batch, is filed after a restart as the run that
    never stopped filed the edit, so the note joins it in both; the restart told the edit by
    `updated_at > first_seen`, whole seconds: an edit stored in its post's second (a fast machine, or
    one under load, either way) was filed by the counts of the flash's time, and the note stayed apart."""
    after_edit = 0 if edit_second == "its-post's" else 1
    clock(monkeypatch, after_edit)
    whole = run_batches(tmp_path / "whole.db", edited_batches(), restart=False)
    assert whole == {frozenset([REPOST, REPORT, NOTE])}
    clock(monkeypatch, after_edit)
    assert run_batches(tmp_path / "split.db", edited_batches(), restart=True) == whole


def as_schema_22(db: Path) -> None:
    """Make the store as the release before migration 23 left it: no edit marks (`posts.edited_after`)."""
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE posts DROP COLUMN edited_after")
    con.execute("PRAGMA user_version = 22")
    con.commit()
    con.close()


@pytest.mark.parametrize("history", ["edited-in-its-second", "never-edited"])
def test_a_store_of_schema_22_folds_after_the_upgrade_as_one_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, history: str) -> None:
    """An older store tells no edit in its post's second (its marks are seconds): the upgrade marks
    every post Telegram shows edited, so the flash edited into the report is filed as the run that
    never stopped filed it and the note joins it; a post never edited stays filed as counted (the
    note stays apart from the report, as in one run), not by the counts of the restart."""
    clock(monkeypatch, 0)
    batches = edited_batches() if history == "edited-in-its-second" else [[p] for p in posts()]
    whole = run_batches(tmp_path / "whole.db", batches, restart=False)
    db = tmp_path / "old.db"
    run_batches(db, batches[:-1], restart=True)
    as_schema_22(db)
    assert run_batches(db, batches[-1:], restart=True) == whole
