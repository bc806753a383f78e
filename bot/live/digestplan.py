"""A digest's messages, fixed before its first attempt and kept in the store until it is sent.

Each message part goes with a random_id made from its number (Telegram drops a second send with
one). Rendered again at each attempt, part N could carry other items than the part N an earlier
attempt sent: a story grown longer moves the split at 4096 characters, and a version that splits
digests otherwise (20 items a message, not 10) makes part 0 another message. The copy that reached
the chat then stands for the new one: its items shown twice, or the new one's extra items never
shown. Sent from its plan, part N is always the same message.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from typing import Any

from telethon.errors import TypeNotFoundError
from telethon.extensions import BinaryReader

from ..store.db import Store

__all__ = ["Plan", "PlannedPart", "forget_plan", "load_plan", "save_plan"]

PLAN_KEY = "digest_plan:"  # meta row per digest not sent yet (+ its id): its `Plan` as JSON


@dataclass(frozen=True)
class PlannedPart:
    """One message of a digest: its text, entities, and items as (number shown, alert id, shown deleted)."""

    text: str
    entities: list[Any]
    items: list[tuple[int, int, bool]]


@dataclass(frozen=True)
class Plan:
    """A digest's messages and the random_id its parts' random_ids are made from."""

    random_id: int
    parts: list[PlannedPart]


def _entity(data: str) -> Any:
    with BinaryReader(base64.b64decode(data)) as reader:
        return reader.tgread_object()


def save_plan(store: Store, digest_id: int, plan: Plan) -> None:
    """Keep `plan` for the digest (in the caller's transaction, with the digest itself)."""
    value = json.dumps({"random_id": plan.random_id, "parts": [
        {"text": p.text, "entities": [base64.b64encode(bytes(e)).decode() for e in p.entities],
         "items": [list(i) for i in p.items]} for p in plan.parts]}, ensure_ascii=False)
    store.set_meta(f"{PLAN_KEY}{digest_id}", value)


def load_plan(store: Store, digest_id: int) -> Plan | None:
    """The digest's plan; None for a digest stored by a version that kept none, or whose plan cannot
    be read (damaged, or written otherwise): its items not shown yet are planned again, rather than
    every later digest waiting behind it."""
    value = store.get_meta(f"{PLAN_KEY}{digest_id}")
    if value is None:
        return None
    try:
        data = json.loads(value)
        return Plan(int(data["random_id"]), [
            PlannedPart(p["text"], [_entity(e) for e in p["entities"]], [(int(n), int(a), bool(d)) for n, a, d in p["items"]])
            for p in data["parts"]])
    except (ValueError, TypeError, KeyError, IndexError, struct.error, TypeNotFoundError):
        return None


def forget_plan(store: Store, digest_id: int) -> None:
    """The digest is sent (or given back): its plan goes."""
    store.delete_meta(f"{PLAN_KEY}{digest_id}")

