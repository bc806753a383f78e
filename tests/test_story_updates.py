"""An alert is updated when more channels report its story, whether or not their posts say the
rule's words: the story line is who reported it, not who matched (issue: «When more channels report
a story that already alerted, the alert is updated, not repeated»). A real SQLite file per test."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.alert.outbox import Alert, deliver_queued
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

ROOT = Path(__file__).resolve().parents[1]
AT = datetime(2026, 11, 20, 9, 4, tzinfo=timezone.utc)


class Sink:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.sent.append(alert)


def test_a_follower_that_does_not_say_the_rules_words_still_updates_the_alert(tmp_path: Path) -> None:
    store, sink = Store(tmp_path / "s.db"), Sink()
    with Pipeline(store, Matcher(load_rules(ROOT / "rules"))) as pipeline:
        first = [p.story_id for p in pipeline.process([Post(777, 1, AT, "В Краснодаре задержали дезертиров", "SHOT")])]
        assert deliver_queued(store, sink) == 1 and not sink.sent[0].update
        # Mash forwards it with its own words: the same story, no «дезертир» in it
        follower = Post(778, 5, AT + timedelta(minutes=2), "Подробности: беглецов поймали у трассы", "Mash",
                        forward_channel_id=777, forward_post_id=1)
        done = list(pipeline.process([follower]))
    assert [p.story_id for p in done] == first and not done[0].matches
    assert done[0].update_ids, "the story grew: its sent alert is queued for an update"
    assert deliver_queued(store, sink) == 1
    update = sink.sent[1]
    assert update.update and update.id == sink.sent[0].id
    store.close()


def test_a_rule_switched_off_gets_no_update_and_once_back_its_next_update_shows_the_whole_story(tmp_path: Path) -> None:
    """Mash joins the story while the rule is off (`enabled = false`): no update; Топор joins once it
    is back: one update, of the story's three posts."""
    rule = '[[rule]]\nname = "desertion"\nquery = "дезертир"\n'
    store, sink = Store(tmp_path / "s.db"), Sink()
    (tmp_path / "r.toml").write_text(rule, encoding="utf-8")
    first = Post(777, 1, AT, "В Краснодаре задержали дезертиров", "SHOT")
    with Pipeline(store, Matcher(load_rules(tmp_path / "r.toml"))) as pipeline:
        list(pipeline.process([first]))
    assert deliver_queued(store, sink) == 1
    (tmp_path / "r.toml").write_text(rule + "enabled = false\n", encoding="utf-8")
    with Pipeline(store, Matcher(load_rules(tmp_path / "r.toml"))) as pipeline:
        done = list(pipeline.process([Post(778, 5, AT + timedelta(minutes=2), "Подробности: беглецов поймали у трассы", "Mash",
                                           forward_channel_id=777, forward_post_id=1)]))
    assert not done[0].update_ids and deliver_queued(store, sink) == 0, "the rule switched off got an update"
    (tmp_path / "r.toml").write_text(rule, encoding="utf-8")
    with Pipeline(store, Matcher(load_rules(tmp_path / "r.toml"))) as pipeline:
        done = list(pipeline.process([Post(779, 9, AT + timedelta(minutes=5), "Беглецов поймали у трассы", "Топор",
                                           forward_channel_id=777, forward_post_id=1)]))
    assert done[0].update_ids and deliver_queued(store, sink) == 1
    update = sink.sent[-1]
    assert update.update and update.story_size == 3 and [c for c, _, _ in update.story] == ["SHOT", "Mash", "Топор"]
    store.close()


def test_an_alert_not_sent_yet_is_not_updated_twice_but_shows_the_whole_story(tmp_path: Path) -> None:
    store, sink = Store(tmp_path / "s.db"), Sink()
    with Pipeline(store, Matcher(load_rules(ROOT / "rules"))) as pipeline:
        done = list(pipeline.process([
            Post(777, 1, AT, "В Краснодаре задержали дезертиров", "SHOT"),
            Post(778, 5, AT + timedelta(minutes=2), "Подробности: беглецов поймали у трассы", "Mash",
                 forward_channel_id=777, forward_post_id=1)]))
    assert done[0].alert_ids and not done[1].update_ids  # queued, not sent: the send shows both posts
    assert deliver_queued(store, sink) == 1 and not sink.sent[0].update
    store.close()


def test_what_a_batch_hook_writes_commits_with_the_batch_or_not_at_all(tmp_path: Path) -> None:
    """`Pipeline.process(in_batch=...)` runs inside the batch's transaction (the live service re-aims
    an alert a mute held back there): a crash in it stores neither the posts nor what it wrote."""
    store = Store(tmp_path / "s.db")
    post = Post(777, 1, AT, "В Краснодаре задержали дезертиров", "SHOT")

    def mute_then_crash(out: list[object]) -> None:
        store.mute("desertion", "2026-12-01T00:00:00+00:00", channel_id=777)
        raise RuntimeError("power cut")

    with Pipeline(store, Matcher(load_rules(ROOT / "rules"))) as pipeline:
        with pytest.raises(RuntimeError):
            list(pipeline.process([post], in_batch=mute_then_crash))
        assert (store.count("posts"), store.count("alerts"), store.count("mutes")) == (0, 0, 0)
        done = list(pipeline.process([post], in_batch=lambda out: store.mute("desertion", "2026-12-01T00:00:00+00:00", channel_id=777)))
    assert done[0].status == "new" and done[0].alert_ids
    assert (store.count("posts"), store.count("mutes")) == (1, 1)
    store.close()


def test_an_alert_another_program_queued_between_two_batches_is_updated_when_the_story_grows(tmp_path: Path) -> None:
    """The pipeline's store remembers which stories have alerts between its batches; an alert the live
    service (another connection to the file) queues and sends meanwhile is still updated."""
    from bot.match.matcher import Match

    store = Store(tmp_path / "s.db")
    with Pipeline(store, Matcher(load_rules(ROOT / "rules"))) as pipeline:
        first = list(pipeline.process([Post(777, 1, AT, "Подробности о пожаре на складе", "SHOT"),
                                       Post(778, 5, AT + timedelta(minutes=1), "Пожар на складе", "Mash",
                                            forward_channel_id=777, forward_post_id=1)]))
        story = first[0].story_id
        assert first[1].story_id == story and not first[1].update_ids  # the story has no alert yet
        other = Store(tmp_path / "s.db")
        rule = pipeline.matcher.rules[0].name  # a rule in use (one out of use gets no update)
        alert = other.queue_alert(story, first[0].post, Match(rule, rule, "high", ()), state="sent",
                                  now="2026-11-20T09:06:00+00:00")
        other.close()
        grown = list(pipeline.process([Post(779, 9, AT + timedelta(minutes=3), "Пожар на складе потушили", "Baza",
                                            forward_channel_id=777, forward_post_id=1)]))
    assert grown[0].story_id == story and grown[0].update_ids == [alert]
    assert store.story_alert(story, rule) == (alert, "update_queued", (777, 1), "live")
