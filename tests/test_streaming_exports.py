"""Telegram Desktop exports are streamed (bot.source.stream): a file cut short keeps what precedes
the cut, a full-account export is merged in date order without holding its chats, thousands of
files are merged with a bounded number open, and memory does not grow with the file."""

from __future__ import annotations

import json
import os
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.post import Post
from bot.source import Skip, read_by_date
from bot.source import export as export_module
from bot.source import stream
from bot.source.export import read_export

from .test_sources import msg, posts_of, skips_of, write_chat

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "export"


def chat(chat_id: int, name: str, messages: list[Any], kind: str = "public_channel") -> dict[str, Any]:
    return {"name": name, "type": kind, "id": chat_id, "messages": messages}


def write_full(path: Path, chats: list[dict[str, Any]], left: list[dict[str, Any]] | None = None) -> Path:
    data: dict[str, Any] = {"about": "full export", "chats": {"about": "", "list": chats}}
    if left is not None:
        data["left_chats"] = {"about": "", "list": left}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def keys(items: list[Post | Skip]) -> list[tuple[int, int]]:
    return [p.key for p in posts_of(items)]


# -- a file cut short -----------------------------------------------------------------------------


@pytest.mark.parametrize("small", [True, False], ids=["read-whole-to-describe", "described-from-the-stream"])
def test_a_truncated_single_chat_export_keeps_the_messages_before_the_cut(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small: bool) -> None:
    if not small:  # as a file too large to read whole: the reason comes from the stream itself
        monkeypatch.setattr(export_module, "SMALL", 0)
    full = write_chat(tmp_path / "full.json", [msg(i, f"пост {i}", str(1700000000 + i)) for i in range(1, 101)])
    data = full.read_bytes()
    cut = data.index(b'"id": 61,')  # inside message #60 (id 61)
    f = tmp_path / "result.json"
    f.write_bytes(data[:cut])
    items = list(read_export(f))
    assert keys(items) == [(1700000009, i) for i in range(1, 61)]
    [skip] = skips_of(items)
    assert items[-1] is skip and skip.path == str(f)
    assert skip.where == "after message #59 (id 60)"
    assert "truncated export?" in skip.reason
    assert ("line" in skip.reason) if small else ("cut short" in skip.reason)


def test_a_truncated_full_account_export_keeps_the_chats_and_messages_before_the_cut(tmp_path: Path) -> None:
    chats = [chat(10 + c, f"Канал {c}", [msg(i, f"{c}/{i}", str(1700000000 + 10 * i + c)) for i in range(1, 21)])
             for c in range(4)]
    data = write_full(tmp_path / "full.json", chats).read_bytes()
    cut = data.index("2/11".encode())  # inside chat #2's 11th message
    f = tmp_path / "result.json"
    f.write_bytes(data[:cut])
    items = list(read_export(f))
    assert sorted(keys(items)) == sorted([(10, i) for i in range(1, 21)] + [(11, i) for i in range(1, 21)]
                                         + [(12, i) for i in range(1, 11)])
    [skip] = skips_of(items)
    assert skip.where == "chat #2 (Канал 2): after message #9 (id 10)" and "truncated export?" in skip.reason

    skips: list[Skip] = []
    merged = [p.date for p in read_by_date([f], skips)]
    assert merged == sorted(merged) and len(merged) == 50 and [str(s) for s in skips] == [str(skip)]


def test_a_cut_inside_the_header_is_one_skip_as_before(tmp_path: Path) -> None:
    f = tmp_path / "result.json"
    f.write_text('{"name": "Тест", "type": "public_chan', encoding="utf-8")
    [skip] = read_export(f)
    assert isinstance(skip, Skip) and skip.where == "" and skip.reason.startswith("not valid JSON (line 1, column")


def test_corruption_in_the_middle_keeps_what_precedes_it(tmp_path: Path) -> None:
    f = write_chat(tmp_path / "result.json", [msg(i, f"пост {i}") for i in range(1, 11)])
    f.write_bytes(f.read_bytes().replace(b'"id": 6,', b'"id": 6 ,,', 1))
    items = list(read_export(f))
    assert keys(items) == [(1700000009, i) for i in range(1, 6)]
    [skip] = skips_of(items)
    assert skip.where == "after message #4 (id 5)" and skip.reason.startswith("not valid JSON")


# -- order and key order --------------------------------------------------------------------------


def test_a_full_account_export_with_chats_interleaved_in_time_is_replayed_in_date_order(tmp_path: Path) -> None:
    # three channels posting in turn over the same hours, and one left since
    chats = [chat(100 + c, f"К{c}", [msg(i, f"{c}-{i}", str(1700000000 + 60 * (3 * i + c))) for i in range(1, 31)])
             for c in range(3)]
    left = [chat(200, "Ушёл", [msg(i, f"l-{i}", str(1700000000 + 90 * i + 7)) for i in range(1, 21)])]
    f = write_full(tmp_path / "result.json", chats, left)
    skips: list[Skip] = []
    posts = list(read_by_date([f], skips))
    assert not skips and len(posts) == 110
    assert [p.date for p in posts] == sorted(p.date for p in posts)
    by_chat = {c: [p.message_id for p in posts if p.channel_id == c] for c in (100, 101, 102, 200)}
    assert all(ids == sorted(ids) for ids in by_chat.values())  # each chat's own order kept


def test_a_full_account_export_merges_as_its_chats_exported_one_by_one(tmp_path: Path) -> None:
    files = sorted(SAMPLE.rglob("result.json"))
    full = write_full(tmp_path / "result.json", [json.loads(f.read_text(encoding="utf-8")) for f in files])
    one_skips: list[Skip] = []
    apart_skips: list[Skip] = []
    one = [(p.key, p.date) for p in read_by_date([full], one_skips)]
    apart = [(p.key, p.date) for p in read_by_date(files, apart_skips)]
    assert one == apart and len(one) > 50  # ties broken alike: chats in file order
    assert [s.reason for s in one_skips] == [s.reason for s in apart_skips]


def test_a_single_chat_with_its_header_after_the_messages_is_read_as_the_header_says(tmp_path: Path) -> None:
    messages = [msg(i, f"пост {i}") for i in range(1, 6)]
    desktop = write_chat(tmp_path / "a" / "result.json", messages, username="news")
    odd = tmp_path / "b" / "result.json"
    odd.parent.mkdir()
    odd.write_text(json.dumps({"messages": messages, "name": "Тест", "type": "public_channel", "id": 1700000009,
                               "username": "news"}, ensure_ascii=False), encoding="utf-8")
    assert list(read_export(odd)) == list(read_export(desktop))
    assert all(p.channel_username == "news" for p in posts_of(list(read_export(odd))))
    personal = tmp_path / "c" / "result.json"  # a private chat's type after its messages: still not read
    personal.parent.mkdir()
    personal.write_text(json.dumps({"messages": messages, "id": 5, "type": "personal_chat"}), encoding="utf-8")
    [skip] = read_export(personal)
    assert isinstance(skip, Skip) and skip.reason.endswith("not a channel, not read")


# -- bounded resources ----------------------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files in /proc")
def test_more_files_than_the_open_file_bound_are_all_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream.POOL, "size", 8)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))  # where the spill goes
    n = 60
    for c in range(n):
        write_chat(tmp_path / f"ChatExport_{c}" / "result.json",
                   [msg(i, "x" * 3000, str(1700000000 + 100 * i + c)) for i in range(1, 41)], chat_id=1000 + c)
    (tmp_path / "full").mkdir()
    full = write_full(tmp_path / "full" / "result.json",
                      [chat(5000 + c, f"К{c}", [msg(i, "y" * 3000, str(1700000000 + 100 * i + c)) for i in range(1, 21)])
                       for c in range(n)])
    before = open_fds()
    skips: list[Skip] = []
    most = 0
    count = 0
    dates = []
    for p in read_by_date([tmp_path, full], skips):
        count += 1
        dates.append(p.date)
        if count % 97 == 0:
            most = max(most, open_fds() - before)
    assert not skips and count == n * 40 + n * 20 and dates == sorted(dates)
    assert most <= 8 + 2  # the pool's bound (the spill file is read through it too), and a file being sniffed
    assert open_fds() - before <= 8
    assert not list((tmp_path / "tmp").iterdir())  # the spill is deleted once read


def peak_while_reading(path: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        n = sum(1 for _ in read_by_date([path], []))
        return n, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("full", [False, True], ids=["single-chat", "full-account"])
def test_a_large_export_is_read_without_holding_it(tmp_path: Path, full: bool) -> None:
    messages = [msg(i, [f"Пост номер {i}: " + "текст " * 120, {"type": "bold", "text": "важно"}], str(1700000000 + i))
                for i in range(1, 3001)]
    if full:
        f = write_full(tmp_path / "result.json", [chat(10 + c, f"К{c}", messages[c::3]) for c in range(3)])
    else:  # indented, as Telegram Desktop writes it (a first line of one brace)
        f = tmp_path / "result.json"
        f.write_text(json.dumps(chat(10, "К", messages), ensure_ascii=False, indent=1), encoding="utf-8")
    size = f.stat().st_size
    assert size > 4 << 20
    n, peak = peak_while_reading(f)
    assert n == 3000
    assert peak < size / 8, f"peak {peak:,} bytes for a {size:,}-byte file"


# -- any cut --------------------------------------------------------------------------------------


def _export_bytes(full_account: bool) -> tuple[bytes, list[tuple[int, int]]]:
    messages = [msg(i, f"пост {i} «ё» 😀", str(1700000000 + i)) for i in range(1, 9)]
    messages.insert(3, {"id": 100, "type": "service", "date_unixtime": "1700000003", "text": ""})
    if full_account:
        data: dict[str, Any] = {"about": "", "chats": {"list": [chat(11, "А", messages[:5]), "oops",
                                                                 chat(22, "Б", messages[5:])]}}
        expected = [(11, m["id"]) for m in messages[:5] if m["type"] == "message"] + [
            (22, m["id"]) for m in messages[5:] if m["type"] == "message"]
    else:
        data = {"name": "Тест", "type": "public_channel", "id": 33, "messages": messages}
        expected = [(33, m["id"]) for m in messages if m["type"] == "message"]
    return json.dumps(data, ensure_ascii=False, indent=1).encode(), expected


_CASES = {full: _export_bytes(full) for full in (False, True)}


@given(full=st.booleans(), where=st.floats(min_value=0, max_value=1), small=st.booleans())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_prefix_of_an_export_gives_a_prefix_of_its_posts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full: bool, where: float, small: bool) -> None:
    monkeypatch.setattr(export_module, "SMALL", stream.SMALL if small else 0)
    data, expected = _CASES[full]
    cut = int(len(data) * where)
    f = tmp_path / "result.json"
    f.write_bytes(data[:cut])
    items = list(read_export(f))  # never raises
    got = keys(items)
    assert got == expected[:len(got)]
    if cut == len(data):
        assert got == expected
    else:  # one line says where the file broke
        broken = [s for s in skips_of(items) if not s.reason.endswith(("service message", "not an object"))]
        assert len(broken) == 1 and broken[0].path == str(f)


# -- what the streaming checks must not refuse (a file too large to be read whole again) ----------


@pytest.mark.parametrize("full", [False, True], ids=["single-chat", "full-account"])
def test_brackets_inside_texts_are_not_counted_as_nesting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full: bool) -> None:
    monkeypatch.setattr(export_module, "SMALL", 0)  # as a large export: no whole read to fall back on
    messages = [msg(i, f"[{i} цена {{ :-[", str(1700000000 + i)) for i in range(1, 2001)]
    f = tmp_path / "result.json"
    if full:
        write_full(f, [chat(10, "К", messages)])
    else:
        write_chat(f, messages)
    items = list(read_export(f))
    assert not skips_of(items) and len(posts_of(items)) == 2000


def test_an_escaped_emoji_across_a_read_boundary_is_no_lone_surrogate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "SMALL", 0)
    f = tmp_path / "result.json"  # json.dumps' default: every emoji as a \\ud83d\\ude00 pair
    f.write_text(json.dumps(chat(10, "К", [msg(i, "😀" * (1 + i % 37) + f" {i}", str(1700000000 + i))
                                          for i in range(1, 4001)])), encoding="ascii")
    assert f.stat().st_size > 4 * stream.CHUNK
    items = list(read_export(f))
    assert not skips_of(items) and len(posts_of(items)) == 4000
    assert posts_of(items)[-1].text == "😀" * (1 + 4000 % 37) + " 4000"


def test_an_escaped_backslash_before_u_d800_is_text_not_a_surrogate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "SMALL", 0)
    f = write_chat(tmp_path / "result.json", [msg(1, "до"), msg(2, r"экранирование \ud800 в JSON"), msg(3, "после")])
    items = list(read_export(f))
    assert not skips_of(items) and [p.text for p in posts_of(items)] == ["до", r"экранирование \ud800 в JSON", "после"]


def test_a_lone_surrogate_skips_its_message_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "SMALL", 0)
    f = tmp_path / "result.json"
    text = json.dumps(chat(10, "К", [msg(i, f"пост {i}", str(1700000000 + i)) for i in range(1, 6)]), ensure_ascii=False)
    f.write_text(text.replace("пост 4", "пост 4 \\ud83d"), encoding="utf-8")
    items = list(read_export(f))
    assert keys(items) == [(10, 1), (10, 2), (10, 3), (10, 5)]
    [skip] = skips_of(items)
    assert skip.where == "message #3 (id 4)" and "lone surrogate" in skip.reason


@pytest.mark.skipif(not os.path.isdir("/dev/fd"), reason="names a pipe as /dev/fd/N")
def test_an_export_piped_in_is_read_as_before(tmp_path: Path) -> None:
    """`tgwatch replay <(unzip -p export.zip result.json)`: a pipe cannot be read twice nor at an
    offset, so it is read whole, as before streaming."""
    import threading
    data = write_chat(tmp_path / "result.json", [msg(i, f"пост {i}", str(1700000000 + i)) for i in range(1, 4)]).read_bytes()
    r, w = os.pipe()

    def feed() -> None:
        with os.fdopen(w, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        items = list(read_export(f"/dev/fd/{r}"))
    finally:
        writer.join()
        os.close(r)
    assert not skips_of(items) and keys(items) == [(1700000009, 1), (1700000009, 2), (1700000009, 3)]


def test_an_export_replaced_while_it_is_read_is_not_read_on_from_the_new_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file closed by the pool is reopened by name: when a new export (another chat's, or the
    same chat's again) has replaced it meanwhile, its bytes at the old offset are not the old
    chat's messages."""
    monkeypatch.setattr(stream.POOL, "size", 1)
    monkeypatch.setattr(export_module, "SMALL", 0)
    files = [write_chat(tmp_path / f"e{c}" / "result.json",
                        [msg(i, f"{c}/{i} " + "x" * 400, str(1700000000 + 10 * i + c)) for i in range(1, 801)],
                        chat_id=100 + c) for c in range(2)]
    skip = read_while_replaced(files, b'"id": 101', b'"id": 102')
    assert skip.path == str(files[0]) and skip.where.startswith("after message #") and "changed" in skip.reason


def read_while_replaced(files: list[Path], old: bytes, new: bytes) -> Skip:
    """Merge the two files (each post's text starts «<chat>/<id> »); halfway, replace the first with
    a copy of the second whose chat id is changed from `old` to `new`. Asserts that no post came
    from the new file; returns the one skip that says the file changed."""
    skips: list[Skip] = []
    posts = []
    for p in read_by_date(files, skips):
        posts.append(p)
        if len(posts) == 400:
            copy = files[0].with_name("new" + files[0].suffix)
            copy.write_bytes(files[1].read_bytes().replace(old, new))
            os.replace(copy, files[0])
    assert all(p.text.startswith(f"{p.channel_id - 100}/{p.message_id} ") for p in posts)
    [skip] = skips
    return skip


@pytest.mark.skipif(not hasattr(__import__("resource"), "RLIMIT_FSIZE"), reason="limits file size with setrlimit")
def test_a_full_temporary_disk_says_after_which_message_it_stopped(tmp_path: Path) -> None:
    """The spill's disk filling up: the line names the last message read back, and every message
    before it is read (none counted as written while still in a buffer that never reached the disk)."""
    import subprocess
    import sys
    f = write_full(tmp_path / "result.json", [chat(10 + c, f"К{c}", [msg(i, f"{c}/{i} " + "x" * 200, str(1700000000 + 10 * i + c))
                                                                    for i in range(1, 2001)]) for c in range(2)])
    (tmp_path / "tmp").mkdir()
    code = ("import resource, signal, sys, tempfile\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            f"tempfile.tempdir = {str(tmp_path / 'tmp')!r}\n"
            "from bot.source import Skip, read_by_date\n"
            "hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, hard))\n"
            f"skips = []; posts = list(read_by_date([{str(f)!r}], skips))\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))\n"
            "print(len([p for p in posts if p.channel_id == 11]), max(p.message_id for p in posts if p.channel_id == 11))\n"
            "print(*skips, sep='\\n')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    counts, skip = r.stdout.splitlines()
    n, last = map(int, counts.split())
    assert 0 < n == last < 2000
    assert f"chat #1 (К1): after message #{n - 1} (id {n}): cannot write a temporary file" in skip


@pytest.mark.parametrize("full", [False, True], ids=["single-chat", "full-account"])
@pytest.mark.parametrize("small", [True, False], ids=["small", "large"])
def test_nesting_too_deep_within_one_read_is_refused_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full: bool, small: bool) -> None:
    """30,000 brackets opened and closed inside one 64 KiB read: the depth was only checked at the
    end of each read, so yajl built it (2 GB), and a full-account export's spill then raised
    RecursionError (a traceback) writing it."""
    if not small:
        monkeypatch.setattr(export_module, "SMALL", 0)
    deep = "[" * 30000 + "]" * 30000
    body = f'{{"name": "А", "type": "public_channel", "id": 1, "messages": [{deep}]}}'
    f = tmp_path / "result.json"
    f.write_text(f'{{"chats": {{"list": [{body}]}}}}' if full else body, encoding="utf-8")
    tracemalloc.start()
    try:
        items = list(read_export(f))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [skip] = skips_of(items)
    assert skip.where == "" and skip.reason.startswith("not a Telegram export (JSON nested too deeply")
    assert peak < 50 << 20


def test_one_huge_message_is_read_in_ever_larger_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """yajl lexes a string cut between reads again from its start on each read: one text of many
    64 KiB reads took time quadratic in its length (40 MB: nine minutes; json.load: seconds). The
    reads double while the string goes on: a 12 MB text is some 8 reads (64 KiB, 128 KiB, ...), not
    the 180 reads of 64 KiB each that lexed it 90 times over (counted, not timed: bench/ times)."""
    monkeypatch.setattr(export_module, "SMALL", 0)
    n = 6_000_000
    huge = write_chat(tmp_path / "huge" / "result.json", [msg(1, "ж" * n), msg(2, "после", "1700000001")])
    reads = []
    real = stream.Source.read

    def counted(self: stream.Source, size: int = stream.CHUNK) -> bytes:
        data = real(self, size)
        reads.append(len(data))
        return data

    monkeypatch.setattr(stream.Source, "read", counted)
    items = list(read_export(huge))
    assert not skips_of(items) and [len(p.text) for p in posts_of(items)] == [n, 5]
    assert sum(reads) >= 2 * n  # the whole file went through these reads
    assert len(reads) < 2 * n // stream.CHUNK // 8, len(reads)  # not one read of 64 KiB per 64 KiB


def _depth(data: bytes) -> int:
    """Brackets opened less closed outside JSON strings, byte by byte: the reference."""
    depth, inside, escaped = 0, False, False
    for c in data:
        if inside:
            escaped, inside = (False, True) if escaped else (c == 0x5C, c != 0x22)
        elif c == 0x22:
            inside = True
        elif c in b"[{":
            depth += 1
        elif c in b"]}":
            depth -= 1
    return depth


_outside = st.binary(max_size=6).map(lambda b: bytes(x for x in b if x not in b'"\\')) | st.sampled_from([b"[", b"]", b"{", b"}", b" "])
_inner = st.lists(st.sampled_from([b"a", b"[", b"]", b"{", b"}", b"\\\\", b'\\"', b"\\u00e9", b" ", "ё".encode()]), max_size=6)
_json_ish = st.lists(_outside | _inner.map(lambda parts: b'"' + b"".join(parts) + b'"'), max_size=12).map(b"".join)


@given(_json_ish, st.lists(st.integers(min_value=0, max_value=200), max_size=5))
def test_brackets_are_counted_outside_strings_however_the_reads_cut_them(data: bytes, cuts: list[int]) -> None:
    """A text's "[" or ":-{" is no nesting, wherever a read boundary falls (inside a string, between
    a backslash and what it escapes)."""
    source = stream.Source(Path("unused"))
    bounds = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    for a, b in zip(bounds, bounds[1:]):
        source._nest(data[a:b])
    assert source.depth == _depth(data)
