"""The bot client's side of the chat: who may talk to tgwatch, and carrying commands, replies,
files and button presses between Telegram and `Commands`."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from telethon import Button, TelegramClient, errors, events, utils
from telethon.tl import TLRequest, functions, types

from ..alert.html import clip, to_parts
from ..config import Config, chat_topic
from ..live.codes import telegram_code
from ..live.randomid import call_unrepeated
from ..live.session import NETWORK_ERRORS, who
from .commands import Caller, Commands, Reply

__all__ = ["ChatBot", "digest_buttons", "triage_buttons"]

log = logging.getLogger(__name__)
_CAPTION = 1024  # Telegram's limit for a file's caption (UTF-16 units of its text; a bot has no Premium)


def triage_buttons(alert_id: int) -> list[list[Any]]:
    """The buttons under every alert sent by the bot."""
    return [
        [Button.inline("✅ relevant", f"rel:{alert_id}".encode()), Button.inline("❌ false positive", f"fp:{alert_id}".encode())],
        [Button.inline("🔕 rule 1 h", f"mr:{alert_id}".encode()), Button.inline("🔕 channel for rule 1 d", f"mc:{alert_id}".encode()),
         Button.inline("🧵 story", f"st:{alert_id}".encode())],
    ]


def digest_buttons(items: Sequence[tuple[int, int]]) -> list[list[Any]]:
    """Under a digest message, a row per item it carries, (number shown, alert id): relevant /
    false positive, recorded as an alert's buttons record them, so a low-severity rule (whose
    alerts come only in digests) gets a precision in /stats too."""
    return [[Button.inline(f"{n} ✅ relevant", f"rel:{alert_id}".encode()),
             Button.inline(f"{n} ❌ false positive", f"fp:{alert_id}".encode())] for n, alert_id in items]


class ChatBot:
    """Answers the analysts listed in the config, in their private chats with the bot and in the
    configured alert chats; everyone and everywhere else gets no answer (the attempt is logged)."""

    def __init__(self, client: TelegramClient, commands: Commands, config: Config) -> None:
        self.client = client
        self.commands = commands
        self.analysts = set(config.analysts)
        bases = [chat_topic(c)[0] for c in config.chats]  # a forum topic's group: commands in any topic
        self.chats = {int(c) for c in bases if isinstance(c, int)}
        self.named = list(dict.fromkeys(str(c) for c in bases if isinstance(c, str) and c != "me"))

    async def resolve_chats(self) -> None:
        """Alert chats named by @username: their ids, so commands and buttons there are answered;
        and the supergroup a basic group listed by id was upgraded to (it has a new id)."""
        for name in self.named:
            try:
                self.chats.add(await self.client.get_peer_id(name))
            except (ValueError, TypeError, errors.RPCError) as e:
                log.warning("alert chat %s cannot be resolved by the bot: %s", name, type(e).__name__)
        for chat_id in [c for c in self.chats if -1_000_000_000_000 < c < 0]:  # basic groups
            try:
                group = await self.client.get_entity(types.PeerChat(-chat_id))
            except (ValueError, TypeError, errors.RPCError) as e:
                log.debug("alert chat %s: cannot tell whether it was upgraded (%s)", chat_id, type(e).__name__)
                continue
            to = getattr(group, "migrated_to", None)
            if isinstance(to, types.InputChannel):
                self.allow(utils.get_peer_id(types.PeerChannel(to.channel_id)))

    def allow(self, chat_id: int) -> None:
        """Answer analysts in `chat_id` too: the supergroup an alert chat was upgraded to."""
        if chat_id not in self.chats:
            log.info("commands from analysts in chat %d (an alert chat upgraded to a supergroup) are answered", chat_id)
            self.chats.add(chat_id)

    async def identify(self) -> None:
        """Tell `Commands` the bot's own username (from get_me()), so /cmd@ourbot is answered and
        /cmd@otherbot ignored; left unknown when that fails, and then every /cmd@name is ignored
        (see `Commands.__init__`). Asked on the first /cmd@name, not at start: only those need it,
        and an await before `listen` would let the updates that arrive meanwhile go unhandled."""
        try:
            me = await self.client.get_me()
        except (ValueError, TypeError, errors.RPCError) as e:
            log.warning("the bot's own username cannot be read: %s", type(e).__name__)
            return
        username = getattr(me, "username", None)
        if username:
            self.commands.bot_username = str(username)

    def listen(self) -> None:
        self.client.add_event_handler(self._on_message, events.NewMessage(incoming=True, pattern=r"^/"))
        self.client.add_event_handler(self._on_press, events.CallbackQuery())

    def allowed(self, sender_id: int | None, chat_id: int | None, *, forwarded: bool = False) -> bool:
        if forwarded or sender_id is None or sender_id not in self.analysts:
            return False
        return chat_id == sender_id or chat_id in self.chats

    async def _on_message(self, event: events.NewMessage.Event) -> None:
        msg = event.message
        if not self.allowed(event.sender_id, event.chat_id, forwarded=msg.fwd_from is not None):
            log.warning("ignored a command from user %s in chat %s%s", event.sender_id, event.chat_id,
                        " (forwarded)" if msg.fwd_from is not None else "")
            return
        text = msg.message or ""
        if self.commands.bot_username is None and "@" in (text.split() or [""])[0]:
            await self.identify()  # the first /cmd@name (or get_me failed before): who are we?
        caller = Caller(int(event.sender_id), await self._name(event))
        try:
            reply = await self.commands.handle(text, caller)
        except Exception:  # a bug of ours, not the analyst's mistake: log it, answer in one line
            log.exception("command %r failed", text.split()[0][:40])
            reply = Reply("Sorry, that command failed on our side; the error is in tgwatch's log.")
        if reply is None:  # addressed to another bot: not ours to answer
            return
        await self._reply(event.chat_id, reply, text.split()[0][:40], self._thread(event, msg.id))

    async def _on_press(self, event: events.CallbackQuery.Event) -> None:
        if not self.allowed(event.sender_id, event.chat_id):
            log.warning("ignored a button press from user %s in chat %s", event.sender_id, event.chat_id)
            await event.answer()
            return
        caller = Caller(int(event.sender_id), await self._name(event))
        try:
            reply = await self.commands.press(event.data, caller)
        except Exception:
            log.exception("button %r failed", event.data[:20])
            reply = Reply("", toast="Sorry, that failed on our side; the error is in tgwatch's log.")
        try:
            await event.answer(reply.toast or "")
        except (errors.RPCError, *NETWORK_ERRORS) as e:
            log.warning("a button press was not acknowledged (%s)", _why(e))
        if reply.html or reply.file:
            await self._reply(event.chat_id, reply, "a button", self._thread(event, event.message_id))

    @staticmethod
    def _thread(event: Any, message_id: int) -> int | None:
        """In a group, the message an answer replies to (the command, or the alert whose button was
        pressed): in a forum group that keeps the answer in its topic, not in General. None in a
        private chat, where a quote of every command would only be noise."""
        return message_id if event.chat_id != event.sender_id else None

    async def _reply(self, chat_id: int, reply: Reply, what: str, reply_to: int | None = None) -> None:
        """`send`, where a refusal is one log line, not a traceback: the command took effect, only its
        answer is lost (a long flood wait on the bot, the chat gone, the network down). A temporary
        file the reply sends is removed afterwards, sent or not."""
        try:
            try:
                await self.send(chat_id, reply, reply_to)
            except errors.RPCError as e:
                if reply_to is None or not _gone(e):
                    raise
                log.info("the message %s answers is gone (%s): answering without the reply", what, _why(e))
                await self.send(chat_id, reply)
        except errors.FloodWaitError as e:
            log.warning("the answer to %s was not sent: Telegram asks the bot to wait %d s", what, e.seconds)
        except (errors.RPCError, *NETWORK_ERRORS) as e:
            log.warning("the answer to %s was not sent (%s)", what, _why(e))
        finally:
            reply.discard()

    async def _name(self, event: Any) -> str:
        """Who sent it, for /history: the user the update carried (in a group often a "min" user,
        which has a name too), asked of Telegram only when absent; the id when that fails, so a name
        never costs the command (users.getUsers can flood-wait or fail on a bad network)."""
        sender = getattr(event, "sender", None)
        if sender is None:
            try:
                sender = await event.get_sender()
            except (ValueError, TypeError, errors.RPCError, *NETWORK_ERRORS) as e:
                log.debug("the sender of a command cannot be looked up (%s)", _why(e))
        return who(sender) if sender is not None else str(event.sender_id)

    async def send(self, chat_id: int, reply: Reply, reply_to: int | None = None) -> None:
        """A reply as messages (split past 4096, buttons under the last part, no link previews) or as
        a file; `reply_to`: the message every part answers (each part, so that all stay in a forum
        topic). The requests send_message and send_file would make, each sent by `_once`."""
        peer = await self.client.get_input_entity(chat_id)
        buttons = [[Button.inline(label, data.encode()) for label, data in row] for row in reply.buttons] or None
        markup = self.client.build_reply_markup(buttons)
        header = None if reply_to is None else types.InputReplyToMessage(reply_to)
        if reply.file is not None:
            name = reply.file_name or "tgwatch.bin"
            if isinstance(reply.file, Path):  # read from disk as it is uploaded; named after the file
                upload: str | io.BytesIO = str(reply.file)
            else:
                upload = io.BytesIO(reply.file)
                upload.name = name  # Telethon names the upload after the stream
            caption, entities = clip(reply.html, _CAPTION)
            # send_file's own upload and media (a photo for a PNG, else a named document)
            _, media, _ = await self.client._file_to_media(upload, force_document=not name.endswith(".png"))
            await self._once(functions.messages.SendMediaRequest(
                peer=peer, media=media, message=caption, entities=entities, reply_markup=markup, reply_to=header))
            return
        parts = to_parts(reply.html)
        for k, (text, entities) in enumerate(parts):
            await self._once(functions.messages.SendMessageRequest(
                peer=peer, message=text, entities=entities, no_webpage=True, reply_to=header,
                reply_markup=markup if k == len(parts) - 1 else None))

    async def _once(self, request: TLRequest) -> None:
        """Send one part of a reply. RANDOM_ID_DUPLICATE: the answer to its send was lost and Telethon
        sent it again, so it is in the chat; taken as sent at once, not re-sent 5 more times 2 s apart
        and then reported unsent with the parts after it dropped (`call_unrepeated`)."""
        try:
            await call_unrepeated(self.client, request)
        except errors.RandomIdDuplicateError:
            log.info("a reply reached the chat though the answer to its send was lost: not sent again")


# Telegram's answers when the message replied to, or its forum topic, was deleted meanwhile.
_REPLY_GONE = frozenset({"REPLY_MESSAGE_ID_INVALID", "REPLY_TO_INVALID", "TOPIC_DELETED"})


def _gone(e: errors.RPCError) -> bool:
    return isinstance(e, errors.TopicDeletedError) or telegram_code(e) in _REPLY_GONE


def _why(e: BaseException) -> str:
    """Telegram's error code, or the network error's class name (no message: it may quote a request)."""
    return telegram_code(e) if isinstance(e, errors.RPCError) else type(e).__name__
