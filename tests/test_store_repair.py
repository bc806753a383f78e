"""A store an older tgwatch wrote: mended before today's migrations run on it (`bot.store.schema.repair`),
and upgraded once, said in one line before the work; a new or current store says nothing."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.store.db import SCHEMA_VERSION, Store
from bot.store.read import search_posts
from bot.store.schema import repair

from .test_review147_upgrade import WHEN, first_release_store, post

ROOT = Path(__file__).resolve().parents[1]


def test_an_edit_on_a_store_of_the_first_release_leaves_its_old_words_unfound(tmp_path: Path) -> None:
    """The first release's store kept its search index by triggers: left in place, they index each
    post again beside today's bulk indexing, and an edited post stays found by the words it lost."""
    path = tmp_path / "v1.db"
    first_release_store(path)
    store = Store(path)
    edit = post(1, "В Туле задержан дезертир")
    edit.edit_date = WHEN + timedelta(hours=1)
    assert [p.status for p in Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process([edit])] == ["edited"]
    assert [h.message_id for h in search_posts(store, "подольске")] == [2]
    assert [h.message_id for h in search_posts(store, "туле")] == [1]
    store.db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")  # the index against the posts
    store.close()


def _replayed(path: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", str(ROOT / "examples" / "export"), "--db", str(path),
                                      "--rules", str(ROOT / "rules"), "--alerts", "none"])
    assert result.exit_code == 0, result.output
    assert "upgrad" not in result.output  # a new store is made, not upgraded


def test_an_older_store_is_told_upgraded_once_naming_it_and_its_posts(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _replayed(path)
    conn = sqlite3.connect(path)
    posts = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.commit()
    conn.close()
    first = CliRunner().invoke(cli, ["search", "дезертир", "--db", str(path)])
    lines = [line for line in first.output.splitlines() if "upgrad" in line]
    assert first.exit_code == 0 and len(lines) == 1, first.output
    assert str(path) in lines[0] and f"{SCHEMA_VERSION - 1} → {SCHEMA_VERSION}" in lines[0] and f"{posts:,} posts" in lines[0]
    again = CliRunner().invoke(cli, ["search", "дезертир", "--db", str(path)])
    assert again.exit_code == 0 and "upgrad" not in again.output, again.output


def test_a_store_of_today_has_nothing_to_repair_and_the_library_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    told: list[str] = []
    store = Store(tmp_path / "new.db", told=told.append)
    assert told == [] and repair(store.db, store.version) == []
    store.close()
    conn = sqlite3.connect(tmp_path / "new.db")
    conn.execute("PRAGMA user_version = 18")
    conn.commit()
    conn.close()
    store = Store(tmp_path / "new.db", told=told.append)
    assert len(told) == 1 and store.version == SCHEMA_VERSION
    store.close()
    assert capsys.readouterr() == ("", "")
