"""`rules test` (and the chat's /test) name, for an OR of branches, the branch the post came
closest to: the fewest obstacles from matching, not the first in the query."""

from __future__ import annotations

from bot.match.matcher import Matcher
from bot.match.rules import Rule


def test_the_branch_one_obstacle_away_is_named_not_an_earlier_one_two_away() -> None:
    """«полк» alone leaves the first branch two words short; the second has both its words,
    only too far apart. The answer names that distance and nothing of the first branch, and
    moving «суд» next to «дезертир» makes the rule match."""
    m = Matcher([Rule.from_query("r", "(полк AND командир AND приказ) OR (дезертир NEAR/3 суд)")])
    text = "Полк ушёл; дезертир, о котором писали весь этот год, предстал перед судом"
    assert m.match(text) == []
    assert m.match("Полк ушёл; дезертир предстал перед судом")
    (_, line), = m.why_not(text)
    assert line == "has дезертир and суд, but not within 3 words"
