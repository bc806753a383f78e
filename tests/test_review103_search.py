"""Review 103 of search, as `tgwatch search` and the chat's /search use it: a damaged search index is
rebuilt from the stored posts (it was SQLite's raw «database disk image is malformed», with advice to
`.recover` a file whose pages were sound); which reading a look-alike word gets is told by the whole
store; «СВО» typed in Cyrillic also finds «CBO» written in Latin capitals. Real SQLite files throughout."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.store.db import Store
from bot.store.read import count_search, fts_query, iter_export_rows, search_posts

from .sample_store import Sample, built, sample  # noqa: F401
from .test_chat_review import ask, commands  # noqa: F401
from .test_store import fts_ok, post


def tg(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def damage_index(db: Path) -> None:
    """Overwrite the search index's segments (FTS5's `posts_fts_data` blobs, past their first bytes):
    the file's pages stay sound, reading the index fails as «database disk image is malformed»."""
    with sqlite3.connect(db) as c:
        c.execute("UPDATE posts_fts_data SET block = substr(block, 1, 4) || "
                  "CAST(replace(hex(zeroblob(length(block) - 4)), '00', 'a5') AS BLOB) WHERE id > 10")
    c.close()


def stored(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("posts", "matches", "stories", "alerts")}


def test_the_damage_is_real(sample: Sample) -> None:  # noqa: F811
    """(What the other tests repair: without the rebuild, a search of it fails.)"""
    damage_index(sample.db)
    with sqlite3.connect(sample.db) as c, pytest.raises(sqlite3.DatabaseError, match="malformed"):
        c.execute("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'дезертир*'").fetchone()
    c.close()


def test_cli_search_rebuilds_a_damaged_index_says_so_once_and_keeps_every_post(sample: Sample) -> None:  # noqa: F811
    before = tg("search", "дезертир", "--db", sample.db, "--limit", "2")
    assert before.exit_code == 0 and "note:" not in before.stderr
    kept = stored(sample.db)
    damage_index(sample.db)
    after = tg("search", "дезертир", "--db", sample.db, "--limit", "2")
    assert after.exit_code == 0, after.output
    assert after.stdout == before.stdout  # the same posts, and the same total on stderr
    [note] = [ln for ln in after.stderr.splitlines() if ln.startswith("note:")]
    assert note == (f"note: {sample.db}: the search index was damaged (database disk image is malformed); "
                    f"rebuilt it from the {kept['posts']} stored posts (nothing stored was lost)")
    assert after.stderr.splitlines()[-1] == before.stderr.splitlines()[-1]
    assert "error" not in after.stderr and "Traceback" not in after.output
    assert stored(sample.db) == kept
    store = Store(sample.db)
    assert fts_ok(store)  # FTS5's own check of the rebuilt index
    store.close()
    again = tg("search", "дезертир", "--db", sample.db, "--limit", "2")
    assert again.stdout == before.stdout and "note:" not in again.stderr  # rebuilt once, not at every search


def test_other_commands_keep_working_on_a_store_whose_index_was_damaged(sample: Sample) -> None:  # noqa: F811
    expected = {cmd: tg(*cmd, "--db", sample.db).stdout for cmd in (("export", "--search", "дезертир"), ("stories",))}
    damage_index(sample.db)
    for cmd, out in expected.items():
        result = tg(*cmd, "--db", sample.db)
        assert result.exit_code == 0 and result.stdout == out, (cmd, result.output)
    assert tg("search", "дезертир", "--db", sample.db).exit_code == 0  # repaired already: no note needed
    assert tg("stats", "--db", sample.db).exit_code == 0


def test_chat_search_answers_as_before_over_a_damaged_index(commands, sample: Sample) -> None:  # noqa: F811
    before = ask(commands, "/search дезертир").html
    assert "дезертир" in before.lower() and "Sorry" not in before
    damage_index(sample.db)
    assert ask(commands, "/search дезертир").html == before  # not «Sorry, that command failed on our side»
    assert ask(commands, "/search сбежал из части").html.count("<a href") >= 1


def test_the_rebuilt_index_keeps_the_folded_readings(tmp_path: Path) -> None:
    """FTS5's own 'rebuild' indexes `posts.text` alone: «дeзертир» with a Latin «e» would no longer be
    found as «дезертир». The rebuild indexes each post as `sync_search` does, with its folded reading."""
    store = Store(tmp_path / "s.db")
    texts = {1: "В части задержан дeзeртир", 2: "Дезертир задержан", 3: "Склад сгорел в Подольске"}
    list(Pipeline(store, Matcher([Rule.from_query("d", "склад")])).process([post(m, t) for m, t in texts.items()]))
    store.close()
    damage_index(tmp_path / "s.db")
    store = Store(tmp_path / "s.db")
    told: list[str] = []
    assert sorted(h.message_id for h in search_posts(store, "дезертир", repaired=told.append)) == [1, 2]
    assert len(told) == 1 and "rebuilt it from the 3 stored posts" in told[0]
    assert count_search(store, "дезертир", repaired=told.append) == 2 and len(told) == 1
    assert [r["message_id"] for r in iter_export_rows(store, search="подольске")] == [3]
    store.close()


def test_a_damaged_file_is_not_taken_for_a_damaged_index(sample: Sample) -> None:  # noqa: F811
    """The posts table's pages themselves damaged: nothing is rebuilt (over what?); the one line says
    the database is damaged and how to rescue its rows, as before."""
    from .test_bad_inputs import damage, one_error

    damage(sample.db)
    line = one_error(tg("search", "дезертир", "--db", sample.db))
    assert line.startswith(f"error: {sample.db}: the database is damaged (database disk image is malformed)")


# -- which reading a look-alike word gets ---------------------------------------------------------

def test_the_reading_of_a_latin_word_is_told_by_the_whole_store_not_by_the_channel_searched(tmp_path: Path) -> None:
    """`search BBC --channel` a channel that never names the broadcaster: counted over that channel
    alone, «ВВС» (the air force) outnumbers «BBC» there, and the search listed its air-force posts.
    What a word is (the broadcaster, or «СВО» disguised) is told by every stored post; the filters say
    where to look. (On the corpus, counts over the channel alone would add 39 «ВВС» posts to `search
    BBC` in six channels, and take «ХО» from `XO` in Mash.)"""
    from bot.post import Post

    from .test_store import WHEN

    def at(channel: int, mid: int, text: str) -> Post:
        return Post(channel_id=channel, message_id=mid, date=WHEN, text=text)

    store = Store(tmp_path / "s.db")
    posts = [at(1, m, f"BBC сообщает о переговорах, выпуск {m}") for m in range(1, 6)]
    posts += [at(2, m, f"ВВС нанесли удар, сводка {m}") for m in range(1, 4)] + [at(2, 4, "Итоги СВО за неделю")]
    list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process(posts))
    assert list(search_posts(store, "BBC", channels=[2])) == [] and count_search(store, "BBC", channels=[2]) == 0
    assert [h.message_id for h in search_posts(store, "CBO", channels=[2])] == [4]  # a disguise: both readings
    assert len(list(search_posts(store, "BBC", channels=[1]))) == 5
    store.close()


LATIN = {
    1: "Итоги СВО за неделю",
    2: "Новости CBO: сводка",  # «СВО» in Latin look-alikes, as channels dodge filters
    3: "Отчёт СВО, ВСУ и потери",
    4: "Биржа: акции cbot и cbo-фонды",  # lower-case Latin: an English word, not the disguise
    5: "Подбит X-59 под Курском",  # the designation's letter in Latin
    6: "Особые башни Скри'Ок и Авилл",  # «ок» after an apostrophe: the index reads it as a word
    7: "Эксперты VK, OK и МТС",  # «ОК» in Latin capitals
    8: "Read how to apply: ok",
    9: "ОК, принято",
    10: "ОК, до встречи",
}


@pytest.fixture
def latin(tmp_path: Path):
    s = Store(tmp_path / "s.db")
    list(Pipeline(s, Matcher([Rule.from_query("d", "дезертир")])).process([post(m, t) for m, t in LATIN.items()]))
    yield s
    s.close()


@pytest.mark.parametrize("query, ids", [
    ("СВО", [1, 2, 3]),  # and not the lower-case «cbo» of an English text
    ('"отчёт СВО"', [3]),
    ("СВО ВСУ", [3]),
    ("Х-59", [5]),
    ("ОК", [6, 7, 9, 10]),  # not «ok» in lower case; «Скри'Ок» as before
    ("ок", [6, 9, 10]),  # typed in lower case: the Cyrillic word alone
])
def test_a_cyrillic_word_in_capitals_finds_its_latin_look_alike_spelling(latin: Store, query: str, ids: list[int]) -> None:
    """«СВО» did not find a post that wrote «CBO» in Latin letters (as `CBO` finds «СВО»): the matcher
    alerts on it for `=СВО`, the search missed it. The Latin spelling counts in capitals only."""
    assert sorted(h.message_id for h in search_posts(latin, query, 50)) == ids
    assert count_search(latin, query) == len(ids)
    assert sorted(r["message_id"] for r in iter_export_rows(latin, search=query, all_posts=True)) == ids


def test_the_latin_spelling_is_highlighted_and_counted_past_the_limit(latin: Store) -> None:
    [hit] = [h for h in search_posts(latin, "СВО") if h.message_id == 2]
    assert [hit.text[a:b] for a, b in hit.spans] == ["CBO"]
    assert len(list(search_posts(latin, "ОК", 3))) == 3  # the lower-case «ok» turned away does not eat the limit
    result = tg("search", "СВО", "--db", latin.path, "--limit", "2")
    assert result.exit_code == 0 and result.stderr.splitlines()[-1] == "2 of 3 posts found (the best 2; use --limit for more)"


def test_a_latin_word_stored_more_often_is_not_read_into_a_cyrillic_query(tmp_path: Path) -> None:
    """The safeguard of `CBO` the other way: «BBC», the broadcaster, is stored more often than «ВВС»,
    the air force: `ВВС` finds the air force alone."""
    texts = {1: "BBC сообщает о переговорах", 2: "По данным BBC, переговоры продолжатся", 3: "ВВС нанесли удар"}
    s = Store(tmp_path / "s.db")
    list(Pipeline(s, Matcher([Rule.from_query("d", "дезертир")])).process([post(m, t) for m, t in texts.items()]))
    assert [h.message_id for h in search_posts(s, "ВВС")] == [3] and count_search(s, "ВВС") == 1
    s.close()


_TO_LATIN = str.maketrans("АВЕКМНОРСТУХ", "ABEKMHOPCTYX")


@given(st.text(alphabet="АВЕКМНОРСТУХ", min_size=2, max_size=8))
def test_any_cyrillic_word_of_look_alike_capitals_reads_its_latin_spelling_in_capitals_only(word: str) -> None:
    q = fts_query(word)
    latin = word.translate(_TO_LATIN)
    assert q.matches(f"Новости {latin}: сводка") and q.matches(f"Новости: {word.lower()}")
    assert not q.matches(f"news {latin.lower()} today")  # lower-case Latin is an English word
    assert q.spans(f"— {latin}") == [(2, 2 + len(latin))]


def test_a_command_that_meets_a_damaged_index_says_how_to_rebuild_it(sample: Sample, tmp_path: Path) -> None:  # noqa: F811
    """A replayed edit takes the old text out of the index and meets the damage: it said «the database is
    damaged … .recover», which would copy the same damaged index. It names the index and the repair."""
    import json
    import re

    from .test_bad_inputs import one_error

    with sqlite3.connect(sample.db) as c:
        rows = c.execute("SELECT channel_id, message_id, date FROM posts ORDER BY rowid").fetchall()
    c.close()
    edits = tmp_path / "edits.jsonl"
    edits.write_text("".join(json.dumps({"channel_id": cid, "message_id": mid, "date": date, "edit_date": "2026-11-30T10:00:00Z",
                                         "text": f"Правка {mid}: задержан дезертир"}) + "\n" for cid, mid, date in rows))
    damage_index(sample.db)
    kept = stored(sample.db)
    line = one_error(tg("replay", edits, "--db", sample.db, "--alerts", "none"))
    assert line.startswith(f"error: {sample.db}: its search index is damaged (database disk image is malformed); "
                           "what is stored is not"), line
    assert stored(sample.db) == kept
    [repair] = re.findall(rf'`sqlite3 {re.escape(str(sample.db))} "([^"]+)"`', line)
    with sqlite3.connect(sample.db) as c:
        c.executescript(repair)  # as the sqlite3 shell runs it
    c.close()
    assert tg("replay", edits, "--db", sample.db, "--alerts", "none").exit_code == 0
    result = tg("search", "правка", "--db", sample.db, "--limit", "1")
    assert result.exit_code == 0 and f"of {len(rows)} posts found" in result.stderr, result.output
