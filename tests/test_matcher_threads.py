"""One Matcher shared by threads (the live service matches posts, alerts' checks and /test in worker
threads): each thread gets the answers it would get alone, though the word cache empties meanwhile."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

import bot.match.matcher as matcher_module
from bot.match.matcher import Matcher
from bot.match.rules import load_rules

RULES = Path(__file__).resolve().parents[1] / "rules"
# each post has a rule word among words of its own (new to the cache: a post classifies them)
POSTS = [f"Пост {i}: слово{i}а слово{i}б слово{i}в " + ("дезертиры сбежали из части" if i % 2 else "полк ушёл с позиций")
         + f" слово{i}г слово{i}д" for i in range(300)]


def test_threads_sharing_a_matcher_get_every_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the cache emptied every few posts and threads switching every microsecond, a thread that
    read a post's words while another emptied the cache used to lose the post's match (or fail)."""
    matcher = Matcher(load_rules(RULES))
    alone = [[(m.rule, [h.form for h in m.hits]) for m in matcher.match(p)] for p in POSTS]
    assert all(alone), "every post matches a shipped rule"
    monkeypatch.setattr(matcher_module, "_CACHE_LIMIT", 12)
    got: dict[int, list[object]] = {}
    failed: list[BaseException] = []
    start = threading.Barrier(3)

    def work(n: int) -> None:
        start.wait()
        try:
            got[n] = [[(m.rule, [h.form for h in m.hits]) for m in matcher.match(p)] for p in POSTS]
        except BaseException as e:  # noqa: BLE001 (reported below)
            failed.append(e)

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(before)
    assert failed == []
    assert [got[n] == alone for n in range(3)] == [True] * 3
