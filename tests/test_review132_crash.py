"""Review 132 (helper-132): "never misses a post, never alerts twice" under crashes, odd orders and
two processes on one store. Each test fails on the code it was written against, for the fault its
docstring names; real SQLite files, the real `tgwatch replay` command."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.alert import sinks
from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import REPLAY, Store

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
ORIGIN, REPOSTER = 1700000001, 1700000002
DAY = 86400
T0 = 1790000000
HIT_TEXT = "В Краснодаре задержали двух дезертиров, сбежавших из воинской части"  # desertion and regiment


def line(channel: int, mid: int, unix: int, text: str, **extra: Any) -> str:
    return json.dumps({"channel_id": channel, "message_id": mid, "date": unix, "text": text,
                       "channel_title": f"Канал {channel}", **extra}, ensure_ascii=False) + "\n"


def replay(db: Path, alerts: Path, *files: Path) -> None:
    r = CliRunner().invoke(cli, ["replay", *map(str, files), "--db", str(db), "--rules", str(RULES), "--alerts", str(alerts)])
    assert r.exit_code == 0, r.output


def stories(db: Path) -> set[frozenset[tuple[int, int]]]:
    """The stories as sets of posts (story ids differ from run to run, the membership must not)."""
    with sqlite3.connect(db) as c:
        by: dict[int, set[tuple[int, int]]] = {}
        for ch, mid, sid in c.execute("SELECT channel_id, message_id, story_id FROM posts"):
            by.setdefault(sid, set()).add((ch, mid))
    return {frozenset(v) for v in by.values()}


def alert_lines(*files: Path) -> list[tuple[int, str]]:
    """(story_id, rule) of every alert line (not update lines) the alert files hold."""
    recs = [json.loads(x) for f in files if f.exists() for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    return sorted((r["story_id"], r["rule"]) for r in recs if not r.get("update"))


def test_a_forward_replayed_before_its_older_original_still_shares_its_story_and_alerts_once(tmp_path: Path) -> None:
    """A channel reposts (forwards) a post ten days old. Replayed in date order (one run, or the
    original's export first) the forward joins the original's story: one story, one alert per rule.
    Replayed the other way round (the reposting channel's export today, the original channel's
    export added tomorrow; or a channel added to the watch list later and its history read) the
    original starts a story of its own: `StoryIndex` looks forwards up from the forward only, never
    the stored forwards of a post that arrives after them, and the exact-text path stops at 48 h.
    The analyst sees one repost as two events and gets every rule's alert twice."""
    original = tmp_path / "origin.jsonl"
    original.write_text(line(ORIGIN, 5, T0, HIT_TEXT), encoding="utf-8")
    forward = tmp_path / "repost.jsonl"
    forward.write_text(line(REPOSTER, 7, T0 + 10 * DAY, HIT_TEXT, forward_channel_id=ORIGIN, forward_post_id=5),
                       encoding="utf-8")

    ordered = tmp_path / "ordered.db"
    replay(ordered, tmp_path / "ordered.jsonl", original, forward)
    assert stories(ordered) == {frozenset({(ORIGIN, 5), (REPOSTER, 7)})}  # the ordered replay: one story
    assert len(alert_lines(tmp_path / "ordered.jsonl")) == 2  # desertion and regiment, once each

    late = tmp_path / "late.db"
    replay(late, tmp_path / "late1.jsonl", forward)
    replay(late, tmp_path / "late2.jsonl", original)
    assert stories(late) == stories(ordered), "the original started a story of its own beside its forward"
    lines = alert_lines(tmp_path / "late1.jsonl", tmp_path / "late2.jsonl")
    assert len(lines) == 2, f"one repost alerted as two events: {lines}"


def test_two_replays_at_once_on_one_store_never_show_one_alert_in_both(tmp_path: Path, monkeypatch: Any) -> None:
    """Two replays of different exports into one store at the same time: each shows every alert queued
    for a replay (`deliver_queued` reads the whole outbox of the 'replay' owner, then sends and marks
    one by one, with no claim). A second replay that starts while the first is showing its alerts reads
    the same still-queued rows: every alert of the first replay lands in both alert files (on the
    corpus, two replays of two channels each, started together, three times: 2, 7 and 0 alerts of
    28 shown twice).
    The second replay is run here, as its own process, the moment the first writes its first alert."""
    first = tmp_path / "first.jsonl"
    first.write_text("".join(line(ORIGIN, mid, T0 + mid * DAY, f"{HIT_TEXT} номер {mid}") for mid in (1, 2, 3)),
                     encoding="utf-8")  # three events, days apart: three stories, two rules each
    second = tmp_path / "second.jsonl"
    second.write_text(line(REPOSTER, 1, T0, "Погода в Краснодаре: солнечно"), encoding="utf-8")
    db, shown_first, shown_second = tmp_path / "t.db", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    real_send = sinks.JsonlSink.send
    started: list[subprocess.CompletedProcess[str]] = []

    def send(self: sinks.JsonlSink, alert: Any) -> None:
        real_send(self, alert)
        if not started:  # the other analyst's replay runs now, beside this one
            started.append(subprocess.run(
                [sys.executable, "-c", "from bot.cli import main; main()", "replay", str(second), "--db", str(db),
                 "--rules", str(RULES), "--alerts", str(shown_second)],
                capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)}))

    monkeypatch.setattr(sinks.JsonlSink, "send", send)
    replay(db, shown_first, first)
    assert started and started[0].returncode == 0, started[0].stderr if started else "no alert shown"
    lines = alert_lines(shown_first, shown_second)
    assert len(lines) == 6, "one alert is shown by both replays"  # 3 stories x 2 rules
    assert len(set(lines)) == len(lines), f"alerts shown twice: {lines}"


def test_a_post_stored_by_a_replay_beside_a_running_pipeline_gathers_that_pipelines_later_copies(tmp_path: Path) -> None:
    """The live service runs (its `StoryIndex` was built from the store at its first post); an analyst
    replays an export into the same store, holding a desertion post of an hour ago. Ten minutes later
    a watched channel posts the same text (or a rewording): one fresh process files it into the
    replayed post's story; the running service does not, as its index never reads the posts another
    process stored after it was built (only a forward finds its original in the store). The story is
    split in two: `stories` lists one event twice, and the replay's alerts are never updated with the
    channel that followed."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    matcher = Matcher(load_rules(RULES))
    copies = {"same text": HIT_TEXT, "reworded": "Двух дезертиров, сбежавших из воинской части, задержали в Краснодаре"}
    split = []
    for how, copy in copies.items():
        db = tmp_path / f"{how}.db"
        service, analyst = Store(db), Store(db, owner=REPLAY)
        with Pipeline(service, matcher) as live, Pipeline(analyst, matcher) as replayed:
            list(live.process([Post(REPOSTER, 1, now - timedelta(hours=2), "Курс доллара на бирже вырос до 105 рублей")]))
            list(replayed.process([Post(ORIGIN, 1, now - timedelta(hours=1), HIT_TEXT)]))
            list(live.process([Post(3, 1, now, copy)]))
        if frozenset({(ORIGIN, 1), (3, 1)}) not in stories(db):  # as a fresh process folds it
            split.append(f"{how}: the copy's story is {sorted(s for s in stories(db) if (3, 1) in s)}")
        service.close()
        analyst.close()
    assert not split, split


def test_ctrl_c_while_a_finished_replay_saves_its_word_counts_still_says_what_was_stored(tmp_path: Path,
                                                                                         monkeypatch: Any) -> None:
    """Ctrl-C (or a second, impatient one) while `replay` closes its pipeline, saving the story word
    counts (`Pipeline.close`, in `replay`'s `finally`): the KeyboardInterrupt escapes the `finally`,
    so the analyst gets a bare «interrupted», no summary and no «every batch committed so far is
    stored; replay the same files again» line, though every post and alert is stored and shown.
    Elsewhere in the run the same Ctrl-C says what was stored."""
    feed = tmp_path / "feed.jsonl"
    feed.write_text(line(ORIGIN, 1, T0, HIT_TEXT), encoding="utf-8")
    real = Store.save_story_words

    def pressed(self: Store, *args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Store, "save_story_words", pressed)
    db = tmp_path / "t.db"
    r = CliRunner().invoke(cli, ["replay", str(feed), "--db", str(db), "--rules", str(RULES), "--alerts", "none"])
    monkeypatch.setattr(Store, "save_story_words", real)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM posts").fetchone()[0] == 1  # nothing lost
    assert r.exit_code == 130, r.output
    assert "every batch committed so far is stored" in r.stderr or "posts read" in r.stdout, \
        f"the analyst is not told what was stored: {r.output!r}"
