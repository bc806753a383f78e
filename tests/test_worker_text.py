"""The replay worker's cheaper readings of a post's text each read it exactly as the plain
definition they stand for (a whole-text pattern, a loop over the words)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

import re

from bot.post import TG_LINK_HINT
from bot.text import _TLD, URL_RE, _hint, find_urls, rough_lines, rough_words, url_free_lines

# Pieces of links, words and line breaks: URLs on some lines, hints without a URL on others
_LINKY_LINES = st.lists(st.sampled_from(list("htpsw:/.tmeruomgnfiHTPSWRU x1_-\n") + [
    "https://", "http://", "www.", "t.me/", "://", ".ru", ".ru/", ".info/", "\n", " \n", "Путин", "рф", "«", "»"]),
    max_size=24).map("".join)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_LINKY_LINES, st.text(max_size=30)))
@example("Читайте\nlenta.ru/news и t.me/x\nwww.\n1.ru")  # URLs on two lines, a hint alone on a third
@example("x-a.ru-b.com\nhttps://a.ru/b\nwww")  # a URL right after another; the last line with no hint
@example("Источник: long-agency-name.info/a\nwww\n.ru")  # a URL starts well before its hint; «www» and «.ru» a line apart are none
def test_urls_found_line_by_line_are_the_whole_texts(text: str) -> None:
    # the matcher blanks URLs before it reads words, tokenize leaves them out: a URL missed or cut
    # would make a word of it (or lose one)
    assert find_urls(text) == [m.span() for m in URL_RE.finditer(text)]


# The hint as one pattern: what `_hint` splits in two searches, «://» and a «.» before a TLD or «www»
_ONE_HINT_RE = re.compile(rf"://|\.(?:(?<=www\.)|{_TLD}|{TG_LINK_HINT})", re.IGNORECASE)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_LINKY_LINES, st.text(max_size=30)), st.integers(0, 30))
@example("a.ru://", 0)  # a «://» right after a dot hint: the dot is first
@example("x://y.ru", 0)  # a «://» before the dot hint
@example("WWW.x", 1)  # «www» before the start: the lookbehind still sees it
def test_the_url_hint_in_two_searches_is_the_first_of_either(text: str, pos: int) -> None:
    # a hint found late (or not at all) leaves a URL's words to the matcher; found early, only time is lost
    m = _ONE_HINT_RE.search(text, pos)
    assert _hint(text, pos) == (m.start() if m else -1)


@settings(max_examples=500, deadline=None)
@given(st.one_of(_LINKY_LINES, st.text(max_size=30)))
@example("Читайтеlenta.ru/news и t.me/x\nПутин www.ria.ru\n\nзакон")  # a word glued to a URL; two on a line
@example("a.ru b.ru\nx\nhttps://t.me/x")  # URLs on the first and last lines
def test_the_words_read_off_the_lines_are_the_matchers(text: str) -> None:
    # the worker hands the matcher the words of the text's lines, those with a URL read again
    # blanked: a URL's word the matcher would not read («ru», «news») could make a rule match
    words = [w for ws in url_free_lines(text, rough_lines(text), find_urls(text)) for w in ws]
    assert words == rough_words(text)
