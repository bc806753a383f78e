"""Review 201: `tgwatch backup` / `tgwatch restore` and the alerts held after a restore, used as an
analyst would: a store an earlier release left, and the counts /stats gives of held alerts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from bot.live.restored import restored_from
from bot.store.db import SCHEMA_VERSION, Store
from bot.store.read import search_posts

from .test_review147_upgrade import first_release_store


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stderr


def _version(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def test_a_store_of_the_first_release_is_backed_up_and_restored_then_upgraded_marked(tmp_path: Path) -> None:
    """An analyst upgrading from the first release backs the store up before anything opens (and
    upgrades) it, or restores a copy that release left: both were refused («no such table: meta»,
    «not a tgwatch store»). Now the copy is made and restored, and the store it gives opens
    upgraded, its posts found, still marked as restored (the service then sends nothing twice)."""
    old = tmp_path / "old.db"
    first_release_store(old)
    before = old.read_bytes()
    code, said = _cli("backup", str(tmp_path / "nightly.db"), "--db", str(old))
    assert code == 0, said
    assert old.read_bytes() == before  # (the store copied is never written nor upgraded)
    for backup in ("nightly.db", "old.db"):  # ours, and a copy the old release's owner made with cp
        db = tmp_path / f"from-{backup}"
        code, said = _cli("restore", str(tmp_path / backup), "--db", str(db))
        assert code == 0 and said.count("\n") == 1 and "2 posts" in said, said
        assert _version(db) == 1  # restored as it was: opening it upgrades it
        store = Store(db)
        try:
            assert _version(db) == SCHEMA_VERSION
            assert restored_from(store) is not None, backup
            assert len(list(search_posts(store, "Подольске"))) == 2
        finally:
            store.close()
