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
from bot.store.read import count_search, fts_query, search_posts

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


def test_a_star_after_a_short_word_in_capitals_makes_it_a_word_start(db: Path) -> None:
    """`search ВСУ*` found what `search ВСУ` finds: the star, which makes a number a prefix (`10*`), was
    dropped without a word. It asks for the word start, as a star does everywhere."""
    assert found(db, "СОЧ*") == [4, 5, 6]


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


# -- a phrase in any inflection ------------------------------------------------------------------
# The corpus run: `search "воинская часть"` (how an analyst names it) found nothing, though five
# posts say «воинской части» and three «воинскую часть»: a phrase's words were word starts only,
# while a word alone is found in every inflection.

INFLECTED = {
    11: "Солдат самовольно покинул воинскую часть под Курском",
    12: "Таксисты завышают цены возле воинской части",
    13: "В воинских частях объявили сборы",
    14: "Воинская слава и часть истории",  # both words, not in a row
    15: "Часть воинская не пострадала",  # the other order
    16: "Он сбежал из части, а потом сбежали из части ещё двое",
}


@pytest.fixture
def inflected(tmp_path: Path) -> Path:
    path = tmp_path / "i.db"
    store = Store(path)
    list(Pipeline(store, Matcher([Rule.from_query("d", "воинская часть")])).process(
        [post(m, t) for m, t in INFLECTED.items()]))
    store.close()
    return path


def test_a_phrase_finds_its_words_inflected_in_a_row(inflected: Path) -> None:
    assert found(inflected, '"воинская часть"') == [11, 12, 13]
    assert found(inflected, "«воинской части»") == [11, 12, 13]
    assert found(inflected, '"сбежали из части"') == [16]
    assert found(inflected, '"часть воинская"') == [15]  # the order still counts


def test_an_inflected_phrase_is_counted_highlighted_and_exported_alike(inflected: Path) -> None:
    store = Store(inflected)
    try:
        hits = list(search_posts(store, '"воинская часть"', 2))
        assert len(hits) == 2 and count_search(store, '"воинская часть"') == 3  # the limit applies after the check
        [hit] = [h for h in search_posts(store, '"воинская часть"', 10) if h.message_id == 12]
        assert [hit.text[s:e] for s, e in hit.spans] == ["воинской части"]
    finally:
        store.close()
    r = run("search", "воинская часть", "--db", inflected, "--limit", "1")  # typed: search "воинская часть"
    assert r.exit_code == 0 and "1 of 3 posts found" in r.stderr, r.output
    r = run("export", "--db", inflected, "--all-posts", "--search", '"воинская часть"')
    assert [row["message_id"] for row in csv_rows(r.stdout)] == ["11", "12", "13"]


@pytest.mark.parametrize("phrase", ["воинская часть", "сбежал из части", "в москве", "самовольно оставил позиции"])
def test_every_inflection_of_a_phrase_is_found(tmp_path: Path, phrase: str) -> None:
    """Each combination of the forms of a phrase's words (the morphology's own) is found by the phrase."""
    from itertools import product as combinations

    from bot.match.morph import default_morphology

    words = phrase.split()
    forms = [sorted(default_morphology().forms(w)) if len(w) > 2 else [w] for w in words]
    texts = [" ".join(c) for c in list(combinations(*forms))[:400]]
    store = Store(tmp_path / "f.db")
    try:
        list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process(
            [post(i, f"Сообщают: {t}.") for i, t in enumerate(texts, 1)]))
        assert count_search(store, f'"{phrase}"') == len(texts)
    finally:
        store.close()


def test_export_search_reads_what_the_shell_passes_as_search_does(db: Path) -> None:
    """`tgwatch search "сбежал из части"` found 1 post and `tgwatch export --search "сбежал из
    части"` exported 3: the same typed words, read as a phrase by one and as words by the other."""
    def searched(*words: str) -> list[str]:
        r = run("search", *words, "--db", db, "--limit", "50")
        return sorted(line.split("/mash/")[1].split()[0] for line in r.stdout.splitlines() if "/mash/" in line)

    def exported(*options: str) -> list[str]:
        r = run("export", "--db", db, "--all-posts", *options)
        assert r.exit_code == 0, r.output
        return sorted(row["message_id"] for row in csv_rows(r.stdout))

    assert exported("--search", "сбежал из части") == searched("сбежал из части") == ["2"]
    assert exported("--search", "сбежал", "--search", "части") == searched("сбежал", "части") == ["1", "2", "3"]
