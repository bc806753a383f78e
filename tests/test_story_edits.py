"""An edited post and its story: a flash edited into the full report folds into the story other
channels tell, as a replay of the final text folds it, and later reports meet its new text."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .test_live_edit_story import CORDON, CORDON_2, CORDON_3, FLASH

ROOT = Path(__file__).resolve().parents[1]
SHOT, MASH, TOPOR = 1800000001, 1800000002, 1800000003
T0 = datetime(2024, 11, 29, 10, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def story_sets(store: Store) -> set[frozenset[tuple[int, int]]]:
    """Which posts share a story."""
    stories: dict[int, set[tuple[int, int]]] = {}
    for cid, mid, sid in store.db.execute("SELECT channel_id, message_id, story_id FROM posts"):
        stories.setdefault(sid, set()).add((cid, mid))
    return {frozenset(s) for s in stories.values()}


def alerts(store: Store) -> list[tuple[str, int, int]]:
    return [tuple(r) for r in store.db.execute("SELECT rule, channel_id, message_id FROM alerts ORDER BY id")]


def run(store: Store, *batches: list[Post]) -> None:
    with Pipeline(store, Matcher(load_rules(ROOT / "rules"))) as pipeline:
        for batch in batches:
            list(pipeline.process(batch))


def test_a_flash_edited_into_the_report_joins_the_story_the_others_tell(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run(store, [Post(TOPOR, 7, at(0), FLASH)],
        [Post(SHOT, 1, at(5), CORDON), Post(MASH, 1, at(8), CORDON_2)],
        [Post(TOPOR, 7, at(0), CORDON_3, edit_date=at(20))])
    assert story_sets(store) == {frozenset({(TOPOR, 7), (SHOT, 1), (MASH, 1)})}
    assert alerts(store) == [("lockdown", SHOT, 1)]  # no second alert for the same cordon
    story = store.db.execute("SELECT size, first_channel_id, channels FROM stories ORDER BY size").fetchall()
    # the flash's own story is left empty (its id is never given again); Topor's flash came first
    assert story == [(0, None, "[]"), (3, TOPOR, f"[{TOPOR}, {SHOT}, {MASH}]")]
    store.close()


def test_reports_after_the_edit_meet_its_new_text(tmp_path: Path) -> None:
    """The flash is edited into the report before anyone else reports: the others join its story."""
    store = Store(tmp_path / "s.db")
    run(store, [Post(TOPOR, 7, at(0), FLASH)],
        [Post(TOPOR, 7, at(0), CORDON_3, edit_date=at(3))],
        [Post(SHOT, 1, at(5), CORDON), Post(MASH, 1, at(8), CORDON_2)])
    assert story_sets(store) == {frozenset({(TOPOR, 7), (SHOT, 1), (MASH, 1)})}
    assert alerts(store) == [("lockdown", TOPOR, 7)]
    store.close()


def test_new_and_edited_in_one_batch(tmp_path: Path) -> None:
    """The flash and its edit arrive together (a poll after a gap): still one story, one alert."""
    store = Store(tmp_path / "s.db")
    run(store, [Post(SHOT, 1, at(5), CORDON), Post(MASH, 1, at(8), CORDON_2)],
        [Post(TOPOR, 7, at(0), FLASH), Post(TOPOR, 7, at(0), CORDON_3, edit_date=at(20))])
    assert story_sets(store) == {frozenset({(TOPOR, 7), (SHOT, 1), (MASH, 1)})}
    assert alerts(store) == [("lockdown", SHOT, 1)]
    store.close()


def test_a_post_others_joined_keeps_its_story_when_edited(tmp_path: Path) -> None:
    """Posts joined the story through this one: an edit into another event does not tear it away."""
    store = Store(tmp_path / "s.db")
    other = "Курс доллара на бирже вырос до 105 рублей впервые с марта, евро подорожал до 111 рублей"
    run(store, [Post(SHOT, 1, at(5), CORDON), Post(MASH, 1, at(8), CORDON_2)],
        [Post(SHOT, 1, at(5), other, edit_date=at(30))])
    assert story_sets(store) == {frozenset({(SHOT, 1), (MASH, 1)})}
    store.close()


def test_a_lone_story_that_alerted_stays(tmp_path: Path) -> None:
    """A flash that alerted on its own keeps its story and alert: the analysts already have it."""
    store = Store(tmp_path / "s.db")
    flash = "⚡️Срочно: оцепление в центре города"
    run(store, [Post(TOPOR, 7, at(0), flash)],
        [Post(SHOT, 1, at(5), CORDON), Post(MASH, 1, at(8), CORDON_2)])
    before = story_sets(store)
    assert len(before) == 2 and len(alerts(store)) == 2  # the flash said too little to join: its own alert
    run(store, [Post(TOPOR, 7, at(0), CORDON_3, edit_date=at(20))])
    assert story_sets(store) == before
    assert len(alerts(store)) == 2
    store.close()


OTHER = "Курс доллара на бирже вырос до 105 рублей впервые с марта, евро подорожал до 111 рублей"


def test_a_process_that_still_holds_the_moved_post_files_a_forward_safely(tmp_path: Path) -> None:
    """helper-100: the live service holds Topor's flash in its story index; a replay into the same
    store moves the flash's edit into SHOT's story. The service then files RIA's forward of the
    flash by its index: into the flash's old story, which must neither fail the batch (a deleted
    story's foreign key) nor be another story by then (a deleted id given again)."""
    service, imports = Store(tmp_path / "s.db"), Store(tmp_path / "s.db")
    with Pipeline(service, Matcher(load_rules(ROOT / "rules"))) as live:
        list(live.process([Post(TOPOR, 7, at(0), FLASH)]))
        with Pipeline(imports, Matcher(load_rules(ROOT / "rules"))) as replay:
            list(replay.process([Post(SHOT, 1, at(5), CORDON), Post(MASH, 1, at(8), CORDON_2)]))
            list(replay.process([Post(TOPOR, 7, at(0), CORDON_3, edit_date=at(20))]))
            list(replay.process([Post(SHOT, 50, at(21), OTHER)]))
        out = list(live.process([Post(SHOT, 9, at(30), CORDON_3, forward_channel_id=TOPOR, forward_post_id=7)]))
    assert [p.status for p in out] == ["new"]
    sets = story_sets(service)
    assert not any({(SHOT, 50), (SHOT, 9)} <= s for s in sets), sets  # not the dollar rate's story
    assert {s for s in sets if (TOPOR, 7) in s} == {frozenset({(TOPOR, 7), (SHOT, 1), (MASH, 1)})}
    service.close()
    imports.close()


UPDATED = CORDON + ". " + ("Очевидцы сообщают, что на проспекте Руставели перекрыто движение, метро закрыто, "
                           "к зданию стягивают дополнительные силы спецназа, оппозиция призывает сторонников "
                           "собраться вечером, МВД Грузии заявило о возбуждении уголовных дел, омбудсмен "
                           "потребовала освободить журналистов.")


def test_a_copy_of_the_text_before_the_edit_joins_its_story(tmp_path: Path) -> None:
    """helper-101: Topor's report alerts, Topor appends details to it (an edit), then SHOT posts
    Topor's first text word for word: the copy joins by its digest and alerts nothing (caa48b0 took
    the first version out of the index, and the same cordon alerted twice)."""
    store = Store(tmp_path / "s.db")
    run(store, [Post(TOPOR, 7, at(0), CORDON)], [Post(TOPOR, 7, at(0), UPDATED, edit_date=at(3))],
        [Post(SHOT, 1, at(10), CORDON)])
    assert story_sets(store) == {frozenset({(TOPOR, 7), (SHOT, 1)})}
    assert alerts(store) == [("lockdown", TOPOR, 7)]
    store.close()
