"""A rule word of two letters that is a noun (юг, ёж, яд) finds its inflected forms as any longer
word does («на юге»); a preposition, pronoun or particle of two letters stays the word alone."""

from __future__ import annotations

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import Rule


def matched(query: str, text: str) -> list[str]:
    """The post's words the rule hit, in text order (none when it does not match)."""
    found = Matcher([Rule.from_query("r", query)]).match(text)
    return [h.form for h in found[0].hits] if found else []


@pytest.mark.parametrize("query, text, form", [
    ("юг", "Обстрелы на юге области продолжаются", "юге"),
    ("юг NEAR/2 Украина", "Войска отошли с юга Украины", "юга"),
    ("ёж", "В парке нашли раненого ежа", "ежа"),
    ("яд", "Отравление ядом подтвердили медики", "ядом"),
])
def test_a_two_letter_noun_finds_its_forms(query: str, text: str, form: str) -> None:
    assert form in matched(query, text)


@pytest.mark.parametrize("query, text", [
    ("он NEAR/2 задержан", "Его задержали вчера"),  # «он» reaches no «его»
    ("на NEAR/2 юг", "Над югом прошли дроны"),  # «на» is no «над»
    ("як", "Яка погода завтра"),  # Ukrainian «як» (how) is no yak: «яка» is «which»
])
def test_a_two_letter_function_word_stays_itself(query: str, text: str) -> None:
    assert matched(query, text) == []
