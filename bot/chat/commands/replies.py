"""What a command answers (`Reply`), who asked (`Caller`), and an analyst's input quoted in a
one-line answer (`_echo`, `_clip_quoted`): what every command group builds its replies from."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...store.export import scratch_done

__all__ = ["Caller", "CommandError", "Reply"]

_ECHO = 60  # how much of an analyst's input a reply repeats


@dataclass(frozen=True)
class Caller:
    """Who sent a command (already checked to be an analyst)."""

    user_id: int
    name: str


@dataclass
class Reply:
    """What the bot answers: HTML text, optionally a file (or a PNG), and rows of buttons."""

    html: str
    file: bytes | Path | None = None  # the file's bytes, or a temporary file alone in its folder (`discard`)
    file_name: str | None = None
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)  # rows of (label, callback data)
    toast: str | None = None  # for a button press: a short popup instead of / besides a message

    def discard(self) -> None:
        """Remove the temporary file this reply sends, and its folder: once sent or given up."""
        if isinstance(self.file, Path):
            _discard(self.file)


def _discard(path: Path) -> None:
    """Remove a file the chat sends and the private folder it was written in (`scratch_dir`)."""
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()
    scratch_done(path.parent)


class CommandError(ValueError):
    """A mistake in a command: shown to the analyst as one line."""


def _clip(text: str, width: int = _ECHO) -> str:
    """At most `width` characters of an analyst's input, with … when cut."""
    return text if len(text) <= width else text[:width - 1] + "…"


def _echo(text: str, width: int = _ECHO) -> str:
    """An analyst's input quoted for a reply: shortened, then repr'd (control characters visible), at
    most `width` characters inside the quotes with the escapes: longer, `_clip_quoted` quoted it again
    (the analyst read \\\\u200f for an invisible mark), and could cut it inside an escape."""
    w = width
    while len(shown := repr(_clip(text, w))) - 2 > width:
        w -= 1
    return shown


def _clip_quoted(message: str) -> str:
    """An error message with every quoted piece of input ('...') shortened to `_ECHO` characters. A
    quote opens after no letter and closes before none: the apostrophe of «a rule's» is no quote (the
    prose between 'OR' and it was cut as if it were the analyst's input)."""
    return re.sub(r"(?<![\w'])'([^'\n]{%d,})'(?![\w'])" % (_ECHO + 1), lambda m: repr(_clip(m.group(1))), message)
