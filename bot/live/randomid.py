"""A send under a random_id Telegram already has goes to the server once: RANDOM_ID_DUPLICATE is a
500 to Telethon, which would send it again `request_retries` times, 2 s apart, for the same answer.

Telethon 1.45 has no per-request retry setting; `TelegramClient._call(sender, request)` (private)
runs its retry loop over whatever `sender` it is given. `call_unrepeated` gives it a stand-in for
this one call that turns that answer into an error the loop does not retry. Nothing shared changes:
every other request on the client (polling, history reads, this request's own real 500s) is retried
as before, concurrently or not. tests/test_live_random_id_duplicate.py is the canary for `_call`.
"""

from __future__ import annotations

from typing import Any

from telethon import TelegramClient, errors
from telethon.tl import TLRequest

__all__ = ["call_unrepeated"]


class _Repeated(Exception):
    """Carries a RANDOM_ID_DUPLICATE past Telethon's retry loop (it retries RPC 500s only)."""

    def __init__(self, error: errors.RandomIdDuplicateError) -> None:
        super().__init__(error)
        self.error = error


async def _first_answer(answer: Any) -> Any:
    """The awaited answer of one attempt; a RANDOM_ID_DUPLICATE comes out as `_Repeated`."""
    try:
        return await answer
    except errors.RandomIdDuplicateError as e:
        raise _Repeated(e) from None


class _OneCall:
    """The client's MTProto sender as one `_call` sees it: the same sender (the one the client holds
    at each attempt), its RANDOM_ID_DUPLICATE answer raised as `_Repeated`."""

    def __init__(self, client: TelegramClient) -> None:
        self._client = client

    def send(self, request: Any, ordered: bool = False) -> Any:
        answer = self._client._sender.send(request, ordered=ordered)
        return answer if isinstance(answer, list) else _first_answer(answer)


async def call_unrepeated(client: TelegramClient, request: TLRequest) -> Any:
    """`await client(request)`, except that RANDOM_ID_DUPLICATE raises (RandomIdDuplicateError) at
    its first answer, with no resend; everything else (flood waits, 500s) as Telethon handles it."""
    try:
        return await client._call(_OneCall(client), request)
    except _Repeated as r:
        raise r.error from None
