"""stdout whose write errors name it: a command whose output cannot be written (`> out.txt` on a
full disk) ends in one line naming standard output (`common.stdout_unwritable`), not a traceback.
Imported by `main` before any command, so kept light."""

from __future__ import annotations

import io
import sys
from typing import Any

__all__ = ["STDOUT", "name_stdout"]

STDOUT = "standard output"  # the name an OSError of a write to stdout carries (`name_stdout`)


class _NamedStdout(io.FileIO):
    """stdout's file, whose write errors name it: an OSError a command ends in is told apart from
    one of another file (`tgwatch search … > out.txt` on a full disk, not the alerts file)."""

    def write(self, b: Any) -> int | None:  # type: ignore[override]
        try:
            return super().write(b)
        except OSError as e:
            e.filename = e.filename or STDOUT
            raise


def name_stdout() -> None:
    """Write stdout through `_NamedStdout` (same file, encoding and buffering); a stdout with no
    file (tests) is left as it is."""
    try:
        fd, old = sys.stdout.fileno(), sys.stdout
    except (OSError, ValueError, AttributeError):
        return
    raw = _NamedStdout(fd, "w", closefd=False)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding=old.encoding, errors=old.errors,
                                  line_buffering=old.line_buffering, write_through=old.write_through)
