"""An alert shows the post it was raised for (helper-156's review): no alert's hits ever point at
characters of another text than the one it quotes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.alert.outbox import Alert
from bot.alert.sinks import JsonlSink

CHANNEL = 1700000001


def shown(path: Path) -> list[dict[str, Any]]:
    """The alert lines of a JSON Lines alerts file (no update lines)."""
    if not path.exists():
        return []
    recs = [json.loads(s) for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
    return [r for r in recs if not r.get("update")]


def assert_hits_in_text(recs: list[dict[str, Any]]) -> None:
    for r in recs:
        for h in r["hits"]:
            assert r["text"][h["start"]:h["end"]] == h["form"], f"hit {h} is not in the text it quotes: {r['text']!r}"


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
