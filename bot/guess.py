"""The name a mistyped one was meant to be, for «did you mean» hints: one rule for a rule file's
keys, the config's settings and sections, rule names and the chat's commands."""

from __future__ import annotations

import difflib
from typing import Iterable

__all__ = ["closest", "meant"]


def closest(word: str, names: Iterable[str], cutoff: float = 0.7) -> str | None:
    """The one of `names` that `word` (in any case) most likely misspells, or None when none is
    close enough to be worth naming (`colour` is no setting's typo)."""
    found = difflib.get_close_matches(word.casefold(), list(names), n=1, cutoff=cutoff)
    return found[0] if found else None


def meant(word: str, names: Iterable[str]) -> str:
    """«: did you mean 'poll_minutes'?» to put after the error about `word` (`closest`); else ""."""
    guess = closest(word.strip(), names)
    return f": did you mean '{guess}'?" if guess else ""
