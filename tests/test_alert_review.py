"""Alerts as an analyst reads them with messy data (helper-43's review): story times in the
analysts' zone, a post edited after it matched, a hit cut by the snippet's edge, a word at the very
end of a long post, Cyrillic with combining marks. Each test asserts what the chat shows."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from telethon.extensions import html as tl_html
from telethon.helpers import add_surrogate
from telethon.tl.types import MessageEntityBold

from bot.alert.html import render_html
from bot.alert.outbox import deliver_queued, load_alert
from bot.alert.sinks import TerminalSink
from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .test_alert_html import alert

MOSCOW = ZoneInfo("Europe/Moscow")


def shown(markup: str) -> tuple[str, list[str]]:
    """What the chat shows: the plain text and the bold pieces of it."""
    plain, entities = tl_html.parse(markup)
    u16 = add_surrogate(plain)
    bold = [u16[e.offset:e.offset + e.length] for e in entities if isinstance(e, MessageEntityBold)]
    return plain, bold


def line(plain: str, prefix: str) -> str:
    return next(x for x in plain.splitlines() if x.startswith(prefix))


def hits_of(rule: str, text: str) -> tuple[tuple[str, str, int, int, float, str], ...]:
    m = Matcher([Rule.from_query("r", rule)]).match(text)[0]
    return tuple((h.term, h.form, h.start, h.end, h.score, h.kind) for h in m.hits)


# -- the story line --------------------------------------------------------------------------------


def test_story_times_are_in_the_analysts_zone_with_the_day_when_it_differs() -> None:
    """The header says 00:06 MSK: the story line must not say the first post came at 20:58 (UTC)."""
    story = (("SHOT", "2024-11-20T20:58:00+00:00", "l1"), ("Mash", "2024-11-20T21:06:00+00:00", "l2"),
             ("Topor", "2024-11-20T21:09:00+00:00", "l3"))
    a = alert("дезертир", [(0, 8)], channel_title="Mash", date="2024-11-20T21:06:00+00:00", story_size=3, story=story)
    plain, _ = shown(render_html(a, MOSCOW))
    assert line(plain, "Mash · ") == "Mash · 2024-11-21 00:06 MSK"
    assert line(plain, "story #") == "story #3 (3 posts): first: SHOT 20.11 23:58; also Mash 00:06, Topor 00:09"
    # Across the spring DST change in Kyiv (03:00 EET -> 04:00 EEST) each time keeps its own offset.
    spring = (("A", "2024-03-31T00:30:00+00:00", "l1"), ("B", "2024-03-31T01:30:00+00:00", "l2"))
    b = alert("дезертир", [(0, 8)], channel_title="A", date=spring[0][1], story_size=2, story=spring)
    assert line(shown(render_html(b, ZoneInfo("Europe/Kyiv")))[0], "story #").endswith("first: A 02:30; also B 04:30")


def test_the_terminal_story_line_is_in_utc_as_its_header_and_names_the_day_across_midnight() -> None:
    story = (("SHOT", "2024-11-20T23:58:00+00:00", "l1"), ("Mash", "2024-11-21T00:06:00+00:00", "l2"))
    a = alert("дезертир", [(0, 8)], channel_title="Mash", date=story[1][1], story_size=2, story=story)
    sink = TerminalSink()
    with sink.console.capture() as out:
        sink.send(a)
    assert "2024-11-21 00:06 UTC" in out.get()
    assert "first: SHOT 20.11 23:58; also Mash 00:06" in out.get()


# -- a post edited after it matched ----------------------------------------------------------------


def test_an_alert_whose_post_lost_the_matched_words_in_an_edit_says_so(tmp_path: Path) -> None:
    """SHOT's post alerted, then SHOT edited the word out; Mash forwarding the first version grows
    the story, so the sent alert is edited. It must not bold other words, nor call them the match."""
    store = Store(tmp_path / "t.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("desertion", "дезертир")]))
    t = datetime(2024, 11, 20, 9, 4, tzinfo=timezone.utc)
    first = "В Подольске задержан дезертир из воинской части"
    list(pipe.process([Post(channel_id=1, message_id=1, date=t, text=first, channel_title="SHOT", channel_username="shot")]))
    edited = "Уточнение: в Подольске задержан вор, а не беглец"
    list(pipe.process([Post(channel_id=1, message_id=1, date=t, edit_date=t + timedelta(minutes=5), text=edited,
                            channel_title="SHOT", channel_username="shot")]))
    list(pipe.process([Post(channel_id=2, message_id=7, date=t + timedelta(minutes=9), text=first, channel_title="Mash",
                            channel_username="mash", forward_channel_id=1, forward_post_id=1)]))
    a = load_alert(store, 1, update=True)
    assert a is not None and a.story_size == 2
    plain, bold = shown(render_html(a))
    assert edited in plain and bold == ["desertion"]  # the rule title only: nothing in the post
    assert line(plain, "matched: ") == "matched: дезертир (edited out)"


def test_words_still_in_an_edited_post_stay_bold_beside_the_ones_edited_out() -> None:
    before = "Режим КТО: задержан дезертира"
    hits = hits_of('"режим КТО" AND дезертир', before)
    a = replace(alert("", []), text="Режим КТО: задержан вор", hits=hits)  # the edit kept the phrase
    plain, bold = shown(render_html(a))
    assert bold[1:] == ["Режим", "КТО"]
    assert line(plain, "matched: ") == "matched: Режим, КТО, дезертира ← дезертир (edited out)"


# -- the snippet -----------------------------------------------------------------------------------


def test_a_long_link_that_matched_is_bold_as_far_as_the_snippet_shows_it() -> None:
    text = "Подробнее: https://t.me/baza/" + "x" * 600 + " — источник"
    a = replace(alert("", []), text=text, hits=hits_of("url:baza", text))
    plain, bold = shown(render_html(a))
    assert len(bold) == 2 and bold[1].startswith("https://t.me/baza/xxx")  # bold up to the "…" that cuts it
    assert line(plain, "Подробнее").endswith(bold[1] + "…")


def test_a_word_at_the_very_end_of_a_long_post_comes_with_as_much_context_as_one_in_the_middle() -> None:
    body = " ".join(f"слово{i}" for i in range(600))  # about 4,500 characters
    middle = body[:2000] + " дезертир " + body[2000:]
    end = body + " дезертир"
    lengths = []
    for text in (middle, end):
        s = text.index("дезертир")
        plain, bold = shown(render_html(alert(text, [(s, s + 8)])))
        body_line = plain.splitlines()[3]
        assert "дезертир" in bold
        lengths.append(len(body_line))
    assert lengths[1] >= lengths[0] - 25  # before: a third of the snippet, the rest left empty


def test_a_hit_keeps_the_combining_marks_of_its_last_letter() -> None:
    """«воинской» typed with й as и + U+0306 (as macOS and PDFs copy it): the bold must not stop
    between the letter and its breve, which Telegram then draws apart."""
    text = "Сбежал из воинскои\u0306 части под Курском"
    a = replace(alert("", []), text=text, hits=hits_of("воинская", text))
    assert shown(render_html(a))[1][1:] == ["воинскои\u0306"]


def test_a_long_matched_link_is_cut_on_the_matched_line() -> None:
    from bot.match.explain import matched_words

    url = "https://t.me/baza/" + "x" * 200
    line = matched_words(f"Источник: {url}", (("url:t.me/baza", url, 10, 10 + len(url), 1.0, "url"),))
    assert line == url[:59] + "… ← url:t.me/baza"


def test_the_terminal_update_says_when_the_channel_deleted_the_alerted_post(tmp_path: Path) -> None:
    """The chat's alert gains «🗑 deleted by the channel at 10:00»; the terminal's update line showed
    only the story line, which for a story of one post marks nothing: «UPDATE … first: SHOT 09:04»
    told the analyst nothing had changed."""
    store = Store(tmp_path / "t.db")
    pipe = Pipeline(store, Matcher([Rule.from_query("desertion", "дезертир")]))
    t = datetime(2024, 11, 20, 9, 4, tzinfo=timezone.utc)
    list(pipe.process([Post(channel_id=1, message_id=1, date=t, text="В Подольске задержан дезертир",
                            channel_title="SHOT", channel_username="shot")]))
    sink = TerminalSink()
    with sink.console.capture():
        assert deliver_queued(store, sink) == 1
    assert store.mark_deleted(1, [1], "2024-11-20T10:00:00+00:00") == [1]
    with sink.console.capture() as out:
        assert deliver_queued(store, sink) == 1
    assert out.get().strip() == ("UPDATE [desertion] story #1: first: SHOT 09:04 · 🗑 deleted by the channel at 10:00: "
                                 "https://t.me/shot/1")
    store.close()
