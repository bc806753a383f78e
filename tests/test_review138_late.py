"""Reviewer h138, a late review of the day's changes: each test fails on the code it was written
against, for the reason its name says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.post import Post
from bot.store.db import Store

from .fake_telegram import FakeTelegram
from .test_channel_scope import MASH, WHEN
from .test_digest_chats import digest_asked_with_the_group_refusing, shown
from .test_live import channels, run, running
from .test_live_sender_faults import GROUP, digests, low_rules
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


def test_digest_held_for_the_only_alert_chat_is_not_said_to_have_gone_out(fake: FakeTelegram, tmp_path: Path) -> None:
    """With one alert chat, the team group, and the account removed from it, /digest answered «The
    digest went to the alert chats that can be written to; -… cannot be written to»: it went nowhere
    (`cmd_digest` says so whenever any chat is down, whether or not another chat got it)."""
    rules = low_rules(tmp_path)

    async def go() -> None:
        channels(fake)
        fake.add_chat(GROUP, "Analysts")
        async with running(fake, tmp_path, rules=rules, chats=(-GROUP,)) as service:
            reply, _ = await digest_asked_with_the_group_refusing(fake, service)
            assert reply is not None and digests(fake) == [] and shown(fake, group=True) == []  # nobody has it
            assert "went to" not in reply.html, reply.html
    run(go())


def test_a_rule_scoped_to_an_empty_group_is_not_sent_to_a_group_line_that_is_not_there(tmp_path: Path) -> None:
    """A group the analyst has yet to fill (`south = []`, accepted by the config) and a rule scoped to
    it: replay warned «rule 'k': no post came from group south (none of its channels); see the
    group's line», and printed no line for the group (it has no member to miss)."""
    config = tmp_path / "config.toml"
    config.write_text("[channels.groups]\nsouth = []\n", encoding="utf-8")
    matcher = Matcher([Rule.from_query("k", "дезертир", channels=["south"])], groups=dict(load_config(config).groups))
    matcher.match(Post(MASH, 1, WHEN, "В Краснодаре задержали дезертира", channel_title="Mash"))
    warnings = matcher.scope_warnings()
    assert any("south" in w for w in warnings), warnings  # the rule that watches nothing is still named
    told = [w for w in warnings if "see the group's line" in w]
    assert not told or any(w.startswith("group 'south'") for w in warnings), warnings
