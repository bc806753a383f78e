"""`tgwatch stories` draws its table itself (rich took 20 s for a season's 13,000 stories): the
lines must be the very ones rich's own Table gives, at every width, in a colour terminal and on
an ASCII one, whatever the channels' names and headlines hold."""

from __future__ import annotations

import io
import json
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from bot.cli import cli
from bot.cli.stories import stories_table
from bot.store.read import StoryRow

from .test_replay import HIT_TEXT, RULES

_odd = st.sampled_from(["\t", "\u200d", "\ufe0f", "👨‍👩‍👧", "❗️", "—", "…", "«", "»", "中文", "\u0301", "\xad", "  ", "\u202e", "\x1b"])
_chars = st.characters(codec="utf-8", categories=["L", "N", "Zs", "P", "So", "Mn"])
_text = st.lists(st.one_of(_chars, _odd), max_size=120).map("".join)
_title = st.lists(st.one_of(_chars, _odd), min_size=1, max_size=40).map("".join)


@st.composite
def _rows(draw: st.DrawFn) -> list[StoryRow]:
    titles = draw(st.lists(_title, min_size=1, max_size=6))
    rows = []
    for n in range(draw(st.integers(1, 6))):
        chans = draw(st.lists(st.integers(0, len(titles) - 1), min_size=1, max_size=8))
        channel = draw(st.sampled_from(["c/1101170442", "mash", "a_rather_long_channel_username_here"]))
        link = draw(st.sampled_from(["", f"https://t.me/{channel}/{draw(st.integers(1, 10**7))}"]))
        first, last = sorted(draw(st.lists(st.sampled_from(
            ["2024-11-20T09:04:00+00:00", "2024-11-21T10:00:00+00:00", ""]), min_size=2, max_size=2)))
        rows.append(StoryRow(draw(st.integers(1, 10**6)), draw(st.integers(1, 90)),
                             [(1000 + c, titles[c]) for c in chans], first, last, link,
                             titles[chans[0]] if link else "", draw(_text)))
    return rows


class _Ascii(io.StringIO):
    encoding = "ascii"  # a terminal that cannot show box-drawing lines: rich draws ASCII ones


def _drawn(renderable: object, width: int, kind: str) -> str:
    file = _Ascii() if kind == "ascii" else io.StringIO()
    console = Console(file=file, width=width, force_terminal=kind == "colour", color_system="standard" if kind == "colour" else None,
                      highlight=False, soft_wrap=True, legacy_windows=False)
    console.print(renderable)
    return file.getvalue()


@given(_rows(), st.integers(1, 220), st.sampled_from(["plain", "colour", "ascii"]))
@settings(max_examples=300, deadline=None)
def test_the_stories_table_is_drawn_as_rich_draws_it(rows: list[StoryRow], width: int, kind: str) -> None:
    table = stories_table(rows)
    assert _drawn(table, width, kind) == _drawn(table.rich_table(), width, kind)


def test_a_headline_with_a_tab_and_names_cut_short_match_rich_at_80_columns() -> None:
    titles = ["Москва с огоньком", "Москва с огоньком Live", "Раньше всех. Ну почти.", "BBC News Русская служба"]
    rows = [StoryRow(n + 1, 4 - n, [(1000 + k, t) for k, t in enumerate(titles[n:])], "2024-11-20T09:04:00+00:00",
                     "2024-11-21T10:00:00+00:00", f"https://t.me/c/1101170442/{271523 + n}", titles[n],
                     "❗️ Президент\tЮжной Кореи — объявил о введении военного положения, передаёт агентство Рёнхап")
            for n in range(3)]
    table = stories_table(rows)
    drawn = _drawn(table, 80, "plain")
    assert drawn == _drawn(table.rich_table(), 80, "plain")
    assert "│ Москв…ньком │" in drawn and "│ Москв…Live  │" in drawn  # two channels, told apart
    assert "│ введении военного │" in drawn  # the tab is a space, as rich expands it


def test_stories_over_a_season_list_every_story(tmp_path: Path) -> None:
    """`stories --min-size 1 --limit 1000000` over months: every story, the table closed."""
    feed, db = tmp_path / "feed.jsonl", tmp_path / "t.db"
    lines = [{"channel_id": 1700000001 + k % 3, "message_id": k + 1, "date": 1790000000 + 3600 * k,
              "text": f"Сводка номер {k}: {'пожар на складе' if k % 2 else HIT_TEXT}", "channel_title": f"Канал {k % 3}"}
             for k in range(60)]
    feed.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    assert CliRunner().invoke(cli, ["replay", str(feed), "--db", str(db), "--rules", str(RULES),
                                    "--alerts", "none"]).exit_code == 0
    r = CliRunner().invoke(cli, ["stories", "--db", str(db), "--since", "2026-01-01", "--until", "2027-12-31",
                                 "--min-size", "1", "--limit", "1000000"], env={"COLUMNS": "100"})
    assert r.exit_code == 0, r.output
    out = r.stdout.splitlines()
    listed = [line.split("│")[1].strip() for line in out if line.startswith("│") and "│ #" in line[:4]]
    assert listed and len(listed) == len(set(listed))
    assert out[-1].startswith("└") and out[-1].endswith("┘") and max(map(len, out)) <= 100


@given(_text, st.integers(1, 60), st.booleans())
@settings(max_examples=500, deadline=None)
def test_lines_are_measured_and_broken_as_rich_does(text: str, width: int, fold: bool) -> None:
    from rich._wrap import divide_line
    from rich.cells import cell_len

    from bot.cli.table import _cells, _divide

    for line in text.split("\n"):
        assert _cells(line) == cell_len(line)
        assert _divide(line, width, fold) == divide_line(line, width, fold=fold)
