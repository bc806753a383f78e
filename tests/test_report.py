"""bot.report.stats: /stats (chart and caption), /status, the heartbeat and the silent-channel warning,
over a real store filled through the pipeline, with the clock under the test's control."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib.image
import matplotlib.text
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

import bot.pipeline
from bot.match.matcher import Matcher
from bot.match.rules import Rule
from bot.pipeline import Pipeline
from bot.post import Post, marked_id
from bot.report import (channel_activity, heartbeat_text, matches_per_day, rule_stats, stats_png, stats_text,
                        status_text)
from bot.store.db import REPLAY, Store, iso

UTC = timezone.utc
NOW = datetime(2024, 11, 20, 22, 0, tzinfo=UTC)
SINCE = datetime(2024, 11, 14, tzinfo=UTC)
WEEK = ["2024-11-14", "2024-11-15", "2024-11-16", "2024-11-17", "2024-11-18", "2024-11-19", "2024-11-20"]

MASH, HOURLY, DAILY, LIVELY, BANNED = 1117628569, 1000001, 1000002, 1000003, 1000004
TITLES = {MASH: ("Mash", "mash"), HOURLY: ("Почасовой", "hourly"), DAILY: ("Daily digest", "daily"),
          LIVELY: ("Lively", None), BANNED: ("Closed", "closed")}


def rules() -> Matcher:
    return Matcher([Rule.from_query("desertion", "дезертир"), Rule.from_query("strike", "удар")])


def post(channel: int, mid: int, when: datetime, text: str) -> Post:
    title, username = TITLES[channel]
    return Post(channel_id=channel, message_id=mid, date=when, text=text, channel_title=title, channel_username=username)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 11, day, hour, minute, tzinfo=UTC)


# Mash's matched posts: (message id, date, text); one before the period and one after `NOW`.
NEWS = [
    (10, at(13, 10), "Военная прокуратура: дезертир из Пскова сдался сам"),
    (11, at(14, 9), "В Подольске задержан дезертир из воинской части"),
    (12, at(14, 15), "Под Курском полиция ищет дезертира, сбежавшего с оружием"),
    (13, at(15, 12), "Задержан дезертир на вокзале"),  # edited below into a post that no longer matches
    (14, at(16, 23, 30), "Суд в Краснодаре вынес приговор дезертиру"),  # 02:30 on the 17th in Moscow
    (15, at(18, 6), "Ракетный удар по нефтебазе в Брянской области"),
    (16, at(20, 8), "Ещё один дезертир объявлен в розыск в Тверской области"),
    (17, at(21, 8), "Дезертир из Калуги задержан на границе"),
]


def filler() -> list[Post]:
    """Everyday posts: HOURLY every hour until noon on the 20th (silent 10 h at NOW), DAILY at noon
    every day (silent 10 h too), LIVELY every hour until 21:30 (silent 30 min), BANNED twice."""
    out: list[Post] = []
    for i in range(7 * 24 + 13):  # 00:00 on the 13th to 12:00 on the 20th
        out.append(post(HOURLY, 1000 + i, at(13, 0) + timedelta(hours=i), f"Погода {i}: ясно, без осадков"))
    for i in range(7 * 24 + 1):  # 21:30 on the 13th to 21:30 on the 20th
        out.append(post(LIVELY, 1000 + i, at(13, 21, 30) + timedelta(hours=i), f"Курс валют {i}: без изменений"))
    for i in range(11):
        out.append(post(DAILY, 100 + i, at(10, 12) + timedelta(days=i), f"Итоги дня {i}: всё спокойно"))
    out += [post(BANNED, 5, at(19, 9), "Объявление о закрытии канала"), post(BANNED, 6, at(19, 10), "До свидания")]
    return out


def feed(store: Store, posts: list[Post], mp: pytest.MonkeyPatch) -> dict[int, int]:
    """Each post through the real pipeline with the clock at its date + 30 s (so alerts' created_at
    follows the story of the test, not the wall clock); returns message id -> alert id."""
    pipe = Pipeline(store, rules())
    alerts: dict[int, int] = {}
    for p in posts:
        mp.setattr(bot.pipeline, "utcnow", lambda d=p.date: iso(d + timedelta(seconds=30)))
        for done in pipe.process([p]):
            alerts.update({done.post.message_id: a for a in done.alert_ids})
    return alerts


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, dict[int, int]]:
    store = Store(tmp_path_factory.mktemp("report") / "t.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bot.pipeline, "utcnow", lambda: iso(at(20, 23)))
        list(Pipeline(store, rules()).process(filler()))
        alerts = feed(store, [post(MASH, mid, when, text) for mid, when, text in NEWS], mp)
        feed(store, [post(MASH, 13, at(15, 12), "Задержан вор на вокзале")], mp)  # the edit: no longer a match
    assert sorted(alerts) == [10, 11, 12, 13, 14, 15, 16, 17]  # one story each
    verdicts = [(11, 1, "relevant"), (11, 2, "relevant"), (12, 1, "relevant"), (14, 1, "relevant"),
                (14, 1, "false_positive"),  # the analyst changed their mind: the latest verdict counts
                (16, 1, "relevant"), (10, 1, "false_positive")]  # 10: before the period
    for mid, user, verdict in verdicts:
        assert store.record_feedback(alerts[mid], user, verdict) in ("desertion", "strike")
    store.set_channel_status(BANNED, "banned", "CHANNEL_PRIVATE")
    return store, alerts


# -- /stats ------------------------------------------------------------------------------------------


def test_matches_per_day_has_every_day_with_zeros_by_post_date(world) -> None:
    store, _ = world
    days = matches_per_day(store, since=SINCE, now=NOW)
    assert days == {
        "desertion": dict(zip(WEEK, [2, 0, 1, 0, 0, 0, 1])),  # the 13th and 21st are outside; the 15th was edited away
        "strike": dict(zip(WEEK, [0, 0, 0, 0, 1, 0, 0])),
    }
    # A rule with nothing in the period still gets its days (the caller knows the loaded rules).
    assert matches_per_day(store, since=SINCE, now=NOW, rules=["mobilisation"])["mobilisation"] == dict.fromkeys(WEEK, 0)


def test_matches_per_day_in_a_time_zone(world) -> None:
    store, _ = world
    moscow = matches_per_day(store, since=SINCE, now=NOW, tz=ZoneInfo("Europe/Moscow"))["desertion"]
    # 23:30 UTC on the 16th is the 17th in Moscow; NOW (22:00 UTC) is already the 21st there.
    assert moscow == {"2024-11-14": 2, "2024-11-15": 0, "2024-11-16": 0, "2024-11-17": 1, "2024-11-18": 0,
                      "2024-11-19": 0, "2024-11-20": 1, "2024-11-21": 0}


def test_rule_stats_counts_alerts_and_precision_from_verdicts(world) -> None:
    store, _ = world
    stats = {s.rule: s for s in rule_stats(store, since=SINCE, now=NOW)}
    desertion, strike = stats["desertion"], stats["strike"]
    # Alerts of the period: 11, 12, 13 (raised before its edit), 14 and 16.
    assert (desertion.matches, desertion.alerts, desertion.relevant, desertion.false_positive) == (4, 5, 4, 1)
    assert desertion.precision == pytest.approx(0.8)
    assert (strike.matches, strike.alerts, strike.precision) == (1, 1, None)
    assert [s.rule for s in rule_stats(store, since=SINCE, now=NOW)] == ["desertion", "strike"]  # busiest first
    # Over the day before the period only the false positive on post 10 is left.
    before = rule_stats(store, since=at(13, 0), now=at(13, 23, 59))
    assert [(s.rule, s.matches, s.alerts, s.precision) for s in before] == [("desertion", 1, 1, 0.0)]


def test_stats_text_is_a_short_plain_caption(world) -> None:
    store, _ = world
    text = stats_text(store, since=SINCE, now=NOW)
    assert text.splitlines() == [
        "Matches per rule, 2024-11-14 00:00 – 2024-11-20 22:00 UTC",
        "5 posts matched",
        "desertion: 4 matches, 5 alerts, precision 0.80 (5 verdicts)",
        "strike: 1 match, 1 alert, no verdicts",
    ]
    assert "<" not in text and len(text) <= 1024


def test_the_stats_period_names_its_zone_as_the_chat_does(world) -> None:
    """/stats said «… Europe/Moscow» where every other reply says «MSK»; across a clock change
    each end says which time it is on."""
    store, _ = world
    moscow = stats_text(store, since=SINCE, now=NOW, tz=ZoneInfo("Europe/Moscow")).splitlines()[0]
    assert moscow == "Matches per rule, 2024-11-14 03:00 – 2024-11-21 01:00 MSK"
    berlin = stats_text(store, since=datetime(2024, 10, 21, tzinfo=UTC), now=datetime(2024, 10, 28, tzinfo=UTC),
                        tz=ZoneInfo("Europe/Berlin")).splitlines()[0]
    assert berlin == "Matches per rule, 2024-10-21 02:00 CEST – 2024-10-28 01:00 CET"


def test_stats_text_stays_within_a_caption_with_many_rules(world) -> None:
    store, _ = world
    many = [f"a_rather_long_rule_name_number_{i:02d}" for i in range(60)]
    text = stats_text(store, since=SINCE, now=NOW, rules=many)
    lines = text.splitlines()
    assert len(text) <= 1024
    assert lines[2].startswith("desertion: 4 matches")  # the busiest rules survive the cut
    more = int(lines[-1].removeprefix("… and ").split()[0])
    assert len(lines) - 3 + more == 62


def test_empty_store_says_no_matches(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    assert matches_per_day(store, since=SINCE, now=NOW) == {}
    assert rule_stats(store, since=SINCE, now=NOW) == []
    assert stats_text(store, since=SINCE, now=NOW).endswith("\nno matches")
    assert heartbeat_text(store, now=NOW, channels_watched=0) == "watching 0 channels, 0 posts, 0 alerts in 24 h"
    assert status_text(store, now=NOW).splitlines()[1:] == ["Alerts today (since 00:00 UTC): 0", "Errors: none", "Channels watched: 0"]
    assert channel_activity(store, now=NOW) == []


def test_a_period_that_ends_before_it_starts_is_refused(world) -> None:
    with pytest.raises(ValueError, match="after it ends"):
        matches_per_day(world[0], since=NOW, now=SINCE)


# -- the chart ---------------------------------------------------------------------------------------


@pytest.fixture
def chart_texts(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every text drawn on each chart rendered (titles, legend, labels), to check what it says."""
    drawn: list[list[str]] = []
    draw = FigureCanvasAgg.draw

    def spy(canvas: FigureCanvasAgg) -> None:
        drawn.append([t.get_text() for t in canvas.figure.findobj(matplotlib.text.Text) if t.get_text()])
        draw(canvas)

    monkeypatch.setattr(FigureCanvasAgg, "draw", spy)
    return drawn


def image(png: bytes):  # type: ignore[no-untyped-def]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def ink(pixels) -> float:  # type: ignore[no-untyped-def]
    """The share of pixels that are not white."""
    return float((pixels[..., :3].min(axis=-1) < 0.9).mean())


def test_stats_png_is_a_chart_of_rules_per_day_with_precision(world, chart_texts) -> None:
    store, _ = world
    png = stats_png(store, since=SINCE, now=NOW)
    pixels = image(png)
    # Opaque RGB: Telethon would re-encode an image with an alpha channel as JPEG before sending it.
    assert pixels.shape == (560, 1000, 3)
    assert 0.02 < ink(pixels) < 0.5
    assert 10_000 < len(png) < 500_000
    texts = chart_texts[0]
    assert "Posts matched per rule per day\n2024-11-14 00:00 – 2024-11-20 22:00 UTC" in texts
    assert "desertion: 4 · precision 0.80 (5 verdicts)" in texts
    assert "strike: 1 · no verdicts" in texts
    assert "no matches" not in texts
    assert stats_png(store, since=SINCE, now=NOW) == png  # the same data draw the same bytes


def test_stats_png_differs_when_the_data_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "t.db")
    feed(store, [post(MASH, 1, at(15, 9), "В Подольске задержан дезертир из воинской части")], monkeypatch)
    one = stats_png(store, since=SINCE, now=NOW)
    feed(store, [post(MASH, 2, at(17, 9), "Ракетный удар по нефтебазе в Брянской области")], monkeypatch)
    two = stats_png(store, since=SINCE, now=NOW)
    assert one != two
    assert image(one).shape == image(two).shape
    assert stats_png(store, since=SINCE, now=NOW, tz=ZoneInfo("Asia/Vladivostok")) != two


def test_stats_png_of_an_empty_store_says_no_matches(tmp_path: Path, chart_texts) -> None:
    store = Store(tmp_path / "t.db")
    png = stats_png(store, since=SINCE, now=NOW)
    assert image(png).shape[:2] == (560, 1000) and ink(image(png)) > 0.005
    assert "no matches" in chart_texts[0]
    with_rules = stats_png(store, since=SINCE, now=NOW, rules=["desertion"])
    assert "no matches" in chart_texts[1] and "desertion: 0 · no verdicts" in chart_texts[1]
    assert with_rules != png


def test_many_rules_fold_into_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chart_texts) -> None:
    store = Store(tmp_path / "t.db")
    names = [f"r{i}" for i in range(11)]
    pipe_rules = Matcher([Rule.from_query(n, "дезертир") for n in names])
    monkeypatch.setattr(bot.pipeline, "utcnow", lambda: iso(NOW))
    list(Pipeline(store, pipe_rules).process([post(MASH, 1, at(15, 9), "В Подольске задержан дезертир")]))
    stats_png(store, since=SINCE, now=NOW, max_lines=8)
    assert "other (3 rules): 3" in chart_texts[0]


def test_importing_the_report_does_not_import_matplotlib() -> None:
    code = "import sys, bot.report, bot.cli; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- channels, heartbeat, /status --------------------------------------------------------------------


def test_a_channel_that_posted_hourly_and_went_silent_is_flagged_but_a_daily_one_is_not(world) -> None:
    store, _ = world
    act = {c.id: c for c in channel_activity(store, now=NOW)}
    hourly, daily, lively = act[HOURLY], act[DAILY], act[LIVELY]
    assert hourly.silent_for == daily.silent_for == timedelta(hours=10)
    assert hourly.typical_gap == timedelta(hours=1) and hourly.silent_warning
    assert daily.typical_gap == timedelta(days=1) and not daily.silent_warning
    assert lively.silent_for == timedelta(minutes=30) and not lively.silent_warning
    assert hourly.posts_in_window == 7 * 24 - 10 and daily.posts_in_window == 7  # after 22:00 on the 13th
    assert (hourly.title, hourly.username, hourly.last_post) == ("Почасовой", "hourly", at(20, 12))
    # The warnings come first, longest silence first: BANNED posted hourly too, then stopped 36 h ago.
    assert [c.id for c in channel_activity(store, now=NOW)][:2] == [BANNED, HOURLY]
    # A stricter factor still tolerates 10 h from the hourly channel; a 6 h silence is under 6 x 1 h.
    assert not {c.id: c for c in channel_activity(store, now=NOW, factor=12)}[HOURLY].silent_warning
    assert not {c.id: c for c in channel_activity(store, now=at(20, 18))}[HOURLY].silent_warning


def test_silence_longer_than_the_window_still_warns(world) -> None:
    store, _ = world
    act = {c.id: c for c in channel_activity(store, now=NOW + timedelta(days=10))}
    assert act[HOURLY].posts_in_window == 0 and act[HOURLY].typical_gap == timedelta(hours=1)
    assert act[HOURLY].silent_warning and act[DAILY].silent_warning  # 10 days > 6 x 1 day


def test_bursts_count_as_one_post_and_short_silences_never_warn(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    posts = []
    for day in range(7):  # a burst of three posts a minute apart, once a day
        for k in range(3):
            posts.append(post(DAILY, day * 3 + k + 1, at(14 + day, 12, k), f"Альбом {day}.{k}"))
    posts += [post(LIVELY, i + 1, at(20, 21) + timedelta(minutes=6 * i), f"Лента {i}") for i in range(9)]
    list(Pipeline(store, rules()).process(posts))
    act = {c.id: c for c in channel_activity(store, now=at(20, 22, 0))}
    assert act[DAILY].typical_gap == timedelta(days=1) - timedelta(minutes=2) and not act[DAILY].silent_warning
    # Every 6 minutes, silent 12 minutes: far over 6 x its gap, but under the hour of minimum silence.
    assert act[LIVELY].typical_gap == timedelta(minutes=6) and not act[LIVELY].silent_warning
    assert {c.id: c for c in channel_activity(store, now=at(20, 23, 0))}[LIVELY].silent_warning


def test_heartbeat_counts_the_last_24_hours(world) -> None:
    store, _ = world
    posts_in_24h = sum(1 for p in filler() if NOW - timedelta(hours=24) <= p.date <= NOW) + 1  # + Mash's post 16
    assert heartbeat_text(store, now=NOW, channels_watched=4) == f"watching 4 channels, {posts_in_24h} posts, 1 alert in 24 h"
    # The next evening: post 17 (08:00 on the 21st) has alerted; the filler has gone quiet.
    assert heartbeat_text(store, now=NOW + timedelta(days=1), channels_watched=1) == "watching 1 channel, 1 post, 1 alert in 24 h"


def test_status_lists_channels_lag_alerts_today_and_errors(world) -> None:
    store, alerts = world
    before = store.db.execute("SELECT state FROM alerts WHERE id = ?", [alerts[16]]).fetchone()[0]
    store.mark_alert(alerts[16], "sent")
    try:
        text = status_text(store, now=NOW, behind={marked_id(HOURLY): 5, DAILY: 0},
                           errors=["flood wait 300 s on GetHistory"])
    finally:
        store.mark_alert(alerts[16], before)
    lines = text.splitlines()
    assert lines[:5] == [
        "tgwatch status, 2024-11-20 22:00 UTC",
        "Alerts today (since 00:00 UTC): 1 (1 sent)",
        "Errors: 2",
        "- Closed (@closed): banned (CHANNEL_PRIVATE)",
        "- flood wait 300 s on GetHistory",
    ]
    assert lines[5] == "Channels watched: 5"
    assert lines[6].startswith("- Closed (@closed): last post 2024-11-19 10:00 UTC (36 h ago), SILENT")
    assert lines[7] == ("- Почасовой (@hourly): last post 2024-11-20 12:00 UTC (10 h ago), 5 posts not stored yet, "
                        "SILENT, usually posts every 1 h")
    assert "- Daily digest (@daily): last post 2024-11-20 12:00 UTC (10 h ago), up to date" in lines
    assert "- Lively: last post 2024-11-20 21:30 UTC (30 min ago)" in lines
    assert "- Mash (@mash): last post 2024-11-20 08:00 UTC (14 h ago)" in lines
    # 01:00 in Moscow: the analysts' day began an hour ago, and post 16's alert (11:00 MSK) was yesterday's
    moscow = status_text(store, now=NOW, tz=ZoneInfo("Europe/Moscow"))
    assert moscow.startswith("tgwatch status, 2024-11-21 01:00 MSK\nAlerts today (since 00:00 MSK): 0\n")


def test_alerts_today_counts_from_midnight_in_the_analysts_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """At 02:00 in Moscow "today" counted from 03:00 MSK the day before (UTC midnight): the alert
    raised at 23:00 MSK yesterday evening was counted as today's."""
    store = Store(tmp_path / "t.db")
    feed(store, [post(MASH, 1, at(19, 20), "В Подольске задержан дезертир"),  # 23:00 MSK on the 19th
                 post(MASH, 2, at(19, 21, 30), "Ракетный удар по нефтебазе")], monkeypatch)  # 00:30 MSK on the 20th
    moscow = ZoneInfo("Europe/Moscow")
    two_am = datetime(2024, 11, 20, 2, 0, tzinfo=moscow)
    assert status_text(store, now=two_am, tz=moscow).splitlines()[1] == "Alerts today (since 00:00 MSK): 1 (1 queued)"
    # the same moment on a UTC clock: 23:00 on the 19th, both alerts are that day's
    assert status_text(store, now=two_am).splitlines()[1] == "Alerts today (since 00:00 UTC): 2 (2 queued)"


def test_muted_alerts_are_not_counted_as_alerts_today(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path / "t.db")
    alerts = feed(store, [post(MASH, 1, at(20, 9), "В Подольске задержан дезертир"),
                          post(MASH, 2, at(20, 10), "Ракетный удар по нефтебазе")], monkeypatch)
    store.mark_alert(alerts[2], "muted")
    assert status_text(store, now=NOW).splitlines()[1] == "Alerts today (since 00:00 UTC): 1 (1 queued)"
    assert heartbeat_text(store, now=NOW, channels_watched=1).endswith("2 posts, 1 alert in 24 h")
    assert [(s.rule, s.alerts) for s in rule_stats(store, since=SINCE, now=NOW)] == [("desertion", 1), ("strike", 1)]


def test_status_with_many_failing_channels_still_lists_the_channels(tmp_path: Path) -> None:
    """Telegram's reason for a private channel is 120 characters, and a channel that fails to resolve
    is reported twice (its status and the resolve error): 25 of them filled the whole message, cut
    mid-sentence, and the channel list never came."""
    store = Store(tmp_path / "t.db")
    why = ("The channel specified is private and you lack permission to access it. Another reason may be "
           "that you were banned from it")
    posts = [Post(channel_id=100 + i, message_id=1, date=NOW - timedelta(hours=i), text="Сводка", channel_title=f"Канал {i}",
                  channel_username=f"chan{i}") for i in range(40)]
    list(Pipeline(store, rules()).process(posts))
    for i in range(25):
        store.set_channel_status(100 + i, "private", why)
    lines = status_text(store, now=NOW, errors=[f"cannot watch @chan{i}: {why}" for i in range(25)]).splitlines()
    assert len("\n".join(lines)) <= 4096
    assert lines[2] == "Errors: 50" and "Channels watched: 40" in lines
    listed = [x for x in lines if x.startswith("- Канал ") and ": private (" in x] + [x for x in lines if x.startswith("- cannot")]
    more = next(x for x in lines if x.startswith("… and ") and x.endswith("more errors"))
    assert len(listed) + int(more.split()[2]) == 50
    assert lines[-1].startswith("- Канал ") or lines[-1].endswith("more channels")


def test_status_and_heartbeat_count_the_services_alerts_not_a_replays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay into the live store (its alerts printed in the terminal) is not what the chat got."""
    path = tmp_path / "live.db"
    live = Store(path)
    sent = feed(live, [post(MASH, 16, at(20, 8), NEWS[6][2])], monkeypatch)
    live.mark_alert(sent[16], "sent")
    replay = Store(path, owner=REPLAY)
    printed = feed(replay, [post(HOURLY, 5000 + i, at(20, 9 + i), f"Дезертир номер {i} задержан в Туле") for i in range(3)],
                   monkeypatch)
    for alert_id in printed.values():
        replay.mark_alert(alert_id, "sent")  # as the replay's terminal marks what it printed
    assert len(printed) == 3
    assert heartbeat_text(live, now=NOW, channels_watched=2).endswith(", 1 alert in 24 h")
    assert status_text(live, now=NOW).splitlines()[1] == "Alerts today (since 00:00 UTC): 1 (1 sent)"
