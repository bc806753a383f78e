"""The live path: a Telethon user account watches channels; the same pipeline stores, matches,
folds stories and queues alerts; a sender delivers them to the analysts' chat exactly once.

The names below are loaded on first use: the chat bot (`bot.chat.telegram`) imports
`bot.live.session` and `bot.live.service` imports the chat bot, so an eager import here would
make importing `bot.chat.telegram` first a circular import."""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Ingest", "NotLoggedIn", "Sender", "Service", "make_client", "run", "secure_session"]

_WHERE = {"Ingest": "ingest", "Sender": "sender", "Service": "service", "run": "service", "NotLoggedIn": "session",
          "make_client": "session", "secure_session": "session"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
