"""A stream's first read is handed to yajl PIECE bytes at a time (bot.source.stream.Sliced): a header,
or a small file's first messages, then no longer make Python objects of a whole 64 KiB read. Any
file, damaged ones included, must read as when the first read was handed on whole: the same posts,
notes and skip lines, streamed through or decoded after its first messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.post import Post
from bot.source import Skip
from bot.source import decoded as decoded_module
from bot.source import stream
from bot.source.export import read_export

TEXT = st.text(st.sampled_from("аб ю\n\"\\😀x{[]}"), max_size=30)
MESSAGE = st.fixed_dictionaries({
    "id": st.integers(1, 10**6), "type": st.just("message"), "date_unixtime": st.integers(1_600_000_000, 1_700_000_000).map(str),
    "text": TEXT | st.lists(TEXT | st.fixed_dictionaries({"type": st.just("bold"), "text": TEXT}), max_size=3)})
# what a damaged file holds somewhere: a byte that is not UTF-8, a stray character, nesting past
# MAX_NEST, a lone surrogate escape, or nothing (the file cut there)
DAMAGE = st.sampled_from([b"\xff", b"x", b"[" * 1600, b'"\\ud83d"', b""])


def read(path: Path, monkeypatch: pytest.MonkeyPatch, piece: int, budget: int) -> list[Post | Skip]:
    with monkeypatch.context() as m:
        m.setattr(stream, "PIECE", piece)
        m.setattr(decoded_module, "BUDGET", budget)
        return list(read_export(path))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(MESSAGE, max_size=40), damage=DAMAGE, at=st.floats(0, 1), cut=st.booleans(),
       piece=st.integers(1, 200), budget=st.sampled_from([0, decoded_module.BUDGET]))
def test_a_file_reads_the_same_whatever_the_pieces_of_its_first_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, messages: list[Any], damage: bytes, at: float, cut: bool,
        piece: int, budget: int) -> None:
    data = json.dumps({"name": "Тест", "type": "public_channel", "id": 1700000009, "messages": messages},
                      ensure_ascii=False).encode()
    where = int(len(data) * at)
    f = tmp_path / "result.json"
    f.write_bytes(data[:where] if cut else data[:where] + damage + data[where:])
    assert read(f, monkeypatch, piece, budget) == read(f, monkeypatch, stream.CHUNK, budget)
