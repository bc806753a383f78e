"""A meta row the service keeps as JSON, damaged by hand (edited, cut short): one warning, read as
empty, and alerts still go out; never an exception that stops sending. Real SQLite files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.live.restored import NOTED_KEY, hold_older, noted_older, release_held
from bot.live.runmark import COUNT_KEY, RunMarks
from bot.store.backup import RELEASED_KEY
from bot.store.db import Store

from .sample_store import Sample

LATER = "2100-01-01T00:00:00+00:00"  # every sample post is older than this run


@pytest.mark.parametrize("damaged", ["[1, 2", "{\"a\": ", "[1, 2]]", "nul"])
def test_a_damaged_released_list_holds_every_alert_with_one_warning(sample: Sample, damaged: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    store = Store(sample.db)
    try:
        queued = store.db.execute("SELECT count(*) FROM alerts WHERE state = 'queued'").fetchone()[0]
        assert queued > 0
        store.set_meta(RELEASED_KEY, damaged)
        with caplog.at_level(logging.WARNING):
            assert hold_older(store, LATER) == queued  # treated as none released
            assert sorted(release_held(store)) and json.loads(store.get_meta(RELEASED_KEY) or "")  # whole again
        said = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(said) == 1 and RELEASED_KEY in said[0].getMessage(), [r.getMessage() for r in said]
        assert hold_older(store, LATER) == 0  # the released ones are spared, as always
    finally:
        store.close()


@pytest.mark.parametrize("damaged", ['{"found": [1, 2', '{"found": [1e999]}', '[3]', '{"sent": {"a": 1}}'])
def test_a_damaged_recovered_count_is_counted_afresh(sample: Sample, damaged: str) -> None:
    store = Store(sample.db)
    try:
        store.set_meta(NOTED_KEY, damaged)
        assert noted_older(store) == (set(), set())
    finally:
        store.close()


@pytest.mark.parametrize("damaged", ['{"n": 3', '{"n": 1e999}', '{"n": [1]}', '"3"'])
def test_a_damaged_send_count_is_counted_afresh_and_sends_go_on(sample: Sample, tmp_path: Path, damaged: str) -> None:
    store = Store(sample.db)
    try:
        store.set_meta(COUNT_KEY, damaged)
        marks = RunMarks(tmp_path / "stores.json", sample.db, store)
        assert marks.check() is False
        marks.sent()
        assert json.loads(store.get_meta(COUNT_KEY) or "")["n"] == 1
        assert json.loads((tmp_path / "stores.json").read_text(encoding="utf-8"))[str(sample.db.resolve())]["count"] == 1
    finally:
        store.close()
