"""The shipped rules against the hand-labelled sets in tests/data/labels (real corpus posts)."""

from __future__ import annotations

import pytest

from bot.match.evaluate import load_labels, score_rule
from bot.match.matcher import Matcher
from bot.match.rules import load_rules

from .conftest import DATA, ROOT

TOPICS = ["desertion", "regiment", "lockdown"]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_rules(ROOT / "rules"))


@pytest.mark.parametrize("topic", TOPICS)
def test_labelled_set_is_complete(topic, corpus):
    labels = load_labels(DATA / "labels" / f"{topic}.csv")
    assert sum(lab.label for lab in labels) >= 15 and sum(not lab.label for lab in labels) >= 60
    assert all((lab.channel_id, lab.message_id) in corpus for lab in labels)


@pytest.mark.parametrize("topic", TOPICS)
def test_shipped_rule_precision_and_recall(topic, corpus, matcher):
    s = score_rule(matcher, topic, load_labels(DATA / "labels" / f"{topic}.csv"), corpus)
    wrong = [f"{'FP' if lab in s.false_positives else 'FN'} {lab.channel_id}/{lab.message_id} {lab.note}"
             for lab in s.false_positives + s.false_negatives]
    assert s.precision >= 0.9, wrong
    assert s.recall >= 0.9, wrong
