"""`tgwatch rules check | test | explain` through click's CliRunner."""

from __future__ import annotations

import re
from pathlib import Path

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
    assert "1 rules in 1 files loaded, 1 errors" in result.stderr
    no_traceback(result)


def test_check_reports_failing_examples(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text('[[rule]]\nname = "d"\nquery = "дезертир"\nshould_match = ["солдаты"]\n', encoding="utf-8")
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{f}:4:18: rule 'd' does not match its example 'солдаты'")


def test_check_missing_folder_fails() -> None:
    result = run("check", "/nonexistent/rules")
    assert result.exit_code == 1
    assert "no such file or directory" in result.stdout
    no_traceback(result)


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
    assert lines[0].startswith("error: no rule named nosuch")
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
                  "=СОЧ  this exact form; typos: 0"):
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
