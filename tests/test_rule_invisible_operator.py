"""An operator an invisible character glues to a word («дрон\\u200bOR беспилотник», pasted from a web
page or a phone): the rule loaded with no error, its query the words «дронor» and «беспилотник», and
it never matched a post about a drone. `rules check` and the chat's /add_rule now say where."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import Rule

from .test_cli_rules import run


@pytest.mark.parametrize("query, col, op", [
    ("дрон\u200bOR беспилотник", 14, "OR"),
    ("дрон OR\u2060беспилотник", 17, "OR"),
    ("дрон \ufeffNOT птица", 15, "NOT"),
    ("дрон\u200bNEAR/3 атака", 14, "NEAR/3"),
])
def test_rules_check_names_the_line_and_column_of_an_operator_glued_by_an_invisible_character(
        tmp_path: Path, query: str, col: int, op: str) -> None:
    (tmp_path / "drones.toml").write_text(f'[[rule]]\nname = "drones"\nquery = "{query}"\n', encoding="utf-8")
    result = run("check", str(tmp_path))
    assert result.exit_code == 1, result.output
    [first] = result.stdout.splitlines()
    assert first.startswith(f"{tmp_path / 'drones.toml'}:3:{col}: query: an invisible character"), first
    assert f"beside '{op}'" in first


def test_an_invisible_character_inside_a_word_is_still_folded_away() -> None:
    """A zero-width space inside a word (no operator beside it) is no mistake: the word is matched as if
    it were not there."""
    found = Matcher([Rule.from_query("r", "дезер\u200bтир OR самоволка")]).match("Задержаны двое дезертиров")
    assert [h.form for h in found[0].hits] == ["дезертиров"]
