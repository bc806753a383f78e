"""A long replay with a worker process builds its search index beside it (`SearchBuild`): what a
search finds afterwards is exactly what indexing in place gives, whatever happened meanwhile."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.heldfile import LOCKS
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.source import read_paths
from bot.store.db import Store
from bot.store.read import count_search
from bot.store.searchbuild import SearchBuild

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "export"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rules(ROOT / "rules"))


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A build handed posts every 3, in transactions of 3 posts (in place: every 5); what each build's
    `finish` returned (the rowid it installed the index up to, 0: dropped)."""
    monkeypatch.setattr("bot.pipeline.SEARCH_EVERY", 5)
    monkeypatch.setattr(SearchBuild, "CHUNK", 3)
    finished: list[int] = []
    finish = SearchBuild.finish

    def spy(self: SearchBuild) -> int:
        finished.append(finish(self))
        return finished[-1]

    monkeypatch.setattr(SearchBuild, "finish", spy)
    return finished


def posts() -> list[Post]:
    return [p for p in read_paths([SAMPLE]) if isinstance(p, Post)]


def index_dump(db: Path) -> list[tuple[Any, ...]]:
    """Every word the search index holds, with the post and position it holds it at; and FTS5's own check."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')")
        conn.execute("CREATE VIRTUAL TABLE temp.words USING fts5vocab(main, posts_fts, instance)")
        return conn.execute("SELECT doc, offset, term FROM temp.words ORDER BY doc, offset").fetchall()
    finally:
        conn.close()


def in_place(tmp_path: Path, matcher: Matcher, stream: list[Post]) -> list[tuple[Any, ...]]:
    """The index a replay in one process (no worker: indexed in place) gives."""
    db = tmp_path / "in_place.db"
    store = Store(db)
    with Pipeline(store, matcher) as pipe:
        list(pipe.process(stream, batch_size=2))
    store.close()
    return index_dump(db)


def fts_rowid(store: Store) -> int:
    row = store.db.execute("SELECT value FROM meta WHERE key = 'fts_rowid'").fetchone()
    return int(row[0]) if row else 0


def test_a_replay_with_a_worker_builds_the_index_beside_it_and_finds_the_same(
        tmp_path: Path, matcher: Matcher, small_steps: list[int]) -> None:
    stream = posts()
    db = tmp_path / "built.db"
    store = Store(db)
    with Pipeline(store, matcher, workers=1) as pipe:
        assert pipe.worker is not None
        list(pipe.process(stream, batch_size=2))
    top = store.db.execute("SELECT max(rowid) FROM posts").fetchone()[0]
    assert small_steps == [top]  # the build was put in place whole
    assert fts_rowid(store) == top
    assert count_search(store, "дезертир") > 0
    store.close()
    assert index_dump(db) == in_place(tmp_path, matcher, stream)


def test_a_post_edited_after_the_build_read_it_drops_the_build_and_is_found_by_its_new_text(
        tmp_path: Path, matcher: Matcher, small_steps: list[int], caplog: pytest.LogCaptureFixture) -> None:
    stream = posts()
    first = stream[3]
    edit = Post(first.channel_id, first.message_id, first.date, "Новый текст: задержан дезертир-подводник",
                channel_title=first.channel_title, channel_username=first.channel_username)
    stream = [*stream, edit]
    db = tmp_path / "edited.db"
    store = Store(db)

    def caught_up(_batch: list[Any]) -> None:  # the build has read every post committed so far
        if pipe._build is not None:
            pipe._build.settle()

    with caplog.at_level(logging.INFO, logger="bot.store.db"), Pipeline(store, matcher, workers=1) as pipe:
        list(pipe.process(stream, batch_size=2, on_batch=caught_up))
    assert pipe.summary.edited == 1
    assert small_steps == [0]
    assert "dropped: the posts changed meanwhile" in caplog.text
    assert count_search(store, "подводник") == 1
    assert fts_rowid(store) == store.db.execute("SELECT max(rowid) FROM posts").fetchone()[0]
    store.close()
    assert index_dump(db) == in_place(tmp_path, matcher, stream)


def test_a_search_run_during_the_replay_indexes_in_place_and_the_build_is_dropped(
        tmp_path: Path, matcher: Matcher, small_steps: list[int], caplog: pytest.LogCaptureFixture) -> None:
    """An analyst's `tgwatch search` on the store while it replays indexes what is stored so far on
    its own connection: the build no longer fits an empty index, and the rest is indexed in place."""
    stream = posts()
    db = tmp_path / "searched.db"
    store = Store(db)
    found: list[int] = []

    def search_now(_batch: list[Any]) -> None:
        if pipe._build is not None and not found:  # once the build has begun
            other = Store(db)
            try:
                found.append(count_search(other, "дезертир"))
            finally:
                other.close()

    with caplog.at_level(logging.INFO, logger="bot.store.db"), Pipeline(store, matcher, workers=1) as pipe:
        list(pipe.process(stream, batch_size=2, on_batch=search_now))
    assert small_steps == [0]
    assert "dropped: another connection indexed the store meanwhile" in caplog.text
    store.close()
    assert index_dump(db) == in_place(tmp_path, matcher, stream)


def test_a_stopped_replay_leaves_the_index_to_be_built_in_place_and_no_scratch_file(
        tmp_path: Path, matcher: Matcher, small_steps: list[int]) -> None:
    stream = posts()
    db = tmp_path / "stopped.db"
    store = Store(db)
    scratch: list[str] = []
    with Pipeline(store, matcher, workers=1) as pipe:
        run = pipe.process(stream, batch_size=2)
        for n, _ in enumerate(run):
            if pipe._build is not None and not scratch:
                scratch.append(pipe._build.path)
            if n == 20:
                break
        run.close()  # as a Ctrl-C or a failed batch ends the generator
    assert scratch and not Path(scratch[0]).parent.exists()
    assert small_steps == [] and fts_rowid(store) == 0
    store.sync_search()  # what `search` does first
    assert count_search(store, "дезертир") > 0
    store.close()
    part = index_dump(db)
    assert part and {doc for doc, *_ in part} <= set(range(1, 22 + 1))


def test_a_failed_build_is_said_and_the_index_is_built_in_place(
        tmp_path: Path, matcher: Matcher, small_steps: list[int], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def full(self: SearchBuild, conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SearchBuild, "_index", full)
    stream = posts()
    db = tmp_path / "failed.db"
    store = Store(db)
    with caplog.at_level(logging.WARNING, logger="bot.store.db"), Pipeline(store, matcher, workers=1) as pipe:
        list(pipe.process(stream, batch_size=2))
    assert small_steps == [0]
    assert "search index not built beside the replay (database or disk is full): indexing it in place" in caplog.text
    store.close()
    assert index_dump(db) == in_place(tmp_path, matcher, stream)


def test_only_an_empty_index_of_a_file_store_is_built_beside(tmp_path: Path) -> None:
    memory = Store(":memory:")
    assert SearchBuild.beside(memory.db.conn, memory.path) is None
    store = Store(tmp_path / "s.db")
    store.db.execute("INSERT INTO meta (key, value) VALUES ('fts_rowid', '5')")
    assert SearchBuild.beside(store.db.conn, store.path) is None
    store.db.execute("DELETE FROM meta WHERE key = 'fts_rowid'")
    build = SearchBuild.beside(store.db.conn, store.path)
    assert build is not None
    build.cancel()
    assert not Path(build.path).parent.exists()
    store.close()


def test_a_replay_without_a_usable_temp_folder_indexes_in_place_and_says_so(
        tmp_path: Path, matcher: Matcher, small_steps: list[int], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The temp folder gone (removed since, or none writable in a read-only container): the replay
    stores every post and its search index is built in place, as without the build."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "gone"))
    stream = posts()
    db = tmp_path / "no_temp.db"
    store = Store(db)
    with caplog.at_level(logging.WARNING, logger="bot.store.db"), Pipeline(store, matcher, workers=1) as pipe:
        list(pipe.process(stream, batch_size=2))
    assert pipe.summary.new == len({p.key for p in stream})
    assert small_steps == []
    assert "search index not built beside the replay" in caplog.text and "gone" in caplog.text
    assert count_search(store, "дезертир") > 0
    store.close()
    assert index_dump(db) == in_place(tmp_path, matcher, stream)


def test_a_build_that_filled_the_temp_folder_gives_its_space_back_while_the_replay_goes_on(
        tmp_path: Path, matcher: Matcher, small_steps: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """A full temp folder (a small tmpfs: memory) must not stay full for the rest of a long replay."""
    def full(self: SearchBuild, conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE filler (x)")
        conn.execute("INSERT INTO filler VALUES (zeroblob(1 << 20))")
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(SearchBuild, "_index", full)
    stream = posts()
    db = tmp_path / "full.db"
    store = Store(db)
    left: list[bool] = []  # after each batch once the build has failed: is its scratch folder still there?

    def look(_batch: list[Any]) -> None:
        if pipe._build is not None:
            pipe._build.settle()
            left.append(Path(pipe._build.path).parent.exists())

    with Pipeline(store, matcher, workers=1) as pipe:
        list(pipe.process(stream, batch_size=2, on_batch=look))
    assert left and not any(left)
    assert small_steps == [0]
    store.close()
    assert index_dump(db) == in_place(tmp_path, matcher, stream)


@pytest.mark.skipif(not LOCKS, reason="scratch folders are swept by their flock (not on Windows)")
def test_the_next_build_removes_what_a_killed_replays_build_left_and_never_a_live_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A replay killed outright (SIGKILL, out of memory) leaves its build's scratch file, as large as
    the search index, in the temp folder: the next build removes it; a running replay's is kept."""
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    running = Store(tmp_path / "running.db")
    live = SearchBuild.beside(running.db.conn, running.path)
    assert live is not None
    script = f"""
import os, signal, tempfile
tempfile.tempdir = {str(temp)!r}
from bot.store.db import Store
from bot.store.searchbuild import SearchBuild
store = Store({str(tmp_path / "killed.db")!r})
build = SearchBuild.beside(store.db.conn, store.path)
build.advance()
build.settle()  # (its scratch file is there)
print(build.path, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL
    left = Path(killed.stdout.strip())
    assert left.exists() and Path(live.path).parent.exists()
    store = Store(tmp_path / "next.db")
    with caplog.at_level(logging.INFO, logger="bot.store.db"):
        build = SearchBuild.beside(store.db.conn, store.path)
    assert build is not None
    assert not left.parent.exists()
    assert Path(live.path).parent.exists()
    assert f"removed the search build a killed replay left: {left.parent}" in caplog.text
    build.cancel()
    live.cancel()
    assert list(temp.iterdir()) == []
    store.close()
    running.close()


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own niceness is Linux's")
def test_the_build_runs_nicer_than_a_replay_started_under_nice(tmp_path: Path) -> None:
    """`nice tgwatch replay ...`: the build still yields to the replay's own work (it takes only the
    cores the replay leaves idle), rather than being set to niceness 10, the replay's own or below it."""
    script = f"""
import os
import signal
from bot.store.db import Store
from bot.store.searchbuild import SearchBuild
os.nice(12 - os.nice(0))
store = Store({str(tmp_path / "s.db")!r})
build = SearchBuild.beside(store.db.conn, store.path)
build.advance()
build.settle()  # (its thread has set its niceness)
print(os.getpriority(os.PRIO_PROCESS, 0), os.getpriority(os.PRIO_PROCESS, build._thread.native_id))
build.cancel()
"""
    if os.nice(0) > 12:
        pytest.skip("this test runs nicer than the replay it starts")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    replay, build = map(int, done.stdout.split())
    assert (replay, build) == (12, 19)


_CTRL_C_AT_THE_END = """
import signal, sys, threading
from pathlib import Path
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.source import read_paths
from bot.store.db import Store
from bot.store.searchbuild import SearchBuild

signal.signal(signal.SIGINT, signal.default_int_handler)  # (a suite run in the background ignores it)
SearchBuild.CHUNK = 3
index, cancel = SearchBuild._index, SearchBuild.cancel
cancelled = threading.Event()
builds, working = [], []

def last_pass(self, conn):  # Ctrl-C while the replay waits for the build's last pass
    if self._stop and not builds:
        builds.append(self)
        working.append(True)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
        cancelled.wait(30)
        index(self, conn)
        working.clear()
    else:
        index(self, conn)

def told(self):
    cancelled.set()
    cancel(self)

SearchBuild._index, SearchBuild.cancel = last_pass, told
store = Store(sys.argv[1])
stream = [p for p in read_paths([Path(sys.argv[2])]) if isinstance(p, Post)]
with Pipeline(store, Matcher(load_rules(Path(sys.argv[3]))), workers=1) as pipe:
    try:
        list(pipe.process(stream, batch_size=2))
    except KeyboardInterrupt:
        print(bool(working), Path(builds[0].path).parent.exists())
cancelled.set()
"""


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="a Ctrl-C sent to one thread")
def test_a_ctrl_c_while_the_replay_waits_for_the_builds_end_leaves_no_thread_nor_scratch_file(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", _CTRL_C_AT_THE_END, str(tmp_path / "s.db"), str(SAMPLE), str(ROOT / "rules")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "False"], done.stderr  # the build's thread at work, its scratch folder


def test_an_install_another_process_indexed_before_reads_no_post_under_the_write_lock(
        tmp_path: Path, matcher: Matcher, small_steps: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The live service beside a replay waits 2 s at most for the write lock (LIVE_BUSY_TIMEOUT), and
    indexes in place as it stores its own posts: the install, dropped then, must not first read every
    stored post under the lock (0.8 s a million posts) to find what the index alone says."""
    import bot.store.searchbuild as searchbuild

    read_at_install: list[int] = []
    digest = searchbuild._digest_rows

    def counted(h: Any, rows: sqlite3.Cursor) -> None:
        if threading.current_thread() is threading.main_thread():  # (the build's own reads are in its thread)
            read_at_install.append(1)
        digest(h, rows)

    monkeypatch.setattr(searchbuild, "_digest_rows", counted)
    db = tmp_path / "indexed.db"
    store = Store(db)

    def live_indexes(_batch: list[Any]) -> None:
        if pipe._build is not None and fts_rowid(store) == 0:
            other = Store(db)
            try:
                other.sync_search()
            finally:
                other.close()

    with Pipeline(store, matcher, workers=1) as pipe:
        list(pipe.process(posts(), batch_size=2, on_batch=live_indexes))
    assert small_steps == [0] and read_at_install == []
    store.close()
