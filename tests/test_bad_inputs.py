"""Bad inputs on the command line (helper-45's audit): each gives one `error:` line (or one
`skipped` line) naming the database, file or option, never a traceback, and the store keeps what
it had. Real SQLite files in tmp_path throughout."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.config import Config, ConfigError, load_config, load_secrets
from bot.store.db import Store
from bot.store.export import write_xlsx

from .sample_store import Sample

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
HASH = "0123456789abcdef0123456789abcdef"
READ_COMMANDS = [["search", "дезертир"], ["stories"], ["story", "1"], ["stats"], ["export"],
                 ["rules", "backtest", "lockdown", "--rules", str(RULES)]]


def tg(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error(result: Result, code: int = 2) -> str:
    """The single `error:` line a failed command printed (asserting there is exactly one, and no traceback)."""
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("posts", "matches", "stories", "alerts")}


def damage(db: Path) -> None:
    """Overwrite the root pages of the post, match, story and alert tables and their indexes: the
    file still opens (its schema is intact), reading a post fails as `database disk image is malformed`."""
    with sqlite3.connect(db) as c:
        size = c.execute("PRAGMA page_size").fetchone()[0]
        roots = [r for (r,) in c.execute(
            "SELECT rootpage FROM sqlite_master WHERE rootpage > 1 AND tbl_name IN ('posts', 'matches', 'stories', 'alerts')")]
    c.close()
    data = bytearray(db.read_bytes())
    for r in roots:
        data[(r - 1) * size:r * size] = b"\xa5" * size
    db.write_bytes(bytes(data))


# -- the database ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0] if c[0] != "rules" else "backtest")
def test_a_damaged_database_is_one_line_naming_it_and_is_left_as_it_was(sample: Sample, command: list[str]) -> None:
    damage(sample.db)
    before = sample.db.read_bytes()
    line = one_error(tg(*command, "--db", sample.db))
    assert line.startswith(f"error: {sample.db}: the database is damaged (database disk image is malformed)")
    assert ".recover" in line
    assert sample.db.read_bytes() == before


def test_a_database_locked_by_another_program_stops_replay_with_one_line_and_keeps_the_store(
        sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = counts(sample.db)
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"channel_id": 42, "message_id": 1, "date": "2026-11-25T10:00:00Z",
                               "text": "В Краснодаре задержали дезертиров"}) + "\n", encoding="utf-8")
    holder = sqlite3.connect(sample.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a running `tgwatch run` in the middle of a write
    real_connect = sqlite3.connect
    # the store waits 30 s for a lock; the test waits 50 ms (the store itself is the real one)
    monkeypatch.setattr(sqlite3, "connect", lambda path, *a, **kw: real_connect(path, *a, **{**kw, "timeout": 0.05}))
    try:
        result = tg("replay", new, "--db", sample.db, "--rules", RULES, "--alerts", "none")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    line = one_error(result)
    assert line.startswith(f"error: {sample.db}: the database stayed locked by another program")
    assert "what was stored before is kept" in line
    assert counts(sample.db) == before


# -- export -o ------------------------------------------------------------------------------------

def test_export_dash_is_stdout_not_a_file_named_dash(sample: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = tg("export", "--db", sample.db, "-o", "-", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "-").exists()
    lines = result.stdout.splitlines()
    assert lines and all(json.loads(ln)["rules"] for ln in lines)
    assert result.stderr.strip().endswith("rows written to stdout")


@pytest.mark.parametrize("name", ["x.csv", "x.xlsx"])
def test_export_into_a_missing_folder_names_the_folder(sample: Sample, tmp_path: Path, name: str) -> None:
    target = tmp_path / "nope" / name
    line = one_error(tg("export", "--db", sample.db, "-o", target))
    assert line == f"error: -o {target}: folder {tmp_path / 'nope'} does not exist"
    assert not (tmp_path / "nope").exists()


def test_a_workbook_that_cannot_be_created_is_an_oserror(tmp_path: Path) -> None:
    """The CLI reports OSError as `FILE: cannot write (...)`; xlsxwriter's own exception was a traceback."""
    with pytest.raises(FileNotFoundError):
        write_xlsx(iter(()), tmp_path / "nope" / "x.xlsx")


def test_export_through_a_link_replaces_the_file_and_keeps_the_link(sample: Sample, tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n", encoding="utf-8")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    result = tg("export", "--db", sample.db, "-o", link)
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text(encoding="utf-8").startswith("channel_id,")
    assert not list(tmp_path.glob(".*.part"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_export_to_a_named_pipe_writes_into_it(sample: Sample, tmp_path: Path) -> None:
    """A pipe is written as it is (never renamed over, never opened to read first: that waited
    for a writer forever). The export runs in a process of its own, so a hang fails the test."""
    import subprocess
    import sys
    import threading

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()), daemon=True)
    reader.start()
    try:
        done = subprocess.run([sys.executable, "-m", "bot", "export", "--db", str(sample.db), "-o", str(pipe),
                               "--format", "jsonl"], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    finally:
        if reader.is_alive():  # let the reader end: a writer that closes at once
            with open(pipe, "wb"):
                pass
        reader.join()
    assert done.returncode == 0, done.stderr
    assert pipe.is_fifo()
    assert got and len(got[0].splitlines()) == int(done.stderr.split()[0]) > 0


# -- dates ----------------------------------------------------------------------------------------

def test_a_compact_bare_day_is_the_whole_day_as_the_dashed_one(sample: Sample) -> None:
    dashed = tg("export", "--db", sample.db, "--since", "2026-11-20", "--until", "2026-11-20", "--format", "jsonl")
    compact = tg("export", "--db", sample.db, "--since", "20261120", "--until", "20261120", "--format", "jsonl")
    assert dashed.exit_code == compact.exit_code == 0, compact.output
    assert compact.stdout == dashed.stdout and dashed.stdout


def test_stats_since_after_the_newest_post_does_not_blame_an_until_never_given(sample: Sample) -> None:
    line = one_error(tg("stats", "--db", sample.db, "--since", "2099-01-01"))
    assert line.startswith("error: --since 2099-01-01 00:00 UTC is after the newest stored post (2026-11-")
    assert "must be before --until" not in line


# -- story ----------------------------------------------------------------------------------------

def test_story_takes_the_number_as_stories_show_it(sample: Sample) -> None:
    plain, hashed = tg("story", "1", "--db", sample.db), tg("story", "#1", "--db", sample.db)
    assert plain.exit_code == hashed.exit_code == 0, hashed.output
    assert hashed.stdout == plain.stdout and plain.stdout.startswith("story #1:")
    bad = tg("story", "#one", "--db", sample.db)
    assert bad.exit_code == 2 and "'#one' is not a story number (like 9 or #9)" in bad.output


# -- replay inputs --------------------------------------------------------------------------------

def test_replaying_an_empty_jsonl_file_says_so_and_fails(tmp_path: Path) -> None:
    empty = tmp_path / "posts.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    result = tg("replay", empty, "--db", tmp_path / "s.db", "--rules", RULES, "--alerts", "none")
    assert result.exit_code == 1
    assert f"skipped {empty}: empty: no line in it holds a post" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("content, says", [(b"", "empty file (0 bytes): no export in it"),
                                           (b" \n\t\n", "empty file: no export in it")])
def test_replaying_an_empty_export_says_it_is_empty_not_truncated(tmp_path: Path, content: bytes, says: str) -> None:
    empty = tmp_path / "result.json"
    empty.write_bytes(content)
    result = tg("replay", empty, "--db", tmp_path / "s.db", "--rules", RULES, "--alerts", "none")
    assert result.exit_code == 1 and f"skipped {empty}: {says}" in result.stderr, result.output
    assert "truncated" not in result.stderr


def test_replaying_a_store_as_an_export_names_it(sample: Sample, tmp_path: Path) -> None:
    before = sample.db.read_bytes()
    result = tg("replay", sample.db, "--db", tmp_path / "s.db", "--rules", RULES, "--alerts", "none")
    assert result.exit_code == 1
    assert f"skipped {sample.db}: an SQLite database (a tgwatch store?), not an export: a store is named with --db" in result.stderr
    assert sample.db.read_bytes() == before


def test_a_compressed_export_says_to_unpack_it(tmp_path: Path) -> None:
    import gzip
    import zipfile

    export = ROOT / "examples" / "export" / "ChatExport_1700000001" / "result.json"
    packed = tmp_path / "export.zip"
    with zipfile.ZipFile(packed, "w") as z:
        z.write(export, "ChatExport_1700000001/result.json")
    squeezed = tmp_path / "result.json.gz"
    squeezed.write_bytes(gzip.compress(export.read_bytes()))
    result = tg("replay", packed, squeezed, "--db", tmp_path / "s.db", "--rules", RULES, "--alerts", "none")
    assert result.exit_code == 1
    assert f"skipped {packed}: a zip archive: unpack it, then replay the folder" in result.stderr
    assert f"skipped {squeezed}: gzip-compressed: unpack it (gunzip), then replay the file" in result.stderr
    assert one_error(tg("replay", tmp_path, "--db", tmp_path / "s.db", "--rules", RULES)) == \
        f"error: nothing to replay: {tmp_path}: no result.json or *.jsonl below this folder (packed: export.zip, result.json.gz; unpack first)"


HTML = "an HTML export: tgwatch reads Telegram Desktop's JSON export (export the chat again with Format: Machine-readable JSON)"
PAGE = '\ufeff<!DOCTYPE html>\n<html>\n<head><title>Exported Data</title></head><body><div class="text">Дезертир</div></body></html>\n'


def test_an_html_export_beside_a_json_one_is_named_and_the_json_one_is_stored(tmp_path: Path) -> None:
    # Telegram Desktop exports HTML unless asked for JSON: that channel must not be missed in silence
    top = tmp_path / "exports"
    (top / "ChatExport_html").mkdir(parents=True)
    (top / "ChatExport_html" / "messages.html").write_text(PAGE, encoding="utf-8")
    (top / "ok").mkdir()
    (top / "ok" / "a.jsonl").write_text(json.dumps({"channel_id": 42, "message_id": 1, "date": "2026-11-25T10:00:00Z",
                                                    "text": "x"}) + "\n", encoding="utf-8")
    result = tg("replay", top, "--db", tmp_path / "s.db", "--rules", RULES, "--alerts", "none")
    assert f"skipped {top / 'ChatExport_html' / 'messages.html'}: {HTML}" in result.stderr
    assert "Traceback" not in result.output
    assert counts(tmp_path / "s.db")["posts"] == 1


def test_an_html_export_alone_is_one_error_and_its_page_named_is_one_skip(tmp_path: Path) -> None:
    folder = tmp_path / "ChatExport_2024-11-20"
    folder.mkdir()
    (folder / "messages.html").write_text(PAGE, encoding="utf-8")
    assert one_error(tg("replay", folder, "--db", tmp_path / "s.db", "--rules", RULES)) == \
        f"error: nothing to replay: {folder / 'messages.html'}: {HTML}"
    page = tmp_path / "result.json"  # a page saved under the JSON export's name, after a blank line
    page.write_text("\n" + PAGE, encoding="utf-8")
    result = tg("replay", page, "--db", tmp_path / "s.db", "--rules", RULES, "--alerts", "none")
    assert result.exit_code == 1
    assert f"skipped {page}: {HTML}" in result.stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a folder its user cannot list (root can)")
def test_a_folder_that_cannot_be_listed_is_a_skip_not_silence(tmp_path: Path) -> None:
    top = tmp_path / "exports"
    (top / "ok").mkdir(parents=True)
    (top / "ok" / "a.jsonl").write_text(json.dumps({"channel_id": 42, "message_id": 1, "date": "2026-11-25T10:00:00Z",
                                                    "text": "x"}) + "\n", encoding="utf-8")
    (top / "locked").mkdir()
    (top / "locked").chmod(0)
    try:
        result = tg("replay", top, "--db", tmp_path / "s.db", "--rules", RULES, "--alerts", "none")
    finally:
        (top / "locked").chmod(0o755)
    assert f"skipped {top / 'locked'}: cannot read this folder: Permission denied" in result.stderr
    assert counts(tmp_path / "s.db")["posts"] == 1


def test_a_db_path_under_a_file_says_the_file_is_not_a_folder(sample: Sample, tmp_path: Path) -> None:
    inside = sample.db / "x.db"
    line = one_error(tg("replay", ROOT / "examples" / "export", "--db", inside, "--rules", RULES, "--alerts", "none"))
    assert line == f"error: {inside}: {sample.db} is a file, not a folder"


# -- config and secrets ---------------------------------------------------------------------------

def test_a_config_that_is_not_text_names_its_file_and_line(sample: Sample) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(sample.db)
    data = sample.db.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:  # the line of the first byte that is not UTF-8, whatever the store holds
        line = data[:bad.start].count(b"\n") + 1
    assert str(e.value).startswith(f"{sample.db}:{line}: not UTF-8 text (byte 0x")
    assert "codec" not in str(e.value)


def test_a_config_folder_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is a folder, expected the config file"):
        load_config(tmp_path)


@pytest.mark.parametrize("api_id", ["1e400", "123456.5", "true", "4294967296", "-5", "[1]"])
def test_a_mistyped_api_id_is_one_line_not_a_traceback_or_a_rounded_id(tmp_path: Path, api_id: str) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'api_id = {api_id}\napi_hash = "{HASH}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_secrets(Config(secrets=secrets), {})
    assert str(e.value) == (f"TGWATCH_API_ID (or api_id in {secrets}) must be a whole positive number "
                            "(my.telegram.org shows it)")


@pytest.mark.parametrize("api_id", ["123456", '"123456"'])
def test_a_right_api_id_still_reads(tmp_path: Path, api_id: str) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'api_id = {api_id}\napi_hash = "{HASH}"\n', encoding="utf-8")
    assert load_secrets(Config(secrets=secrets), {}).api_id == 123456


def test_login_with_an_infinite_api_id_exits_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TGWATCH_API_ID", "TGWATCH_API_HASH", "TGWATCH_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "secrets.toml").write_text(f'api_id = 1e400\napi_hash = "{HASH}"\n', encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f'[paths]\nsecrets = "secrets.toml"\nsession_dir = "{tmp_path / "sessions"}"\n', encoding="utf-8")
    line = one_error(tg("login", "-c", config))
    assert line.startswith(f"error: TGWATCH_API_ID (or api_id in {tmp_path / 'secrets.toml'})")
    assert not (tmp_path / "sessions").exists()


def test_stats_since_in_the_future_on_an_empty_store_says_there_is_no_post(tmp_path: Path) -> None:
    Store(tmp_path / "s.db").close()
    line = one_error(tg("stats", "--db", tmp_path / "s.db", "--since", "2099-01-01"))
    assert line.startswith("error: --since 2099-01-01 00:00 UTC is after now (the store has no post)")


def test_a_bug_that_raises_an_sqlite_error_keeps_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An IntegrityError or ProgrammingError is tgwatch's own bug, not a locked, full or damaged
    database: it is not told as one ("what was stored before is kept")."""
    def broken(self: Store, *args: object, **kw: object) -> None:
        raise sqlite3.ProgrammingError("Incorrect number of bindings supplied.")
    monkeypatch.setattr(Store, "known_hashes", broken)
    posts = tmp_path / "p.jsonl"
    posts.write_text('{"channel_id": 5, "message_id": 1, "date": "2024-11-01T10:00:00+00:00", "text": "x"}\n')
    result = CliRunner().invoke(cli, ["replay", "--rules", str(RULES), "--db", str(tmp_path / "s.db"),
                                      "--alerts", "none", str(posts)])
    assert isinstance(result.exception, sqlite3.ProgrammingError)
    assert "what was stored before is kept" not in result.output
