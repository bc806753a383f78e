"""A query is case-folded in full («Straße» is «strasse», «Երևան» is «երեւան»), but SQLite's FTS5
folds one letter to one, and only as Unicode 6.1 knew them (Georgian capitals «ᲗᲑᲘᲚᲘᲡᲘ» came in
Unicode 11): such a post was matched by the rules, yet `search` never found it by that word. The
index now holds a folded reading of those posts, and a store indexed before is read again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import bot.text
from bot.match.matcher import Matcher
from bot.pipeline import Pipeline
from bot.store.db import Store
from bot.store.read import count_search, search_posts
from bot.text import FTS_TOKENIZE, normalize, search_fold

from .test_search_glued_symbols import indexed
from .test_store import post

TEXTS = {
    1: "Die Straße nach Berlin ist gesperrt",
    2: "Акция протеста в Ереване: Երևանում բողոքի ակցիա",
    3: "ᲗᲑᲘᲚᲘᲡᲘ: митинг у парламента",  # (Georgian written in capitals)
    4: "Strasse in Berlin",  # (no such letter: found as always)
}
QUERIES = {"Straße": [1, 4], "Երևանում": [2], "თბილისი": [3], "ᲗᲑᲘᲚᲘᲡᲘ": [3]}


def _stored(path: Path) -> Store:
    store = Store(path)
    list(Pipeline(store, Matcher([])).process([post(m, t) for m, t in TEXTS.items()]))
    return store


def test_search_finds_a_word_fts5_folds_otherwise_and_marks_it_where_written(tmp_path: Path) -> None:
    store = _stored(tmp_path / "s.db")
    try:
        for query, found in QUERIES.items():
            assert sorted(h.message_id for h in search_posts(store, query, 50)) == found, query
        hit = next(h for h in search_posts(store, "Երևանում", 50))
        assert [TEXTS[2][a:b] for a, b in hit.spans] == ["Երևանում"]
        hit = next(h for h in search_posts(store, "Straße", 50) if h.message_id == 1)
        assert [TEXTS[1][a:b] for a, b in hit.spans] == ["Straße"]
    finally:
        store.close()


def test_a_store_indexed_before_finds_them_after_the_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.text, "search_fold", lambda text: None)  # as the index was: no folded reading
    store = _stored(tmp_path / "s.db")
    assert count_search(store, "Երևանում") == 0
    store.db.execute("PRAGMA user_version = 25")  # before migration 26, which reads such posts again
    store.close()
    monkeypatch.undo()
    store = Store(tmp_path / "s.db")
    try:
        assert {q: sorted(h.message_id for h in search_posts(store, q, 50)) for q in QUERIES} == QUERIES
    finally:
        store.close()


def test_every_letter_a_query_folds_is_found_as_the_query_reads_it() -> None:
    """Each letter case folding changes, alone as a post: the index holds what FTS5 makes of the
    query's reading of it (`normalize`), so a search for it finds the post. (Not Ё, which a query
    finds spelt either way, nor Ѐ and Ѝ, whose grave accent `normalize` drops: no case folding.)"""
    letters = [c for c in map(chr, range(0x110000)) if c.isalpha() and c.casefold() != c and c not in "ЁЀЍ"]
    conn = sqlite3.connect(":memory:")
    try:
        for table in ("post", "query"):
            conn.execute(f"CREATE VIRTUAL TABLE {table} USING fts5(x, tokenize='{FTS_TOKENIZE}')")
            conn.execute(f"CREATE VIRTUAL TABLE temp.{table}_terms USING fts5vocab(main, {table}, instance)")
        conn.executemany("INSERT INTO post (rowid, x) VALUES (?, ?)", [(ord(c), indexed(c)) for c in letters])
        conn.executemany("INSERT INTO query (rowid, x) VALUES (?, ?)", [(ord(c), normalize(c)) for c in letters])

        def terms(table: str) -> dict[int, set[str]]:
            out: dict[int, set[str]] = {}
            for term, doc in conn.execute(f"SELECT term, doc FROM temp.{table}_terms"):
                out.setdefault(doc, set()).add(term)
            return out
        held, asked = terms("post"), terms("query")
    finally:
        conn.close()
    missed = [c for c in letters if not asked.get(ord(c), set()) <= held.get(ord(c), set())]
    assert not missed, "".join(missed)
    assert search_fold("Путин выступил в Москве") is None  # (Cyrillic, Latin: FTS5 folds them as a query does)
