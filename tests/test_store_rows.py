"""The posts row's hand-built parts (`entities_json`, `iso`) are what json and datetime would write."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.post import Entity, Post
from bot.store.db import Store, entities_json, iso

ENTITIES = st.lists(st.builds(Entity, st.text(max_size=8), st.integers(0, 2**40), st.integers(0, 2**40),
                              st.none() | st.text(max_size=12)), min_size=1, max_size=5)
DATES = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30),
                     timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5, minutes=-30))]))


@settings(max_examples=200, deadline=None)
@given(ENTITIES)
def test_entities_are_stored_as_json_writes_them(entities: list[Entity]) -> None:
    # quotes, backslashes, control characters, Cyrillic and lone surrogates in a type or URL included
    assert entities_json(entities) == json.dumps([[e.type, e.offset, e.length, e.url] for e in entities], ensure_ascii=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(DATES, min_size=1, max_size=6), st.lists(st.integers(0, 5), max_size=12))
def test_iso_of_dates_asked_again_and_in_turn(dates: list[datetime], order: list[int]) -> None:
    for dt in [dates[i % len(dates)] for i in order] + dates:
        assert iso(dt) == dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def test_a_stored_post_keeps_its_entities_and_dates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store(tmp_path / "s.db")
    date = datetime(2024, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=3)))
    entities = (Entity("text_link", 0, 4, 'https://x.ru/?q="a"\\b'), Entity("bold", 5, 3), Entity("тип", 2, 1, "ёж\u2028"))
    post = Post(-1001, 7, date, "Тест «x» bold", channel_title="C", entities=entities, edit_date=date + timedelta(hours=1))
    with store.transaction():
        store.write_post(post, store.new_story(post), now="2024-03-02T00:00:00+00:00")
    row = store.db.execute("SELECT entities, date, edit_date FROM posts WHERE message_id = 7").fetchone()
    assert json.loads(row[0]) == [["text_link", 0, 4, 'https://x.ru/?q="a"\\b'], ["bold", 5, 3, None], ["тип", 2, 1, "ёж\u2028"]]
    assert row[1:] == ("2024-03-01T06:30:00+00:00", "2024-03-01T07:30:00+00:00")
    store.close()
