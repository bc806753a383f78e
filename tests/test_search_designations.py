"""`tgwatch search` reads a designation with a star as a rule does: `Ту-95*` finds its family (Ту-95МС,
«Ту95МСМ», «Ty-95MS»), not the posts of «Ту-95» alone; `С-4*` and `МиГ-*` are the rule's errors. On the
corpus `search Ту-95*` found 3 posts where the rule matched 10, `search Су-3*` none of the rule's 7."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.chat.commands import Commands
from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.query import QueryError
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.source.export import find_exports, read_export
from bot.post import Post
from bot.store.db import Store
from bot.store.read import SearchError, count_search, fts_query, iter_export_rows, iter_posts, search_posts

from .conftest import CORPUS
from .sample_store import built, sample  # noqa: F401
from .test_chat_review import ask, commands  # noqa: F401
from .test_search_lookalikes import found, stored

TEXTS = {
    1: "Вылетели Ту-95МС из Оленьи",
    2: "Ту95МСМ над Баренцевым морем",  # glued, with a capital
    3: "Ту-95 поднят в воздух",
    4: "Ty-95MS, Latin look-alikes",
    5: "Ту-160 на аэродроме",
    6: "Сбиты Су-30СМ и Су-34",
    7: "Крушение Ту-22M3 (латинская М)",
    8: "Отдал ту 95-ю страницу",  # a word and a number: no designation
    9: "Эвакуировали с 40 человек",  # a preposition and a number
    10: "С-400 отразили атаку",
}


@pytest.fixture
def store(tmp_path: Path):
    s = stored(tmp_path / "s.db", TEXTS)
    yield s
    s.close()


def ruled(store: Store, query: str) -> list[int]:
    """The stored posts a rule of `query` matches."""
    m = Matcher([Rule.from_query("r", query)])
    return sorted(p.message_id for p in iter_posts(store) if m.match(p))


@pytest.mark.parametrize("query, ids", [
    ("Ту-95*", [1, 2, 3, 4]),  # not «ту 95-ю»
    ("Су-3*", [6]),
    ("Ту-22М*", [7]),  # its «М» typed in Latin
    ("С-40*", [10]),  # not «с 40»
    ("Ту-95* Баренцевым", [2]),
])
def test_a_designation_with_a_star_finds_the_posts_its_rule_matches(store: Store, query: str, ids: list[int]) -> None:
    assert found(store, query) == ids and count_search(store, query) == len(ids)
    assert ruled(store, query) == ids


def test_the_designation_found_is_highlighted_whole(store: Store) -> None:
    shown = {h.message_id: [h.text[a:b] for a, b in h.spans] for h in search_posts(store, "Ту-95*")}
    assert shown == {1: ["Ту-95МС"], 2: ["Ту95МСМ"], 3: ["Ту-95"], 4: ["Ty-95MS"]}


def test_a_phrase_holding_a_designation_is_highlighted_once(store: Store) -> None:
    """`search "вылетели Ту-95МС"` listed «вылетели Ту-95МС» and then «95МС» again: a word of the phrase
    found inside it is no second match."""
    shown = {h.message_id: [h.text[a:b] for a, b in h.spans] for h in search_posts(store, '"вылетели Ту-95МС"')}
    assert shown == {1: ["Вылетели Ту-95МС"]}


def test_a_designation_of_many_letter_parts_stops_at_a_thousand_spellings() -> None:
    """Each letter part doubles the spellings in a row (Latin look-alikes): 2,048 phrases for eleven."""
    expression = fts_query("А-В-С-Е-Н-К-М-О-Р-Т-Х-1*").expression
    assert expression.count(" + ") == 1000 * 11


def test_export_search_keeps_the_same_posts(store: Store) -> None:
    rows = iter_export_rows(store, search="Су-3*", all_posts=True)
    assert [r["message_id"] for r in rows] == [6]


@pytest.mark.parametrize("query", ["С-4*", "М-1*", "МиГ-*"])
def test_a_designation_too_broad_is_the_rules_error(store: Store, query: str) -> None:
    with pytest.raises(QueryError) as rule:
        Rule.from_query("r", query)
    for search in (lambda: list(search_posts(store, query)), lambda: count_search(store, query)):
        with pytest.raises(SearchError, match="^search failed: ") as e:
            search()
        said = str(rule.value).replace("or the designations with OR)", "or search each designation on its own)")
        assert str(e.value) == f"search failed: {said}"  # (search has no OR)


def test_cli_search_finds_the_family_and_says_a_too_broad_one_in_one_line(store: Store) -> None:
    db = str(store.path)
    ok = CliRunner().invoke(cli, ["search", "Су-3*", "--db", db])
    assert ok.exit_code == 0, ok.output
    assert "Сбиты Су-30СМ и Су-34" in ok.stdout and "1 post found" in ok.stderr
    bad = CliRunner().invoke(cli, ["search", "полк", "С-4*", "--db", db])
    assert bad.exit_code == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == ["error: search failed: 'С-4*' is too broad: a designation's prefix needs at least 3 "
                                       "letters and digits before '*' (write more of its number, or search each designation "
                                       "on its own) (at character 6)"]


PHRASED = {
    11: "Оснащённый самолётами Ту-95МС полк",
    12: "Самолёт Ту-95 поднят в воздух",
    13: "Самолёт и Ту-95МС",  # not in a row
    14: "Ту-95МС, самолёт",  # not in that order
    15: "Самолёт Ту-160",  # another family
}


@pytest.mark.parametrize("query", ['"самолёт Ту-95*"', "«самолет Ту-95*»"])
def test_a_designation_with_a_star_in_a_phrase_keeps_its_star(tmp_path: Path, query: str) -> None:
    """`"самолёт Ту-95*"` finds «самолётами Ту-95МС» as `Ту-95*` finds «Ту-95МС»: the star was dropped in
    quotes, and the phrase found «самолёт Ту-95» alone. Export and /search read the words the same way."""
    s = stored(tmp_path / "p.db", PHRASED)
    assert found(s, query) == [11, 12] and count_search(s, query) == 2
    assert ruled(s, query) == [11, 12]
    assert [r["message_id"] for r in iter_export_rows(s, search=query, all_posts=True)] == [11, 12]
    shown = {h.message_id: [h.text[a:b] for a, b in h.spans] for h in search_posts(s, query)}
    assert shown == {11: ["самолётами", "Ту-95МС"], 12: ["Самолёт", "Ту-95"]}
    assert found(s, "-" + query + " Ту-95*") == [13, 14]
    s.close()


@pytest.mark.parametrize("query, why", [
    ('"самолёт С-4*"', "search failed: 'С-4*' is too broad: a designation's prefix needs at least 3 letters and digits "
                       "before '*' (write more of its number, or search each designation on its own) (at character 10)"),
    ('"10* дней"', "'10*' in the phrase \"10* дней\": a star there ends a word of 3 letters or more (a number, an "
                   "abbreviation or a shorter word in a phrase is matched whole); write it outside the quotes"),
    ('"удар ВСУ*"', "'ВСУ*' in the phrase \"удар ВСУ*\": a star there ends a word of 3 letters or more (a number, "
                    "an abbreviation or a shorter word in a phrase is matched whole); write it outside the quotes"),
])
def test_a_star_a_phrase_cannot_keep_is_one_line_never_dropped(tmp_path: Path, query: str, why: str) -> None:
    s = stored(tmp_path / "p.db", PHRASED)
    for search in (lambda: list(search_posts(s, query)), lambda: count_search(s, query)):
        with pytest.raises(SearchError) as e:
            search()
        assert str(e.value) == why
    r = CliRunner().invoke(cli, ["search", query, "--db", str(s.path)])
    assert r.exit_code == 2 and r.stdout == "" and r.stderr.splitlines() == [f"error: {why}"]
    s.close()


# --- the real corpus ---------------------------------------------------------------------------

_DESIGNATION_HINT = re.compile(r"[^\W\d_]{1,3}[-\u2010\u2011\u2013]?[0-9]")  # (where any designation may be)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"needs the shared corpus at {CORPUS} (absent here)")
def test_corpus_search_finds_what_the_rule_matches(tmp_path: Path) -> None:
    """The corpus's posts that may name a designation (1,448 of 22,099): search and the rule agree."""
    posts = [p for f in find_exports([CORPUS]) for p in read_export(f)
             if isinstance(p, Post) and _DESIGNATION_HINT.search(p.text or "")]
    s = Store(tmp_path / "c.db")
    list(Pipeline(s, Matcher([Rule.from_query("d", "дезертир")])).process(posts))
    for query, n in [("Ту-95*", 10), ("Су-3*", 7), ("Ан-2*", 17), ("Ту-22М*", 8), ("С-40*", 13)]:
        assert found(s, query) == ruled(s, query) and count_search(s, query) == n, query
    s.close()


def test_chat_search_says_a_too_broad_one_as_the_cli(commands: Commands) -> None:  # noqa: F811
    """/search is the same search core: the rule's error, as the reply."""
    html = unescape(ask(commands, "/search С-4*").html)
    assert html.startswith("/search: search failed: 'С-4*' is too broad: a designation's prefix"), html


def test_a_too_broad_designation_never_advises_the_or_search_refuses(store: Store) -> None:
    """The rule's advice (`the designations with OR`) followed in search was its next error: search's
    line says what search can do instead."""
    db = str(store.path)
    bad = CliRunner().invoke(cli, ["search", "С-4*", "--db", db])
    assert bad.exit_code == 2 and len(bad.stderr.splitlines()) == 1, bad.output
    assert "too broad" in bad.stderr and " OR" not in bad.stderr and "on its own" in bad.stderr, bad.stderr
