"""The sender: delivers the outbox to the analysts' chats exactly once, honouring flood waits.

Each message part gets a random_id that is stored before the first attempt; Telegram refuses a
second message with the same random_id (RANDOM_ID_DUPLICATE), so a crash between sending and
marking sent never shows the analyst a second copy. Story updates edit the sent message.

A post the channel deletes is told once per (alert, chat): by editing the alert, by a reply to it
where it cannot be edited, or, for an alert that went out as an item of a digest, by a reply to the
digest message that carried the item (`DeletionNotices._tell_digest_deletions`); when Telegram then shows that
post again (the deletion signal was wrong), the alert is edited back, or, where the chat was told by
a reply (or the alert cannot be edited back), one more reply to the same message says so.

`Sender` is the front: it holds the state and the order of a pass (held notices, digests, deletion
notices, then alerts). Each job is a mixin in a module of its own: `alertsend` (the outbox's alerts,
with `storyedits` for story updates), `digestsend` (digests; their text is `digesttext`'s),
`deletednotices`, `notices` (one-line notices) and `afterrestore` (after a restore from backup). They
build on the shared parts: `recheck` (the rules in use), `sendonce` (one part sent exactly once),
`peers` (the chats), `floodwait` (flood waits, two clocks), `sendfaults` (what a failure means) and
`rows` (a row's ids as ints).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from telethon import TelegramClient

from ...match.matcher import Matcher
from ...store.db import Store
from .afterrestore import AfterRestore
from .alertsend import AlertSend
from ..dbfaults import Outage, store_down
from .deletednotices import DeletionNotices
from .digestsend import Digests
from .digesttext import DIGEST_ITEMS, render_digest
from .digesttext import _digest_parts as _digest_parts  # (tests import it from here)
from .floodwait import _Due
from .notices import Notices
from ..restored import copied, noted_older, restored_from
from .sendfaults import MAX_ATTEMPTS, MAX_RETRY_DELAY

__all__ = ["Sender", "MAX_ATTEMPTS", "MAX_RETRY_DELAY", "DIGEST_ITEMS", "render_digest"]

log = logging.getLogger(__name__)


class Sender(AlertSend, Digests, DeletionNotices, Notices, AfterRestore):
    """Sends queued alerts (and edits sent ones when their story grows) through one client."""

    def __init__(self, client: TelegramClient, store: Store, chats: Sequence[str | int], *,
                 titles: dict[str, str] | None = None, tz: ZoneInfo | None = None, edit_every: float = 60.0,
                 silent: Callable[[str, datetime], bool] | None = None,
                 buttons: Callable[[int], Any] | None = None, rules: Callable[[], Matcher] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 monotonic: Callable[[], float] = time.monotonic, matching: AbstractContextManager[Any] | None = None,
                 reads_chat: bool = True) -> None:
        """`reads_chat`: the client can read the chats' history (a user account; a bot cannot)."""
        self.client = client
        self.store = store
        self.chats = [str(c) for c in chats]
        self.titles = titles or {}
        self.tz = tz
        self.edit_every = edit_every
        self.silent = silent or (lambda severity, now: False)
        self.buttons = buttons  # reply markup under an alert (triage buttons; bots only)
        self.rules = rules  # the rules in use now: a held alert they no longer raise is not sent (`retire`)
        self.matching = threading.Lock() if matching is None else matching  # held while matching (`Pipeline.matching`)
        self.clock = clock
        self.monotonic = monotonic
        # an alert of a post older than this may be in the chat from a store since restored (whole
        # seconds, as Telegram dates posts: one of the second the run started is a live one)
        self.started = clock().replace(microsecond=0)
        self._ours: dict[str, list[Any]] = {}  # chat -> our messages in it, read once (`AfterRestore._shown_before`)
        self.reads_chat = reads_chat
        # the store was restored from a backup taken then (`bot.live.restored`), until the service has caught up
        self.restored = restored_from(store)
        self.copied = copied(store)  # found older than the last run's at start, not marked (`bot.live.runmark`)
        self.on_sent: Callable[[], None] | None = None  # something went out (`RunMarks.sent`)
        # alerts of posts older than the run: found in the chat already, and sent now (the "recovered" line;
        # kept in the store: a restart before the complete read that tells them loses none)
        self.found_before, self.sent_before = noted_older(store)
        # A flood wait pauses every send. It ends when either clock says Telegram's wait is over, so
        # a wall clock stepped back never holds delivery longer than the wait Telegram asked for.
        self.paused_until: datetime | None = None
        self._paused_mono = 0.0
        self._flood_requests: set[int] = set()
        # A flood wait on editMessage holds story updates only: Telegram counts its waits per method,
        # so a new alert must not wait for the edits of stories that grew fast.
        self._edits_until: _Due | None = None
        self._peers: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        self._digest_lock = asyncio.Lock()
        self._digest_tries: dict[int, int] = {}
        self._digest_due: dict[int, _Due] = {}
        self._digest_out: dict[int, set[tuple[str, int]]] = {}  # digest id -> (chat, part) sent
        # digest parts sent whose items are not recorded yet (the store could not take them then):
        # (chat, random_id, message id, [(alert id, shown deleted, item number)])
        self._digest_items: list[tuple[str, int, int | None, list[tuple[int, bool, int]]]] = []
        # (alert, chat, part) -> the back-off of a digest item's deletion (or not-deleted) notice
        self._told_due: dict[tuple[int, str, int], tuple[int, _Due]] = {}
        self._unreachable: dict[str, str] = {}  # chat -> why it cannot be written to now
        self._notices: deque[tuple[str, str, int]] = deque()  # (chat, text, random_id), oldest first
        self._unsent: dict[int, tuple[str, str, int]] = {}  # random_id -> notice not sent yet (stored)
        for item in self._load_notices():
            self._notices.append(item)
            self._unsent[item[2]] = item
        self._notice_due: dict[str, tuple[int, _Due]] = {}  # chat -> (failures, next try)
        self._notice_lock = asyncio.Lock()
        self._again = False
        self._moved: dict[str, int] = {}  # configured chat -> marked id of the supergroup it was upgraded to
        # (alert, chat, part) -> (message id, text hash) of a part Telegram took but the store could
        # not record: the next pass records it instead of sending it again
        self._unrecorded: dict[tuple[int, str, int], tuple[int | None, str]] = {}
        self._alert_due: dict[int, float] = {}  # alert id -> monotonic time its stored retry time stands for
        self._edit_due: dict[int, float] = {}  # alert id -> monotonic time its throttled story update may go
        self._digest_wanted = False  # the scheduled digest is due: the next pass collects it
        self._owners_given = False  # every alert an older release queued with no owner has one (`give_owners`)
        self._db_outage = Outage(log, "sending resumes: the database can be used again")
        self._notices_outage = Outage(log, "the held notices are saved again")
        self.on_migrated: Callable[[int], None] | None = None  # told the new id (the chat bot answers there)

    async def deliver(self) -> int:
        """Send what is due; returns how many alerts were completed. Concurrent calls fold into
        one pass (and one more, so nothing queued meanwhile waits for the next tick)."""
        if self._lock.locked():
            self._again = True
            return 0
        if self._db_outage.down and not self.store.writable_now():
            return 0  # still locked: asked without waiting (a pass would hold the loop for the busy timeout)
        done = 0
        async with self._lock:
            self._again = True
            while self._again:
                self._again = False
                try:
                    done += await self._pass()
                except sqlite3.OperationalError as e:
                    if (down := store_down(e)) is None:
                        raise
                    # what was sent is known (random_ids stored first, `_unrecorded`): nothing goes twice
                    self._db_outage.failed("sending paused (database: %s); alerts stay queued for the next pass", down)
                    break
                self._db_outage.ok()
        if done:
            self._went_out()
        return done

    def _went_out(self) -> None:
        """Alerts or a digest went out: counted (`on_sent`); a store that cannot take it now costs a log line."""
        if self.on_sent is None:
            return
        try:
            self.on_sent()
        except sqlite3.OperationalError as e:
            if (down := store_down(e)) is None:
                raise
            log.info("the sends are not counted now (database: %s); the next ones are", down)

    async def digest_due(self) -> None:
        """The scheduled digest: collected and sent by a sender pass now, or, when the store cannot
        be written now, by the first pass after (every 15 s), not at the next digest time."""
        self._digest_wanted = True
        await self.deliver()

    async def _pass(self) -> int:
        now = self.clock()
        self._hold_restored()
        if self._paused():
            return 0
        if self._notices:
            await self._flush_notices()  # notices held through a flood wait or an unreachable chat
            if self._paused():
                return 0
        if not self._digest_lock.locked():
            async with self._digest_lock:
                if self._digest_wanted:
                    await self._collect_digest(now)
                    self._digest_wanted = False
                await self._flush_digests()  # and a digest that failed earlier
                await self._tell_digest_deletions()
        return await self._send_alerts(now)
