"""`tgwatch export` as an analyst uses it (helper-156's review): what lands in the file, read back
by the tools analysts open it with (openpyxl as pandas does, gzip, json), over the sample store
the real pipeline built."""

from __future__ import annotations

import gzip
import json
import os
import stat
import tracemalloc
from pathlib import Path
from typing import Any, Iterator

import openpyxl
import pytest
from click.testing import CliRunner, Result

import bot.store.export as export_module
from bot.cli import cli
from bot.store.export import write_xlsx
from bot.store.read import EXPORT_FIELDS

from .sample_store import Sample


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def posts(n: int) -> Iterator[dict[str, Any]]:
    """`n` export rows shaped as `iter_export_rows` yields them: a post link and a story link each."""
    for i in range(n):
        yield {
            "channel_id": 1700000001, "channel_title": "Сводка 24", "username": None, "message_id": 10_000 + i,
            "link": f"https://t.me/c/1700000001/{10_000 + i}", "date": f"2024-05-{1 + i % 28:02d}T10:00:00+00:00",
            "edited": None, "text": f"Пост {i}: в воинской части задержан дезертир, сообщает источник.",
            "rules": ["desertion"], "terms": ["дезертир"], "matched": ["desertion: дезертир"], "story_id": 1 + i // 3,
            "story_size": 3, "story_first": f"https://t.me/c/1700000001/{10_000 + i - i % 3}", "forward_origin": None,
            "deleted_at": None,
        }


def xlsx_peak(n: int, out: Path) -> int:
    """Bytes of Python memory at the peak of writing `n` rows to a workbook."""
    tracemalloc.start()
    try:
        assert write_xlsx(posts(n), out) == n
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_xlsx_export_holds_no_more_memory_for_ten_times_the_posts(tmp_path: Path) -> None:
    """README: «exports streamed, so memory does not grow with them»; `write_xlsx`: «written in
    constant memory». Every row's two links (post, story_first) are kept by xlsxwriter as
    hyperlinks until the workbook closes, about 1.3 KB a row: the 22,099-post corpus as xlsx
    peaks at 30 MB of Python memory (1.4 MB without the links), in the live service too (/export
    xlsx). 400 rows and 4,000 rows must cost about the same."""
    xlsx_peak(50, tmp_path / "warm.xlsx")  # xlsxwriter's imports and first allocations
    small = xlsx_peak(400, tmp_path / "small.xlsx")
    big = xlsx_peak(4000, tmp_path / "big.xlsx")
    assert big - small < 1_000_000, f"peak {small:,} B for 400 rows, {big:,} B for 4,000"
    # and the links are still there to click, reading as the URL where pandas reads them (data_only)
    column = EXPORT_FIELDS.index("link") + 1
    ws = openpyxl.load_workbook(tmp_path / "big.xlsx", data_only=True).active
    assert ws.cell(2, column).value == "https://t.me/c/1700000001/10000"
    cell = openpyxl.load_workbook(tmp_path / "big.xlsx").active.cell(2, column)
    assert cell.value == '=HYPERLINK("https://t.me/c/1700000001/10000")' or \
        cell.hyperlink.target == "https://t.me/c/1700000001/10000"


def test_every_sheet_of_a_workbook_split_at_excels_row_limit_can_be_filtered(
        sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workbook past Excel's 1,048,576 rows goes on in a sheet «posts 2»; only the last sheet
    got its autofilter, so the first million posts (sheet «posts») had no filter buttons where
    every other export has them. The limit is made small here to split the sample's posts."""
    monkeypatch.setattr(export_module, "_XLSX_MAX_ROWS", 6)
    out = tmp_path / "all.xlsx"
    r = run("export", "--db", sample.db, "--all-posts", "-o", out)
    assert r.exit_code == 0, r.output
    sheets = openpyxl.load_workbook(out).worksheets
    assert len(sheets) > 2
    assert sum(ws.max_row - 1 for ws in sheets) == int(r.stderr.split()[0])  # every post once
    unfiltered = [ws.title for ws in sheets if not ws.auto_filter.ref]
    assert not unfiltered, f"no autofilter on {unfiltered} of {[ws.title for ws in sheets]}"


@pytest.mark.parametrize("name", ["posts.jsonl.gz", "posts.csv.gz"])
def test_an_output_name_saying_compressed_gets_a_compressed_file_or_a_clean_error(
        sample: Sample, tmp_path: Path, name: str) -> None:
    """`-o posts.jsonl.gz` wrote a plain CSV (the last suffix, gz, is no format export knows, so
    csv) under a name saying gzip-compressed JSON Lines: `pandas.read_json(..., lines=True)` and
    `zcat` fail on it ("Not a gzipped file"), and a script expecting JSON gets CSV. `.json` or
    `.xls` are refused with one line; a compressed name must be written compressed, in the
    format it names, or refused so."""
    out = tmp_path / name
    r = run("export", "--db", sample.db, "-o", out)
    if r.exit_code == 2:  # refused: one line naming the file, nothing written
        assert r.stderr.startswith(f"error: -o {out}") and r.stderr.count("\n") == 1, r.stderr
        assert not out.exists()
        return
    assert r.exit_code == 0, r.output
    try:
        text = gzip.decompress(out.read_bytes()).decode("utf-8")
    except gzip.BadGzipFile:
        pytest.fail(f"-o {name} wrote an uncompressed file starting {out.read_bytes()[:40]!r}")
    if name.startswith("posts.jsonl"):
        rows = [json.loads(line) for line in text.splitlines()]
        assert rows and set(rows[0]) == set(EXPORT_FIELDS)
    else:
        assert text.startswith("channel_id,")


@pytest.mark.parametrize("name", ["private.csv", "private.xlsx"])
def test_exporting_over_a_private_file_keeps_it_private(sample: Sample, tmp_path: Path, name: str) -> None:
    """An analyst who keeps an export readable by no one else (chmod 600: it names sources and
    what they watch) and runs the export again found it world-readable (644): the new file is
    written beside it and renamed over it with the umask's mode. A shell's `> private.csv`, and
    any editor saving it, keeps the file's mode."""
    out = tmp_path / name
    out.write_bytes(b"old export")
    out.chmod(0o600)
    old_umask = os.umask(0o022)  # the usual one: files made new are 644
    try:
        r = run("export", "--db", sample.db, "-o", out)
    finally:
        os.umask(old_umask)
    assert r.exit_code == 0, r.output
    assert out.read_bytes() != b"old export"  # written anew
    assert stat.S_IMODE(out.stat().st_mode) == 0o600, oct(out.stat().st_mode)
