"""A click group whose subcommands are imported only when one of them runs (or shows its help).

`tgwatch --version` and `tgwatch --help` used to import every subcommand's module (the matcher,
sqlite_utils, numpy through bot.text: 1.5 s on a busy machine); now they import click alone. The
group lists each command with its short help, kept here beside the module that defines it
(tests/test_cli_lazy.py checks the two agree)."""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    """`lazy`: command name -> (module, relative to `package`, attribute, short help)."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]], package: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)
        self.package = package

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute, _ = self.lazy[cmd_name]
            command = getattr(importlib.import_module(module, self.package), attribute)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists commands, from the short help kept here: no module imported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            # a stand-in that has only the short help shortens it as the command would
            command = self.commands.get(name) or click.Command(name, short_help=self.lazy[name][2])
            if not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
