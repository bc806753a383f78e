"""Score rules against a labelled set: precision, recall and the posts they got wrong."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from ..post import Post
from .matcher import Matcher

__all__ = ["Label", "Scores", "load_labels", "score_rule"]


@dataclass(frozen=True)
class Label:
    channel_id: int
    message_id: int
    label: bool
    note: str = ""


@dataclass
class Scores:
    rule: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    missing: int = 0
    false_positives: list[Label] = field(default_factory=list)
    false_negatives: list[Label] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_labels(path: str | Path) -> list[Label]:
    """Rows of `channel_id,message_id,label[,note]`."""
    with open(path, newline="", encoding="utf-8") as f:
        return [Label(int(r["channel_id"]), int(r["message_id"]), r["label"].strip() == "1", r.get("note", ""))
                for r in csv.DictReader(f)]


def score_rule(matcher: Matcher, rule: str, labels: Iterable[Label],
               posts: Mapping[tuple[int, int], Post]) -> Scores:
    """How well `rule` of `matcher` agrees with the labels (posts not found are counted apart)."""
    s = Scores(rule)
    for lab in labels:
        post = posts.get((lab.channel_id, lab.message_id))
        if post is None:
            s.missing += 1
            continue
        hit = any(m.rule == rule for m in matcher.match(post))
        if hit and lab.label:
            s.tp += 1
        elif hit:
            s.fp += 1
            s.false_positives.append(lab)
        elif lab.label:
            s.fn += 1
            s.false_negatives.append(lab)
        else:
            s.tn += 1
    return s
