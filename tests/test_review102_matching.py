"""Review 102: three matching gaps an analyst meets. A designation with a star (`Ту-95*`) was refused;
a typo of a short word took another word («проном» for дрон); a word glued to a bare domain
(«Читайтеlenta.ru») read differently in `words` and `tokenize`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.cli import cli
from bot.match.query import QueryError, parse
from bot.text import find_urls, normalize_word, rough_words, tokenize, words

from .test_matching_gaps import forms, matcher  # noqa: F401

_ENV = {"COLUMNS": "200", "LINES": "25", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": "1"}


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=_ENV)


# -- 1. a designation with a star --------------------------------------------------------------


@pytest.mark.parametrize("query, text, hit", [
    ("Ту-95*", "Пуски совершили бомбардировщики Ту-95", ["Ту", "95"]),
    ("Ту-95*", "взлетели Ту-95МС", ["Ту", "95МС"]),
    ("Ту-95*", "модернизированный Ту-95МСМ", ["Ту", "95МСМ"]),
    ("Ту-95*", "взлетели Ту95МС", ["Ту95МС"]),  # glued, as «С400» is С-400
    ("Ту-95*", "взлетели TY-95MC", ["TY", "95MC"]),  # in Latin look-alikes
    ("Ту-160*", "ракетоносец Ту-160М", ["Ту", "160М"]),  # a number of 3 digits was read as exact
    ("Су-3*", "пара Су-30СМ и Су-34", ["Су", "30СМ", "Су", "34"]),
    ("Ту-22М*", "Ту-22M3 над морем", ["Ту", "22M3"]),  # the letters after the number in Latin
])
def test_a_designation_with_a_star_matches_its_family(query: str, text: str, hit: list[str]) -> None:
    assert forms(query, text) == hit


@pytest.mark.parametrize("query, text", [
    ("Ту-95*", "ту 95 человек"),  # a word and a number, not hyphenated: no designation
    ("Ту-95*", "Ту 95"),
    ("Ту-95*", "ту95мс"),  # glued in lower case, as «х10» is no Х-10
    ("Ту-95*", "Ту-9 и Ту-214"),  # another number
    ("Су-3*", "Су-24 и Су-27"),
])
def test_a_designation_with_a_star_takes_no_other_designation(query: str, text: str) -> None:
    assert forms(query, text) == []


@pytest.mark.parametrize("query, says", [
    ("С-4*", "'С-4*' is too broad"),  # the explosive С-4 and С-400 alike
    ("М-1*", "'М-1*' is too broad"),  # highways М-1, М-11
    ("МиГ-*", "needs the first digit of its number"),  # was read as миг*, and took «мигранты»
    ("Су-*", "needs the first digit of its number"),
    ("аб*", "at least 3 letters"),  # a word's prefix as before
])
def test_a_designation_prefix_too_broad_is_refused_with_why(query: str, says: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(query)
    assert says in info.value.message and info.value.pos == 0


def test_a_capitalised_word_and_a_hyphen_is_still_a_prefix() -> None:
    """Only a designation's few letters ask for a number: `Северо-*` is the prefix северо*, as before."""
    assert forms("Северо-*", "на Северо-Западе") == ["Северо"]


def test_rules_check_accepts_a_designation_with_a_star_and_runs_its_examples(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(
        '[[rule]]\nname = "bombers"\nquery = \'Ту-95* OR Ту-160*\'\n'
        'should_match = ["Взлетели Ту-95МС", "Ту-160М над морем", "Ту95МСМ"]\n'
        'should_not_match = ["Ту-214 сел", "ту 95 человек"]\n', encoding="utf-8")
    r = run("rules", "check", tmp_path / "a.toml")
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "1 rule in 1 file loaded, 0 errors"


def test_rules_check_names_a_too_broad_designation_prefix_by_line(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[[rule]]\nname = "x"\nquery = \'С-4*\'\n', encoding="utf-8")
    r = run("rules", "check", tmp_path / "a.toml")
    assert r.exit_code != 0
    assert f"{tmp_path / 'a.toml'}:3:" in r.output and "'С-4*' is too broad" in r.output
    assert "Traceback" not in r.output


# -- 2. typos of short words -------------------------------------------------------------------


@pytest.mark.parametrize("query, text", [
    ("дрон", "закрепился за проном"),  # a form of 6 letters (дроном) of a word of 4: no typo in any form
    ("дрон", "схемы с дропами и дропы"),
    ("мина", "аналитики Финам считают"),
    ("полк", "салат поке"),
    ("ракета", "в бакете со льдом"),  # a short word's typo never changes its first letter
    ("камера", "скамеры звонят пенсионерам"),
    ("часть", "вино асти"),
    ("живой", "это жиза"),  # a form of 4 letters (жива) of a longer word: no typo either
])
def test_a_short_word_takes_no_other_word_for_a_typo(query: str, text: str) -> None:
    """Each was a typo hit on the corpus (one edit from a form, and no dictionary word)."""
    assert forms(query, text) == []


@pytest.mark.parametrize("query, text, hit", [
    ("аэропорт", "рейсы из аэрпорту задержаны", "аэрпорту"),
    ("военнослужащий", "военослужащий задержан", "военослужащий"),
    ("площадь", "на плошадь вышли", "плошадь"),
    ("территория", "на территориии части", "территориии"),
    ("самоволка", "за самолволку", "самолволку"),
    ("статья", "по статю 338", "статю"),  # a word of 6 letters, its first letter kept
    ("Курск", "в курскуо область", "курскуо"),
    ("дрон~1", "атака дронв", "дронв"),  # asked for: a short word's typo still hits
])
def test_a_misspelling_still_hits(query: str, text: str, hit: str) -> None:
    """Misspellings the corpus has (and one asked for with ~1) are typos as before."""
    found = matcher(query).match(text)
    assert found, text
    assert [(h.form, h.kind) for h in found[0].hits] == [(hit, "typo")]


# -- 3. a word glued to a bare domain ------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Читайтеlenta.ru", ["читайте"]),
    ("Подробнееria.ru/20240101/x.html", ["подробнее"]),
    ("ИсточникT.me/baza", ["источник"]),  # was «источникт», «me», «baza» to `words`, nothing to `tokenize`
    ("смотритеwww.ya.ru и далее", ["смотрите", "и", "далее"]),
])
def test_a_word_glued_to_a_domain_is_the_word(text: str, expected: list[str]) -> None:
    assert words(text) == [t.text for t in tokenize(text)] == expected


def test_a_rule_word_glued_to_a_domain_matches() -> None:
    """«дезертирыria.ru»: the post's last word runs into the link a channel pasted after it."""
    assert forms("дезертир", "В Подмосковье задержали дезертировria.ru") == ["дезертиров"]


_CYRILLIC = st.text(st.sampled_from("абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИКЛМНОПРСТУФХЦЧШЩЭЮЯ"), min_size=1, max_size=10)
_LABEL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=8)
_DOMAIN = st.builds(lambda head, labels, tld, path: head + ".".join(labels) + "." + tld + path,
                    st.sampled_from(["", "", "https://", "http://", "www.", "t.me/"]),
                    st.lists(_LABEL, min_size=1, max_size=3),
                    st.sampled_from(["ru", "com", "org", "me", "рф", "RU"]),
                    st.sampled_from(["", "/", "/news/1", "/a_b?x=1"]))
_AROUND = st.text(st.sampled_from("абв дезертир ABC xyz 12 ,.!—«»\n"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_AROUND, _CYRILLIC, _DOMAIN, _AROUND)
@example("", "Читайте", "lenta.ru", "")
@example("", "Источник", "t.me/baza", "")
def test_words_and_tokenize_agree_on_a_word_glued_to_a_domain(before: str, word: str, domain: str, after: str) -> None:
    """`words` (search, stories) and `tokenize` (the matcher) read one post alike: a Cyrillic word glued to
    a link is the word, whatever the link; and the matcher's quick filter has it too."""
    text = f"{before} {word}{domain} {after}"
    assert find_urls(text), text  # (every generated domain is a link)
    got = [t.text for t in tokenize(text)]
    assert words(text) == got
    assert set(got) <= {normalize_word(w) for w in rough_words(text)}
    glued = next(t for t in tokenize(text) if t.start == len(before) + 1)
    assert text[glued.start:glued.end] == word
