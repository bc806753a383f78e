"""A small single-chat export is decoded whole (bot.source.decoded), at a fraction of the stream's
CPU: every file must read exactly as the stream reads it (posts, notes, skip lines), damaged and odd
ones included; a file the decoder would read otherwise is streamed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.post import Post
from bot.source import Note, Skip
from bot.source import decoded as decoded_module
from bot.source.chat import _chat_posts
from bot.source import read_by_date
from bot.source.export import read_export

from .test_sources import msg, write_chat

HEAD = '{"name": "Тест", "type": "public_channel", "id": 1700000009, "messages": '


def both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Post | Skip], list[Post | Skip]]:
    """The file read as replay reads it, and read with no room to decode it (streamed)."""
    decoded = list(read_export(path))
    with monkeypatch.context() as m:
        m.setattr(decoded_module, "BUDGET", 0)
        streamed = list(read_export(path))
    return decoded, streamed


def export_with(tmp_path: Path, third: bytes, before: bytes = b"") -> Path:
    """A single chat as Telegram Desktop writes it, of five messages, the third of them `third` (raw
    bytes); `before` comes between the key `messages` and its list (another list and key, say)."""
    parts = [json.dumps(msg(i, f"пост {i}", str(1700000000 + i)), ensure_ascii=False).encode() for i in (1, 2, 4, 5)]
    f = tmp_path / "result.json"
    f.write_bytes(HEAD.encode() + before + b"[" + b", ".join([*parts[:2], third, *parts[2:]]) + b"]}")
    return f


@pytest.mark.parametrize("ascii_only", [False, True], ids=["utf-8", "escaped"])
def test_a_clean_export_with_every_field_reads_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ascii_only: bool) -> None:
    messages = [
        msg(1, ["Смотри ", {"type": "text_link", "text": "здесь", "href": "https://example.org"}, " и ",
                {"type": "link", "text": "t.me/mash/5"}, {"type": "bold", "text": "😀 жирно"}],
            edited_unixtime="1700000100", forwarded_from="Другой канал", photo="photos/1.jpg",
            text_entities=[{"type": "plain", "text": "не то"}], **{"from": "Тест", "from_id": "channel1"}),
        msg(2, "файл", str(1700000002), file="files/a.pdf", media_type="video_file", edited="2023-11-15T01:20:00"),
        {"id": 3, "type": "service", "date": "2023-11-15T01:13:20", "date_unixtime": "1700000003", "text": "",
         "action": "pin_message"},
        msg(4, "опрос", str(1700000004), poll={"question": "?", "answers": [{"text": "да", "voters": 2}]}),
        msg(5, [{"type": 7, "text": "тип не строка"}], str(1700000005), forwarded_from=12),
        msg(6, "место", str(1700000006), location_information={"latitude": 55.7, "longitude": 37.6},
            contact_information={"phone_number": "+7"}, edited_unixtime="вчера"),
        msg(7, "", str(1700000007), photo=None, media_type="", file="(File not included)"),
        msg(8, "бывший 64-битный", str(1700000008), from_id=2**70),
    ]
    f = tmp_path / "result.json"
    f.write_text(json.dumps({"name": "Тест", "type": "public_channel", "id": 1700000009, "messages": messages},
                            ensure_ascii=ascii_only, indent=1), encoding="utf-8")
    decoded, streamed = both_ways(f, monkeypatch)
    assert decoded == streamed
    assert [p.message_id for p in decoded if isinstance(p, Post)] == [1, 2, 4, 5, 6, 7, 8]
    assert sum(isinstance(s, Note) for s in decoded) == 3 and sum(type(s) is Skip for s in decoded) == 1


class Reads(dict[str, Any]):
    """A message that records the keys read from it."""

    read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        Reads.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        Reads.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        Reads.read.add(str(key))
        return super().__contains__(key)


def test_the_decoder_keeps_every_field_a_message_is_read_by() -> None:
    """A field .chat or .message reads that the decoder skips would read as absent from a small
    file and as written from a large one (text_entities is only read when `text` cannot be, and
    a file whose `text` cannot be read is streamed)."""
    Reads.read = set()
    kinds = [msg(1, "a"), msg(2, ["a", {"type": "bold", "text": "b"}], edited_unixtime="1700000100"),
             msg(3, "b", None, edited="2023-11-15T01:20:00"), msg(4, "c", forwarded_from="Канал", poll={}),
             {"id": 5, "type": "service", "text": ""}, msg(6, "d", media_type="sticker"), msg(7, "e", file="f"),
             msg(8, "", location_information={}), msg(9, "", contact_information={})]
    items = list(_chat_posts({"id": 1, "name": "Тест"}, "result.json", "", [Reads(m) for m in kinds]))
    assert len(items) == 9
    assert Reads.read <= set(decoded_module._Message.__annotations__)
    assert {"id", "text", "date_unixtime", "date", "photo", "poll", "file"} <= Reads.read


# Each: the third message's bytes (or another top-level key's), and what the stream makes of it.
DAMAGED = {
    "a byte that is not UTF-8, in a field not read": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "x", "from": "\xff"}', b"",
        "not UTF-8 text"),
    "a number json cannot read (5,000 digits), in a field not read": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "x", "views": ' + b"9" * 5000 + b"}", b"",
        "a number too long to read"),
    "a second messages list": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "x"}',
        b'[{"id": 9, "type": "message", "date_unixtime": "1700000009", "text": "first list"}], "messages": ', None),
    "a second messages list, its key escaped": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "x"}',
        b'[{"id": 9, "type": "message", "date_unixtime": "1700000009", "text": "first list"}], "messag\\u0065s": ', None),
    "a lone surrogate escape, in a field not read": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "x", "from": "\\ud83d!"}', b"", None),
    "a lone surrogate escape in the text": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "\\ud83d!"}', b"", "lone surrogate"),
    "NaN, in a field not read": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "x", "views": NaN}', b"", None),
    "nesting deeper than Python's recursion limit, in a field not read": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "x", "r": ' + b"[" * 1200 + b"]" * 1200 + b"}",
        b"", None),
    "an unreadable text and good text_entities": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": 5, "text_entities": ["from entities"]}', b"",
        "read from text_entities instead"),
    "a text part without text": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": [{"type": "bold"}], '
        b'"text_entities": [{"type": "plain", "text": "from entities"}]}', b"", "read from text_entities instead"),
    "a message that is no object": (b'"oops"', b"", "not an object"),
    "an id beyond 64 bits": (
        b'{"id": 36893488147419103232, "type": "message", "date_unixtime": "1700000003", "text": "x"}', b"",
        "out of range"),
    "a control character in a text": (
        b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "a\x01b"}', b"", "not valid JSON"),
}


@pytest.mark.parametrize("case", DAMAGED)
def test_a_damaged_or_odd_export_reads_as_the_stream_reads_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    third, before, reason = DAMAGED[case]
    decoded, streamed = both_ways(export_with(tmp_path, third, before), monkeypatch)
    assert decoded == streamed
    assert {1, 2} <= {p.message_id for p in decoded if isinstance(p, Post)}
    if reason is not None:
        assert any(reason in s.reason for s in decoded if isinstance(s, Skip)), decoded


# Any JSON value, in the fields read as well as in others; mostly of the kinds an export holds, so
# that most files are decoded rather than streamed (NaN, which makes a file streamed, is in DAMAGED).
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                    | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                    max_leaves=6)
PART = st.fixed_dictionaries({"type": st.sampled_from(["bold", "link", "text_link", "plain"]), "text": st.text(max_size=4)},
                             optional={"href": st.text(max_size=4) | JSON})
ODD_PART = st.fixed_dictionaries({"type": JSON, "text": st.text(max_size=4) | JSON}, optional={"href": JSON})
TEXT = st.text(max_size=6) | st.lists(st.text(max_size=4) | PART, max_size=3)
MESSAGE = st.fixed_dictionaries(
    {"id": st.integers(1, 50), "type": st.just("message"),
     "date_unixtime": st.integers(1_600_000_000, 1_700_000_000).map(str),
     "text": st.one_of(TEXT, TEXT, TEXT, st.lists(ODD_PART, max_size=2), JSON)},
    optional={k: JSON for k in ["text_entities", "edited", "edited_unixtime", "forwarded_from", "photo", "media_type",
                                "file", "poll", "location_information", "contact_information", "from", "views"]})
ODD_MESSAGE = st.dictionaries(st.sampled_from(["id", "type", "date", "date_unixtime", "text"]), JSON)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(MESSAGE, max_size=5), odd=st.lists(ODD_MESSAGE | JSON, max_size=1), at=st.integers(0, 5),
       ascii_only=st.booleans())
def test_any_export_of_any_values_reads_as_the_stream_reads_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, messages: list[Any], odd: list[Any], at: int,
        ascii_only: bool) -> None:
    f = tmp_path / "result.json"
    f.write_text(HEAD + json.dumps(messages[:at] + odd + messages[at:], ensure_ascii=ascii_only) + "}", encoding="utf-8")
    decoded, streamed = both_ways(f, monkeypatch)
    assert decoded == streamed


def test_the_merge_by_date_decodes_a_file_only_once_its_dates_come(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first posts of a replay came only after every export was decoded (0.3 s of the corpus, the
    worker idle meanwhile): each file gives its first messages from the stream, and is decoded when
    the merge asks it for more; what comes out is what streaming gives."""
    early = write_chat(tmp_path / "a" / "result.json", [msg(i, f"ранний {i}", str(1700000000 + i)) for i in range(1, 6)])
    late = write_chat(tmp_path / "b" / "result.json", [msg(i, f"поздний {i}", str(1800000000 + i)) for i in range(1, 6)],
                      chat_id=1700000010)
    decoded: list[Path] = []
    decode = decoded_module._decode
    monkeypatch.setattr(decoded_module, "_decode", lambda path, bom: decoded.append(path) or decode(path, bom))
    posts = read_by_date([tmp_path], [])
    first = [next(posts) for _ in range(decoded_module.HEAD)]
    assert decoded == []  # the first posts of the earlier file, and the head of the later one: streamed
    rest = list(posts)
    assert decoded == [early, late]  # each when the merge needed its next messages
    with monkeypatch.context() as m:
        m.setattr(decoded_module, "BUDGET", 0)
        streamed = list(read_by_date([tmp_path], []))
    assert [(p.channel_id, p.message_id, p.text) for p in first + rest] == [
        (p.channel_id, p.message_id, p.text) for p in streamed]


def test_a_file_rewritten_after_its_first_messages_were_streamed_is_not_decoded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding it would mix two versions of the file: it is streamed on, as a file always was
    (the stream tells that it changed)."""
    def read(budget: int) -> list[Post | Skip]:
        f = write_chat(tmp_path / "result.json", [msg(i, f"пост {i}", str(1700000000 + i)) for i in range(1, 6)])
        with monkeypatch.context() as m:
            m.setattr(decoded_module, "BUDGET", budget)
            items = read_export(f)
            head = [next(items) for _ in range(decoded_module.HEAD)]
            write_chat(f, [msg(i, f"правка {i}", str(1700000000 + i)) for i in range(1, 9)])
            return head + list(items)
    assert read(decoded_module.BUDGET) == read(0)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=40) | st.text(max_size=20).map(lambda s: s.encode("utf-8", "surrogatepass")),
       cut=st.integers(0, 40), size=st.integers(1, 9))
def test_a_file_is_utf_8_when_decoding_it_whole_says_so_whatever_the_slices(data: bytes, cut: int, size: int) -> None:
    """A file is checked as UTF-8 a slice at a time: a character cut between two slices is one
    character, a file ending inside one is not UTF-8, as decoding it whole finds."""
    chars = "ж😀".encode()  # characters of 2 and 4 bytes
    head, data = data[:cut] + chars[:-1], data[:cut] + chars + data[cut:]
    try:
        data.decode("utf-8")
        whole = True
    except UnicodeDecodeError:
        whole = False
    decoded_module._SLICE, before = size, decoded_module._SLICE
    try:
        assert decoded_module._utf8(data) == whole
        assert decoded_module._utf8(head) is False  # a file ending inside the emoji
    finally:
        decoded_module._SLICE = before


@pytest.mark.parametrize("bad", [False, True], ids=["utf-8", "a byte that is not"])
def test_a_byte_past_the_first_slice_that_is_not_utf_8_still_makes_the_file_streamed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: bool) -> None:
    """With slices of 3 bytes (every Cyrillic letter cut in two somewhere), a clean file is decoded
    and one bad byte near its end has it streamed: it reads as the stream reads it."""
    third = b'{"id": 3, "type": "message", "date_unixtime": "1700000003", "text": "x", "from": "' + (
        b"\xff" if bad else "ё".encode()) + b'"}'
    f = export_with(tmp_path, third)
    monkeypatch.setattr(decoded_module, "_SLICE", 3)
    assert (decoded_module._decode(f, 0) is None) == bad
    decoded, streamed = both_ways(f, monkeypatch)
    assert decoded == streamed
    assert any("not UTF-8 text" in s.reason for s in decoded if isinstance(s, Skip)) == bad
