"""The regex fast paths of bot/text.py and bot/story/similar.py: each reads a text exactly as the
plain definition it stands for (a character class, NFKC, a URL or link pattern)."""

from __future__ import annotations

import pickle
import sys
import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.story.similar import _LINK_HINT_RE, _LINK_RE, fold_prefix, names_in, numbers_in
from bot.text import _FORMAT_CHARS, _FORMAT_RE, _INVISIBLE_RE, _SIGN_RE, URL_RE, _hint, _nfkc_words, find_urls

_LINKY = st.lists(st.sampled_from(list("htpsw:/.tmeruomgnfiHTPSWRU x1_-") + ["https://", "http://", "www.", "t.me/", "://", ".ru/", ".info/"]),
                  max_size=20).map("".join)


def test_format_re_matches_exactly_the_format_characters() -> None:
    every = "".join(chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF)
    assert _FORMAT_RE.findall(every) == sorted(_FORMAT_CHARS)


def test_every_invisible_character_search_looks_for_is_a_format_character() -> None:
    # search_fold asks `_INVISIBLE_RE` only of a text `_FORMAT_RE` finds a format character in: one it
    # found alone would leave a disguised word («дезер\u200bтир») out of the search index
    every = "a".join(chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF) + "a"
    found = set(_INVISIBLE_RE.findall(every))
    assert "\u200b" in found and "\u200d" in found  # (a joiner before a letter)
    assert found <= set(_FORMAT_CHARS)


@settings(max_examples=300, deadline=None)
@given(st.text(st.one_of(st.sampled_from("\u00a0… ай\u0306\u0301№ﬁ²\u2011™Ⓜ🈺"), st.characters()), max_size=30))
def test_nfkc_is_unicodedata_nfkc(text: str) -> None:
    # (a sign NFKC spells with letters, «№», is a space first: test_review92_signs.py)
    assert _nfkc_words(text) == unicodedata.normalize("NFKC", _SIGN_RE.sub(" ", text))


@settings(max_examples=300, deadline=None)
@given(st.one_of(_LINKY, st.text(max_size=30)))
def test_hints_find_every_url_and_link(text: str) -> None:
    # a hint that missed a URL or link would leave it in the text
    assert _hint(text) >= 0 or not URL_RE.search(text)
    assert _LINK_HINT_RE.search(text) or not _LINK_RE.search(text)


@pytest.mark.parametrize(
    "text, names",
    [
        ("Путин встретился с Си Цзиньпином в Москве.", {"си", "цзиньп", "москве"}),
        ("Вчера… Зеленский заявил", set()),  # «…» ends a sentence
        ("⚡️ Срочно: МВД сообщило, что ВСУ отступили", {"мвд", "всу"}),  # the first word after emoji
        ("Новый iPhone и МакДональдс", {"phone", "макдон"}),  # from a word's first capital on
        ("Итак._Песков ответил; Песков — Кремль", {"песков", "кремль"}),  # a name also at a start
        ("Завершилось.\n\nМосква ждёт; «Газпром» растёт", {"газпро"}),
    ],
)
def test_names_are_capitalised_words_inside_sentences(text: str, names: set[str]) -> None:
    assert names_in(text, fold_prefix) == names


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list("AaZzЁёЕеЙйЯяXxАаОоoO1_ѐÉßİ") + ["\u0301", "ＡＢ", "ﬁ", "й\u0306"]), min_size=1, max_size=8).map("".join))
@example("Ёлкин")  # ё folded to е
@example("МВД")  # a one-letter part or a stop word is no content: «А», «И»
@example("Москвa")  # Latin «a» in a Cyrillic word: read as `normalize` reads look-alikes
def test_a_name_is_folded_as_normalize_folds_it(name: str) -> None:
    # a name of one alphabet is folded without `normalize`: it must give the words `normalize` gives
    from bot.story.similar import _content, _name_terms
    from bot.text import WORD_RE, normalize

    for fold in (fold_prefix, str.upper):
        assert _name_terms(name, fold) == tuple(_content(WORD_RE.findall(normalize(name)), fold))


@pytest.mark.parametrize(
    "text, numbers",
    [
        ("Ссылка https://t.me/channel/123, курс 5 000 рублей", {"5000"}),
        ("www.x.ru/a/12 и 7/8", {"7", "8"}),
        ("сайт kremlin.ru/events/12 сообщил о 3 тыс.", {"3000"}),
        ("в 2024/25 году 10%", {"2024", "25", "10"}),
    ],
)
def test_numbers_inside_links_are_not_counted(text: str, numbers: set[str]) -> None:
    assert numbers_in(text) == numbers


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(["Путин", " подписал", " закон", " 5 000", " тыс.", " Москва", "\n", ".", "\x00", " ВСУ",
                                           " 12,50", "!"]), st.text(max_size=3)), max_size=20).map("".join))
def test_prepared_text_comes_back_from_the_worker_as_it_left(text: str) -> None:
    # a replay worker's story preparation is pickled in a compact form: the story step must see
    # exactly what preparing the text in this process gives (a one-line post's headline is its words)
    from bot.story.index import prepare

    sent = prepare(text, shared=False)  # (the worker's words are its own objects, not the story step's)
    got = pickle.loads(pickle.dumps(sent))
    assert got == sent == prepare(text)
    assert (got.lead is got.terms) == (sent.lead is sent.terms)
    assert got.ordered == tuple(sorted(got.terms))  # the story step ranks words from it, ties in this order
    assert got.lead <= got.terms and got.names <= got.terms


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40), st.text(max_size=10)), max_size=3))
def test_both_hashes_at_once_are_each_hash_alone(text: str, links: list[tuple[int, int, str]]) -> None:
    # the worker hashes a text once for its hash with links and without: a wrong one re-stores an unchanged post
    from bot.post import content_hash, content_hashes

    assert content_hashes(text, tuple(links)) == (content_hash(text, tuple(links)), content_hash(text) if links else None)


_LINES = st.lists(st.one_of(st.sampled_from(["\n", " ", "  \n", "\u3000", "⚡️", "❗️ ", "— ", "@channel_name", " #Тег", "#МоскваСегодня",
                                            "Путин", " подписал", " закон", " ВСУ", "Подписаться", " t.me/x", "https://ria.ru/a",
                                            "\u0301", "\u200b", "＃", "_", "й\u0306", "ﬁ", "№5", "\u00a0", ".", "'"]),
                              st.text(max_size=3)), max_size=16).map("".join)


@settings(max_examples=400, deadline=None)
@given(_LINES)
def test_the_text_folded_once_reads_each_line_as_folded_alone(text: str) -> None:
    # the worker folds a post once for the matcher and the story step: a line must read the same
    from bot.text import _fold_basic, find_words, rough_lines, rough_words

    assert rough_lines(text) == [find_words(_fold_basic(line)) for line in text.split("\n")]
    if not find_urls(text):
        assert [w for ws in rough_lines(text) for w in ws] == rough_words(text)


@settings(max_examples=400, deadline=None)
@given(_LINES)
@example("Путин подписал закон\nВСУ закон @channel_name")  # the last line's mention cut
@example("#МоскваСегодня подписал закон\nВСУ")  # the first line's marks cut: a hashtag is a word then
@example("⚡\u0345Путин подписал закон\nВСУ")  # a mark cut from before the first word that case folding makes «ι»
@example("⚡️\n  Путин подписал\nзакон  \n\nПодписаться @channel_name")  # a first line cut to nothing
def test_story_words_read_off_the_folded_lines_are_the_bodys_words(text: str) -> None:
    # headline, words, digest: a post prepared by the worker from the lines it folded joins the same stories
    from bot.story.index import prepare
    from bot.text import rough_lines

    read, alone = prepare(text, shared=False, lines=rough_lines(text)), prepare(text)
    assert read == alone
    assert (read.lead is read.terms) == (alone.lead is alone.terms)  # a one-line body's headline is its words
