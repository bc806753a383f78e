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
    assert "a.toml:4:" in plain(r.output) and says in plain(r.output), r.output


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


# -- 4. counts of a thousand and more print with the thousands separator, as search's do ----------

MANY = 1050  # posts of a store, each matched by desertion: every count below is 1,050


@pytest.fixture(scope="module")
def thousand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A store replayed from 1,050 posts of one channel, one an hour from 2024-11-01, each a desertion
    match; and what the replay printed."""
    import json
    from datetime import UTC, datetime, timedelta

    from click.testing import CliRunner

    from bot.cli import cli

    folder = tmp_path_factory.mktemp("thousand")
    (folder / "rules").mkdir()
    (folder / "rules" / "desertion.toml").write_text(Path(RULES_DIR, "desertion.toml").read_text(encoding="utf-8"),
                                                     encoding="utf-8")
    posts = folder / "posts.jsonl"
    posts.write_text("".join(json.dumps({
        "channel_id": 1700000001, "channel_title": "Сводка 24", "message_id": i + 1,
        "date": (datetime(2024, 11, 1, tzinfo=UTC) + timedelta(hours=i)).isoformat(),
        "text": f"Задержан дезертир из части {i}"}, ensure_ascii=False) + "\n" for i in range(MANY)), encoding="utf-8")
    db = folder / "s.db"
    r = CliRunner().invoke(cli, ["replay", str(posts), "--db", str(db), "--rules", str(folder / "rules"), "--alerts", "none"],
                           env={"COLUMNS": "120"})
    assert r.exit_code == 0, r.output
    return db, r.stdout


def test_replay_counts_have_the_separator(thousand: tuple[Path, str]) -> None:
    rows = {" ".join(line.split()[:-1]): line.split()[-1] for line in thousand[1].splitlines() if line.split()[-1:] != []}
    assert (rows["posts read"], rows["new"], rows["new stories"], rows["matched desertion"], rows["new alerts"]) == (
        "1,050",) * 5, thousand[1]


def test_export_counts_its_rows_with_the_separator_and_its_json_stays_numbers(thousand: tuple[Path, str]) -> None:
    import json

    db = thousand[0]
    r = run("export", "--db", db)
    assert r.exit_code == 0 and r.stderr == "1,050 rows written to stdout\n", r.stderr
    r = run("export", "--db", db, "--format", "jsonl")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == MANY and r.stderr == "1,050 rows written to stdout\n"
    assert rows[0]["channel_id"] == 1700000001 and isinstance(rows[0]["message_id"], int)


def test_backtest_counts_have_the_separator_and_ids_none(thousand: tuple[Path, str]) -> None:
    from .test_backtest_terms import run as run_wide

    r = run_wide("rules", "backtest", "desertion", "--db", thousand[0], "--rules", RULES_DIR, "--samples", "0")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("1,050 of 1,050 stored posts matched (100%; on 44 of 44 days, up to 24 a day)\n")
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in r.stdout.splitlines() if line.startswith("│")]
    assert ["desertion", "1,050", "1,050", "+0", "-0"] in cells  # hits per rule
    assert ["дезертир", "1,050", "1,050", "дезертир 1,050"] in cells  # hits per term, and its words
    assert ["Сводка 24", "1700000001", "1,050"] in cells  # hits per channel: an id is no count


def test_stats_counts_have_the_separator(thousand: tuple[Path, str]) -> None:
    r = run("stats", "--db", thousand[0], "--since", "2024-11-01", "--until", "2024-12-31")
    assert r.exit_code == 0, r.output
    assert "\n1,050 posts matched\ndesertion: 1,050 matches, 1,050 alerts, no verdicts\n" in r.stdout
