"""Review 169: the numbers an analyst is shown agree with the store and with each other.

Each test builds a small store from JSON Lines written here, with two rules of its own, and reads
the counts the commands print against what the store (or another face) holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from datetime import datetime, timezone

from click.testing import CliRunner, Result

from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import REPLAY, Store

RULES = """\
[[rule]]
name = "alpha"
title = "Alpha"
severity = "high"
query = "дезертир"

[[rule]]
name = "beta"
title = "Beta"
severity = "high"
query = "самоволка OR неизвестноеслово"
"""

REPORT = "Военнослужащий дезертир ушёл в самоволку из части под Курском вчера вечером"
TITLES = {1: "Chan One", 2: "Chan Two", 3: "Chan Three"}


def run(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "t.toml").write_text(RULES, encoding="utf-8")
    return folder


def post(channel: int, message: int, date: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"channel_id": channel, "message_id": message, "date": date, "text": text,
            "channel_title": TITLES[channel], **extra}


def jsonl(path: Path, *posts: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), encoding="utf-8")
    return path


def row(output: str, label: str) -> str:
    """The value of a row of replay's summary table (`matched alpha   2` -> `2`)."""
    m = re.search(rf"^{re.escape(label)}\s+(.+?)\s*$", output, re.M)
    assert m, output
    return m.group(1)


def test_a_post_matched_in_both_its_versions_counts_once_in_the_replay_summary(tmp_path: Path) -> None:
    """A post read twice in one input (as posted, then edited, the rule's word in both) is one
    matched post: export --rule, backtest and stats say 1; the summary said `matched alpha 2`."""
    src = jsonl(tmp_path / "in.jsonl",
                post(1, 3, "2024-11-03T10:00:00Z", "Задержан дезертир на вокзале в Твери"),
                post(1, 3, "2024-11-03T10:00:00Z", "Задержан дезертир на вокзале в Твери, он сбежал из части в августе",
                     edit_date="2024-11-03T10:30:00Z"))
    db = tmp_path / "t.db"
    r = run("replay", src, "--rules", rules(tmp_path), "--db", db, "--alerts", "none")
    assert r.exit_code == 0, r.output
    exported = run("export", "--db", db, "--rule", "alpha", "--format", "jsonl")
    assert exported.exit_code == 0 and len(exported.stdout.splitlines()) == 1, exported.output
    assert row(r.stdout, "new") == "1" and row(r.stdout, "edited") == "1"
    assert row(r.stdout, "matched alpha") == "1", r.stdout


def test_a_post_edited_so_its_rule_no_longer_matches_is_not_counted_matched(tmp_path: Path) -> None:
    """Two posts read, one then edited in the same input so alpha no longer matches it: the store,
    export --rule and stats hold 1 alpha post, and the summary's own `no longer matching` row says
    the other's alert was muted for it, yet `matched alpha` said 2."""
    src = jsonl(tmp_path / "in.jsonl",
                post(1, 3, "2024-11-03T10:00:00Z", "Задержан дезертир на вокзале в Твери"),
                post(2, 8, "2024-11-03T11:00:00Z", "Другая тема: дезертир из Самары"),
                post(1, 3, "2024-11-03T10:00:00Z", "Задержан мужчина на вокзале в Твери", edit_date="2024-11-03T10:30:00Z"))
    db = tmp_path / "t.db"
    r = run("replay", src, "--rules", rules(tmp_path), "--db", db, "--alerts", tmp_path / "alerts.jsonl")
    assert r.exit_code == 0, r.output
    assert row(r.stdout, "no longer matching").startswith("1 alert not shown (alpha)"), r.stdout
    exported = run("export", "--db", db, "--rule", "alpha", "--format", "jsonl")
    assert exported.exit_code == 0 and [json.loads(x)["message_id"] for x in exported.stdout.splitlines()] == [8]
    assert row(r.stdout, "matched alpha") == "1", r.stdout


def test_an_earlier_runs_alert_shown_beside_a_dropped_one_is_said_to_be_from_earlier(tmp_path: Path) -> None:
    """A run stopped before showing an alert leaves it queued; the next replay shows it and says
    `from earlier runs  1`. When that replay's own one alert is dropped (its post edited so the rule
    no longer matches it), the row was missing: `new alerts 1`, `no longer matching 1 alert not
    shown`, and one alert printed that the summary accounts for nowhere (shown - new alerts counted
    the dropped alert as shown)."""
    db, folder = tmp_path / "t.db", rules(tmp_path)
    store = Store(db, owner=REPLAY)  # a replay stopped after storing, before showing (as test_replay does)
    list(Pipeline(store, Matcher(load_rules(folder))).process(
        [Post(900, 1, datetime(2024, 11, 25, tzinfo=timezone.utc), "В Ростове задержан дезертир из части")]))
    store.close()
    src = jsonl(tmp_path / "in.jsonl",
                post(1, 3, "2024-11-03T10:00:00Z", "Задержан дезертир на вокзале в Твери"),
                post(1, 3, "2024-11-03T10:00:00Z", "Задержан мужчина на вокзале в Твери", edit_date="2024-11-03T10:30:00Z"))
    r = run("replay", src, "--rules", folder, "--db", db)
    assert r.exit_code == 0, r.output
    shown = [x for x in r.stdout.splitlines() if x.strip().startswith("HIGH")]
    assert len(shown) == 1 and "https://t.me/c/900/1" in r.stdout, r.stdout  # the earlier run's alert, and it alone
    assert row(r.stdout, "no longer matching").startswith("1 alert not shown"), r.stdout
    assert row(r.stdout, "from earlier runs").startswith("1 (queued, not shown until now)"), r.stdout


def test_a_second_store_replayed_into_the_same_alerts_file_gets_every_alert_it_counts(tmp_path: Path) -> None:
    """`--alerts FILE.jsonl` appends one line per alert: a replay into a new store (a scratch copy,
    a second team's) says `new alerts 2` and the file must grow by 2. The guard against writing a
    stopped run's last line twice compares alert ids, which a new store numbers from 1 again, so
    the second store's last alert (same id, rule, post) was dropped: the file grew by 1."""
    src = jsonl(tmp_path / "in.jsonl", post(1, 1, "2024-11-01T23:30:00Z", REPORT))
    alerts = tmp_path / "alerts.jsonl"
    folder = rules(tmp_path)
    for n, db in enumerate(("one.db", "two.db"), 1):
        r = run("replay", src, "--rules", folder, "--db", tmp_path / db, "--alerts", alerts)
        assert r.exit_code == 0, r.output
        assert row(r.stdout, "new alerts") == "2", r.stdout
        lines = [json.loads(x) for x in alerts.read_text(encoding="utf-8").splitlines()]
        assert len(lines) == 2 * n, lines
    assert sorted(x["rule"] for x in lines) == ["alpha", "alpha", "beta", "beta"]


def test_one_forward_is_named_in_the_singular_in_the_replay_summary(tmp_path: Path) -> None:
    """`joined a story  2 (1 forwards, 1 same text, 0 reworded)`: one forward is `1 forward`, as
    the summary's other counts say `1 service message`, `1 error`."""
    src = jsonl(tmp_path / "in.jsonl",
                post(1, 1, "2024-11-01T23:30:00Z", REPORT),
                post(2, 5, "2024-11-01T23:40:00Z", REPORT, forward_channel_id=1, forward_post_id=1),
                post(3, 7, "2024-11-02T00:20:00Z", REPORT))
    r = run("replay", src, "--rules", rules(tmp_path), "--db", tmp_path / "t.db", "--alerts", "none")
    assert r.exit_code == 0, r.output
    joined = row(r.stdout, "joined a story")
    assert joined.startswith("2 ("), joined  # the counts themselves are right: one forward, one copy
    assert "1 forward," in joined and "forwards" not in joined, joined


def backtest_one_hit(tmp_path: Path) -> Result:
    """`rules backtest beta --samples 1` over a store of one post beta matches with one of its two terms."""
    src = jsonl(tmp_path / "in.jsonl", post(1, 1, "2024-11-01T23:30:00Z", REPORT))
    db, folder = tmp_path / "t.db", rules(tmp_path)
    assert run("replay", src, "--rules", folder, "--db", db, "--alerts", "none").exit_code == 0
    r = run("rules", "backtest", "beta", "--rules", folder, "--db", db, "--samples", "1")
    assert r.exit_code == 0, r.output
    assert re.search(r"^1 of 1 stored posts? matched", r.stdout, re.M), r.stdout  # the count itself is right
    return r


def test_backtest_heads_one_sample_latest_1_hit(tmp_path: Path) -> None:
    """With one sample the heading said `latest 1 hits`."""
    r = backtest_one_hit(tmp_path)
    assert re.search(r"^latest 1 hit$", r.stdout, re.M), r.stdout


def test_backtest_names_one_idle_term_in_the_singular(tmp_path: Path) -> None:
    """One term that caught nothing said `1 terms hit nothing: неизвестноеслово`."""
    r = backtest_one_hit(tmp_path)
    assert re.search(r"^1 term hit nothing: неизвестноеслово$", r.stdout, re.M), r.stdout


def test_the_summary_remembers_a_bounded_number_of_matched_posts(monkeypatch: Any) -> None:
    """The live service's pipeline keeps one Summary for months: the posts it remembers (to count a
    post and its edit once) stay bounded; an edit of a post it forgot counts as a post of its own."""
    from bot.match.matcher import Match
    from bot.pipeline import Processed, Summary

    monkeypatch.setattr(Summary, "REMEMBERED", 3)
    when = datetime(2024, 11, 1, 10, tzinfo=timezone.utc)
    s = Summary()
    match = Match("alpha", "Alpha", "high", ())
    for i in range(1, 6):
        s.add(Processed(Post(channel_id=1, message_id=i, date=when, text="x"), "new", 1, [match], [], []))
    assert len(s._matched) == 3 and s.matches["alpha"] == 5
    s.add(Processed(Post(channel_id=1, message_id=5, date=when, text="y"), "edited", 1, [], [], []))
    assert s.matches["alpha"] == 4  # a remembered post edited out of the rule is taken back
