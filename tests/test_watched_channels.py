"""When tgwatch began watching each channel, and the last run that watched it (`Store.begin_run`,
`Store.watch_channels`, migration 13): what decides whether a channel's old posts alert."""

from __future__ import annotations

from pathlib import Path

from bot.store.db import SCHEMA_VERSION, Store

T0, T1, T2 = "2026-11-01T10:00:00+00:00", "2026-11-02T10:00:00+00:00", "2026-11-12T10:00:00+00:00"


def channel(store: Store, cid: int) -> tuple[str | None, int | None, int | None]:
    row = store.db.execute("SELECT watched_since, watched_run, last_message_id FROM channels WHERE id = ?", [cid]).fetchone()
    return row[0], row[1], row[2]


def test_a_channel_watched_run_after_run_keeps_when_it_was_first_watched(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.mark_resolved(1, "SHOT", "shot_shot")
    run, _ = store.begin_run([], T0)
    assert store.watch_channels([1], run, T0) == {1: T0}
    store.advance_high_water(1, 40)
    run, before = store.begin_run([1], T1)  # the next run: known, watched without a break
    assert (run, before) == (2, {1}) and store.watch_channels([1], run, T1) == {1: T0} and channel(store, 1) == (T0, 2, 40)


def test_a_channel_out_of_the_config_for_a_run_is_watched_anew_and_forgets_its_high_water_mark(tmp_path: Path) -> None:
    """Its first read after coming back takes its latest posts as a new channel's does, not every
    post of its absence; and its posts alert by when it came back."""
    store = Store(tmp_path / "s.db")
    store.mark_resolved(1, "Топор", "topor")
    store.watch_channels([1], store.begin_run([], T0)[0], T0)
    store.advance_high_water(1, 40)
    store.begin_run([], T1)  # a run without it
    run, before = store.begin_run([1], T2)
    assert before == set() and channel(store, 1) == (T2, run, None)


def test_a_channel_never_watched_live_keeps_the_high_water_mark_a_replay_gave_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.upsert_channel(1, "Mash", "mash")
    store.advance_high_water(1, 40)  # replayed from an export
    assert store.watch_channels([1], store.begin_run([], T1)[0], T1) == {1: T1} and channel(store, 1)[2] == 40


def test_a_store_from_before_watched_since_counts_its_channels_as_watched_in_the_last_run(tmp_path: Path) -> None:
    """Migration 13: a channel read in order alerts on every post, as before; one resolved but never
    read, by when it was last resolved; one only replayed is watched in no run yet."""
    store = Store(tmp_path / "s.db")
    store.mark_resolved(1, "SHOT", "shot_shot")
    store.advance_high_water(1, 40)
    store.mark_resolved(2, "Топор", "topor")
    store.db.execute("UPDATE channels SET resolved_at = ? WHERE id = 2", [T0])
    store.upsert_channel(3, "Mash", "mash")
    for column in ("watched_since", "watched_run"):
        store.db.execute(f"ALTER TABLE channels DROP COLUMN {column}")
    store.db.execute("PRAGMA user_version = 12")  # the version before migration 13 (watched_since)
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    assert [channel(store, cid) for cid in (1, 2, 3)] == [(None, 0, 40), (T0, 0, None), (None, None, None)]
    run, before = store.begin_run([1, 2], T2)
    assert before == {1, 2} and store.watch_channels([1, 2], run, T2) == {1: None, 2: T0}
