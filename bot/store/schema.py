"""What a store file holds, and the migrations that bring an older file to today's version.

Each migration runs once, in its own transaction (`Store.migrate`); `SCHEMA_VERSION` is their
count, kept in the file's `PRAGMA user_version`.

Migrations are append-only once on main: a store that ran one never runs it again, so an edit to a
shipped migration reaches new stores only (migrations 1, 2, 3 and 7 were edited so: `repair` and
migration 19 mend the stores they left). Change what one made with a new migration.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence

import sqlite_utils

from ..post import Entity, content_hash, hidden_links
from ..text import glued_re, search_reading, unfolded_re

__all__ = ["FTS_TEXT", "MIGRATIONS", "ROWID_FLOOR", "SCHEMA_VERSION", "give_owners", "repair", "stored_links"]

log = logging.getLogger(__name__)


def _m1_initial(db: sqlite_utils.Database) -> None:
    db.table("channels").create({
        "id": int, "username": str, "title": str, "last_message_id": int, "status": str,
        "resolved_at": str, "updated_at": str,
    }, pk="id")
    db.table("stories").create({
        "id": int, "first_channel_id": int, "first_message_id": int, "first_date": str,
        "last_date": str, "size": int, "channels": str, "fingerprint": str,
    }, pk="id")
    db.table("posts").create({
        "channel_id": int, "message_id": int, "date": str, "edit_date": str, "text": str,
        "text_hash": str, "entities": str, "link": str, "forward_channel_id": int,
        "forward_post_id": int, "forward_name": str, "grouped_id": int, "media": str,
        "story_id": int, "first_seen": str, "updated_at": str,
    }, pk=("channel_id", "message_id"), foreign_keys=[("story_id", "stories", "id")])
    db.table("posts").create_index(["date"])
    db.table("posts").create_index(["story_id"])
    db.table("posts").create_index(["forward_channel_id", "forward_post_id"])
    # No triggers: new posts are indexed in bulk once per batch (`sync_search`), which costs
    # half of a trigger per row; edits re-index their post explicitly (`write_post`).
    db.table("posts").enable_fts(["text"], create_triggers=False, tokenize="unicode61 remove_diacritics 2")
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("matches").create({
        "channel_id": int, "message_id": int, "rule": str, "severity": str, "terms": str,
        "hits": str, "current": int, "matched_at": str,
    }, pk=("channel_id", "message_id", "rule"))
    db.table("matches").create_index(["rule"])
    db.table("alerts").create({
        "id": int, "story_id": int, "rule": str, "channel_id": int, "message_id": int,
        "severity": str, "state": str, "random_id": int, "attempts": int, "created_at": str,
        "sent_at": str, "sent_message_id": int, "error": str, "updated_at": str,
    }, pk="id")
    db.table("alerts").create_index(["story_id", "rule"], unique=True)
    db.table("alerts").create_index(["state"])


def _m2_live(db: sqlite_utils.Database) -> None:
    """The live sender: one row per message part sent to a chat, its random_id stored before the
    first attempt (Telegram drops a second send with the same random_id); retry times."""
    db.table("deliveries").create({
        "alert_id": int, "chat": str, "part": int, "random_id": int, "message_id": int, "text_hash": str,
        "sent_at": str, "edited_at": str,
    }, pk=("alert_id", "chat", "part"))
    db.table("alerts").add_column("next_attempt_at", str)
    db.table("channels").add_column("error", str)
    db.table("channels").add_column("access_hash", int)  # per account: lets a restart skip resolveUsername
    db.table("posts").create_index(["channel_id", "grouped_id"])


def _m3_chat(db: sqlite_utils.Database) -> None:
    """The analysts' chat: mutes, triage verdicts, the rule change log, digests."""
    db.table("mutes").create({"id": int, "rule": str, "channel_id": int, "until": str, "by_user": int, "created_at": str}, pk="id")
    db.table("mutes").create_index(["rule", "until"])
    db.table("feedback").create({"alert_id": int, "user_id": int, "rule": str, "verdict": str, "at": str},
                          pk=("alert_id", "user_id"))
    db.table("rule_changes").create({
        "id": int, "at": str, "user_id": int, "user_name": str, "action": str, "rule": str, "file": str,
        "before": str, "after": str, "undone": int,
    }, pk="id")
    db.table("digests").create({"id": int, "created_at": str, "alert_ids": str, "random_id": int, "sent_at": str}, pk="id")
    db.table("alerts").add_column("story_grew", int)  # the story grew while its alert was being sent


def _m4_channel_refs(db: sqlite_utils.Database) -> None:
    """Which configured name (or id) each channel is watched as: a channel that changes its
    username stays found by the name in the config. Filled from the usernames known so far."""
    db.table("channel_refs").create({"ref": str, "channel_id": int, "updated_at": str}, pk="ref")
    # the newest row first: when two rows once had one username, the later one holds it now
    db.execute("INSERT OR IGNORE INTO channel_refs (ref, channel_id, updated_at) "
               "SELECT lower(username), id, coalesce(updated_at, '') FROM channels WHERE username IS NOT NULL AND username != '' "
               "ORDER BY coalesce(updated_at, '') DESC")


def _m5_search_merge(db: sqlite_utils.Database) -> None:
    """The search index merges its segments 16 at a time, not 4: a replay indexes each batch as
    a new segment, and merging them early cost a third of the indexing time (queries on the
    corpus stay under 1 ms)."""
    db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('automerge', 16)")


# What the search index holds of a post: its text, and beside it its normalised reading when that
# has other words (`bot.text.search_fold`: «дeзертир» with a Latin «e» is found as «дезертир»).
# Every insert into and 'delete' from posts_fts goes through this expression over a posts row.
# (So the index holds more than the content table's text for those posts: FTS5's 'rebuild', which
# reads posts.text, would drop the folded readings; emptying the index and its meta 'fts_rowid'
# makes `sync_search` build it again, right.)
FTS_TEXT = "CASE WHEN folded IS NULL THEN text ELSE coalesce(text, '') || char(10) || folded END"


def _m6_search_fold(db: sqlite_utils.Database) -> None:
    """Disguised posts become searchable by their words: `posts.folded` holds a post's
    normalised text when it reads differently (one post in seventy of the corpus), and the
    search index holds both. Indexed posts that now have a folded reading are indexed again."""
    if "folded" not in db.table("posts").columns_dict:
        db.table("posts").add_column("folded", str)
    _refold(db, "folded IS NULL AND text != ''")


def _refold(db: sqlite_utils.Database, where: str = "text != ''") -> int:
    """Give the posts `where` selects the `search_reading` of today's code, and index again those
    already indexed whose reading changed; how many changed. (FTS5's 'delete' must be given the very
    text indexed, so it is made from the row as it was; a post waiting in `search_pending`, edited
    since it was indexed, is indexed again from its row by `Store.sync_search`.)"""
    row = db.execute("SELECT value FROM meta WHERE key = 'fts_rowid'").fetchone()
    indexed = int(row[0]) if row else 0
    pending = ({r[0] for r in db.execute("SELECT post_rowid FROM search_pending")}
               if "search_pending" in db.table_names() else set())
    changed = [(rowid, text, old, new) for rowid, text, old, entities
               in db.execute(f"SELECT rowid, text, folded, entities FROM posts WHERE {where}")
               if (new := search_reading(text or "", [url for *_, url in stored_links(text or "", entities)])) != old]
    for rowid, text, old, new in changed:
        db.execute("UPDATE posts SET folded = ? WHERE rowid = ?", [new, rowid])
        if rowid <= indexed and rowid not in pending:
            db.execute("INSERT INTO posts_fts (posts_fts, rowid, text) VALUES ('delete', ?, ?)",
                       [rowid, text if old is None else f"{text or ''}\n{old}"])
            db.execute(f"INSERT INTO posts_fts (rowid, text) SELECT rowid, {FTS_TEXT} FROM posts WHERE rowid = ?", [rowid])
    return len(changed)


def stored_links(text: str, entities: str | None) -> tuple[tuple[int, int, str], ...]:
    """The links behind a stored post's words, from its entities column (JSON [type, offset,
    length, url] lists); none when unreadable (a store is read, never refused)."""
    if not entities:
        return ()
    try:
        return hidden_links(text, tuple(Entity(str(t), int(o), int(n), u) for t, o, n, u in json.loads(entities)))
    except (ValueError, TypeError):
        return ()


def _m7_link_hash(db: sqlite_utils.Database) -> None:
    """A post's hash covers the links behind its words (`post.content_hash`), so an edit that only
    re-points a link is matched again: stored posts with such links get the new hash now (else the
    next replay of them would count every one as edited)."""
    # every post with entities: a link behind words may use any scheme (mailto:, tg:, a bare domain)
    rows = db.execute("SELECT rowid, text, entities FROM posts WHERE entities IS NOT NULL AND entities != ''")
    for rowid, text, entities in rows.fetchall():
        links = stored_links(text or "", entities)
        if links:
            db.execute("UPDATE posts SET text_hash = ? WHERE rowid = ?", [content_hash(text or "", links), rowid])


def _m8_deleted(db: sqlite_utils.Database) -> None:
    """Posts the channel deleted: `posts.deleted_at` (ISO, UTC) is when tgwatch learnt it; the post,
    its matches, alerts and story stay (the stored copy is the evidence). Existing posts: none."""
    if "deleted_at" not in db.table("posts").columns_dict:
        db.table("posts").add_column("deleted_at", str)


def _m9_refold(db: sqlite_utils.Database) -> None:
    """Stored posts get today's `search_fold` reading: capitals in look-alike letters now read as the
    abbreviation they spell («BCУ» is found as «ВСУ»), which a store indexed before did not hold
    (37 µs a post: about 40 s for a million)."""
    n = _refold(db)
    if n:
        log.info("search index: %d posts read again with today's folding", n)


def _m10_rule_coverage(db: sqlite_utils.Database) -> None:
    """Which rules the stored posts were matched with (`bot.rematch`): per rule, a digest of what
    decides its matches and the last posts rowid matched with it. An older store has none: a replay
    matches its posts once more with every rule (a rule added or changed since is caught up then)."""
    db.table("rule_coverage").create({"rule": str, "digest": str, "through": int, "updated_at": str}, pk="rule", if_not_exists=True)


def _m11_silence_warnings(db: sqlite_utils.Database) -> None:
    """The channels the analysts were warned about as silent (`Service.watchdog`), with when: kept
    in the store, so a restart does not warn again about a silence that still holds. An older
    store has none: a silence going on at the upgrade is told once more."""
    db.table("silence_warnings").create({"channel_id": int, "warned_at": str}, pk="channel_id", if_not_exists=True)


def _m12_refold(db: sqlite_utils.Database) -> None:
    """Stored posts get today's `search_fold` reading again: struck-through and underlined words
    («с̶т̶а̶ц̶и̶о̶н̶а̶р̶н̶ы̶м̶») read as the word, and look-alike capitals beside «ʼ» as the matcher reads
    them, which a store indexed before did not hold (1 post of the corpus changes)."""
    n = _refold(db)
    if n:
        log.info("search index: %d posts read again with today's folding", n)


def _m13_watched(db: sqlite_utils.Database) -> None:
    """When the live service began watching each channel (`watched_since`, ISO, UTC) and the last
    run that watched it (`watched_run`, meta `live_run` counts the runs): a channel's old posts alert
    by when it was first watched, not by whether its first read finished, and a channel taken out
    of the config and put back is read as a new one. A channel an earlier version watched counts as
    watched in the last run; one it read in order, as watched from the start (all its posts alert,
    as before), one it never read, from when it was last resolved."""
    for column, kind in (("watched_since", str), ("watched_run", int)):
        if column not in db.table("channels").columns_dict:
            db.table("channels").add_column(column, kind)
    db.execute("UPDATE channels SET watched_run = 0, watched_since = CASE WHEN last_message_id IS NULL THEN resolved_at END "
               "WHERE resolved_at IS NOT NULL OR last_message_id IS NOT NULL")


def _m14_search_pending(db: sqlite_utils.Database) -> None:
    """The indexed posts edited or pruned since, with the text the search index still holds of each
    (FTS5 takes a post out only given that text): the transaction that stores a batch of posts never
    writes the index, `Store.sync_search` brings it up to date in transactions of its own."""
    db.table("search_pending").create({"post_rowid": int, "indexed": str}, pk="post_rowid", if_not_exists=True)


def _m15_alert_owner(db: sqlite_utils.Database) -> None:
    """Who sends each alert (`alerts.owner`): 'live', `tgwatch run` to the chat, or 'replay', a replay
    to its terminal or file; each takes only its own, so a replay into the live store neither prints
    the service's alerts nor leaves it an export's to send. An older store's: a replay's where the
    live service never ran (no channel resolved, no run counted), and its alerts printed as sent (no
    message sent for them); else the live service's, which took every queued alert before."""
    if "owner" not in db.table("alerts").columns_dict:
        db.table("alerts").add_column("owner", str)
    give_owners(db)


def give_owners(db: sqlite_utils.Database, states: Sequence[str] = ()) -> int:
    """Give each alert with no owner the one migration 15 gave an older store's; returns how many. A
    release before it still running on a store a newer one upgraded (a replay, a `tgwatch run` until
    restarted) queues its alerts so, and no process would send them. `states`: those only (found by
    the state index: cheap enough for every sender pass; the whole table is read without)."""
    only = f" AND state IN ({','.join('?' * len(states))})" if states else ""
    if db.execute(f"SELECT 1 FROM alerts WHERE owner IS NULL{only} LIMIT 1", list(states)).fetchone() is None:
        return 0  # (read first: the UPDATE would wait for the write lock, which a replay may hold a while)
    live = db.execute("SELECT EXISTS (SELECT 1 FROM channels WHERE resolved_at IS NOT NULL) "
                      "OR EXISTS (SELECT 1 FROM meta WHERE key = 'live_run')").fetchone()[0]
    return db.execute("UPDATE alerts SET owner = CASE WHEN ? AND (state != 'sent' OR EXISTS "
                      "(SELECT 1 FROM deliveries d WHERE d.alert_id = alerts.id)) THEN 'live' ELSE 'replay' END "
                      f"WHERE owner IS NULL{only}", [live, *states]).rowcount


def _m16_link_search(db: sqlite_utils.Database) -> None:
    """Posts are found by the links behind their words too (SHOT's «Подписывайся на SHOT» links
    t.me/shot_shot): the addresses join the search index's reading of the posts that have some."""
    n = _refold(db, "entities IS NOT NULL AND text != ''")
    if n:
        log.info("search index: %d posts indexed again with the links behind their words", n)


def _m17_coverage_groups(db: sqlite_utils.Database) -> None:
    """The config groups each rule's coverage was recorded with (`rule_coverage.groups`, a JSON list of
    names, NULL for none): a replay without the config leaves a rule naming one as it is, rather than
    match it again with the group empty. An older store's: unknown, until its rule is next matched again."""
    if "groups" not in db.table("rule_coverage").columns_dict:
        db.table("rule_coverage").add_column("groups", str)


def _m18_period_indexes(db: sqlite_utils.Database) -> None:
    """Indexes that let a day's or a week's rows be found without reading a year's: the alerts raised
    in a period (/status, the heartbeat) and the alerts of a post (/stats, digest notices), the stories
    last seen in a period (/stories), the posts the channels deleted and the deletions told (each
    sender pass). Alerts and told deletions are few and a deleted post is rare: no cost to a replay
    but the stories' index, one entry a story row written. Idempotent (another migration may add
    an index of the same name)."""
    for sql in ("CREATE INDEX IF NOT EXISTS idx_alerts_created_at ON alerts (created_at)",
                "CREATE INDEX IF NOT EXISTS idx_alerts_channel_id_message_id ON alerts (channel_id, message_id)",
                "CREATE INDEX IF NOT EXISTS idx_stories_last_date ON stories (last_date)",
                "CREATE INDEX IF NOT EXISTS idx_posts_deleted ON posts (deleted_at) WHERE deleted_at IS NOT NULL",
                "CREATE INDEX IF NOT EXISTS idx_deliveries_told ON deliveries (alert_id, chat) WHERE part = -1"):
        db.execute(sql)


def _m19_link_hash_again(db: sqlite_utils.Database) -> None:
    """Migration 7 as releases f9feab7..4c5aaff^ shipped it rehashed only the posts whose entities held
    «http» or «://»: a post with only a mailto:, tg: or bare-domain link behind its words kept the hash
    of its text alone, and each replay of the same export counted it edited. Those posts get today's
    hash now (where migration 7 was today's, none changes). Also makes every older store pass
    through `repair` once (it runs before the migrations a store has not seen)."""
    rows = db.execute("SELECT rowid, text, entities, text_hash FROM posts WHERE entities IS NOT NULL AND entities != '' "
                      "AND entities NOT LIKE '%http%' AND entities NOT LIKE '%://%'")
    changed = [(new, rowid) for rowid, text, entities, old in rows.fetchall()
               if (links := stored_links(text or "", entities)) and (new := content_hash(text or "", links)) != old]
    db.conn.executemany("UPDATE posts SET text_hash = ? WHERE rowid = ?", changed)
    if changed:
        log.info("%d posts with links behind their words hashed as today's code does", len(changed))


# meta row: a posts rowid at or above every one retention deleted (`Store.prune`); a new post is stored
# above it (`Store._POST_SQL`), so no rowid is given twice: the search index's mark, the rules' coverage,
# the story index's counts and the downtime windows record how far they read the posts as a rowid.
ROWID_FLOOR = "posts_rowid_floor"


def _whole(value: object) -> int | None:
    """`value` as a whole number, None when it is none (NULL, damaged JSON)."""
    try:
        return int(value)  # type: ignore[call-overload]  # any JSON value: int() refuses the wrong ones
    except (TypeError, ValueError):
        return None


def _m20_rowid_floor(db: sqlite_utils.Database) -> None:
    """A pruned post's rowid is never given to a new post (`ROWID_FLOOR`). A store pruned before may
    have deleted its newest posts already: its floor is the highest rowid anything recorded having
    read (the search index's mark, each rule's coverage, the story index's counts, the downtime
    windows), or the newest post's. No table is rebuilt (instant on any store); run again, it
    changes nothing. (Numbered 20: migration 19 is another repair, merged beside it.)"""
    marks = [r[0] for r in db.execute("SELECT max(rowid) FROM posts")]
    marks += [r[0] for r in db.execute("SELECT value FROM meta WHERE key IN ('fts_rowid', ?)", [ROWID_FLOOR])]
    if "rule_coverage" in db.table_names():
        marks += [r[0] for r in db.execute("SELECT max(through) FROM rule_coverage")]
    for key, read in (("story_words", lambda v: [json.loads(v)[1]]),
                      ("live_down", lambda v: [d["rowid"] for d in json.loads(v)["starts"]])):
        for (value,) in db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall():
            try:
                marks += read(value)
            except (ValueError, TypeError, KeyError, IndexError):
                pass  # unreadable: its reader counts again from scratch
    floor = max((n for m in marks if (n := _whole(m)) is not None), default=0)
    db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               [ROWID_FLOOR, str(floor)])


def _m21_refold_acute(db: sqlite_utils.Database) -> None:
    """Stored posts holding a spacing acute «´» typed as a stress mark («дезерти´р») get today's
    `search_fold` reading: the word whole, as `search дезертир` finds it (only those posts are read:
    none of the corpus's 22,099 has one)."""
    n = _refold(db, "text LIKE '%\u00b4%'")
    if n:
        log.info("search index: %d posts read again with today's folding", n)


def _m22_refold_apostrophes(db: sqlite_utils.Database) -> None:
    """Stored posts holding «ʼ» (U+02BC, a letter to FTS5: «дʼИвуар» was one word to search) or a spacing
    acute after a consonant (an apostrophe: «д´Ивуар» was the glued «дивуар») get today's `search_fold`
    reading: their words part as at «'» (only those posts are read: none of the corpus's 22,099 has one)."""
    n = _refold(db, "text LIKE '%\u02bc%' OR text LIKE '%\u00b4%'")
    if n:
        log.info("search index: %d posts read again with today's folding", n)


def _m23_edit_mark(db: sqlite_utils.Database) -> None:
    """`posts.edited_after`: set when a batch after the one that stored (and counted) a post edits its
    text, to the newest posts rowid stored before that batch; NULL while the post holds the text it was
    counted with. A restart of the story index files an edited post by the counts of now
    (`StoryIndex._hold_as_counted`); it told one by `updated_at > first_seen`, whole seconds, so an
    edit in the post's second went unseen under load. Stored posts: marked (by their own rowid) when
    edited by a later second, or edited at all (`edit_date`): unsure ones are filed as before."""
    if "edited_after" not in db.table("posts").columns_dict:
        db.table("posts").add_column("edited_after", int)
    db.execute("UPDATE posts SET edited_after = rowid WHERE edited_after IS NULL "
               "AND (edit_date IS NOT NULL OR updated_at > first_seen)")


def _m24_partial_post_indexes(db: sqlite_utils.Database) -> None:
    """The posts' indexes of forwards and of albums hold only the posts that are one: most posts are
    neither (none of the corpus's 22,099), and a replay wrote two index entries a post for nothing
    (0.03 s of a corpus replay's CPU). Their queries (`forwards_story`, `forwarded_posts`,
    `album_first`) name the column, so SQLite still uses them; the albums' index also holds the
    message id, so `album_first` finds an album's first post in it (with the old one SQLite read
    the channel's posts by id instead, up to the album)."""
    for name, definition in (
            ("idx_posts_forward_channel_id_forward_post_id",
             "posts (forward_channel_id, forward_post_id) WHERE forward_channel_id IS NOT NULL"),
            ("idx_posts_channel_id_grouped_id", "posts (channel_id, grouped_id, message_id) WHERE grouped_id IS NOT NULL")):
        db.execute(f"DROP INDEX IF EXISTS {name}")
        db.execute(f"CREATE INDEX {name} ON {definition}")


def _m25_refold_glued(db: sqlite_utils.Database) -> None:
    """Stored posts with a symbol FTS5 takes for a letter («⏺Путин», «₽10», an emoji newer than Unicode
    6.1 beside a word: `bot.text.glued_re`) get today's `search_fold` reading, that symbol a space, so
    `search Путин` finds them (1,169 of the corpus's 22,099 posts; only those are read again)."""
    _refold_holding(db, glued_re())


def _m26_refold_unfolded(db: sqlite_utils.Database) -> None:
    """Stored posts with a letter FTS5 folds otherwise than a query («Straße», «Երևան», Georgian
    capitals: `bot.text.unfolded_re`) get today's `search_fold` reading, so `search Straße` finds them."""
    _refold_holding(db, unfolded_re())


def _refold_holding(db: sqlite_utils.Database, chars: re.Pattern[str]) -> None:
    """Give the stored posts holding one of `chars` today's `search_fold` reading (only those are read)."""
    db.conn.create_function("tgwatch_holds", 1, lambda text: text is not None and chars.search(text) is not None,
                            deterministic=True)
    n = _refold(db, "tgwatch_holds(text)")
    if n:
        log.info("search index: %d posts read again with today's folding", n)


MIGRATIONS = [_m1_initial, _m2_live, _m3_chat, _m4_channel_refs, _m5_search_merge, _m6_search_fold, _m7_link_hash,
              _m8_deleted, _m9_refold, _m10_rule_coverage, _m11_silence_warnings, _m12_refold, _m13_watched,
              _m14_search_pending, _m15_alert_owner, _m16_link_search, _m17_coverage_groups, _m18_period_indexes,
              _m19_link_hash_again, _m20_rowid_floor, _m21_refold_acute,
              _m22_refold_apostrophes, _m23_edit_mark, _m24_partial_post_indexes, _m25_refold_glued,
              _m26_refold_unfolded]
SCHEMA_VERSION = len(MIGRATIONS)


# Columns an edit added to a migration after it shipped: (the migration, its table, the column, its type)
_ADDED_LATER = ((2, "channels", "access_hash", int), (3, "alerts", "story_grew", int))


def repair(db: sqlite_utils.Database, version: int) -> list[str]:
    """Bring a store at `version` to what today's migrations 1..`version` make, where the form an
    earlier release shipped differs (migrations 1, 2 and 3 were edited after shipping); what it
    mended. Idempotent; schema reads only when there is nothing to mend. `Store.migrate` runs it
    before the migrations the store has not seen."""
    mended = []
    if version >= 1 and "meta" not in db.table_names():  # migration 1 as first shipped had none
        db.table("meta").create({"key": str, "value": str}, pk="key")
        mended.append("meta table")
    # ... and kept the search index by triggers (sqlite-utils' posts_ai/_ad/_au), which index each
    # post as written: today's code indexes in bulk (`Store.sync_search`), from the high-water mark
    triggers = [name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'posts' AND sql LIKE '%posts_fts%'")]
    if triggers:
        for name in triggers:
            db.execute(f"DROP TRIGGER [{name}]")
        db.execute("INSERT INTO meta (key, value) SELECT 'fts_rowid', CAST(coalesce(max(rowid), 0) AS TEXT) FROM posts "
                   "WHERE true ON CONFLICT(key) DO UPDATE SET value = excluded.value")  # every post is indexed
        mended.append("search index triggers")
    for since, table, column, kind in _ADDED_LATER:
        if version >= since and column not in db.table(table).columns_dict:
            db.table(table).add_column(column, kind)
            mended.append(f"{table}.{column}")
    if mended:
        log.info("store repaired (what an earlier release's migrations made differently): %s", ", ".join(mended))
    return mended
