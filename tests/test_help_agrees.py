"""What `--help` says against what the code does: the `rules` group names each of its commands, and
the formula escaping names each start it escapes (as the export reference, docs/export.md, does)."""

from __future__ import annotations

import re
from pathlib import Path

import click
from click.testing import CliRunner

from bot.cli import cli
from bot.store.export import _ESCAPED_START

EXPORT_DOC = Path(__file__).resolve().parents[1] / "docs" / "export.md"  # the README links it for export
_SAID = {"\t": "a tab", "\r": "a line break", "\n": "a line break"}  # how help and the docs name the unprintable ones


def test_the_rules_group_help_names_each_of_its_commands() -> None:
    """«Check, test and explain watch rules» (`tgwatch --help`, `tgwatch rules --help`) left out backtest."""
    ctx = click.Context(cli)
    group = cli.get_command(ctx, "rules")
    assert isinstance(group, click.Group)
    out = CliRunner().invoke(cli, ["--help"], env={"COLUMNS": "200"}).stdout
    [line] = [ln for ln in out.splitlines() if ln.strip().startswith("rules ")]
    said = line.replace("-", "").lower()
    assert all(name in said for name in group.list_commands(ctx)), line


def test_export_help_and_docs_name_every_start_the_csv_escapes() -> None:
    """`export --help` listed «= + - @»; the code escapes a tab and a line break too, as docs/export.md says."""
    help_text = " ".join(CliRunner().invoke(cli, ["export", "--help"], env={"COLUMNS": "200"}).stdout.split())
    [listed] = re.findall(r"starts like a formula \(([^)]*)\)", help_text)
    doc = re.search(r"CSV cell that starts like a formula \(([^)]*)\)", EXPORT_DOC.read_text(encoding="utf-8"))
    assert doc
    for start in _ESCAPED_START:
        if start == "'":  # said apart: «or with '»
            continue
        name = _SAID.get(start, start)
        assert name in listed, f"export --help: ({listed}) does not name {start!r}"
        assert name in doc.group(1), f"docs/export.md: ({doc.group(1)}) does not name {start!r}"
