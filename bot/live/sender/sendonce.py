"""One message part sent exactly once: under a random_id stored before the first attempt, and, when
Telegram says that random_id was used (an earlier attempt got there), found again in the chat."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from telethon import TelegramClient, errors, functions, types

from ...alert.outbox import DELETED_MARK
from ..codes import telegram_code
from ..randomid import call_unrepeated
from .peers import _topic_of

__all__ = ["FIND_SENT_LOOKBACK", "SendOnce"]

log = logging.getLogger("bot.live.sender")  # the parts of Sender log under one name, as one job


# Messages read back in a chat for an alert Telegram says was sent (RANDOM_ID_DUPLICATE) but whose
# id we lost: up to 10 history requests (100 each), only after a crash or a lost reply.
FIND_SENT_LOOKBACK = 1000


def _digest(text: str, entities: Sequence[Any]) -> str:
    raw = text + "|" + ";".join(f"{type(e).__name__}:{e.offset}:{e.length}" for e in entities)
    return hashlib.blake2b(raw.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _first_url(entities: Sequence[Any] | None) -> str | None:
    return next((e.url for e in entities or () if isinstance(e, types.MessageEntityTextUrl)), None)


def _same_alert(message: Any, text: str, entities: Sequence[Any]) -> bool:
    """Is `message` an earlier rendering of the alert part `text`? The same first line (severity and
    rule) and the same first link (the post): what a growing story or an edited post leaves as it is."""
    url = _first_url(entities)
    return (url is not None and _first_url(message.entities) == url
            and (message.message or "").split("\n", 1)[0] == text.split("\n", 1)[0])


def _is_part(message: Any, text: str, entities: Sequence[Any], topic: int | None) -> bool:
    """Is `message` our own, in forum topic `topic` (None: General or no forum), with this text or
    an earlier rendering of it (`_same_alert`)? The test `_find_sent` and `AfterRestore._shown_before` share."""
    return bool(message.out) and _topic_of(message) == topic and (message.message == text or _same_alert(message, text, entities))


def _sent_id(result: Any, random_id: int) -> int | None:
    """The id of the message a send created, from whichever shape of answer Telegram gave."""
    if isinstance(result, types.UpdateShortSentMessage):
        return int(result.id)
    found = None
    for u in getattr(result, "updates", None) or ():
        if isinstance(u, types.UpdateMessageID) and u.random_id == random_id:
            return int(u.id)
        if isinstance(u, (types.UpdateNewMessage, types.UpdateNewChannelMessage)):
            found = int(u.message.id)
    return found


class SendOnce:
    """`Sender`'s `_send` of one part and `_find_sent` (a mixin: it works on the state `Sender.__init__` sets)."""

    client: TelegramClient

    async def _send(self, peer: Any, text: str, entities: list[Any], random_id: int, silent: bool,
                    markup: Any = None, *, what: str = "message", reply_to: Any = None,
                    replying: int | None = None, mark: str = DELETED_MARK) -> tuple[int | None, str]:
        """Send one message part; returns its id (None when unknown) and the `_digest` of what the
        chat shows: this text, or, when an earlier attempt with this random_id got there first, the
        text that attempt carried. `reply_to` names the forum topic, or with `replying` (a message
        the part answers: a deletion notice's alert) that message and the topic as `top_msg_id`;
        `mark`: how such a reply starts (`_find_sent`)."""
        request = functions.messages.SendMessageRequest(
            peer=peer, message=text, entities=entities or None, no_webpage=True, silent=silent, random_id=random_id,
            reply_markup=markup, reply_to=reply_to)
        try:
            result = await call_unrepeated(self.client, request)  # a duplicate is not sent 5 more times
        except errors.RandomIdDuplicateError:
            # An earlier send with this random_id reached the chat (its answer was lost, or we stopped
            # before storing it): find the message so story updates can still edit it.
            topic = None if reply_to is None else reply_to.top_msg_id if replying is not None else reply_to.reply_to_msg_id
            found = await self._find_sent(peer, text, entities, topic, replying=replying, mark=mark)
            if found is None:
                log.warning("%s was already sent (Telegram knows its random_id) but its message id is "
                            "unknown: story updates will not edit it", what)
                return None, _digest(text, entities)
            log.info("%s was already sent (Telegram knows its random_id): it is message %d", what, found.id)
            return int(found.id), _digest(found.message or "", found.entities or [])
        return _sent_id(result, random_id), _digest(text, entities)

    async def _find_sent(self, peer: Any, text: str, entities: Sequence[Any], topic: int | None = None,
                         limit: int = FIND_SENT_LOOKBACK, *, replying: int | None = None,
                         mark: str = DELETED_MARK) -> Any:
        """Our own recent message in the chat and forum topic (None: General or no forum) with this
        text, or that is the same alert as it (`_same_alert`: an earlier attempt sent it before the
        story grew), if Telegram lets us read it: the same alert sent to two topics of one group
        must not be taken for the other topic's copy (its story updates would edit that one).
        Looked for among the last `limit` messages, newest first: analysts talk in the chat, so one
        page can miss it; bounded, as each 100 are a history request (a bot reads none). With
        `replying`, the reply to that message that starts with `mark`: a deletion notice (its time
        may read otherwise), or the notice that the post is not deleted after all."""
        try:
            async for m in self.client.iter_messages(peer, limit=limit, wait_time=0):
                if replying is not None:
                    if (m.out and _topic_of(m) == topic and getattr(m.reply_to, "reply_to_msg_id", None) == replying
                            and (m.message or "").startswith(mark)):
                        return m
                elif _is_part(m, text, entities, topic):
                    return m
        except Exception as e:  # noqa: BLE001 - best effort (bots cannot read history)
            log.debug("looking up a sent message failed: %s", telegram_code(e))
        return None
