"""The live path against replay on real posts: a slice of the corpus (6 channels, 36 hours, 420
posts) is published on the offline Telegram (tests/fake_telegram.py) in date order as live channel
posts, through the faults the live service promises to survive: a silent gap Telethon fills, a
ChannelDifferenceTooLong only the poll recovers, a graceful restart and a crash with posts
published meanwhile, a network drop, a flash edited into the full report, a post edited while the
service is stopped (older than the poll's look-back), a reaction, flood waits on sending, editing
and reading, and a channel read by the poll alone. The same posts (as exported after the edits)
are then replayed with `tgwatch replay` into a second store. What an analyst sees must agree: the
posts stored, each rule's matches with their hits, which posts share a story, and the alerts (one
per story and rule, each sent once); where they differ by design, the comparison says how.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from click.testing import CliRunner
from telethon.tl import types as tl

from bot.cli import cli
from bot.live.resolve import BACKFILL_ALERTS
from bot.live.service import Service
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Entity, Post
from bot.source import read_by_date
from bot.store.db import Store

from .conftest import CORPUS
from .fake_telegram import FakeTelegram, eventually
from .telegram_fixtures import deliver_alone, hold_clock_jobs, stop_service
from .test_live_restarts import crash
from .test_live import OPTIONS, ROOT, config

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"needs the real corpus at {CORPUS} (absent here)")

RULES = ROOT / "rules"
# Chosen from a replay of the whole corpus: in this slice the shipped rules match 25 posts of 20
# stories (lockdown, regiment, desertion), and 61 stories span two channels or more.
CHANNELS = (1101170442, 1754252633, 1166834860, 1117628569, 1003921752, 1100158992)
SINCE = datetime(2024, 11, 29, 12, tzinfo=timezone.utc)
UNTIL = datetime(2024, 12, 1, tzinfo=timezone.utc)
POLLED, POLLED_NAME = 1100158992, "shot_shot"  # not joined: read by the poll alone, named by its username
LONG_FLOOD = 300  # seconds: above flood_sleep_threshold, so the sender pauses every send
SHORT_FLOOD = 20  # seconds: below it, Telethon sleeps through it (`telethon_sleeps` records the sleep)


Key = tuple[int, int]


class Clock:
    """The service's wall clock: the real one, moved ahead by `ahead` (a flood wait that ends)."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.ahead


def write_slice(dest: Path, shift: timedelta) -> None:
    """The slice as Telegram Desktop exports (one result.json per channel), every date moved by
    `shift` (whole seconds) so none is over a day old, as a live post is not."""
    for cid in CHANNELS:
        data = json.loads((CORPUS / f"ChatExport_{cid}" / "result.json").read_text(encoding="utf-8"))
        messages = []
        for m in data["messages"]:
            t = int(m["date_unixtime"])
            if SINCE.timestamp() <= t < UNTIL.timestamp():
                t += int(shift.total_seconds())
                messages.append({**m, "date_unixtime": str(t),
                                 "date": datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")})
        out = dest / f"ChatExport_{cid}" / "result.json"
        out.parent.mkdir(parents=True)
        out.write_text(json.dumps({**{k: v for k, v in data.items() if k != "messages"}, "messages": messages},
                                  ensure_ascii=False), encoding="utf-8")


def mark_edited(dest: Path, key: Key, edited: datetime) -> None:
    """The export made after the channel edited `key`: its `edited_unixtime`, as Telegram Desktop writes it."""
    path = dest / f"ChatExport_{key[0]}" / "result.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for m in data["messages"]:
        if m["id"] == key[1]:
            m["edited"] = edited.strftime("%Y-%m-%dT%H:%M:%S")
            m["edited_unixtime"] = str(int(edited.timestamp()))
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


_TL_ENTITY: dict[str, Callable[[Entity], Any]] = {
    "bold": lambda e: tl.MessageEntityBold(e.offset, e.length),
    "italic": lambda e: tl.MessageEntityItalic(e.offset, e.length),
    "strikethrough": lambda e: tl.MessageEntityStrike(e.offset, e.length),
    "code": lambda e: tl.MessageEntityCode(e.offset, e.length),
    "pre": lambda e: tl.MessageEntityPre(e.offset, e.length, ""),
    "link": lambda e: tl.MessageEntityUrl(e.offset, e.length),
    "text_link": lambda e: tl.MessageEntityTextUrl(e.offset, e.length, e.url or ""),
    "hashtag": lambda e: tl.MessageEntityHashtag(e.offset, e.length),
    "mention": lambda e: tl.MessageEntityMention(e.offset, e.length),
}


def tl_entities(entities: Iterable[Entity]) -> list[Any]:
    """A post's entities as the Telegram server sends them (the corpus has these kinds only)."""
    return [_TL_ENTITY[e.type](e) for e in entities]


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def without_last_paragraph(post: Post) -> str | None:
    """The post before the channel added its last paragraph (an update, a link, a call to subscribe)."""
    head = post.text.rstrip().rsplit("\n", 1)[0].rstrip()
    return head if len(head) >= 30 and head != post.text.rstrip() else None


def flash_of(post: Post, matcher: Matcher) -> str | None:
    """The post's first line when that alone matches no rule but the whole post does: the flash a
    channel posts first and then edits into the full report."""
    first = post.text.split("\n", 1)[0].strip()
    if len(first) < 30 or first == post.text.strip():
        return None
    flash = Post(post.channel_id, post.message_id, post.date, first, channel_title=post.channel_title)
    return first if matcher.match(post) and not matcher.match(flash) else None


@dataclass
class Planned:
    """A post first published as `first` (a shorter text), edited into the real post before post `at`."""

    key: Key
    first: str
    at: int

    def first_version(self, post: Post) -> Post:
        return replace(post, text=self.first, edit_date=None,
                       entities=tuple(e for e in post.entities if e.offset + e.length <= utf16(self.first)))


@dataclass
class Plan:
    """Which posts meet which fault on their way in (keys of the slice's posts)."""

    silent: set[Key] = field(default_factory=set)  # never pushed: the next push of their channel reveals the gap
    too_long: set[Key] = field(default_factory=set)  # never pushed, then ChannelDifferenceTooLong
    too_long_at: Key | None = None  # the push after which Telethon jumps ahead
    poll_at: int = 0  # the scheduled poll runs before this post
    flood_at: int = 0  # Telegram answers the next send with a long flood wait from this post on
    flood_for: int = 0  # the wait is over this many posts after an alert met it
    edits_flood_at: int = 0  # ...and the next edit of an alert (a story that grew), before this one
    react_at: int = 0  # a reaction on the first alerted post, before this post
    stop_at: int = 0  # the service stops before this post...
    start_at: int = 0  # ...and starts again before this one (the posts between are published meanwhile)
    crash_at: int = 0  # the process dies before this post (nothing in memory is saved)...
    restart_at: int = 0  # ...and is started again before this one
    drop_at: int = 0  # the network drops before this post (pushes are lost)...
    reconnect_at: int = 0  # ...and comes back before this one
    edits: list[Planned] = field(default_factory=list)


def plan(posts: list[Post], matcher: Matcher) -> Plan:
    n = len(posts)
    p = Plan(poll_at=n * 55 // 100, stop_at=n * 60 // 100, start_at=n * 65 // 100,
             crash_at=n * 75 // 100, restart_at=n * 80 // 100, drop_at=n * 85 // 100, reconnect_at=n * 88 // 100)
    # the flood wait meets the first alert sent after a fifth of the posts (before the restarts),
    # and holds every send for the next tenth of them
    p.flood_at, p.flood_for = n // 5, n // 10
    p.edits_flood_at, p.react_at = n * 40 // 100, n * 45 // 100
    by_channel: dict[int, list[int]] = defaultdict(list)
    for i, post in enumerate(posts):
        by_channel[post.channel_id].append(i)
    # a gap of 3 posts early on, in the busiest channel; a gap too long to fill in another, before the poll
    busiest, second = sorted((c for c in by_channel if c != POLLED), key=lambda c: -len(by_channel[c]))[:2]
    at = next(k for k, i in enumerate(by_channel[busiest]) if i > n // 10)
    p.silent = {posts[i].key for i in by_channel[busiest][at:at + 3]}
    at = next(k for k, i in enumerate(by_channel[second]) if i > n * 35 // 100)
    p.too_long = {posts[i].key for i in by_channel[second][at:at + 8]}
    p.too_long_at = posts[by_channel[second][at + 8]].key
    assert posts.index(next(q for q in posts if q.key == p.too_long_at)) < p.poll_at
    # a flash edited into the full report a while later, live...
    at = n * 50 // 100
    edit = next(i for i in range(n // 5, at) if posts[i].channel_id != POLLED and flash_of(posts[i], matcher))
    p.edits.append(Planned(posts[edit].key, flash_of(posts[edit], matcher) or "", at))
    # ...and a report of the busiest channel, stored long before, given its last paragraph while the
    # service is stopped: too old for the start-up poll's look-back, so Telethon's catch-up of the
    # channel (at its next push) must bring it
    old = next(i for i in by_channel[busiest] if i > n // 5 and without_last_paragraph(posts[i]))
    p.edits.append(Planned(posts[old].key, without_last_paragraph(posts[old]) or "", p.stop_at + 1))
    return p


def stored(store: Store, key: Key) -> str | None:
    row = store.db.execute("SELECT text_hash FROM posts WHERE channel_id = ? AND message_id = ?", list(key)).fetchone()
    return row[0] if row else None


async def start_service(fake: FakeTelegram, tmp_path: Path, clock: Clock) -> Service:
    user = await fake.client(session=tmp_path / "user.session", **OPTIONS)
    cfg = config(tmp_path, channels=tuple(POLLED_NAME if c == POLLED else c for c in CHANNELS), rules=RULES,
                 edit_lookback=20)
    service = Service(cfg, Store(cfg.db), user, scheduler=AsyncIOScheduler(timezone=timezone.utc), clock=clock)
    await service.start()
    hold_clock_jobs(service)  # the plan drives every send: no heartbeat or digest of the wall clock's
    return service


@dataclass
class Edit:
    """An edit as the live run made it: when, and how many posts were stored when it was."""

    key: Key
    at: datetime
    after: int | None = None


async def live_run(fake: FakeTelegram, tmp_path: Path, posts: list[Post], p: Plan) -> list[Edit]:
    """Publish every post through the faults of `p`, then let the scheduled poll run once more;
    returns the edits made."""
    clock = Clock()
    titles = {post.channel_id: post.channel_title for post in posts}
    for cid in CHANNELS:
        fake.add_channel(cid, POLLED_NAME if cid == POLLED else None, titles[cid], joined=cid != POLLED)
    service = await start_service(fake, tmp_path, clock)
    by_key = {q.key: q for q in posts}
    edits: list[Edit] = []

    def landed() -> None:
        """Note the edits the live service has stored, with the posts stored by then."""
        for e in edits:
            if e.after is None and stored(service.store, e.key) == by_key[e.key].text_hash:
                e.after = service.store.count("posts")

    flood_met: int | None = None
    try:
        waiting: list[Key] = []  # published, not pushed: stored once their channel's gap is filled
        for i, post in enumerate(posts):
            if i == p.flood_at:
                fake.flood("SendMessageRequest", LONG_FLOOD)
            if i == p.edits_flood_at:
                fake.flood("EditMessageRequest", LONG_FLOOD)
                fake.flood("SendMessageRequest", SHORT_FLOOD)  # Telethon sleeps through it
            if i == p.react_at:
                first = service.store.db.execute("SELECT channel_id, message_id FROM alerts ORDER BY id").fetchone()
                fake.react(*first)
            if flood_met is None and service.sender.paused_until is not None:
                flood_met = i  # an alert met the flood wait: the sender holds every send until it is over
            if flood_met is not None and i == flood_met + p.flood_for and i < p.stop_at:
                clock.ahead += timedelta(seconds=LONG_FLOOD + 1)
                await deliver_alone(service)
            if i == p.poll_at:
                await service.poll()
            for planned in p.edits:
                if i == planned.at:
                    full = by_key[planned.key]
                    fake.edit(full.channel_id, full.message_id, full.text, entities=tl_entities(full.entities) or None)
                    edits.append(Edit(full.key, fake._channels[full.channel_id].messages[full.message_id].edit_date))
            if i == p.stop_at:
                await stop_service(service)
            if i == p.crash_at:
                await crash(service)
            if i == p.restart_at:
                fake.flood("GetHistoryRequest", SHORT_FLOOD)  # the start-up poll's first read sleeps through it
            if i in (p.start_at, p.restart_at):
                service = await start_service(fake, tmp_path, clock)
                landed()
            if i == p.drop_at:
                service.ingest.reconnect_poll_delay = 0
                await fake.disconnect(service.user)
            if i == p.reconnect_at:
                polls = fake.count("GetHistoryRequest")
                await fake.reconnect(service.user)  # Telethon's reconnect handler, then tgwatch's poll soon after
                await eventually(lambda: fake.count("GetHistoryRequest") >= polls + len(CHANNELS)
                                 and service.ingest._reconnect_poll is not None and service.ingest._reconnect_poll.done())
            down = p.stop_at <= i < p.start_at or p.crash_at <= i < p.restart_at or p.drop_at <= i < p.reconnect_at
            text, entities = post.text, post.entities
            for planned in p.edits:
                if post.key == planned.key:
                    text, entities = planned.first, planned.first_version(post).entities
            pushed = not down and post.key not in p.silent and post.key not in p.too_long and post.channel_id != POLLED
            if post.key == p.too_long_at:
                fake.too_long(post.channel_id)
                asked = fake.count("GetChannelDifferenceRequest")
            fake.publish(post.channel_id, text, entities=tl_entities(entities) or None, date=post.date,
                         message_id=post.message_id, push=pushed)
            if post.key in p.silent:
                waiting.append(post.key)
            if down:
                continue
            if not pushed:
                continue
            if post.key == p.too_long_at:  # Telethon jumps ahead: this post and the gap wait for the poll
                await eventually(lambda: fake.count("GetChannelDifferenceRequest") > asked)
                continue
            due = [post.key] + [k for k in waiting if k[0] == post.channel_id]
            waiting = [k for k in waiting if k[0] != post.channel_id]
            await eventually(lambda: all(stored(service.store, k) for k in due))
            landed()
        await service.poll()  # the scheduled poll after the last post
        landed()
        clock.ahead += timedelta(seconds=LONG_FLOOD + 1)  # a flood wait on edits met late is over too
        await deliver_alone(service)  # the sender's next scheduled pass
        assert not service.store.queued_alerts()
    finally:
        await stop_service(service)
    assert flood_met is not None and flood_met + p.flood_for < p.stop_at, flood_met
    assert [e.after is not None for e in edits] == [True] * len(p.edits), "an edit was never stored"
    return edits


def arrival_replay(db: Path, live_db: Path, posts: list[Post], p: Plan, edits: list[Edit]) -> None:
    """The pipeline replay runs, fed the posts one at a time in the order the live path stored
    them, an edited post in its first version, and in its full one where the live path stored the edit."""
    con = sqlite3.connect(live_db)
    order = [(c, m) for c, m in con.execute("SELECT channel_id, message_id FROM posts ORDER BY rowid")]
    con.close()
    by_key = {q.key: q for q in posts}
    firsts = {planned.key: planned.first_version(by_key[planned.key]) for planned in p.edits}
    store = Store(db)
    with Pipeline(store, Matcher(load_rules(RULES))) as pipeline:
        for i, key in enumerate(order + [None]):
            for e in edits:
                if e.after == i:
                    list(pipeline.process([replace(by_key[e.key], edit_date=e.at)], in_order=False))
            if key is not None:
                list(pipeline.process([firsts.get(key, by_key.get(key))], in_order=False))
    store.close()


@dataclass
class Seen:
    """What an analyst can see in one store."""

    posts: dict[Key, tuple[Any, ...]]
    matches: dict[tuple[Key, str], tuple[Any, ...]]
    stories: set[frozenset[Key]]
    alerts: dict[tuple[frozenset[Key], str], tuple[Key, str]]


def shown_entities(entities: str | None) -> list[list[Any]]:
    """Stored entities as they count: a visible link ("link") is stored with its text as its URL
    from an export (Telegram Desktop writes it so) and with none from Telegram (MessageEntityUrl
    has no URL). Nothing reads that URL: `hidden_links` skips visible links, so the text hash,
    `url:` rules and alerts are the same either way."""
    return [[kind, offset, length, None if kind == "link" else url]
            for kind, offset, length, url in json.loads(entities or "[]")]


def seen(db: Path) -> Seen:
    con = sqlite3.connect(db)
    try:
        posts = {(c, m): (*rest, shown_entities(entities)) for c, m, *rest, entities in con.execute(
            "SELECT channel_id, message_id, date, edit_date, text, text_hash, link, entities FROM posts")}
        matches = {((c, m), rule): (terms, hits) for c, m, rule, terms, hits in con.execute(
            "SELECT channel_id, message_id, rule, terms, hits FROM matches WHERE current = 1")}
        members: dict[int, set[Key]] = defaultdict(set)
        for c, m, s in con.execute("SELECT channel_id, message_id, story_id FROM posts"):
            members[s].add((c, m))
        alerts = {(frozenset(members[s]), rule): ((c, m), state) for s, rule, c, m, state in con.execute(
            "SELECT story_id, rule, channel_id, message_id, state FROM alerts")}
    finally:
        con.close()
    return Seen(posts, matches, {frozenset(v) for v in members.values()}, alerts)


def uncovered(a: Seen, b: Seen) -> list[str]:
    """The alerts of `a` whose post's story in `b` has no alert of their rule."""
    story_of = {key: story for story in b.stories for key in story}
    return sorted(f"alert of {rule} on {key} has no match in the other store"
                  for (_, rule), (key, _) in a.alerts.items() if (story_of[key], rule) not in b.alerts)


def link(key: Key) -> str:
    """A post's link as the live service stores it: the channel read by the poll alone is named by
    its username, which a Telegram Desktop export does not carry (replay links it by id)."""
    return f"https://t.me/{POLLED_NAME}/{key[1]}" if key[0] == POLLED else f"https://t.me/c/{key[0]}/{key[1]}"


def first_link(message: Any) -> str:
    """The post an alert in the chat links to (its channel line)."""
    return next(e.url for e in message.entities if isinstance(e, tl.MessageEntityTextUrl))


def story_size(text: str) -> int:
    """The story size an alert in the chat shows ("story #12 (3 posts): …"; none: a post alone)."""
    found = re.search(r"^story #\d+ \((\d+) posts\)", text, re.M)
    return int(found.group(1)) if found else 1


def differences(a: dict[Any, Any], b: dict[Any, Any]) -> list[str]:
    out = [f"only live: {k}: {a[k]}" for k in a.keys() - b.keys()]
    out += [f"only replay: {k}: {b[k]}" for k in b.keys() - a.keys()]
    out += [f"differ: {k}: live {a[k]} / replay {b[k]}" for k in a.keys() & b.keys() if a[k] != b[k]]
    return sorted(out)[:20]


def test_the_live_path_stores_and_alerts_what_replay_does_on_real_posts(
        fake: FakeTelegram, tmp_path: Path, fast_updates: None, telethon_sleeps: Any) -> None:
    # the oldest post under a day old, as every post pushed live is (one over a day old is no news: muted);
    # the slice spans 36 h, so its newest are dated hours ahead of the service's clock
    oldest = SINCE + BACKFILL_ALERTS - timedelta(hours=1)
    shift = timedelta(seconds=int((datetime.now(timezone.utc) - oldest).total_seconds()))
    export = tmp_path / "slice"
    write_slice(export, shift)
    skips: list[Any] = []
    posts = list(read_by_date([export], skips))
    assert not skips and 400 <= len(posts) <= 450
    matcher = Matcher(load_rules(RULES))
    p = plan(posts, matcher)

    (tmp_path / "live").mkdir()
    edits = asyncio.run(live_run(fake, tmp_path / "live", posts, p))
    assert SHORT_FLOOD in telethon_sleeps.sleeps  # the short flood waits were met, and slept through
    for e in edits:
        mark_edited(export, e.key, e.at)  # the export, made after the edits, has the edited posts

    r = CliRunner().invoke(cli, ["replay", str(export), "--db", str(tmp_path / "replay.db"), "--rules", str(RULES),
                                 "--alerts", str(tmp_path / "alerts.jsonl")])
    assert r.exit_code == 0, r.output
    live, replay = seen(tmp_path / "live" / "tgwatch.db"), seen(tmp_path / "replay.db")

    arrival_replay(tmp_path / "arrival.db", tmp_path / "live" / "tgwatch.db", posts, p, edits)
    arrival = seen(tmp_path / "arrival.db")

    # What each post is and what each rule finds in it: exactly as replay has it.
    assert set(live.posts) == set(replay.posts) == {q.key for q in posts}
    replay.posts = {k: (*v[:4], link(k), *v[5:]) for k, v in replay.posts.items()}
    assert not (d := differences(live.posts, replay.posts)), "\n".join(d)
    assert not (d := differences(live.matches, replay.matches)), "\n".join(d)
    # The alerts: no story and rule that alerts in one alerts in neither in the other (where the
    # stories differ, see below, one alert may stand for a post that alerts alone in the other),
    # every one sent to the chat once.
    assert not (d := uncovered(live, replay)) and not (d := uncovered(replay, live)), "\n".join(d)
    assert {state for _, state in live.alerts.values()} == {"sent"}
    sent = [m for m in fake.chat if "matched:" in m.text]
    assert sorted(first_link(m) for m in sent) == sorted(link(key) for key, _ in live.alerts.values())
    # Stories fold in the order posts arrive, as a replay of them in that order folds them, not
    # as a replay in date order does: a post a gap, the poll or the restart brought late is folded
    # after the posts that arrived before it, and an edited post keeps the story its first version
    # joined (the flash here: its full text, replayed, would join the story of the same protests
    # in other channels). Alerts are one per story and rule, so they follow that partition too.
    assert live.stories == arrival.stories, (sorted(map(sorted, live.stories - arrival.stories))[:5],
                                             sorted(map(sorted, arrival.stories - live.stories))[:5])
    assert {k: key for k, (key, _) in live.alerts.items()} == {k: key for k, (key, _) in arrival.alerts.items()}
    # ...and each shows its story as it ended (grown since it was sent: edited, through the flood
    # wait and the restarts)
    sizes = {link(key): len(story) for (story, _), (key, _) in live.alerts.items()}
    assert {first_link(m): story_size(m.text) for m in sent} == sizes
