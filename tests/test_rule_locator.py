"""The rule file locator's lines and columns, found by bisecting newline offsets computed once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.match.rules import _Locator


@given(st.text(alphabet="ab\n\r[] ", max_size=60), st.data())
def test_line_col_is_the_count_of_newlines_before_and_the_distance_from_the_last(text: str, data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, len(text)))
    loc = _Locator(text)
    assert loc.line_col(offset) == (text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset))
    line = loc.line_col(offset)[0]
    assert loc.line_col(loc.line_start(line)) == (line, 1)


@given(st.lists(st.sampled_from(["[[rule]]", "  [[ rule ]]", "x = 1", "", "# [[rule]]"]), max_size=12))
def test_header_at_finds_the_rule_header_on_a_line(lines: list[str]) -> None:
    loc = _Locator("\n".join(lines))
    for line in range(1, len(lines) + 2):
        on_it = [i for i, h in enumerate(loc.headers) if loc.line_col(h)[0] == line]
        assert loc.header_at(line) == (on_it[0] if on_it else 0)
