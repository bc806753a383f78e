"""The `tgwatch` command: a thin click layer over the library."""

from __future__ import annotations

import logging

import click

from . import backtest, export, live, search, stats, stories
from .replay import replay
from .rules import rules


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
