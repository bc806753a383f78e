"""Channels and rules as a user names them (@username, id, t.me link or exact title; a rule's name
in any case) resolved to what the store holds, so every command filters by the same ids."""

from __future__ import annotations

from typing import Iterable

from ...match.rules import channel_key
from ..db import Store

__all__ = ["AmbiguousChannel", "channel_names", "resolve_channels", "resolve_rules", "rule_names"]


class AmbiguousChannel(ValueError):
    """A channel reference that is the title of several stored channels; `candidates` names them."""

    def __init__(self, ref: str, candidates: list[str]) -> None:
        super().__init__(f"{ref!r} is the title of {len(candidates)} channels: {', '.join(candidates)}; "
                         "give the id or @username instead")
        self.ref = ref
        self.candidates = candidates


def _channel_label(cid: int, username: str | None, title: str | None) -> str:
    """How a stored channel is named to the user: "@username (title)", else "id (title)"."""
    name = f"@{username}" if username else str(cid)
    return f"{name} ({title})" if title and title != str(cid) else name


def resolve_channels(store: Store, channels: Iterable[str | int]) -> tuple[list[int], list[str]]:
    """Channel ids for references given as username (with or without @, or t.me/name), bare id or
    marked -100 id, or else as the channel's exact title (any case: stores replayed from Telegram
    Desktop exports know no usernames, only titles); returns (ids found in the store, references
    not found). Raises AmbiguousChannel when a title names several channels."""
    ids: list[int] = []
    unknown: list[str] = []
    titles: list[tuple[int, str | None, str]] | None = None
    for ref in channels:
        key = channel_key(ref)
        if key.isascii() and key.isdigit():  # not '²', which str.isdigit() takes for a digit
            # an id past SQLite's integers names no channel (and must not reach SQLite)
            rows = store.db.execute("SELECT id FROM channels WHERE id = ?", [int(key)]) if len(key) < 20 and int(key) < 2**63 else []
        else:
            rows = store.db.execute("SELECT id FROM channels WHERE lower(username) = ?", [key])
        found = [int(r[0]) for r in rows]
        if not found and not isinstance(ref, int):
            if titles is None:  # SQLite's lower() folds ASCII only: compare titles in Python
                titles = [(int(i), u, t) for i, u, t in store.db.execute("SELECT id, username, title FROM channels ORDER BY id")]
            wanted = {key, str(ref).strip().casefold()}
            same = [(i, u, t) for i, u, t in titles if t and t.strip().casefold() in wanted]
            if len(same) > 1:
                raise AmbiguousChannel(str(ref), [_channel_label(*c) for c in same])
            found = [i for i, _, _ in same]
        if found:
            ids.extend(i for i in found if i not in ids)
        else:
            unknown.append(str(ref))
    return ids, unknown


def rule_names(store: Store) -> list[str]:
    """The rule names that have matches in the store, sorted."""
    return [r[0] for r in store.db.execute("SELECT DISTINCT rule FROM matches ORDER BY rule")]


def resolve_rules(store: Store, names: Iterable[str]) -> tuple[list[str], list[str]]:
    """The stored rule names that `names` give, in any case («Desertion» is `desertion`), and the
    names no stored match has: (rules found, each once, names not found)."""
    by_fold: dict[str, list[str]] = {}
    for rule in rule_names(store):
        by_fold.setdefault(rule.strip().casefold(), []).append(rule)
    found: list[str] = []
    unknown: list[str] = []
    for name in names:
        same = by_fold.get(str(name).strip().casefold())
        if same:
            found.extend(r for r in same if r not in found)
        else:
            unknown.append(str(name))
    return found, unknown


def channel_names(store: Store) -> list[str]:
    """Each stored channel as "@username (title)", else "id (title)": how it can be named on the
    command line, and which channel it is."""
    return [_channel_label(int(i), u, t) for i, u, t in store.db.execute("SELECT id, username, title FROM channels ORDER BY id")]


def _channel_ids(store: Store, channels: Iterable[str | int]) -> list[int] | None:
    channels = list(channels)
    return resolve_channels(store, channels)[0] if channels else None
