"""What an analyst new to the query language gets wrong, and what tgwatch says about it: a quote
left open, the habits of other search tools (commas, `|`, `"a b"~2`), operators written in Russian or
lower case, «№155», and terms shown as the rule writes them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.query import QueryError, parse
from bot.match.rules import Rule, parse_rules_text

_ENV = {"COLUMNS": "200", "LINES": "25", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": "1"}


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=_ENV)


def error(query: str) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(query)
    return info.value


# -- a quote left open -------------------------------------------------------------------------------


def test_a_quote_left_open_before_an_operator_is_named_where_it_opens() -> None:
    """The quote after «дрон» is missing: the phrase runs on to the next phrase's opening quote. It
    said «operators are upper case: NEAR/10, not 'NEAR/10'», or pointed at the last quote, which is fine."""
    q = '(беспилотник OR "ударный дрон) NEAR/10 (НПЗ OR нефтебаза OR "нефтеперерабатывающий завод")'
    e = error(q)
    assert e.pos == q.index('"ударный') and "unclosed quote" in e.message
    assert "close it after «дрон»" in e.message and "upper case" not in e.message
    q = 'дрон OR "ударный дрон OR НПЗ OR "нефтебаза"'
    e = error(q)
    assert e.pos == q.index('"ударный') and "close it after «дрон»" in e.message


def test_an_operator_inside_a_closed_phrase_is_said_to_be_no_operator() -> None:
    e = error('"полк NEAR/3 командир" OR дезертир')
    assert "'NEAR/3' inside quotes is no operator" in e.message
    assert "write it without them: полк NEAR/3 командир" in e.message


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["дрон", "НПЗ", "полк", "часть", "воинская"]), min_size=2, max_size=3),
       st.lists(st.sampled_from(["дрон", "НПЗ", "полк", "часть", "воинская"]), min_size=2, max_size=3),
       st.sampled_from(["OR", "AND", "NEAR/3"]), st.sampled_from(["OR", "AND", ""]), st.booleans())
def test_a_missing_closing_quote_is_always_an_unclosed_quote_at_a_quote(first: list[str], second: list[str], op: str,
                                                                         op2: str, drop_first: bool) -> None:
    """Whichever closing quote is missing, the error says so and points at a quote of the query."""
    a, b = " ".join(first), " ".join(second)
    query = f'"{a}" {op} (бригада {op2} "{b}")'.replace("  ", " ")
    parse(query)  # as written, valid
    cut = query.index('" ') if drop_first else query.rindex('"')
    broken = query[:cut] + query[cut + 1:]
    e = error(broken)
    assert "unclosed quote" in e.message, e.message
    assert broken[e.pos] == '"'


# -- other tools' habits ------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "at", "says"), [
    ("дрон, беспилотник, БПЛА", "дрон,", "a comma is no operator"),
    ("дрон,беспилотник", "дрон,", "write OR between them, as in дрон OR беспилотник"),
    ("НПЗ OR дрон; беспилотник", "дрон;", "write OR between them, as in дрон OR беспилотник"),
    ("дрон, NOT беспилотник", "дрон,", "as in полк OR бригада"),  # one word known: no made-up pair of its own
    ("полк | бригада", "|", "write OR"),
    ("полк && бригада", "&&", "write AND"),
    ('"воинская часть"~2', "~2", "write воинская NEAR/2 часть"),
    ('"воинская часть"*', "*", "cannot follow a phrase"),
    ('"сбежал из части"~2', "~2", "write NEAR/2 between them, as in воинская NEAR/2 часть"),
    ('="воинская часть"', '="', "put it on each word inside the quotes"),
    ("дезертир ~1", "~1", "follows its word with no space"),
    ("полк - бригада", "- бригада", "with no space, as in полк -бессмертный"),
    ("эвакуац *", "*", "ends a word with no space"),
])
def test_other_tools_habits_are_errors_that_say_what_to_write(query: str, at: str, says: str) -> None:
    """`дрон, беспилотник` silently needed both words (a comma was dropped); `"a b"~2` (Lucene's
    proximity) and `дезертир ~1` said only that '~2' had no letters."""
    e = error(query)
    assert says in e.message, e.message
    assert query[e.pos:].startswith(at), (e.pos, query[e.pos:])


_MARK = st.sampled_from(["*", "~", "~0"]) | st.integers(1, 300).map(lambda n: f"~{n}")


@given(st.lists(st.text("абвгдеёжзиклмнопр", min_size=1, max_size=8), min_size=1, max_size=4), _MARK)
@settings(max_examples=200, deadline=None)
def test_a_phrase_with_a_mark_after_it_is_told_a_query_that_asks_what_was_written(words: list[str], mark: str) -> None:
    """`"a b"~n` is told `a NEAR/n b` (NEAR/100 past NEAR's widest); `~0` (no typos, or Lucene's exact
    phrase) and `*` (word starts) were told NEAR/2, a distance nobody wrote and other posts than asked:
    they are told the mark on the words inside the quotes. What it says to write parses."""
    message = error(f'"{" ".join(words)}"{mark}').message
    assert "cannot follow a phrase" in message, message
    if mark in ("*", "~0"):
        assert "NEAR" not in message, message
        advice = re.findall(r'"[^"]+"', message)[-1]
        assert all(w.endswith(mark) for w in advice.strip('"').split()), message
        parse(advice)
    elif mark == "~":
        assert "NEAR/n" in message and "n from 1 to 100" in message, message
    else:
        assert f"NEAR/{min(int(mark[1:]), 100)} " in message, message
        parse(message.split(" write ")[1].split(";")[0].split(" as in ")[-1])  # (a pair's own words, else an example)


@pytest.mark.parametrize("query", ['"1,5 тонны"', "1,5", '"раненые, убитые"', '"Москва, Кремль" OR Курск'])
def test_a_comma_in_a_number_or_inside_quotes_is_still_fine(query: str) -> None:
    """No error, and the rule matches the post that writes it so (not only that it parses)."""
    m = Matcher([Rule.from_query("r", query)])
    assert m.match("Москва, Кремль: раненые, убитые; вывезено 1,5 тонны груза")
    assert not m.match("В Подольске: вывезено 15 тонн груза, пострадавших нет")


# -- operators written as words ------------------------------------------------------------------------


def warnings(query: str) -> list[str]:
    text = f'[[rule]]\nname = "r"\nquery = """{query}"""\n'
    rs = parse_rules_text(text, "r.toml")
    assert not rs.errors, rs.errors
    return [str(w) for w in rs.warnings]


@pytest.mark.parametrize(("query", "word", "says"), [
    ("дрон ИЛИ беспилотник", "ИЛИ", "write OR"),
    ("дрон или беспилотник", "или", "write OR"),
    ("дрон or беспилотник", "or", "write OR"),
    ("НПЗ и нефтебаза", "и", "a space is enough"),
    ("дрон НЕ учения", "НЕ", "write NOT word"),
    ("дрон рядом НПЗ", "рядом", "write NEAR/n"),
])
def test_an_operator_written_as_a_word_is_a_warning(query: str, word: str, says: str) -> None:
    """`дрон ИЛИ беспилотник` matched only posts holding «дрон», «или» and «беспилотник», and the only
    warning told the analyst to write =ИЛИ, the abbreviation."""
    (w,) = warnings(query)
    col = len('query = """') + query.index(f" {word} ") + 2
    assert w.startswith(f"r.toml:3:{col}: rule 'r': '{word}' is no operator but a word"), w
    assert says in w and "=ИЛИ" not in w


@pytest.mark.parametrize("query", ['"дрон или беспилотник"', '"не выходить из дома"', "Орел OR =ИЛИ"])
def test_the_same_words_in_a_phrase_or_as_exact_forms_are_not_warned_about(query: str) -> None:
    assert warnings(query) == []


def test_a_name_in_capitals_is_no_common_word_and_an_indeclinable_one_lists_no_empty_forms() -> None:
    assert warnings("ТАСС OR дрон") == []  # the agency, in every form
    (w,) = warnings("ОН OR дрон")
    assert "the common word «он»; for the abbreviation write =ОН" in w and "()" not in w


def test_check_shows_the_operator_warning_and_passes(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[[rule]]\nname = "drones"\nquery = "дрон ИЛИ беспилотник"\n', encoding="utf-8")
    r = run("rules", "check", tmp_path)
    assert r.exit_code == 0, r.output
    assert "'ИЛИ' is no operator but a word" in r.stdout


# -- «№155» ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["155", "№155", '"колония 155"'])
@pytest.mark.parametrize("text", ["Осуждённый сбежал из колонии №155", "Осуждённый сбежал из колонии № 155"])
def test_a_number_after_the_number_sign_is_matched(query: str, text: str) -> None:
    """NFKC spells «№» «No»: the matcher's quick word list read «No155», so `155` never matched
    «колонии №155», while `rules test`'s explanation said it did; and `№155` in a rule was «no155»."""
    m = Matcher([Rule.from_query("r", query)])
    assert m.match(text)
    assert m.why_not(text) == []


def test_rules_test_matches_a_number_after_the_number_sign(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[[rule]]\nname = "unit"\nquery = "бригада NEAR/2 155"\n', encoding="utf-8")
    r = run("rules", "test", "Бригада №155 вышла из окружения", "--rules", tmp_path)
    assert r.exit_code == 0, r.output
    assert "unit" in r.stdout and "155" in r.stdout


# -- terms as the rule writes them ----------------------------------------------------------------------


def test_a_slashed_or_hyphenated_word_is_shown_as_written(tmp_path: Path) -> None:
    """`в/ч` and `Су-34` were shown as «"=в =ч"» and «"=су =34"»: the parser's inside, not the rule."""
    (tmp_path / "a.toml").write_text('[[rule]]\nname = "units"\nquery = \'в/ч OR Су-34 OR "сбежал из в/ч"\'\n',
                                     encoding="utf-8")
    r = run("rules", "test", "Солдат сбежал из в/ч, где обслуживал Су-34", "--rules", tmp_path)
    assert r.exit_code == 0, r.output
    assert '← "в/ч" (exact)' in r.stdout and '← "Су-34" (exact)' in r.stdout
    assert '← "сбежал из в/ч"' in r.stdout and "=в" not in r.stdout and "=су" not in r.stdout
    r = run("rules", "test", "Солдат служил на Су 34", "--rules", tmp_path)
    assert r.exit_code == 1 and "=су" not in r.stdout, r.output
    r = run("rules", "explain", "units", "--rules", tmp_path)
    assert 'phrase "в/ч", words in this order' in r.stdout and 'phrase "Су-34"' in r.stdout
    assert '"=в =ч"' not in r.stdout



@pytest.mark.parametrize(("query", "says"), [
    ("дрон, беспилотник", "a comma is no operator"),
    ('"ДНР (Донецк)" OR полк', 'for the words in a row write "ДНР Донецк"'),
    ('"полк OR командир"', "'OR' inside quotes is no operator"),
])
def test_a_rule_file_an_earlier_version_loaded_still_loads_with_a_warning(query: str, says: str) -> None:
    """Helper-93: these loaded yesterday (read as all the words, or the words in a row); an upgrade
    that made them errors would take the rule out of use in `tgwatch run` until someone fixed it.
    The chat's /add_rule and /edit_rule, which take new queries, still refuse them."""
    rs = parse_rules_text(f"[[rule]]\nname = \"t\"\nquery = '''{query}'''\n", "f.toml")
    assert [r.name for r in rs.rules] == ["t"] and not rs.errors
    assert [w for w in rs.warnings if says in w.message and "/add_rule and /edit_rule refuse it" in w.message]
    with pytest.raises(QueryError):
        parse(query)
