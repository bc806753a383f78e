"""A large export (over stream.SMALL, so never read whole again) with a value the streaming parser
refuses but json reads (an integer beyond 64 bits, NaN, a lone surrogate escape) loses that
message at most: the stream goes on after it, as the whole read of a small file does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.source import Skip, read_by_date
from bot.source import export as export_module
from bot.source import stream
from bot.source.export import read_export

from .test_sources import msg, posts_of, skips_of

PLACE = "\x00BAD\x00"  # replaced by the raw bad value once the file is written


def bad_msg(mid: int, field: str, raw: str) -> dict[str, Any]:
    m = msg(mid, f"пост {mid} " + "слово " * 30, str(1700000000 + mid))
    m[field] = PLACE
    return m


def write_export(path: Path, messages: list[dict[str, Any]], raws: list[str], full: bool, indent: int | None = 1) -> Path:
    """Messages in a single chat's export (or spread over a full-account export's chats and left
    chats), each PLACE replaced by the next of `raws`."""
    if full:
        third = len(messages) // 3
        data: dict[str, Any] = {
            "about": "", "chats": {"about": "", "list": [
                {"name": "А", "type": "public_channel", "id": 11, "messages": messages[:third]},
                {"name": "Б", "type": "public_supergroup", "id": 22, "messages": messages[third:2 * third]}]},
            "left_chats": {"about": "", "list": [
                {"name": "В", "type": "public_channel", "id": 33, "messages": messages[2 * third:]}]}}
    else:
        data = {"name": "Тест", "type": "public_channel", "id": 44, "messages": messages}
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    parts = text.split(json.dumps(PLACE))
    assert len(parts) == len(raws) + 1
    path.write_text("".join(p + r for p, r in zip(parts, raws)) + parts[-1], encoding="utf-8")
    return path


def read(f: Path, monkeypatch: pytest.MonkeyPatch, large: bool) -> list[Any]:
    """The file's posts and skips, read as a large file (streamed to its end) or a small one (read
    whole again with json once the stream breaks)."""
    with monkeypatch.context() as m:
        m.setattr(export_module, "SMALL", 0 if large else 1 << 40)
        return list(read_export(f))


BAD = {  # field, raw JSON text, the skip's reason (None: the message is kept, the field is unused)
    "integer beyond 64 bits": ("id", str(2**64), "out of range"),
    "lone surrogate": ("text", '"пост \\ud800 половина"', "lone surrogate"),
    "NaN in an unused field": ("duration_seconds", "NaN", None),
    "-Infinity in an unused field": ("width", "-Infinity", None),
    "float overflow in the date": ("date_unixtime", "1e999", "not a Unix time in range"),
}


@pytest.mark.parametrize("full", [False, True], ids=["single-chat", "full-account"])
@pytest.mark.parametrize("kind", list(BAD))
def test_a_large_export_skips_only_the_message_with_a_refused_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, full: bool) -> None:
    field, raw, reason = BAD[kind]
    n, bad = 3000, [0, 1337, 1338, 2999]  # first, two in a row (in the middle of the file), last
    messages = [bad_msg(i, field, raw) if i - 1 in bad else msg(i, f"пост {i} " + "слово " * 30, str(1700000000 + i))
                for i in range(1, n + 1)]
    f = write_export(tmp_path / "result.json", messages, [raw] * len(bad), full)
    assert f.stat().st_size > 20 * stream.CHUNK  # the refused values are in many different reads
    items = read(f, monkeypatch, large=True)
    assert items == read(f, monkeypatch, large=False)  # as the whole read of a small file gives them
    kept = {p.message_id for p in posts_of(items)}
    skips = skips_of(items)
    if reason is None:
        assert not skips and kept == set(range(1, n + 1))
        return
    assert kept == set(range(1, n + 1)) - {i + 1 for i in bad}
    assert len(skips) == len(bad) and all(s.path == str(f) and reason in s.reason for s in skips)
    wheres = [s.where.rsplit("message #", 1)[1] for s in skips]  # "chat #1 (Б): message #337 (id 1338)"
    ids = [str(2**64) if field == "id" else str(i + 1) for i in bad]
    assert [w.split(" (id ")[1].rstrip(")") for w in wheres] == ids


def test_a_number_too_long_for_python_skips_its_message_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An integer of 5,000 digits: json cannot read it either (a small file is refused whole), yet in
    a large one only its message is lost, with one line that names its field."""
    raw = "7" * 5000
    messages = [bad_msg(i, "id", raw) if i == 700 else msg(i, f"пост {i} " + "слово " * 30, str(1700000000 + i))
                for i in range(1, 1001)]
    f = write_export(tmp_path / "result.json", messages, [raw], full=False)
    items = read(f, monkeypatch, large=True)
    assert [p.message_id for p in posts_of(items)] == [i for i in range(1, 1001) if i != 700]
    [skip] = skips_of(items)
    assert skip.where.startswith("message #699 (id \"7777") and "id" in skip.reason


@pytest.mark.parametrize("full", [False, True], ids=["single-chat", "full-account"])
def test_a_break_that_is_no_refused_value_still_stops_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full: bool) -> None:
    """A damaged message (not JSON to json either) is no value to skip past: the file stops there,
    as before, with the one line saying after which message."""
    messages = [bad_msg(i, "width", "1") if i == 500 else msg(i, f"пост {i} " + "слово " * 30, str(1700000000 + i))
                for i in range(1, 1001)]
    f = write_export(tmp_path / "result.json", messages, ["1 2"], full)
    items = read(f, monkeypatch, large=True)
    assert [p.message_id for p in posts_of(items)] == list(range(1, 500))
    [skip] = skips_of(items)
    assert skip.where.endswith("after message #" + ("498 (id 499)" if not full else "165 (id 499)"))


def test_a_large_export_merged_by_date_loses_only_the_bad_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "SMALL", 0)
    raw = str(2**70)
    messages = [bad_msg(i, "id", raw) if i == 1500 else msg(i, f"пост {i}", str(1700000000 + i)) for i in range(1, 3001)]
    (tmp_path / "e").mkdir()
    f = write_export(tmp_path / "e" / "result.json", messages, [raw], full=True, indent=None)
    skips: list[Skip] = []
    got = [p.message_id for p in read_by_date([tmp_path], skips)]
    assert got == [i for i in range(1, 3001) if i != 1500]
    [skip] = skips
    assert skip.path == str(f) and skip.where == f"chat #1 (Б): message #499 (id {raw})"


# -- the property: a large file, streamed, gives what the whole read of a small one gives ---------

_RAWS = [r for _, r, _ in BAD.values()] + ["1.5e400", "-18446744073709551617", '"\\udc00"', "Infinity"]
_FIELDS = ["id", "text", "width", "date_unixtime", "forwarded_from", "reply_to_message_id"]


@given(full=st.booleans(), chunk=st.sampled_from([7, 64, 300, 4096]), indent=st.sampled_from([None, 1]),
       plan=st.lists(st.tuples(st.integers(0, 400), st.none() | st.tuples(st.sampled_from(_FIELDS), st.sampled_from(_RAWS))),
                     min_size=1, max_size=30))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_refused_values_anywhere_lose_only_their_messages(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full: bool, chunk: int, indent: int | None,
        plan: list[tuple[int, tuple[str, str] | None]]) -> None:
    messages, raws = [], []
    for i, (length, bad) in enumerate(plan, 1):
        m = msg(i, "ё[{\"\\" * (length // 5) + f" {i}", str(1700000000 + i))  # brackets, quotes, escapes in texts
        if bad is not None:
            m[bad[0]] = PLACE
            raws.append(bad[1])
        messages.append(m)
    f = write_export(tmp_path / "result.json", messages, raws, full, indent)
    monkeypatch.setattr(export_module, "CHUNK", chunk)  # reads cut the file everywhere
    monkeypatch.setattr(stream, "CHUNK", chunk)
    assert read(f, monkeypatch, large=True) == read(f, monkeypatch, large=False)
