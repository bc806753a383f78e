"""A channel's posts are linked as t.me/<name>/N in every face once the store knows its username,
whether or not it was known when each post was stored (a t.me/c link opens only for members)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner, Result

from bot.cli import cli

from .test_replay import HIT_TEXT, RULES, rows

NEWS, OTHER = 1700000042, 1700000043


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [*map(str, args)], env={"COLUMNS": "250"})


def replayed(tmp_path: Path) -> Path:
    """Channel NEWS: two posts before its username appears, one after; OTHER never has one. All
    three NEWS posts tell one story (the same text), so the story's first post is a nameless one."""
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    lines = [{"channel_id": NEWS, "message_id": 1, "date": 1790000000, "text": HIT_TEXT, "channel_title": "Новости"},
             {"channel_id": NEWS, "message_id": 2, "date": 1790000060, "text": HIT_TEXT + " Подробности позже."},
             {"channel_id": OTHER, "message_id": 7, "date": 1790000090, "text": HIT_TEXT, "channel_title": "Другой"},
             {"channel_id": NEWS, "message_id": 3, "date": 1790000120, "text": HIT_TEXT, "channel_username": "news_ru"}]
    feed.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    r = run("replay", feed, "--db", db, "--rules", RULES, "--alerts", "none")
    assert r.exit_code == 0, r.output
    return db


def test_every_face_links_a_named_channels_posts_by_its_name(tmp_path: Path) -> None:
    db = replayed(tmp_path)
    named = {f"https://t.me/news_ru/{n}" for n in (1, 2, 3)}
    other = f"https://t.me/c/{OTHER}/7"
    for args in (["search", "дезертир"], ["story", "1"], ["stories", "--min-size", "1", "--since", "2026-09-01"]):
        r = run(*args, "--db", db)
        assert r.exit_code == 0, r.output
        assert f"t.me/c/{NEWS}/" not in r.stdout, (args, r.stdout)
        assert "https://t.me/news_ru/1" in r.stdout, (args, r.stdout)
    s = run("search", "дезертир", "--db", db).stdout
    assert named | {other} <= set(s.split()), s
    csv_rows = list(csv.DictReader(io.StringIO(run("export", "--db", db, "--all-posts").stdout)))
    assert {r["link"] for r in csv_rows} == named | {other}
    assert {r["story_first"] for r in csv_rows if r["channel_id"] == str(NEWS)} == {"https://t.me/news_ru/1"}
    jsonl = [json.loads(x) for x in run("export", "--db", db, "--all-posts", "--format", "jsonl").stdout.splitlines()]
    assert {r["link"] for r in jsonl} == named | {other}
    # read right, not rewritten: the rows keep the link they were stored with
    assert rows(db, f"SELECT link FROM posts WHERE channel_id = {NEWS} ORDER BY message_id")[0] == (
        f"https://t.me/c/{NEWS}/1",)


def test_a_nameless_channels_link_still_finds_it(tmp_path: Path) -> None:
    """--channel takes the link of a post as a face showed it before and after the name was known."""
    db = replayed(tmp_path)
    for ref in (f"t.me/c/{NEWS}/1", "https://t.me/news_ru/1"):
        r = run("export", "--db", db, "--all-posts", "--channel", ref)
        assert r.exit_code == 0, r.output
        assert {row["message_id"] for row in csv.DictReader(io.StringIO(r.stdout))} == {"1", "2", "3"}


def test_an_alert_links_its_post_and_story_by_the_channels_name_once_known(tmp_path: Path) -> None:
    """An alert loaded to be sent or updated after the channel's username became known (the live
    sender edits it as the story grows) linked its post and story as t.me/c/<id>/N, like the rows."""
    from bot.alert.outbox import load_alert
    from bot.store.db import Store

    store = Store(replayed(tmp_path))
    try:
        ids = [int(i) for (i,) in store.db.execute("SELECT id FROM alerts WHERE channel_id = ? ORDER BY id", [NEWS])]
        alert = load_alert(store, ids[0])
    finally:
        store.close()
    assert alert is not None and alert.link == "https://t.me/news_ru/1"
    assert [link for _, _, link in alert.story if "news_ru" in link or "/c/" + str(NEWS) in link] == [
        f"https://t.me/news_ru/{n}" for n in (1, 2, 3)]
