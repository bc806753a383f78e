"""An alert whose rule's words came in an edit gives the edit's time beside the post's, wherever it
names the post's time (terminal, alerts file, Telegram, digest, story line): analysts credit whoever
reported first. A post that matched as first stored shows its own time alone, however edited later."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from telethon.extensions import html as tl_html

import bot.pipeline
from bot.alert.html import render_html
from bot.alert.outbox import Alert, deliver_queued, load_alert
from bot.alert.sinks import JsonlSink
from bot.live.sender.digesttext import render_digest
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import REPLAY, Store, iso
from .fake_telegram import FakeTelegram, eventually
from .sample_store import KUBAN, SAMPLE, Sample, shipped_matcher
from .test_live import TOPOR, alerts, channels, run, running
from .test_live_edit_story import CORDON_3, FLASH
from .test_replay import HIT_TEXT, QUIET_TEXT, jsonl_lines, replay

MSK = ZoneInfo("Europe/Moscow")
FIRST = "https://t.me/c/1700000002/18737"  # Южный Телеграф 07:52 UTC; its «UPD» edit at 08:36 brought the keywords


def blocks(stdout: str) -> list[list[str]]:
    """The terminal's alert blocks (blank-line separated), each as its lines."""
    return [b.splitlines() for b in stdout.split("\n\n") if "https://t.me/" in b]


def html_text(alert: Alert | None) -> str:
    assert alert is not None
    return tl_html.parse(render_html(alert, MSK))[0]


def alert_id(store: Store, key: tuple[int, int], rule: str = "desertion") -> int:
    """The id of the alert of `rule` quoting the post `key`, or of the story it is in."""
    return int(store.db.execute(
        "SELECT id FROM alerts WHERE rule = ? AND story_id = (SELECT story_id FROM posts WHERE channel_id = ? "
        "AND message_id = ?)", [rule, *key]).fetchone()[0])


def test_sample_replay_terminal_gives_the_edit_time_of_the_first_report(tmp_path: Path) -> None:
    r = replay(SAMPLE, "--db", tmp_path / "s.db")
    assert r.exit_code == 0, r.output
    ours = [b for b in blocks(r.stdout) if b[1].endswith(FIRST)]
    assert len(ours) == 3  # desertion, lockdown, regiment: the export keeps the edited text only
    for b in ours:
        assert b[1] == f"  Южный Телеграф  2026-11-20 07:52 UTC, edited 08:36  {FIRST}", b
        assert b[-1].startswith("  story #") and "first: Южный Телеграф 07:52 (edited 08:36); also Сводка 24 08:07, " in b[-1]
    others = [b for b in blocks(r.stdout) if not b[1].endswith(FIRST)]
    assert others and not any("edited" in b[1] for b in others)  # posts never edited


def test_sample_alerts_file_has_edited_at_only_for_the_edited_report(tmp_path: Path) -> None:
    out = tmp_path / "alerts.jsonl"
    r = replay(SAMPLE, "--db", tmp_path / "s.db", "--alerts", out)
    assert r.exit_code == 0, r.output
    recs = jsonl_lines(out)
    assert {(x["rule"], x["edited_at"]) for x in recs if x["link"] == FIRST} == {
        (rule, "2026-11-20T08:36:40+00:00") for rule in ("desertion", "lockdown", "regiment")}
    assert all(x["edited_at"] is None for x in recs if x["link"] != FIRST)


def test_telegram_alert_story_line_credits_the_edit_not_the_post(sample: Sample) -> None:
    """Built by the pipeline with Сводка 24's export first: the story's desertion alert quotes its 08:07
    flash; Южный Телеграф's 07:52 post, stored as edited at 08:36, joined the story after."""
    store = Store(sample.db)
    try:
        text = html_text(load_alert(store, alert_id(store, (1700000002, 18737))))
        assert "Сводка 24 · 2026-11-20 11:07 MSK\n" in text, text
        assert "first: Южный Телеграф 10:52 (edited 11:36); also Сводка 24 11:07, " in text, text
        # the hand-made post matched as first stored, and was edited after: no news, its own time alone
        kuban = alert_id(store, (KUBAN, 501))
        assert store.db.execute("SELECT edit_date FROM posts WHERE message_id = 501").fetchone()[0]
        text = html_text(load_alert(store, kuban))
        assert "Кубань Онлайн · 2026-11-23 12:00 MSK\n" in text and "edited" not in text, text
    finally:
        store.close()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stores' clock (`utcnow`, whole seconds) a second on at each batch: a batch's writes are
    told from the last one's, as batches minutes apart are."""
    start = datetime(2026, 11, 30, 9, tzinfo=timezone.utc)
    stamps: Iterator[str] = (iso(start + timedelta(seconds=n)) or "" for n in count())
    monkeypatch.setattr(bot.pipeline, "utcnow", lambda: next(stamps))


def post(mid: int, text: str, hour: int, edited: int | None = None) -> Post:
    at = datetime(2026, 11, 24, hour, tzinfo=timezone.utc)
    return Post(channel_id=1700000099, message_id=mid, channel_title="Тест", date=at, text=text,
                edit_date=at + timedelta(minutes=edited) if edited is not None else None)


LATER_HIT = "Военный суд в Саратове приговорил дезертира к пяти годам колонии."  # another story than HIT_TEXT's


def test_an_edit_that_brings_the_words_is_shown_a_typo_fixed_after_is_not(tmp_path: Path, clock: None) -> None:
    """Live order: each version read as it comes, in batches of their own. Post 1 says nothing the rules
    watch until its edit 40 minutes later; post 2 matches as posted and is corrected 30 minutes later."""
    store = Store(tmp_path / "s.db", owner=REPLAY)
    try:
        with Pipeline(store, shipped_matcher()) as pipeline:
            for version in (post(1, QUIET_TEXT, 9), post(1, HIT_TEXT, 9, edited=40),
                            post(2, LATER_HIT, 10), post(2, LATER_HIT.replace("пяти", "шести"), 10, edited=30)):
                list(pipeline.process([version]))
        assert store.db.execute("SELECT count(DISTINCT story_id) FROM alerts").fetchone()[0] == 2
        out = tmp_path / "alerts.jsonl"
        sink = JsonlSink(out, store.path)
        try:
            assert deliver_queued(store, sink) == 2
        finally:
            sink.close()
        assert {x["message_id"]: x["edited_at"] for x in jsonl_lines(out)} == {
            1: "2026-11-24T09:40:00+00:00", 2: None}
        one, two = alert_id(store, (1700000099, 1)), alert_id(store, (1700000099, 2))
        text = html_text(load_alert(store, one))
        assert "Тест · 2026-11-24 12:00 MSK, edited 12:40\n" in text, text
        text = html_text(load_alert(store, two))
        assert "Тест · 2026-11-24 13:00 MSK\n" in text and "edited" not in text, text
        digest = tl_html.parse(render_digest(store, [one, two], {}, MSK))[0]
        assert "1. 24.11 12:00 (edited 12:40) Тест: " in digest and "2. 24.11 13:00 Тест: " in digest, digest
    finally:
        store.close()


def test_live_alert_of_a_flash_edited_into_the_report_gives_the_edit_time(fake: FakeTelegram, tmp_path: Path,
                                                                           clock: None) -> None:
    """Through the real client: a flash posted 40 minutes ago says nothing the rules watch; its edit now
    brings the cordon. The chat's alert gives both times, the post's first."""
    async def go() -> None:
        channels(fake)
        async with running(fake, tmp_path) as service:
            posted = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=40)
            flash = fake.publish(TOPOR, FLASH, date=posted)
            await eventually(lambda: service.store.count("posts") == 1)
            fake.edit(TOPOR, flash, CORDON_3)
            await eventually(lambda: len(alerts(fake)) == 1)
            edited = datetime.fromisoformat(service.store.db.execute("SELECT edit_date FROM posts").fetchone()[0])
            when = f"{edited:%H:%M}" if edited.date() == posted.date() else f"{edited:%d.%m %H:%M}"  # (past midnight)
            head = alerts(fake)[0].text.splitlines()[1]
            assert head == f"Топор · {posted:%Y-%m-%d %H:%M} UTC, edited {when}", head
    run(go())
