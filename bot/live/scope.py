"""A rule's `channels` entry no watched channel is known by (`mahs` for mash, a group of channels the
config does not watch): the service reads only `channels.watch`, so such a rule silently matched
nothing from it. `unwatched_scope` gives the one line per rule `run` posts (once) and logs."""

from __future__ import annotations

from collections.abc import Iterable

from ..config import Config
from ..match.matcher import Matcher
from .resolve import Watched

__all__ = ["unwatched_scope"]


def unwatched_scope(matcher: Matcher, config: Config, watched: Iterable[Watched]) -> list[str]:
    """One line per enabled rule whose `channels` name an entry that is neither a channel of
    `channels.watch` (as configured, or as resolved: its username, id or title) nor a group with one
    of them."""
    known: list[tuple[str | None, int | None, str | None]] = [(w.username, w.id, w.title) for w in watched]
    known += [(c, None, None) if isinstance(c, str) else (None, c, None) for c in config.channels]
    out = []
    for kind, name, missed in matcher.unmatched_scope(known):
        if kind != "rule":
            continue
        named = [c if c not in matcher.groups else f"group {c} (it lists no channel)" if not matcher.groups[c]
                 else f"group {c} (none of its channels is watched)" for c in missed]
        out.append(f"rule '{name}' can match no post from {', '.join(named)}: not a channel of channels.watch in "
                   "the config (a username, id or title); add it there, or fix the rule's channels")
    return out
