"""`tgwatch stories`: the largest recent stories, with their channels and first post."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click
from rich.table import Table

from ..store.db import iso
from .common import COUNT_MAX, DEFAULT_DB, WHEN, open_store, out

__all__ = ["stories"]


@click.command()
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, help="SQLite store to read.")
@click.option("--since", type=WHEN, help="Only stories last seen at or after this (2024-11-01, 7d, ...).")
@click.option("--min-size", default=1, show_default=True, type=click.IntRange(min=1, max=COUNT_MAX, clamp=True), help="Only stories of at least this many posts.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1, max=COUNT_MAX, clamp=True), help="Show at most this many stories.")
def stories(db_path: str, since: datetime | None, min_size: int, limit: int) -> None:
    """The largest recent stories (posts folded together: forwards, copies, rewordings), biggest
    first, with their channels and first post. Exit 0 when some were found, 1 when none were."""
    store = open_store(db_path, must_exist=True)
    try:
        rows = list(store.db.query(
            "SELECT s.id, s.size, s.channels, s.first_date, s.last_date, p.link, p.text, c.title "
            "FROM stories s LEFT JOIN posts p ON p.channel_id = s.first_channel_id AND p.message_id = s.first_message_id "
            "LEFT JOIN channels c ON c.id = s.first_channel_id "
            "WHERE coalesce(s.size, 1) >= ? AND (? IS NULL OR s.last_date >= ?) "
            "ORDER BY s.size DESC, s.last_date DESC, s.id LIMIT ?",
            [min_size, iso(since), iso(since), limit]))
        titles = {r["id"]: r["title"] or str(r["id"]) for r in store.db.query("SELECT id, title FROM channels")}
    finally:
        store.close()
    c = out()
    if not rows:
        c.print("no stories" + (f" of {min_size}+ posts" if min_size > 1 else "") + (" since then" if since else ""))
        sys.exit(1)
    table = Table(title="stories", show_lines=False)
    for col in ("story", "posts", "channels", "first post (UTC)", "last seen (UTC)", "headline"):
        table.add_column(col, overflow="fold")
    for r in rows:
        chans = [titles.get(ch, str(ch)) for ch in json.loads(r["channels"] or "[]")]
        head = (r["text"] or "").strip().split("\n", 1)[0]
        head = head[:80] + ("…" if len(head) > 80 else "")
        first = f"{r['title'] or ''} {(r['first_date'] or '').replace('T', ' ')[:16]}\n{r['link'] or ''}"
        table.add_row(f"#{r['id']}", str(r["size"] or 1), ", ".join(chans), first,
                      (r["last_date"] or "").replace("T", " ")[:16], head)
    c.print(table)
