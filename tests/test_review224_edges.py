"""Review 224: rough edges a new analyst hit. A mistyped setting or rule name is answered with the
name meant, as a rule file's mistyped key is."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

from .sample_store import Sample
from .test_cli_rules import RULES_DIR, plain
from .test_cli_rules import run as run_rules
from .test_export import assert_clean_error, run

# -- 1. «did you mean» for config settings and --rule names --------------------------------------


@pytest.mark.parametrize("text, line, expected", [
    ("[schedule]\npoll_minute = 5\n", 2, "schedule.poll_minute: unknown setting: did you mean 'poll_minutes'?"),
    ("[alerts]\n\ntimezon = \"UTC\"\n", 3, "alerts.timezon: unknown setting: did you mean 'timezone'?"),
    ("[alert]\nchats = [\"me\"]\n", 1, "alert: unknown section: did you mean 'alerts'?"),
])
def test_a_mistyped_setting_names_the_setting_meant(tmp_path: Path, text: str, line: int, expected: str) -> None:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}:{line}: {expected} (expected ") and "\n" not in str(e.value)


def test_a_setting_like_no_known_one_suggests_nothing(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text("[schedule]\ncolour = 5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "schedule.colour: unknown setting (expected one of " in str(e.value) and "did you mean" not in str(e.value)


@pytest.mark.parametrize("command", [["export"], ["export", "--format", "jsonl"], ["stories"]])
def test_a_mistyped_rule_option_names_the_rule_meant(sample: Sample, command: list[str]) -> None:
    r = run(*command, "--db", sample.db, "--rule", "Lockdwn")
    assert_clean_error(r, "--rule: no rule Lockdwn has matches in this store: did you mean 'lockdown'? "
                          "(rules: desertion, lockdown, regiment)")
    assert r.stdout == ""


@pytest.mark.parametrize("args", [["test", "полк", "--rule", "regimen"], ["explain", "regimen"],
                                  ["backtest", "regimen", "--db", "nosuch.db"]])
def test_a_mistyped_rule_name_names_the_rule_meant(args: list[str]) -> None:
    r = run_rules(*args, "--rules", RULES_DIR)
    assert r.exit_code == 2, r.output
    (line,) = plain(r.stderr).splitlines()
    assert line.startswith(f"error: no rule named 'regimen' in {RULES_DIR}: did you mean 'regiment'? (have: desertion, ")


# -- 2. severity in any case; a single channel as a string -----------------------------------------


def rule_file(tmp_path: Path, lines: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "a.toml").write_text(f'[[rule]]\nname = "storm"\nquery = "шторм"\n{lines}\n', encoding="utf-8")
    return folder


@pytest.mark.parametrize("written, severity", [("High", "high"), ("LOW", "low"), ("Normal", "normal")])
def test_a_severity_in_any_case_is_that_severity(tmp_path: Path, written: str, severity: str) -> None:
    folder = rule_file(tmp_path, f'severity = "{written}"')
    assert run_rules("check", str(folder)).exit_code == 0
    r = run_rules("test", "Шторм идёт", "--rules", str(folder))
    assert r.exit_code == 0, r.output
    assert plain(r.stdout).startswith(f"storm  [{severity}] storm")


@pytest.mark.parametrize("written, scope", [('"mash"', "mash"), ('"@Mash"', "mash"), ('"t.me/mash"', "mash"),
                                            ('"All"', "all channels"), ("1117628569", "1117628569"),
                                            ('["mash", "baza"]', "mash, baza")])
def test_a_single_channel_may_be_written_as_a_string(tmp_path: Path, written: str, scope: str) -> None:
    folder = rule_file(tmp_path, f"channels = {written}")
    assert run_rules("check", str(folder)).exit_code == 0
    r = run_rules("explain", "storm", "--rules", str(folder))
    assert r.exit_code == 0, r.output
    assert f"channels: {scope}; enabled: true" in plain(r.stdout)


@pytest.mark.parametrize("written, says", [
    ('"t.me/+AbCdEf123"', "channels: 't.me/+…' is an invite link"),
    ('""', "channels: '' names no channel"),
    ("true", 'channels must be "all", a username, id or group name, or a list of them'),
])
def test_a_bad_single_channel_is_still_an_error_at_its_line(tmp_path: Path, written: str, says: str) -> None:
    folder = rule_file(tmp_path, f"channels = {written}")
    r = run_rules("check", str(folder))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"a.toml:4:" in plain(r.output) and says in plain(r.output), r.output


# -- 3. `rules backtest`: the terms that hit nothing, the first few unless asked for all ---------

IDLE = ["ракета", "танк", "бригада", "дивизия", "авианосец", "вертолёт", "самолёт", "корабль", "граната",
        "миномёт", "снаряд", "гаубица"]


def idle_line(tmp_path: Path, *options: str) -> str:
    """The back-test's line about the terms that hit nothing, of a rule whose 12 other terms hit nothing."""
    from .test_backtest_terms import make_store, rule_file
    from .test_backtest_terms import run as run_wide

    query = " OR ".join(["дезертир", *IDLE])
    path = rule_file(tmp_path, f"[[rule]]\nname = \"desertion\"\nquery = '{query}'\n")
    r = run_wide("rules", "backtest", path, "--db", make_store(tmp_path), "--samples", "0", *options)
    assert r.exit_code == 0, r.output
    (line,) = [line for line in r.stdout.splitlines() if "hit nothing" in line]
    return line


def test_many_idle_terms_show_the_first_few_and_the_option_for_all(tmp_path: Path) -> None:
    assert idle_line(tmp_path) == ("12 terms hit nothing: ракета, танк, бригада, дивизия, авианосец and 7 more "
                                   "(--all-terms lists every one)")


def test_all_terms_lists_every_idle_term(tmp_path: Path) -> None:
    assert idle_line(tmp_path, "--all-terms") == "12 terms hit nothing: " + ", ".join(IDLE)
