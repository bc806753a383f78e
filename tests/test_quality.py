"""The shipped rules against the hand-labelled sets in tests/data/labels (real corpus posts).

The held-out sets in tests/data/labels_holdout are a measurement (bench/quality.py), not a gate:
nothing here asserts how well the rules do on them, only that they stay well formed."""

from __future__ import annotations

import tomllib

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


@pytest.mark.parametrize("topic", TOPICS)
def test_holdout_set_names_corpus_posts(topic, corpus):
    labels = load_labels(DATA / "labels_holdout" / f"{topic}.csv")
    assert labels and all(lab.note.strip() for lab in labels)
    assert [lab for lab in labels if (lab.channel_id, lab.message_id) not in corpus] == []


@pytest.mark.parametrize("topic", TOPICS)
def test_holdout_set_is_apart_from_the_fitted_set(topic):
    """A held-out post in the fitted set, or twice, would no longer be held out; the draw record
    must count the rows the bench weights."""
    held = [(lab.channel_id, lab.message_id) for lab in load_labels(DATA / "labels_holdout" / f"{topic}.csv")]
    fitted = {(lab.channel_id, lab.message_id) for lab in load_labels(DATA / "labels" / f"{topic}.csv")}
    assert len(set(held)) == len(held) and fitted.isdisjoint(held)
    draw = tomllib.loads((DATA / "labels_holdout" / "draw.toml").read_text("utf-8"))[topic]
    moved = draw.get("matched_moved", 0) + draw.get("probe_moved", 0)  # to the fitted set since the draw
    assert draw["matched_sampled"] + draw["probe_sampled"] - moved == len(held)
