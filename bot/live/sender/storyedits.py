"""Story updates edit the alert already sent: at most one edit per alert per `edit_every`, and a
flood wait on editMessage holds the edits only (Telegram counts waits per method: new alerts go on)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from telethon import errors, functions

from ..codes import telegram_code
from .floodwait import FloodWaits, _Due

__all__ = ["StoryEdits"]

log = logging.getLogger("bot.live.sender")  # the parts of Sender log under one name, as one job


class _EditsHeld(Exception):
    """Story updates wait out a flood wait Telegram set on editMessage; sends go on meanwhile."""


class StoryEdits(FloodWaits):
    """`Sender`'s `_edit` of a sent alert, its throttle and its own flood wait (a mixin: it works on
    the state `Sender.__init__` sets)."""

    edit_every: float
    _edits_until: _Due | None
    _edit_due: dict[int, float]

    def _edits_held(self) -> bool:
        """True while a flood wait on editMessage runs; the first call after it lets Telethon edit again."""
        if self._edits_until is None:
            return False
        if self._waiting(self._edits_until):
            return True
        self._edits_until = None
        waited = getattr(self.client, "_flood_waited_requests", None)  # as in `FloodWaits._paused` (telethon 1.45)
        if isinstance(waited, dict):
            waited.pop(functions.messages.EditMessageRequest.CONSTRUCTOR_ID, None)
        log.info("flood wait on edits over: story updates resume")
        return False

    def _hold_edits(self, e: errors.FloodError) -> None:
        seconds = int(getattr(e, "seconds", None) or 60)
        due = self._after(seconds)
        if self._edits_until is None or due[0] > self._edits_until[0]:
            log.warning("editing alerts: Telegram asks to wait (%s); story updates wait, new alerts go on", telegram_code(e))
            self._edits_until = due

    def _throttled(self, alert_id: int, last: datetime | None, now: datetime) -> float:
        """Seconds a story update must still wait: edit_every after the alert's last send or edit. That
        time is stored by the wall clock; a clock set back since never makes it wait more than edit_every."""
        wall_wait = (last + timedelta(seconds=self.edit_every) - now).total_seconds() if last else 0.0
        if wall_wait <= 0:
            self._edit_due.pop(alert_id, None)
            return 0.0
        mono = self.monotonic()
        due = self._edit_due.setdefault(alert_id, mono + min(wall_wait, self.edit_every))
        if mono >= due:
            self._edit_due.pop(alert_id, None)
            return 0.0
        return min(wall_wait, due - mono)

    async def _edit(self, peer: Any, message_id: int, text: str, entities: list[Any], markup: Any = None) -> bool:
        """Edit a sent alert message; False when Telegram says it cannot be (too old, gone)."""
        try:
            await self.client(functions.messages.EditMessageRequest(
                peer=peer, id=message_id, message=text, entities=entities or None, no_webpage=True, reply_markup=markup))
        except errors.MessageNotModifiedError:
            pass
        except errors.FloodError as e:
            self._hold_edits(e)
            raise _EditsHeld from None
        except (errors.MessageIdInvalidError, errors.MessageEditTimeExpiredError) as e:
            log.info("alert message %d cannot be edited (%s): keeping it as it is", message_id, e.message)
            return False
        return True
