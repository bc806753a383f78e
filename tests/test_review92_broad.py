"""A query that can match on function words alone (`в OR и`, `что`) matches nearly every post: `rules
check` says so at the word, with what to do, and says nothing when a content word is needed beside it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.match.rules import parse_rules_text

_ENV = {"COLUMNS": "200", "LINES": "25", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": "1"}


def warnings(query: str) -> list[str]:
    """`file:line:col: message` of each warning about a one-rule file with this query (line 3)."""
    text = f"[[rule]]\nname = \"wide\"\nquery = '{query}'\n"
    return [str(w) for w in parse_rules_text(text, "a.toml").warnings]


@pytest.mark.parametrize("query, flagged", [
    ("в OR и", [("в", "a preposition"), ("и", "a conjunction")]),
    ("и", [("и", "a conjunction")]),
    ("на", [("на", "a preposition")]),
    ("что", [("что", "a conjunction")]),
    ("не", [("не", "a particle")]),
    ("он AND NOT война", [("он", "a pronoun")]),
    ("дезертир OR в", [("в", "a preposition")]),  # one branch is enough
    ("=в", [("=в", "a preposition")]),
    ("і OR що", [("і", "a conjunction"), ("що", "a conjunction")]),  # Ukrainian
])
def test_a_function_word_the_query_can_match_alone_is_named_where_it_stands(query: str, flagged: list[tuple[str, str]]) -> None:
    got = warnings(query)
    assert len(got) == len(flagged), got
    for message, (word, kind) in zip(got, flagged):
        col = 10 + query.index(word)  # `query = '` is 9 characters
        assert message.startswith(f"a.toml:3:{col}: rule 'wide': '{word}' is {kind}, and the query can match on it alone")
        assert "nearly every post" in message and "drop it, or put it in a phrase or a NEAR with a content word" in message


@pytest.mark.parametrize("query, words", [
    ('"и в"', ["и", "в"]), ("в NEAR/3 и", ["в", "и"]), ("в AND и", ["в", "и"]), ("(в OR на) AND и", ["в", "на", "и"]),
])
def test_function_words_only_together_are_named_with_each_other(query: str, words: list[str]) -> None:
    got = warnings(query)
    assert len(got) == len(words), got
    for message, word in zip(got, words):
        others = ", ".join(f"'{w}'" for w in words if w != word)
        assert f"'{word}' is " in message and f"can match on it and {others} alone" in message


@pytest.mark.parametrize("query", [
    '"из части"', "в NEAR/2 часть", "в AND часть", "часть в", "(в OR на) NEAR/3 полк", "дезертир",
    "=КТО",  # capitals only: the abbreviation
    "под*",  # a prefix reaches content words (подразделение)
    "в/ч", "137-й",
    "дезертир AND NOT в",  # an exclusion is no hit
])
def test_a_function_word_beside_a_content_word_is_fine(query: str) -> None:
    assert warnings(query) == []


def test_an_abbreviation_in_capitals_keeps_its_own_warning() -> None:
    """`КТО` is the pronoun «кто» too, but what the writer meant is the abbreviation: one warning, =КТО."""
    [message] = warnings("КТО")
    assert "write =КТО" in message


def test_a_function_word_in_an_exclusion_is_fine() -> None:
    text = "[[rule]]\nname = \"x\"\nquery = 'дезертир'\nexclude = ['в', 'на']\n"
    assert parse_rules_text(text, "a.toml").warnings == []


def test_rules_check_shows_it_and_still_passes(tmp_path: Path) -> None:
    (tmp_path / "wide.toml").write_text("[[rule]]\nname = \"wide\"\nquery = 'в OR и'\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["rules", "check", str(tmp_path)], env=_ENV)
    assert r.exit_code == 0, r.output
    assert f"warning: {tmp_path / 'wide.toml'}:3:10: rule 'wide': 'в' is a preposition" in r.output
    assert "2 warnings" in r.output


@pytest.mark.parametrize("query, flagged", [
    ("the OR of", [("the", "an article"), ("of", "a preposition")]),  # 282 English posts of the corpus: every one
    ("дезертир OR it", [("it", "a pronoun")]),
    ("The", [("The", "an article")]),
])
def test_an_english_function_word_the_query_can_match_alone_is_named(query: str, flagged: list[tuple[str, str]]) -> None:
    got = warnings(query)
    assert len(got) == len(flagged), got
    for message, (word, kind) in zip(got, flagged):
        assert message.startswith(f"a.toml:3:{10 + query.index(word)}: rule 'wide': '{word}' is {kind}, and the query "
                                  "can match on it alone: nearly every post in English has such words")


@pytest.mark.parametrize("query", [
    '"the deserter"', "the NEAR/2 deserter", "deserter", "theft", "=IT",
    "дрон or беспилотник",  # «or»: warned about as an operator written as a word, not as a conjunction
])
def test_an_english_function_word_beside_a_content_word_is_fine(query: str) -> None:
    assert [w for w in warnings(query) if "has such words" in w] == []


def test_english_capitals_are_told_how_to_write_the_abbreviation() -> None:
    """`IT` matches the pronoun «it» of every English post; the writer most likely meant the abbreviation.
    `TO` in Latin letters that look Cyrillic keeps the look-alike warning (it never matches «ТО»)."""
    [message] = warnings("IT")
    assert "'IT' is a pronoun" in message and message.endswith("; for the abbreviation write =IT")
    [message] = warnings("TO")
    assert "never matches Cyrillic «ТО»" in message
