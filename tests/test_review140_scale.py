"""Review 140: «a year of posts». An analyst runs tgwatch for a year (~1.5 million posts, thousands
of stories a day, 20 rules): what reads every row of a year where a day's rows are asked for, what
holds a whole answer in memory, and what the live service does on its event loop while alerts wait.
Each fault is shown by what can be counted (a query plan's SCAN, SQLite's steps or tracemalloc's
peak at two store sizes, the loop's other tasks that could not run, an alert that could not go out
while a command answered), never by a timing; the seconds in the docstrings were measured aside. The stores are
written by plain SQL into a real store file: a few thousand rows stand for the year."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.chat.commands import Caller, Commands
from bot.match.edit import RuleBook
from bot.report.stats import heartbeat_text, rule_stats, status_text
from bot.store.counts import rule_hits
from bot.store.db import Store
from bot.store.read import count_stories, top_stories

from .fake_telegram import FakeTelegram, eventually
from .test_chat import ANALYST, DESERTION, SHOT, alerts, running
from .test_live import config

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
CHANNELS = 24
# a long news post (1,520 characters): what the stores hold adds up to plain sizes
TEXT = "Под Краснодаром задержали дезертира, самовольно оставившего воинскую часть. " * 20
QUIET = "Курс рубля на бирже к пятнице почти не изменился, торги прошли спокойно. " * 20


def year_store(path: Path, *, posts: int, matched_every: int = 0, alerts: int = 0, story_of: int = 1,
               days: float = 365.0) -> Store:
    """A store of `posts` posts spread evenly over the `days` before NOW, one story per `story_of`
    consecutive posts, every `matched_every`-th post matched by desertion (0: none), and `alerts`
    alerts spread over the same days: a year of the live service in miniature."""
    store = Store(path)
    db = store.db.conn
    span = days * 86400

    def when(i: int, n: int) -> str:
        return (NOW - timedelta(seconds=span * (n - i) / n)).isoformat(timespec="seconds")

    with store.transaction():
        db.executemany("INSERT INTO channels (id, title, username) VALUES (?,?,?)",
                       [(100 + c, f"Канал {c}", f"chan{c}") for c in range(CHANNELS)])
        stories, rows, matches = [], [], []
        for i in range(posts):
            cid, mid, date, sid = 100 + i % CHANNELS, i + 1, when(i, posts), i // story_of + 1
            if i % story_of == 0:
                last = when(min(i + story_of - 1, posts - 1), posts)
                size = min(story_of, posts - i)
                stories.append((sid, cid, mid, date, last, size,
                                json.dumps(sorted({100 + k % CHANNELS for k in range(i, i + size)}))))
            rows.append((cid, mid, date, f"{TEXT} №{i}", f"https://t.me/chan{i % CHANNELS}/{mid}", sid, date))
            if matched_every and i % matched_every == 0:
                matches.append((cid, mid, "desertion", "normal", json.dumps(["дезертир"]),
                                json.dumps([["дезертир", "дезертира", 25, 34, 1.0, "form"]]), 1, date))
        db.executemany("INSERT INTO stories (id, first_channel_id, first_message_id, first_date, last_date, size, channels) "
                       "VALUES (?,?,?,?,?,?,?)", stories)
        db.executemany("INSERT INTO posts (channel_id, message_id, date, text, link, story_id, first_seen) "
                       "VALUES (?,?,?,?,?,?,?)", rows)
        db.executemany("INSERT INTO matches (channel_id, message_id, rule, severity, terms, hits, current, matched_at) "
                       "VALUES (?,?,?,?,?,?,?,?)", matches)
        db.executemany("INSERT INTO alerts (story_id, rule, channel_id, message_id, severity, state, attempts, "
                       "created_at, owner) VALUES (?,?,?,?,?,?,?,?,?)",
                       [(k + 1, "desertion", 100, k + 1, "normal", "sent", 1, when(k, alerts), "live")
                        for k in range(alerts)])
    return store


def plans(store: Store, run: Callable[[], object]) -> list[str]:
    """The query plan lines of every SELECT `run` makes on `store`'s connection (each line ends
    with the start of its statement, so a failure names the query)."""
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        run()
    finally:
        store.db.conn.set_trace_callback(None)
    return [f"{row[3]}   <- {' '.join(sql.split())[:140]}" for sql in seen if sql.lstrip().upper().startswith("SELECT")
            for row in store.db.conn.execute("EXPLAIN QUERY PLAN " + sql)]


def scans(lines: list[str], table: str, alias: str | None = None) -> list[str]:
    """The plan lines that walk the whole of `table` (as itself or `alias`): a SCAN, through an index or not."""
    names = "|".join(re.escape(n) for n in (table, alias) if n)
    return [line for line in lines if re.match(rf"SCAN ({names})\b", line)]


# -- stories: the last day's, found among a year's ----------------------------------------------------


def test_the_last_days_stories_are_found_without_reading_every_story_of_the_year(tmp_path: Path) -> None:
    """`/stories` (default the last day) and `tgwatch stories` pick the stories by `last_date`, a
    column no index covers, so SQLite reads every story row ever stored to find a day's: retention
    prunes posts, never stories, and a year of «thousands of stories a day» is about a million rows
    read (and their sizes sorted) for each /stories. (600,000 synthetic posts in one story each:
    0.16 s a call, growing with the store; the day asked for holds a few hundred.)"""
    store = year_store(tmp_path / "t.db", posts=2000, story_of=2)
    try:
        since = NOW - timedelta(days=1)
        lines = plans(store, lambda: (top_stories(store, since=since, min_size=2, limit=10),
                                      count_stories(store, since=since, min_size=2)))
        assert len(top_stories(store, since=since, min_size=2, limit=10)) == 3  # the day's stories, of 1000
    finally:
        store.close()
    assert not scans(lines, "stories", "s")


# -- /status and the heartbeat: today's alerts among a year's -------------------------------------------


def test_status_counts_todays_alerts_without_reading_every_alert_of_the_year(tmp_path: Path) -> None:
    """/status counts the alerts raised today, and the daily heartbeat those of 24 h, by
    `alerts.created_at`, which no index covers: every alert of the year is read (the state index
    walked whole), on the event loop, since /status and the heartbeat run there. Alerts are never
    pruned: 100,000 alerts cost 50 ms a /status, growing all year, while posts and alerts wait."""
    store = year_store(tmp_path / "t.db", posts=10, alerts=3000)
    try:
        lines = plans(store, lambda: (status_text(store, now=NOW), heartbeat_text(store, now=NOW, channels_watched=1)))
        assert "Alerts today (since 00:00 UTC): 4 (4 sent)" in status_text(store, now=NOW)  # 4 of the 3,000
    finally:
        store.close()
    assert not scans(lines, "alerts")


# -- a week's counts among a year's matches and alerts ----------------------------------------------------


def test_rules_counts_a_weeks_hits_without_reading_every_match_of_the_year(tmp_path: Path) -> None:
    """/rules and /rule count each rule's hits of 7 days (`rule_hits`) by walking the whole matches
    table (matched posts are kept for good: a year of 20 rules' matches) and looking up each one's
    post for its date; `rule_stats`, counting the same for /stats, goes by the posts' date index
    and reads only the week. The week's count is asked at every /rules."""
    store = year_store(tmp_path / "t.db", posts=3650, matched_every=1)
    try:
        since = NOW - timedelta(days=7)
        lines = plans(store, lambda: rule_hits(store, since))
        assert rule_hits(store, since) == {"desertion": 70}  # of 3,650
    finally:
        store.close()
    assert not scans(lines, "matches", "m")


def test_stats_counts_a_weeks_alerts_without_reading_every_alert_of_the_year(tmp_path: Path) -> None:
    """/stats 7d and /rule count each rule's alerts and verdicts of the period (`rule_stats`) by
    reading every alert ever raised (and every verdict) and the post of each for its date: alerts
    are never pruned, so a week's chart reads the year's alerts."""
    store = year_store(tmp_path / "t.db", posts=3650, alerts=3650, matched_every=1)
    try:
        since = NOW - timedelta(days=7)
        lines = plans(store, lambda: rule_stats(store, since=since, now=NOW))
        [stats] = rule_stats(store, since=since, now=NOW)
        assert (stats.matches, stats.alerts) == (70, 70)  # of 3,650
    finally:
        store.close()
    assert not scans(lines, "alerts", "a")


def vm_steps(store: Store, run: Callable[[], object]) -> int:
    """How much SQLite work `run` does on `store`'s connection, in thousands of VM instructions: the
    rows it reads, counted (a timing would depend on the machine)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    store.db.conn.set_progress_handler(count, 1000)
    try:
        run()
    finally:
        store.db.conn.set_progress_handler(None, 0)
    return steps


def digested_store(path: Path, items: int) -> Store:
    """A store whose low-severity alerts of a year went out in digests: `items` posts, each with its
    alert in state 'digested' and the digest item's delivery row, none deleted by its channel."""
    from bot.store.deliveries import DIGEST_ITEM, DIGEST_PART

    store = year_store(path, posts=items, matched_every=1)
    with store.transaction():
        store.db.conn.executemany(
            "INSERT INTO alerts (id, story_id, rule, channel_id, message_id, severity, state, attempts, created_at, owner) "
            "SELECT rowid, story_id, 'weather', channel_id, message_id, 'low', 'digested', 1, date, 'live' FROM posts "
            "WHERE rowid = ?", [(i,) for i in range(1, items + 1)])
        store.db.conn.executemany(
            "INSERT INTO deliveries (alert_id, chat, part, random_id, message_id, text_hash, sent_at) VALUES (?,?,?,?,?,?,?)",
            [(i, "me", DIGEST_PART, i, 10 * (i // 20), f"{DIGEST_ITEM}{i % 20 + 1}", NOW.isoformat()) for i in range(1, items + 1)])
    return store


def test_the_sender_does_not_read_every_digest_item_of_the_year_every_15_seconds(tmp_path: Path) -> None:
    """Each sender pass (every 15 s, on the event loop) asks which digest items' posts were deleted
    or restored since (`digest_notices_due`, via `_tell_digest_deletions`), and the query reads every
    alert ever sent in a digest (state 'digested' is final, and nothing prunes alerts) joined with
    its post and its delivery rows: the work of each pass grows all year with the low-severity
    alerts, while the answer (no deletion to tell) stays the same: 100,000 digest items (a year of
    ~270 low-severity alerts a day) cost 0.77 s a pass, the loop frozen for it every 15 s. Here 500
    and 2,000 digest items."""
    from bot.store.deliveries import digest_notices_due

    work = []
    for n in (500, 2000):
        store = digested_store(tmp_path / f"{n}.db", n)
        try:
            assert digest_notices_due(store) == ([], [])
            work.append(vm_steps(store, lambda: digest_notices_due(store)))
        finally:
            store.close()
    assert work[1] <= 1.5 * work[0] + 5, f"{work[0]:,} -> {work[1]:,} thousand SQLite steps a pass for no notice due"


def test_an_albums_first_post_is_found_without_reading_the_channels_history(tmp_path: Path) -> None:
    """Each post of an album the live service is pushed asks under which message id the album is
    stored (`album_first`). SQLite answered it from the posts' primary key, reading the channel's
    posts by id from its first until the album's: a year's history per album post, on the event
    loop. Here 500 and 4,000 posts before a 3-post album: the work must not grow with them."""
    work = []
    for n in (500, 4000):
        store = year_store(tmp_path / f"{n}.db", posts=n)
        try:
            with store.transaction():
                store.db.execute("UPDATE posts SET grouped_id = 77 WHERE channel_id = 100 AND message_id IN "
                                 "(SELECT message_id FROM posts WHERE channel_id = 100 ORDER BY message_id DESC LIMIT 3)")
            last = store.db.execute("SELECT max(message_id) FROM posts WHERE channel_id = 100").fetchone()[0]
            assert store.album_first(100, 77) == last - 2 * CHANNELS  # (the channel's posts are every 24th id)
            work.append(vm_steps(store, lambda: [store.album_first(100, 77) for _ in range(20)]))
        finally:
            store.close()
    assert work[1] <= 1.5 * work[0] + 5, f"{work[0]:,} -> {work[1]:,} thousand SQLite steps for 20 album look-ups"


@dataclass
class Held:
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    waited: list[bool] = field(default_factory=list)


def hold(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, seconds: float = 3.0) -> Held:
    """`module.name` waits (at most `seconds`) for `Held.release` before it runs, the first time it is called."""
    h = Held()
    real = getattr(module, name)

    def held(*args: Any, **kw: Any) -> Any:
        if not h.entered.is_set():
            h.entered.set()
            h.waited.append(h.release.wait(seconds))
        return real(*args, **kw)

    monkeypatch.setattr(module, name, held)
    return h


def test_status_reads_the_weeks_posts_while_alerts_go_on(fake: FakeTelegram, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """/status judges every channel's posting habit from the dates of every post of the last 7 days
    (`channel_activity`), read and parsed in the event loop's thread: 1.5 million posts a year are
    ~29,000 a week, 0.1 s per 11,500 (measured on a synthetic store), and meanwhile no post is
    stored and no alert sent (the watchdog reads the same every 15 min, on the loop too). Other
    long reads (/rule, /stats, /export) go to a worker thread. Here the reading is held until the
    alert of a post published meanwhile has reached the chat; on the loop, it never can."""
    import bot.report.stats as stats_module

    h = hold(monkeypatch, stats_module, "channel_activity")

    async def go() -> None:
        async with running(fake, tmp_path):
            fake.message_to_bot(ANALYST, "/status")
            await eventually(h.entered.is_set)  # /status is reading the week's posts now
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: any("дезертир" in m.text for m in alerts(fake)))
            h.release.set()
            await eventually(lambda: any("tgwatch status" in m.text for m in fake.chat))
    asyncio.run(go())
    assert h.waited == [True], "the alert waited until /status had read the week's posts"


# -- /export 365d: a year's file in the live service's memory --------------------------------------------


def export_peak(tmp_path: Path, posts: int) -> int:
    """tracemalloc's peak while the chat's `/export 365d` answers over a store of
    `posts` matched posts (the export reads them in a worker thread: traced too)."""
    import tracemalloc

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    store = year_store(tmp_path / "t.db", posts=posts, matched_every=1)

    async def digest(_now: datetime) -> int:
        return 0

    commands = Commands(store, RuleBook(rules, store), config(tmp_path, db=tmp_path / "t.db", rules=rules),
                        matcher=lambda: None, on_rules_changed=lambda: None,  # type: ignore[arg-type,return-value]
                        status=lambda _now: "", digest=digest, clock=lambda: NOW)
    try:
        tracemalloc.start()
        try:
            reply = asyncio.run(commands.handle("/export 365d", Caller(ANALYST, "Anna")))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        store.close()
    assert reply is not None and reply.html.startswith(f"{posts} matched posts, last 365 d"), reply
    return peak


def test_a_years_export_from_the_chat_is_not_held_whole_in_the_live_services_memory(tmp_path: Path) -> None:
    """/export 365d builds the whole CSV in a StringIO, copies it out and encodes it (an xlsx is
    written to a temporary file, then read back whole): the live service's memory peaks at about
    three times the file while the upload waits, the year's matches of 20 rules being tens of MB.
    `tgwatch export` streams (README: its memory does not grow with the export); the chat's could
    hand Telegram the temporary file. Here 400 and 1,600 matched posts: the peak grows with the file."""
    small_peak, big_peak = export_peak(tmp_path / "small", 400), export_peak(tmp_path / "big", 1600)
    more = 1200 * len(TEXT.encode())  # the text the larger export has in addition: ~3.6 MB
    assert big_peak - small_peak < more // 4, f"peak {small_peak:,} -> {big_peak:,} bytes for {more:,} bytes more text"


# -- the command line over a year's store -------------------------------------------------------------

# Runs one tgwatch command with its output thrown away and prints tracemalloc's peak on stderr: the
# command's own memory, not a test runner's copy of what it printed.
PEAK = """
import importlib, sys, tracemalloc
from bot.cli import cli
importlib.import_module("bot.cli." + {"story": "stories"}.get(sys.argv[1], sys.argv[1]))  # untraced: tracemalloc slows imports
import bot.cli.common, bot.store.db, bot.store.export, bot.store.read, rich.console, rich.table
tracemalloc.start()
try:
    cli.main(sys.argv[1:], prog_name="tgwatch", standalone_mode=False)
finally:
    print("peak", tracemalloc.get_traced_memory()[1], file=sys.stderr)
"""


def cli_peak(*args: str) -> int:
    """tracemalloc's peak over `tgwatch ARGS` run in a fresh interpreter, its stdout discarded."""
    done = subprocess.run([sys.executable, "-c", PEAK, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "120"}, timeout=120)
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("peak "), done.stderr[-2000:]
    return int(last.split()[1])


def test_stories_as_csv_streams_a_years_stories_as_the_readme_says(tmp_path: Path) -> None:
    """README: `tgwatch stories --format csv|jsonl` «streams one story a row», «a pager, a spreadsheet
    or a program gets all 16,079 stories». But `top_stories` fetches every row (each with its first
    post's whole text) into a list before the first is written: `--limit all` over a year (about a
    million stories) holds them all. Here 1,000 and 4,000 stories of two posts: the peak grows with them."""
    peaks = []
    for n in (1000, 4000):
        db = tmp_path / f"{n}.db"
        year_store(db, posts=2 * n, story_of=2).close()
        peaks.append(cli_peak("stories", "--db", str(db), "--since", "2025-01-01", "--limit", "all", "--format", "csv"))
    more = 3000 * len(TEXT.encode())  # the first posts' text the larger store has in addition: ~9 MB
    assert peaks[1] - peaks[0] < more // 10, f"peak {peaks[0]:,} -> {peaks[1]:,} bytes for {more:,} bytes more text"



def test_story_of_a_huge_story_prints_its_posts_without_holding_them_all(tmp_path: Path) -> None:
    """`tgwatch story N` reads every post of the story, whole text and all, into a list before it
    prints the first (`story_detail` with no limit): a story a year long (a war's daily topic, 5,000
    posts) is held whole, ~2.8 KB a post here, though each post prints one line. Here stories of
    200 and 800 posts: the peak grows with the story."""
    peaks = []
    for n in (200, 800):
        db = tmp_path / f"{n}.db"
        year_store(db, posts=n, story_of=n).close()
        peaks.append(cli_peak("story", "1", "--db", str(db)))
    more = 600 * len(TEXT.encode())  # the text the larger story has in addition: ~1.7 MB
    assert peaks[1] - peaks[0] < more // 10, f"peak {peaks[0]:,} -> {peaks[1]:,} bytes for {more:,} bytes more text"

# -- retention over a year -------------------------------------------------------------------------------


async def _no_digest(_now: datetime) -> int:
    return 0


def test_every_story_stories_lists_after_retention_can_be_opened(tmp_path: Path) -> None:
    """Retention prunes the posts that matched nothing, never a story row: a story whose every post
    was pruned stays in the stories table for good (here 36 of 60 rows after one prune; on a year,
    most of the million stories), `tgwatch stories` (and /stories) lists and counts it, and
    `tgwatch story N` (and /story N, the story button) answers «no story #N». What stories lists,
    story should open (or stories should not count it)."""
    from click.testing import CliRunner

    from bot.cli import cli

    db = tmp_path / "t.db"
    store = year_store(db, posts=120, story_of=2, days=60)
    try:
        assert store.prune("2026-11-01T00:00:00+00:00") == 73
    finally:
        store.close()
    listed = CliRunner().invoke(cli, ["stories", "--db", str(db), "--since", "2026-10-01", "--limit", "all",
                                      "--format", "jsonl"])
    assert listed.exit_code == 0, listed.output
    ids = [json.loads(line)["story_id"] for line in listed.stdout.splitlines() if line.startswith("{")]
    assert len(ids) == 55
    unopened = [i for i in ids if CliRunner().invoke(cli, ["story", str(i), "--db", str(db)]).exit_code != 0]
    assert not unopened, f"{len(unopened)} of the {len(ids)} stories listed are «no story»: #{unopened[:5]}…"
    from bot.match.matcher import Matcher

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    store = Store(db)
    try:
        chat = Commands(store, RuleBook(rules, store), config(tmp_path, db=db, rules=rules), matcher=Matcher([]),
                        on_rules_changed=lambda: None, status=lambda _now: "watching", digest=_no_digest, clock=lambda: NOW)
        said = [asyncio.run(chat.handle(f"/story {i}", ANALYST)) for i in ids]
    finally:
        store.close()
    assert not [r for r in said if r is None or "No story" in r.html], "/story says «No story» of a story /stories lists"
    assert any("none kept" in r.html for r in said if r is not None)


def test_retention_lets_posts_and_alerts_go_on_while_it_prunes(fake: FakeTelegram, tmp_path: Path) -> None:
    """The nightly retention (`Service.prune`) deletes every unmatched post past `retention_days` in one
    transaction, on the event loop: measured on synthetic stores, 18,000 posts take 1.6 s and 72,000
    take 5.5 s (then 4.8 s and 17.8 s more when the search index drops them, on the loop too, at the
    next batch's `sync_search`). The first prune of a store that holds a year (retention turned on, or
    a year replayed into the live store) is about a million posts: minutes with no post stored and no
    alert sent. Here 5,000 old posts pruned: no other task of the loop ran meanwhile."""
    async def go() -> tuple[int, int]:
        async with running(fake, tmp_path) as service:
            db = service.store.db.conn
            with service.store.transaction():
                db.execute("INSERT INTO channels (id, title) VALUES (900, 'Старый канал')")
                db.executemany("INSERT INTO posts (channel_id, message_id, date, text, first_seen) VALUES (900, ?, ?, ?, ?)",
                               [(i, (NOW - timedelta(days=40, minutes=i)).isoformat(timespec="seconds"), f"{QUIET} {i}",
                                 NOW.isoformat()) for i in range(1, 5001)])  # (no rule matches: the start's catch-up keeps none)
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0)
                    ticks += 1

            task = asyncio.create_task(ticker())
            await asyncio.sleep(0)
            before = ticks
            pruned = await service.prune(NOW)
            ran = ticks - before
            task.cancel()
            return pruned, ran

    pruned, ran = asyncio.run(go())
    assert pruned == 5000
    assert ran > 0, "the loop ran nothing else while retention pruned 5,000 posts"



def test_the_story_index_forgets_the_forwards_retention_pruned(tmp_path: Path) -> None:
    """The live pipeline's story index keeps a set of every post some stored post forwards
    (`StoryIndex.forwarded`), filled from the store at start and added to by each forward, never
    taken from: retention prunes the forwards, the set keeps them. It grows with the service's
    uptime, not with the store: a year of 1.5 million posts with one in five a forward is 300,000
    entries, 46 MB (tracemalloc) that a restart would give back. Here 2,000 forwards pruned."""
    from bot.match.matcher import Matcher
    from bot.pipeline import Pipeline
    from bot.post import Post

    store = Store(tmp_path / "t.db")
    try:
        pipeline = Pipeline(store, Matcher([]))
        start = NOW - timedelta(days=60)
        list(pipeline.process([Post(channel_id=-1000000000900, message_id=i, date=start + timedelta(minutes=i),
                                    channel_title="Канал", text=f"Переслано: событие номер {i}",
                                    forward_channel_id=1700000000 + i % 50, forward_post_id=i) for i in range(1, 2001)]))
        assert store.prune((NOW - timedelta(days=30)).isoformat()) == 2000
        list(pipeline.process([Post(channel_id=-1000000000900, message_id=9000, date=NOW, channel_title="Канал",
                                    text="Новый пост после ночной очистки")]))
        stale = pipeline.stories.forwarded - store.forwarded_posts()
    finally:
        store.close()
    assert not stale, f"{len(stale):,} forwards no longer stored are still held in memory"
