"""The `tgwatch` command: a thin click layer over the library.

Each subcommand's module is imported when that subcommand runs (`LazyGroup`), so `tgwatch
--version` and `tgwatch --help` start in the time click takes to import."""

from __future__ import annotations

import logging
import sqlite3
import sys
from typing import Any, NoReturn

import click

from .. import __version__
from .lazy import LazyGroup

# name -> (module, attribute, short help as `tgwatch --help` lists it: the command's first sentence)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "backup": (".backup", "backup", "Copy the store to FILE, whole and consistent, while `tgwatch run` goes on writing."),
    "export": (".export", "export", "Export stored posts with their matches, story and forward origin, oldest first."),
    "login": (".live", "login", "Log the watching user account in: phone code and 2FA password, or a QR login."),
    "replay": (".replay", "replay",
               "Replay Telegram Desktop exports (result.json, or folders holding them) and JSON Lines files."),
    "restore": (".restore", "restore", "Put BACKUP (a `tgwatch backup` copy) in place of the store, the store as it was "
                "kept beside it."),
    "rules": (".rules", "rules", "Check, test, explain and back-test watch rules."),
    "run": (".live", "run", "Watch the configured channels live and send alerts to the analysts' chat."),
    "search": (".search", "search",
               "Find stored posts containing every one of WORDS (as a word start or in any inflection)."),
    "stats": (".stats", "stats", "Posts each rule matched per day (by the post's date), the alerts raised and each "
              "rule's precision from the analysts' verdicts in the chat."),
    "stories": (".stories", "stories", "The largest recent stories (posts folded together: forwards, copies, "
                "rewordings), biggest first, with their channels and first post (its link kept whole)."),
    "story": (".stories", "story", "Every post of story ID (the #N that `tgwatch stories`, alerts and exports give), "
              "oldest first: time, channel, link, the rules it matches, whether the channel deleted it, and its first line."),
}


def usage_line(e: click.UsageError, where: str | None = None) -> str:
    """A click usage error as the tool's one line: `--format: 'x' is not one of 'csv', 'jsonl',
    'xlsx' (tgwatch export --help)`, not click's usage block and «Error: Invalid value for …».
    `where`: the command whose help to name when the error knows none."""
    if isinstance(e, click.BadParameter) and not isinstance(e, click.MissingParameter) and e.param is not None:
        message = f"{e.param.get_error_hint(e.ctx).replace(chr(39), '')}: {e.message}".strip().rstrip(".")
    else:
        message = e.format_message().strip().rstrip(".").replace(". Did you mean", " (did you mean")
        message = message[:1].lower() + message[1:] + (")" if "(did you mean" in message else "")
    return f"{message} ({where or (e.ctx.command_path if e.ctx else 'tgwatch')} --help)"


def _usage_error(e: click.UsageError, where: str | None = None) -> None:
    """Exit with `usage_line` (exit 2); `tgwatch` alone still shows its help."""
    if isinstance(e, click.exceptions.NoArgsIsHelpError):
        raise e
    click.echo(f"error: {usage_line(e, None if e.ctx and e.ctx.parent else where)}", err=True)
    sys.exit(2)


def _output_failed(e: OSError) -> NoReturn:
    """End a command whose stdout failed: exit 141 when its reader went away (`tgwatch … | head`,
    as a shell ends it), one `error:` line when stdout cannot be written (`> out.txt` on a full
    disk, `>&-`); any other OSError is raised again."""
    from .common import broken_pipe, stdout_unwritable
    from .stdout import STDOUT

    if isinstance(e, BrokenPipeError):
        broken_pipe()
    if e.filename != STDOUT:
        raise e
    stdout_unwritable(e)


class _Group(LazyGroup):
    """The top command: an SQLite error that escapes a subcommand (a database locked by another
    program, a damaged file, a full disk) ends it with one line naming the database, never a
    traceback; so does a usage error (a bad option or value), in the tool's `error: …` style."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:  # the top command's own options: `tgwatch --bogus`
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as e:
            _usage_error(e)
            raise  # not reached
        except OSError as e:  # `tgwatch --help | head -3`, `tgwatch --version >&-`: click would exit 1
            _output_failed(e)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # what is still buffered: a reader gone by now is a broken pipe here too
            return result
        except click.UsageError as e:  # a subcommand's options and arguments
            _usage_error(e, " ".join(filter(None, [ctx.command_path, ctx.invoked_subcommand])))
        except OSError as e:  # the reader went away, a full disk: every command's stdout alike
            _output_failed(e)
        except KeyboardInterrupt:  # Ctrl-C before a command handles it (rules loading, start-up)
            click.echo("interrupted", err=True)
            sys.exit(130)  # as a shell reports it (click says "Aborted!" and exits 1)
        except sqlite3.DatabaseError as e:
            # about the file (locked, full, damaged: OperationalError or DatabaseError itself); an
            # IntegrityError or ProgrammingError is a bug in tgwatch and keeps its traceback
            if not isinstance(e, sqlite3.OperationalError) and type(e) is not sqlite3.DatabaseError:
                raise
            from .common import database_problem, fail  # (the store's modules: loaded by the command already)

            fail(database_problem(e))


@click.group(cls=_Group, lazy=COMMANDS, package=__name__, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, package_name="tgwatch")  # bot's own: importlib.metadata takes 0.1 s
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Watch Telegram news channels and alert analysts once per story."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    from .stdout import name_stdout, utf8_everywhere

    utf8_everywhere()
    name_stdout()
    cli(prog_name="tgwatch")
