"""`tgwatch run`: one asyncio loop runs the Telethon user client, the optional bot client and an
APScheduler AsyncIOScheduler (the reconcile poll and the sender's retries)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from time import monotonic as _monotonic
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from telethon import TelegramClient
from telethon.errors import AuthKeyDuplicatedError

from ..alert.html import isolated, local_time
from ..chat.commands import Commands
from ..chat.telegram import ChatBot, triage_buttons
from ..config import Config, Secrets
from ..match.edit import RuleBook
from ..match.matcher import Matcher
from ..match.rules import RuleSet
from ..pipeline import Pipeline, Processed
from ..rematch import Rematch, Stopped, catch_up
from ..report.stats import channel_activity, duration, heartbeat_text, status_text
from ..store.db import NewerStore, Store, StoreError, iso, off_loop
from .dbfaults import LIVE_BUSY_TIMEOUT, newer_store, store_down
from .downtime import Downtime, downtime, mark_alive, recovered, recovered_line
from .ingest import Ingest
from .restored import held_line
from .runmark import RUNS_FILE, RunMarks
from .scope import unwatched_scope
from .sender import Sender
from .session import (
    SESSION_GONE,
    NotLoggedIn,
    SessionLost,
    QuietReconnects,
    connect_first,
    database_lock,
    has_auth_key,
    lost_line,
    make_client,
    session_lock,
    start_bot,
)

__all__ = ["Service", "open_store", "run", "quiet_silencer"]

log = logging.getLogger(__name__)

CLOCK_CHECK_SECONDS = 30.0  # how often the wall clock is compared with the monotonic one
CLOCK_STEP_SECONDS = 10.0  # a wall clock this far behind the monotonic one since the last check was set back
# Posts retention deletes per transaction: ~0.1 s, and ~0.3 s to take them out of the search index,
# the longest a live write waits for the write lock meanwhile (LIVE_BUSY_TIMEOUT is 2 s).
PRUNE_BATCH = 1_000


def quiet_silencer(config: Config) -> Callable[[str, datetime], bool]:
    """Which alerts go out without sound: normal and low ones during the quiet hours."""
    if config.quiet_hours is None:
        return lambda severity, now: False
    start, end = config.quiet_hours
    zone = config.zone

    def silent(severity: str, now: datetime) -> bool:
        if severity == "high":
            return False
        t: time = now.astimezone(zone).time()
        return start <= t < end if start <= end else (t >= start or t < end)

    return silent


def open_store(config: Config) -> Store:
    """The live service's store, whose writes wait LIVE_BUSY_TIMEOUT for another program's lock,
    not the CLI's 30 s: each store call holds up the whole loop meanwhile. A migration that cannot
    get the lock now is a StoreError saying why, not a traceback."""
    try:
        # (its own upgrade: `run` holds <db>.lock, which refuses any other program's)
        return Store(config.db, busy_timeout=LIVE_BUSY_TIMEOUT, told=log.warning, serving=True)  # may take minutes
    except sqlite3.OperationalError as e:
        if (down := store_down(e)) is None:
            raise
        raise StoreError(f"{config.db}: cannot be upgraded now ({down}): another program is using it; "
                         "start tgwatch again when it is done") from None


T = TypeVar("T")


def _unless_down(work: Callable[[], T], what: str) -> T | None:
    """`work()`; when the store cannot take it now (locked, busy: `store_down`), None and one log
    line, "WHAT (database: why)": the live service goes on and a later pass does it."""
    try:
        return work()
    except sqlite3.OperationalError as e:
        if (down := store_down(e)) is None:
            raise
        log.info("%s (database: %s)", what, down)
        return None


class Service:
    """The live service over one store: ingest -> pipeline -> outbox -> sender, the analysts' chat
    (with a bot client) and the scheduled jobs, on one loop. Every job takes an optional `now`,
    so tests drive them with a controlled clock. `runs`: the file counting each store's sends outside it
    (`bot.live.runmark`): a store older than the last run's is then treated as restored."""

    def __init__(self, config: Config, store: Store, user: TelegramClient, *, rulebook: RuleBook | None = None,
                 bot: TelegramClient | None = None, scheduler: AsyncIOScheduler | None = None,
                 resolve_delay: float | None = None, runs: Path | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 monotonic: Callable[[], float] = _monotonic) -> None:
        self.config = config
        self.store = store
        self.user = user
        self.bot = bot
        self.clock = clock
        self.monotonic = monotonic
        self._clock_mark: tuple[datetime, float] | None = None  # (wall, monotonic) at the last `check_clock`
        self._clock_task: asyncio.Task[None] | None = None
        self.rulebook = rulebook or RuleBook(config.rules, store)
        self.runs = RunMarks(runs, config.db, store) if runs is not None else None
        if self.runs is not None:
            self.runs.check()  # (before the sender reads whether the store was restored)
        self.pipeline = Pipeline(store, self._matcher(), window_hours=config.story_window_hours)
        sending = bot if (bot is not None and config.send_via == "bot") else user
        markup = (lambda alert_id: sending.build_reply_markup(triage_buttons(alert_id))) if bot is not None and sending is bot else None
        self.sender = Sender(sending, store, config.chats, titles=self._titles(), tz=config.zone,
                             edit_every=config.edit_every_seconds, silent=quiet_silencer(config), buttons=markup,
                             rules=lambda: self.pipeline.matcher, clock=clock, matching=self.pipeline.matching,
                             reads_chat=sending is not bot)
        self.ingest = Ingest(user, self.pipeline, config.channels, on_processed=self._after, notify=self.sender.notify,
                             resolve_delay=config.resolve_delay_seconds if resolve_delay is None else resolve_delay,
                             edit_lookback=config.edit_lookback, on_deleted=self.sender.deliver,
                             on_read_through=self._read_through, on_reconnect=self._reconnected, clock=clock)
        self.commands = Commands(store, self.rulebook, config, matcher=lambda: self.pipeline.matcher,
                                 on_rules_changed=self.rules_changed, status=self.status_text,
                                 digest=self.sender.send_digest, chats_down=self.sender.chats_down, clock=clock,
                                 release=self.sender.release,
                                 matching=self.pipeline.matching)
        self.chat = ChatBot(bot, self.commands, config) if bot is not None else None
        if self.runs is not None:
            self.sender.on_sent = self.runs.sent
        if self.chat is not None:
            self.sender.on_migrated = self.chat.allow  # an alert chat upgraded to a supergroup
        self.scheduler = scheduler or AsyncIOScheduler(timezone=timezone.utc)
        self.last_poll: datetime | None = None
        self._down: Downtime | None = None  # the run before this start, until a read of every channel counts its posts
        self.warned_behind = False
        self._ran_on: dict[str, date] = {}  # daily job -> the local day it last ran (`_once_a_day`)
        self._scope_told: set[str] = set()  # the `unwatched_scope` lines posted in this run
        self._rules_generation = 0  # rules changes made so far: only the newest one's matcher is put in use
        self._rebuilds: set[asyncio.Task[None]] = set()
        self._catch_ups: set[asyncio.Task[Rematch | None]] = set()  # `catch_up_rules` running
        self._catching_up = asyncio.Lock()  # (created outside a loop: Python 3.10+ binds it when first used)
        self._stopping = threading.Event()  # read by the catch-up's thread between its batches
        self.session_lost: BaseException | None = None  # what Telegram said when it stopped taking the session
        self.lost = asyncio.Event()  # set with `session_lost`: the run ends (`_serve`)

    def _matcher(self, ruleset: RuleSet | None = None) -> Matcher:
        return Matcher(self.rulebook.ruleset if ruleset is None else ruleset, groups=self.config.groups)

    def _titles(self, ruleset: RuleSet | None = None) -> dict[str, str]:
        return {r.name: r.title for r in (self.rulebook.ruleset if ruleset is None else ruleset).rules}

    def rules_changed(self) -> asyncio.Task[None]:
        """The rules in use changed (a chat edit or a valid file on disk): a new matcher is built off
        the loop (0.2 s warm, seconds cold: posts and sends go on meanwhile, with the old one) and
        matches from when it is ready; a change made meanwhile wins over this one."""
        self._rules_generation += 1
        task = asyncio.get_running_loop().create_task(self._rebuild(self._rules_generation, self.rulebook.ruleset))
        self._rebuilds.add(task)
        task.add_done_callback(self._rebuilds.discard)
        return task

    async def _rebuild(self, generation: int, ruleset: RuleSet) -> None:
        try:
            matcher = await asyncio.to_thread(self._matcher, ruleset)
        except Exception:  # a task nobody awaits: a bug here is a log line, the old matcher stays
            log.exception("rules changed, but their matcher could not be built: the rules in use stay")
            return
        if generation != self._rules_generation:
            return  # a newer change is being built: it replaces the matcher, not this older one
        self.pipeline.matcher = matcher
        self.sender.titles = self._titles(ruleset)
        log.info("rules reloaded: %d rules", len(ruleset.rules))
        await self._warn_scope(matcher)
        self._catch_up(generation)  # (apart: the answer to a rule edit does not wait for the history)

    async def _warn_scope(self, matcher: Matcher) -> None:
        """Each rule whose `channels` name no watched channel (`unwatched_scope`): logged, and posted to
        the alert chats once per run for each such line. Not while a flood wait holds a channel's lookup
        back (its title is unknown): a later poll warns once it is resolved."""
        if self.ingest.held_back():
            return
        for line in unwatched_scope(matcher, self.config, self.ingest.watched.values()):
            if line not in self._scope_told:
                self._scope_told.add(line)
                log.warning("%s", line)
                await self.sender.notify(f"⚠️ {line}")

    def _catch_up(self, generation: int | None = None) -> None:
        task = asyncio.get_running_loop().create_task(self.catch_up_rules(generation))
        self._catch_ups.add(task)
        task.add_done_callback(self._catch_ups.discard)

    async def rules_caught_up(self) -> None:
        """Wait until the stored posts are matched with every rules change made so far (`catch_up_rules`)."""
        await self.rules_settled()
        while self._catch_ups:
            await asyncio.gather(*self._catch_ups, return_exceptions=True)

    async def catch_up_rules(self, generation: int | None = None) -> Rematch | None:
        """Match the stored posts with the rules added or changed since they were matched (a chat
        edit, a file edited on disk, while running or stopped; an upgrade of the matching), off the
        loop, so exports, /stats and /rule count them as a replay would. Their alerts are stored
        muted, not sent: old news (a story that goes on alerts with its next post). One runs at a
        time; a newer rules change stops this one after its batch and catches up itself. None when
        there was nothing to do (or it stopped)."""
        mine = self._rules_generation if generation is None else generation

        def stop() -> bool:  # (asked in the catch-up's thread between its batches)
            return self._stopping.is_set() or mine != self._rules_generation

        async with self._catching_up:  # one at a time: two on one rule would each undo the other's coverage
            if stop():
                return None  # a newer change catches up itself
            rules = list(self.rulebook.ruleset.rules)
            try:
                again = await off_loop(self.store, lambda store: catch_up(store, rules, groups=self.config.groups, stop=stop))
            except Stopped:
                return None
            except Exception as e:  # a store that cannot be used now, or a bug: the rules in use still match new posts
                if isinstance(e, sqlite3.OperationalError) and (down := store_down(e)) is not None:
                    log.warning("the stored posts are not matched with the changed rules now (database: %s): "
                                "the next rules change, start or replay does it", down)
                elif isinstance(e, NewerStore):
                    log.error("the stored posts are not matched with the changed rules: %s", newer_store(e))
                else:
                    log.exception("matching the stored posts with the changed rules failed: they match new posts only")
                return None
        for rule, n in sorted(again.posts.items()):
            log.info("rule %s matched %d stored posts again (%s): %d match, %d no longer", rule, n,
                     again.why.get(rule, "changed"), again.matched[rule], again.dropped[rule])
        return again if again.posts else None

    async def rules_settled(self) -> None:
        """Wait until every rules change made so far matches (the newest one's matcher is in use)."""
        while self._rebuilds:
            await asyncio.gather(*self._rebuilds, return_exceptions=True)

    async def _after(self, processed: list[Processed]) -> None:
        if any(p.alert_ids or p.update_ids for p in processed):
            await self.sender.deliver()

    async def start(self) -> None:
        """Check the login, resolve channels, listen, catch up on what happened while stopped,
        then schedule the jobs."""
        if not await self.user.is_user_authorized():
            raise NotLoggedIn("not logged in: run `tgwatch login` first")
        if self.chat is not None:
            self.chat.listen()  # first: a command that arrives while the rest starts up is not dropped
        await self.ingest.resolve()
        # the channels read before, or watched in the run before (a flood wait may have held back their first read);
        # not one whose only read was a replayed export (`seeded`): its first read is a backfill
        self._down = downtime(self.store, [cid for cid, w in self.ingest.watched.items() if cid in self.ingest.watched_before
                                           or (self.store.high_water(cid) is not None and not w.seeded)], self.clock())
        self.ingest.listen()
        if self.chat is not None:
            await self.chat.resolve_chats()
        for e in self.rulebook.ruleset.errors:  # once the chats are known: else held for a retry
            await self.sender.notify(f"⚠️ rule file error ({e.takes_out()} is not in use until it is fixed): {e.brief()}")
        await self.ingest.reconcile()
        await self._warn_scope(self.pipeline.matcher)  # after the poll: it resolves channels the lookups above could not
        self.last_poll = self.clock()
        await self.sender.deliver()
        self._catch_up()  # rules edited while stopped, or matching upgraded
        self.schedule()
        self.scheduler.start()
        self.check_clock()
        self._clock_task = asyncio.get_running_loop().create_task(self._watch_clock())
        log.info("watching %d channels (%d joined, %d polled only)", len(self.ingest.watched),
                 sum(w.joined for w in self.ingest.watched.values()),
                 sum(not w.joined for w in self.ingest.watched.values()))

    def schedule(self) -> None:
        """Every job on the scheduler (AsyncIOScheduler, on this loop); times in the config's zone."""
        c, zone = self.config, self.config.zone
        grace = max(30, int(c.poll_minutes * 30))

        def add(job: Callable[[], Awaitable[object]], *args: Any, id: str, **kw: Any) -> None:
            self.scheduler.add_job(_guarded(job, id), *args, id=id, name=id, **kw)

        add(self.poll, "interval", minutes=c.poll_minutes, id="reconcile", coalesce=True, max_instances=1, misfire_grace_time=grace)
        add(self.sender.deliver, "interval", seconds=15, id="sender", coalesce=True, max_instances=1, misfire_grace_time=60)
        add(self.reload_rules, "interval", seconds=30, id="rules", coalesce=True, max_instances=1, misfire_grace_time=60)
        # the digests, the heartbeat and retention, slept through (a laptop shut), run once on waking, late
        # rather than a day later (coalesce: once, however many of their times the sleep covered)
        late: dict[str, Any] = {"coalesce": True, "misfire_grace_time": None}
        if c.digest == "hourly":
            add(self.sender.digest_due, CronTrigger(minute=0, timezone=zone), id="digest", **late)
        else:
            add(*self._once_a_day(self.sender.digest_due, "digest", c.digest_at), id="digest", **late)
        add(*self._once_a_day(self.heartbeat, "heartbeat", c.heartbeat_at), id="heartbeat", **late)
        add(self.watchdog, "interval", minutes=15, id="watchdog", coalesce=True, max_instances=1, misfire_grace_time=600)
        if c.retention_days:
            add(*self._once_a_day(self.prune, "retention", time(3, 30)), id="retention", **late)

    def _once_a_day(self, job: Callable[[], Awaitable[object]], name: str,
                    at: time) -> tuple[Callable[[], Awaitable[object]], CronTrigger]:
        """A daily job at `at` (the config's zone) and its trigger, the job run at most once for each
        local day's time: APScheduler 3's cron fires twice when the clocks go back over it (02:30
        CEST, then 02:30 CET), and again when NTP steps the clock back over it (`check_clock`). The day
        is the one whose time is due (a digest run late after midnight is yesterday's, not today's)."""
        trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=self.config.zone)

        async def run() -> object:
            now = self.clock()
            due, nxt = None, trigger.get_next_fire_time(None, now - timedelta(days=1, hours=2))
            while nxt is not None and nxt <= now and (due is None or nxt > due):  # the latest of its times by now
                # (APScheduler 3 gives 02:30 CET again after 02:30 CET on the night the clocks go back)
                due, nxt = nxt, trigger.get_next_fire_time(nxt, nxt + timedelta(seconds=1))
            day = (due or now).astimezone(self.config.zone).date()
            if self._ran_on.get(name) == day:
                log.info("scheduled %s already ran for %s: not again", name, day)
                return None
            self._ran_on[name] = day
            return await job()

        return run, trigger

    async def _watch_clock(self) -> None:
        while True:
            await asyncio.sleep(CLOCK_CHECK_SECONDS)  # the loop's clock is monotonic
            try:
                self.check_clock()
            except Exception:  # a task nobody awaits: a log line, and the next check
                log.exception("checking the clock failed")

    def check_clock(self) -> float:
        """Seconds the wall clock was set back since the last check (0: not). APScheduler waits for
        the wall clock, so after a step back every job would wait that much longer (the sender's
        retries, the poll): interval jobs move back as far, cron jobs (the digest) to their next time
        by the clock as it reads now (a daily one that ran today does not run again: `_once_a_day`)."""
        wall, mono = self.clock(), self.monotonic()
        mark, self._clock_mark = self._clock_mark, (wall, mono)
        if mark is None:
            return 0.0
        back = (mono - mark[1]) - (wall - mark[0]).total_seconds()
        if back < CLOCK_STEP_SECONDS:
            return 0.0
        log.warning("the system clock was set back %d s: the scheduled jobs are moved back with it", back)
        for job in self.scheduler.get_jobs():
            if job.next_run_time is None:
                continue  # paused
            if isinstance(job.trigger, IntervalTrigger):
                when = job.next_run_time - timedelta(seconds=back)
            else:
                when = job.trigger.get_next_fire_time(None, wall.astimezone(job.next_run_time.tzinfo)) or job.next_run_time
            if when < job.next_run_time:
                job.modify(next_run_time=when)
        return back

    async def poll(self) -> None:
        """The scheduled reconcile: posts Telegram never pushed are found here. (And Telethon's
        collectors of albums delivered long ago are dropped: it never does.)"""
        self.ingest.forget_albums()
        try:
            n, m = await self.ingest.reconcile()
        except SESSION_GONE as e:  # no channel can be read again with it: stop, not a warning every poll
            log.error("%s", lost_line(e, self.config.session_path))
            self.session_lost = e
            self.lost.set()
            return
        if self.ingest.complete:  # every watched channel read: a poll stopped by a flood wait does not count
            self._polled()
        if n:
            log.info("reconcile found %d posts from %d channels that no live update brought", n, m)
        await self._warn_scope(self.pipeline.matcher)  # (once per line: a no-op once told, or while still held back)
        await self.sender.deliver()

    def _reconnected(self) -> None:
        """The connection is back after tgwatch fell behind (a laptop asleep, a long network drop): the
        catch-up poll tells what it recovered, and which matched posts were too old to alert, as a
        start's read does (`downtime`, `_read_through`); a short drop tells nothing."""
        now = self.clock()
        if self._down is not None or not self._behind(now):
            return
        read = [cid for cid, w in self.ingest.watched.items() if w.back is None and not w.seeded]
        # (called from Telethon's reconnect handler: never raise there)
        self._down = _unless_down(lambda: downtime(self.store, read, now), "what the catch-up poll recovers is not counted")

    def _behind(self, now: datetime) -> bool:
        """No poll has read every channel for three poll intervals."""
        return self.last_poll is not None and now - self.last_poll > timedelta(minutes=3 * self.config.poll_minutes)

    def _polled(self) -> None:
        """A poll read every watched channel (the scheduled one, or the catch-up after a reconnect or a
        database failure): tgwatch is keeping up as of now (`_warn_behind`)."""
        self.last_poll = self.clock()
        self.warned_behind = False

    async def _read_through(self, at: datetime) -> None:
        """A reconcile that began at `at` read every channel and left nothing unstored: the posts
        published while tgwatch was down are all in. The first such read of a run tells how many it
        recovered (a start whose read a flood wait or a locked store cut short tells it at the poll
        that finishes, the scheduled one or a retry, or, restarted first, the next start's), and each
        records when it began (`mark_alive`; a read cut short moves nothing: the next start still
        counts the posts it did not read, and those this one stored). It counts as a poll (`_polled`).
        After a restore the store is caught up (`Sender.caught_up`): the line then says which alerts the
        chat already had and which went now (what is due is sent first), or how many a bot holds."""
        self._polled()  # (the catch-up polls too, not only the scheduled one)
        down, self._down = self._down, None
        # (some came with Telegram's start-up difference, not the read)
        got = recovered(self.store, down) if down is not None else None
        self._mark_alive(at)  # first: a crash before the line goes out loses it, rather than telling it twice
        restored = self.sender.restored is not None
        held = self._caught_up()
        held = held if held is not None and held[0] else None  # (none held: nothing to tell of it)
        if not (got and got.posts) and not held:
            self._told_older()  # (nothing to tell: counted afresh for the next line)
            return
        if restored or self.sender.found_before:  # the line says which alerts the chat had: sent what is due first
            await self.sender.settle()
        line = recovered_line(got, down, found=len(self.sender.found_before - self.sender.sent_before),
                              sent=len(self.sender.sent_before)) if got is not None and down is not None else None
        self._told_older()
        if held:
            told = held_line(held[0], held[1], local_time(held[1], self.config.zone), copied=self.sender.copied)
            line = f"{line}; {told}" if line else told
            log.warning("%s", line)
        if line is not None:
            await self.sender.notify(line)

    def _told_older(self) -> None:
        """`Sender.told_older`; a store that cannot take it now costs a log line (the counts stay for the next line)."""
        _unless_down(self.sender.told_older, "the alerts the recovered line counted are not cleared now")

    def _caught_up(self) -> tuple[int, datetime] | None:
        """`Sender.caught_up`; a store that cannot take it now costs a log line (the next complete read does it)."""
        return _unless_down(self.sender.caught_up, "the restore is not marked as caught up now")

    def _mark_alive(self, at: datetime) -> None:
        """Record that every post published before `at` is stored (`mark_alive`): the next start
        counts the posts published after it as recovered. A store that cannot take it now costs a
        log line; the next complete poll records it."""
        _unless_down(lambda: mark_alive(self.store, at), "the time tgwatch last ran is not recorded now")

    async def reload_rules(self) -> None:
        """Rule files edited on disk go in use, but for a file with a new error: it stays as it is in use
        (a new one stays out; one broken since start stays out, as at start), its error posted once."""
        reloaded, errors = self.rulebook.reload_if_changed()  # reads and parses: 40 ms, on the loop
        if reloaded:
            await self.rules_changed()
        for e in errors:
            kept = self.rulebook.held or "the rules in use stay as they were"
            log.warning("rule file error (%s until it is fixed): %s", kept, e)
            await self.sender.notify(f"⚠️ rule file error ({kept} until it is fixed): {e.brief()}")

    async def heartbeat(self, now: datetime | None = None) -> None:
        await self.sender.notify("💓 " + heartbeat_text(self.store, now=now or self.clock(),
                                                           channels_watched=len(self.ingest.watched)))

    async def watchdog(self, now: datetime | None = None) -> None:
        """Warn once when a channel that usually posts often has gone silent for much longer, or
        when tgwatch itself has fallen behind (no successful poll for three intervals)."""
        now = now or self.clock()
        try:
            await self._warn_silent(now)
        finally:  # a store that cannot record a warning now (locked) must not hold back this one
            await self._warn_behind(now)

    async def _warn_silent(self, now: datetime) -> None:
        """The silence warnings, each told once: the channels warned about are kept in the store, so
        a restart does not warn again; a channel that posts again is cleared. Silence is judged up to
        the last poll that read every channel, not beyond what tgwatch has read (woken from a night's
        sleep, the store has not read the night yet)."""
        factor = self.config.silence_factor  # (the week's post dates are read off the loop: 29,000 posts a week on a year's store)
        read = min(now, self.last_poll) if self.last_poll is not None else now
        activity = await off_loop(self.store, lambda store: channel_activity(store, now=read, factor=factor))
        warned = self.store.silence_warned()
        self.store.clear_silence([a.id for a in activity if not a.silent_warning and a.id in warned])
        for a in activity:
            if a.silent_warning and a.id not in warned:
                self.store.warn_silence(a.id, iso(now) or "")  # first: a crash after never tells it twice
                await self.sender.notify(f"⚠️ {isolated(a.name)} has been silent for {duration(a.silent_for or timedelta())} "
                                         f"(it usually posts every {duration(a.typical_gap or timedelta())})")

    async def _warn_behind(self, now: datetime) -> None:
        """Once, when no poll has read every channel for three intervals, naming the failing reads."""
        if self._behind(now) and not self.warned_behind:
            assert self.last_poll is not None  # `_behind` is never true before a poll read every channel
            self.warned_behind = True
            failing = [why for cid, why in self.ingest.failing.items() if cid in self.ingest.watched]
            await self.sender.notify(f"⚠️ tgwatch has fallen behind: no channel poll has finished since "
                                     f"{local_time(self.last_poll, self.config.zone)}"  # the analysts' clock, as every notice
                                     + ("; failing: " + "; ".join(failing) if failing else ""))

    async def prune(self, now: datetime | None = None) -> int:
        """Retention: delete the unmatched posts older than `retention_days`, `PRUNE_BATCH` a
        transaction, each batch taken out of the search index before the next (here, not at the
        loop's next `sync_search`), then the index merged in steps when enough was pruned
        (`Store.merge_search`), in a worker thread on a connection of its own: posts and alerts
        go on meanwhile (a year's first prune is a million posts). The story index then forgets the
        forwards gone with them. Stops between batches when the service stops (the next night goes on);
        a merge the store cannot take now (another program's write lock) is one warning, tried again
        the next night."""
        now = now or self.clock()
        before = iso(now - timedelta(days=self.config.retention_days)) or ""
        stopping = self._stopping

        def prune(store: Store) -> tuple[int, set[tuple[int, int]] | None]:
            n = store.prune(before, batch=PRUNE_BATCH, stop=stopping.is_set)
            forwards = store.forwarded_posts() if n else None  # (before the merge: a failed one keeps them)
            try:
                store.merge_search(stop=stopping.is_set)
            except sqlite3.OperationalError as e:
                if (down := store_down(e)) is None:
                    raise
                log.warning("retention: search index not merged now (database: %s); tried again next night", down)
            return n, forwards

        stories = self.pipeline.stories
        stories.reading_forwards()
        forwards = None
        try:
            n, forwards = await off_loop(self.store, prune)
        finally:
            stories.forwards_read(forwards)
        log.info("retention: pruned %d unmatched posts older than %d days", n, self.config.retention_days)
        return n

    async def status_text(self, now: datetime) -> str:
        """/status: a channel is behind by the posts Telegram gave that are not stored yet (a post
        pushed live and stored is not, though the next poll has yet to read past it); one whose
        last read failed says so. The store is read off the loop (every post date of the week):
        posts and alerts go on meanwhile."""
        errors = [str(v) for v in self.ingest.unresolved.values()]
        # the channels the last poll could not read or store (a flood wait, the database locked)
        failing = [cid for cid in self.ingest.failing if cid in self.ingest.watched]
        errors += [self.ingest.failing[cid] for cid in failing]
        errors += [f"alert chat {chat} cannot be written to ({why}): its alerts are held and retried until it can"
                   for chat, why in self.sender.chats_down().items()]
        behind, tz, watched = self.ingest.not_stored(), self.config.zone, set(self.ingest.watched)
        return await off_loop(self.store, lambda store: status_text(store, now=now, errors=errors, behind=behind,
                                                                    failing=failing, tz=tz, watched=watched))

    async def stop(self) -> None:
        if self._clock_task is not None:
            self._clock_task.cancel()
        for task in self._rebuilds:
            task.cancel()  # the thread finishes on its own; its matcher is not put in use
        self._stopping.set()  # a catch-up of the rules stops after its batch (the next start does it again)
        for rules_task in self._catch_ups:
            rules_task.cancel()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.ingest.close()
        self.pipeline.close()  # saves the story word counts


def _guarded(job: Callable[[], Awaitable[object]], name: str) -> Callable[[], Awaitable[None]]:
    """A scheduled job as the scheduler runs it: a store that cannot be used now (another program
    holds its write lock, the disk failed) costs one log line, not APScheduler's traceback, and the
    job runs again at its next time. (The poll and the sender handle it themselves, sooner.)"""
    async def run() -> None:
        try:
            await job()
        except sqlite3.OperationalError as e:
            if (down := store_down(e)) is None:
                raise
            log.warning("scheduled %s not done (database: %s); it runs again at its next time", name, down)
        except NewerStore as e:  # (a job reading off the loop: the prune, the watchdog)
            log.error("scheduled %s not done: %s", name, newer_store(e))

    run.__name__ = run.__qualname__ = name
    return run


async def _serve(config: Config, secrets: Secrets, make: Callable[..., TelegramClient]) -> None:
    # Never logged in: say so now, before connecting, and leave no session file behind.
    if not config.session_path.expanduser().exists():
        raise NotLoggedIn("not logged in: run `tgwatch login` first")
    user = make(config, secrets)
    if not has_auth_key(user.session):  # a file from an earlier run or a login given up before the key
        user.session.close()
        raise NotLoggedIn("not logged in: run `tgwatch login` first")
    store = open_store(config)
    bot = make(config, secrets, bot=True) if secrets.bot_token else None
    try:
        await connect_first(user)
        if secrets.bot_token and bot is not None:
            bot = await start_bot(bot, secrets.bot_token, lambda **kw: make(config, secrets, bot=True, **kw))
        service = Service(config, store, user, bot=bot, runs=config.session_dir / RUNS_FILE)
        await service.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        gone = asyncio.ensure_future(user.disconnected)
        waiters: list[Any] = [asyncio.ensure_future(stop.wait()), gone, asyncio.ensure_future(service.lost.wait())]
        with QuietReconnects():
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
        await service.stop()
        if service.session_lost is not None:
            raise SessionLost(lost_line(service.session_lost, config.session_path))
        if gone.done() and not gone.cancelled() and isinstance(gone.exception(), AuthKeyDuplicatedError):
            raise SessionLost(lost_line(gone.exception(), config.session_path))
        if gone.done() and not gone.cancelled() and gone.exception() is not None:
            # Telethon ends the connection with an error when the session was revoked or logged out
            raise NotLoggedIn(f"Telegram closed the session ({type(gone.exception()).__name__}): "
                              "run `tgwatch login` again")
    finally:
        for c in (user, bot):
            if c is not None:
                await c.disconnect()
        store.close()


def run(config: Config, secrets: Secrets, *, make: Callable[..., TelegramClient] = make_client) -> None:
    """Run the service until SIGINT/SIGTERM; raises NotLoggedIn when there is no session and
    SessionBusy when another tgwatch runs on it or on its database."""
    with (session_lock(config.session_dir, config.setting("paths.session_dir")),
          database_lock(config.db, config.setting("paths.db"))):
        asyncio.run(_serve(config, secrets, make))
