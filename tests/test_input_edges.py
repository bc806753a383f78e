"""Malformed input an analyst meets in real exports: a post whose optional field is bad is kept
(with one warning line naming file and message), a bad post is one skip line, never a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import cli
from bot.post import Post
from bot.source import Note, Skip
from bot.source.export import flatten_text, read_export
from bot.source.jsonl import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = 1700000009


def msg(mid: int, text: Any = None, **extra: Any) -> dict[str, Any]:
    """A good Desktop-export message; `extra` adds or replaces fields."""
    m: dict[str, Any] = {"id": mid, "type": "message", "date": f"2026-11-20T08:00:{mid:02d}",
                         "date_unixtime": str(1795150800 + mid), "from": "Baza", "from_id": f"channel{CHANNEL}",
                         "text": text if text is not None else f"Сообщение номер {mid} о событиях дня"}
    m.update(extra)
    return m


def write_chat(path: Path, messages: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"name": "Baza", "type": "public_channel", "id": CHANNEL, "messages": messages}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding=encoding)
    return path


def replay(*args: Any) -> Result:
    return CliRunner().invoke(cli, ["replay", *map(str, args), "--rules", str(ROOT / "rules"), "--alerts", "none"])


def stored(db: Path) -> dict[int, tuple[Any, ...]]:
    """message id -> (text, edit_date, forward_name) of every stored post."""
    with sqlite3.connect(db) as c:
        return {r[0]: r[1:] for r in c.execute("SELECT message_id, text, edit_date, forward_name FROM posts")}


def row(result: Result, label: str) -> str | None:
    """The value of one summary row, None when the summary has no such row."""
    for line in result.stdout.splitlines():
        if line.startswith(label + "  "):
            return line[len(label):].strip()
    return None


def lines(result: Result, start: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(start)]


def assert_clean(result: Result) -> None:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and result.exception is None


# -- 1. a bad edit date keeps the post -------------------------------------------------------------


@pytest.mark.parametrize("field, value, reason", [
    ("edited_unixtime", "завтра", 'edited_unixtime "завтра" is not a Unix time'),
    ("edited_unixtime", {"at": 1}, "edited_unixtime an object is not a Unix time"),
    ("edited_unixtime", "99999999999999999", 'edited_unixtime "99999999999999999" is not a Unix time in range'),
    ("edited", "вчера", 'edited "вчера" is not an ISO 8601 date'),  # an old export: no Unix times
])
def test_a_bad_edit_date_keeps_the_post_without_one_and_warns_once(
        tmp_path: Path, field: str, value: Any, reason: str) -> None:
    f = write_chat(tmp_path / "ChatExport" / "result.json", [msg(1), msg(2, **{field: value}), msg(3)])
    db = tmp_path / "t.db"
    r = replay(f, "--db", db)
    assert_clean(r)
    assert sorted(stored(db)) == [1, 2, 3]
    assert stored(db)[2][1] is None  # no edit date
    assert row(r, "posts read") == "3" and str(row(r, "skipped")).startswith("0 ")
    assert str(row(r, "kept with a warning")).startswith("1 ")
    assert lines(r, "warning ") == [f"warning {f}: message #1 (id 2): {reason}: the post is kept without an edit date"]
    assert lines(r, "skipped ") == []


def test_an_old_exports_edited_date_is_read(tmp_path: Path) -> None:
    m = msg(1, edited="2026-11-20T09:00:00")
    del m["date_unixtime"]
    [p] = read_export(write_chat(tmp_path / "result.json", [m]))
    assert isinstance(p, Post) and p.edit_date is not None and p.edit_date.isoformat() == "2026-11-20T09:00:00+00:00"


def test_a_copy_with_a_bad_edit_date_loses_nothing_already_stored(tmp_path: Path) -> None:
    """The stored post, edited at 06:00 UTC, stays as it is when an export of it with a broken edit
    date is replayed after it: the copy is counted as older than stored."""
    db = tmp_path / "t.db"
    good = write_chat(tmp_path / "a" / "result.json", [msg(1, "Правленый текст", edited_unixtime="1795154400")])
    bad = write_chat(tmp_path / "b" / "result.json", [msg(1, "Первый текст", edited_unixtime="junk")])
    assert_clean(replay(good, "--db", db))
    r = replay(bad, "--db", db)
    assert_clean(r)
    assert stored(db)[1][:2] == ("Правленый текст", "2026-11-20T06:00:00+00:00")
    assert len(lines(r, "warning ")) == 1


def test_a_jsonl_line_with_a_bad_edit_date_is_kept_with_a_warning(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    recs = [{"channel_id": CHANNEL, "message_id": i, "date": f"2026-11-20T08:00:0{i}Z", "text": f"пост {i}"}
            for i in (1, 2)]
    recs[1]["edit_date"] = "later"
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    db = tmp_path / "t.db"
    r = replay(f, "--db", db)
    assert_clean(r)
    assert sorted(stored(db)) == [1, 2] and stored(db)[2][1] is None
    assert lines(r, "warning ") == [
        f'warning {f}: line 2: edit_date "later" is not an ISO 8601 date: the post is kept without an edit date']


# -- 3. other malformed fields of a Desktop export -----------------------------------------------


def test_a_text_part_with_a_bad_type_or_href_keeps_its_words(tmp_path: Path) -> None:
    f = write_chat(tmp_path / "result.json", [
        msg(1, ["Дезертир ", {"type": 5, "text": "задержан"}]),
        msg(2, [{"type": "text_link", "text": "подробнее", "href": ["x"]}, " тут"]),
    ])
    db = tmp_path / "t.db"
    r = replay(f, "--db", db)
    assert_clean(r)
    assert {k: v[0] for k, v in stored(db).items()} == {1: "Дезертир задержан", 2: "подробнее тут"}
    assert lines(r, "warning ") == [
        f"warning {f}: message #0 (id 1): a text part's type 5 is not a string: its text kept without that formatting",
        f"warning {f}: message #1 (id 2): a text part's href a list is not a string: "
        "its text kept without that formatting"]


def test_an_unreadable_text_is_read_from_text_entities(tmp_path: Path) -> None:
    """Telegram Desktop writes the text twice (`text` and `text_entities`): a damaged `text`
    need not lose the post."""
    entities = [{"type": "bold", "text": "Срочно"}, {"type": "plain", "text": ": часть оцеплена"}]
    f = write_chat(tmp_path / "result.json", [msg(1, [{"type": "bold", "text": 7}], text_entities=entities)])
    db = tmp_path / "t.db"
    r = replay(f, "--db", db)
    assert_clean(r)
    assert stored(db)[1][0] == "Срочно: часть оцеплена"
    assert lines(r, "warning ") == [f"warning {f}: message #0 (id 1): a text part is neither a string nor "
                                    "{type, text}: read from text_entities instead"]


def test_a_forwarded_from_that_is_not_a_name_is_said_and_the_post_kept(tmp_path: Path) -> None:
    f = write_chat(tmp_path / "result.json", [msg(1, forwarded_from={"name": "Baza"}), msg(2, forwarded_from="Сводка")])
    db = tmp_path / "t.db"
    r = replay(f, "--db", db)
    assert_clean(r)
    assert {k: v[2] for k, v in stored(db).items()} == {1: None, 2: "Сводка"}
    assert lines(r, "warning ") == [f"warning {f}: message #0 (id 1): forwarded_from an object is not a name: "
                                    "the post is kept without its forward origin"]


def test_a_jsonl_line_that_is_an_array_says_so(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    good = {"channel_id": CHANNEL, "message_id": 1, "date": "2026-11-20T08:00:00Z", "text": "пост"}
    f.write_text(json.dumps(good) + "\n" + json.dumps([good]) + "\n", encoding="utf-8")
    db = tmp_path / "t.db"
    r = replay(f, "--db", db)
    assert_clean(r)
    assert sorted(stored(db)) == [1]
    assert lines(r, "skipped ") == [f"skipped {f}: line 2: a list, not a JSON object (one post object per line)"]


# The cases that already worked, kept working: every post stored once, no line on stderr.


def test_the_same_channel_exported_twice_in_nested_folders_is_stored_once(tmp_path: Path) -> None:
    write_chat(tmp_path / "week" / "a" / "result.json", [msg(1), msg(2)])
    write_chat(tmp_path / "week" / "b" / "c" / "result.json", [msg(1), msg(2), msg(3)])
    db = tmp_path / "t.db"
    r = replay(tmp_path / "week", "--db", db)
    assert_clean(r)
    assert sorted(stored(db)) == [1, 2, 3]
    assert row(r, "new") == "3" and row(r, "already stored") == "2"


@pytest.mark.parametrize("case", ["bom", "crlf", "from_id", "date_unixtime_number", "text_entities_bad"])
def test_edges_that_read_as_they_are(tmp_path: Path, case: str) -> None:
    if case == "crlf":
        f = tmp_path / "p.jsonl"
        f.write_bytes(b"\xef\xbb\xbf" + b"".join(json.dumps(
            {"channel_id": CHANNEL, "message_id": i, "date": f"2026-11-20T08:00:0{4 - i}Z", "text": f"пост {i}"},
            ensure_ascii=False).encode() + b"\r\n" for i in (1, 2, 3)))
    else:
        extra = {"from_id": {"from_id": "user12345"}, "date_unixtime_number": {"date_unixtime": 1795150801},
                 "text_entities_bad": {"text_entities": [{"type": 5, "text": 6}]}}.get(case, {})
        f = write_chat(tmp_path / "result.json", [msg(1, **extra), msg(2), msg(3)],
                       encoding="utf-8-sig" if case == "bom" else "utf-8")
    db = tmp_path / "t.db"
    r = replay(f, "--db", db)
    assert_clean(r)
    assert sorted(stored(db)) == [1, 2, 3] and r.stderr.count("\n") <= 1  # at most the shipped-rules line


# -- properties ----------------------------------------------------------------------------------

_odd = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=6) | st.lists(
    st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
_part = st.one_of(st.text(max_size=8), st.fixed_dictionaries(
    {"text": st.text(max_size=8)}, optional={"type": _odd | st.sampled_from(["plain", "bold", "link", "text_link"]),
                                              "href": _odd}))


@given(st.lists(_part, max_size=8))
@settings(max_examples=300, deadline=None)
def test_flatten_text_with_notes_keeps_every_word_whatever_the_formatting(parts: list[Any]) -> None:
    notes: list[str] = []
    text, ents = flatten_text(parts, notes)
    assert text == "".join(p if isinstance(p, str) else p["text"] for p in parts)
    bad = [p for p in parts if isinstance(p, dict) and (
        not isinstance(p.get("type", "plain"), str) or (p.get("href") is not None and not isinstance(p["href"], str)))]
    assert len(notes) == len(bad)
    styled = [p for p in parts if isinstance(p, dict) and p not in bad and p.get("type", "plain") != "plain"]
    assert len(ents) == len(styled)
    total = len(text.encode("utf-16-le", "surrogatepass")) // 2
    assert all(0 <= e.offset and e.offset + e.length <= total for e in ents)


@given(st.dictionaries(st.sampled_from(["edited_unixtime", "edited", "forwarded_from", "text_entities"]), _odd,
                       max_size=4))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_an_export_message_with_a_good_id_date_and_text_is_never_skipped(tmp_path: Path, extra: dict[str, Any]) -> None:
    f = write_chat(tmp_path / "result.json", [msg(1, **extra)])
    items = list(read_export(f))
    assert isinstance(items[-1], Post) and items[-1].message_id == 1
    notes = items[:-1]
    assert all(isinstance(n, Note) and str(n).startswith(f"{f}: message #0 (id 1): ") for n in notes)
    assert (items[-1].edit_date is None) or not any("edit" in n.reason for n in notes)


@given(st.dictionaries(st.sampled_from(["edit_date", "forward_name", "text"]), _odd, max_size=3))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_jsonl_line_is_a_post_after_its_notes_or_one_skip(tmp_path: Path, extra: dict[str, Any]) -> None:
    f = tmp_path / "p.jsonl"
    rec = {"channel_id": CHANNEL, "message_id": 1, "date": "2026-11-20T08:00:00Z", **extra}
    f.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    items = list(read_jsonl(f))
    if isinstance(items[-1], Post):
        assert all(isinstance(n, Note) and n.where == "line 1" for n in items[:-1])
        noted = any("edit_date" in n.reason for n in items[:-1] if isinstance(n, Note))
        assert noted == (extra.get("edit_date") not in (None, "") and items[-1].edit_date is None)
    else:
        [s] = items
        assert isinstance(s, Skip) and not isinstance(s, Note)


def test_kept_with_a_warning_counts_posts_not_warning_lines(tmp_path: Path) -> None:
    """A message with two flaws is one post kept; a chat's own flaw (a name that is no string) is
    listed as a warning but keeps no post with one: the summary row counted warning lines."""
    two_flaws = msg(2, text=["Сообщение ", {"type": 7, "text": "номер два"}], edited_unixtime="завтра")
    f = write_chat(tmp_path / "ChatExport" / "result.json", [msg(1), two_flaws])
    r = replay(f, "--db", tmp_path / "t.db")
    assert_clean(r)
    assert len(lines(r, "warning ")) == 2 and row(r, "kept with a warning") == "1 post (stored; what was wrong with each is listed below)"
    data = json.loads(f.read_text(encoding="utf-8"))
    data["name"] = 42
    g = tmp_path / "Other" / "result.json"
    g.parent.mkdir()
    g.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    r = replay(g, "--db", tmp_path / "u.db")
    assert_clean(r)
    assert len(lines(r, "warning ")) == 3 and row(r, "kept with a warning") == "1 post (stored; what was wrong with each is listed below)"
