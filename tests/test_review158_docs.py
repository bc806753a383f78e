"""The documentation's truth after helper-158's review: README.md and rules/README.md run as
written. Each test is a place where the docs and the program disagree; it passes once either side
is put right. Real SQLite files (the sample store), the real CLI through click's CliRunner."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

from .sample_store import Sample, sample  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RULES_README = ROOT / "rules" / "README.md"
_ENV = {"COLUMNS": "80", "NO_COLOR": "1", "FORCE_COLOR": None}


def tg(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=_ENV)


def flat(path: Path) -> str:
    """A doc's text with its line breaks and runs of spaces as one space (sentences wrap anywhere)."""
    return re.sub(r"\s+", " ", path.read_text(encoding="utf-8"))


def rule_file(folder: Path, name: str, query: str) -> Path:
    folder.mkdir(exist_ok=True)
    f = folder / f"{name}.toml"
    f.write_text(f"[[rule]]\nname = {json.dumps(name)}\nquery = {json.dumps(query, ensure_ascii=False)}\n",
                 encoding="utf-8")
    return f


# -- stories: «a story is listed whole when one of its posts falls in it» -------------------------


def test_stories_lists_only_stories_one_of_whose_posts_falls_in_the_period(sample: Sample) -> None:  # noqa: F811
    """README (`stories`) and `stories --help`: «a story is listed whole when one of its posts falls
    in it». The store compares the story's span instead (last seen >= since, first seen <= until), so
    the sample's Новоборск evacuation story (posts at 03:31, 05:02 and 06:15 UTC) is listed for
    03:40-04:50, when none of its posts was seen, and stderr says «1 story seen 03:40 – 04:50»."""
    since, until = "2026-11-22T03:40", "2026-11-22T04:50"
    result = tg("stories", "--db", sample.db, "--since", since, "--until", until, "--format", "jsonl")
    assert "Traceback" not in result.output
    low = datetime.fromisoformat(since + ":00+00:00")
    high = datetime.fromisoformat(until + ":00+00:00") + timedelta(minutes=1)  # --until names its last minute
    with sqlite3.connect(sample.db) as db:
        for line in result.stdout.splitlines():
            story = json.loads(line)
            dates = [datetime.fromisoformat(d) for (d,) in db.execute(
                "SELECT date FROM posts WHERE story_id = ?", (story["story_id"],))]
            assert any(low <= d < high for d in dates), (
                f"story #{story['story_id']} ({story['story_first']}) is listed for {since} – {until}, "
                f"but none of its posts falls in it: {sorted(d.isoformat() for d in dates)}")
    db.close()


# -- rules/README: what is an error in a rule file ------------------------------------------------


@pytest.mark.parametrize("query, claim", [
    ("дрон, беспилотник", "Other tools' habits are errors that say what to write instead: a comma between words"),
    ('"дрон OR беспилотник"', "and so is an operator or a parenthesis inside quotes"),
], ids=["comma", "operator-in-quotes"])
def test_rules_readme_calls_an_error_only_what_rules_check_fails(tmp_path: Path, query: str, claim: str) -> None:
    """rules/README: a comma between words (`дрон, беспилотник`) and an operator or a parenthesis
    inside quotes are errors (`rules check` exit 1, the rule out of use). Since 8e579d6 a rule file
    loads them as before with a `warning:` (exit 0); only /add_rule and /edit_rule refuse them. An
    analyst who reads the docs expects `rules check` to stop such a file; it passes."""
    rule_file(tmp_path / "r", "drones", query)
    result = tg("rules", "check", tmp_path / "r")
    assert "Traceback" not in result.output
    if claim in flat(RULES_README):
        assert result.exit_code == 1, (
            f"rules/README says {claim!r} is an error, but `rules check` passes {query!r} "
            f"(exit {result.exit_code}): {result.output.strip()}")


# -- rules/README: `rules explain` prints a skipped rule's error ----------------------------------


def test_rules_explain_names_another_rules_error_as_the_readme_says(tmp_path: Path) -> None:
    """rules/README: «the commands that go on with the other rules, `replay`, `rules test`, `rules
    explain`, `rules backtest`, print its error as a `warning:` line». `rules test`, `replay` and
    `rules backtest` do; `rules explain good` with a broken rule beside it prints nothing about it
    (it warns only when the rule asked for is missing)."""
    folder = tmp_path / "r"
    rule_file(folder, "good", "полк")
    bad = rule_file(folder, "bad", "дрон OR")
    listed = "`rules explain`, `rules backtest`, print its error as a `warning:` line" in flat(RULES_README)
    result = tg("rules", "explain", "good", "--rules", folder)
    assert result.exit_code == 0, result.output
    tested = tg("rules", "test", "полк", "--rules", folder)
    assert f"warning: {bad}:3:" in tested.stderr  # the command the README names alongside does
    if listed:
        assert f"warning: {bad}:3:" in result.stderr, (
            f"rules/README lists `rules explain` among the commands that print a skipped rule's error "
            f"as a warning line; its stderr: {result.stderr!r}")


# -- an error's advice: a phrase with ~0 or * after it --------------------------------------------


@pytest.mark.parametrize("query", ['"воинская часть"~0', '"воинская часть"*'], ids=["tilde0", "star"])
def test_a_phrase_with_tilde0_or_star_is_not_told_to_write_a_near_2_it_never_asked(tmp_path: Path,
                                                                                    query: str) -> None:
    """`"воинская часть"~2` is Lucene's proximity and the error rightly offers `воинская NEAR/2
    часть`. For `~0` and `*` it offers the same NEAR/2: a distance nobody wrote, and for `~0` (no
    typos) or `*` (word starts) a query that matches other posts than asked (words up to 2 apart,
    in either order). The advice should follow what was written (the allowance or the star on the
    words inside the quotes, as the error's own second half says)."""
    rule_file(tmp_path / "r", "unit", query)
    result = tg("rules", "check", tmp_path / "r")
    assert result.exit_code == 1, result.output  # an error, as rules/README says
    [line] = [ln for ln in result.stdout.splitlines() if "cannot follow a phrase" in ln]
    assert "NEAR/2" not in line, f"{query}: {line}"


# -- README: every --since/--until example it quotes is accepted ----------------------------------


def readme_spans() -> list[tuple[str, str]]:
    """Every `--since X` / `--until X` the README and the docs it links (docs/*.md) quote with a value
    (not the DATE placeholder)."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in [README, *sorted((ROOT / "docs").glob("*.md"))])
    found = re.findall(r"--(since|until) ([^\s`)\]|]+)", text)
    return sorted({(opt, value) for opt, value in found if value != "DATE"})


def test_every_since_until_value_the_readme_quotes_is_accepted(sample: Sample) -> None:  # noqa: F811
    """README: «`--since 10:00 --until 10:00` is that one minute». Typed as written, it is a usage
    error: `error: --since '10:00': expected a date like 2024-11-01, …`; a time alone is none of the
    forms the README lists two sentences earlier."""
    spans = readme_spans()
    assert ("since", "7d") in spans and ("until", "2024-11-20T10:00") in spans  # the extraction works
    refused = []
    for option, value in spans:
        result = tg("search", "дезертир", "--db", sample.db, f"--{option}", value)
        assert "Traceback" not in result.output
        refused += [ln for ln in result.stderr.splitlines() if ln.startswith(f"error: --{option}")]
    assert refused == [], refused


# -- the shipped-rules note's advice, in `rules check` --------------------------------------------


def test_rules_check_without_a_rules_folder_gives_advice_its_own_options_take(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """README: «`--rules` to `rules/` there, or, where there is none, the shipped rules (a line on
    stderr says so)». `rules check` run where there is no rules/ says «rules: no ./rules folder
    here; using the shipped rules in … (--rules DIR for others)», but `rules check` takes its folder
    as an argument and has no --rules: the advice, followed, is `error: no such option '--rules'`."""
    monkeypatch.chdir(tmp_path)
    result = tg("rules", "check")
    assert result.exit_code == 0, result.output
    [note] = [ln for ln in result.stderr.splitlines() if ln.startswith("rules: no ./rules folder here")]
    advice = re.search(r"\((--[a-z-]+) DIR for others\)", note)
    if advice:  # the note's advice must work for the command that printed it
        followed = tg("rules", "check", advice.group(1), ROOT / "rules")
        assert followed.exit_code == 0, f"{note}\nthen `rules check {advice.group(1)} DIR`: {followed.output.strip()}"
