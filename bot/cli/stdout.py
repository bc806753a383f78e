"""stdout whose write errors name it: a command whose output cannot be written (`> out.txt` on a
full disk) ends in one line naming standard output (`common.stdout_unwritable`), not a traceback.
Imported by `main` before any command, so kept light."""

from __future__ import annotations

import codecs
import errno
import io
import os
import sys
from typing import Any

__all__ = ["STDOUT", "name_stdout", "utf8_everywhere"]

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


def _no_cyrillic(encoding: str | None) -> bool:
    """Can `encoding` not write Russian (ASCII, Latin-1, cp1252)? Such a terminal gets UTF-8: every
    word of a post would be «?» in its own."""
    try:
        "ЁёЙйЪъЯя".encode(encoding or "ascii")
    except (UnicodeError, LookupError):
        return True
    return False


def _legacy(encoding: str | None) -> bool:
    """A one-byte encoding that writes Russian but not emoji or arrows (KOI8-R, CP1251, CP866)."""
    try:
        return not codecs.lookup(encoding or "ascii").name.startswith(("utf", "gb18030"))
    except LookupError:
        return False


def utf8_everywhere() -> None:
    """Cyrillic in and out under an ASCII locale (a cron job's or an ssh session's `LANG=C`):
    with Python's UTF-8 mode off (PYTHONUTF8=0) arguments and file names would be undecodable
    bytes, so start again in it (`-X utf8`); stdio PYTHONIOENCODING=ascii asks for is UTF-8, as
    CSV and JSON Lines already are, not a crash on the first Cyrillic letter. A Russian legacy
    encoding (`ru_RU.KOI8-R`, a redirect on Russian Windows: CP1251) is kept, as its terminal reads
    it: what it cannot write (a post's emoji, an alert's arrow) is written «?», not a traceback."""
    if not sys.flags.utf8_mode and _no_cyrillic(sys.getfilesystemencoding()) and getattr(sys, "orig_argv", None):
        os.execv(sys.executable, [sys.executable, "-X", "utf8", *sys.orig_argv[1:]])
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if stream is None or not hasattr(stream, "reconfigure"):
            continue
        encoding = getattr(stream, "encoding", None)
        if _no_cyrillic(encoding):
            stream.reconfigure(encoding="utf-8")
        elif stream is not sys.stdin and _legacy(encoding):
            stream.reconfigure(errors="replace")


class _ClosedStdout(io.TextIOBase):
    """The stdout of a command run with none (`>&-`: Python's sys.stdout is None, which rich
    writes to as to /dev/null): a write fails naming it, so the command ends in one error line
    rather than a silent exit 0; a command that writes only to a file (`export -o`) never notices."""

    def write(self, s: str) -> int:
        raise OSError(errno.EBADF, "it is closed", STDOUT)


def name_stdout() -> None:
    """Write stdout through `_NamedStdout` (same file, encoding and buffering); a stdout with no
    file (tests) is left as it is, a closed one is `_ClosedStdout`."""
    if sys.stdout is None:
        sys.stdout = _ClosedStdout()
        return
    old = sys.stdout
    if not isinstance(old, io.TextIOWrapper):  # not a text file over a file descriptor (tests)
        return
    try:
        fd = old.fileno()
    except (OSError, ValueError):
        return
    raw = _NamedStdout(fd, "w", closefd=False)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(raw), encoding=old.encoding, errors=old.errors,
                                  line_buffering=old.line_buffering, write_through=old.write_through)
