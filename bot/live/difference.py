"""Edits and deletions a channel's difference carries: Telethon 1.45 drops them, they are handed on here.

Telethon fills a gap in a channel's updates (and, with `catch_up`, the time the service was stopped)
with getChannelDifference. Its MessageBox sets the channel's pts to the end of the difference before
it applies the difference's `other_updates`, so each of them looks applied already and is dropped:
an edit (or a deletion) Telegram made in the gap never fires MessageEdited (MessageDeleted), and the
poll re-reads only the last few posts. Found comparing the live service with a replay of the same
corpus posts (tests/test_live_vs_replay.py); tests/test_live_difference.py keeps a canary on it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telethon import TelegramClient
from telethon._updates.messagebox import MessageBox
from telethon.tl import types

__all__ = ["hold_catch_up", "keep_difference_edits", "release_catch_up"]

log = logging.getLogger("bot.live.ingest")  # the parts of Ingest log under one name, as one job

_KEPT = (types.UpdateEditChannelMessage, types.UpdateDeleteChannelMessages)


class _KeepingBox(MessageBox):
    """Telethon's MessageBox, handing on what `apply_channel_difference` drops (no state of its own)."""

    __slots__ = ()

    def apply_channel_difference(self, request: Any, diff: Any, chat_hashes: Any) -> Any:
        updates, users, chats = super().apply_channel_difference(request, diff, chat_hashes)
        if isinstance(diff, types.updates.ChannelDifference):
            # every one of them has a pts within the difference, which the box now holds: all were dropped
            updates = [*(u for u in diff.other_updates if isinstance(u, _KEPT)), *updates]
        return updates, users, chats


def keep_difference_edits(client: TelegramClient) -> bool:
    """Make the client's MessageBox hand the edits and deletions of every channel difference on to
    the event handlers; False (nothing done, one log line) when this Telethon's MessageBox is not the
    one this was written for."""
    box: Any = getattr(client, "_message_box", None)  # telethon 1.45 (pinned)
    if isinstance(box, _KeepingBox):
        return True  # a second `listen`
    if type(box) is not MessageBox:
        log.info("no channel-difference hook in this Telethon: edits made in a gap are found by the poll's look-back only")
        return False
    box.__class__ = _KeepingBox  # the same slots: the box keeps its state
    return True


def hold_catch_up(client: TelegramClient) -> None:
    """Hold the client's start-up catch-up (the `catch_up` option) until `release_catch_up`. Telethon
    asks what happened while stopped as soon as it connects; what that brings before the event
    handlers are in place is dispatched to none and lost (its docs: catch up after registering the
    handlers). Held, updates wait in Telethon's queue meanwhile."""
    ready = asyncio.Event()
    catch_up = client.catch_up

    async def held() -> None:
        await ready.wait()
        await catch_up()

    client.catch_up = held
    client._tgwatch_ready = ready


def release_catch_up(client: TelegramClient) -> None:
    """Let a catch-up held by `hold_catch_up` go (nothing when none is held)."""
    ready = getattr(client, "_tgwatch_ready", None)
    if ready is not None:
        ready.set()
