"""Review 110 (reproduced by reviewer helper-110): the default CSV's escaping and the backtest's days,
each test failing on the code reviewed. Real SQLite files, CliRunner."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from bot.cli import cli


def tg(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_the_default_csv_tells_a_quoted_post_from_an_escaped_one(tmp_path: Path) -> None:
    """Every CSV now prefixes `'` to a cell that starts with = + - @ (0141985), but leaves a cell that
    already starts with `'` as it is: «-5° в Москве» and «'-5° в Москве» (a post quoting it) come out
    the same, so neither an analyst nor a program can tell what the channel wrote, and stripping one
    `'` to undo the escaping changes the second post. (Excel hides one leading `'`: escaping a cell
    that starts with `'` as `''` keeps both the sheet and the file exact.)"""
    import csv
    import io

    from .test_cli_filters import add_posts, post

    db = tmp_path / "s.db"
    add_posts(db, tmp_path, [post(1800000009, "Погода", 1, "-5° в Москве, гололёд"),
                             post(1800000009, "Погода", 2, "'-5° в Москве, гололёд"),
                             post(1800000009, "Погода", 3, "+7 999 123-45-67 — горячая линия")])
    r = tg("export", "--db", db, "--all-posts")
    assert r.exit_code == 0, r.output
    cells = {row["message_id"]: row["text"] for row in csv.DictReader(io.StringIO(r.stdout))}
    assert cells["1"] != cells["2"], cells


def test_backtest_per_day_covers_the_span_asked_not_only_the_days_between_stored_posts(tmp_path: Path) -> None:
    """README: «per day (every day of the span …, split where stored posts stop: `0` stored is a gap
    in the store, not a quiet spell)». With --since/--until the span is the one asked: a channel
    backtested over 1–8 March that posted on 3–6 March only gets rows 3–6 March and the headline
    «on 2 of 4 days»; the days the store has nothing for at the span's two ends are left out, where
    the same gap in the middle is a `0` stored row. They should read 1–2 and 7–8 March, 0 stored,
    and «on 2 of 8 days»."""
    import json

    from .sample_store import ROOT
    from .test_replay import HIT_TEXT

    quiet = "Погода в Москве: без осадков"
    posts = [("2026-03-03T09:00:00Z", HIT_TEXT), ("2026-03-04T10:00:00Z", quiet), ("2026-03-05T10:00:00Z", quiet),
             ("2026-03-06T10:00:00Z", HIT_TEXT)]
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    feed.write_text("".join(json.dumps({"channel_id": 1700000001, "channel_title": "Канал", "message_id": k + 1,
                                        "date": when, "text": text}, ensure_ascii=False) + "\n"
                            for k, (when, text) in enumerate(posts)), encoding="utf-8")
    assert tg("replay", feed, "--db", db, "--rules", ROOT / "rules", "--alerts", "none").exit_code == 0
    r = CliRunner().invoke(cli, ["rules", "backtest", "desertion", "--db", str(db), "--rules", str(ROOT / "rules"),
                                 "--samples", "0", "--since", "2026-03-01", "--until", "2026-03-08"],
                           env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    table = r.stdout.split("hits per day")[1]
    rows = [[cell.strip() for cell in line.split("│")[1:4]] for line in table.splitlines() if line.startswith("│")]
    assert rows[0] == ["2026-03-01 – 2026-03-02 (2 days)", "0", "0"], rows
    assert rows[-1] == ["2026-03-07 – 2026-03-08 (2 days)", "0", "0"], rows
    assert "on 2 of 8 days" in r.stdout
