"""Every --channel takes the same forms (`check_channels`), and every command's help says all of
them in the same words: search, stories and rules backtest named only "@username, id or exact
title", though a -100 id and a post's link work as well."""

from __future__ import annotations

import re

import pytest

from bot.cli.common import CHANNEL_FORMS

from .sample_store import KUBAN, ROOT, Sample
from .test_export import run

COMMANDS = [["export"], ["search"], ["stories"], ["rules", "backtest"]]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_channel_help_names_every_form(command: list[str]) -> None:
    r = run(*command, "--help")
    assert r.exit_code == 0, r.output
    help_text = " ".join(r.stdout.split())
    assert CHANNEL_FORMS in help_text, help_text
    assert re.search(r"--channel C Only (posts|stories) ", help_text)


@pytest.mark.parametrize("ref", ["@Kuban_Online", "t.me/Kuban_Online", str(KUBAN), f"-100{KUBAN}", "кубань онлайн",
                                 "https://t.me/Kuban_Online/502", f"https://t.me/c/{KUBAN}/502"])
def test_each_form_the_help_names_works(sample: Sample, ref: str) -> None:
    for command in (["search", "площади"], ["rules", "backtest", "lockdown", "--rules", str(ROOT / "rules")]):
        r = run(*command, "--db", sample.db, "--channel", ref)
        assert r.exit_code == 0 and "no channel" not in r.stderr, (command, r.output)
