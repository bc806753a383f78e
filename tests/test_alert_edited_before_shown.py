"""An alert shows the post it was raised for (helper-156's review): a post edited before its alert is
shown (later in the same input, in another file of the run, or by a later replay of an alert a stopped
run left queued) so that its rule no longer matches it is shown nowhere, recorded muted as the live
sender mutes one it held back (`bot.live.retired`); and no alert's hits ever point at characters of
another text than the one it quotes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import bot.cli.replay as replay_cli
from bot.alert.outbox import NO_MATCH, Alert
from bot.alert.sinks import JsonlSink
from bot.cli import cli

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = 1700000001
MATCHED = "Срочник дезертир"
WEATHER = "Пост о погоде"
MOVED = "Пост о погоде. Ещё: срочник дезертир"  # matches again, the word further on


def line(message_id: int, text: str, edit_date: str | None = None) -> str:
    post: dict[str, Any] = {"channel_id": CHANNEL, "channel_title": "Сводка 24", "message_id": message_id,
                            "date": f"2024-11-20T09:0{message_id}:00Z", "text": text}
    if edit_date:
        post["edit_date"] = edit_date
    return json.dumps(post, ensure_ascii=False) + "\n"


def write(path: Path, *lines: str) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def replay(tmp_path: Path, *paths: Path, alerts: str, rules: Path = ROOT / "rules") -> Result:
    return CliRunner().invoke(cli, ["replay", *map(str, paths), "--db", str(tmp_path / "s.db"), "--rules", str(rules),
                                    "--alerts", alerts])


def shown(path: Path) -> list[dict[str, Any]]:
    """The alert lines of a JSON Lines alerts file (no update lines)."""
    if not path.exists():
        return []
    recs = [json.loads(s) for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
    return [r for r in recs if not r.get("update")]


def alert_states(tmp_path: Path) -> list[tuple[int, str, str | None]]:
    with sqlite3.connect(tmp_path / "s.db") as c:
        return list(c.execute("SELECT message_id, state, error FROM alerts ORDER BY id"))


def assert_hits_in_text(recs: list[dict[str, Any]]) -> None:
    for r in recs:
        for h in r["hits"]:
            assert r["text"][h["start"]:h["end"]] == h["form"], f"hit {h} is not in the text it quotes: {r['text']!r}"


def test_a_post_edited_later_in_the_same_file_to_no_longer_match_is_not_alerted(tmp_path: Path) -> None:
    """The review's case: the alert line quoted «Пост о погоде» with a hit on «дезертир» at 8–16."""
    src = write(tmp_path / "posts.jsonl", line(1, "Обычный пост"), line(2, MATCHED),
                line(2, WEATHER, "2024-11-20T11:00:00Z"))
    r = replay(tmp_path, src, alerts=str(tmp_path / "a.jsonl"))
    assert r.exit_code == 0, r.output
    assert shown(tmp_path / "a.jsonl") == []
    assert "no longer matching  1 alert not shown (desertion)" in r.output
    assert alert_states(tmp_path) == [(2, "muted", NO_MATCH)]
    # a second replay of the same file shows nothing either, and says nothing was dropped now
    r = replay(tmp_path, src, alerts=str(tmp_path / "a.jsonl"))
    assert r.exit_code == 0 and shown(tmp_path / "a.jsonl") == [] and "no longer matching" not in r.output, r.output


def test_the_terminal_shows_no_alert_for_a_post_edited_to_no_longer_match(tmp_path: Path) -> None:
    src = write(tmp_path / "posts.jsonl", line(2, MATCHED), line(2, WEATHER, "2024-11-20T11:00:00Z"))
    r = replay(tmp_path, src, alerts="terminal")
    assert r.exit_code == 0, r.output
    assert "HIGH" not in r.output and WEATHER not in r.output and "edited out" not in r.output, r.output
    assert "no longer matching  1 alert not shown (desertion)" in r.output


def test_an_edit_in_another_file_of_the_same_run_is_what_the_alert_is_judged_by(tmp_path: Path) -> None:
    first = write(tmp_path / "a.jsonl", line(1, "Обычный пост"), line(2, MATCHED))
    edit = write(tmp_path / "b.jsonl", line(2, WEATHER, "2024-11-20T11:00:00Z"))
    r = replay(tmp_path, first, edit, alerts=str(tmp_path / "out.jsonl"))
    assert r.exit_code == 0, r.output
    assert shown(tmp_path / "out.jsonl") == [] and alert_states(tmp_path) == [(2, "muted", NO_MATCH)]


def test_a_post_edited_but_still_matching_is_shown_as_it_is_now_with_its_hits_in_that_text(tmp_path: Path) -> None:
    """Edited away and back, the word elsewhere: one alert, quoting the last text, its hit on the word there."""
    src = write(tmp_path / "posts.jsonl", line(2, MATCHED), line(2, WEATHER, "2024-11-20T10:00:00Z"),
                line(2, MOVED, "2024-11-20T11:00:00Z"))
    r = replay(tmp_path, src, alerts=str(tmp_path / "a.jsonl"))
    assert r.exit_code == 0, r.output
    recs = shown(tmp_path / "a.jsonl")
    assert [(x["message_id"], x["text"]) for x in recs] == [(2, MOVED)]
    assert [MOVED[h["start"]:h["end"]] for h in recs[0]["hits"]] == ["дезертир"]
    assert "no longer matching" not in r.output


def test_a_story_whose_alerted_post_is_edited_away_alerts_with_another_channels_report(tmp_path: Path) -> None:
    """The event still stands in the other channel's copy: the story's one alert quotes that post,
    rather than the edited one (wrong text) or none (the event lost)."""
    copy = json.dumps({"channel_id": CHANNEL + 1, "channel_title": "Другой канал", "message_id": 7,
                       "date": "2024-11-20T09:03:00Z", "text": MATCHED}, ensure_ascii=False) + "\n"
    src = write(tmp_path / "posts.jsonl", line(2, MATCHED), copy, line(2, WEATHER, "2024-11-20T11:00:00Z"))
    r = replay(tmp_path, src, alerts=str(tmp_path / "a.jsonl"))
    assert r.exit_code == 0, r.output
    recs = shown(tmp_path / "a.jsonl")
    assert [(x["channel_id"], x["message_id"], x["text"], x["story_size"]) for x in recs] == [(CHANNEL + 1, 7, MATCHED, 2)]
    assert_hits_in_text(recs)
    assert alert_states(tmp_path) == [(7, "sent", None)] and "no longer matching" not in r.output


@pytest.fixture
def stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store whose first replay stored post 2 and queued its alert, then was stopped (Ctrl-C)
    before showing it."""
    src = write(tmp_path / "first.jsonl", line(2, MATCHED))

    def interrupted(*a: Any, **kw: Any) -> int:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(replay_cli, "deliver_queued", interrupted)
        r = replay(tmp_path, src, alerts=str(tmp_path / "a.jsonl"))
    assert r.exit_code != 0 and "interrupted" in r.output, r.output
    assert alert_states(tmp_path) == [(2, "queued", None)]
    return tmp_path


@pytest.mark.parametrize("sink", ["file", "terminal"])
def test_an_earlier_runs_queued_alert_whose_post_a_later_replay_edits_away_is_not_shown(stopped: Path, sink: str) -> None:
    edit = write(stopped / "edit.jsonl", line(2, WEATHER, "2024-11-20T11:00:00Z"))
    r = replay(stopped, edit, alerts=str(stopped / "a.jsonl") if sink == "file" else "terminal")
    assert r.exit_code == 0, r.output
    assert shown(stopped / "a.jsonl") == [] and WEATHER not in r.output, r.output
    assert "no longer matching  1 alert not shown (desertion)" in r.output
    assert alert_states(stopped) == [(2, "muted", NO_MATCH)]


def test_an_earlier_runs_queued_alert_whose_post_still_matches_is_shown(stopped: Path) -> None:
    """The check mutes only what no longer matches: the stopped run's alert goes out with the next replay."""
    other = write(stopped / "other.jsonl", line(3, "Обычный пост"))
    r = replay(stopped, other, alerts=str(stopped / "a.jsonl"))
    assert r.exit_code == 0, r.output
    assert [x["text"] for x in shown(stopped / "a.jsonl")] == [MATCHED] and "from earlier runs  1" in r.output


def test_the_alerts_file_gives_only_hits_that_are_in_the_text_it_quotes(tmp_path: Path) -> None:
    """A stored match older than the post's text (an edit stored while the rule was out of use, before
    its catch-up) gives a hit where the text now has other words: the terminal and the chat bold only
    what is there (`Alert.live_hits`); the file's `hits` are offsets into its `text`, the same ones."""
    text = "Дезертир задержан. Пост о погоде"
    alert = Alert(id=1, rule="desertion", title="desertion", severity="high", channel_id=CHANNEL, channel_title="Сводка 24",
                  username=None, message_id=2, link=f"https://t.me/c/{CHANNEL}/2", date="2024-11-20T09:02:00+00:00",
                  text=text, hits=(("дезертир", "дезертир", 8, 16, 1.0, "form"),  # where «дезертир» stood before
                                   ("дезертир", "Дезертир", 0, 8, 1.0, "form")),
                  story_id=1, story_size=1)
    sink = JsonlSink(tmp_path / "a.jsonl")
    sink.send(alert)
    sink.close()
    recs = shown(tmp_path / "a.jsonl")
    assert_hits_in_text(recs)
    assert [(h["start"], h["end"]) for h in recs[0]["hits"]] == [(0, 8)]


def test_the_other_report_is_found_past_a_big_storys_first_200_posts(tmp_path: Path) -> None:
    """200 posts of the story without the rule's word stand between the edited post and the other
    channel's report of the event: the alert still quotes that report (it looked at 200 posts only)."""
    def post(channel: int, message_id: int, second: int, text: str, edit_date: str | None = None) -> str:
        d: dict[str, Any] = {"channel_id": channel, "channel_title": f"Канал {channel}", "message_id": message_id,
                             "date": f"2024-11-20T09:{second // 60:02d}:{second % 60:02d}Z", "text": text}
        return json.dumps(d | ({"edit_date": edit_date} if edit_date else {}), ensure_ascii=False) + "\n"

    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "desertion.toml").write_text('[[rule]]\nname = "desertion"\ntitle = "Desertion"\nseverity = "high"\n'
                                          'query = "дезертир"\n', encoding="utf-8")
    report = "В Краснодаре задержали троих дезертиров, сбежавших из воинской части"
    filler = "В Краснодаре задержали троих военных, сбежавших из воинской части"
    src = write(tmp_path / "posts.jsonl", post(CHANNEL, 1, 0, report),
                *(post(CHANNEL + 1, i, i, filler) for i in range(1, 201)), post(CHANNEL + 2, 9, 300, report),
                post(CHANNEL, 1, 0, filler, "2024-11-20T11:00:00Z"))
    r = replay(tmp_path, src, alerts=str(tmp_path / "a.jsonl"), rules=rules)
    assert r.exit_code == 0, r.output
    recs = shown(tmp_path / "a.jsonl")
    assert [(x["channel_id"], x["message_id"], x["story_size"]) for x in recs] == [(CHANNEL + 2, 9, 202)]
    assert_hits_in_text(recs)
    assert "no longer matching" not in r.output
