"""Every host `bot.post.TG_LINK` knows for Telegram (t.me, telegram.me, telegram.dog, with or without
www. and https://) is a link wherever links are recognised: its words are no post words a rule
matches, and the story step drops an ad line with it as it drops one with t.me."""

from __future__ import annotations

import pytest

from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.story.similar import strip_boilerplate
from bot.text import find_urls, words

HOSTS = ("t.me", "telegram.me", "telegram.dog", "TELEGRAM.DOG", "www.telegram.dog", "https://telegram.dog")


@pytest.mark.parametrize("host", HOSTS)
def test_a_telegram_link_is_a_link_whatever_its_host(host: str) -> None:
    text = f"Подписывайтесь: {host}/world_news"
    assert find_urls(text) == [(16, len(text))]
    assert words(text) == ["подписывайтесь"]
    assert Matcher([Rule.from_query("n", "news")]).match(text) == []  # a word of the link only


@pytest.mark.parametrize("host", HOSTS)
def test_an_ad_line_with_a_telegram_link_is_dropped_whatever_its_host(host: str) -> None:
    news = "Под Курском задержали дезертира, сбежавшего из части в мае.\nЕго передали военной полиции."
    assert strip_boilerplate(f"{news}\nБыстрый VPN тут {host}/fastvpn_bot") == news
