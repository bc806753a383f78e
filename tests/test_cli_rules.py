"""`tgwatch rules check | test | explain` through click's CliRunner."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

RULES_DIR = str(Path(__file__).parents[1] / "rules")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Deterministic output whatever terminal runs the tests: no colours, an 80-column console (what rich
# assumes when no standard stream is a terminal, e.g. under cron or in CI).
_ENV = {"COLUMNS": "80", "LINES": "25", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": "1"}


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, ["rules", *args], env={**_ENV, **(env or {})})


def plain(text: str) -> str:
    return _ANSI.sub("", text)


def has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", plain(text)) is not None


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert isinstance(result.exception, (SystemExit, type(None)))


# -- check -----------------------------------------------------------------------------------------


def test_check_shipped_rules_passes() -> None:
    result = run("check", RULES_DIR)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert re.search(r"\b(\d+) rules in (\d+) files loaded, 0 errors", result.stderr)


def test_check_reports_file_line_col_and_fails(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text('[[rule]]\nname = "good"\nquery = "полк"\n', encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\nname = "bad"\nquery = """\nполк OR\n  (бригада\n"""\n', encoding="utf-8")
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{bad}:5:3: query: '(' is never closed"]
    assert "1 rule in 1 file loaded, 1 error" in result.stderr
    no_traceback(result)


def test_check_reports_failing_examples(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text('[[rule]]\nname = "d"\nquery = "дезертир"\nshould_match = ["солдаты"]\n', encoding="utf-8")
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{f}:4:18: rule 'd' does not match its example 'солдаты'")


@pytest.mark.parametrize("path, says", [("/nonexistent/rules", "no such folder"), ("rule/", "no such folder"),
                                         ("/nonexistent/drones.toml", "no such file")])
def test_check_of_a_missing_path_is_one_error_line_exit_2(path: str, says: str) -> None:
    """`rules check rule/` (rules/ mistyped) printed «rule: no such folder», no `error:`, exit 1 as for an
    error in a rule file: a bad path is an error as in every other command (exit 2), not a finding."""
    result = run("check", path)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: {path.rstrip('/')}: {says}\n" and result.stdout == ""
    no_traceback(result)


def write_rule(folder: Path, body: str, name: str = "r.toml") -> Path:
    f = folder / name
    f.write_text(f'[[rule]]\nname = "a"\nquery = "полк"\n{body}', encoding="utf-8")
    return f


def test_float_typos_fails_check_and_no_command_crashes_on_it(tmp_path: Path) -> None:
    f = write_rule(tmp_path, "typos = 1.0\n")
    result = run("check", str(f))
    assert result.exit_code == 1
    assert result.stdout == f'{f}:4:1: typos must be "auto", 0, 1 or 2 (a whole number), not 1.0\n'
    for args in (("test", "полк", "--rules", str(f)), ("explain", "a", "--rules", str(f))):
        result = run(*args)
        no_traceback(result)
        assert result.exit_code == 2
        assert "error: no usable rules" in result.stderr


def test_check_reports_channels_that_name_nothing(tmp_path: Path) -> None:
    f = write_rule(tmp_path, 'channels = ["", "@", "t.me/"]\n')
    result = run("check", str(f))
    assert result.exit_code == 1
    assert [line.split(" names")[0] for line in result.stdout.splitlines()] == [
        f"{f}:4:13: channels: ''", f"{f}:4:17: channels: '@'", f"{f}:4:22: channels: 't.me/'"]


def test_check_a_deeply_nested_query_is_one_line(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text('[[rule]]\nname = "a"\nquery = """\nполк OR\n' + "(" * 200 + "полк" + ")" * 200 + '\n"""\n',
                 encoding="utf-8")
    result = run("check", str(tmp_path))
    no_traceback(result)
    assert result.exit_code == 1
    assert result.stdout == f"{f}:5:51: query: the query is nested too deeply (more than 50 levels)\n"


def test_check_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_bytes(b'[[rule]]\nname = "a"\n# \xe4\xe5\xe7\xe5\xf0\xf2\xe8\xf0\nquery = "x"\n')  # cp1251
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout == f"{f}:3:3: not UTF-8 text (byte 0xe4); save the file as UTF-8\n"


def test_check_lists_errors_file_by_file_in_line_order(tmp_path: Path) -> None:
    a = tmp_path / "a.toml"
    a.write_text('[[rule]]\nname = "a"\nquery = "дезертир"\nshould_match = ["солдаты"]\n'
                 'typos = 1.0\n\n[[rule]]\nname = "b"\nquery = "полк"\nshould_match = ["бригада"]\n', encoding="utf-8")
    b = write_rule(tmp_path, 'severity = "urgent"\nchannels = [""]\nenabled = "yes"\ntitle = 1\n', "b.toml")
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    where = [":".join(line.split(":")[:2]) for line in result.stdout.splitlines()]
    assert where == [f"{a}:5", f"{a}:10", f"{b}:4", f"{b}:5", f"{b}:6", f"{b}:7"]


# -- test ------------------------------------------------------------------------------------------


def test_test_shows_the_matching_rule_and_why() -> None:
    result = run("test", "Трое дезертиров задержаны", "--rules", RULES_DIR)
    assert result.exit_code == 0, result.output
    out = plain(result.stdout)
    assert out.splitlines()[0].startswith("desertion  [high]")
    assert "дезертиров ← дезертир (form) @5" in out
    assert "regiment" not in out and "lockdown" not in out


def test_test_shows_typos_with_their_score() -> None:
    result = run("test", "Задержаны дезертры", "--rules", RULES_DIR, "--rule", "desertion")
    assert result.exit_code == 0, result.output
    assert re.search(r"дезертры ← \S+ \(typo, score 0\.\d\d\)", plain(result.stdout))


def test_test_says_how_close_each_rule_came(tmp_path: Path) -> None:
    """When nothing matched, each rule says what of its query the text has and what it lacks: the
    words too far apart for a NEAR, an exclusion that hit, a missing part of an AND."""
    (tmp_path / "r.toml").write_text(
        '[[rule]]\nname = "near"\nquery = "полк NEAR/2 командир"\n\n'
        '[[rule]]\nname = "kuban"\nquery = "дезертир AND (Краснодар OR Кубань)"\n\n'
        '[[rule]]\nname = "drills"\nquery = "дезертир NOT учения"\n\n'
        '[[rule]]\nname = "excluded"\nquery = "дезертир"\nexclude = ["учения"]\n\n'
        '[[rule]]\nname = "other"\nquery = "погода OR прогноз"\n', encoding="utf-8")
    result = run("test", "Командир сказал, что весь этот полк ушёл; дезертир задержан на учениях", "--rules", str(tmp_path))
    assert result.exit_code == 1
    lines = plain(result.stdout).splitlines()
    assert lines[0] == "no rule matched"
    assert lines[1:] == ["  drills: has дезертир; has учения, which it excludes",
                         "  excluded: the query matches, but so does its exclusion учения",
                         "  kuban: has дезертир; lacks any of Краснодар, Кубань",
                         "  near: has полк and командир, but not within 2 words",
                         "  other: has none of its 2 terms"]


def test_test_nothing_matched_exits_1() -> None:
    result = run("test", "Погода на выходные: солнечно", "--rules", RULES_DIR)
    assert result.exit_code == 1
    assert "no rule matched" in result.stdout
    no_traceback(result)


def test_test_only_the_selected_rules() -> None:
    result = run("test", "Трое дезертиров задержаны", "--rules", RULES_DIR, "--rule", "regiment")
    assert result.exit_code == 1
    assert "desertion" not in result.stdout


def test_test_unknown_rule_is_a_one_line_error() -> None:
    result = run("test", "Трое дезертиров задержаны", "--rules", RULES_DIR, "--rule", "nosuch")
    assert result.exit_code == 2
    no_traceback(result)
    lines = plain(result.stderr).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: no rule named 'nosuch'")
    assert "desertion" in lines[0]  # says which rules exist


def test_test_with_no_usable_rules_errors_cleanly(tmp_path: Path) -> None:
    result = run("test", "дезертиры", "--rules", str(tmp_path / "nope"))
    assert result.exit_code == 2
    no_traceback(result)
    assert "no usable rules" in result.stderr


# -- explain ---------------------------------------------------------------------------------------


def test_explain_prints_the_tree_with_forms() -> None:
    result = run("explain", "desertion", "--rules", RULES_DIR, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    out = plain(result.stdout)
    assert out.splitlines()[0].startswith("desertion  [high]")
    assert re.search(r"desertion\.toml:\d+\)", out)
    for piece in ("MATCH", "ANY of", "NEAR, within 4 words", 'phrase "самовольное оставление"',
                  "=СОЧ  this exact form, in capitals only; typos: 0"):
        assert piece in out, piece
    assert has_word(out, "дезертиров")
    assert has_word(out, "дезертирами")


def test_explain_output_is_not_cropped_on_an_80_column_console() -> None:
    result = run("explain", "desertion", "--rules", RULES_DIR)
    assert result.exit_code == 0
    assert re.search(r"desertion\.toml:\d+\)", result.stdout)
    assert has_word(result.stdout, "дезертиров")


def test_explain_shows_exclusions_and_scope() -> None:
    result = run("explain", "regiment", "--rules", RULES_DIR, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    out = plain(result.stdout)
    assert "UNLESS any of" in out
    assert "channels: all channels; enabled: true" in out


def test_explain_unknown_rule_errors_cleanly() -> None:
    result = run("explain", "nosuch", "--rules", RULES_DIR)
    assert result.exit_code == 2
    no_traceback(result)
    lines = plain(result.stderr).splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no rule named 'nosuch'")
    assert result.stdout == ""


def test_explain_a_rule_its_file_errors_left_out_says_why(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[[rule]]\nname = "good"\nquery = "полк"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('[[rule]]\nname = "broken"\nquery = "(полк"\n', encoding="utf-8")
    result = run("explain", "broken", "--rules", str(tmp_path))
    assert result.exit_code == 2
    no_traceback(result)
    lines = plain(result.stderr).splitlines()
    assert lines[0] == f"warning: {tmp_path / 'b.toml'}:3:10: query: '(' is never closed"
    assert lines[-1] == f"error: rule 'broken' is out of use for an error: {tmp_path / 'b.toml'}:3:10: query: '(' is never closed"
    (tmp_path / "a.toml").unlink()
    result = run("explain", "broken", "--rules", str(tmp_path))  # no usable rule at all: still the reason
    assert "'(' is never closed" in result.stderr and "error: no usable rules" in result.stderr


def test_check_refuses_a_field_or_a_stray_quote_at_its_column(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text('[[rule]]\nname = "a"\nquery = "title:полк OR бригада"\n'
                 '[[rule]]\nname = "b"\nquery = "самовольное оставление»"\n', encoding="utf-8")
    result = run("check", str(f))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{f}:3:10: query: unknown field 'title:': url: is the only one (for the word alone, drop the colon)",
        f"{f}:6:32: query: closing quote » without an opening one",
    ]
    no_traceback(result)


def test_explain_says_which_of_two_same_named_rules_it_shows(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[[rule]]\nname = "d"\nquery = "дезертир"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('[[rule]]\nname = "d"\nquery = "ёлка"\n', encoding="utf-8")
    result = run("explain", "d", "--rules", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stderr == (f"warning: {tmp_path / 'b.toml'}:1:1: rule 'd' is already defined at "
                             f"{tmp_path / 'a.toml'}:1; using the one at {tmp_path / 'a.toml'}:1\n")


def test_outside_the_repository_the_shipped_rules_are_named_where_they_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no ./rules here the shipped rules are used: a rule that is not among them is said to be
    missing from where they are, not from a `rules` folder that does not exist."""
    monkeypatch.chdir(tmp_path)
    for args in (["test", "полк", "--rule", "nosuch"], ["explain", "nosuch"]):
        result = run(*args)
        assert result.exit_code == 2, result.output
        assert "error: no rule named" in result.stderr and f"in {RULES_DIR} (have: desertion" in result.stderr
    assert run("test", "Полк отвели в тыл").exit_code == 0  # and they match


@pytest.mark.parametrize("args", [["check"], ["test", "Полк отвели в тыл"], ["explain", "regiment"]])
def test_the_shipped_rules_note_gives_advice_the_command_takes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               args: list[str]) -> None:
    """The note «using the shipped rules … (--rules DIR for others)» was the same for `rules check`,
    which takes its folder as an argument: followed, the advice was «no such option '--rules'»."""
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 0, result.output
    [note] = [ln for ln in result.stderr.splitlines() if ln.startswith("rules: no ./rules folder here")]
    advice = re.fullmatch(r".*\((?:tgwatch rules \w+ )?(.+) for others\)", note)
    assert advice, note
    followed = run(*args, *[RULES_DIR if a == "DIR" else a for a in advice.group(1).split()])
    assert followed.exit_code == 0, f"{note}\nfollowed: {followed.output.strip()}"
    assert "no ./rules folder" not in followed.stderr


def test_explain_says_an_ordinal_takes_any_ending(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text('[[rule]]\nname = "r"\nquery = "137-й полк"\n', encoding="utf-8")
    result = run("explain", "r", "--rules", str(tmp_path), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "137 with any ordinal ending: 137-й, 137-го, 137й…; typos: 0" in plain(result.stdout)
    assert "this exact form" not in plain(result.stdout)


# -- a disabled rule: run by every rules command, and marked so in each ------------------------------

DISABLED_RULES = '''[[rule]]
name = "desertion"
title = "Дезертирство"
severity = "high"
enabled = false
query = "дезертир"

[[rule]]
name = "regiment"
query = "полк"
'''
MARK = "(disabled: not matched live or in replay)"


def test_a_disabled_rule_is_marked_where_test_shows_its_hit_or_how_close_it_came(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text(DISABLED_RULES, encoding="utf-8")
    hit = run("test", "дезертир", "--rules", str(tmp_path))
    assert hit.exit_code == 0, hit.output  # the rule as written matches: what its author asks
    assert plain(hit.stdout).splitlines()[0] == f"desertion  [high] Дезертирство  {MARK}"
    both = run("test", "дезертир из полка", "--rules", str(tmp_path))
    assert [line for line in plain(both.stdout).splitlines() if MARK in line] == [
        f"desertion  [high] Дезертирство  {MARK}"]  # the enabled rule's line has no mark
    miss = run("test", "погода", "--rules", str(tmp_path))
    assert miss.exit_code == 1
    assert f"  desertion  {MARK}: lacks дезертир" in plain(miss.stdout).splitlines()
    assert "  regiment: lacks полк" in plain(miss.stdout).splitlines()


def test_explain_and_check_mark_a_disabled_rule_at_its_name(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text(DISABLED_RULES, encoding="utf-8")
    explained = plain(run("explain", "desertion", "--rules", str(tmp_path)).stdout).splitlines()
    assert MARK in explained and explained.index(MARK) < explained.index("├── MATCH")  # under the name, not only
    # «enabled: false» at the tree's end
    assert MARK not in run("explain", "regiment", "--rules", str(tmp_path)).stdout
    checked = run("check", str(tmp_path))
    assert checked.exit_code == 0, checked.output  # a note, not an error
    assert checked.stdout.splitlines() == [f"note: {f}:1:1: rule 'desertion' {MARK}"]


def test_check_says_what_is_wrong_with_a_rule_name_and_where(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text('# a rule\n[[rule]]\nname = "Weird Name!"\nquery = "полк"\n', encoding="utf-8")
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{f}:3:1: name 'Weird Name!' has capitals 'W', 'N', a space and '!': a rule name is lower-case Latin "
        "letters, digits, '-' or '_' (e.g. name = \"weird-name\")"]


@pytest.mark.parametrize("text", ["", "  \n"])
def test_test_of_an_empty_text_is_a_one_line_input_error(text: str) -> None:
    """Not «no rule matched» (exit 1, a text the rules miss): a command with nothing to test."""
    result = run("test", text, "--rules", RULES_DIR)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        'error: TEXT is empty: give the text to test, e.g. rules test "В Краснодаре задержали дезертиров"']
    no_traceback(result)
