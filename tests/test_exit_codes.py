"""Exit codes as grep's (README): 0 when a command found something, 1 when it found nothing, 2 for
an error. A script tells «nothing» from «something» by the code alone, whatever the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

from .sample_store import ROOT, Sample

RULES = ROOT / "rules"


def tg(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _export(path: Path, messages: list[dict[str, object]]) -> Path:
    """A Telegram Desktop export of one public channel holding `messages`."""
    path.write_text(json.dumps({"name": "Mash", "type": "public_channel", "id": 1117628569, "messages": messages}),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("messages", [[], [{"id": 1, "type": "service", "date": "2024-11-20T10:00:00",
                                            "action": "pin_message"}]], ids=["no messages", "a service message"])
def test_a_replay_that_reads_no_post_exits_1_as_a_search_that_finds_none(tmp_path: Path,
                                                                          messages: list[dict[str, object]]) -> None:
    empty = tg("replay", _export(tmp_path / "result.json", messages), "--db", tmp_path / "t.db", "--rules", RULES)
    assert empty.exit_code == 1 and "Traceback" not in empty.output, empty.output
    assert "posts read      0" in empty.stdout  # the summary still says what was read
    post = {"id": 2, "type": "message", "date": "2024-11-20T10:01:00", "text": "Погода в Краснодаре"}
    read = tg("replay", _export(tmp_path / "more.json", [*messages, post]), "--db", tmp_path / "t.db", "--rules", RULES)
    assert read.exit_code == 0, read.output
    found = tg("search", "Краснодар", "--db", tmp_path / "t.db")
    nothing = tg("search", "Воронеж", "--db", tmp_path / "t.db")
    assert (found.exit_code, nothing.exit_code) == (0, 1)  # the rule replay now follows


def test_an_export_that_finds_no_post_exits_1(sample: Sample, tmp_path: Path) -> None:
    out = tmp_path / "none.csv"
    nothing = tg("export", "--db", sample.db, "--search", "квазибиоспектрограф", "-o", out)
    assert nothing.exit_code == 1 and nothing.stderr.startswith("0 rows written"), nothing.output
    assert out.read_text(encoding="utf-8").count("\n") == 1  # the header: a file with no row, as asked
    assert tg("search", "квазибиоспектрограф", "--db", sample.db).exit_code == 1
    some = tg("export", "--db", sample.db, "--search", "дезертир", "-o", out)
    assert some.exit_code == 0 and not some.stderr.startswith("0 rows"), some.output
