"""helper-100's reproductions for caa48b0 (an edited post folded again): an edit of an older post must
not hide the window's posts from the next report of an event (each was a second alert)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .test_live_edit_story import CORDON, CORDON_2
from .test_story_edits import alerts, story_sets

ROOT = Path(__file__).resolve().parents[1]
SHOT, MASH, TOPOR, RIA = 1800000001, 1800000002, 1800000003, 1800000004
T0 = datetime(2024, 11, 29, 10, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(store: Store, *batches: list[Post]) -> None:
    with Pipeline(store, Matcher(load_rules(ROOT / "rules"))) as pipeline:
        for batch in batches:
            list(pipeline.process(batch))


LIVE = "Обновляется: " + CORDON_2
OLD = "Архивная заметка канала о погоде на выходные: дожди и ветер по всей области"


def test_control_without_the_old_edit(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run(store, [Post(RIA, 3, at(-5 * 24 * 60), OLD)],
        [Post(SHOT, 1, at(0), CORDON)],
        [Post(MASH, 1, at(8), CORDON_2)])
    assert frozenset({(SHOT, 1), (MASH, 1)}) in story_sets(store)
    assert len(alerts(store)) == 1
    store.close()


def test_an_edit_of_an_old_post_hides_the_window_from_later_posts(tmp_path: Path) -> None:
    """A five-day-old post edited now (a channel's running live post updated with today's event):
    its new index entry, five days old, is appended at the newest end of the postings, and the
    scan of each word stops at the first post older than the window. The next report of the
    cordon finds nothing, starts a story of its own and alerts a second time."""
    store = Store(tmp_path / "s.db")
    run(store, [Post(RIA, 3, at(-5 * 24 * 60), OLD)],
        [Post(SHOT, 1, at(0), CORDON)],
        [Post(RIA, 3, at(-5 * 24 * 60), LIVE, edit_date=at(4))],
        [Post(MASH, 1, at(8), CORDON_2)])
    assert frozenset({(SHOT, 1), (MASH, 1)}) in story_sets(store)
    assert len([a for a in alerts(store) if a[1] != RIA]) == 1
    store.close()


YESTERDAY = ("В Тбилиси полиция выставила оцепление у парламента и применила водометы против протестующих, "
             "десятки задержанных, сообщают очевидцы")


def _three_days(store: Store, *, edit: bool) -> None:
    run(store, [Post(RIA, 3, at(-5 * 24 * 60), OLD), Post(TOPOR, 9, at(-3 * 24 * 60), YESTERDAY)])
    live = [[Post(SHOT, 1, at(0), CORDON)]]
    if edit:  # a typo fixed in an unrelated five-day-old post: nothing to do with the protest
        live.append([Post(RIA, 3, at(-5 * 24 * 60), OLD.replace("ветер", "сильный ветер"), edit_date=at(4))])
    live.append([Post(MASH, 1, at(8), CORDON_2)])
    run(store, *live)


def test_control_unrelated_edit_absent(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    _three_days(store, edit=False)
    assert frozenset({(SHOT, 1), (MASH, 1)}) in story_sets(store)
    store.close()


def test_an_unrelated_edit_of_an_old_post_reloads_days_of_posts_in_front_of_the_window(tmp_path: Path) -> None:
    """The edit of a five-day-old post makes `assign` `_load` every stored post from seven to two
    days ago and file them at the newest end of the postings: the protest's earlier days, told in
    the same words, now stop the scan of each of those words, and today's second report of the
    cordon starts a story of its own (a second alert)."""
    store = Store(tmp_path / "s.db")
    _three_days(store, edit=True)
    assert frozenset({(SHOT, 1), (MASH, 1)}) in story_sets(store)
    assert len([a for a in alerts(store) if a[1] in (SHOT, MASH)]) == 1
    store.close()


def test_a_typo_fixed_in_an_hour_old_post_puts_two_day_old_posts_in_front_of_the_window(tmp_path: Path) -> None:
    """The commonest edit: a typo fixed in an hour-old post. `assign` now reaches `_load` for it,
    which indexes the stored posts from 49 to 48 hours ago at the newest end of the postings; the
    protest's report of two days ago is among them and stops the scan of its words for the next
    report of today's cordon: a story of its own, a second alert."""
    store = Store(tmp_path / "s.db")
    run(store, [Post(TOPOR, 9, at(-48 * 60 - 30), YESTERDAY), Post(RIA, 3, at(-60), OLD)])
    run(store, [Post(SHOT, 1, at(0), CORDON)],
        [Post(RIA, 3, at(-60), OLD.replace("ветер", "сильный ветер"), edit_date=at(4))],
        [Post(MASH, 1, at(8), CORDON_2)])
    assert frozenset({(SHOT, 1), (MASH, 1)}) in story_sets(store)
    assert len([a for a in alerts(store) if a[1] in (SHOT, MASH)]) == 1
    store.close()


def test_an_edit_near_the_window_edge_stops_the_scan_of_its_words(tmp_path: Path) -> None:
    """Left after 09be3e5: an edit of a post the index still holds (47 h old) is filed again at the
    newest end of the postings with its date; two hours on it is older than the window of the next
    post, and `_collect` stops at it (`break`), before the newer posts under the same words."""
    store = Store(tmp_path / "s.db")
    run(store, [Post(RIA, 3, at(-47 * 60), OLD)],
        [Post(SHOT, 1, at(0), CORDON)],
        [Post(RIA, 3, at(-47 * 60), LIVE, edit_date=at(4))],
        [Post(MASH, 1, at(120), CORDON_2)])
    assert any({(SHOT, 1), (MASH, 1)} <= s for s in story_sets(store))
    assert len([a for a in alerts(store) if a[1] in (SHOT, MASH)]) == 1
    store.close()
