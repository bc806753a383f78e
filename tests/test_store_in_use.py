"""A store some program has open (a replay between two batches) is never replaced: `tgwatch restore`
and `tgwatch backup FILE` over it (the arguments swapped: `tgwatch backup tgwatch.db --db nightly.db`)
are one `error:` line and change nothing, so what the replay stores next is not written into a
replaced file and lost. A -wal a killed program left beside FILE is never read into the fresh copy."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import REPLAY, Store

from .sample_store import Sample, shipped_matcher

LATE = Post(channel_id=-1001700000009, message_id=7, date=datetime(2026, 11, 24, 9, tzinfo=timezone.utc),
            channel_title="Поздний канал", text="Дезертира задержали у вокзала.")


def posts(db: Path) -> int:
    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return int(c.execute("SELECT count(*) FROM posts").fetchone()[0])


def test_a_backup_over_a_store_a_replay_has_open_is_refused_and_the_store_keeps_its_posts(
        sample: Sample, tmp_path: Path) -> None:
    nightly = tmp_path / "nightly.db"
    assert CliRunner().invoke(cli, ["backup", str(nightly), "--db", str(sample.db)]).exit_code == 0
    before = posts(sample.db)
    replay = Store(sample.db, owner=REPLAY)
    try:
        list(Pipeline(replay, shipped_matcher()).process([LATE]))  # stored, still in the -wal
        result = CliRunner().invoke(cli, ["backup", str(sample.db), "--db", str(nightly)])  # swapped
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and result.output.startswith(f"error: {sample.db}: "), result.output
        assert "another program" in result.output
    finally:
        replay.close()
    assert posts(sample.db) == before + 1
    with closing(sqlite3.connect(sample.db)) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_backup_over_a_file_a_killed_program_left_a_wal_beside_is_the_store_copied_alone(
        sample: Sample, tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    shutil.copyfile(sample.db, old)
    writer = Store(old)
    try:
        writer.db.execute("PRAGMA wal_autocheckpoint=0")
        writer.db.execute("DELETE FROM posts")  # committed in the -wal only
        killed = {end: Path(f"{old}{end}").read_bytes() for end in ("", "-wal")}  # as a kill leaves them
    finally:
        writer.close()
    for end, held in killed.items():
        Path(f"{old}{end}").write_bytes(held)
    result = CliRunner().invoke(cli, ["backup", str(old), "--db", str(sample.db)])
    assert result.exit_code == 0, result.output
    assert posts(old) == posts(sample.db) > 0  # the copy as the store is, no stale -wal read into it
    with closing(sqlite3.connect(old)) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_restore_while_a_replay_has_the_store_open_is_refused_and_the_replays_next_posts_are_kept(
        sample: Sample, tmp_path: Path) -> None:
    night = tmp_path / "night.db"
    assert CliRunner().invoke(cli, ["backup", "--db", str(sample.db), str(night)]).exit_code == 0
    before = posts(sample.db)
    replay = Store(sample.db, owner=REPLAY)  # a replay, its first batch committed, reading its next one
    try:
        result = CliRunner().invoke(cli, ["restore", str(night), "--db", str(sample.db)])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {sample.db}: ") and "another program" in lines[0], result.output
        assert "Traceback" not in result.output
        list(Pipeline(replay, shipped_matcher()).process([LATE]))  # the replay's next batch
    finally:
        replay.close()
    assert posts(sample.db) == before + 1  # the store is as it was, and the replay's post is in it
    assert not list(tmp_path.glob("tg.db.before-restore*")) and not list(tmp_path.glob(".*.part*"))

    result = CliRunner().invoke(cli, ["restore", str(night), "--db", str(sample.db)])
    assert result.exit_code == 0, result.output  # the replay done, the restore goes ahead
    assert posts(sample.db) == before and posts(tmp_path / "tg.db.before-restore") == before + 1
