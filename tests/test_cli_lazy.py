"""`tgwatch --version` and `tgwatch --help` import no subcommand module (the matcher, the store,
numpy: 1.5 s on a busy machine), yet `--help` lists every command with its short help."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from bot.cli import COMMANDS, cli
from bot.cli.rules import BACKTEST

from .test_export import run

HEAVY = ("bot.cli.", "bot.match", "bot.store", "bot.text", "numpy", "sqlite_utils", "rich", "telethon")


def loaded_after(*args: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after `tgwatch ARGS`."""
    code = ("import sys, json\nfrom bot.cli import cli\ntry:\n    cli(%r, prog_name='tgwatch')\n"
            "except SystemExit:\n    pass\nprint(json.dumps(sorted(m for m in sys.modules if m.startswith(%r))))"
            % (list(args), HEAVY))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


@pytest.mark.parametrize("args", [["--version"], ["--help"], []])
def test_version_and_help_import_no_subcommand(args: list[str]) -> None:
    assert loaded_after(*args) == ["bot.cli.lazy"]


def test_rules_check_does_not_import_backtest() -> None:
    loaded = loaded_after("rules", "check", "--help")
    assert "bot.cli.rules" in loaded and "bot.cli.backtest" not in loaded and "sqlite_utils" not in loaded


def test_help_lists_every_command_with_the_short_help_it_has() -> None:
    """The short help kept in the group is the command's own: they cannot drift apart."""
    ctx = click.Context(cli)
    for name, (_, _, short) in COMMANDS.items():
        assert cli.get_command(ctx, name).get_short_help_str(10_000) == short, name
    rules = cli.get_command(ctx, "rules")
    assert rules.get_command(ctx, "backtest").get_short_help_str(10_000) == BACKTEST[2]
    r = run("--help")
    assert r.exit_code == 0
    listed = [line.split()[0] for line in r.stdout.split("Commands:\n")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)
    assert "  rules    Check, test, explain and back-test watch rules." in r.stdout
    assert "backtest" in run("rules", "--help").stdout


def test_version_is_the_packages() -> None:
    """--version prints bot.__version__ (read without importlib.metadata, 0.1 s): the same as the
    installed package's and pyproject's."""
    import importlib.metadata
    import tomllib

    from bot import __version__

    from .sample_store import ROOT

    assert run("--version").stdout.endswith(f", version {__version__}\n")
    assert __version__ == importlib.metadata.version("tgwatch")
    assert __version__ == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
