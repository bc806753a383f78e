"""Ctrl-C during `tgwatch replay`: the summary's counts say what the store holds of the batches
committed, wherever in a batch the interrupt lands (before, during or after its commit)."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import bot.pipeline
from bot.cli import cli
from bot.store.db import Store
from .test_replay import RULES, rows

A, B, C = 1700000101, 1700000102, 1700000103  # A posts, B copies A's text, C forwards A's post
T0 = 1790000000
EVENTS = 400  # 1,200 posts: batches of 500, 500, 200
BATCH = 500
SYLLABLES = ["ба", "ве", "гу", "до", "жи", "зо", "ки", "лу", "ма", "не", "по", "ру", "са", "ту", "фе", "хо"]


def word(n: int) -> str:
    """A made-up word of its own for each n: events share no word, so only copies fold."""
    out = ""
    for _ in range(4):
        n, k = divmod(n, len(SYLLABLES))
        out += SYLLABLES[k]
    return out


def corpus(path: Path) -> Path:
    """Each event posted by A, copied word for word by B, forwarded by C; every 10th is news of a
    desertion (the shipped `desertion` rule matches it)."""
    lines = []
    for i in range(EVENTS):
        text = " ".join(word(i * 8 + k) for k in range(8)).capitalize() + "."
        if i % 10 == 0:
            text = f"В городе {word(i * 8)} задержали дезертиров. {text}"
        when = T0 + i * 600
        lines.append({"channel_id": A, "message_id": i + 1, "date": when, "text": text, "channel_title": "A"})
        lines.append({"channel_id": B, "message_id": i + 1, "date": when + 60, "text": text, "channel_title": "B"})
        lines.append({"channel_id": C, "message_id": i + 1, "date": when + 120, "text": text, "channel_title": "C",
                      "forward_channel_id": A, "forward_post_id": i + 1})
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in lines), encoding="utf-8")
    return path


def summary(r: Result) -> dict[str, str]:
    """The summary table's rows: label -> value (labels are separated from values by 2+ spaces)."""
    out = {}
    for line in r.stdout.splitlines():
        label, sep, value = line.partition("  ")
        if sep:
            out[label] = value.strip()
    return out


def stored(db: Path) -> dict[str, str]:
    """The summary rows a run into an empty store should print, as worked out from the store."""
    [(posts,)] = rows(db, "SELECT count(*) FROM posts")
    [(stories,)] = rows(db, "SELECT count(*) FROM stories")
    [(copies,)] = rows(db, f"SELECT count(*) FROM posts WHERE channel_id = {B}")
    [(forwards,)] = rows(db, f"SELECT count(*) FROM posts WHERE channel_id = {C}")
    [(matched,)] = rows(db, "SELECT count(DISTINCT channel_id || ':' || message_id) FROM matches "
                            "WHERE rule = 'desertion' AND current")
    [(alerts,)] = rows(db, "SELECT count(*) FROM alerts")
    near = posts - stories - copies - forwards
    want = {"posts read": f"{posts:,}", "new": f"{posts:,}", "new stories": f"{stories:,}",
            "joined a story": f"{posts - stories:,} ({forwards:,} forwards, {copies:,} same text, {near:,} reworded)",
            "new alerts": f"{alerts:,}"}
    if matched:
        want["matched desertion"] = f"{matched:,}"
    return want


def replay(src: Path, db: Path) -> Result:
    alerts = db.with_suffix(".jsonl")  # (a file, so that each batch's alerts are handed on after its commit)
    return CliRunner().invoke(cli, ["replay", str(src), "--db", str(db), "--rules", str(RULES), "--alerts", str(alerts)])


def shown(r: Result) -> dict[str, str]:
    s = summary(r)
    return {k: s[k] for k in ("posts read", "new", "new stories", "joined a story", "new alerts", "matched desertion") if k in s}


def test_an_uninterrupted_replay_counts_what_it_stored(tmp_path: Path) -> None:
    """The baseline the interrupted runs are held to: the same rows, worked out the same way."""
    db = tmp_path / "s.db"
    r = replay(corpus(tmp_path / "posts.jsonl"), db)
    assert r.exit_code == 0, r.output
    want = stored(db)
    assert want["new"] == f"{3 * EVENTS:,}" and want["joined a story"] == f"{2 * EVENTS:,} ({EVENTS:,} forwards, {EVENTS:,} same text, 0 reworded)"
    assert shown(r) == want


# where the interrupt lands, in the second batch: whether that batch is stored
POINTS = {
    "in the batch's transaction": False,  # its posts are written, its coverage not yet: rolled back
    "as the commit starts": False,  # the stories' rows are flushed: rolled back
    "just after the commit": True,  # a Ctrl-C during the COMMIT surfaces once it is done: stored
    "while the search index catches up": True,  # after the commit, before the batch is handed on
    "while its alerts are handed on": True,
}


@pytest.mark.parametrize("point", POINTS)
def test_an_interrupted_replay_counts_the_batches_it_committed_and_no_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """A Ctrl-C printed `new stories 11000` and `joined a story 0` for 11,000 stored posts in 8,988
    stories: the story index, rebuilt after the interrupt, had its counts start again. Every count
    of the summary is what the store holds, and so what the batches committed hold."""
    batches = 0  # batches whose transaction reached their coverage
    fired = False

    def interrupt(here: str) -> None:
        """Ctrl-C once, at `here` in the second batch (not again as the interrupted replay closes)."""
        nonlocal fired
        if point == here and batches == 2 and not fired:
            fired = True
            raise KeyboardInterrupt
    real_cover, real_flush, real_sync = bot.pipeline.advance_coverage, Store._flush_stories, Store.sync_search
    cli_replay = importlib.import_module("bot.cli.replay")  # (the module: `bot.cli.replay` may name the command)
    real_transaction, real_deliver = Store.transaction, cli_replay.deliver_queued

    def cover(*a: Any, **kw: Any) -> Any:
        nonlocal batches
        batches += 1
        interrupt("in the batch's transaction")
        return real_cover(*a, **kw)

    def flush(self: Store) -> None:
        interrupt("as the commit starts")
        real_flush(self)

    @contextmanager
    def transaction(self: Store) -> Iterator[None]:
        with real_transaction(self):
            yield
        if not self.db.conn.in_transaction:  # (the batch's own, not one nested in it)
            interrupt("just after the commit")

    def sync(self: Store) -> Any:
        interrupt("while the search index catches up")
        return real_sync(self)

    def deliver(*a: Any, **kw: Any) -> int:
        interrupt("while its alerts are handed on")
        return real_deliver(*a, **kw)

    monkeypatch.setattr(bot.pipeline, "advance_coverage", cover)
    monkeypatch.setattr(cli_replay, "deliver_queued", deliver)
    monkeypatch.setattr(Store, "_flush_stories", flush)
    monkeypatch.setattr(Store, "transaction", transaction)
    monkeypatch.setattr(Store, "sync_search", sync)
    monkeypatch.setattr(bot.pipeline, "SEARCH_EVERY", 1)  # the index catches up after each batch
    db = tmp_path / "s.db"
    r = replay(corpus(tmp_path / "posts.jsonl"), db)
    assert r.exit_code == 130 and "interrupted: every batch committed so far is stored" in r.stderr, r.output
    [(posts,)] = rows(db, "SELECT count(*) FROM posts")
    assert fired and posts == BATCH * (2 if POINTS[point] else 1)  # the interrupt landed where it was meant to
    assert shown(r) == stored(db)
