"""Exports replayed one at a time, as analysts export channels from Telegram Desktop and replay each as
it arrives, fold and alert as one run of them does (bot.story.index `StoryIndex._near`): a post read
after later posts of an earlier run joins first what one run, in date order, had met before it.

Replayed channel 2 first, the sample's Krasnodar story (6 posts in one run) was split 3 + 3: Сводка
24's 08:19 report was accepted both by Южный Телеграф's 07:52 post and by its 09:40 rewording (read
in the earlier run, which one run had not met yet), took the rewording's story, and alerted
`regiment` a second time for the event."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from itertools import permutations
from pathlib import Path

import pytest

from tests.test_stories import SAMPLE, replay

CHANNELS = tuple(sorted(p.name for p in SAMPLE.iterdir() if p.is_dir()))
ORDERS = list(permutations(CHANNELS))
Run = Callable[[tuple[str, ...], bool], Path]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The store after replaying the sample's exports `names`, together in one run (`together`) or
    one run per export in that order; each made once per module."""
    made: dict[tuple[tuple[str, ...], bool], Path] = {}

    def replayed(names: tuple[str, ...], together: bool) -> Path:
        key = (tuple(sorted(names)) if together else names, together)
        if key not in made:
            base = tmp_path_factory.mktemp("run")
            db = base / "s.db"
            if together:
                for n in names:
                    shutil.copytree(SAMPLE / n, base / "src" / n)
            for path in [base / "src"] if together else [SAMPLE / n for n in names]:
                r = replay(path, "--db", db, "--alerts", "none")
                assert r.exit_code == 0, r.output
            made[key] = db
        return made[key]

    return replayed


def _alerts(db: Path) -> set[tuple[str, int, int]]:
    """(rule, channel, post) of every alert raised."""
    with sqlite3.connect(db) as c:
        return set(c.execute("SELECT rule, channel_id, message_id FROM alerts"))


def _stories_of_two_or_more(db: Path) -> int:
    with sqlite3.connect(db) as c:
        return int(c.execute("SELECT count(*) FROM (SELECT story_id FROM posts GROUP BY story_id HAVING count(*) > 1)")
                   .fetchone()[0])


def _name(order: tuple[str, ...]) -> str:
    return "-".join(n[-1] for n in order)


@pytest.mark.parametrize("order", ORDERS, ids=_name)
def test_exports_replayed_one_at_a_time_alert_only_what_one_run_of_those_read_alerts(run: Run,
                                                                                        order: tuple[str, ...]) -> None:
    """Every alert is one that one run of the exports read so far raises too: an earlier run cannot
    know a later export's posts tie two of its stories together, but a later run alerts no story
    again that one run would have folded into one that alerted (channel 2 first: Сводка 24's report
    alerted `regiment` again, in the rewording's story)."""
    allowed = set().union(*(_alerts(run(order[:k], True)) for k in range(1, len(order) + 1)))
    assert _alerts(run(order, False)) - allowed == set()


THREE_FIRST = "channel 3 read first: 18737 is then filed by word counts holding its later posts (not under «воинск»), " \
    "so 48217 misses it and joins 90418's story, which alerted in the first run (left for a later change)"


@pytest.mark.parametrize("order", [pytest.param(o, marks=pytest.mark.xfail(strict=True, reason=THREE_FIRST))
                                   if o[0].endswith("3") else o for o in ORDERS], ids=_name)
def test_exports_replayed_one_at_a_time_give_as_many_stories_as_one_run(run: Run, order: tuple[str, ...]) -> None:
    """As many stories of two posts or more as one run of the three exports (7): the Krasnodar story
    is not split in two (at most the post the first export alone could not tie in stays apart)."""
    assert _stories_of_two_or_more(run(order, False)) == _stories_of_two_or_more(run(CHANNELS, True))
