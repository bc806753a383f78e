"""The `tgwatch` command: a thin click layer over the library."""

from __future__ import annotations

import logging
import sqlite3
import sys
from typing import Any

import click

from . import backtest, export, live, search, stats, stories
from .common import database_problem, fail
from .replay import replay
from .rules import rules


class _Group(click.Group):
    """The top command: an SQLite error that escapes a subcommand (a database locked by another
    program, a damaged file, a full disk) ends it with one line naming the database, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:  # Ctrl-C before a command handles it (rules loading, start-up)
            click.echo("interrupted", err=True)
            sys.exit(130)  # as a shell reports it (click says "Aborted!" and exits 1)
        except sqlite3.DatabaseError as e:
            # about the file (locked, full, damaged: OperationalError or DatabaseError itself); an
            # IntegrityError or ProgrammingError is a bug in tgwatch and keeps its traceback
            if not isinstance(e, sqlite3.OperationalError) and type(e) is not sqlite3.DatabaseError:
                raise
            fail(database_problem(e))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tgwatch")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Watch Telegram news channels and alert analysts once per story."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


cli.add_command(rules)
cli.add_command(replay)
cli.add_command(live.login)
cli.add_command(live.run)
cli.add_command(export.export); cli.add_command(search.search); cli.add_command(stories.stories); cli.add_command(stories.story); cli.add_command(stats.stats); rules.add_command(backtest.backtest)  # noqa: E702


def main() -> None:
    cli(prog_name="tgwatch")
