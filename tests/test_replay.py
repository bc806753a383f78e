"""`tgwatch replay` end to end, on a real SQLite file per test, with the shipped rules and sample."""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import sqlite3
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.alert.outbox import deliver_queued
from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Entity, Post
from bot.source import read_paths
from bot.source.export import read_export
from bot.store.db import REPLAY, Store
from bot.store.read import count_search
from .conftest import interruptible

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
SAMPLE = ROOT / "examples" / "export"
TABLES = ("channels", "posts", "matches", "stories", "alerts")
HIT_TEXT = "В Краснодаре задержали дезертиров"  # matches `desertion` only
QUIET_TEXT = "Погода в Краснодаре: солнечно"     # matches nothing


def replay(*args: Any) -> Result:
    return CliRunner().invoke(cli, ["replay", *map(str, args), "--rules", str(RULES)])


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


def summary(result: Result) -> dict[str, str]:
    """The summary table: label -> value (first column may contain spaces)."""
    out: dict[str, str] = {}
    for line in result.stdout.splitlines():
        for label in ("files", "posts read", "new", "edited", "already stored", "before --since", "skipped",
                      "new stories", "joined a story", "new alerts", "store"):
            if line.startswith(label + " ") and line[len(label):].startswith("  "):
                out.setdefault(label, line[len(label):].strip())
    return out


def alert_blocks(result: Result) -> int:
    """Alerts printed on the terminal: each block has one meta line with the post link."""
    return sum(1 for line in result.stdout.splitlines() if "https://t.me/" in line)


def one_line_error(result: Result, starts: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(starts), result.stderr
    assert "Traceback" not in result.output


def export(path: Path, messages: list[dict[str, Any]], chat_id: int = 1700000042, name: str = "Тестовый") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"name": name, "type": "public_channel", "id": chat_id, "messages": messages},
                               ensure_ascii=False), encoding="utf-8")
    return path


def message(mid: int, text: Any, unix: int = 1790000000, edited: int | None = None) -> dict[str, Any]:
    m: dict[str, Any] = {"id": mid, "type": "message", "date": "2026-09-21T12:53:20", "date_unixtime": str(unix),
                         "text": text}
    if edited is not None:
        m["edited"], m["edited_unixtime"] = "2026-09-21T13:00:00", str(edited)
    return m


def jsonl_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []




def test_a_full_account_export_replays_its_channels_and_names_the_chats_it_leaves(tmp_path: Path) -> None:
    """Personal chats are someone's private conversations: a word a rule watches in one («дезертир»
    in a chat with Mum) must never become a HIGH alert with a link that leads nowhere."""
    chats = [{"name": "Канал", "type": "public_channel", "id": 11, "messages": [message(1, HIT_TEXT)]},
             {"name": "Мама", "type": "personal_chat", "id": 12, "messages": [message(1, HIT_TEXT)]}]
    (tmp_path / "result.json").write_text(json.dumps({"chats": {"list": chats}}, ensure_ascii=False), encoding="utf-8")
    db = tmp_path / "s.db"
    r = replay(tmp_path / "result.json", "--db", db)
    assert r.exit_code == 0, r.output
    assert alert_blocks(r) == 1 and "Мама" not in r.stdout
    assert summary(r)["skipped"] == "1 (0 service messages, 1 non-channel chat, 0 errors)"
    assert f"skipped {tmp_path / 'result.json'}: chat #1 (Мама): a personal chat: not a channel, not read" in r.stderr
    assert rows(db, "SELECT channel_id FROM posts") == [(11,)]


# -- the sample -----------------------------------------------------------------------------------


def test_replay_sample_prints_alerts_and_summary(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    r = replay(SAMPLE, "--db", db)
    assert r.exit_code == 0, r.output
    n = counts(db)
    assert n["posts"] == 63 and n["channels"] == 3 and n["alerts"] > 0
    s = summary(r)
    assert s["files"] == "3" and s["posts read"] == "63" and s["new"] == "63" and s["already stored"] == "0"
    assert s["skipped"].startswith("3 (3 service messages, 0 errors")
    assert s["new alerts"] == str(n["alerts"])
    assert alert_blocks(r) == n["alerts"]
    # what folding did: every new post started a story or joined one, by one of three ways
    (stories,), = rows(db, "SELECT count(*) FROM stories")
    assert s["new stories"] == str(stories)
    joined = re.fullmatch(r"(\d+) \((\d+) forwards, (\d+) same text, (\d+) reworded\)", s["joined a story"])
    assert joined and int(joined[1]) == 63 - stories == sum(map(int, joined.groups()[1:])) and int(joined[4]) > 0
    for rule in ("[desertion]", "[lockdown]", "[regiment]"):
        assert rule in r.stdout
    # the edited post whose keywords are only in the UPD, and the Latin-p obfuscation, both alert
    alerted = {(c, m) for c, m in rows(db, "SELECT channel_id, message_id FROM alerts WHERE rule = 'desertion'")}
    assert (1700000002, 18737) in alerted
    assert all(state == "sent" for (state,) in rows(db, "SELECT state FROM alerts"))


def test_the_readmes_quoted_sample_lines_are_what_the_sample_prints(tmp_path: Path) -> None:
    """The front door quotes the sample's output: those lines must be printed as quoted."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = re.findall(r"\(`(matched: [^`]+|story #\d+ \(\d+ posts\): [^`]+)`\)", readme)
    assert len(quoted) == 2, quoted
    r = CliRunner().invoke(cli, ["replay", str(SAMPLE), "--db", str(tmp_path / "s.db"), "--rules", str(RULES)],
                           env={"COLUMNS": "400"})
    assert r.exit_code == 0, r.output
    printed = {line.strip() for line in r.stdout.splitlines()}
    assert set(quoted) <= printed, set(quoted) - printed


def test_the_samples_answer_key_is_what_the_shipped_rules_match(tmp_path: Path) -> None:
    key: dict[str, set[int]] = {}
    for line in (ROOT / "examples" / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] in ("desertion", "regiment", "lockdown", "confusables"):
            key[cells[0]] = {int(x) for c in cells[1:] for x in c.replace(",", " ").split()}
    assert len(key) == 4
    db = tmp_path / "s.db"
    assert replay(SAMPLE, "--db", db, "--alerts", "none").exit_code == 0
    matched: dict[str, set[int]] = {}
    for mid, rule in rows(db, "SELECT message_id, rule FROM matches WHERE current = 1"):
        matched.setdefault(rule, set()).add(mid)
    assert {r: matched.get(r, set()) for r in ("desertion", "regiment", "lockdown")} == \
        {r: key[r] for r in ("desertion", "regiment", "lockdown")}
    assert not key["confusables"] & set().union(*matched.values())


def test_replaying_twice_stores_and_alerts_nothing_new(tmp_path: Path) -> None:
    db, out = tmp_path / "s.db", tmp_path / "alerts.jsonl"
    first = replay(SAMPLE, "--db", db, "--alerts", out)
    assert first.exit_code == 0, first.output
    before, lines = counts(db), len(jsonl_lines(out))
    assert lines == before["alerts"] > 0
    again = replay(SAMPLE, "--db", db, "--alerts", out)
    assert again.exit_code == 0, again.output
    assert counts(db) == before
    assert len(jsonl_lines(out)) == lines
    s = summary(again)
    assert (s["new"], s["edited"], s["already stored"], s["new alerts"]) == ("0", "0", "63", "0")
    third = replay(SAMPLE, "--db", db)  # terminal: nothing printed either
    assert third.exit_code == 0 and alert_blocks(third) == 0 and summary(third)["new"] == "0"
    assert counts(db) == before


def test_edits_alert_once_and_identical_edits_are_unchanged(tmp_path: Path) -> None:
    db, out, f = tmp_path / "s.db", tmp_path / "a.jsonl", tmp_path / "chat" / "result.json"
    other = message(2, "Курс доллара не изменился")
    export(f, [message(1, QUIET_TEXT), other])
    r = replay(f, "--db", db, "--alerts", out)
    assert r.exit_code == 0 and summary(r)["new"] == "2" and counts(db)["alerts"] == 0

    export(f, [message(1, HIT_TEXT, edited=1790000600), other])  # the edit adds a keyword
    r = replay(f, "--db", db, "--alerts", out)
    s = summary(r)
    assert (s["new"], s["edited"], s["already stored"], s["new alerts"]) == ("0", "1", "1", "1"), r.output
    assert counts(db)["alerts"] == 1 and counts(db)["posts"] == 2
    [rec] = jsonl_lines(out)
    assert rec["rule"] == "desertion" and rec["message_id"] == 1 and rec["text"] == HIT_TEXT
    assert rows(db, "SELECT text, edit_date FROM posts WHERE message_id = 1") == [
        (HIT_TEXT, datetime.fromtimestamp(1790000600, timezone.utc).isoformat())]

    again = HIT_TEXT + ". UPD: ещё двое дезертиров задержаны утром"  # edited again, same keyword
    export(f, [message(1, again, edited=1790000900), other])
    r = replay(f, "--db", db, "--alerts", out)
    s = summary(r)
    assert (s["edited"], s["new alerts"]) == ("1", "0"), r.output
    assert counts(db)["alerts"] == 1 and len(jsonl_lines(out)) == 1
    assert rows(db, "SELECT text FROM posts WHERE message_id = 1") == [(again,)]

    # an "edit" that changes nothing in the text (a reaction, a later edit date): unchanged
    export(f, [message(1, again, edited=1790009999), other])
    r = replay(f, "--db", db, "--alerts", out)
    s = summary(r)
    assert (s["new"], s["edited"], s["already stored"], s["new alerts"]) == ("0", "0", "2", "0"), r.output
    assert counts(db)["alerts"] == 1 and len(jsonl_lines(out)) == 1
    assert rows(db, "SELECT count(*) FROM stories") == [(2,)]


def test_an_older_or_partial_export_never_overwrites_a_stored_post(tmp_path: Path) -> None:
    """Replaying the export made before an edit, or a line that lost its text, keeps what is stored."""
    db, f = tmp_path / "s.db", tmp_path / "chat" / "result.json"
    later = HIT_TEXT + ". UPD: задержаны трое"
    export(f, [message(1, later, edited=1790000600)])
    assert replay(f, "--db", db, "--alerts", "none").exit_code == 0

    export(f, [message(1, HIT_TEXT)])  # the export made before the edit
    r = replay(f, "--db", db, "--alerts", "none")
    assert r.exit_code == 0 and summary(r)["edited"] == "0", r.output
    assert "older than stored" in r.stdout
    export(f, [message(1, HIT_TEXT, edited=1790000300)])  # an earlier edit
    assert summary(replay(f, "--db", db, "--alerts", "none"))["edited"] == "0"
    export(f, [message(1, "", edited=1790000600)])  # the text lost, no later edit
    assert summary(replay(f, "--db", db, "--alerts", "none"))["edited"] == "0"
    assert rows(db, "SELECT text FROM posts") == [(later,)]
    assert rows(db, "SELECT rule, current FROM matches") == [("desertion", 1)]

    export(f, [message(1, "", edited=1790000900)])  # a real later edit may empty a caption
    r = replay(f, "--db", db, "--alerts", "none")
    assert summary(r)["edited"] == "1", r.output
    assert rows(db, "SELECT text FROM posts") == [("",)]


def test_jsonl_line_without_text_keeps_the_stored_text(tmp_path: Path) -> None:
    db, f = tmp_path / "s.db", tmp_path / "posts.jsonl"
    line = {"channel_id": 777, "message_id": 1, "date": "2026-11-20T09:04:00Z", "text": HIT_TEXT}
    f.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    assert replay(f, "--db", db, "--alerts", "none").exit_code == 0
    del line["text"]
    f.write_text(json.dumps(line) + "\n", encoding="utf-8")
    r = replay(f, "--db", db, "--alerts", "none")
    assert r.exit_code == 0 and summary(r)["edited"] == "0", r.output
    assert rows(db, "SELECT text FROM posts") == [(HIT_TEXT,)]
    assert rows(db, "SELECT current FROM matches") == [(1,)]


def test_jsonl_lines_that_do_not_name_their_channel_keep_its_names(tmp_path: Path) -> None:
    db, f, later = tmp_path / "s.db", tmp_path / "posts.jsonl", tmp_path / "later.jsonl"
    named = {"channel_id": 777, "message_id": 1, "date": "2026-11-20T09:04:00Z", "text": QUIET_TEXT,
             "channel_title": "Mash", "channel_username": "mash"}
    bare = {"channel_id": 777, "message_id": 2, "date": "2026-11-20T09:10:00Z", "text": HIT_TEXT}
    f.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in (named, bare)) + "\n", encoding="utf-8")
    r = replay(f, "--db", db, "--alerts", tmp_path / "a.jsonl")
    assert r.exit_code == 0, r.output
    later.write_text(json.dumps({**bare, "message_id": 3, "date": "2026-11-27T09:00:00Z"}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    r = replay(later, "--db", db)  # another run, a week later: the names come from the store
    assert r.exit_code == 0, r.output
    assert rows(db, "SELECT title, username FROM channels") == [("Mash", "mash")]
    assert [x["channel"] for x in jsonl_lines(tmp_path / "a.jsonl")] == ["Mash"]
    assert rows(db, "SELECT message_id, link FROM posts ORDER BY message_id") == [
        (1, "https://t.me/mash/1"), (2, "https://t.me/mash/2"), (3, "https://t.me/mash/3")]
    assert "Mash" in r.stdout and "https://t.me/mash/3" in r.stdout


def test_the_summary_counts_the_updates_and_earlier_alerts_it_shows(tmp_path: Path) -> None:
    db, first, reposts = tmp_path / "s.db", tmp_path / "first.jsonl", tmp_path / "reposts.jsonl"
    line = {"channel_id": 777, "message_id": 1, "date": "2026-11-20T09:04:00Z", "text": HIT_TEXT, "channel_title": "A"}
    first.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    assert replay(first, "--db", db).exit_code == 0
    reposts.write_text("".join(json.dumps({**line, "channel_id": c, "channel_title": t, "date": f"2026-11-20T09:{m}:00Z"},
                                          ensure_ascii=False) + "\n" for c, t, m in ((778, "B", 10), (779, "C", 12))),
                       encoding="utf-8")
    r = replay(reposts, "--db", db)
    assert r.exit_code == 0, r.output
    updates = [x for x in r.stdout.splitlines() if x.startswith("UPDATE")]
    assert len(updates) == 1 and "first: A 09:04; also B 09:10, C 09:12" in updates[0], r.stdout
    assert "alert updates      1" in r.stdout

    # alerts a run queued but never showed (it was stopped first) are shown by the next, and said so
    store = Store(db, owner=REPLAY)
    list(Pipeline(store, Matcher(load_rules(RULES))).process([Post(900, 1, datetime(2026, 11, 25, tzinfo=timezone.utc),
                                                                   "В Ростове задержаны дезертиры из части")]))
    store.close()
    r = replay(first, "--db", db)
    assert r.exit_code == 0 and alert_blocks(r) == 1, r.output
    assert summary(r)["new alerts"] == "0" and "from earlier runs  1 (queued, not shown until now)" in r.stdout



def test_an_alert_the_live_service_takes_over_while_a_replay_shows_it_stays_queued_for_the_chat(tmp_path: Path) -> None:
    """A replay reads its queue, then the live service takes a queued alert over (a watched channel
    reported the replayed story live) before the replay marks it shown: it stays the service's and
    queued, so the chat still gets it (the terminal showed it too; nothing is lost)."""
    db = tmp_path / "s.db"
    store = Store(db, owner=REPLAY)
    list(Pipeline(store, Matcher(load_rules(RULES))).process([Post(900, 1, datetime(2026, 11, 25, tzinfo=timezone.utc), HIT_TEXT)]))
    live = Store(db)  # the service's connection

    class TakenOverWhileShown:
        shown: list[int] = []

        def send(self, alert: Any) -> None:
            self.shown.append(alert.id)
            live.db.execute("UPDATE alerts SET owner = 'live', state = 'queued' WHERE id = ?", [alert.id])

    sink = TakenOverWhileShown()
    assert deliver_queued(store, sink) == 1 and len(sink.shown) == 1
    assert [int(r["id"]) for r in live.queued_alerts()] == sink.shown  # type: ignore[arg-type]
    assert store.queued_alerts() == []
    store.close()
    live.close()

@pytest.mark.parametrize("db, says", [
    ("", "--db: empty path"),
    ("{tmp}", "is a folder, expected a database file"),
    ("{tmp}/missing/s.db", "folder {tmp}/missing does not exist"),
])
def test_a_bad_db_path_is_one_clear_line(tmp_path: Path, db: str, says: str) -> None:
    r = replay(SAMPLE, "--db", db.format(tmp=tmp_path), "--alerts", "none")
    assert r.exit_code == 2 and r.output.strip() == "error: " + f"{db.format(tmp=tmp_path)}: {says.format(tmp=tmp_path)}".removeprefix(": ")
    assert not (tmp_path / "missing").exists()


def test_nothing_to_replay_is_an_error_and_creates_no_database(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = replay(tmp_path / "nope", tmp_path / "empty", "--db", tmp_path / "s.db")
    assert r.exit_code == 2 and r.output.startswith("error: nothing to replay: "), r.output
    assert "nope: no such file or directory" in r.output and "no result.json" in r.output
    assert not (tmp_path / "s.db").exists()


def test_files_of_which_not_one_post_is_readable_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n", encoding="utf-8")
    r = replay(bad, "--db", tmp_path / "s.db", "--alerts", "none")
    assert r.exit_code == 1 and "bad.jsonl: line 1: not valid JSON" in r.output, r.output


def test_alerts_file_may_not_be_an_input(tmp_path: Path) -> None:
    f = tmp_path / "posts.jsonl"
    f.write_text(json.dumps({"channel_id": 1, "message_id": 1, "date": "2026-11-20T09:04:00Z", "text": HIT_TEXT},
                            ensure_ascii=False) + "\n", encoding="utf-8")
    before = f.read_bytes()
    r = replay(f, "--db", tmp_path / "s.db", "--alerts", f)
    assert r.exit_code == 2 and "is one of the files being replayed" in r.output, r.output
    assert f.read_bytes() == before


def test_since_skips_old_posts(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    since = datetime(2026, 11, 22, tzinfo=timezone.utc)
    posts = [p for p in read_paths([SAMPLE]) if isinstance(p, Post)]
    recent = {p.key for p in posts if p.date >= since}
    assert 0 < len(recent) < len(posts)
    r = replay(SAMPLE, "--db", db, "--since", "2026-11-22")
    assert r.exit_code == 0, r.output
    s = summary(r)
    assert s["before --since"] == str(len(posts) - len(recent)) and s["new"] == str(len(recent))
    assert set(rows(db, "SELECT channel_id, message_id FROM posts")) == recent
    assert {(c, m) for c, m in rows(db, "SELECT channel_id, message_id FROM alerts")} <= recent


def test_alerts_none_records_but_prints_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    r = replay(SAMPLE, "--db", db, "--alerts", "none")
    assert r.exit_code == 0, r.output
    assert alert_blocks(r) == 0 and "[desertion]" not in r.stdout
    n = counts(db)
    assert n["posts"] == 63 and n["matches"] > 0 and n["alerts"] > 0
    assert {s for (s,) in rows(db, "SELECT DISTINCT state FROM alerts")} == {"muted"}
    assert summary(r)["new alerts"] == str(n["alerts"])
    later = replay(SAMPLE, "--db", db)  # muted alerts are never delivered later
    assert alert_blocks(later) == 0


def test_alerts_jsonl_file_one_object_per_alert(tmp_path: Path) -> None:
    db, out = tmp_path / "s.db", tmp_path / "out" / "alerts.jsonl"
    out.parent.mkdir()
    r = replay(SAMPLE, "--db", db, "--alerts", out)
    assert r.exit_code == 0, r.output
    assert alert_blocks(r) == 0
    recs = jsonl_lines(out)
    assert len(recs) == counts(db)["alerts"] > 0
    assert len({(x["rule"], x["story_id"]) for x in recs}) == len(recs)
    for x in recs:
        assert x["rule"] in ("desertion", "lockdown", "regiment")
        assert x["link"] == f"https://t.me/c/{x['channel_id']}/{x['message_id']}"
        assert x["hits"] and x["terms"]
        for h in x["hits"]:
            assert {"term", "form", "start", "end"} <= h.keys()
            assert 0 <= h["start"] < h["end"] <= len(x["text"])



def test_jsonl_alerts_get_an_update_line_when_the_channel_deletes_a_post_of_the_story(tmp_path: Path) -> None:
    """The terminal and the chat say when a channel deletes a post of an alerted story; the JSON
    Lines file said nothing, so whatever reads it kept the post as standing. Each deletion now adds
    an update line with the alerted post's `deleted_at` and each post's `deleted`, also when the
    story's size is the same as in the update line before it (a run compared only the size with
    the file's last line and took the deletion's line for a re-send of that one)."""
    db, out = tmp_path / "s.db", tmp_path / "a.jsonl"
    a = export(tmp_path / "a" / "result.json", [message(1, HIT_TEXT)])
    b = export(tmp_path / "b" / "result.json", [message(7, HIT_TEXT, unix=1790000300)], chat_id=1700000043, name="Второй")
    at1, at2 = "2026-09-21T14:00:00+00:00", "2026-09-21T15:00:00+00:00"

    def deleted(channel_id: int, message_id: int, at: str) -> None:
        store = Store(db)
        try:
            assert store.mark_deleted(channel_id, [message_id], at) == [message_id]
        finally:
            store.close()

    assert replay(a, "--db", db, "--alerts", out).exit_code == 0
    [alert] = jsonl_lines(out)
    assert alert["deleted_at"] is None and "update" not in alert
    deleted(1700000042, 1, at1)
    assert replay(a, "--db", db, "--alerts", out).exit_code == 0
    [_, gone] = jsonl_lines(out)
    assert gone["update"] is True and gone["alert_id"] == alert["alert_id"] and gone["deleted_at"] == at1, gone
    assert replay(b, "--db", db, "--alerts", out).exit_code == 0  # Второй copies the post: the story grows
    grown = jsonl_lines(out)[2]
    assert grown["story_size"] == 2 and grown["deleted_at"] == at1
    assert [p["deleted"] for p in grown["posts"]] == [True, False] and grown["summary"].count("🗑") == 1
    deleted(1700000043, 7, at2)
    assert replay(b, "--db", db, "--alerts", out).exit_code == 0
    lines = jsonl_lines(out)
    assert len(lines) == 4, lines
    assert lines[3]["story_size"] == 2 and [p["deleted"] for p in lines[3]["posts"]] == [True, True]
    assert lines[3]["summary"].count("🗑") == 2
    assert replay(b, "--db", db, "--alerts", out).exit_code == 0 and len(jsonl_lines(out)) == 4  # told once


# -- bad input ------------------------------------------------------------------------------------


def test_malformed_file_next_to_good_ones(tmp_path: Path) -> None:
    src, db = tmp_path / "in", tmp_path / "s.db"
    shutil.copytree(SAMPLE / "ChatExport_1700000001", src / "ChatExport_1700000001")
    good = (SAMPLE / "ChatExport_1700000002" / "result.json").read_bytes()
    bad = src / "ChatExport_1700000002" / "result.json"
    bad.parent.mkdir()
    bad.write_bytes(good[: len(good) // 2])  # truncated export
    (src / "extra.jsonl").write_text(
        json.dumps({"channel_id": -1001700000077, "message_id": 1, "date": "2026-11-21T10:00:00Z", "text": HIT_TEXT},
                   ensure_ascii=False) + "\n", encoding="utf-8")
    r = replay(src, "--db", db)
    assert r.exit_code == 0, r.output
    # the messages before the cut are stored too (they were lost with the whole file before streaming)
    kept = sum(1 for p in read_export(bad) if isinstance(p, Post))
    assert kept > 0 and counts(db)["posts"] == 22 + 1 + kept
    assert rows(db, "SELECT DISTINCT channel_id FROM posts ORDER BY 1") == [(1700000001,), (1700000002,), (1700000077,)]
    mentions = [ln for ln in r.stderr.splitlines() if str(bad) in ln]
    assert len(mentions) == 1 and mentions[0].startswith("skipped ") and "not valid JSON" in mentions[0]
    assert ": after message #" in mentions[0]
    assert "Traceback" not in r.output and summary(r)["skipped"].endswith("1 error)")


@pytest.mark.parametrize("record, stored, warning", [
    ({"text": "\ud83d дезертир"}, [(1,), (3,)], None),  # half an emoji, as some exporters write it: the text is bad
    ({"media": ["photo"]}, [(1,), (2,), (3,)], "media must be a string: the post is kept without its media kind"),
    ({"forward_name": {"name": "x"}}, [(1,), (2,), (3,)],
     "forward_name must be a string: the post is kept without its forward origin"),
], ids=["lone-surrogate", "media-list", "forward-name-object"])
def test_bad_jsonl_values_next_to_good_ones(tmp_path: Path, record: dict[str, Any], stored: list[tuple[int]],
                                           warning: str | None) -> None:
    db, f = tmp_path / "s.db", tmp_path / "in.jsonl"
    base = {"channel_id": 5, "date": 1790000000, "text": QUIET_TEXT}
    f.write_text("\n".join(json.dumps(x) for x in (
        {**base, "message_id": 1}, {**base, "message_id": 2, **record}, {**base, "message_id": 3})) + "\n")
    r = replay(f, "--db", db, "--alerts", "none")
    assert r.exit_code == 0 and r.exception is None, r.output
    assert rows(db, "SELECT message_id FROM posts ORDER BY 1") == stored
    if warning:  # an optional field of the wrong type costs that field, as the other optional fields do
        [line] = [ln for ln in r.stderr.splitlines() if "line 2" in ln]
        assert line.startswith("warning") and warning in line, line
        assert rows(db, "SELECT media, forward_name FROM posts WHERE message_id = 2") == [(None, None)]


def test_null_export_date_next_to_good_ones(tmp_path: Path) -> None:
    db, f = tmp_path / "s.db", tmp_path / "chat" / "result.json"
    bad = message(2, QUIET_TEXT)
    bad["date_unixtime"] = None
    export(f, [message(1, QUIET_TEXT), bad, message(3, QUIET_TEXT)])
    r = replay(f, "--db", db)
    assert r.exit_code == 0 and r.exception is None, r.output
    assert counts(db)["posts"] == 2


@pytest.mark.parametrize("opt, value, starts", [
    ("--since", "yesterday", "error: --since 'yesterday'"),
    ("--since", "2026-13-45", "error: --since"),
    ("--alerts", "alerts.txt", "error: --alerts 'alerts.txt'"),
    ("--alerts", "slack", "error: --alerts"),
])
def test_bad_option_value_is_a_one_line_error(tmp_path: Path, opt: str, value: str, starts: str) -> None:
    db = tmp_path / "s.db"
    r = replay(SAMPLE, "--db", db, opt, value)
    one_line_error(r, starts)
    assert not db.exists()


def test_alerts_file_in_missing_folder_is_a_one_line_error(tmp_path: Path) -> None:
    r = replay(SAMPLE, "--db", tmp_path / "s.db", "--alerts", tmp_path / "nope" / "a.jsonl")
    one_line_error(r, "error: ")


@pytest.mark.parametrize("garbage", [os.urandom(8192), b"hello, I am not a database\n" * 3],
                         ids=["random-bytes", "text"])
def test_db_that_is_not_sqlite_is_a_one_line_error_and_untouched(tmp_path: Path, garbage: bytes) -> None:
    db = tmp_path / "notes.db"
    db.write_bytes(garbage)
    mtime = db.stat().st_mtime_ns
    r = replay(SAMPLE, "--db", db)
    one_line_error(r, f"error: {db}")
    assert db.read_bytes() == garbage and db.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]  # no -wal / -shm left behind


# -- crash safety ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rules(RULES))


def alert_keys(db: Path) -> list[tuple[int, int, str]]:
    return sorted(rows(db, "SELECT channel_id, message_id, rule FROM alerts"))


@pytest.mark.parametrize("crash_at", [1, 13, 23, 63])
def test_crash_mid_replay_keeps_committed_batches_and_rerun_completes(
        tmp_path: Path, matcher: Matcher, monkeypatch: pytest.MonkeyPatch, crash_at: int) -> None:
    posts = [p for p in read_paths([SAMPLE]) if isinstance(p, Post)]
    batch = 5
    clean_db = tmp_path / "clean.db"
    clean = Store(clean_db)
    list(Pipeline(clean, matcher).process(posts, batch_size=batch))
    clean.close()

    db = tmp_path / "crash.db"
    store = Store(db)
    real = Matcher.match
    calls = 0

    def exploding(self: Matcher, post: Post):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == crash_at:
            raise RuntimeError("simulated crash")
        return real(self, post)

    monkeypatch.setattr(Matcher, "match", exploding)
    done: list[Any] = []
    with pytest.raises(RuntimeError, match="simulated crash"):
        for p in Pipeline(store, matcher).process(posts, batch_size=batch):
            done.append(p)
    store.close()  # a crash: nothing more is written
    monkeypatch.setattr(Matcher, "match", real)

    committed = (crash_at - 1) // batch * batch  # every post is new: one match call per post
    assert len(done) == committed
    kept = {p.key for p in posts[:committed]}
    # every earlier batch intact, nothing of the batch in flight
    assert set(rows(db, "SELECT channel_id, message_id FROM posts")) == kept
    assert {(c, m) for c, m, _ in rows(db, "SELECT channel_id, message_id, rule FROM matches")} <= kept
    assert rows(db, "SELECT count(*) FROM stories WHERE id NOT IN (SELECT story_id FROM posts)") == [(0,)]
    assert alert_keys(db) == [k for k in alert_keys(clean_db) if k[:2] in kept]
    assert rows(db, "PRAGMA integrity_check") == [("ok",)]

    store = Store(db)
    pipe = Pipeline(store, matcher)
    list(pipe.process(posts, batch_size=batch))
    store.close()
    assert (pipe.summary.new, pipe.summary.unchanged, pipe.summary.edited) == (63 - committed, committed, 0)
    assert alert_keys(db) == alert_keys(clean_db)  # complete, and no alert twice
    assert rows(db, "SELECT count(*) FROM (SELECT story_id, rule FROM alerts GROUP BY 1, 2 HAVING count(*) > 1)") \
        == [(0,)]
    assert {t: n for t, n in counts(db).items()} == counts(clean_db)


def store_dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What an analyst can see of a replay: posts with their stories, matches, stories, alerts."""
    return {
        "posts": rows(db, "SELECT channel_id, message_id, story_id, text_hash, folded, entities FROM posts ORDER BY 1, 2"),
        "matches": rows(db, "SELECT channel_id, message_id, rule, terms, hits FROM matches ORDER BY 1, 2, 3"),
        "stories": rows(db, "SELECT id, first_channel_id, first_message_id, first_date, last_date, size, channels "
                            "FROM stories ORDER BY id"),
        "alerts": rows(db, "SELECT story_id, rule, channel_id, message_id, state FROM alerts ORDER BY 1, 2"),
        "search": rows(db, "SELECT rowid FROM posts_fts WHERE posts_fts MATCH 'дезертир*' ORDER BY rowid"),
    }


def sample_posts() -> list[Post]:
    posts = [p for p in read_paths([SAMPLE]) if isinstance(p, Post)]
    edited = posts[3]  # an edit later in the stream: the worker matches both versions
    posts.append(Post(edited.channel_id, edited.message_id, edited.date, HIT_TEXT, channel_title=edited.channel_title,
                      channel_username=edited.channel_username))
    posts.append(Post(edited.channel_id, 990001, edited.date, "У КПП задержан дeзeртир (Latin e)",  # a second reading
                      channel_title=edited.channel_title, channel_username=edited.channel_username))
    posts.append(Post(edited.channel_id, 990002, edited.date, "🔥 Дезертир задержан, подробнее",  # a link behind a word, after an emoji
                      channel_title=edited.channel_title, channel_username=edited.channel_username,
                      entities=(Entity("bold", 3, 8), Entity("text_link", 22, 9, "https://example.org/d"))))
    return posts


def test_a_worker_process_stores_exactly_what_one_process_stores(tmp_path: Path, matcher: Matcher) -> None:
    posts = sample_posts()
    dumps = []
    for workers in (0, 1):
        db = tmp_path / f"w{workers}.db"
        store = Store(db)
        with Pipeline(store, matcher, workers=workers) as pipe:
            assert (pipe.worker is not None) == bool(workers)
            done = list(pipe.process(posts, batch_size=4))
            # the worker's results all came back readable: none of its batches fell back to this process
            assert (pipe.worker is not None) == bool(workers)
        store.close()
        assert [p.post.key for p in done] == [p.key for p in posts]
        assert pipe.summary.edited == 1 and pipe.summary.alerts > 0
        dumps.append(store_dump(db))
    assert dumps[0]["matches"] and dumps[0]["search"]
    assert dumps[1] == dumps[0]


class _Behind:
    """A worker's future that says it is not done yet (a worker behind this process) until waited on."""

    def __init__(self, future: Any) -> None:
        self.future = future

    def done(self) -> bool:
        return False

    def result(self) -> Any:
        return self.future.result()


def test_while_the_worker_is_behind_the_pipeline_reads_on_and_stores_exactly_the_same(
        tmp_path: Path, matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker's first batches are slow (cold word caches): rather than wait, the pipeline reads and
    hands over the next batches, up to MAX_AHEAD of them beyond the oldest; what it stores is the same."""
    one = tmp_path / "one.db"
    store = Store(one)
    list(Pipeline(store, matcher).process(sample_posts(), batch_size=4))
    store.close()

    submit = Pipeline._submit
    monkeypatch.setattr(Pipeline, "_submit", lambda self, todo: _Behind(submit(self, todo)))
    monkeypatch.setattr(Pipeline, "MAX_AHEAD", 3)
    posts = sample_posts()
    read: list[int] = []  # posts read from the source when each post came out

    def source() -> Any:
        for n, p in enumerate(posts, 1):
            read.append(n)
            yield p

    db = tmp_path / "behind.db"
    store = Store(db)
    with Pipeline(store, matcher, workers=1) as pipe:
        assert pipe.worker is not None
        done = [(p, read[-1]) for p in pipe.process(source(), batch_size=4)]
    store.close()
    assert [p.post.key for p, _ in done] == [p.key for p in posts]
    assert done[0][1] == (3 + 1) * 4  # read on past AHEAD (2) while the oldest batch was not done, up to MAX_AHEAD
    assert all(n <= (k // 4 + 3 + 1) * 4 for k, (_, n) in enumerate(done))  # never more in flight
    assert store_dump(db) == store_dump(one)



def test_a_worker_behind_leaves_the_search_readings_here_and_the_store_is_the_same(
        tmp_path: Path, matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """While this process waits for the worker, the worker leaves it the posts' search readings, from
    its next post on; the posts read here are stored and found exactly as the worker's."""
    one = tmp_path / "one.db"
    store = Store(one)
    list(Pipeline(store, matcher).process(sample_posts(), batch_size=1))
    store.close()

    submit, done = Pipeline._submit, Pipeline._done
    firsts: list[Any] = []

    def behind(self: Pipeline, todo: list[Any]) -> Any:
        future = submit(self, todo)
        if not firsts:  # the first batch is done before this process first waits
            firsts.append(future.result())
        return _Behind(future)

    monkeypatch.setattr(Pipeline, "_submit", behind)
    monkeypatch.setattr(Pipeline, "MAX_AHEAD", 3)  # (batches handed over once it waits, which the worker meets after)
    left: list[bool] = []  # of each post the worker did, whether it left the search reading here

    def results(self: Pipeline, todo: list[Any], future: Any) -> Any:
        works = done(self, todo, future)
        left.extend(w.folded is True for w in works.values())
        return works

    monkeypatch.setattr(Pipeline, "_done", results)
    db = tmp_path / "behind.db"
    store = Store(db)
    with Pipeline(store, matcher, workers=1) as pipe:
        list(pipe.process(sample_posts(), batch_size=1))
    store.close()
    assert not left[0] and left[-1]  # the worker read the first post; the last, handed over while waited for, it left
    assert store_dump(db) == store_dump(one)
    assert count_search(Store(db), "дезертир") == count_search(Store(one), "дезертир")


def test_a_long_replay_indexes_the_search_every_few_thousand_posts_and_the_rest_at_its_end(
        tmp_path: Path, matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexed after every batch, FTS5 wrote and merged a segment per 500 posts (twice the CPU over
    the corpus); a search in between still finds every stored post: it indexes what is left."""
    monkeypatch.setattr("bot.pipeline.SEARCH_EVERY", 10, raising=False)
    posts = sample_posts()
    db = tmp_path / "s.db"
    store = Store(db)
    indexed: list[tuple[int, int]] = []  # (posts stored, posts indexed) after each batch
    first_found: list[int] = []

    def after(batch: list[Any]) -> None:
        stored = store.db.execute("SELECT count(*) FROM posts").fetchone()[0]
        row = store.db.execute("SELECT value FROM meta WHERE key = 'fts_rowid'").fetchone()
        indexed.append((stored, int(row[0]) if row else 0))
        if len(indexed) == 1:  # a search while the replay runs: the posts stored so far are found
            first_found.append(count_search(store, batch[0].post.text.split()[0]))

    with Pipeline(store, matcher) as pipe:
        done = list(pipe.process(posts, batch_size=4, on_batch=after))
    assert len(done) == len(posts) and len(indexed) > 5
    assert indexed[1][1] < indexed[1][0]  # not indexed batch by batch ...
    assert all(stored - hw < 10 + 4 for stored, hw in indexed)  # ... but never more than SEARCH_EVERY behind
    assert first_found[0] >= 1
    stored = store.db.execute("SELECT max(rowid) FROM posts").fetchone()[0]
    assert store.db.execute("SELECT value FROM meta WHERE key = 'fts_rowid'").fetchone()[0] == str(stored)
    store.db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')")
    assert count_search(store, "дезертир") > 0
    store.close()
    assert store_dump(db)["search"] == rows(db, "SELECT rowid FROM posts WHERE text LIKE '%езертир%' "
                                                "OR folded LIKE '%езертир%' ORDER BY rowid")


def test_a_killed_worker_process_loses_nothing(tmp_path: Path, matcher: Matcher) -> None:
    posts = sample_posts()
    one = tmp_path / "one.db"
    store = Store(one)
    list(Pipeline(store, matcher).process(posts, batch_size=4))
    store.close()

    db = tmp_path / "killed.db"
    store = Store(db)
    with Pipeline(store, matcher, workers=1) as pipe:
        done = []
        # a post a batch: at most MAX_AHEAD + 1 batches are handed over before the first is stored, so
        # batches are still to come when the worker dies (with 4 a batch, a busy machine's worker had
        # done all 16 before it was killed, and nothing told this process it had gone)
        for p in pipe.process(posts, batch_size=1):
            if not done:  # the next batches are in the worker now
                assert pipe.worker is not None
                for pid in pipe.worker.pids:
                    os.kill(pid, 9)
            done.append(p)
        assert pipe.worker is None  # carried on in this process
    store.close()
    assert len(done) == len(posts)
    assert store_dump(db) == store_dump(one)


def test_no_fork_means_one_process_not_a_crash(tmp_path: Path, matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr("bot.pipeline.Worker", refuse)  # as when fork() hits the process limit
    posts = sample_posts()
    store = Store(tmp_path / "s.db")
    with Pipeline(store, matcher, workers=1) as pipe:
        assert pipe.worker is None
        assert len(list(pipe.process(posts, batch_size=4))) == len(posts)
    store.close()
    assert pipe.summary.alerts > 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal and /proc are Linux")
def test_the_worker_dies_with_its_parent(tmp_path: Path) -> None:
    """A replay killed by SIGKILL or the OOM killer leaves no worker holding the matcher's memory."""
    import signal
    import subprocess
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from bot.match.matcher import Matcher\n"
        "from bot.match.rules import Rule\n"
        "from bot.worker import Worker\n"
        "w = Worker(Matcher([Rule.from_query('d', 'дезертир')]))\n"
        "print(w.pids[0], flush=True)\n"
        "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child}/stat") as f:
                if f.read().split(") ")[1][0] == "Z":  # gone, only its exit status left for init
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        os.kill(child, 9)
        pytest.fail("the worker outlived its killed parent")


def test_a_failed_batch_retried_by_the_same_pipeline_stores_everything(
        tmp_path: Path, matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    """The live service keeps its pipeline: after a batch rolls back, the same posts come again
    with the next poll and must all be stored, in stories that exist."""
    posts = sample_posts()
    one = tmp_path / "one.db"
    store = Store(one)
    list(Pipeline(store, matcher).process(posts, batch_size=4))
    store.close()

    store = Store(tmp_path / "retry.db")
    pipe = Pipeline(store, matcher)
    real = Matcher.match
    calls = 0

    def flaky(self: Matcher, post: Post):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 11:  # mid-batch, after posts of this batch joined and started stories
            raise sqlite3.OperationalError("disk I/O error")
        return real(self, post)

    monkeypatch.setattr(Matcher, "match", flaky)
    with pytest.raises(sqlite3.OperationalError):
        list(pipe.process(posts, batch_size=4))
    list(pipe.process(posts, batch_size=4))  # the retry
    store.close()
    db = tmp_path / "retry.db"
    assert rows(db, "SELECT count(*) FROM posts") == [(len({p.key for p in posts}),)]
    assert rows(db, "SELECT count(*) FROM posts WHERE story_id NOT IN (SELECT id FROM stories)") == [(0,)]
    assert store_dump(db)["alerts"] == store_dump(one)["alerts"]


@pytest.mark.parametrize("signame, code", [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_ctrl_c_mid_replay_exits_130_and_the_same_replay_then_finishes(tmp_path: Path, signame: str, code: int) -> None:
    """A shell chain `replay ... && export ...` must stop when the replay was cut short; a `kill`,
    `timeout` or a closed terminal stops it as Ctrl-C does (what is committed stays, the worker and
    a full-account export's temporary file go), with the exit code a shell gives that signal."""
    import signal
    import subprocess

    line = json.dumps({"channel_id": 1700000042, "message_id": 1, "date": 1790000000, "text": HIT_TEXT},
                      ensure_ascii=False) + "\n"
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    os.mkfifo(feed)  # replay waits on it for more posts: Ctrl-C lands mid-replay, at no guessed moment
    child = subprocess.Popen([sys.executable, "-c", "from bot.cli import main; main()", "replay", str(feed),
                              "--db", str(db), "--rules", str(RULES), "--alerts", "none"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, preexec_fn=interruptible)
    with open(feed, "w", encoding="utf-8") as w:  # returns once replay has opened the feed
        w.write(line)
        w.flush()
        child.send_signal(getattr(signal, signame))
        out, err = child.communicate(timeout=120)
    assert child.returncode == code, (out, err)
    assert "interrupted: every batch committed so far is stored" in err and "Traceback" not in err
    feed.unlink()
    feed.write_text(line, encoding="utf-8")
    r = replay(feed, "--db", db, "--alerts", "none")
    assert r.exit_code == 0 and summary(r)["new"] == "1"


def test_control_characters_a_channel_sends_never_reach_the_terminal(tmp_path: Path) -> None:
    """An ESC in a post or a channel title would clear the analyst's screen, recolour or hide an alert."""
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    feed.write_text(json.dumps({"channel_id": 1700000042, "message_id": 1, "date": 1790000000,
                                "channel_title": "Канал\x1b[8m", "text": f"{HIT_TEXT} \x1b[2J\x1b]0;title\x07 \x1b[8mскрыто"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    r = replay(feed, "--db", db)
    assert r.exit_code == 0 and alert_blocks(r) == 1
    assert "\x1b" not in r.output and "\x07" not in r.output
    assert "дезертиров \ufffd[2J" in r.stdout and "скрыто" in r.stdout  # shown, harmless, nothing lost
    s = CliRunner().invoke(cli, ["stories", "--db", str(db), "--min-size", "1"], env={"COLUMNS": "200"})
    assert s.exit_code == 0 and "Канал\ufffd[8m" in s.stdout and "\x1b" not in s.output
    one = CliRunner().invoke(cli, ["story", "1", "--db", str(db)])
    assert one.exit_code == 0 and "Канал\ufffd[8m" in one.stdout and "\x1b" not in one.output
    assert rows(db, "SELECT text FROM posts")[0][0].endswith("\x1b[8mскрыто")  # the store keeps the post as sent


@pytest.mark.parametrize("date", ["0001-01-01T00:00:00Z", -62135596800, "1900-01-01"])
def test_a_placeholder_date_is_skipped_and_the_posts_around_it_are_stored(tmp_path: Path, date: Any) -> None:
    """Go's zero time (a scraper's missing date) once crashed the story step and lost its whole batch."""
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    feed.write_text("".join(json.dumps({"channel_id": 1700000042, "message_id": i, "date": d, "text": HIT_TEXT},
                                       ensure_ascii=False) + "\n"
                            for i, d in ((1, 1790000000), (2, date), (3, 1790000060))), encoding="utf-8")
    r = replay(feed, "--db", db)
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    assert rows(db, "SELECT message_id FROM posts ORDER BY message_id") == [(1,), (3,)]
    assert f"skipped {feed}: line 2: date {json.dumps(date)} is before 1970" in r.stderr


def test_an_export_message_dated_before_1970_is_a_skip(tmp_path: Path) -> None:
    f = export(tmp_path / "result.json", [message(1, HIT_TEXT), message(2, HIT_TEXT, unix=-62135596800)])
    r = replay(f, "--db", tmp_path / "t.db")
    assert r.exit_code == 0 and rows(tmp_path / "t.db", "SELECT message_id FROM posts") == [(1,)]
    assert 'message #1 (id 2): date_unixtime "-62135596800" is before 1970' in r.stderr


def test_skipped_lines_are_listed_file_by_file_in_file_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps({"channel_id": 7, "message_id": 1, "date": 1790000100, "text": "x"}) + "\n"
                 + json.dumps({"message_id": 2, "date": 1790000000}) + "\n{cut\n", encoding="utf-8")
    b.write_text("[1]\n", encoding="utf-8")
    r = replay(b, a, "--db", tmp_path / "t.db", "--alerts", "none")
    assert r.exit_code == 0, r.output
    assert [ln.split(": ")[0:2] for ln in r.stderr.splitlines() if ln.startswith("skipped ")] == [
        [f"skipped {a}", "line 2"], [f"skipped {a}", "line 3"], [f"skipped {b}", "line 1"]]


def test_a_rule_scoped_to_a_channel_matches_a_post_that_does_not_name_it_with_a_worker_too(tmp_path: Path) -> None:
    """A JSON Lines line without channel_username takes the name from the channel's earlier posts
    before matching, in the worker as in one process (helper-49: the worker matched it unnamed)."""
    from bot.match.rules import parse_rules_text

    rules = parse_rules_text('[[rule]]\nname = "foo_only"\nquery = "дезертир"\nchannels = ["@foo"]\n')
    assert not rules.errors
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for workers in (0, 1):
        posts = [Post(1, 1, t0, "Погода в Москве", channel_username="foo", channel_title="Foo"),
                 Post(1, 2, t0 + timedelta(minutes=1), "Задержан дезертир в Краснодаре")]
        store = Store(tmp_path / f"w{workers}.db")
        with Pipeline(store, Matcher(rules), workers=workers) as pipe:
            assert (pipe.worker is not None) == bool(workers)
            done = list(pipe.process(posts))
        assert [[m.rule for m in p.matches] for p in done] == [[], ["foo_only"]], workers
        assert store.count("alerts") == 1
        store.close()


def test_a_rule_scoped_by_a_channel_title_matches_the_same_with_a_worker(tmp_path: Path) -> None:
    """A Desktop export's channel has no username: a rule names it by its exact title, and the worker
    process matches its posts as one process does (it was handed the post without the title)."""
    from bot.match.rules import parse_rules_text

    rules = parse_rules_text('[[rule]]\nname = "south"\nquery = "дезертир"\nchannels = ["Сводка 24"]\n')
    assert not rules.errors
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for workers in (0, 1):
        posts = [Post(1, 1, t0, "Задержан дезертир в Краснодаре", channel_title="Сводка 24"),
                 Post(2, 1, t0, "Задержан дезертир в Краснодаре", channel_title="Другой канал")]
        store = Store(tmp_path / f"w{workers}.db")
        with Pipeline(store, Matcher(rules), workers=workers) as pipe:
            assert (pipe.worker is not None) == bool(workers)
            done = list(pipe.process(posts))
        assert [[m.rule for m in p.matches] for p in done] == [["south"], []], workers
        assert store.count("alerts") == 1
        store.close()


def test_replay_outside_the_repository_uses_the_shipped_rules_and_says_so(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`--rules` defaults to ./rules; run from another folder, replay failed with 'no usable rules in
    rules'. With no such folder here, the shipped rules are used, with a line saying where they are."""
    monkeypatch.chdir(tmp_path)
    path = export(tmp_path / "e" / "result.json", [message(1, HIT_TEXT)])
    r = CliRunner().invoke(cli, ["replay", str(path), "--db", "s.db"])
    assert r.exit_code == 0, r.output
    assert r.stderr.startswith(f"rules: no ./rules folder here; using the shipped rules in {RULES}")
    assert alert_blocks(r) == 1
    (tmp_path / "rules").mkdir()  # a folder of the analyst's own: used, and (empty) it says so
    r = CliRunner().invoke(cli, ["replay", str(path), "--db", "t.db"])
    assert r.exit_code == 2 and "no usable rules in rules" in r.stderr, r.output


def test_an_alert_written_just_before_an_interrupt_is_not_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or a kill) between the alert's line and the store's 'sent' mark: the next replay
    sends that alert again, and the file must not get its line twice (also when it names the same
    store another way: a line says which store its alert is from, by its full path)."""
    from bot.alert.sinks import JsonlSink

    db, out, f = tmp_path / "s.db", tmp_path / "a.jsonl", tmp_path / "chat" / "result.json"
    export(f, [message(1, HIT_TEXT), message(2, QUIET_TEXT, unix=1790000100)])
    send = JsonlSink.send

    def send_then_interrupt(self: JsonlSink, alert: Any) -> None:
        send(self, alert)
        raise KeyboardInterrupt

    monkeypatch.setattr(JsonlSink, "send", send_then_interrupt)
    r = replay(f, "--db", db, "--alerts", out)
    assert r.exit_code == 130, r.output
    assert len(jsonl_lines(out)) == 1
    monkeypatch.setattr(JsonlSink, "send", send)
    monkeypatch.chdir(tmp_path)
    r = replay(f, "--db", "s.db", "--alerts", out)
    assert r.exit_code == 0, r.output
    assert [x["message_id"] for x in jsonl_lines(out)] == [1]
    assert jsonl_lines(out)[0]["store"] == str(db.resolve())
    assert rows(db, "SELECT state FROM alerts") == [("sent",)]


def test_a_line_an_older_release_left_unmarked_is_not_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same stop under a release whose lines carried no `store`, resumed by this one: the old
    line stands for this store's alert (the file had one store then), so it is not written twice."""
    from bot.alert.sinks import JsonlSink

    db, out, f = tmp_path / "s.db", tmp_path / "a.jsonl", tmp_path / "chat" / "result.json"
    export(f, [message(1, HIT_TEXT)])
    send = JsonlSink.send

    def send_then_interrupt(self: JsonlSink, alert: Any) -> None:
        send(self, alert)
        raise KeyboardInterrupt

    monkeypatch.setattr(JsonlSink, "send", send_then_interrupt)
    assert replay(f, "--db", db, "--alerts", out).exit_code == 130
    old = jsonl_lines(out)[0]
    del old["store"]  # as the older release wrote it
    out.write_text(json.dumps(old, ensure_ascii=False) + "\n", encoding="utf-8")
    monkeypatch.setattr(JsonlSink, "send", send)
    r = replay(f, "--db", db, "--alerts", out)
    assert r.exit_code == 0, r.output
    assert [x["message_id"] for x in jsonl_lines(out)] == [1]
    assert rows(db, "SELECT state FROM alerts") == [("sent",)]


def test_an_in_memory_store_is_named_as_such_in_the_alerts_file(tmp_path: Path) -> None:
    """`--db :memory:` is no file: the lines say `:memory:`, not a path under the working folder."""
    out, f = tmp_path / "a.jsonl", tmp_path / "chat" / "result.json"
    export(f, [message(1, HIT_TEXT)])
    r = replay(f, "--db", ":memory:", "--alerts", out)
    assert r.exit_code == 0, r.output
    assert [x["store"] for x in jsonl_lines(out)] == [":memory:"]


def test_alerts_a_stopped_replay_never_showed_are_shown_by_the_next_once_and_never_by_the_live_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C between a batch's commit and its alerts reaching the terminal: the alerts stay queued
    for replay (`tgwatch run` on the same store never sends them), and the replay the analyst runs
    again to finish shows them, once."""
    cli_replay = importlib.import_module("bot.cli.replay")
    db, f = tmp_path / "s.db", tmp_path / "chat" / "result.json"
    export(f, [message(1, HIT_TEXT)])
    deliver = cli_replay.deliver_queued

    def interrupted(*_: Any, **__: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_replay, "deliver_queued", interrupted)
    r = replay(f, "--db", db)
    assert r.exit_code == 130 and alert_blocks(r) == 0, r.output
    live = Store(db)  # what the live sender takes
    assert live.queued_alerts() == []
    live.close()
    monkeypatch.setattr(cli_replay, "deliver_queued", deliver)
    r = replay(f, "--db", db)
    assert r.exit_code == 0 and alert_blocks(r) == 1, r.output
    assert "from earlier runs  1 (queued, not shown until now)" in r.stdout
    r = replay(f, "--db", db)
    assert r.exit_code == 0 and alert_blocks(r) == 0, r.output


def test_a_line_cut_short_by_a_kill_leaves_the_next_alert_on_its_own_line(tmp_path: Path) -> None:
    db, out, f = tmp_path / "s.db", tmp_path / "a.jsonl", tmp_path / "chat" / "result.json"
    export(f, [message(1, HIT_TEXT)])
    out.write_text('{"alert_id": 7, "rule": "desertion", "text": "В Крас', encoding="utf-8")
    r = replay(f, "--db", db, "--alerts", out)
    assert r.exit_code == 0, r.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["message_id"] == 1


def test_jsonl_line_without_entities_keeps_the_stored_links(tmp_path: Path) -> None:
    """The same text without the links behind its words (a JSON Lines copy that leaves `entities`
    out) is a lesser version, as a line without its text: the stored links stay, and replaying the
    export and the copy in turn edits nothing."""
    db, f, copy = tmp_path / "s.db", tmp_path / "chat" / "result.json", tmp_path / "copy.jsonl"
    text = [HIT_TEXT + ". ", {"type": "text_link", "text": "Подробнее", "href": "https://example.org/a"}]
    export(f, [message(1, text)])
    assert replay(f, "--db", db, "--alerts", "none").exit_code == 0
    [(stored, entities)] = rows(db, "SELECT text, entities FROM posts")
    assert "example.org" in entities
    copy.write_text(json.dumps({"channel_id": 1700000042, "message_id": 1, "date": 1790000000, "text": stored},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    for source in (copy, f, copy):
        r = replay(source, "--db", db, "--alerts", "none")
        assert r.exit_code == 0 and summary(r)["edited"] == "0", r.output
    assert rows(db, "SELECT entities FROM posts") == [(entities,)]
    assert rows(db, "SELECT current FROM matches") == [(1,)]
    one = tmp_path / "one.db"  # the export and the copy in one replay: the same
    r = replay(f, copy, "--db", one, "--alerts", "none")
    assert r.exit_code == 0 and summary(r)["edited"] == "0", r.output
    assert rows(one, "SELECT entities FROM posts") == [(entities,)]

    edited = stored + " UPD"  # a real change of the text, even without an edit date, is an edit
    copy.write_text(json.dumps({"channel_id": 1700000042, "message_id": 1, "date": 1790000000, "text": edited},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    r = replay(copy, "--db", db, "--alerts", "none")
    assert summary(r)["edited"] == "1", r.output
    assert rows(db, "SELECT text FROM posts") == [(edited,)]


def test_ctrl_c_before_replay_starts_exits_130_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the rules load (before replay handles interrupts itself) ended in click's
    'Aborted!' and exit 1; a shell script (`replay ... && export ...`) must see an interrupt."""
    cli_replay = importlib.import_module("bot.cli.replay")  # (loaded when `replay` first runs)

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_replay, "load_or_fail", interrupted)
    r = replay(export(tmp_path / "e" / "result.json", [message(1, HIT_TEXT)]), "--db", tmp_path / "s.db")
    assert r.exit_code == 130 and r.stderr == "interrupted\n", r.output


def test_a_second_ctrl_c_while_an_interrupted_replay_closes_still_says_what_was_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An impatient second Ctrl-C while an interrupted replay closes its pipeline escaped as a bare
    «interrupted»: the analyst is told once what was stored, and gets the summary."""
    cli_replay = importlib.import_module("bot.cli.replay")

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    close = Pipeline.close

    def closed_then_interrupted(self: Pipeline) -> None:
        close(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_replay, "deliver_queued", interrupted)
    monkeypatch.setattr(Pipeline, "close", closed_then_interrupted)
    db = tmp_path / "s.db"
    r = replay(export(tmp_path / "e" / "result.json", [message(1, HIT_TEXT)]), "--db", db)
    assert r.exit_code == 130, r.output
    assert r.stderr.count("interrupted") == 1 and "every batch committed so far is stored" in r.stderr, r.output
    assert summary(r)["posts read"] == "1" and rows(db, "SELECT count(*) FROM posts") == [(1,)]
