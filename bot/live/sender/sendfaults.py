"""What a failed send means: errors about the chat or the account keep the message queued (retried
until it works), errors about the message fail it after MAX_ATTEMPTS; and the back-off between tries."""

from __future__ import annotations

import asyncio

from telethon import errors

from ..codes import telegram_code

__all__ = ["MAX_ATTEMPTS", "MAX_RETRY_DELAY"]

MAX_ATTEMPTS = 8
MAX_RETRY_DELAY = 1800  # an unreachable chat is retried at least every 30 min, for as long as it takes
_NETWORK = (ConnectionError, OSError, asyncio.TimeoutError)
# Errors about the chat, not the message: the chat cannot be written to now (the bot was removed,
# the account lost the right to post, a user blocked the bot). Alerts wait for it.
_CHAT_LEVEL = frozenset({
    "CHAT_WRITE_FORBIDDEN", "CHAT_ADMIN_REQUIRED", "CHAT_RESTRICTED", "CHAT_FORBIDDEN", "CHAT_ID_INVALID",
    "CHAT_SEND_PLAIN_FORBIDDEN", "CHAT_GUEST_SEND_FORBIDDEN", "CHANNEL_PRIVATE", "CHANNEL_INVALID",
    "CHANNEL_PUBLIC_GROUP_NA", "PEER_ID_INVALID", "USER_BANNED_IN_CHANNEL", "USER_IS_BLOCKED", "USER_IS_BOT",
    "INPUT_USER_DEACTIVATED", "USER_DEACTIVATED", "USER_KICKED", "USER_NOT_PARTICIPANT", "TOPIC_CLOSED",
    "TOPIC_DELETED",
})


class _NoPeer(ValueError):
    """A configured chat this account cannot address (unknown id or name)."""


def _keeps_queued(e: BaseException) -> bool:
    """True for errors about the chat (it cannot be written to now), the sending account (401: a bot
    token revoked, a session logged out) or Telegram's servers: the alert waits; False for errors
    about the message itself (too long, bad entities), which fail it."""
    if isinstance(e, _NoPeer):
        return True
    if isinstance(e, errors.RPCError):
        return (isinstance(e, (errors.ForbiddenError, errors.ServerError, errors.UnauthorizedError))
                or telegram_code(e) in _CHAT_LEVEL)
    return False


def _retry_delay(attempts: int, *, chat_level: bool) -> int:
    delay = 15 * 2 ** min(max(attempts, 0), 12)
    return min(delay, MAX_RETRY_DELAY if chat_level else 3600)
