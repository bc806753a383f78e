"""Sources: the Telegram Desktop export reader and the JSON Lines reader (bot.source)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import cli
from bot.post import Entity, Post, content_hash
from bot.source import Skip, read_by_date, read_paths, source_files
from bot.source.export import UNEXPECTED, Note, flatten_text, read_export
from bot.source.jsonl import read_jsonl

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "export"
UTC = timezone.utc


def msg(mid: Any = 1, text: Any = "текст", unix: Any = "1700000000", **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"type": "message", "date": "2023-11-15T01:13:20", "text": text}
    if mid is not None:
        m["id"] = mid
    if unix is not None:
        m["date_unixtime"] = unix
    m.update(extra)
    return m


def write_chat(path: Path, messages: list[Any], chat_id: int = 1700000009, **chat: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"name": "Тест", "type": "public_channel", "id": chat_id, **chat, "messages": messages}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def posts_of(items: list[Post | Skip]) -> list[Post]:
    return [p for p in items if isinstance(p, Post)]


def skips_of(items: list[Post | Skip]) -> list[Skip]:
    return [s for s in items if isinstance(s, Skip)]


def utf16_slice(text: str, offset: int, length: int) -> str:
    b = text.encode("utf-16-le")
    return b[2 * offset:2 * (offset + length)].decode("utf-16-le")


# -- Telegram Desktop export ----------------------------------------------------------------------


def test_text_as_plain_string(tmp_path: Path) -> None:
    [p] = read_export(write_chat(tmp_path / "result.json", [msg(7, "Просто текст")]))
    assert isinstance(p, Post)
    assert (p.channel_id, p.message_id, p.text, p.entities) == (1700000009, 7, "Просто текст", ())
    assert p.channel_title == "Тест"


def test_text_as_parts_rebuilds_entities_in_utf16() -> None:
    text, ents = flatten_text(["😀 ", {"type": "bold", "text": "жирный"}, " и ",
                               {"type": "text_link", "text": "ссылка", "href": "https://example.org/a"},
                               {"type": "plain", "text": "!"}, {"type": "link", "text": "https://example.org"}])
    assert text == "😀 жирный и ссылка!https://example.org"
    # the emoji is one code point but two UTF-16 units: "жирный" starts at 3, not 2
    assert ents[0] == Entity("bold", 3, 6, None)
    assert ents[1] == Entity("text_link", 12, 6, "https://example.org/a")
    assert ents[2] == Entity("link", 19, 19, "https://example.org")
    for e in ents:
        assert utf16_slice(text, e.offset, e.length) in ("жирный", "ссылка", "https://example.org")


def test_entity_after_emoji_in_an_export(tmp_path: Path) -> None:
    parts = ["🔴🔴 ", {"type": "hashtag", "text": "#СОЧ"}]
    [p] = read_export(write_chat(tmp_path / "result.json", [msg(1, parts)]))
    assert p.text == "🔴🔴 #СОЧ"
    assert p.entities == (Entity("hashtag", 5, 4, None),)
    assert p.text.index("#") == 3  # Python counts code points; Telegram counts UTF-16 units


def test_date_unixtime_is_used_as_utc_and_edited_unixtime(tmp_path: Path) -> None:
    # `date` is the exporting PC's local time (here Moscow, UTC+3); date_unixtime is the truth
    m = msg(1, "x", "1700000000", date="2023-11-15T01:13:20", edited="2023-11-15T02:00:00",
            edited_unixtime="1700002800")
    [p] = read_export(write_chat(tmp_path / "result.json", [m]))
    assert p.date == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert p.date.utcoffset().total_seconds() == 0
    assert p.edit_date == datetime(2023, 11, 14, 23, 0, tzinfo=UTC)


def test_old_export_without_unixtime_reads_date(tmp_path: Path) -> None:
    [p] = read_export(write_chat(tmp_path / "result.json", [msg(1, "x", None, date="2020-01-02T03:04:05")]))
    assert p.date == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC) and p.edit_date is None


def test_forwarded_from_and_media_kinds(tmp_path: Path) -> None:
    msgs = [
        msg(1, "фото", photo="photos/1.jpg", width=1, height=1, forwarded_from="Сводка 24"),
        msg(2, "видео", file="(File not included.)", media_type="video_file", mime_type="video/mp4"),
        msg(3, "док", file="files/a.pdf", mime_type="application/pdf"),
        msg(4, "", poll={"question": "?", "answers": []}),
        msg(5, "", location_information={"latitude": 1, "longitude": 2}),
        msg(6, "", contact_information={"first_name": "A"}),
        msg(7, "без медиа"),
    ]
    got = {p.message_id: p for p in read_export(write_chat(tmp_path / "result.json", msgs))}
    assert got[1].forward_name == "Сводка 24" and got[2].forward_name is None
    assert {k: p.media for k, p in got.items()} == {
        1: "photo", 2: "video_file", 3: "document", 4: "poll", 5: "location", 6: "contact", 7: None}


def test_service_messages_are_skipped_with_a_skip(tmp_path: Path) -> None:
    msgs = [msg(1, "a"), {"id": 2, "type": "service", "date_unixtime": "1700000000", "action": "pin_message",
                          "text": ""}, msg(3, "b")]
    items = list(read_export(write_chat(tmp_path / "result.json", msgs)))
    assert [p.message_id for p in posts_of(items)] == [1, 3]
    [s] = skips_of(items)
    assert s.reason == "service message" and "#1" in s.where and "id 2" in s.where


def test_full_account_export_with_chats_list(tmp_path: Path) -> None:
    data = {"about": "full export", "personal_information": {"first_name": "A"}, "chats": {"about": "", "list": [
        {"name": "Канал А", "type": "public_channel", "id": 11, "messages": [msg(1, "a1"), msg(2, "a2")]},
        {"name": "Канал Б", "type": "public_channel", "id": 22, "messages": [msg(1, "b1")]},
        {"name": "Пустой", "type": "public_channel", "id": 33, "messages": []},
    ]}}
    f = tmp_path / "result.json"
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    items = list(read_export(f))
    assert not skips_of(items)
    assert [(p.channel_id, p.message_id, p.channel_title, p.text) for p in posts_of(items)] == [
        (11, 1, "Канал А", "a1"), (11, 2, "Канал А", "a2"), (22, 1, "Канал Б", "b1")]


def test_full_account_export_reads_the_channels_left_too(tmp_path: Path) -> None:
    """A full-account export puts the channels the account has left in left_chats.list: their
    posts are read as the others are, not passed over without a word."""
    data = {"chats": {"list": [{"name": "Канал А", "type": "public_channel", "id": 11, "messages": [msg(1, "a1")]}]},
            "left_chats": {"list": [{"name": "Ушли", "type": "public_channel", "id": 44, "messages": [msg(7, "l7")]},
                                    "oops"]}}
    f = tmp_path / "result.json"
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    items = list(read_export(f))
    assert [(p.channel_id, p.message_id, p.channel_title) for p in posts_of(items)] == [(11, 1, "Канал А"), (44, 7, "Ушли")]
    [s] = skips_of(items)
    assert str(s) == f"{f}: left chat #1: not an object"


def test_full_account_export_reads_channels_and_supergroups_only(tmp_path: Path) -> None:
    """An analyst's full-account export holds their personal chats too: those are private
    conversations (and their ids no channel ids, so every link would lead nowhere), never posts."""
    chats = [{"name": name, "type": kind, "id": i, "messages": [msg(1, f"дезертир {name}")]}
             for i, (name, kind) in enumerate([("Канал", "public_channel"), ("Мама", "personal_chat"),
                                               ("Бот", "bot_chat"), ("Избранное", "saved_messages"),
                                               ("Семья", "private_group"), ("Чат", "public_supergroup"),
                                               ("Закрытый", "private_channel"), ("Новый", "some_future_type")], 1)]
    f = tmp_path / "result.json"
    f.write_text(json.dumps({"chats": {"list": chats}}, ensure_ascii=False), encoding="utf-8")
    items = list(read_export(f))
    assert [p.channel_title for p in posts_of(items)] == ["Канал", "Чат", "Закрытый", "Новый"]
    assert [str(s) for s in skips_of(items)] == [
        f"{f}: chat #1 (Мама): a personal chat: not a channel, not read",
        f"{f}: chat #2 (Бот): a chat with a bot: not a channel, not read",
        f"{f}: chat #3 (Избранное): Saved Messages: not a channel, not read",
        f"{f}: chat #4 (Семья): a basic group (no channel id: its posts would have no working link): not a channel, not read"]


@pytest.mark.parametrize("bad, why", [
    ({"id": None}, "id"),                       # missing id
    ({"date_unixtime": "вчера"}, "date"),       # not a number
    ({"date_unixtime": "99999999999999"}, "date"),  # year out of range
    ({"date_unixtime": "99999999999999999"}, "date"),
    ({"date_unixtime": [1]}, "date"),
    ({"text": 42}, "text"),
])
def test_bad_message_is_one_skip_naming_file_and_message(tmp_path: Path, bad: dict[str, Any], why: str) -> None:
    m = msg(2, "плохое")
    m.update(bad)
    if bad.get("id", 0) is None:
        del m["id"]
    f = write_chat(tmp_path / "ChatExport_9" / "result.json", [msg(1, "до"), m, msg(3, "после")])
    items = list(read_export(f))
    assert [p.message_id for p in posts_of(items)] == [1, 3]
    [s] = skips_of(items)
    line = str(s)
    assert str(f) in line and "message #1" in line
    assert ("id 2" in line) if why != "id" else ("id ?" in line and "'id'" in line)


@pytest.mark.parametrize("value", [None, ""])
def test_empty_date_unixtime_is_a_skip(tmp_path: Path, value: Any) -> None:
    bad = msg(2, "плохое")
    bad["date_unixtime"] = value  # present, but empty
    f = write_chat(tmp_path / "result.json", [msg(1, "до"), bad, msg(3, "после")])
    items = list(read_export(f))
    assert [p.message_id for p in posts_of(items)] == [1, 3]
    assert len(skips_of(items)) == 1


def test_not_json_is_one_skip(tmp_path: Path) -> None:
    f = tmp_path / "result.json"
    f.write_text("this is not an export", encoding="utf-8")
    [s] = read_export(f)
    assert isinstance(s, Skip) and s.path == str(f) and s.reason == 'not a Telegram export: not JSON (it starts with "this is not an export")'


def test_binary_garbage_is_one_skip(tmp_path: Path) -> None:
    f = tmp_path / "result.json"
    f.write_bytes(b"\xff\xfe\x00\x81garbage\x9c")
    [s] = read_export(f)
    assert isinstance(s, Skip) and s.path == str(f)


def test_truncated_export_keeps_the_messages_before_the_cut_and_is_one_skip(tmp_path: Path) -> None:
    """Was: the whole file one skip. Now the messages before the cut are read (streamed), and one
    skip names where it broke."""
    full = write_chat(tmp_path / "full.json", [msg(i, f"пост {i}") for i in range(1, 50)]).read_bytes()
    f = tmp_path / "result.json"
    f.write_bytes(full[: len(full) * 2 // 3])
    items = list(read_export(f))
    posts, [skip] = posts_of(items), skips_of(items)
    assert [p.message_id for p in posts] == list(range(1, len(posts) + 1)) and 20 < len(posts) < 49
    assert items[-1] is skip and skip.where == f"after message #{len(posts) - 1} (id {len(posts)})"
    assert "truncated" in skip.reason and str(f) in str(skip)


@pytest.mark.parametrize("content", ["[1, 2]", '{"name": "no messages"}', '"text"'])
def test_json_that_is_not_an_export_is_one_skip(tmp_path: Path, content: str) -> None:
    f = tmp_path / "result.json"
    f.write_text(content)
    [s] = read_export(f)
    assert isinstance(s, Skip) and "not a Telegram export" in s.reason


def test_folder_finds_every_result_json_below_it(tmp_path: Path) -> None:
    write_chat(tmp_path / "a" / "result.json", [msg(1, "a")], chat_id=1)
    write_chat(tmp_path / "b" / "deep" / "er" / "result.json", [msg(1, "b")], chat_id=2)
    write_chat(tmp_path / "c" / "other.json", [msg(1, "ignored")], chat_id=3)  # not result.json
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "posts.jsonl").write_text(
        json.dumps({"channel_id": 4, "message_id": 1, "date": 1700000000, "text": "d"}) + "\n")
    items = list(read_paths([tmp_path]))
    assert not skips_of(items)
    assert sorted(p.key for p in posts_of(items)) == [(1, 1), (2, 1), (4, 1)]


def test_read_paths_on_the_sample_and_on_missing_paths(tmp_path: Path) -> None:
    items = list(read_paths([SAMPLE, tmp_path / "missing", tmp_path]))
    posts, skips = posts_of(items), skips_of(items)
    assert len(posts) == 63 and {p.channel_id for p in posts} == {1700000001, 1700000002, 1700000003}
    assert sum(s.reason == "service message" for s in skips) == 3
    assert any("no such file" in s.reason and "missing" in s.path for s in skips)
    assert any("no result.json" in s.reason for s in skips)  # the empty tmp folder


# -- JSON Lines -----------------------------------------------------------------------------------


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n"
                            for x in lines), encoding="utf-8")
    return path


def test_jsonl_documented_schema(tmp_path: Path) -> None:
    rec = {"channel_id": 1117628569, "message_id": 58562, "date": "2024-11-20T09:04:00Z",
           "text": "🔴 Дезертир задержан", "channel_username": "@news", "channel_title": "Новости",
           "edit_date": "2024-11-20T13:00:00+03:00", "forward_channel_id": 1000000001, "forward_post_id": 5,
           "forward_name": "Другой канал", "grouped_id": 13, "media": "photo",
           "entities": [{"type": "bold", "offset": 3, "length": 8}, {"type": "text_link", "offset": 12,
                                                                       "length": 7, "url": "https://example.org"}]}
    [p] = read_jsonl(write_lines(tmp_path / "a.jsonl", [rec]))
    assert isinstance(p, Post)
    assert p.key == (1117628569, 58562)
    assert p.date == datetime(2024, 11, 20, 9, 4, tzinfo=UTC)
    assert p.edit_date == datetime(2024, 11, 20, 10, 0, tzinfo=UTC)  # after its date, as an edit is
    assert (p.channel_username, p.channel_title, p.media, p.grouped_id) == ("news", "Новости", "photo", 13)
    assert (p.forward_channel_id, p.forward_post_id, p.forward_name) == (1000000001, 5, "Другой канал")
    assert p.entities == (Entity("bold", 3, 8), Entity("text_link", 12, 7, "https://example.org"))
    assert utf16_slice(p.text, 3, 8) == "Дезертир"
    assert p.link == "https://t.me/news/58562"


def test_jsonl_minimal_record_and_marked_ids(tmp_path: Path) -> None:
    f = write_lines(tmp_path / "a.jsonl", [
        {"channel_id": -1001117628569, "message_id": 1, "date": "2024-11-20T09:04:00"},
        {"channel_id": "-1001117628569", "message_id": "2", "date": 1732093440},
        {"channel_id": 1117628569, "message_id": 3, "date": 1732093440.5},
    ])
    ps = list(read_jsonl(f))
    assert all(isinstance(p, Post) for p in ps)
    assert [p.key for p in ps] == [(1117628569, 1), (1117628569, 2), (1117628569, 3)]
    assert ps[0].text == "" and ps[0].date == datetime(2024, 11, 20, 9, 4, tzinfo=UTC)  # naive ISO = UTC
    assert ps[1].date == datetime(2024, 11, 20, 9, 4, tzinfo=UTC)
    assert ps[0].link == "https://t.me/c/1117628569/1"
    assert ps[0].marked_channel_id == -1001117628569


def test_jsonl_marked_forward_channel_id_folded(tmp_path: Path) -> None:
    f = write_lines(tmp_path / "a.jsonl", [{"channel_id": 1, "message_id": 1, "date": 1,
                                            "forward_channel_id": -1001000000001, "forward_post_id": 2}])
    [p] = read_jsonl(f)
    assert p.forward_channel_id == 1000000001


def test_jsonl_bad_lines_skipped_with_line_numbers(tmp_path: Path) -> None:
    good = {"channel_id": 1, "message_id": 1, "date": 1700000000, "text": "ok"}
    f = write_lines(tmp_path / "a.jsonl", [
        good,                                                        # 1
        "{not json",                                                 # 2
        "",                                                          # 3 blank: ignored
        {"message_id": 2, "date": 1},                                # 4 no channel_id
        {"channel_id": 1, "message_id": 3},                          # 5 no date
        {"channel_id": 1, "message_id": 4, "date": "вчера"},         # 6 bad date
        {"channel_id": 1, "message_id": "x", "date": 1},             # 7 bad id
        [1, 2],                                                      # 8 not an object
        {"channel_id": 1, "message_id": 5, "date": 1, "text": 5},    # 9 text not a string
        {"channel_id": 1, "message_id": 6, "date": 1, "entities": [{"type": "bold"}]},  # 10 kept, warned
        {"channel_id": 1, "message_id": 7, "date": 1e30},            # 11 out of range
        {**good, "message_id": 8},                                   # 12
    ])
    items = list(read_jsonl(f))
    assert [p.message_id for p in posts_of(items)] == [6, 1, 8]  # in date order (line 10 is dated 1970)
    [note] = [s for s in items if isinstance(s, Note)]
    assert note.where == "line 10" and "entity #0 has no offset: the post is kept without that formatting" in note.reason
    skips = [s for s in skips_of(items) if not isinstance(s, Note)]
    # the file is not in date order (line 4 is dated 1970), so its lines are read in date order
    assert sorted(int(s.where.split()[1]) for s in skips) == [2, 4, 5, 6, 7, 8, 9, 11]
    assert all(s.path == str(f) for s in skips)
    reasons = {s.where: s.reason for s in skips}
    assert "channel_id" in reasons["line 4"] and "date" in reasons["line 5"]


def test_jsonl_invalid_utf8_line_is_a_skip(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_bytes(b'{"channel_id":1,"message_id":1,"date":1}\n\xff\xfe\n{"channel_id":1,"message_id":2,"date":1}\n')
    items = list(read_jsonl(f))
    assert [p.message_id for p in posts_of(items)][:1] == [1]
    assert any(s.where == "line 2" for s in skips_of(items))


def test_jsonl_far_future_unix_date_is_a_skip(tmp_path: Path) -> None:
    f = write_lines(tmp_path / "a.jsonl", [{"channel_id": 1, "message_id": 1, "date": 10**17},
                                           {"channel_id": 1, "message_id": 2, "date": 1}])
    items = list(read_jsonl(f))
    assert [s.where for s in skips_of(items)] == ["line 1"] and len(posts_of(items)) == 1


def test_jsonl_missing_file_is_a_skip(tmp_path: Path) -> None:
    [s] = read_jsonl(tmp_path / "nope.jsonl")
    assert isinstance(s, Skip) and "cannot read" in s.reason


# -- properties -----------------------------------------------------------------------------------

_parts = st.lists(st.one_of(
    st.text(max_size=12),
    st.fixed_dictionaries({"type": st.sampled_from(["plain", "bold", "italic", "link", "text_link", "hashtag",
                                                    "mention", "custom_emoji"]),
                           "text": st.text(max_size=12)},
                          optional={"href": st.text(max_size=5)}),
), max_size=12)


@given(_parts)
@settings(max_examples=300, deadline=None)
def test_flatten_text_entities_point_at_their_part(parts: list[Any]) -> None:
    text, ents = flatten_text(parts)
    assert text == "".join(p if isinstance(p, str) else p["text"] for p in parts)
    styled = [p for p in parts if isinstance(p, dict) and p["type"] != "plain"]
    assert len(ents) == len(styled)
    total = len(text.encode("utf-16-le")) // 2
    for e, part in zip(ents, styled):
        assert 0 <= e.offset and e.length >= 0 and e.offset + e.length <= total
        assert utf16_slice(text, e.offset, e.length) == part["text"]
        assert e.type == part["type"]


# Numbers stay below 1e16: larger Unix dates hit a known bug (test_jsonl_far_future_unix_date_is_a_skip).
_num = (st.integers(min_value=-10**16, max_value=10**16) | st.floats(min_value=-1e16, max_value=1e16)
        | st.sampled_from([float("nan"), float("inf"), float("-inf")]))
_json = st.recursive(st.none() | st.booleans() | _num | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
                     max_leaves=12)


@given(st.one_of(_json, st.lists(st.one_of(st.text(max_size=6), st.dictionaries(
    st.sampled_from(["type", "text", "href"]), _json, max_size=3)), max_size=6)))
@settings(max_examples=300, deadline=None)
def test_flatten_text_never_crashes_on_arbitrary_values(value: Any) -> None:
    try:
        text, ents = flatten_text(value)
    except ValueError:
        return  # the documented refusal, turned into a Skip by the reader
    assert isinstance(text, str) and all(isinstance(e, Entity) for e in ents)


_keys = ["channel_id", "message_id", "date", "text", "edit_date", "entities", "forward_channel_id", "grouped_id",
         "media", "channel_username", "forward_name"]
_records = st.dictionaries(st.sampled_from(_keys), _json, max_size=8).map(lambda d: json.dumps(d))
_lines = st.lists(st.one_of(_records, st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s)),
                  max_size=8)


# Text lines (valid UTF-8); undecodable bytes: the next test.
@given(_lines)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_read_jsonl_on_arbitrary_lines_yields_posts_or_skips(tmp_path: Path, lines: list[str]) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(read_jsonl(f))
    assert all(isinstance(x, (Post, Skip)) for x in items)
    filled = len([ln for ln in lines if ln.strip()])
    assert len(items) <= filled or (not filled and [x.reason for x in items] == ["empty: no line in it holds a post"])


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_read_jsonl_on_arbitrary_bytes_never_raises(tmp_path: Path, data: bytes) -> None:
    f = tmp_path / "b.jsonl"
    f.write_bytes(data)
    assert all(isinstance(x, (Post, Skip)) for x in read_jsonl(f))


_posts_out = st.lists(st.tuples(st.integers(min_value=1, max_value=10**6), st.text(max_size=20),
                                st.sampled_from([None, 1, 2, 4])), max_size=6)
_garbage = st.text(max_size=20).filter(lambda s: "\n" not in s and "\r" not in s)


@given(_posts_out, st.lists(_garbage, max_size=3), st.randoms(use_true_random=False))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_read_jsonl_never_loses_a_valid_post_however_printed(tmp_path: Path, posts: list[tuple[int, str, int | None]],
                                                            garbage: list[str], rnd: Any) -> None:
    """Posts one per line (jq -c) or over several lines (jq without -c), among bad lines: never
    raises, and every post is read."""
    values = [json.dumps({"channel_id": 1117628569, "message_id": mid, "date": "2024-11-20T09:04:00Z", "text": text},
                         ensure_ascii=False, indent=indent) for mid, text, indent in posts]
    chunks = values + garbage
    rnd.shuffle(chunks)
    f = tmp_path / "p.jsonl"
    f.write_text("\n".join(chunks) + "\n", encoding="utf-8")
    items = list(read_jsonl(f))
    assert all(isinstance(x, (Post, Skip)) for x in items)
    read = sorted((x.message_id, x.text) for x in items if isinstance(x, Post))
    assert all(p in read for p in sorted((mid, text.replace("\r", "")) for mid, text, _ in posts)) or any(
        "\r" in t for _, t, _ in posts), (chunks, items)


def test_a_channel_id_of_0_is_a_skip_naming_its_line(tmp_path: Path) -> None:
    """Stored, it was linked t.me/c/0/N, a link that opens nothing."""
    f = tmp_path / "zero.jsonl"
    f.write_text('{"channel_id": 0, "message_id": 1, "date": 1700000000, "text": "a"}\n', encoding="utf-8")
    assert [str(x) for x in read_jsonl(f)] == [f"{f}: line 1: channel_id 0 is no channel's id"]


def test_pretty_printed_json_and_a_desktop_export_in_a_jsonl_file(tmp_path: Path) -> None:
    """`jq .` output saved as .jsonl is read post by post, in date order; a Desktop export saved
    as .jsonl is one line saying what it is."""
    f = tmp_path / "pretty.jsonl"
    f.write_text("\n".join(json.dumps({"channel_id": 1117628569, "message_id": i, "date": f"2024-11-2{i}T09:04:00Z",
                                        "text": "дезертир"}, ensure_ascii=False, indent=2) for i in (3, 1, 2)) + "\n",
                 encoding="utf-8")
    assert [x.message_id for x in read_jsonl(f) if isinstance(x, Post)] == [1, 2, 3]
    e = tmp_path / "result.jsonl"
    e.write_bytes((Path(__file__).parents[1] / "examples/export/ChatExport_1700000001/result.json").read_bytes())
    [skip] = read_jsonl(e)
    assert isinstance(skip, Skip) and "Telegram Desktop export" in skip.reason and "result.json" in skip.reason


@given(st.text(), st.text())
def test_text_hash_follows_the_text_it_is_asked_about(first: str, second: str) -> None:
    """The hash is cached per text: a post whose text changed (an edit) never reports the old one."""
    p = Post(1, 1, datetime(2024, 11, 1, tzinfo=timezone.utc), first)
    assert p.text_hash == content_hash(p.text)
    start = p.text
    p.text = second
    assert p.text_hash == content_hash(second)
    assert (p.text_hash == content_hash(start)) == (start == second)


_line = st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)), min_size=1, max_size=8)  # \r then \n is one break


@given(st.lists(st.tuples(_line, st.sampled_from(["\r\n", "\r", "\n"])), max_size=8))
def test_windows_and_mac_line_breaks_read_as_one_text_with_its_formatting_in_place(
        lines: list[tuple[str, str]]) -> None:
    """A post read from a file written on Windows (\\r\\n) or an old Mac (\\r) is the same post as
    read from an export (\\n): same text, each formatted word still formatted."""
    written = "".join(w + brk for w, brk in lines)
    entities, at = [], 0
    for w, brk in lines:
        entities.append(Entity("text_link", at, len(w.encode("utf-16-le")) // 2, "https://example.org"))
        at += len((w + brk).encode("utf-16-le")) // 2
    whole = Entity("bold", 0, at)
    p = Post(1, 1, datetime(2024, 11, 1, tzinfo=UTC), written, entities=(*entities, whole))
    assert p.text == "".join(w + "\n" for w, _ in lines)
    assert [utf16_slice(p.text, e.offset, e.length) for e in p.entities] == [w for w, _ in lines] + [p.text]
    assert p.text_hash == Post(1, 1, p.date, p.text, entities=p.entities).text_hash


# -- bad ids, chat fields, dates, entities, BOM, duplicate paths -----------------------------------

# Python's own wording: none of it may reach a skip line.
PYTHON_TEXT = ("argument", "subscriptable", "indices", "object has no", "NoneType", "timedelta", "invalid literal",
               "fromisoformat", "isoformat", "Errno", "codec", "'int'", "'str'", UNEXPECTED)


def no_python_text(reason: str) -> None:
    assert not any(t in reason for t in PYTHON_TEXT), reason


@pytest.mark.parametrize("bad_id, reason", [
    (1.5, "id 1.5 is not a positive integer"),
    (True, "id true is not a positive integer"),
    (0, "id 0 is not a positive integer"),
    (-3, "id -3 is not a positive integer"),
    ("7", 'id "7" is not a positive integer'),
    (2**63, f"id {2**63} is out of range"),
])
def test_export_message_id_that_is_not_a_positive_64_bit_integer_is_a_skip(
        tmp_path: Path, bad_id: Any, reason: str) -> None:
    f = write_chat(tmp_path / "result.json", [msg(1, "до"), msg(bad_id, "плохое"), msg(3, "после")])
    items = list(read_export(f))
    # `true` is not read as id 1: the real message 1 keeps its text (no false "edit")
    assert [(p.message_id, p.text) for p in posts_of(items)] == [(1, "до"), (3, "после")]
    [s] = skips_of(items)
    assert str(s).startswith(f"{f}: message #1 (id ") and s.reason.startswith(reason)
    no_python_text(s.reason)


def test_export_largest_64_bit_id_is_read(tmp_path: Path) -> None:
    [p] = read_export(write_chat(tmp_path / "result.json", [msg(2**63 - 1)], chat_id=2**63 - 1))
    assert isinstance(p, Post) and p.key == (2**63 - 1, 2**63 - 1)


@pytest.mark.parametrize("chat_id", [None, "abc", 1.5, True, 2**63, [1]])
def test_export_chat_id_that_is_not_an_integer_is_one_line_naming_the_file(tmp_path: Path, chat_id: Any) -> None:
    f = write_chat(tmp_path / "result.json", [msg(1), msg(2)], chat_id=chat_id)
    [s] = read_export(f)
    assert isinstance(s, Skip) and str(s).startswith(f"{f}: chat id ")
    assert s.reason.endswith("the chat cannot be read")
    no_python_text(s.reason)


def test_full_export_bad_chat_id_or_chat_does_not_stop_the_other_chats(tmp_path: Path) -> None:
    data = {"chats": {"list": [
        {"name": "Плохой", "type": "public_channel", "id": None, "messages": [msg(1, "x")]},
        "not a chat",
        {"name": "Хороший", "type": "public_channel", "id": 22, "messages": [msg(1, "b1")]},
    ]}}
    f = tmp_path / "result.json"
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    items = list(read_export(f))
    assert [p.key for p in posts_of(items)] == [(22, 1)]
    assert [str(s) for s in skips_of(items)] == [f"{f}: chat #0 (Плохой): chat id null is not an integer; "
                                                 "the chat cannot be read", f"{f}: chat #1: not an object"]


@pytest.mark.parametrize("field, value", [("username", 5), ("username", ["a"]), ("name", 5), ("type", 7)])
def test_export_bad_chat_name_username_or_type_is_reported_and_posts_still_read(
        tmp_path: Path, field: str, value: Any) -> None:
    f = write_chat(tmp_path / "result.json", [msg(1, "a"), msg(2, "b")], **{field: value})
    items = list(read_export(f))
    posts = posts_of(items)
    assert [p.message_id for p in posts] == [1, 2]
    assert all(p.channel_username is None for p in posts)
    assert posts[0].link == "https://t.me/c/1700000009/1"  # the link no longer crashes on username 5
    if field == "name":
        assert posts[0].channel_title == ""
    [s] = skips_of(items)
    assert str(s).startswith(f"{f}: chat {field} ") and "is not a string" in s.reason


def test_export_string_username_is_used_for_links(tmp_path: Path) -> None:
    [p] = read_export(write_chat(tmp_path / "result.json", [msg(4)], username="@news"))
    assert p.channel_username == "news" and p.link == "https://t.me/news/4"


@pytest.mark.parametrize("extra, reason", [
    ({"date": 12345}, "date 12345 is not an ISO 8601 date"),
    ({"date": "вчера"}, 'date "вчера" is not an ISO 8601 date'),
    ({"date": "2024-01-01T00:00:00+25:00"}, 'date "2024-01-01T00:00:00+25:00" is not an ISO 8601 date'),
    ({"date": "0001-01-01T00:00:00+01:00"}, 'date "0001-01-01T00:00:00+01:00" is out of range'),
    ({"type": 5}, "type 5 is not a message type"),
    ({"text": [{"type": "bold", "text": 5}]}, "a text part is neither a string nor {type, text}"),  # no text_entities
])
def test_export_bad_date_or_text_part_has_a_clear_reason(tmp_path: Path, extra: dict[str, Any], reason: str) -> None:
    bad = msg(2, "плохое", unix=None if "date" in extra else "1700000000")
    bad.update(extra)
    f = write_chat(tmp_path / "result.json", [msg(1, "до"), bad, msg(3, "после")])
    items = list(read_export(f))
    assert [p.message_id for p in posts_of(items)] == [1, 3]
    [s] = skips_of(items)
    assert str(s) == f"{f}: message #1 (id 2): {reason}"


def test_old_export_date_with_an_offset_is_read_in_utc(tmp_path: Path) -> None:
    [p] = read_export(write_chat(tmp_path / "result.json", [msg(1, "x", None, date="2020-01-02T03:04:05+03:00")]))
    assert p.date == datetime(2020, 1, 2, 0, 4, 5, tzinfo=UTC) and p.date.tzinfo is UTC


def test_export_with_a_number_too_long_to_read_is_one_skip(tmp_path: Path) -> None:
    f = tmp_path / "result.json"
    f.write_text('{"name": "x", "id": 1' + "0" * 5000 + ', "messages": []}')
    [s] = read_export(f)
    assert isinstance(s, Skip) and s.path == str(f) and "number too long" in s.reason
    no_python_text(s.reason)


GOOD = {"channel_id": 1, "date": 1700000000, "text": "ok"}


def middle_line_skipped(tmp_path: Path, field: str, value: Any) -> tuple[Path, Any]:
    """A JSON Lines file whose second of three lines has `field` = `value`: the file, and the one
    skip (the lines around it must be read)."""
    f = write_lines(tmp_path / "a.jsonl", [{**GOOD, "message_id": 1}, {**GOOD, "message_id": 2, field: value},
                                           {**GOOD, "message_id": 3}])
    items = list(read_jsonl(f))
    assert [p.message_id for p in posts_of(items)] == [1, 3]
    [s] = skips_of(items)
    return f, s


@pytest.mark.parametrize("field, value, reason", [
    ("message_id", 1.5, "message_id 1.5 is not a positive integer"),
    ("message_id", True, "message_id true is not a positive integer"),
    ("message_id", 0, "message_id 0 is not a positive integer"),
    ("message_id", -3, "message_id -3 is not a positive integer"),
    ("message_id", 2**63, f"message_id {2**63} is out of range"),
    ("channel_id", 2**63, f"channel_id {2**63} is out of range"),
    ("channel_id", -(2**63) - 1, f"channel_id {-(2**63) - 1} is out of range"),
    ("channel_id", False, "channel_id false is not an integer"),
    ("channel_id", "²", 'channel_id "²" is not an integer'),
    ("channel_id", "--5", 'channel_id "--5" is not an integer'),
    ("channel_id", "1" * 30, "channel_id \"" + "1" * 30 + "\" is not an integer"),
])
def test_jsonl_id_that_is_not_a_64_bit_integer_is_a_skip(tmp_path: Path, field: str, value: Any, reason: str) -> None:
    f, s = middle_line_skipped(tmp_path, field, value)
    assert str(s).startswith(f"{f}: line 2: {reason}")


def middle_line_kept(tmp_path: Path, field: str, value: Any) -> tuple[Path, Post, list[Note]]:
    """A JSON Lines file whose second of three lines has an optional `field` = `value`: the file,
    that line's post (every line is read) and the warnings before it."""
    f = write_lines(tmp_path / "a.jsonl", [{**GOOD, "message_id": 1}, {**GOOD, "message_id": 2, field: value},
                                           {**GOOD, "message_id": 3}])
    items = list(read_jsonl(f))
    assert [p.message_id for p in posts_of(items)] == [1, 2, 3]
    notes = [s for s in items if isinstance(s, Note)]
    assert notes and notes == skips_of(items)  # warnings, not skips: nothing is lost
    return f, posts_of(items)[1], notes


@pytest.mark.parametrize("field, value, reason, without", [
    ("grouped_id", 1.5, "grouped_id 1.5 is not an integer", "its album"),
    ("grouped_id", 2**64, f"grouped_id {2**64} is out of range", "its album"),
    ("forward_channel_id", True, "forward_channel_id true is not an integer", "its forward origin"),
    ("forward_channel_id", 2**63, f"forward_channel_id {2**63} is out of range", "its forward origin"),
    ("forward_post_id", 0, "forward_post_id 0 is not a positive integer", "its forward origin"),
    ("forward_post_id", 2**63, f"forward_post_id {2**63} is out of range", "its forward origin"),
    ("channel_title", 5, "channel_title must be a string", "its channel's title"),
    ("channel_username", "my chan", 'channel_username "my chan" is not a Telegram username', "its channel's username"),
    ("media", ["photo"], "media must be a string", "its media kind"),
    ("forward_name", {"name": "Mash"}, "forward_name must be a string", "its forward origin"),
])
def test_jsonl_bad_optional_field_keeps_the_post_with_a_warning(tmp_path: Path, field: str, value: Any, reason: str,
                                                                without: str) -> None:
    """A line whose text, ids and date are fine is stored whatever an optional field holds, as a
    Desktop export's message is (README "Input formats"): the warning says what was left out."""
    f, post, [note] = middle_line_kept(tmp_path, field, value)
    assert str(note).startswith(f"{f}: line 2: {reason}") and f"kept without {without}" in str(note)
    assert post.text == "ok" and post.grouped_id is None and post.forward_channel_id is None and post.forward_post_id is None
    assert post.media is None and post.channel_username is None


def test_jsonl_forward_origin_is_dropped_whole_when_part_of_it_is_bad(tmp_path: Path) -> None:
    [note, post] = read_jsonl(write_lines(tmp_path / "a.jsonl", [{**GOOD, "message_id": 1, "forward_channel_id": 5,
                                                                  "forward_post_id": "x", "forward_name": "Mash"}]))
    assert isinstance(note, Note) and isinstance(post, Post)
    assert (post.forward_channel_id, post.forward_post_id, post.forward_name) == (None, None, None)


def test_jsonl_64_bit_limits_and_numeric_strings_are_read(tmp_path: Path) -> None:
    f = write_lines(tmp_path / "a.jsonl", [{**GOOD, "message_id": 2**63 - 1, "grouped_id": -(2**63),
                                            "forward_channel_id": 2**63 - 1, "forward_post_id": "5"}])
    [p] = read_jsonl(f)
    assert isinstance(p, Post)
    assert (p.message_id, p.grouped_id, p.forward_channel_id, p.forward_post_id) == (2**63 - 1, -(2**63), 2**63 - 1, 5)


@pytest.mark.parametrize("entities, reason", [
    ("abc", "entities must be a list of objects"),
    ([5], "entity #0 is not an object"),
    ({"type": "bold"}, "entities must be a list of objects"),
    ([{"type": "bold", "length": 1}], "entity #0 has no offset"),
    ([{"type": "bold", "offset": "x", "length": 1}], 'entity #0: offset "x" is not a non-negative integer'),
    ([{"type": "bold", "offset": 0, "length": 1.5}], "entity #0: length 1.5 is not a non-negative integer"),
    ([{"type": "bold", "offset": -1, "length": 1}], "entity #0: offset -1 is not a non-negative integer"),
    ([{"type": "bold", "offset": 0, "length": 1}, {"type": 3, "offset": 0, "length": 1}],
     "entity #1: type 3 is not a string"),
    ([{"type": "text_link", "offset": 0, "length": 1, "url": 5}], "entity #0: url 5 is not a string"),
])
def test_jsonl_bad_entities_have_a_clear_reason(tmp_path: Path, entities: Any, reason: str) -> None:
    """A bad entity is left out with a warning naming it; the post is stored (its words are what
    the rules read), with the entities that were fine."""
    f, post, notes = middle_line_kept(tmp_path, "entities", entities)
    assert any(str(n).startswith(f"{f}: line 2: {reason}: the post is kept without") for n in notes)
    assert post.text == "ok"
    if reason.startswith("entity #1"):
        assert [e.type for e in post.entities] == ["bold"]  # the good one is kept


@pytest.mark.parametrize("field, value, reason", [
    ("date", "2024-01-01T00:00:00+25:00", 'date "2024-01-01T00:00:00+25:00" is not an ISO 8601 date'),
    ("date", "вчера", 'date "вчера" is not an ISO 8601 date'),
    ("date", [2024], "date a list is not an ISO 8601 date or a Unix time"),
    ("date", "9999-12-31T23:00:00-05:00", 'date "9999-12-31T23:00:00-05:00" is out of range'),
])
def test_jsonl_bad_dates_have_a_clear_reason(tmp_path: Path, field: str, value: Any, reason: str) -> None:
    f, s = middle_line_skipped(tmp_path, field, value)
    assert str(s) == f"{f}: line 2: {reason}"


def test_jsonl_date_with_an_offset_is_read_in_utc(tmp_path: Path) -> None:
    [p] = read_jsonl(write_lines(tmp_path / "a.jsonl", [{**GOOD, "message_id": 1, "date": "2024-11-20T12:04:00+03:00"}]))
    assert p.date == datetime(2024, 11, 20, 9, 4, tzinfo=UTC) and p.date.tzinfo is UTC


def test_jsonl_unix_time_written_as_a_string_is_read(tmp_path: Path) -> None:
    """Unix seconds as Desktop exports write date_unixtime ("1732093440") are a date, as a number
    is; an 8-digit string stays the ISO day it also is."""
    [p, q] = read_jsonl(write_lines(tmp_path / "a.jsonl", [{**GOOD, "message_id": 1, "date": "1732093440"},
                                                           {**GOOD, "message_id": 2, "date": "20241121",
                                                            "edit_date": " 1732183440 "}]))
    assert p.date == datetime(2024, 11, 20, 9, 4, tzinfo=UTC)
    assert q.date == datetime(2024, 11, 21, tzinfo=UTC) and q.edit_date == datetime(2024, 11, 21, 10, 4, tzinfo=UTC)


def test_jsonl_in_utf16_is_one_skip_that_says_so(tmp_path: Path) -> None:
    """Windows PowerShell's `>` writes UTF-16: one line saying so, not every line as bad JSON."""
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps({**GOOD, "message_id": 1}) + "\n" + json.dumps({**GOOD, "message_id": 2}) + "\n",
                 encoding="utf-16")
    [s] = read_jsonl(f)
    assert isinstance(s, Skip) and str(s).startswith(f"{f}: UTF-16 text") and "UTF-8" in s.reason


def test_jsonl_username_builds_a_working_link_or_is_a_clear_skip(tmp_path: Path) -> None:
    """channel_username builds every post link: a t.me link or @name is read as the name; text that
    is no username (a title put there) is left out with a warning, never linked as t.me/my chan/1:
    the post is stored, linked by the channel id."""
    f = write_lines(tmp_path / "a.jsonl", [{**GOOD, "message_id": 1, "channel_username": "https://t.me/Mash/"},
                                           {**GOOD, "message_id": 2, "channel_username": "@shot_shot"},
                                           {**GOOD, "message_id": 3, "channel_username": "Новости Кубани"},
                                           {**GOOD, "message_id": 4, "channel_username": "@"},
                                           {**GOOD, "message_id": 5, "channel_username": "https://telegram.me/Baza"},
                                           {**GOOD, "message_id": 6, "channel_username": "TELEGRAM.DOG/rian_ru"}])
    items = list(read_jsonl(f))
    assert [(p.message_id, p.channel_username) for p in posts_of(items)] == [(1, "Mash"), (2, "shot_shot"), (3, None),
                                                                             (4, None), (5, "Baza"), (6, "rian_ru")]
    [s] = skips_of(items)
    assert isinstance(s, Note)
    assert str(s) == (f'{f}: line 3: channel_username "Новости Кубани" is not a Telegram username (name, @name or '
                      "t.me/name): the post is kept without its channel's username (its link names the channel id)")


def test_jsonl_number_too_long_is_a_skip(tmp_path: Path) -> None:
    f = write_lines(tmp_path / "a.jsonl", [{**GOOD, "message_id": 1},
                                           '{"channel_id": 1, "message_id": 1' + "0" * 5000 + ', "date": 1}',
                                           {**GOOD, "message_id": 3}])
    items = list(read_jsonl(f))
    assert [p.message_id for p in posts_of(items)] == [1, 3]
    [s] = skips_of(items)
    assert s.where == "line 2" and "number too long" in s.reason


def test_jsonl_with_a_utf8_bom_keeps_its_first_post(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps({**GOOD, "message_id": i}) + "\r\n" for i in (1, 2)).encode())
    items = list(read_jsonl(f))
    assert not skips_of(items) and [p.message_id for p in posts_of(items)] == [1, 2]


def test_same_file_named_twice_or_inside_a_named_folder_is_read_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write_chat(tmp_path / "in" / "a" / "result.json", [msg(1, "a")], chat_id=1)
    b = write_lines(tmp_path / "in" / "b.jsonl", [{**GOOD, "channel_id": 2, "message_id": 1, "date": 1600000000}])
    monkeypatch.chdir(tmp_path)
    named = [a, a, tmp_path / "in", Path("in") / "b.jsonl", Path("in") / "a" / ".." / "a" / "result.json", b]
    assert list(source_files(named)) == [a, b]  # first-seen order
    items = list(read_paths(named))
    assert not skips_of(items) and [p.key for p in posts_of(items)] == [(1, 1), (2, 1)]
    skips: list[Skip] = []
    assert [p.key for p in read_by_date(named, skips)] == [(2, 1), (1, 1)] and not skips  # by date, once each


def test_missing_path_named_twice_is_still_reported(tmp_path: Path) -> None:
    assert [s.reason for s in source_files([tmp_path / "nope", tmp_path / "nope"])] == ["no such file or directory"] * 2


# -- end to end: what `tgwatch replay` prints and stores ------------------------------------------


def _replay(tmp_path: Path, *paths: Path) -> tuple[Result, list[int]]:
    db = tmp_path / "s.db"
    r = CliRunner().invoke(cli, ["replay", *map(str, paths), "--db", str(db), "--rules", str(ROOT / "rules"),
                                 "--alerts", "none"])
    with sqlite3.connect(db) as c:
        stored = [m for (m,) in c.execute("SELECT message_id FROM posts ORDER BY 1")]
    return r, stored


def test_replay_stores_every_good_line_around_an_id_too_big_for_sqlite(tmp_path: Path) -> None:
    lines: list[Any] = [{**GOOD, "message_id": i, "date": 1700000000 + i} for i in range(1, 3001)]
    lines.insert(1500, {**GOOD, "message_id": 9999, "date": 1700001500, "grouped_id": 2**63})
    f = write_lines(tmp_path / "a.jsonl", lines)
    r, stored = _replay(tmp_path, f)
    assert r.exit_code == 0 and r.exception is None, r.output
    assert stored == [*range(1, 3001), 9999]  # the bad album id is left out, the post kept
    assert f"warning {f}: line 1501: grouped_id {2**63} is out of range" in r.stderr
    assert "Traceback" not in r.output and "OverflowError" not in r.output


def test_replay_of_an_export_with_a_numeric_username_and_the_file_twice(tmp_path: Path) -> None:
    f = write_chat(tmp_path / "c" / "result.json", [msg(1, "a"), msg(2, "b")], username=5)
    r, stored = _replay(tmp_path, f, f, tmp_path / "c")
    assert r.exit_code == 0 and r.exception is None, r.output
    assert stored == [1, 2]
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith(("files ", "posts read "))]
    assert lines[0].split() == ["files", "1"] and lines[1].split() == ["posts", "read", "2"]
    assert f"warning {f}: chat username 5 is not a string (read as no username)" in r.stderr
    assert "skipped  " in r.stdout and r.stdout.split("skipped", 1)[1].split()[0] == "0"  # no post skipped
    assert "Traceback" not in r.output and "lstrip" not in r.output


def test_a_post_in_an_export_and_in_a_windows_jsonl_file_is_not_edited_by_replaying_both(tmp_path: Path) -> None:
    """The same post from a Desktop export (\\n) and a JSON Lines file written on Windows (\\r\\n):
    replayed again and again it is "already stored", never "edited", and its link stays on its word."""
    lines = ["В Краснодаре задержали дезертиров", "Подробнее", "UPD: ещё двое"]
    ex = write_chat(tmp_path / "c" / "result.json", [msg(1, [lines[0] + "\n", {"type": "text_link", "text": lines[1],
                                                                                   "href": "https://example.org/a"},
                                                          "\n" + lines[2]])])
    rec = {"channel_id": 1700000009, "message_id": 1, "date": 1700000000, "text": "\r\n".join(lines),
           "entities": [{"type": "text_link", "offset": len(lines[0]) + 2, "length": len(lines[1]),
                         "url": "https://example.org/a"}]}
    mac = {**rec, "message_id": 2, "text": "\r".join(lines), "entities": []}
    jl = write_lines(tmp_path / "w.jsonl", [rec, mac])
    ex2 = write_chat(tmp_path / "d" / "result.json", [msg(2, "\n".join(lines))])
    seen = []
    for _ in range(3):
        r, stored = _replay(tmp_path, ex, jl, ex2)
        assert r.exit_code == 0, r.output
        seen.append([ln.split()[-1] for ln in r.stdout.splitlines() if ln.startswith(("edited ", "already stored "))])
    assert seen == [["0", "2"], ["0", "4"], ["0", "4"]], seen  # read twice a round: 0 edited
    with sqlite3.connect(tmp_path / "s.db") as c:
        assert [t for (t,) in c.execute("SELECT text FROM posts ORDER BY message_id")] == ["\n".join(lines)] * 2
    [p] = [x for x in read_jsonl(jl) if isinstance(x, Post) and x.message_id == 1]
    assert p.links == ((len(lines[0]) + 1, len(lines[0]) + 1 + len(lines[1]), "https://example.org/a"),)


# -- properties: no Python text in any skip -------------------------------------------------------

_any_int = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63)])
_val = st.one_of(st.none(), st.booleans(), _any_int, st.floats(allow_nan=True), st.text(max_size=8),
                 st.sampled_from(["2024-01-01T00:00:00+25:00", "2024-11-20T09:04:00Z", "0001-01-01T00:00:00+01:00",
                                  "-1001117628569", "²", "1700000000"]),
                 st.lists(st.integers() | st.text(max_size=3), max_size=2),
                 st.lists(st.dictionaries(st.sampled_from(["type", "offset", "length", "url", "text", "href"]),
                                          st.none() | st.booleans() | _any_int | st.text(max_size=4), max_size=4),
                          max_size=2))


@given(st.dictionaries(st.sampled_from(_keys + ["forward_post_id", "channel_title"]), _val, max_size=10))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_jsonl_every_skip_names_its_problem(tmp_path: Path, rec: dict[str, Any]) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    *notes, item = read_jsonl(f)  # a post kept without a bad field comes after a Note saying which
    assert all(isinstance(n, Note) and not isinstance(item, Skip) for n in notes)
    for skip in [*notes, item] if isinstance(item, Skip) else notes:
        assert skip.where == "line 1"
        no_python_text(skip.reason)
    if not isinstance(item, Skip):
        assert 0 < item.message_id < 2**63 and -(2**63) <= item.channel_id < 2**63
        for v in (item.grouped_id, item.forward_channel_id, item.forward_post_id):
            assert v is None or -(2**63) <= v < 2**63


@given(st.dictionaries(st.sampled_from(["id", "type", "date", "date_unixtime", "text", "edited_unixtime",
                                        "forwarded_from", "media_type", "photo", "file"]), _val, max_size=8),
       st.dictionaries(st.sampled_from(["id", "name", "username", "type"]), _val, max_size=4))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_export_every_skip_names_its_problem(tmp_path: Path, message: dict[str, Any], chat: dict[str, Any]) -> None:
    f = tmp_path / "result.json"
    f.write_text(json.dumps({**chat, "messages": [message]}), encoding="utf-8")
    for item in read_export(f):
        if isinstance(item, Skip):
            assert item.path == str(f)
            no_python_text(item.reason)
        else:
            assert isinstance(item.message_id, int) and 0 < item.message_id < 2**63
            assert item.channel_username is None or isinstance(item.channel_username, str)
            assert item.link.startswith("https://t.me/")


# -- what replay finds and in which order --------------------------------------------------------


def test_folders_linked_into_a_named_folder_are_searched(tmp_path: Path) -> None:
    week = tmp_path / "week48"
    week.mkdir()
    (week / "ChatExport_1").symlink_to(SAMPLE / "ChatExport_1700000001", target_is_directory=True)
    (week / "loop").symlink_to(week, target_is_directory=True)  # a link back up ends, read once
    found = list(source_files([week]))
    assert found == [week / "ChatExport_1" / "result.json"]
    r = CliRunner().invoke(cli, ["replay", str(week), "--db", str(tmp_path / "t.db"), "--alerts", "none",
                                 "--rules", str(ROOT / "rules")])
    assert r.exit_code == 0 and "no result.json" not in r.output


def replayed_alerts(tmp_path: Path, source: Path, db: str) -> list[tuple[str, int, int]]:
    """(rule, message id, story size) of each alert `tgwatch replay source` raises into a new store."""
    out = tmp_path / f"{db}.jsonl"
    r = CliRunner().invoke(cli, ["replay", str(source), "--db", str(tmp_path / db), "--alerts", str(out),
                                 "--rules", str(ROOT / "rules")])
    assert r.exit_code == 0, r.output
    return [(a["rule"], a["message_id"], a["story_size"]) for a in map(json.loads, out.read_text().splitlines())]


def test_a_full_account_export_is_read_in_date_order_across_its_chats(tmp_path: Path) -> None:
    chats = [json.loads(f.read_text(encoding="utf-8")) for f in sorted(SAMPLE.rglob("result.json"))]
    full = tmp_path / "result.json"
    full.write_text(json.dumps({"about": "", "chats": {"about": "", "list": chats}}, ensure_ascii=False), encoding="utf-8")
    skips: list[Skip] = []
    dates = [p.date for p in read_by_date([full], skips)]
    assert len(dates) == len(posts_of(list(read_paths([SAMPLE])))) and dates == sorted(dates)
    assert [k.reason for k in skips] == ["service message"] * 3

    # the same alerts as the per-chat exports: on a story's first post, one per story and rule
    assert replayed_alerts(tmp_path, full, "full.db") == replayed_alerts(tmp_path, SAMPLE, "chats.db")


def test_an_export_cut_inside_a_letter_is_called_truncated(tmp_path: Path) -> None:
    data = write_chat(tmp_path / "result.json", [msg(1, "Дезертир")]).read_bytes()
    cut = data.index("Дезертир".encode()) + 1  # half of «Д»
    (tmp_path / "result.json").write_bytes(data[:cut])
    [skip] = list(read_export(tmp_path / "result.json"))
    assert isinstance(skip, Skip) and "truncated export?" in skip.reason and "not UTF-8" not in skip.reason


def test_jsonl_null_text_is_a_post_without_text_and_bad_json_names_its_column(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    cut = '{"channel_id": 5, "message_id": 2, "date": 1700000000, "text": "обрезан'  # a download cut short
    f.write_text('{"channel_id": 5, "message_id": 1, "date": 1700000000, "text": null, "media": "photo"}\n' + cut,
                 encoding="utf-8")
    items = list(read_jsonl(f))
    [post], [skip] = posts_of(items), skips_of(items)
    assert post.text == "" and post.media == "photo"
    assert skip.where == "line 2"
    column = cut.index('"обрезан') + 1  # where the string that never ends opens
    assert skip.reason == f"not valid JSON (column {column}: Unterminated string starting at)"


def test_a_jsonl_file_of_channels_one_after_another_is_read_in_date_order(tmp_path: Path) -> None:
    posts = posts_of(list(read_paths([SAMPLE])))  # chat by chat, as a scraper dumps them
    f = tmp_path / "all.jsonl"
    f.write_text("not json\n" + "".join(json.dumps({
        "channel_id": p.channel_id, "message_id": p.message_id, "date": p.date.isoformat(), "text": p.text,
        "channel_title": p.channel_title, "forward_name": p.forward_name}, ensure_ascii=False) + "\n" for p in posts),
        encoding="utf-8")
    items = list(read_jsonl(f))
    assert isinstance(items[0], Skip) and items[0].where == "line 1"  # still named by its line
    dates = [p.date for p in posts_of(items)]
    assert len(dates) == len(posts) and dates == sorted(dates) and dates != [p.date for p in posts]

    assert replayed_alerts(tmp_path, f, "lines.db") == replayed_alerts(tmp_path, SAMPLE, "chats.db")  # on each story's first post, as the exports give


def test_a_post_and_its_edit_of_one_date_stay_in_file_order(tmp_path: Path) -> None:
    f = tmp_path / "a.jsonl"
    lines = [{"channel_id": 5, "message_id": 2, "date": 1700000100, "text": "второй"},
             {"channel_id": 5, "message_id": 1, "date": 1700000000, "text": "первый"},
             {"channel_id": 5, "message_id": 1, "date": 1700000000, "text": "первый, исправлен", "edit_date": 1700000500}]
    f.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    assert [p.text for p in posts_of(list(read_jsonl(f)))] == ["первый", "первый, исправлен", "второй"]


@pytest.mark.parametrize("name", ["posts.json", "posts.ndjson", "POSTS.JSONL", "posts"])
def test_json_lines_under_another_name_are_read_as_json_lines(tmp_path: Path, name: str) -> None:
    f = tmp_path / name
    f.write_text("".join(json.dumps({"channel_id": 5, "message_id": i, "date": 1700000000 + i, "text": "пост"}) + "\n"
                         for i in (1, 2)), encoding="utf-8")
    items = list(read_paths([f]))
    assert [p.message_id for p in posts_of(items)] == [1, 2] and skips_of(items) == []


def test_a_desktop_export_on_one_line_is_still_an_export(tmp_path: Path) -> None:
    f = tmp_path / "export.json"
    f.write_text(json.dumps({"name": "Тест", "id": 1700000009, "messages": [msg(1), msg(2)]}, ensure_ascii=False),
                 encoding="utf-8")
    assert [p.message_id for p in posts_of(list(read_paths([f])))] == [1, 2]


def test_json_lines_piped_in_as_dash_are_replayed(tmp_path: Path) -> None:
    """`jq ... | tgwatch replay -`: standard input is JSON Lines, read as it comes; a bad line is
    named by its line number on <stdin>."""
    from click.testing import CliRunner

    from bot.cli import cli

    lines = [{"channel_id": 1117628569, "message_id": 2, "date": "2024-11-20T09:05:00Z", "text": "дезертир"},
             {"channel_id": 1117628569, "message_id": 1, "date": "2024-11-20T09:04:00Z", "text": "погода"}]
    data = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{oops\n"
    db = tmp_path / "s.db"
    r = CliRunner().invoke(cli, ["replay", "-", "--db", str(db), "--rules", str(Path(__file__).parents[1] / "rules"),
                                 "--alerts", "none"],
                           input=data.encode())
    assert r.exit_code == 0, r.output
    assert "skipped <stdin>: line 3: not valid JSON" in r.stderr
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT message_id FROM posts ORDER BY message_id").fetchall() == [(1,), (2,)]
