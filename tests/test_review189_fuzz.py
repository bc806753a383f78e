"""Inputs the coverage-guided fuzzing of review 189 found to end in a traceback, a hang or a message
naming no place: each through the path the analyst takes (the CLI's main, or the library call
the CLI or the chat makes), asserting the one line the analyst should see."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.store.db import Store

from .sample_store import Sample, built, sample  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
LONG = "7" * (sys.get_int_max_str_digits() + 1)  # a number Python will not read from text (4,301 digits)


def tgwatch(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "200", "NO_COLOR": "1"}, prog_name="tgwatch")


def one_error(r: Result) -> str:
    """The one `error:` line the command ended with (exit 2), no traceback."""
    assert r.exit_code == 2 and isinstance(r.exception, SystemExit), (r.exit_code, r.output)
    assert "Traceback" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, r.output
    return errors[0]


def test_a_number_too_long_for_python_in_a_rule_file_is_a_toml_error_at_its_place(tmp_path: Path) -> None:
    """`typos = 777…` (4,301 digits, a paste gone wrong): tomllib raises a bare ValueError, which
    `rules check` showed as a traceback; it is the file's line and column like any TOML mistake."""
    f = tmp_path / "long.toml"
    f.write_text(f'[[rule]]\nname = "x"\nquery = "полк"\ntypos = {LONG}\n', encoding="utf-8")
    r = tgwatch("rules", "check", f)
    assert r.exit_code == 1 and isinstance(r.exception, (SystemExit, type(None))), r.output
    assert "Traceback" not in r.output
    assert r.output.splitlines()[0] == f"{f}:4:9: TOML syntax: a number of more than 4300 digits", r.output


def test_a_number_too_long_for_python_in_the_config_is_one_error_line_at_its_place(tmp_path: Path) -> None:
    """The same number in config.toml, read by `replay -c`: one `error: file:line:col:` line."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[schedule]\nretention_days = {LONG}\n", encoding="utf-8")
    r = tgwatch("replay", ROOT / "examples" / "export", "--db", tmp_path / "s.db", "--alerts", "none", "-c", cfg)
    assert one_error(r) == f"error: {cfg}:2:18: a number of more than 4300 digits"
    assert not (tmp_path / "s.db").exists()  # nothing replayed under a config that could not be read


def test_a_quoted_chat_id_too_long_for_python_is_one_error_line_naming_the_setting(tmp_path: Path) -> None:
    """alerts.chats = ["777…"] (a quoted id of 4,301 digits): int() refused it with a traceback;
    it is the setting's line, saying it is no chat id, without echoing the 4,301 digits."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[alerts]\nchats = ["{LONG}"]\n', encoding="utf-8")
    r = tgwatch("replay", ROOT / "examples" / "export", "--db", tmp_path / "s.db", "--alerts", "none", "-c", cfg)
    line = one_error(r)
    assert line.startswith(f"error: {cfg}:2: alerts.chats: '7777777777") and "is not a chat id" in line, line
    assert len(line) < 200 + len(str(cfg)), line


def test_a_span_of_more_digits_than_python_reads_is_the_since_error_not_a_traceback(sample: Sample) -> None:  # noqa: F811
    """`--since 777…d` (4,301 digits): int() refused it with a traceback before the span could be
    found to reach before year 1, which is what the analyst is told, as for `--since 10000000d`."""
    for command in (["stats"], ["search", "дезертир"], ["stories"]):
        r = tgwatch(*command, "--db", sample.db, "--since", f"{LONG}d")
        line = one_error(r)
        assert line.startswith("error: --since '7777") and line.endswith("d': reaches before year 1; give a shorter "
                                                                          "span or a date"), line[:80] + line[-80:]


def test_a_story_number_of_more_digits_than_python_reads_is_larger_than_any(sample: Sample) -> None:  # noqa: F811
    """`tgwatch story 777…` (4,301 digits, a paste of something else): int() refused it with a
    traceback; it is the ID's usage error, as for 2**63."""
    line = one_error(tgwatch("story", LONG, "--db", sample.db))
    assert line.startswith("error: ID: 7777") and line.endswith(" is larger than any story number (tgwatch story --help)"), line[:80]
    line = one_error(tgwatch("story", f"-{LONG}", "--db", sample.db))
    assert line.startswith("error: ID: -7777") and line.endswith(" is not a story number: they start at 1 "
                                                                 "(tgwatch story --help)"), line[:80]


def replay_account_export(tmp_path: Path, chat_name: str, **top: object) -> tuple[Result, Path]:
    """Replay a full-account export of a personal chat named `chat_name` (passed over, so named in
    a `skipped` line) and a channel with one post; `top`: more top-level fields."""
    export = {"about": "", **top, "chats": {"about": "", "list": [
        {"name": chat_name, "type": "personal_chat", "id": 5, "messages": []},
        {"name": "Канал", "type": "public_channel", "id": 1700000009, "messages": [
            {"id": 1, "type": "message", "date": "2026-11-20T10:00:00", "date_unixtime": "1795168800", "text": "полк"}]}]}}
    f = tmp_path / "result.json"
    f.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    return tgwatch("replay", f, "--db", tmp_path / "s.db", "--rules", ROOT / "rules", "--alerts", "none"), f


def test_a_chat_named_with_a_long_number_in_a_full_account_export_is_listed_not_a_traceback(tmp_path: Path) -> None:
    """A full-account export whose passed-over chat is named «#777…» (4,301 digits): replay sorts
    its skip lines by the numbers of their places, and int() of the name's digits ended the run
    in a traceback after the posts were stored. The channel's post is stored, the chat named."""
    name = f"#{LONG}"
    r, f = replay_account_export(tmp_path, name)
    assert r.exit_code == 0 and r.exception is None, r.output[-300:]
    assert "Traceback" not in r.output
    skipped = [line for line in r.output.splitlines() if line.startswith(f"skipped {f}")]
    assert len(skipped) == 1 and skipped[0].startswith(f"skipped {f}: chat #0 ({name[:20]}") and skipped[0].endswith(
        "a personal chat: not a channel, not read"), skipped
    store = Store(tmp_path / "s.db")
    try:
        assert store.count("posts") == 1
    finally:
        store.close()


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "read-whole"])
def test_a_chat_name_with_a_line_break_is_one_skipped_line(tmp_path: Path, streamed: bool) -> None:
    """A passed-over chat named over two lines («Мама», then a line that reads like tgwatch's own
    `error:`) split its `skipped` line in two, the second passing for another message; the name's
    line breaks are spaces there, so the line is one and names the chat. Also in an export read
    whole (a NaN in a field tgwatch does not use: the streaming parser refuses it)."""
    r, f = replay_account_export(tmp_path, "Мама\nerror: rules/desertion.toml:1:1: TOML syntax",
                                 **({} if streamed else {"about": float("nan")}))
    assert r.exit_code == 0 and r.exception is None, r.output[-300:]
    assert f"skipped {f}: chat #0 (Мама error: rules/desertion.toml:1:1: TOML syntax): a personal chat: not a channel, " \
           "not read" in r.output.splitlines(), r.output[-300:]
    assert not any(line.startswith("error: ") for line in r.output.splitlines())


@pytest.mark.parametrize("query, message", [
    (f"дезертир~{LONG}", "typo allowance must be ~0, ~1 or ~2, not '~7777"),
    (f"дезертир NEAR/{LONG} полк", "NEAR needs a distance from 1 to 100, as in NEAR/5"),
    (f'"дезертир полк"~{LONG}', "for its words within 100 words of each other (NEAR's widest) write дезертир NEAR/100 полк"),
], ids=["typos", "near", "phrase"])
def test_a_query_number_of_more_digits_than_python_reads_is_a_rule_error_at_its_place(
        tmp_path: Path, query: str, message: str) -> None:
    """`~777…`, `NEAR/777…` or a phrase's `~777…` (4,301 digits) in a rule's query: int() refused
    the digits with a traceback out of `rules check`; it is the rule's error at its place, as for
    `~3` or `NEAR/101`."""
    f = tmp_path / "long.toml"
    f.write_text(f"[[rule]]\nname = \"x\"\nquery = '''{query}'''\n", encoding="utf-8")
    r = tgwatch("rules", "check", f)
    assert r.exit_code == 1 and isinstance(r.exception, (SystemExit, type(None))), r.output[-300:]
    assert "Traceback" not in r.output
    lines = [line for line in r.output.splitlines() if line.startswith(f"{f}:3:")]
    assert len(lines) == 1 and message in lines[0], r.output[:300]


def test_a_channel_id_of_more_digits_than_python_reads_names_no_channel(sample: Sample, tmp_path: Path) -> None:  # noqa: F811
    """`--channel 777…` (4,301 digits) in every command, and the same id in a rule's `channels`:
    int() refused the digits with a traceback; it is a channel the store does not have, and a
    rule scoped to it loads (it watches a channel that is not there, as any unknown id)."""
    for command in (["search", "дезертир"], ["stories"], ["export"]):
        line = one_error(tgwatch(*command, "--db", sample.db, "--channel", LONG))
        assert line.startswith(f"error: --channel: no channel {LONG} in this store"), line[:80]
    f = tmp_path / "scoped.toml"
    f.write_text(f'[[rule]]\nname = "x"\nquery = "полк"\nchannels = ["{LONG}"]\nshould_match = ["полк"]\n', encoding="utf-8")
    r = tgwatch("rules", "check", f)
    assert r.exit_code == 0 and r.exception is None and "1 rule in 1 file loaded, 0 errors" in r.output, r.output[-300:]


def test_a_month_of_year_0_is_the_option_s_error_not_a_traceback(sample: Sample) -> None:  # noqa: F811
    """`--since 0000-05` (a year typed as zeros): datetime() refused year 0 with a traceback out of
    every command that takes a date; it is the option's one line, as `--since 2024-13` is."""
    for option in ("--since", "--until"):
        line = one_error(tgwatch("stories", "--db", sample.db, option, "0000-05"))
        assert line == f"error: {option} '0000-05': no such month (year-month, as 2024-11)", line


@pytest.mark.parametrize("key", ["db", "rules", "session_dir", "secrets"])
def test_a_config_path_under_a_user_who_does_not_exist_is_one_error_line(tmp_path: Path, key: str) -> None:
    """`db = "~nouser/x.db"` (a ~ for a user this machine does not have, a config copied from
    another server): pathlib's expanduser raised RuntimeError, a traceback out of every command
    reading the config; it is the setting's line, naming the user."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\n{key} = "~tgwatch-no-such-user-189/x"\n', encoding="utf-8")
    r = tgwatch("replay", ROOT / "examples" / "export", "--db", tmp_path / "s.db", "--alerts", "none", "-c", cfg)
    assert one_error(r) == (f"error: {cfg}:2: paths.{key}: ~tgwatch-no-such-user-189 names no user on this machine "
                            "(~ alone is your home folder)")


def test_a_toml_file_cut_short_is_an_error_at_its_end_not_at_line_1(tmp_path: Path) -> None:
    """A rule query whose closing ''' was never written, or a config's last key with no `= value`:
    tomllib says «(at end of document)», which rules check and the config read as line 1; the
    error names the file's last line and says it is the end of the file."""
    rules = tmp_path / "cut.toml"
    rules.write_text("[[rule]]\nname = \"x\"\nquery = '''\nполк\nOR дезертир\n", encoding="utf-8")
    r = tgwatch("rules", "check", rules)
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert r.output.splitlines()[0] == f"{rules}:6:1: TOML syntax: Expected \"'''\" at the end of the file", r.output
    cfg = tmp_path / "config.toml"
    cfg.write_text('[alerts]\nchats = ["me"]\n\n[schedule]\npoll_minutes = 5\nretention', encoding="utf-8")
    r = tgwatch("replay", ROOT / "examples" / "export", "--db", tmp_path / "s.db", "--alerts", "none", "-c", cfg)
    assert one_error(r) == f"error: {cfg}:6:10: Expected '=' after a key in a key/value pair at the end of the file"
