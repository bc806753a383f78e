"""`tgwatch search` reads quotes and capitals as an analyst means them: a quoted part is a phrase
(its words in that order), and a short word in capitals an abbreviation matched whole (СОЧ is
not Сочи). The reviewer's corpus run found prison escapes and emigrants for `search "сбежал из
части"`, and 40 posts about Сочи for СОЧ."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.store.db import Store
from bot.store.read import fts_query, search_posts

from .test_export import csv_rows, run
from .test_store import post

TEXTS = {
    1: "Из воинской части сбежал солдат, его ищут",
    2: "Рядовой сбежал из части под Курском",
    3: "Заключённый сбежал из колонии, в части города перекрыли дороги",
    4: "В Сочи открыли пляжный сезон",
    5: "Военные, самовольно оставившие часть (СОЧ), вернутся в строй",
    6: "Сочинский суд рассмотрит дело",
    7: "Он ушёл из части ночью",
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    store = Store(path)
    list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process([post(m, t) for m, t in TEXTS.items()]))
    store.close()
    return path


def found(db: Path, query: str) -> list[int]:
    store = Store(db)
    try:
        return sorted(h.message_id for h in search_posts(store, query, 50))
    finally:
        store.close()


def test_a_quoted_part_is_a_phrase(db: Path) -> None:
    assert found(db, "сбежал из части") == [1, 2, 3]  # unquoted: the words anywhere, as before
    for quoted in ('"сбежал из части"', "«сбежал из части»", "“сбежал из части”"):
        assert found(db, quoted) == [2], quoted
    assert found(db, '"сбежал из части" Курском') == [2]  # a phrase and a word
    assert found(db, '"ушел из части"') == [7]  # ё folded, as for single words
    assert found(db, '"сбежа из час"') == [2]  # each word a word start


def test_a_phrase_is_highlighted_whole(db: Path) -> None:
    store = Store(db)
    try:
        [hit] = search_posts(store, '"сбежал из части"')
    finally:
        store.close()
    assert [hit.text[s:e] for s, e in hit.spans] == ["сбежал из части"]


def test_a_short_word_in_capitals_is_that_word_only(db: Path) -> None:
    assert found(db, "СОЧ") == [5]
    assert found(db, "соч") == [4, 5, 6]  # lower case: a word start, as before
    assert fts_query("СОЧ").expression == '"соч"'
    assert found(db, '"оставившие часть СОЧ"') == [5]  # inside a phrase too
    assert found(db, "ВОИНСКОЙ") == [1]  # a long word in capitals is a word as any other


def test_the_command_reads_an_argument_the_shell_unquoted_as_a_phrase(db: Path) -> None:
    r = run("search", "сбежал из части", "--db", db)  # typed: tgwatch search "сбежал из части"
    assert r.exit_code == 0, r.output
    assert r.stdout.count("https://t.me/") == 1 and "mash/2" in r.stdout
    r = run("search", "сбежал", "из", "части", "--db", db)
    assert r.stdout.count("https://t.me/") == 3
    r = run("search", "СОЧ", "--db", db)
    assert r.stdout.count("https://t.me/") == 1 and "mash/5" in r.stdout


def test_export_search_reads_quotes_the_same_way(db: Path) -> None:
    r = run("export", "--db", db, "--all-posts", "--search", '"сбежал из части"')
    assert r.exit_code == 0, r.output
    assert [row["message_id"] for row in csv_rows(r.stdout)] == ["2"]


def test_search_help_says_how_quotes_and_capitals_are_read() -> None:
    r = run("search", "--help")
    assert '"сбежал из части"' in r.stdout and "СОЧ" in r.stdout and "Quotes and punctuation are ignored" not in r.stdout
