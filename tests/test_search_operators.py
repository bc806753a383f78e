"""Search reads the rule language's operators as a rule does: `-word` and `NOT word` leave posts out
(they were words the post had to contain: `/search дезертир -часть` listed posts with «части» in
bold), `OR` and `NEAR` are refused in one line (a lone `OR` found «example.org» and highlighted
nothing), a number is that number (`10` listed «106»), and past 16 words is refused, not cut."""

from __future__ import annotations

from dataclasses import replace

from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.chat.commands import Commands
from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.post import Entity
from bot.store.db import Store
from bot.store.schema import FTS_TEXT
from bot.store.read import SearchError, count_search, fts_query, iter_export_rows, search_posts

from .sample_store import built, sample  # noqa: F401
from .test_chat_review import ask, commands  # noqa: F401
from .test_search_lookalikes import found, stored
from .test_store import post

TEXTS = {
    1: "Дезертир задержан у воинской части",
    2: "Дезертира нашли дома",
    3: "Дезертир сбежал на Ту-95МС",  # a designation's family, left out only as a rule reads it
    4: "Дезертиры и ту 95-я страница",  # «ту 95»: no designation
    5: "Курс евро 106, доллар 104,1",
    6: "В 10 часов утра",
    7: "Подробнее: https://example.org/news",  # «org» only in a link
}


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = stored(tmp_path / "s.db", TEXTS)
    yield s
    s.close()


def search(store: Store, *words: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, ["search", *words, "--db", str(store.path), "--limit", "all"])
    return r.exit_code, r.stdout, r.stderr


@pytest.mark.parametrize("query, ids", [
    ("дезертир -часть", [2, 3, 4]),  # «части»: the word in any form, as `search часть` finds it
    ("дезертир NOT часть", [2, 3, 4]),
    ('дезертир -"воинская часть"', [2, 3, 4]),  # a phrase left out, in any form
    ("дезертир -Ту-95*", [1, 2, 4]),  # the family as a rule reads it: «ту 95-я» stays
    ("дезертир AND часть", [1]),  # AND is the space
    ("дезертир -часть -дома", [3, 4]),
])
def test_a_word_with_a_minus_or_not_leaves_its_posts_out(store: Store, query: str, ids: list[int]) -> None:
    assert found(store, query) == ids and count_search(store, query) == len(ids)
    assert sorted(r["message_id"] for r in iter_export_rows(store, all_posts=True, search=query)) == ids


def test_search_on_the_command_line_takes_a_word_with_a_minus(store: Store) -> None:
    code, out, err = search(store, "дезертир", "-часть")
    assert code == 0 and "части" not in out and "3 posts found" in err, (out, err)


@pytest.mark.parametrize("query, said", [
    ("-часть", "every word in it is left out"),
    ("NOT часть", "every word in it is left out"),
    ("дезертир NOT", "'NOT' needs a word after it"),
    ("NOT NOT дезертир", "'NOT' needs a word after it"),
    ("дезертир OR часть", "has no OR or NEAR"),
    ("OR", "has no OR or NEAR"),
    ("дезертир NEAR/3 часть", "has no OR or NEAR"),
    ("дезертир -дезертир", "'дезертир' is both asked for and left out"),  # found nothing, said nothing
    ("дезертира NOT дезертир", "'дезертир' is both asked for and left out"),  # «дезертира» starts with it
    ('"воинская часть" -"воинская часть"', "'воинская часть' is both asked for and left out"),
])
def test_an_operator_search_has_not_or_only_left_out_words_is_one_error_line(store: Store, query: str, said: str) -> None:
    code, out, err = search(store, *query.split())
    assert code == 2 and not out and err.startswith("error: ") and err.count("\n") == 1 and said in err, err


def test_a_left_out_word_longer_than_a_wanted_one_is_no_clash() -> None:
    """`дезертир -дезертира` may still find «дезертирство»: searched, not refused."""
    assert fts_query("дезертир -дезертира").expression
    assert fts_query("СОЧ -СОЧИ").expression  # an abbreviation is that word whole: «сочи» is another


def test_a_left_out_word_starting_with_h_is_a_word_not_the_help(store: Store) -> None:
    """click read `-hezbollah` as `-h` and printed the help; a bare `-h` still asks for it."""
    code, out, err = search(store, "дезертир", "-hezbollah")
    assert code == 0 and "Usage" not in out and "4 posts found" in err, (out, err)
    assert "Usage: " in CliRunner().invoke(cli, ["search", "-h"]).stdout


def test_a_lone_or_is_refused_not_found_in_a_link(store: Store) -> None:
    """`search OR` found the post by the «org» of its link and highlighted nothing: OR is the rules'
    operator, refused; in lower case, as in a rule, it is the word."""
    with pytest.raises(SearchError, match="write 'or' in lower case"):
        fts_query("OR")
    assert found(store, "or") == [7]  # (the word as a prefix: «org»; the search index holds links' words)


@pytest.mark.parametrize("query, ids", [("example.org", [7]), ("https://example.org/news", [7]),
                                         ("example.com", []), ("дезертир -example.org", [1, 2, 3, 4])])
def test_a_domain_or_a_link_is_searched_as_its_words_in_a_row(store: Store, query: str, ids: list[int]) -> None:
    """`search rbc.ru` (who links where: an analyst's everyday question) was refused with «nothing to
    search for in 'rbc.ru': it has no words»: a link's words are left out of a query as of a post."""
    assert found(store, query) == ids


def test_a_post_found_by_a_word_of_its_link_says_so(store: Store, commands: Commands) -> None:  # noqa: F811
    """`search example` listed the post with nothing highlighted and no `matched:` line, as if it had
    been found for nothing: its word is in the link, which is searched but never highlighted."""
    code, out, err = search(store, "example")
    assert code == 0 and "found in a link of the post" in out and "1 post found" in err, (out, err)
    assert "found in a link" not in search(store, "дезертир")[1]
    assert "found in a link of the post" in unescape(ask(commands, "/search example.org").html)


def test_a_word_after_an_apostrophe_is_highlighted_not_said_to_be_in_a_link(tmp_path: Path) -> None:
    """The search index parts «скри'ок» at its apostrophe, so `search ок` finds the post; the post has
    no link, yet it was listed as found in a link, «ок» shown nowhere."""
    s = stored(tmp_path / "a.db", {1: "Новий скри'ок знайшли у підвалі"})
    try:
        code, out, err = search(s, "ок")
    finally:
        s.close()
    assert code == 0 and "1 post found" in err, (out, err)
    assert "found in a link" not in out and "matched: ок" in out, out


def test_the_chat_says_what_the_command_line_says(commands: Commands) -> None:  # noqa: F811
    for text, said in [("/search дезертир OR часть", "has no OR or NEAR"), ("/search -часть", "left out"),
                       ("/search " + " ".join(f"слово{i}" for i in range(17)), "at most 16")]:
        reply = unescape(ask(commands, text).html)
        assert said in reply and "\n" not in reply.strip(), reply
    assert "<b>част" not in ask(commands, "/search дезертир -часть").html.lower()


@pytest.mark.parametrize("query, ids", [("10", [6]), ("106", [5]), ("10*", [5, 6]), ('"10 часов"', [6])])
def test_a_number_is_that_number_and_a_prefix_only_with_a_star(store: Store, query: str, ids: list[int]) -> None:
    assert found(store, query) == ids


def test_a_number_found_is_highlighted_alone(store: Store) -> None:
    assert [[h.text[a:b] for a, b in h.spans] for h in search_posts(store, "10")] == [["10"]]


def test_more_than_sixteen_words_is_refused_naming_the_limit(store: Store) -> None:
    sixteen = [f"слово{i}" for i in range(16)]
    assert search(store, *sixteen)[0] == 1  # searched: nothing has them
    code, out, err = search(store, *sixteen, "дезертир")
    assert code == 2 and not out and "too many words: 17" in err and "at most 16" in err and err.count("\n") == 1, err
    assert search(store, '"' + " ".join(sixteen + ["дезертир"]) + '"')[0] == 1  # quoted: one phrase


def stored_with_a_text_link(path: Path) -> Store:
    """SHOT's footer: «Подписывайся на SHOT», the word SHOT linking t.me/shot_shot (574 corpus posts)."""
    p = replace(post(1, "Подписывайся на SHOT"), entities=(Entity("text_url", 16, 4, "https://t.me/shot_shot"),))
    s = Store(path)
    list(Pipeline(s, Matcher([Rule.from_query("d", "дезертир")])).process([p]))
    return s


def test_a_link_behind_a_posts_words_is_searched(tmp_path: Path) -> None:
    """`search t.me/shot_shot` found none of the 574 corpus posts whose «SHOT» links there: only links
    written out were in the search index."""
    s = stored_with_a_text_link(tmp_path / "s.db")
    hits = list(search_posts(s, "t.me/shot_shot", 5))
    assert [h.message_id for h in hits] == [1] and hits[0].in_links_only
    assert found(s, "подписывайся") == [1]  # the text as before
    s.close()


def test_a_store_indexed_before_finds_its_posts_by_the_links_behind_their_words(tmp_path: Path) -> None:
    """A store made before the links were indexed gets them when tgwatch opens it (migration 16)."""
    s = stored_with_a_text_link(tmp_path / "s.db")
    with s.transaction():  # as an older tgwatch stored and indexed it: the text alone
        s.db.execute(f"INSERT INTO posts_fts (posts_fts, rowid, text) SELECT 'delete', rowid, {FTS_TEXT} FROM posts")
        s.db.execute("UPDATE posts SET folded = NULL")
        s.db.execute("INSERT INTO posts_fts (rowid, text) SELECT rowid, text FROM posts")
        s.db.execute("PRAGMA user_version = 15")
    s.close()
    assert found(Store(tmp_path / "s.db"), "t.me/shot_shot") == [1]
