"""`tgwatch search КТО` is the abbreviation, as the README and `--help` say («up to 5 letters in
capitals: that word only») and as a rule's `=КТО` is: only where a post writes it in capitals. It
was the pronoun «кто» too (722 posts of the corpus, 6 of them the regime), and `=КТО`, the rule
language's way to say so, had its `=` dropped without a word. The sample store (five posts of the
Новоборск regime КТО) plus posts with the pronoun, replayed through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.store.read import SearchError, fts_query

from .sample_store import Sample, built, sample  # noqa: F401
from .test_export import assert_clean_error, run

REGIME = {"1700000003/90437", "1700000001/48243", "1700000002/18755", "1700000001/48239", "1700000003/90443"}
PRONOUN = {
    99001: "Кто будет отвечать за эвакуацию в Новоборске? Этот режим кто-то назовёт перестраховкой.",
    99002: "КТО ВИНОВАТ В ТОМ, ЧТО НОВОБОРСК ОСТАЛСЯ БЕЗ СВЕТА?",  # shouted: the pronoun, as a rule's =КТО reads it
    99003: "Кто объявил режим КТО в Новоборске, рассказали в мэрии.",  # both: the abbreviation found, alone highlighted
}


@pytest.fixture
def db(sample: Sample, tmp_path: Path) -> Path:  # noqa: F811
    lines = tmp_path / "pronoun.jsonl"
    lines.write_text("".join(json.dumps({"channel_id": 1700000003, "message_id": mid, "date": f"2026-11-22T0{i}:00:00Z",
                                         "text": text}, ensure_ascii=False) + "\n"
                             for i, (mid, text) in enumerate(PRONOUN.items())), encoding="utf-8")
    r = run("replay", lines, "--db", sample.db, "--alerts", "none")
    assert r.exit_code == 0, r.output
    return sample.db


def links(out: str) -> set[str]:
    return {line.split("https://t.me/c/")[1] for line in out.splitlines() if "https://t.me/c/" in line}


@pytest.mark.parametrize("query", ["КТО", "=КТО"])
def test_an_abbreviation_in_capitals_is_found_only_in_capitals(db: Path, query: str) -> None:
    r = run("search", query, "--db", db)
    assert r.exit_code == 0, r.output
    assert links(r.stdout) == REGIME | {"1700000003/99003"}
    assert r.stderr == "6 posts found\n"


def test_only_the_capitals_are_highlighted(db: Path) -> None:
    r = run("search", "КТО", "--db", db)  # piped: a `matched:` line names the words found
    block = next(b for b in r.stdout.split("\n\n") if "/99003" in b)
    assert block.splitlines()[-1] == "  matched: КТО"


def test_the_word_in_lower_case_is_still_every_form_of_the_pronoun(db: Path) -> None:
    r = run("search", "кто", "--db", db, "--limit", "all")
    assert r.exit_code == 0, r.output
    assert {f"1700000003/{m}" for m in PRONOUN} <= links(r.stdout)


def test_an_exact_form_in_lower_case_is_that_form_in_any_case(db: Path) -> None:
    """`=кто`, as in a rule: «кто» whole, not its other forms («ком» of «снежный ком»)."""
    exact = links(run("search", "=кто", "--db", db, "--limit", "all").stdout)
    assert exact == REGIME | {f"1700000003/{m}" for m in PRONOUN}
    assert "1700000003/90432" in links(run("search", "кто", "--db", db, "--limit", "all").stdout)  # «ком»


def test_an_abbreviation_left_out_leaves_out_only_the_capitals(db: Path) -> None:
    r = run("search", "Новоборске", "-КТО", "--db", db, "--limit", "all")
    assert r.exit_code == 0, r.output
    found = links(r.stdout)
    assert "1700000003/99001" in found and not found & (REGIME | {"1700000003/99003"})


def test_an_abbreviation_in_a_phrase_is_in_capitals_too(db: Path) -> None:
    r = run("search", '"режим КТО"', "--db", db, "--limit", "all")
    assert r.exit_code == 0, r.output
    assert links(r.stdout) == REGIME | {"1700000003/99003"}  # not «режим кто-то»


def test_export_search_reads_capitals_alike(db: Path) -> None:
    r = run("export", "--db", db, "--all-posts", "--format", "jsonl", "--search", "КТО")
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert {f"{row['channel_id']}/{row['message_id']}".removeprefix("-100") for row in rows} == REGIME | {"1700000003/99003"}


def test_an_exact_form_with_a_star_is_refused_as_in_a_rule(db: Path) -> None:
    with pytest.raises(SearchError, match="'=' and '\\*' cannot be combined"):
        fts_query("=КТО*")
    assert_clean_error(run("search", "=КТО*", "--db", db), "'=' and '*' cannot be combined")


def test_search_help_says_capitals_are_an_abbreviation_in_capitals() -> None:
    said = " ".join(run("search", "--help").stdout.split())
    assert "=КТО" in said and "not the pronoun «кто»" in said
