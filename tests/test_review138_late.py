"""Reviewer h138, a late review of the day's changes: each test fails on the code it was written
against, for the reason its name says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.db import Store

from .test_search_lookalikes import found, stored

TEXTS = {
    1: "Подписывайтесь на наш канал: t.me/gorbunov_me",
    2: "Подробности на сайте www.apple.com/newsroom/2023/10",
    3: "Дезертир задержан в Курской области",
}


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = stored(tmp_path / "s.db", TEXTS)
    yield s
    s.close()


@pytest.mark.parametrize("query, written, ids", [
    ("https://t.me/gorbunov_me", "t.me/gorbunov_me", [1]),  # Telegram's «Copy link» of the channel
    ("https://www.apple.com", "www.apple.com", [2]),  # a browser's address bar
])
def test_a_pasted_link_with_its_scheme_finds_the_post_that_writes_it_without(store: Store, query: str, written: str,
                                                                               ids: list[int]) -> None:
    """`search https://t.me/gorbunov_me` (the link Telegram copies) said «no stored post contains»
    of a post linking t.me/gorbunov_me: the query's «https» became a word the post must have, though
    the README's «a domain or a link is searched» and `_link_words` («a whole URL») promise the link."""
    assert found(store, written) == ids  # the link as the post writes it is found
    assert found(store, query) == ids
