"""`tgwatch stories` cuts a channel name too long for its column in the middle, so «Москва с
огоньком» and «Москва с огоньком Live» stay two channels at 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from bot.cli import cli
from bot.cli.stories import cut_middle, cut_names

from .test_replay import HIT_TEXT, RULES

_names = st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs", "P", "So"]), min_size=1, max_size=40)


@given(_names, st.integers(0, 50), st.none() | st.integers(-3, 60))
@settings(max_examples=400, deadline=None)
def test_a_cut_name_fits_and_keeps_its_start_and_end(name: str, width: int, head: int | None) -> None:
    shown = cut_middle(name, width, head)
    assert cell_len(shown) <= width
    if cell_len(name) <= width:
        assert shown == name
    elif width:
        start, _, end = shown.partition("…")
        assert name.startswith(start) and name.endswith(end)


@given(_names, _names, st.integers(3, 30))
@settings(max_examples=400, deadline=None)
def test_two_names_look_alike_only_when_no_cut_of_that_width_tells_them_apart(a: str, b: str, width: int) -> None:
    shown = cut_names([a, b], width)
    if a != b and shown[a] == shown[b]:
        assert all(cut_middle(a, width, h) == cut_middle(b, width, h) for h in range(width))


def test_names_alike_at_both_ends_are_cut_where_they_differ() -> None:
    shown = cut_names(["Новости Москвы сегодня 24", "Новости Питера сегодня 24"], 12)
    assert len(set(shown.values())) == 2 and all(cell_len(s) <= 12 for s in shown.values()), shown


def test_two_channels_named_alike_stay_two_at_80_columns(tmp_path: Path) -> None:
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    titles = {1700000051: "Москва с огоньком", 1700000052: "Москва с огоньком Live", 1700000053: "Сводка 24"}
    feed.write_text("".join(json.dumps({"channel_id": cid, "message_id": k + 1, "date": 1790000000 + 60 * k,
                                        "text": HIT_TEXT, "channel_title": t, "channel_username": f"chan{k}_news"},
                                       ensure_ascii=False) + "\n" for k, (cid, t) in enumerate(titles.items())),
                    encoding="utf-8")
    assert CliRunner().invoke(cli, ["replay", str(feed), "--db", str(db), "--rules", str(RULES),
                                    "--alerts", "none"]).exit_code == 0
    r = CliRunner().invoke(cli, ["stories", "--db", str(db), "--since", "2000-01-01"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= 80
    cells = [line.split("│")[3].strip() for line in lines if line.count("│") == 5 and line.split("│")[3].strip()]
    assert len(cells) == 3 and len(set(cells)) == 3, cells  # one line per channel, none alike

    def stands_for(cell: str) -> list[str]:  # the channels a cell may name: its start and its end
        start, cut, end = cell.partition("…")
        return [t for t in titles.values() if t == cell or (cut and t.startswith(start) and t.endswith(end))]

    assert all(len(stands_for(cell)) == 1 for cell in cells), cells
