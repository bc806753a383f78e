"""Telegram's own error codes for log lines and stored errors (CHAT_WRITE_FORBIDDEN, 'FLOOD_WAIT 600 s').

Telethon's `RPCError.message` is the class-level summary for errors it knows ("FORBIDDEN",
"BAD_REQUEST"), which tells an operator nothing; the code comes from Telethon's own table of
error classes.
"""

from __future__ import annotations

import re

from telethon import errors
from telethon.errors import rpcerrorlist

__all__ = ["reason", "telegram_code"]

_CODES = {cls: name for name, cls in rpcerrorlist.rpc_errors_dict.items()}
_PATTERNS = {cls: pattern for pattern, cls in rpcerrorlist.rpc_errors_re}


def telegram_code(e: BaseException) -> str:
    """Telegram's error code of `e` (a flood wait with its seconds); other errors by their text or,
    without one, their type."""
    if isinstance(e, errors.RPCError):
        seconds = getattr(e, "seconds", None)
        if seconds is not None and isinstance(e, errors.FloodError):
            return f"{_CODES.get(type(e)) or _PATTERNS.get(type(e), 'FLOOD_WAIT_').split('_(')[0]} {seconds} s"
        if type(e) in _CODES:
            return _CODES[type(e)]
        if type(e) in _PATTERNS:
            capture = next((getattr(e, a) for a in ("seconds", "new_dc", "which") if getattr(e, a, None) is not None), "N")
            return re.sub(r"\(\\d\+\)", str(capture), _PATTERNS[type(e)])
        return str(e.message or type(e).__name__)  # an error Telethon has no class for keeps the server's text
    return str(e) or type(e).__name__


def reason(e: BaseException) -> str:
    """A short reason for a user: Telethon's description of the error, without the request."""
    return re.sub(r"\s*\(caused by \w+\)\s*$", "", str(e)) or type(e).__name__
