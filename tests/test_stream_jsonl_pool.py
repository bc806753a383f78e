"""JSON Lines files are read through the same bounded pool of descriptors as exports: any number
of them merged at once keep at most POOL.size open."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.source import Skip, read_by_date
from bot.source import jsonl as jsonl_module
from bot.source import stream
from bot.source.jsonl import read_jsonl

from .test_streaming_exports import read_while_replaced


def line(channel: int, mid: int, when: int, text: str = "") -> str:
    return json.dumps({"channel_id": channel, "message_id": mid, "date": when, "text": text or f"пост {mid}"},
                      ensure_ascii=False) + "\n"


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc")
@pytest.mark.parametrize("in_order", [True, False], ids=["in-date-order", "put-in-date-order"])
def test_more_jsonl_files_than_the_pool_are_merged_with_a_bounded_number_open(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_order: bool) -> None:
    monkeypatch.setattr(stream.POOL, "size", 4)
    n, per = 40, 30
    for c in range(n):
        lines = [line(1000 + c, i, 1700000000 + 100 * i + c, "x" * 200) for i in range(1, per + 1)]
        if not in_order:
            lines.reverse()  # read line by line in date order: at offsets, through the pool too
        (tmp_path / f"channel-{c}.jsonl").write_text("".join(lines), encoding="utf-8")
    before = open_fds()
    skips: list[Skip] = []
    most, dates = 0, []
    for p in read_by_date([tmp_path], skips):
        dates.append(p.date)
        most = max(most, open_fds() - before)
    assert not skips and len(dates) == n * per and dates == sorted(dates)
    assert most <= 4 + 1  # the pool's bound, and a file being sniffed
    assert open_fds() - before <= 4


def test_a_jsonl_file_replaced_while_it_is_read_is_not_read_on_from_the_new_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream.POOL, "size", 1)
    files = []
    for c in range(2):
        f = tmp_path / f"c{c}.jsonl"
        f.write_text("".join(line(100 + c, i, 1700000000 + 10 * i + c, f"{c}/{i} " + "x" * 400) for i in range(1, 801)),
                     encoding="utf-8")
        files.append(f)
    skip = read_while_replaced(files, b'"channel_id": 101', b'"channel_id": 102')
    assert skip.path == str(files[0]) and skip.where.startswith("after line ") and "changed" in skip.reason


@given(data=st.lists(st.sampled_from([b"\n", b"\r\n", b"{", b"}", b"a" * 9, "ё".encode(), b"\n\n"]), max_size=60),
       chunk=st.integers(1, 20))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_pooled_lines_are_the_lines_a_file_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: list[bytes], chunk: int) -> None:
    monkeypatch.setattr(jsonl_module, "CHUNK", chunk)
    f = tmp_path / "any.jsonl"
    f.write_bytes(b"".join(data))
    try:
        got = list(jsonl_module._Pooled(str(f)).lines())
    finally:
        stream.POOL.close(str(f))
    with f.open("rb") as fh:
        assert got == list(enumerate(fh, 1))


def test_a_jsonl_file_out_of_date_order_reads_as_before(tmp_path: Path) -> None:
    f = tmp_path / "mixed.jsonl"
    f.write_text(line(1, 2, 1700000200) + "\n" + "not json\n" + line(1, 1, 1700000100) + line(2, 1, 1700000150),
                 encoding="utf-8")
    items = list(read_jsonl(f))
    assert [str(i) if isinstance(i, Skip) else (i.channel_id, i.message_id) for i in items] == [
        f"{f}: line 3: not valid JSON (column 1: Expecting value)", (1, 1), (2, 1), (1, 2)]
    assert items[1].date == datetime(2023, 11, 14, 22, 15, tzinfo=timezone.utc)  # type: ignore[union-attr]
