"""`tgwatch restore` while another command has the store open (a replay between two batches): the
restore is one `error:` line and changes nothing, so what the replay stores next is not written
into a file the restore has replaced and lost."""

from __future__ import annotations

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


def posts(db: Path) -> int:
    with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return int(c.execute("SELECT count(*) FROM posts").fetchone()[0])


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
        late = Post(channel_id=-1001700000009, message_id=7, date=datetime(2026, 11, 24, 9, tzinfo=timezone.utc),
                    channel_title="Поздний канал", text="Дезертира задержали у вокзала.")
        list(Pipeline(replay, shipped_matcher()).process([late]))  # the replay's next batch
    finally:
        replay.close()
    assert posts(sample.db) == before + 1  # the store is as it was, and the replay's post is in it
    assert not list(tmp_path.glob("tg.db.before-restore*")) and not list(tmp_path.glob(".*.part*"))

    result = CliRunner().invoke(cli, ["restore", str(night), "--db", str(sample.db)])
    assert result.exit_code == 0, result.output  # the replay done, the restore goes ahead
    assert posts(sample.db) == before and posts(tmp_path / "tg.db.before-restore") == before + 1
