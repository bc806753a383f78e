"""helper-110's review (the search index's rebuild): each test fails on the code reviewed. Real SQLite
files, the fake Telegram, CliRunner."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from click.testing import CliRunner, Result

from bot.cli import cli

from .fake_telegram import FakeTelegram, eventually
from .test_live import SHOT, channels, running, run


def tg(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def damage_index(db: Path) -> None:
    """As tests/test_review103_search.py damages it: the FTS5 segments overwritten, pages sound."""
    c = sqlite3.connect(db)
    with c:
        c.execute("UPDATE posts_fts_data SET block = substr(block, 1, 4) || "
                  "CAST(replace(hex(zeroblob(length(block) - 4)), '00', 'a5') AS BLOB) WHERE id > 10")
    c.close()


def test_the_live_service_stores_new_posts_and_edits_over_a_damaged_search_index(fake: FakeTelegram,
                                                                                  tmp_path: Path) -> None:
    """`search` rebuilds a damaged index (7aeb494), replay names the repair (ca8b275); `tgwatch run`
    does neither. An edit re-indexes the post and meets the damage (SQLITE_CORRUPT_VTAB, not a
    `store_down` error): every pushed edit is a Telethon traceback and is not stored, and the
    reconcile poll, which reads edits and new posts of a channel in one batch, raises at every run:
    a new post only the poll can bring (Telegram did not push it) is never stored, nor alerted."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            def edited() -> int:
                return service.store.db.execute("SELECT count(*) FROM posts WHERE text LIKE '%их двое'").fetchone()[0]

            mids = []
            for i in range(40):
                mids.append(fake.publish(SHOT, f"Сводка {i}: в части задержан дезертир, сообщает источник"))
                await eventually(lambda: service.store.count("posts") == i + 1)
            await service.poll()
            damage_index(Path(service.store.path))
            for i, mid in enumerate(mids):
                fake.edit(SHOT, mid, f"Сводка {i}: в части задержан дезертир. Обновлено: их двое")
            fake.publish(SHOT, "Ещё один дезертир задержан в Подмосковье", push=False)  # only the poll brings it
            await eventually(lambda: edited() == len(mids))  # every pushed edit stored (each one lost, over the damage)
            for _ in range(2):  # the scheduler's runs: an error is logged, the next run comes
                try:
                    await service.poll()
                except sqlite3.DatabaseError:
                    pass
            assert (service.store.count("posts"), edited()) == (41, 40)  # it was (40, 1..2): the new post and the edits lost
    run(go())


def test_a_batch_of_edits_and_new_posts_over_a_damaged_index_is_stored_whole_and_alerted_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """SQLite rolls a whole transaction back when FTS5 meets damage in its index (at the 8th edit of
    a batch here, as the next statement flushes FTS5's pending writes), not the statement alone: a
    batch must not write the index. Stored whole, each new post alerted once; the index rebuilt
    once the batch is committed (one warning naming the store), the search finding the edits."""
    from bot.match.matcher import Matcher
    from bot.match.rules import Rule
    from bot.pipeline import Pipeline
    from bot.store.db import Store
    from bot.store.read import search_posts

    from .test_store import post

    db = tmp_path / "s.db"
    store = Store(db)
    matcher = Matcher([Rule.from_query("d", "дезертир")])
    list(Pipeline(store, matcher).process([post(m, f"Сводка {m}: склад сгорел") for m in range(1, 41)]))
    store.close()
    damage_index(db)
    store = Store(db)
    batch = [post(m, f"Сводка {m}: задержан дезертир") for m in range(1, 41)]
    batch += [post(m, f"Новость {m}: задержан дезертир") for m in range(41, 51)]
    done = list(Pipeline(store, matcher).process(batch))
    assert [p.status for p in done].count("edited") == 40 and [p.status for p in done].count("new") == 10
    assert store.db.execute("SELECT count(*) FROM posts WHERE text LIKE '%дезертир'").fetchone()[0] == 50
    stories = store.db.execute("SELECT count(DISTINCT story_id) FROM posts").fetchone()[0]
    assert store.count("alerts") == stories  # one per story and rule
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning == (f"{db}: the search index was damaged (database disk image is malformed); "
                       "rebuilt it from the 50 stored posts (nothing stored was lost)")
    told: list[str] = []
    assert len(list(search_posts(store, "дезертир", limit=100, repaired=told.append))) == 50 and not told
    assert {p.status for p in Pipeline(store, matcher).process(batch)} == {"unchanged"}
    assert store.count("alerts") == stories
    store.close()


def test_retention_prunes_over_a_damaged_index(tmp_path: Path) -> None:
    """Retention's prune took each post out of the index in its transaction: over a damaged index it
    failed every day, and the posts stayed. They go; the index drops them at the next search."""
    from bot.match.matcher import Matcher
    from bot.match.rules import Rule
    from bot.pipeline import Pipeline
    from bot.store.db import Store
    from bot.store.read import search_posts

    from .test_store import post

    db = tmp_path / "s.db"
    store = Store(db)
    list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process(
        [post(m, f"Сводка {m}: склад сгорел" if m % 2 else f"Сводка {m}: задержан дезертир") for m in range(1, 41)]))
    store.close()
    damage_index(db)
    store = Store(db)
    assert store.prune("9999-01-01T00:00:00+00:00") == 20
    assert len(list(search_posts(store, "сводка", limit=100, repaired=lambda _: None))) == 20
    store.close()


@pytest.mark.parametrize("damage", ["DELETE FROM posts_fts_data WHERE id = 10",
                                    "UPDATE posts_fts_data SET block = X'a5a5a5a5a5a5a5a5' WHERE id = 10"])
def test_a_search_index_whose_structure_record_is_damaged_is_rebuilt_too(tmp_path: Path, damage: str) -> None:
    """Only the segments' damage was repaired: when FTS5's structure record (posts_fts_data id 10) is
    the damaged part, SQLite says SQLITE_CORRUPT_VTAB «vtable constructor failed: posts_fts»; the
    rebuild failed on its own 'delete-all' (DROP TABLE fails too), and so did the sqlite3 command
    a failed search named: no way out short of editing the shadow tables by hand. (Emptying them
    and writing FTS5's empty structure record repairs it: checked by the reviewer.)"""
    from bot.match.matcher import Matcher
    from bot.match.rules import Rule
    from bot.pipeline import Pipeline
    from bot.store.db import Store

    from .test_store import fts_ok, post

    db = tmp_path / "s.db"
    store = Store(db)
    list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process(
        [post(m, f"Сводка {m}: задержан дезертир") for m in range(1, 41)]))
    store.close()
    c = sqlite3.connect(db)
    with c:
        c.execute(damage)
    c.close()
    result = tg("search", "дезертир", "--db", db, "--limit", "1")
    assert result.exit_code == 0 and "1 of 40 posts found" in result.stderr, result.output
    assert "note: " in result.stderr and "rebuilt it from the 40 stored posts" in result.stderr, result.stderr
    store = Store(db)
    assert fts_ok(store)
    store.close()
    assert "note:" not in tg("search", "дезертир", "--db", db, "--limit", "1").stderr


def test_the_recover_line_for_a_damaged_file_can_be_pasted_when_the_store_path_has_a_space(tmp_path: Path) -> None:
    """The line a damaged file gets (`sqlite3 DB .recover | sqlite3 recovered.db`) put the path in
    unquoted: for a store under «Telegram watch/», pasted into a shell, sqlite3 opened «…/Telegram»
    and took «watch/…» for SQL. (The search index's own repair line, which had the same fault, is
    gone: the index repairs itself.)"""
    import re
    import shutil
    import subprocess

    from .sample_store import build
    from .test_bad_inputs import damage

    if shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 shell to paste the line into")
    folder = tmp_path / "Telegram watch"
    folder.mkdir()
    db = folder / "tgwatch.db"
    build(db)
    damage(db)
    result = tg("stories", "--db", db)
    [command] = re.findall(r"`(sqlite3 [^`]+)`", result.output.replace("\n", " "))
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "recovered.db").exists(), (command, done.stderr)


def test_export_search_says_it_rebuilt_a_damaged_index_in_a_note_as_search_does(tmp_path: Path) -> None:
    """`search` says it in one `note:` line; `export --search` said it as a raw log record
    («… WARNING bot.store.db: …»). The same note now, and the same rows as before the damage."""
    from .sample_store import build
    from .test_review103_search import damage_index as damage_segments

    db = tmp_path / "tg.db"
    n = len({p.post.key for p in build(db).processed})
    before = tg("export", "--search", "дезертир", "--db", db)
    damage_segments(db)
    after = tg("export", "--search", "дезертир", "--db", db)
    assert after.exit_code == 0 and after.stdout == before.stdout, after.output
    lines = after.stderr.splitlines()
    assert [ln for ln in lines if "damaged" in ln] == [
        f"note: {db}: the search index was damaged (database disk image is malformed); rebuilt it from the "
        f"{n} stored posts (nothing stored was lost)"]


def test_the_index_is_built_in_short_transactions_and_resumes_where_one_failed(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild held the write lock for the whole re-index (2.4 s for the corpus under load; the
    live service waits 2 s for it): it commits every `SEARCH_CHUNK` posts, so a writer gets in
    between, and a sync stopped midway (here: the third chunk fails) resumes from what was committed."""
    from bot.store.db import Store
    from bot.store.read import count_search

    from .test_store import fts_ok, post

    store = Store(tmp_path / "s.db")
    with store.transaction():
        store.write_new_posts([store.post_row(post(m, f"Сводка {m}: задержан дезертир"), store.new_story(post(m, "x")),
                                              "2026-11-30T10:00:00+00:00") for m in range(1, 11)])
    monkeypatch.setattr(Store, "SEARCH_CHUNK", 3)
    chunk = Store._index_chunk
    calls: list[int] = []

    def third_fails(self: Store) -> tuple[int, bool]:
        calls.append(1)
        if len(calls) == 3:
            raise sqlite3.OperationalError("database is locked")
        return chunk(self)

    monkeypatch.setattr(Store, "_index_chunk", third_fails)
    try:
        store.sync_search()
    except sqlite3.OperationalError:
        pass
    assert store.db.execute("SELECT value FROM meta WHERE key = 'fts_rowid'").fetchone()[0] == "6"  # two chunks kept
    monkeypatch.setattr(Store, "_index_chunk", chunk)
    assert count_search(store, "дезертир") == 10 and fts_ok(store)
    store.close()
