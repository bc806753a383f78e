"""The watch-rule query language (bot/match/query.py): trees, precedence, round trip, errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.match.query import (MAX_DEPTH, And, Near, Node, Not, Or, Phrase, QueryError, Url, Word, designation_family, parse,
                             to_text)


def W(text: str, mode: str = "forms", typos: int | None = None, cased: bool = False) -> Word:
    return Word(text, mode, typos, cased=cased)


def shape(node: Node) -> Node:
    """The tree without source positions (nodes compare their `pos`)."""
    if isinstance(node, Word):
        return dataclasses.replace(node, pos=0)
    if isinstance(node, Phrase):
        return Phrase(tuple(shape(w) for w in node.words))  # type: ignore[misc]
    if isinstance(node, Url):
        return Url(node.text)
    if isinstance(node, And):
        return And(tuple(shape(n) for n in node.items))
    if isinstance(node, Or):
        return Or(tuple(shape(n) for n in node.items))
    if isinstance(node, Not):
        return Not(shape(node.item))
    if isinstance(node, Near):
        return Near(shape(node.left), shape(node.right), node.distance)
    raise TypeError(node)


def tree(query: str) -> Node:
    return shape(parse(query))


# -- operators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), [
    ("полк", W("полк")),
    ("Дезертир", W("дезертир")),
    ("ЁЛКА", W("елка")),
    ("полк OR бригада", Or((W("полк"), W("бригада")))),
    ("полк AND бригада", And((W("полк"), W("бригада")))),
    ("полк бригада", And((W("полк"), W("бригада")))),
    ("полк NOT бригада", And((W("полк"), Not(W("бригада"))))),
    ("полк -бригада", And((W("полк"), Not(W("бригада"))))),
    ("полк NEAR/5 командир", Near(W("полк"), W("командир"), 5)),
    ('"воинская часть"', Phrase((W("воинская"), W("часть")))),
    ("=СОЧ", W("соч", "exact", cased=True)),
    ("=Соч", W("соч", "exact")),
    ("=соч", W("соч", "exact")),
    ("=Х", W("х", "exact")),
    ("бригад*", W("бригад", "prefix")),
    ("дезертир~0", W("дезертир", typos=0)),
    ("дезертир~1", W("дезертир", typos=1)),
    ("дезертир~2", W("дезертир", typos=2)),
    ("url:t.me/Baza", Url("t.me/baza")),
    ('"=СОЧ дезертир*"', Phrase((W("соч", "exact", cased=True), W("дезертир", "prefix")))),
    ("в/ч", Phrase((W("в", "exact"), W("ч", "exact")))),
    ("137-й", Word("137", "exact", ordinal=True)),  # an ordinal: the number with any ending
    ("137го", Word("137", "exact", ordinal=True)),
    ("137-летие", Phrase((W("137", "exact"), W("летие")))),
])
def test_operator_trees(query: str, expected: Node) -> None:
    assert tree(query) == expected


def test_lower_case_operators_are_words() -> None:
    assert tree("полк and not бригада or near") == And(tuple(W(w) for w in ("полк", "and", "not", "бригада", "or", "near")))


def test_parentheses_group() -> None:
    assert tree("(полк OR бригада) командир") == And((Or((W("полк"), W("бригада"))), W("командир")))
    assert tree("полк OR (бригада командир)") == Or((W("полк"), And((W("бригада"), W("командир")))))


@pytest.mark.parametrize(("query", "expected"), [
    # AND binds tighter than OR, with or without the keyword.
    ("a OR b c", Or((W("a"), And((W("b"), W("c")))))),
    ("a b OR c", Or((And((W("a"), W("b"))), W("c")))),
    ("a AND b OR c AND d", Or((And((W("a"), W("b"))), And((W("c"), W("d")))))),
    # NEAR binds tighter than AND and OR.
    ("a NEAR/2 b c", And((Near(W("a"), W("b"), 2), W("c")))),
    ("c a NEAR/2 b", And((W("c"), Near(W("a"), W("b"), 2)))),
    ("a NEAR/2 b OR c", Or((Near(W("a"), W("b"), 2), W("c")))),
    ("a NEAR/1 b NEAR/2 c", Near(Near(W("a"), W("b"), 1), W("c"), 2)),
    # NOT binds tightest.
    ("NOT a b", And((Not(W("a")), W("b")))),
    ("b -a OR c", Or((And((W("b"), Not(W("a")))), W("c")))),
    ("b NOT (a OR c)", And((W("b"), Not(Or((W("a"), W("c"))))))),
])
def test_precedence(query: str, expected: Node) -> None:
    assert tree(query) == expected


def test_positions_point_into_the_query() -> None:
    q = 'полк NEAR/3 "воинская часть"'
    node = parse(q)
    assert isinstance(node, Near)
    assert q[node.pos:].startswith("NEAR/3")
    assert isinstance(node.right, Phrase)
    assert q[node.right.words[1].pos:].startswith("часть")


# -- to_text round trip ------------------------------------------------------------------------

ROUND_TRIP = [
    "полк",
    "полк OR бригада",
    "полк бригада OR дивизия",
    "(полк OR бригада) командир",
    "полк -бессмертный -\"народный полк\"",
    "NOT бессмертный полк",
    "самовольно NEAR/4 (часть OR позиция OR служба)",
    "(a NEAR/1 b) NEAR/2 c",
    "a NEAR/1 (b NEAR/2 c)",
    '"самовольное оставление" OR =СОЧ OR эвакуац* OR дезертир~2 OR url:t.me/baza',
    '"=СОЧ дезертир* часть~0"',
    "в/ч OR 137-й OR =в/ч",
    "полк and бригада",
    "a OR (b OR c)",
    "a (b c)",
]


@pytest.mark.parametrize("query", ROUND_TRIP)
def test_to_text_round_trip(query: str) -> None:
    text = to_text(parse(query))
    assert tree(text) == tree(query)
    assert to_text(parse(text)) == text  # canonical form is a fixed point


@pytest.mark.parametrize("query", ["в/ч~1", "137-й~2"])
def test_to_text_round_trip_of_split_words_with_typos(query: str) -> None:
    assert tree(to_text(parse(query))) == tree(query)


# -- errors ------------------------------------------------------------------------------------


def error(query: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(query)
    return info.value


@pytest.mark.parametrize(("query", "at", "says"), [
    ('дезертир "самовольное оставление', '"самовольное', "unclosed quote"),
    ("дезертир OR солдат\"", '"', "unclosed quote"),
    ("(полк OR бригада", "(полк", "never closed"),
    ("((полк) OR бригада", "((полк", "never closed"),
    ("полк OR бригада)", ")", "without a matching '('"),
    ("полк OR", "OR", "missing after 'OR'"),
    ("OR полк", "OR", "needs a word before it"),
    ("полк OR OR бригада", "OR бригада", "needs a word before it"),
    ("полк AND", "AND", "missing after 'AND'"),
    ("полк NEAR командир", "NEAR", "NEAR needs a distance"),
    ("полк NEAR/ командир", "NEAR/", "NEAR needs a distance"),
    ("полк NEAR/0 командир", "NEAR/0", "NEAR needs a distance"),
    ("полк NEAR/101 командир", "NEAR/101", "NEAR needs a distance"),
    ("полк NEAR/5", "NEAR/5", "missing after 'NEAR/5'"),
    ("полк NEAR/5 NOT командир", "NEAR/5", "NOT cannot stand inside NEAR"),
    ("полк NEAR/5 url:t.me/baza", "NEAR/5", "url: cannot stand inside NEAR"),
    ("(url:t.me/baza OR полк) NEAR/5 командир", "NEAR/5", "url: cannot stand inside NEAR"),
    ("дезертир~3", "~3", "~0, ~1 or ~2"),
    ("полк OR дезертир~", "~", "~0, ~1 or ~2"),
    ("аб*", "аб*", "at least 3 letters"),
    ("полк OR аб*", "аб*", "at least 3 letters"),
    ("=полк*", "=полк*", "cannot be combined"),
    ("бри*гада", "бри*гада", "only ends a word"),
    ("полк ()", "()", "empty parentheses"),
    ('полк ""', '""', "empty phrase"),
    ("полк url:", "url:", "url: needs"),
    ("полк OR =", "=", "no letters or digits"),
])
def test_errors_point_at_the_offending_character(query: str, at: str, says: str) -> None:
    e = error(query)
    assert says in e.message
    assert query[e.pos:].startswith(at), (e.pos, query[e.pos:])
    assert f"(at character {e.pos + 1})" in str(e)


@pytest.mark.parametrize("query", ["", "   ", "\n\t "])
def test_empty_query(query: str) -> None:
    e = error(query)
    assert "empty" in e.message and e.pos == 0


@pytest.mark.parametrize("query", ["NOT полк", "-полк", "-полк -бригада", "полк OR NOT бригада"])
def test_query_without_a_required_word_is_an_error(query: str) -> None:
    e = error(query)
    assert "none of its words" in e.message
    assert e.pos == 0


def test_error_in_a_multi_line_query_points_at_the_right_line() -> None:
    q = "дезертир OR\n  солдат OR (полк\n  OR бригада\n"
    e = error(q)
    assert q[e.pos:].startswith("(полк")


# -- property: parse never fails any other way ---------------------------------------------------

_PIECES = st.sampled_from(
    list(' ab=*~0123"()-\n') + ["OR", "AND", "NOT", "NEAR/", "NEAR/2", "url:", "полк", "в/ч", "x~", "=x", "abc*",
                                "\u200b", "#", "é"]
)
# Any text, digits int() refuses though isdigit() accepts them (², ①: category No) included.
_ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)))


def _parse_or_query_error(query: str) -> None:
    try:
        node = parse(query)
    except QueryError as e:
        assert 0 <= e.pos <= len(query)
    else:
        assert to_text(node)


@settings(max_examples=300, deadline=None)
@given(_ANY_TEXT)
@example("a NEAR/١ b")  # Arabic-Indic digit: int() accepts it
@example("a NEAR/² b")  # a superscript: isdigit() accepts it, int() does not
def test_parse_arbitrary_text(query: str) -> None:
    _parse_or_query_error(query)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_parse_operator_soup(query: str) -> None:
    _parse_or_query_error(query)


@pytest.mark.parametrize("query", ["полк NEAR/² командир", "полк NEAR/①"])
def test_near_with_a_superscript_distance_is_a_query_error(query: str) -> None:
    _parse_or_query_error(query)


# -- nesting: a limit, never a RecursionError -------------------------------------------------------


def _nested(kind: str, levels: int) -> str:
    """A query of `levels` nested parentheses, NOTs, '-'s or chained NEARs (AND/OR inside parentheses)."""
    if kind == "paren":
        return "(" * levels + "полк" + ")" * levels
    if kind == "and-or":
        return "(полк OR " * levels + "бригада" + ")" * levels
    if kind == "not":  # the AND of полк and the NOTs is a level too
        return "полк " + "NOT " * (levels - 1) + "бригада"
    if kind == "minus":
        return "полк " + "-" * (levels - 1) + "бригада"
    return "полк NEAR/3 " * levels + "бригада"


@pytest.mark.parametrize("kind", ["paren", "and-or", "not", "minus", "near"])
def test_nesting_up_to_the_limit_parses_and_round_trips(kind: str) -> None:
    node = parse(_nested(kind, MAX_DEPTH))
    assert shape(parse(to_text(node))) == shape(node)


@pytest.mark.parametrize("kind", ["paren", "and-or", "not", "minus", "near"])
@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 200, 3000])
def test_nesting_past_the_limit_is_a_query_error(kind: str, levels: int) -> None:
    query = _nested(kind, levels)
    e = error(query)
    assert e.message == f"the query is nested too deeply (more than {MAX_DEPTH} levels)"
    if levels > MAX_DEPTH + 1:  # at the first operator past the limit
        assert query[e.pos:].startswith({"paren": "(", "and-or": "(", "not": "NOT", "minus": "-", "near": "NEAR"}[kind])
    else:  # or at the start of the outermost level that went past it
        assert query[e.pos:].startswith(("(", "NEAR", "полк"))


def test_levels_add_up_across_kinds() -> None:
    """ANDs in parentheses around a chain of NEARs: 30 levels of each, 60 in all."""
    query = "(полк " * 30 + "полк NEAR/2 " * 30 + "бригада" + ")" * 30
    e = error(query)
    assert "nested too deeply" in e.message
    assert parse("(полк " * 25 + "полк NEAR/2 " * 25 + "бригада" + ")" * 25)


def test_a_chat_edit_with_a_deep_query_is_refused_in_one_line(tmp_path: Path) -> None:
    from bot.match.edit import EditError, RuleBook
    from bot.store.db import Store

    (tmp_path / "r.toml").write_text('[[rule]]\nname = "a"\nquery = "полк"\n', encoding="utf-8")
    store = Store(tmp_path / "t.db")
    try:
        with pytest.raises(EditError) as info:
            RuleBook(tmp_path, store).plan_edit("a", "(" * 200 + "полк" + ")" * 200)
    finally:
        store.close()
    assert str(info.value) == f"query: 1:{MAX_DEPTH + 1}: the query is nested too deeply (more than {MAX_DEPTH} levels)"


# -- typographic quotes ----------------------------------------------------------------------------


@pytest.mark.parametrize("query", ['«воинская часть»', '“воинская часть”', '„воинская часть“'])
def test_a_phrase_in_typographic_quotes_is_a_phrase(query: str) -> None:
    from bot.match.matcher import Matcher
    from bot.match.rules import Rule

    assert shape(parse(query)) == shape(parse('"воинская часть"'))
    m = Matcher([Rule.from_query("r", f"{query} OR дезертир")])
    assert m.match("Въезды к воинской части перекрыты")
    assert not m.match("Воинская присяга; часть третья")  # both words, not next to each other


def test_an_unclosed_typographic_quote_is_an_error_at_it() -> None:
    e = error('полк OR «воинская часть')
    assert e.pos == 8 and "unclosed quote" in e.message


# -- words that could never match what they say ----------------------------------------------------


@pytest.mark.parametrize(("query", "at", "says"), [
    ("полк OR title:бригада", "title:", "unknown field 'title:'"),
    ("channel:mash полк", "channel:", "unknown field 'channel:'"),
    ("полк OR URL:t.me/baza", "URL:", "write url: in lower case: url:t.me/baza"),
    ("полк OR t.me/baza", "t.me/baza", "write url:t.me/baza"),
    ('"читайте на lenta.ru"', "lenta.ru", "write url:lenta.ru"),
    ("воинская часть»", "»", "closing quote » without an opening one"),
    ("полк OR бригада”", "”", "closing quote ” without an opening one"),
    ("полк near/3 командир", "near/3", "operators are upper case: NEAR/3"),
    ("полк Near/3 командир", "Near/3", "operators are upper case: NEAR/3"),
    ("полк NEAR3 командир", "NEAR3", "NEAR/3"),
])
def test_a_word_that_could_never_match_is_an_error_at_it(query: str, at: str, says: str) -> None:
    e = error(query)
    assert says in e.message
    assert query[e.pos:].startswith(at), (e.pos, query[e.pos:])


@pytest.mark.parametrize("query", ["url:t.me/baza OR полк", "12:00 полк", "внимание: полк", "«полк бригада\""])
def test_colons_and_mixed_quotes_that_mean_something_still_parse(query: str) -> None:
    assert parse(query)


# A designation with a star as analysts write it, and its near misses: letters in either script and
# case, a hyphen or none, a number with letters after it (or none: `МиГ-*`).
_DESIGNATION_STAR = st.builds(lambda letters, hyphen, number, star: f"{letters}{hyphen}{number}{star}",
                              st.text("ТуСуАнМиГХСFty", min_size=1, max_size=4), st.sampled_from(["-", "–", "", " "]),
                              st.from_regex(r"[0-9]{0,3}[МСМмсM]{0,2}", fullmatch=True), st.sampled_from(["*", ""]))


@given(_DESIGNATION_STAR)
@example("Ту-95*")
@example("С-4*")
@example("МиГ-*")
@example("Северо-*")
def test_designation_family_is_the_rules_own_reading_of_the_word(raw: str) -> None:
    """Search reads a designation with a star through `designation_family`: it is the phrase a rule's
    parse gives (its last word the prefix), and refuses with the rule's very error, or is None for
    any other word (which search reads as before)."""
    try:
        family = designation_family(raw)
    except QueryError as e:
        with pytest.raises(QueryError) as rule:
            parse(raw)
        assert str(rule.value) == str(e)
        return
    if family is not None:
        assert raw.endswith("*") and parse(raw) == family and family.words[-1].mode == "prefix"
        assert all(w.joined for w in family.words[1:])
        return
    try:
        node = parse(raw)
    except QueryError:
        return  # a word's own mistake (`Т*`, too short), which search reads as before
    assert not (isinstance(node, Phrase) and node.words[-1].mode == "prefix" and node.words[-1].joined)


_RU_WORD = st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщыэюя", min_size=3, max_size=12)


@given(_RU_WORD, st.sampled_from(["!{w}", "{w}^2", "{w}^", "{w}?", "{w}?а", "{w}~1~1", "{w}~2~0"]))
def test_another_tools_operator_in_a_word_is_an_error_pointing_at_it(word: str, template: str) -> None:
    """`!x`, `x^2`, `x?y`, `x~1~1` would otherwise be read as the word or a phrase of its pieces,
    silently meaning something else; the error points at the operator, after the word's letters."""
    raw = template.format(w=word)
    with pytest.raises(QueryError) as e:
        parse(f"полк {raw}")
    mark = next(c for c in "!^?" if c in raw) if any(c in raw for c in "!^?") else "~"
    assert e.value.pos == len("полк ") + raw.index(mark)
    assert mark in e.value.message
