"""Channels whose high-water mark came from a replayed export, not a live read: kept in the meta
row `live_seeded` (ids, comma-separated), so their first live read stores every post since the
export yet alerts only the backfill's day (no migration: the channels table says no more)."""

from __future__ import annotations

from collections.abc import Collection

from ..store.db import Store

__all__ = ["SEEDED_KEY", "read_in_order", "seed", "seeded"]

SEEDED_KEY = "live_seeded"


def seeded(store: Store) -> set[int]:
    """The channels not read in order since tgwatch began watching them that had a mark by then."""
    return {int(cid) for cid in (store.get_meta(SEEDED_KEY) or "").split(",") if cid}


def _write(store: Store, ids: set[int]) -> None:
    if ids:
        store.set_meta(SEEDED_KEY, ",".join(str(cid) for cid in sorted(ids)))
    else:
        store.delete_meta(SEEDED_KEY)


def seed(store: Store, channel_ids: Collection[int]) -> None:
    """Before `Store.begin_run`/`watch_channels`: remember those of `channel_ids` never watched live
    (`watched_run` NULL) that have a high-water mark (a replay's, which `watch_channels` keeps)."""
    ids = list(channel_ids)
    if not ids:
        return
    with store.transaction():
        new = store.marked_never_watched(ids)
        if new:
            _write(store, seeded(store) | new)


def read_in_order(store: Store, channel_id: int) -> None:
    """The channel was read in order since it was watched: all its posts alert from now on. (Read
    first without the write lock: every poll of every channel comes here, and seeded ones are rare.)"""
    if channel_id not in seeded(store):
        return
    with store.transaction():
        now = seeded(store)
        if channel_id in now:
            _write(store, now - {channel_id})
