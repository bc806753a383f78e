"""A rule's name in any case names the rule, in every command that takes one (one lookup: RuleSet.get)."""

from __future__ import annotations

from .sample_store import ROOT, Sample, built, sample  # noqa: F401
from .test_export import run


def test_rules_explain_and_backtest_take_a_name_in_any_case_as_test_does(sample: Sample) -> None:  # noqa: F811
    """`rules explain DESERTION` and `rules backtest DESERTION` said «no rule named 'DESERTION'»
    (have: desertion, …), while `rules test --rule DESERTION`, `--rule` of export and stories and
    the chat's /rule take any case."""
    rules = ROOT / "rules"
    explain = run("rules", "explain", "DESERTION", "--rules", rules)
    assert explain.exit_code == 0, explain.output
    assert explain.stdout.startswith("desertion  [high]"), explain.stdout[:200]
    backtest = run("rules", "backtest", "Desertion", "--rules", rules, "--db", sample.db)
    assert backtest.exit_code == 0, backtest.output
    assert "matched" in backtest.stdout and "desertion" in backtest.stdout
    test = run("rules", "test", "Трое дезертиров задержаны", "--rules", rules, "--rule", "DESERTION", "--rule", "lockdown")
    assert test.exit_code == 0 and test.stdout.startswith("desertion"), test.output


def test_an_unknown_name_in_any_case_is_still_one_line_naming_the_rules() -> None:
    r = run("rules", "explain", "NOSUCH", "--rules", ROOT / "rules")
    assert r.exit_code == 2 and r.stderr.startswith("error: no rule named 'NOSUCH'") and "desertion" in r.stderr, r.stderr
