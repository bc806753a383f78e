"""The alert chats as Telegram peers: each looked up once (and followed to the supergroup a group
was upgraded to), its forum topic, and which chats cannot be written to now, each with its reason."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from telethon import TelegramClient, errors, types, utils

from ...config import chat_topic
from ...store.db import Store
from ...store.deliveries import retry_held
from ..codes import telegram_code
from ..dbfaults import store_down
from .floodwait import _Due
from .sendfaults import MAX_RETRY_DELAY, _NoPeer

__all__ = ["Peers"]

log = logging.getLogger("bot.live.sender")  # the parts of Sender log under one name, as one job

# who sends, why its login may be gone, and the fix, by `reads_chat` (False: a bot sends)
_LOGGED_OUT = {False: ("the bot", "its token was revoked in @BotFather?",
                       "set TGWATCH_BOT_TOKEN to the bot's token and restart tgwatch"),
               True: ("the user account", "logged out from another device?", "run `tgwatch login` again")}


def _topic(chat: str) -> types.InputReplyToMessage | None:
    """Where in a forum group a message to `chat` goes: its topic (CHAT/TOPIC); None for a plain
    chat and for topic 1, General, which takes messages that reply to nothing."""
    topic = chat_topic(chat)[1]
    return types.InputReplyToMessage(reply_to_msg_id=topic) if topic is not None and topic != 1 else None


def _topic_of(message: Any) -> int | None:
    """The forum topic a message is in: its reply header's top message, or the message it replies
    to when that is the topic itself; None for General (no header) and outside forums."""
    r = getattr(message, "reply_to", None)
    if not isinstance(r, types.MessageReplyHeader) or not r.forum_topic:
        return None
    return r.reply_to_top_id or r.reply_to_msg_id


class Peers:
    """`Sender`'s chats: `_peer` and `chats_down` (a mixin: it works on the state `Sender.__init__` sets)."""

    client: TelegramClient
    store: Store
    _peers: dict[str, Any]
    _moved: dict[str, int]
    on_migrated: Callable[[int], None] | None
    _unreachable: dict[str, str]
    reads_chat: bool
    _digest_due: dict[int, _Due]
    _notice_due: dict[str, tuple[int, _Due]]
    _told_due: dict[tuple[int, str, int], tuple[int, _Due]]
    _again: bool

    if TYPE_CHECKING:  # the other parts' methods it calls, for mypy: `Sender` has them all
        def _queue_notice(self, text: str, *chats: str) -> None: ...

    async def _peer(self, chat: str) -> Any:
        """The input peer of a configured chat ("me", @username, or a numeric id; a forum topic's
        chat for CHAT/TOPIC), looked up once."""
        base = str(chat_topic(chat)[0])
        if base != chat:
            return await self._peer(base)
        if chat not in self._peers:
            if chat == "me":
                self._peers[chat] = types.InputPeerSelf()
            elif chat.lstrip("-").isdigit():
                n = int(chat)
                try:
                    self._peers[chat] = await self.client.get_input_entity(n)
                except ValueError:
                    if n <= 0:
                        raise _NoPeer(f"chat {n} is unknown to this account: add it to the chat and post there once") from None
                    self._peers[chat] = types.InputPeerUser(n, 0)  # a bot may write to a user who started it
            else:
                try:
                    self._peers[chat] = await self.client.get_input_entity(chat)
                except ValueError as e:
                    raise _NoPeer(f"chat {chat} cannot be found: {e}") from None
            if isinstance(self._peers[chat], types.InputPeerChat):
                self._peers[chat] = await self._upgraded(chat, self._peers[chat])
        return self._peers[chat]

    async def _upgraded(self, chat: str, peer: types.InputPeerChat) -> Any:
        """The peer of a basic group, or of the supergroup it was upgraded to: Telegram gives the
        supergroup a new id and refuses the old one (PEER_ID_INVALID) for good."""
        try:
            group = await self.client.get_entity(peer)
        except errors.FloodError:
            raise
        except (ValueError, TypeError, KeyError, errors.RPCError) as e:  # KeyError: Telegram left out a group
            # the account is not in (Telethon's get_entity indexes its answer); the send then says why
            log.debug("chat %s: cannot tell whether it was upgraded (%s)", chat, telegram_code(e))
            return peer
        to = getattr(group, "migrated_to", None)
        if not isinstance(to, types.InputChannel):
            return peer
        marked = utils.get_peer_id(types.PeerChannel(to.channel_id))
        if self._moved.get(chat) != marked:
            self._moved[chat] = marked
            log.warning("alert chat %s was upgraded to a supergroup: alerts go to %d (name it so in the config)", chat, marked)
            self._queue_notice(f"ℹ️ this group was upgraded to a supergroup: alerts now come here; the config "
                               f"still names the old group {chat}: alerts.chats may name this one, {marked}", chat)
            if self.on_migrated is not None:
                self.on_migrated(marked)
        return types.InputPeerChannel(to.channel_id, to.access_hash)

    def _chat_failed(self, chat: str, e: BaseException) -> None:
        """One warning when a chat becomes unreachable (not one per alert and attempt); its peer is
        looked up again on the next attempt (a group upgraded to a supergroup has a new id)."""
        self._peers.pop(chat, None)
        if chat in self._unreachable:
            return
        code = self._unreachable[chat] = telegram_code(e)
        if isinstance(e, errors.UnauthorizedError):  # 401: the sending account's login, whatever the chat
            if list(self._unreachable.values()).count(code) == 1:  # once, not once per chat
                who, why, fix = _LOGGED_OUT[self.reads_chat]
                log.warning("%s cannot send (%s: Telegram no longer takes its login; %s): alerts stay queued and are "
                            "retried at least every %d min; %s", who, code, why, MAX_RETRY_DELAY // 60, fix)
        else:
            log.warning("chat %s cannot be written to (%s): alerts for it stay queued and are retried "
                        "at least every %d min until it works", chat, telegram_code(e), MAX_RETRY_DELAY // 60)

    def chats_down(self) -> dict[str, str]:
        """The alert chats that cannot be written to now, each with Telegram's reason: their alerts
        and digests are held and retried (/status and /digest say so)."""
        return dict(self._unreachable)

    def _chat_works(self, chat: str) -> None:
        if chat in self._unreachable:
            why = self._unreachable.pop(chat)
            log.warning("chat %s can be written to again (it failed with %s): sending what was held", chat, why)
            # the alerts this chat held back off for up to 30 min: try them now (not the ones that
            # failed for a reason of their own, which keep their back-off)
            try:
                retry_held(self.store, why)
            except sqlite3.OperationalError as e:
                if (down := store_down(e)) is None:
                    raise
                log.warning("the alerts held for chat %s keep their retry times (database: %s)", chat, down)
            self._digest_due.clear()
            self._notice_due.pop(chat, None)
            self._told_due = {k: v for k, v in self._told_due.items() if k[1] != chat}
            self._again = True
