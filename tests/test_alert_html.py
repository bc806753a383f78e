"""Alerts rendered for Telegram: escaped text, hits in bold, split under 4096 safely."""

from __future__ import annotations

from dataclasses import replace

import pytest
import regex

from hypothesis import given
from hypothesis import strategies as st
from telethon.extensions import html as tl_html
from telethon.helpers import add_surrogate
from telethon.tl.types import MessageEntityBold, MessageEntityTextUrl

from bot.alert.html import MAX_LENGTH, render_html, to_parts
from bot.alert.outbox import Alert
from bot.match.explain import _BETWEEN, _ends_word, matched_words


def alert(text: str, hits: list[tuple[int, int]], **kw: object) -> Alert:
    base = dict(id=1, rule="desertion", title="Desertion <b>& AWOL</b>", severity="high", channel_id=1,
                channel_title="SHOT <News>", username="shot_shot", message_id=5, link="https://t.me/shot_shot/5",
                date="2024-11-20T09:04:00+00:00", text=text,
                hits=tuple((text[s:e], text[s:e], s, e, 1.0, "form") for s, e in hits), story_id=3, story_size=1)
    base.update(kw)
    return Alert(**base)  # type: ignore[arg-type]


def test_post_text_is_escaped_and_hits_are_bold() -> None:
    text = "Солдаты <script> дезертировали из части & скрылись <i>ночью</i>"
    s = text.index("дезертировали")
    markup = render_html(alert(text, [(s, s + len("дезертировали"))]))
    plain, entities = tl_html.parse(markup)
    # shown literally, not as markup: before the hit and after it (no italics)
    assert "<script>" in plain and "& скрылись <i>ночью</i>" in plain
    assert "Desertion <b>& AWOL</b>" in plain
    bold = [plain_u16 for plain_u16 in entities if isinstance(plain_u16, MessageEntityBold)]
    shown = add_surrogate(plain)
    assert any(shown[e.offset:e.offset + e.length] == "дезертировали" for e in bold)
    link = next(e for e in entities if isinstance(e, MessageEntityTextUrl))
    assert link.url == "https://t.me/shot_shot/5" and shown[link.offset:link.offset + link.length] == "SHOT <News>"


def test_story_line_is_shown_for_stories() -> None:
    a = alert("дезертир", [(0, 8)], story_size=3, story=(("SHOT", "2024-11-20T09:04:00+00:00", "l1"),
                                                         ("Mash", "2024-11-20T09:06:00+00:00", "l2")))
    assert "first: SHOT 09:04; also Mash 09:06 (+1)" in tl_html.parse(render_html(a))[0]


def test_long_text_splits_under_the_limit_keeping_bold() -> None:
    emoji_line = "🔥 дезертир " * 900  # astral-plane emoji count twice in UTF-16, as Telegram counts
    markup = "<b>" + emoji_line + "</b>"
    parts = to_parts(markup)
    assert len(parts) > 1
    assert all(len(add_surrogate(t)) <= MAX_LENGTH for t, _ in parts)
    assert "".join(t for t, _ in parts).replace("\n", "").replace(" ", "") == emoji_line.replace(" ", "")
    assert all(any(isinstance(e, MessageEntityBold) for e in ents) for _, ents in parts)


def test_alerts_stay_short_for_long_posts() -> None:
    text = "слово " * 3000 + "дезертир " + "слово " * 3000
    s = text.index("дезертир")
    markup = render_html(alert(text, [(s, s + 8)]))
    assert len(to_parts(markup)) == 1 and "дезертир" in tl_html.parse(markup)[0]


def test_matched_line_shows_the_posts_words_and_the_rule_term_where_it_differs() -> None:
    from bot.match.matcher import Matcher
    from bot.match.rules import Rule

    text = "Район оцеплен, 1441-й полк покинул позиции; «дезертирв» задержан. Режим КТО введён"
    rule = Rule.from_query("r", '(оцепить OR дезертир~1) AND ((=полк NEAR/2 =й) OR "режим КТО")')
    m = Matcher([rule]).match(text)[0]
    hits = tuple((h.term, h.form, h.start, h.end, h.score, h.kind) for h in m.hits)
    plain = tl_html.parse(render_html(replace(alert(text, []), hits=hits)))[0]
    line = next(x for x in plain.splitlines() if x.startswith("matched: "))
    assert line == "matched: оцеплен ← оцепить, 1441-й, полк, дезертирв ← дезертир (typo), Режим, КТО"


def _core(token: str) -> tuple[int, int]:
    """Where the word a token shows starts and ends: its first letter or digit to its last (a mark
    on that last letter kept)."""
    lo = next(i for i, c in enumerate(token) if c.isalnum())
    hi = max(i + 1 for i, c in enumerate(token) if _ends_word(c))
    return lo, hi


# symbols (emoji, №, ₽) part words as a space does: tests/test_explain_words.py has them, and a
# hyphen (a compound), a hashtag's «_» and a full stop before a capital (two sentences) part them too
_TOKEN = st.text(st.characters(blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Sm", "Sc", "Sk", "So"),
                               blacklist_characters=_BETWEEN | set("-\u2010\u2011_")),
                 min_size=1, max_size=8).filter(lambda t: any(c.isalnum() for c in t)
                                                and not any(c == "." and n.isupper() for c, n in zip(t, t[1:])))


@given(st.lists(_TOKEN, min_size=1, max_size=8), st.data())
def test_each_hit_shows_the_whole_word_it_is_in_once(tokens: list[str], data: st.DataObject) -> None:
    # words apart by a space, or by punctuation with no space («Задержали,дезертиров», «"a","b"»)
    gaps = [" " if a[-1:].isdecimal() and b[:1].isdecimal() else data.draw(st.sampled_from(" ,—(»\"!:"))
            for a, b in zip(tokens, tokens[1:])]
    text = "".join(t + g for t, g in zip(tokens, gaps + [""]))
    starts = [sum(len(t) + 1 for t in tokens[:i]) for i in range(len(tokens))]
    hits = []
    hit = []
    for i in data.draw(st.lists(st.integers(0, len(tokens) - 1), min_size=1, max_size=4)):
        lo, hi = _core(tokens[i])
        a = data.draw(st.integers(lo, hi - 1))
        b = data.draw(st.integers(a + 1, hi))
        hits.append(("=t", "f", starts[i] + a, starts[i] + b, 1.0, "exact"))  # a hit inside token i's word
        hit.append(i)
    shown = matched_words(text, tuple(hits)).split(", ")
    words = {t[slice(*_core(t))] for t in tokens}
    expected = {tokens[i][slice(*_core(tokens[i]))].casefold() for i in hit}
    assert set(shown) <= words  # whole words of the post, never a piece of one
    assert len({w.casefold() for w in shown}) == len(shown) and {w.casefold() for w in shown} == expected


def test_a_word_after_punctuation_with_no_space_is_shown_alone() -> None:
    """«Задержали,дезертиров» is two words: the matched line (alerts, export) and the backtest's
    words per term name the word hit, never its neighbour across a comma, a dash or a quote."""
    from bot.match.explain import term_words
    from bot.match.matcher import Matcher
    from bot.match.rules import Rule

    rules = [Rule.from_query("d", "дезертир"), Rule.from_query("p", "=полк")]
    for text, rule, line in [("Задержали,дезертиров ищут", "d", "дезертиров ← дезертир"),
                             ("Мобилизованные—дезертиры", "d", "дезертиры ← дезертир"),
                             ('=HYPERLINK("http://x","дезертир")', "d", "дезертир"),
                             ('"дезертир","полк"', "p", "полк"),
                             ("Бойцы 1,5 полка дезертир", "d", "дезертир")]:
        m = next(m for m in Matcher(rules).match(text) if m.rule == rule)
        hits = tuple((h.term, h.form, h.start, h.end, h.score, h.kind) for h in m.hits)
        assert matched_words(text, hits) == line, text
        assert list(term_words(text, hits).popitem()[1]) == [line.split(" ← ")[0].casefold()]
    hit = (("=5", "5", 8, 9, 1.0, "exact"),)  # a decimal comma is inside a number
    assert matched_words("Бойцы 1,5 полка", hit) == "1,5"


@pytest.mark.parametrize("drawn", ["🇷🇺🇺🇦", "👍🏻", "👨\u200d👩\u200d👧", "и\u0306", "1\ufe0f\u20e3"])
@pytest.mark.parametrize("pad", range(4))
def test_a_line_with_no_space_is_cut_between_characters_as_drawn(drawn: str, pad: int) -> None:
    """A line with no space past 4096 units was cut inside what the reader sees as one character: a
    flag's two regional indicators (🇷 | 🇺: two letters in boxes), a family's emoji after its
    joiner (a skin tone, a mark, a keycap were kept whole already). Each part now ends between
    grapheme clusters, and the parts joined are the line."""
    line = "x" * pad + drawn * (9000 // len(add_surrogate(drawn)) + 1)
    parts = to_parts("<b>" + line + "</b>")
    assert len(parts) > 1 and all(len(add_surrogate(t)) <= MAX_LENGTH for t, _ in parts)
    assert [c for t, _ in parts for c in regex.findall(r"\X", t)] == regex.findall(r"\X", line)
