"""The history commands on stores of a real size: what an analyst reads must hold however large
the store, a story or a period is."""

from __future__ import annotations

import csv
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.store.export import STORY_FIELDS

from .test_replay import HIT_TEXT, ROOT, RULES


def _replay(tmp_path: Path, lines: list[dict]) -> Path:
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    feed.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    r = CliRunner().invoke(cli, ["replay", str(feed), "--db", str(db), "--rules", str(RULES), "--alerts", "none"])
    assert r.exit_code == 0, r.output
    return db


def test_story_lists_every_post_of_a_story_of_more_than_a_thousand(tmp_path: Path) -> None:
    """`story` said «1005 posts (1000 kept: the others matched no rule and were pruned)» of a story
    nothing was pruned from, and ended its list at the 1000th post."""
    db = _replay(tmp_path, [{"channel_id": 1700000001 + k % 5, "message_id": k + 1, "date": 1790000000 + 60 * k,
                             "text": HIT_TEXT, "channel_title": f"Канал {k % 5}"} for k in range(1005)])
    r = CliRunner().invoke(cli, ["story", "1", "--db", str(db)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("story #1: 1,005 posts from 5 channels, ") and "pruned" not in lines[0], lines[0]
    posts = [line for line in lines[1:] if not line.startswith("  ")]
    assert len(posts) == 1005
    assert posts[-1].split("  ")[2] == "https://t.me/c/1700000005/1005"  # the last post, not the 1000th


def test_story_counts_two_channels_of_one_title_as_two(tmp_path: Path) -> None:
    """`story` counted channels by title: two regional channels both called «Новости» read as one
    (helper-106 found it; the chat's /story counted them by id)."""
    db = _replay(tmp_path, [{"channel_id": 1700000001 + k, "message_id": 1, "date": 1790000000 + 60 * k,
                             "text": HIT_TEXT, "channel_title": "Новости"} for k in range(2)])
    r = CliRunner().invoke(cli, ["story", "1", "--db", str(db)])
    assert r.exit_code == 0 and r.stdout.startswith("story #1: 2 posts from 2 channels, "), r.output


def test_stories_cut_by_the_limit_say_how_many_there_are(tmp_path: Path) -> None:
    """20 stories of a season's thousands read as all there were: like `search`, `stories` now says
    on stderr when --limit left some out, and stays quiet when it did not."""
    texts = ["Сводка: пожар на складе в Подольске", "Курс доллара превысил 105 рублей",
             "В Казани открыли новую станцию метро", "Сборная выиграла матч со счётом 3:1"]
    db = _replay(tmp_path, [{"channel_id": 1700000001 + k % 3, "message_id": k + 1, "date": 1790000000 + 60 * k,
                             "text": texts[k % 4], "channel_title": f"Канал {k % 3}"} for k in range(12)])
    run = ["stories", "--db", str(db), "--since", "2026-01-01"]
    r = CliRunner().invoke(cli, [*run, "--limit", "3"])
    assert r.exit_code == 0, r.output
    assert r.stderr == "3 of 4 stories of 2+ posts (the largest 3; use --limit for more, --limit all for every one)\n"
    assert sum(line.startswith("│ #") for line in r.stdout.splitlines()) == 3
    for limit in ("4", "20"):
        r = CliRunner().invoke(cli, [*run, "--limit", limit])
        assert r.exit_code == 0 and r.stderr == "", r.output
        assert sum(line.startswith("│ #") for line in r.stdout.splitlines()) == 4
    r = CliRunner().invoke(cli, [*run, "--limit", "1", "--min-size", "1"])
    assert r.exit_code == 0 and r.stderr == "1 of 4 stories (the largest 1; use --limit for more, --limit all for every one)\n", r.output


def _many_stories(tmp_path: Path) -> Path:
    """Four stories of three posts and one post alone; one channel's title and one headline start like a formula."""
    texts = ["=Сводка: пожар на складе в Подольске", "Курс доллара превысил 105 рублей",
             "В Казани открыли новую станцию метро", "Сборная выиграла матч со счётом 3:1"]
    lines = [{"channel_id": 1700000001 + k % 3, "message_id": k + 1, "date": 1790000000 + 60 * k,
              "text": texts[k % 4] + "\nподробности ниже", "channel_title": ["+Канал", "Канал 1", "Канал 2"][k % 3]}
             for k in range(12)]
    lines.append({"channel_id": 1700000009, "message_id": 1, "date": 1790000000, "text": "Одинокая новость",
                  "channel_title": "Канал 9"})
    return _replay(tmp_path, lines)


def test_stories_as_csv_or_json_lines_are_one_row_a_story_beside_the_table(tmp_path: Path) -> None:
    """16,079 stories of the corpus took 20 s of CPU in rich's table (1.5 s as CSV), and piped to a
    file or a pager the table was 80 columns of wrapped headlines no program could read: --format
    csv|jsonl writes one story a row, the columns named as export's, the period on stderr."""
    db = _many_stories(tmp_path)
    run = ["stories", "--db", str(db), "--since", "2026-01-01", "--min-size", "1"]
    table = CliRunner().invoke(cli, run)
    assert table.exit_code == 0, table.output
    shown = {line.split()[1] for line in table.stdout.splitlines() if line.startswith("│ #")}
    r = CliRunner().invoke(cli, [*run, "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert list(rows[0]) == list(STORY_FIELDS)
    assert {f"#{row['story_id']}" for row in rows} == shown and len(rows) == 5
    assert r.stderr == "5 stories seen since 2026-01-01 00:00 UTC\n"
    assert [int(row["story_size"]) for row in rows] == [3, 3, 3, 3, 1]
    fire = next(row for row in rows if "Подольске" in row["headline"])
    # the whole first line, escaped as export escapes it for a spreadsheet; the channels in order
    assert fire["headline"] == "'=Сводка: пожар на складе в Подольске"
    assert fire["first_channel"] == "'+Канал" and fire["channels"] == "'+Канал\nКанал 1\nКанал 2"
    assert fire["story_first"] == "https://t.me/c/1700000001/1" and fire["first_date"].startswith("2026-")
    # the same story numbers as export's, so the two files join on story_id
    export = list(csv.DictReader(io.StringIO(CliRunner().invoke(cli, ["export", "--db", str(db), "--all-posts"]).stdout)))
    assert {e["story_id"] for e in export if e["message_id"] == "1" and e["channel_id"] == "1700000001"} == {fire["story_id"]}

    r = CliRunner().invoke(cli, [*run, "--format", "jsonl", "--limit", "2"])
    assert r.exit_code == 0, r.output
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [x["story_size"] for x in lines] == [3, 3] and lines[0]["channels"][1:] == ["Канал 1", "Канал 2"]
    assert lines[0]["channel_ids"] == [1700000001, 1700000002, 1700000003][:len(lines[0]["channel_ids"])]
    assert r.stderr.splitlines() == ["2 stories seen since 2026-01-01 00:00 UTC",
                                     "2 of 5 stories (the largest 2; use --limit for more, --limit all for every one)"]


def test_a_story_s_channels_in_csv_are_one_a_line_so_a_title_with_a_semicolon_stays_whole(tmp_path: Path) -> None:
    """The CSV's `channels` cell joined the titles with «; », so «Новости; Москва» and «Срочно»
    read back as three channels, or as one channel «Новости» and one «Москва; Срочно»: each title
    is now a line of the cell (a multi-line cell in a spreadsheet), `channel_ids` alike, line for line."""
    titles = ["Новости; Москва", "Срочно", "=Сводка"]
    db = _replay(tmp_path, [{"channel_id": 1700000001 + k, "message_id": 1, "date": 1790000000 + 60 * k,
                             "text": "Пожар на складе в Подольске, пострадавших нет", "channel_title": titles[k]}
                            for k in range(3)])
    r = CliRunner().invoke(cli, ["stories", "--db", str(db), "--since", "2026-01-01", "--format", "csv"])
    assert r.exit_code == 0, r.output
    [row] = list(csv.DictReader(io.StringIO(r.stdout)))
    assert row["channels"].split("\n") == titles
    assert row["channel_ids"].split("\n") == ["1700000001", "1700000002", "1700000003"]
    r = CliRunner().invoke(cli, ["stories", "--db", str(db), "--since", "2026-01-01", "--format", "jsonl"])
    assert json.loads(r.stdout)["channels"] == titles


def test_stories_in_csv_with_none_found_is_a_header_and_exit_1(tmp_path: Path) -> None:
    db = _many_stories(tmp_path)
    r = CliRunner().invoke(cli, ["stories", "--db", str(db), "--since", "2026-01-01", "--min-size", "4",
                                 "--format", "csv"])
    assert r.exit_code == 1
    assert r.stdout.splitlines() == [",".join(STORY_FIELDS)]
    assert r.stderr.startswith("no stories of 4+ posts seen since 2026-01-01")


@pytest.mark.parametrize("args, says", [
    (["--format", "jsonl", "--bom"], "--bom is for CSV only (not jsonl)"),
    (["--bom"], "--bom is for CSV only (not table)"),
    (["--no-escape-formulas"], "--no-escape-formulas is for CSV only (not table"),
    (["--format", "xlsx"], "'xlsx' is not one of 'table', 'csv', 'jsonl'"),
])
def test_stories_csv_options_with_another_format_are_one_line_errors(tmp_path: Path, args: list[str], says: str) -> None:
    db = _many_stories(tmp_path)
    r = CliRunner().invoke(cli, ["stories", "--db", str(db), *args])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert r.stderr.count("\n") == 1 and says in r.stderr, r.stderr


def test_stories_in_csv_stop_quietly_when_the_reader_does(tmp_path: Path) -> None:
    """`tgwatch stories --format csv | head -1`: exit 141 as any shell command, no traceback."""
    db = _many_stories(tmp_path)
    p = subprocess.run(f"{shlex.quote(sys.executable)} -m bot stories --db {shlex.quote(str(db))} --since 2026-01-01 "
                       "--format csv | head -1; exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                       capture_output=True, text=True, cwd=ROOT)
    assert p.stdout == ",".join(STORY_FIELDS) + "\n" and "Traceback" not in p.stderr, p.stderr
    assert p.returncode in (0, 141)


def test_a_long_table_piped_says_how_to_get_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table of thousands of stories piped to a file or a pager is 80 columns of wrapped headlines
    and takes ten times as long as rows: past PIPED_TABLE_HINT stories, stderr says so (not before)."""
    from bot.cli import stories

    db = _many_stories(tmp_path)
    run = ["stories", "--db", str(db), "--since", "2026-01-01", "--min-size", "1"]
    monkeypatch.setattr(stories, "PIPED_TABLE_HINT", 5)
    assert CliRunner().invoke(cli, run).stderr == ""
    monkeypatch.setattr(stories, "PIPED_TABLE_HINT", 4)
    r = CliRunner().invoke(cli, run)
    assert r.exit_code == 0 and sum(line.startswith("│ #") for line in r.stdout.splitlines()) == 5
    assert r.stderr == ("note: 5 stories drawn as a table for a file or a program: --format csv or jsonl "
                        "writes one story a row, ten times faster\n")
    assert CliRunner().invoke(cli, [*run, "--format", "csv"]).stderr == "5 stories seen since 2026-01-01 00:00 UTC\n"
