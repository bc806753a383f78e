"""The store on a real SQLite file: schema versions, search index kept right across edits."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.post import Entity, Post, content_hash
from bot.store.db import REPLAY, SCHEMA_VERSION, Store, StoreError
from bot.store.read import search_posts

WHEN = datetime(2024, 11, 20, 9, 0, tzinfo=timezone.utc)


def post(mid: int, text: str) -> Post:
    return Post(channel_id=1117628569, message_id=mid, date=WHEN, text=text, channel_username="mash")


def test_edit_replaces_the_post_in_the_search_index(tmp_path):
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(1, "Склад сгорел в Подольске"), post(2, "Погода на выходные")]))
    assert [h.message_id for h in search_posts(store, "склад")] == [1]
    list(pipe.process([post(1, "Пожар потушили, в Подольске задержан дезертир")]))
    assert list(search_posts(store, "склад")) == []
    assert [h.message_id for h in search_posts(store, "пожар")] == [1]
    assert store.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1


def test_an_edit_that_drops_the_keyword_drops_the_post_from_the_rule_counts(tmp_path):
    """A post edited to no longer match a rule is no hit of it any more: `stats`, `export --rule`
    and `stories --rule` count only what a post says now (the alert already sent stays)."""
    from bot.store.counts import rule_hits

    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(1, "В Подольске задержан дезертир"), post(2, "Ещё один дезертир пойман")]))
    assert rule_hits(store, WHEN) == {"d": 2}
    alerts = store.db.execute("SELECT count(*) FROM alerts").fetchone()[0]
    edited = post(1, "В Подольске задержан нарушитель ПДД")
    edited.edit_date = WHEN.replace(hour=WHEN.hour + 1)
    list(pipe.process([edited]))
    assert rule_hits(store, WHEN) == {"d": 1}
    assert store.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == alerts


def test_new_database_has_the_current_schema_and_reopens(tmp_path):
    Store(tmp_path / "s.db").close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    assert {"posts", "matches", "stories", "alerts", "channels", "posts_fts"} <= set(store.db.table_names())


def test_a_store_from_before_silence_warnings_were_kept_upgrades_and_keeps_them(tmp_path):
    """Migration 11: the channels warned about as silent are kept in the store (a restart does not
    warn again); a store from before has none, and gets its table on opening."""
    store = Store(tmp_path / "s.db")
    store.db.execute("DROP TABLE silence_warnings")
    store.db.execute("PRAGMA user_version = 10")
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION and store.silence_warned() == set()
    store.warn_silence(1117628569, "2024-11-20T22:00:00+00:00")
    store.warn_silence(1000001, "2024-11-20T22:00:00+00:00")
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.silence_warned() == {1117628569, 1000001}
    store.clear_silence([1000001])
    assert store.silence_warned() == {1117628569}


def _before_alert_owners(store: Store) -> None:
    """`store` as a tgwatch before migration 15 left it: no `alerts.owner`."""
    store.db.execute("ALTER TABLE alerts DROP COLUMN owner")
    store.db.execute("PRAGMA user_version = 14")
    store.close()


def test_a_replay_only_store_from_before_alert_owners_keeps_its_unshown_alerts_for_replay(tmp_path):
    """Migration 15: a store the live service never ran on holds a replay's alerts alone: the one a
    stopped replay left queued is shown by the next replay, and never sent by `tgwatch run`."""
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(1, "В Подольске задержан дезертир")]))
    _before_alert_owners(store)
    live = Store(tmp_path / "s.db")
    assert live.version == SCHEMA_VERSION and live.queued_alerts() == []
    live.close()
    replay = Store(tmp_path / "s.db", owner=REPLAY)
    assert [(r["message_id"], r["state"]) for r in replay.queued_alerts()] == [(1, "queued")]


def test_a_live_store_from_before_alert_owners_keeps_the_services_alerts_for_the_chat(tmp_path):
    """Migration 15, a store the live service ran on: an alert queued (a flood wait, the digest)
    is still the service's to send, and a sent one with its message in the chat still gets its
    story updates there; an alert marked sent with no message sent was a replay's terminal's."""
    store = Store(tmp_path / "s.db")
    store.mark_resolved(1117628569, "Mash", "mash")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    texts = ("В Подольске задержан дезертир", "Дезертира задержали в Туле", "Дезертир сдался в Курске")
    list(pipe.process([post(i, f"{i} {t}") for i, t in enumerate(texts, 1)]))
    assert store.count("alerts") == 3
    store.mark_alert(2, "sent")  # through the chat: its message is recorded
    store.plan_delivery(2, "me", 0, 42, "h")
    store.mark_alert(3, "sent")  # printed by a replay
    _before_alert_owners(store)
    live = Store(tmp_path / "s.db")
    assert [r["id"] for r in live.queued_alerts()] == [1]
    assert dict(live.db.execute("SELECT id, owner FROM alerts").fetchall()) == {1: "live", 2: "live", 3: "replay"}


def test_a_store_from_before_the_search_merge_setting_upgrades_and_still_finds_its_posts(tmp_path):
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(1, "Склад сгорел в Подольске")]))
    store.db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('automerge', 4)")
    store.db.execute("PRAGMA user_version = 4")
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    assert store.db.execute("SELECT v FROM posts_fts_config WHERE k = 'automerge'").fetchone()[0] == 16
    list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process([post(2, "Склад в Подольске потушили")]))
    assert sorted(h.message_id for h in search_posts(store, "склад")) == [1, 2]


DISGUISED = {
    11: "В части задержан дeзeртир",  # Latin «e» twice
    12: "Солдат сaмовольно покинул пост",  # Latin «a»
    13: "Дезер\u00adтир задержан у КПП",  # a soft hyphen inside the word
    14: "Объявлен розыск, подробности: #ДезертирПойман",  # CamelCase hashtag
    15: "Задержан дезертир, и\u0306дут проверки",  # «й» as «и» + combining breve
}


def fts_ok(store: Store) -> bool:
    """FTS5's own check of the index's inner consistency (raises when it is corrupt)."""
    store.db.execute("INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')")
    return True


def test_disguised_words_are_found_by_search_and_highlighted(tmp_path):
    store = Store(tmp_path / "s.db")
    list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process(
        [post(mid, text) for mid, text in DISGUISED.items()] + [post(16, "Склад сгорел в Подольске")]))
    hits = {h.message_id: h for h in search_posts(store, "дезертир")}
    assert set(hits) == {11, 13, 14, 15}
    assert [hits[11].text[s:e] for s, e in hits[11].spans] == ["дeзeртир"]
    assert [hits[13].text[s:e] for s, e in hits[13].spans] == ["Дезер\u00adтир"]
    assert [h.message_id for h in search_posts(store, "самовольно")] == [12]
    assert [h.message_id for h in search_posts(store, "идут")] == [15]
    assert [h.message_id for h in search_posts(store, "пойман")] == [14]  # a word inside a CamelCase hashtag
    assert [h.message_id for h in search_posts(store, "подольске")] == [16]
    # only the disguised posts carry a second reading
    assert store.db.execute("SELECT count(*) FROM posts WHERE folded IS NOT NULL").fetchone()[0] == 5


def test_an_edit_of_a_disguised_post_leaves_the_index_sound(tmp_path):
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(11, DISGUISED[11]), post(16, "Склад сгорел в Подольске"), post(17, "Пoгода на выходные")]))
    later = WHEN.replace(hour=10)
    list(pipe.process([Post(channel_id=1117628569, message_id=11, date=WHEN, edit_date=later,
                            text="Пожар на складе потушен", channel_username="mash")]))
    assert list(search_posts(store, "дезертир")) == []
    assert sorted(h.message_id for h in search_posts(store, "склад")) == [11, 16]
    list(pipe.process([Post(channel_id=1117628569, message_id=16, date=WHEN, edit_date=later,
                            text="Склад сгорел, задержан дeзeртир", channel_username="mash")]))
    assert [h.message_id for h in search_posts(store, "дезертир")] == [16]
    assert fts_ok(store)
    assert [h.message_id for h in search_posts(store, "погода")] == [17]
    assert store.prune("2100-01-01") == 1  # posts a rule ever matched stay; the other goes, from the index too
    assert list(search_posts(store, "погода")) == [] and fts_ok(store)


def test_a_store_from_before_disguised_search_is_indexed_again_on_upgrade(tmp_path):
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(mid, text) for mid, text in DISGUISED.items()]))
    # as a version-5 store had them: each post indexed by its text alone, no folded column
    for rowid, text in store.db.execute("SELECT rowid, text FROM posts WHERE folded IS NOT NULL").fetchall():
        store.db.execute("INSERT INTO posts_fts (posts_fts, rowid, text) SELECT 'delete', rowid, text || char(10) || folded "
                         "FROM posts WHERE rowid = ?", [rowid])
        store.db.execute("INSERT INTO posts_fts (rowid, text) VALUES (?, ?)", [rowid, text])
    store.db.execute("ALTER TABLE posts DROP COLUMN folded")
    store.db.execute("PRAGMA user_version = 5")
    assert {h.message_id for h in search_posts(store, "дезертир")} == {14, 15}  # what search found before (a prefix)
    assert list(search_posts(store, "пойман")) == []
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    assert {h.message_id for h in search_posts(store, "дезертир")} == {11, 13, 14, 15}
    assert [h.message_id for h in search_posts(store, "пойман")] == [14]
    assert fts_ok(store)


def test_a_store_folded_before_look_alike_capitals_finds_them_after_upgrade(tmp_path):
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(1, "Колонна BCУ вошла в город"), post(2, "КTO введён в Белгороде"), post(3, "Погода на выходные")]))
    # as a version-8 store had them: «BCУ» read by its majority script, «КTO» not read again at all
    old = {1: "колонна bcy вошла в город", 2: None}
    for mid, folded in old.items():
        rowid, text, now = store.db.execute("SELECT rowid, text, folded FROM posts WHERE message_id = ?", [mid]).fetchone()
        store.db.execute("INSERT INTO posts_fts (posts_fts, rowid, text) VALUES ('delete', ?, ?)", [rowid, f"{text}\n{now}"])
        store.db.execute("UPDATE posts SET folded = ? WHERE rowid = ?", [folded, rowid])
        store.db.execute("INSERT INTO posts_fts (rowid, text) VALUES (?, ?)", [rowid, text if folded is None else f"{text}\n{folded}"])
    store.db.execute("PRAGMA user_version = 8")
    assert list(search_posts(store, "ВСУ")) == [] and list(search_posts(store, "КТО")) == []
    assert [h.message_id for h in search_posts(store, "bcy")] == [1]
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    assert [h.message_id for h in search_posts(store, "ВСУ")] == [1]
    assert [h.message_id for h in search_posts(store, "КТО")] == [2]
    assert list(search_posts(store, "bcy")) == []  # the old reading is gone from the index
    assert [h.message_id for h in search_posts(store, "погода")] == [3]
    assert fts_ok(store)


def _unfolded(store, message_id, *, version):
    """Make the store as one at schema `version` had the post: no folded reading (asserted to have one
    now), its text indexed as it is."""
    rowid, text, now = store.db.execute("SELECT rowid, text, folded FROM posts WHERE message_id = ?", [message_id]).fetchone()
    assert now is not None
    store.db.execute("INSERT INTO posts_fts (posts_fts, rowid, text) VALUES ('delete', ?, ?)", [rowid, f"{text}\n{now}"])
    store.db.execute("UPDATE posts SET folded = NULL WHERE rowid = ?", [rowid])
    store.db.execute("INSERT INTO posts_fts (rowid, text) VALUES (?, ?)", [rowid, text])
    store.db.execute(f"PRAGMA user_version = {version}")


def test_a_store_folded_before_struck_through_words_finds_them_after_upgrade(tmp_path):
    store = Store(tmp_path / "s.db")
    struck = "Звоните по " + "".join(c + "\u0336" for c in "стационарному") + " телефону"
    list(Pipeline(store, Matcher([Rule.from_query("d", "дезертир")])).process([post(1, struck)]))
    # as a version-11 store had it: no folded reading, the struck word indexed as single letters
    _unfolded(store, 1, version=11)
    assert list(search_posts(store, "стационарный")) == []
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    assert [h.message_id for h in search_posts(store, "стационарный")] == [1]
    assert fts_ok(store)


def test_a_store_indexed_before_the_spacing_acute_was_read_finds_its_words_after_upgrade(tmp_path):
    store = Store(tmp_path / "s.db")
    list(Pipeline(store, Matcher([Rule.from_query("d", "полк")])).process(
        [post(1, "Задержан дезерти\u00b4р"), post(2, "Дезертир задержан")]))
    # as a version-20 store had it: no folded reading, «дезерти´р» indexed as «дезерти» and «р»
    _unfolded(store, 1, version=20)
    assert [h.message_id for h in search_posts(store, "дезертир")] == [2]
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    assert sorted(h.message_id for h in search_posts(store, "дезертир")) == [1, 2]
    assert fts_ok(store)


def test_another_applications_database_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE notes (x)")
        c.execute("INSERT INTO notes VALUES ('keep me')")
    before = path.read_bytes()
    with pytest.raises(StoreError, match="another application .*notes"):
        Store(path)
    assert path.read_bytes() == before  # not even switched to WAL
    assert not (tmp_path / "notes.db-wal").exists()


def test_a_newer_schema_is_refused_and_left_alone(tmp_path):
    store = Store(tmp_path / "s.db")
    store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    store.close()
    with pytest.raises(StoreError, match="newer than this tgwatch"):
        Store(tmp_path / "s.db")


def _linked(mid: int, url: str, edited: datetime | None = None) -> Post:
    text = "Дезертиров ищут в Краснодаре, подробнее"
    return Post(channel_id=1117628569, message_id=mid, date=WHEN, text=text, channel_username="mash",
                edit_date=edited, entities=(Entity("bold", 0, 10), Entity("text_link", len(text) - 9, 9, url)))


def test_an_edit_that_only_repoints_a_hidden_link_is_matched_again(tmp_path):
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("leak", "url:leaks.example")]))
    [first] = list(pipe.process([_linked(1, "https://news.example/a")]))
    assert (first.status, first.matches) == ("new", [])
    later = WHEN.replace(hour=10)
    [edit] = list(pipe.process([_linked(1, "https://leaks.example/doc", later)]))
    assert edit.status == "edited" and [m.rule for m in edit.matches] == ["leak"] and len(edit.alert_ids) == 1
    # a reaction (an edit of nothing but the date) or new bold changes nothing
    again = _linked(1, "https://leaks.example/doc", later.replace(hour=11))
    again.entities = again.entities[1:]
    [same] = list(pipe.process([again]))
    assert same.status == "unchanged" and store.db.execute("SELECT count(*) FROM alerts").fetchone() == (1,)


def test_a_store_from_before_link_hashes_sees_its_linked_posts_unchanged(tmp_path):
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([_linked(1, "https://news.example/a"), post(2, "Погода на выходные")]))
    # as a version-6 store hashed them: the text alone
    store.db.execute("UPDATE posts SET text_hash = ? WHERE message_id = 1", [content_hash(_linked(1, "x").text)])
    store.db.execute("PRAGMA user_version = 6")
    store.close()
    store = Store(tmp_path / "s.db")
    assert store.version == SCHEMA_VERSION
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    assert [p.status for p in pipe.process([_linked(1, "https://news.example/a"), post(2, "Погода на выходные")])] == [
        "unchanged", "unchanged"]


def test_the_link_hash_migration_covers_links_of_any_scheme(tmp_path):
    """A link behind words need not hold "http" or "://" (mailto:, a JSON Lines url as written)."""
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([_linked(1, "mailto:tips@example.org")]))
    store.db.execute("UPDATE posts SET text_hash = ? WHERE message_id = 1", [content_hash(_linked(1, "x").text)])
    store.db.execute("PRAGMA user_version = 6")
    store.close()
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    assert [p.status for p in pipe.process([_linked(1, "mailto:tips@example.org")])] == ["unchanged"]


def test_a_short_word_itself_ranks_above_longer_words_it_starts(tmp_path):
    """«сво» starts «своим» and «своего»: a search for it lists the posts that say СВО first
    (bm25 alone put two «сво…» words in a short post above them)."""
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(1, "Котейки научились будить своих хозяев, проверьте своего кота"),
                       post(2, "Песков: СВО будет продолжаться до достижения поставленных целей, заявили в Кремле сегодня днём"),
                       post(3, "Своими глазами: своя правда о своём городе")]))
    hits = list(search_posts(store, "сво"))
    assert sorted(h.message_id for h in hits) == [1, 2, 3]  # still every word it starts
    assert hits[0].message_id == 2
    # typed in capitals it is the abbreviation alone (tests/test_search_phrases.py)
    assert [h.message_id for h in search_posts(store, "СВО")] == [2]


def test_a_word_written_with_a_slash_or_hyphen_is_searched_as_a_phrase(tmp_path):
    """`search в/ч` (a military unit) found every post with a «в» word and a «ч» word: «км/ч» and
    most of the corpus (11,248 of 22,099 posts). As in rules, such a word is its parts in a row."""
    store = Store(tmp_path / "s.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("d", "дезертир")]))
    list(pipe.process([post(1, "Из в/ч 12345 сбежали двое"), post(2, "Скорость 90 км/ч в черте города"),
                       post(3, "В части объявили тревогу, все в чёрном"), post(4, "Бои у Ростова-на-Дону"),
                       post(5, "В Ростове на улице Дону"), post(6, "137-й полк отвели в тыл")]))
    hits = list(search_posts(store, "«в/ч»"))
    assert [h.message_id for h in hits] == [1]
    assert [hits[0].text[s:e] for s, e in hits[0].spans] == ["в/ч"]
    assert [h.message_id for h in search_posts(store, "Ростов-на-Дону")] == [4]  # longer parts still as prefixes
    assert [h.message_id for h in search_posts(store, "137-й")] == [6]
    assert [h.message_id for h in search_posts(store, "в/ч 12345")] == [1]



def test_two_processes_opening_a_new_store_at_once_both_open_it(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two replays started together on a new --db: one failed with «cannot open database (table
    "channels" already exists)»: each read the schema version before the other's migrations ran,
    then ran them too. This one reads version 0 just as the other process finishes migrating."""
    db = tmp_path / "new.db"
    Store(db).close()  # the other process, done first
    real = Store.version.fget
    first = [0]  # this process's first read: before the other one's commit

    def version(self: Store) -> int:
        return first.pop() if first else real(self)
    monkeypatch.setattr(Store, "version", property(version))
    store = Store(db)
    assert store.version == SCHEMA_VERSION and store.db["channels"].exists()
    store.close()
