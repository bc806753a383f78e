"""The links behind words of a post read from a Telegram Desktop export: found as its parts are
read (`bot.source.message`), they must be what `hidden_links` finds in the post's text and entities."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.post import Post, hidden_links
from bot.source.export import Skip, read_export


def read(parts: list[Any]) -> list[Post | Skip]:
    """What the reader makes of a one-message export whose text is `parts`, read from a real file
    (written with \\u escapes: a lone surrogate is written as some exporters write it)."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "result.json"
        path.write_text(json.dumps({"name": "Тест", "type": "public_channel", "id": 1700000009, "messages": [
            {"id": 1, "type": "message", "date": "2024-01-01T10:00:00", "date_unixtime": "1704103200",
             "text": parts}]}), encoding="utf-8")
        return list(read_export(path))


def read_one(parts: list[Any]) -> Post:
    """The post of a one-message export whose text is `parts`."""
    [post] = read(parts)
    assert isinstance(post, Post)
    return post


def test_half_an_emoji_in_a_formatted_part_skips_the_message() -> None:
    [skip] = read(["Взрыв ", {"type": "text_link", "text": "\ud83d подробнее", "href": "https://ria.example/1"}])
    assert isinstance(skip, Skip) and skip.where == "message #0 (id 1)"


def test_a_link_behind_a_word_after_an_emoji_and_a_windows_line_break_covers_that_word() -> None:
    post = read_one(["Взрыв 💥\r\nв порту. ", {"type": "text_link", "text": "подробнее", "href": "https://ria.example/1"},
                     " и ", {"type": "link", "text": "https://seen.example"}])
    assert post.text == "Взрыв 💥\nв порту. подробнее и https://seen.example"
    [(start, end, url)] = post.links
    assert (post.text[start:end], url) == ("подробнее", "https://ria.example/1")


_words = st.text(alphabet=st.sampled_from(["a", "я", " ", "\n", "\r", "😀", "🇷", "\u200b"]), max_size=8)
_parts = st.lists(st.one_of(
    _words,
    st.fixed_dictionaries({"type": st.sampled_from(["plain", "bold", "link", "text_link", "mention_name", "url"]),
                           "text": _words},
                          optional={"href": st.sampled_from(["", "https://a.example/x", "t.me/chan/5"])}),
), max_size=8)


@given(_parts)
@settings(max_examples=300, deadline=None)
def test_links_read_with_the_parts_are_those_hidden_links_finds(parts: list[Any]) -> None:
    post = read_one(parts)
    assert post.links == hidden_links(post.text, post.entities)
