"""`rules backtest` as an analyst reads it: what it says about a rule's channel scope agrees with what
it matches (a channel a Telegram Desktop export names by its title alone is in scope by that title),
and a sample's `matched:` line lists the post's words, as alerts and exports do."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from bot.cli import cli

_ENV = {"COLUMNS": "200", "LINES": "25", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "NO_COLOR": "1"}


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=_ENV)


def store(tmp_path: Path) -> Path:
    """A real store of two channels: one known by its title alone (as an export names it), one by username."""
    posts = [
        {"channel_id": 1754252633, "channel_title": "Топор Live", "message_id": 1, "date": "2024-11-25T14:08:00Z",
         "text": "Вице-премьер Афганистана принял делегацию во главе с Шойгу"},
        {"channel_id": 1117628569, "channel_username": "mash", "channel_title": "Mash", "message_id": 2,
         "date": "2024-11-25T15:00:00Z", "text": "Шойгу прилетел в Кабул"},
    ]
    src = tmp_path / "posts.jsonl"
    src.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), encoding="utf-8")
    rules = tmp_path / "none"
    rules.mkdir()
    (rules / "x.toml").write_text('[[rule]]\nname = "x"\nquery = "дезертир"\n', encoding="utf-8")
    db = tmp_path / "t.db"
    r = run("replay", src, "--db", db, "--rules", rules, "--alerts", "none")
    assert r.exit_code == 0, r.output
    return db


def rule(tmp_path: Path, channels: str) -> Path:
    f = tmp_path / "scoped.toml"
    f.write_text(f'[[rule]]\nname = "scoped"\nquery = "Шойгу"\nchannels = {channels}\n', encoding="utf-8")
    return f


def test_a_rule_scoped_by_a_channel_title_is_not_said_to_be_unable_to_match(tmp_path: Path) -> None:
    """It said «no channel in this store is one of them: it cannot match», then matched its posts."""
    db = store(tmp_path)
    r = run("rules", "backtest", rule(tmp_path, '["Топор Live"]'), "--db", db, "--samples", "0")
    assert r.exit_code == 0, r.output
    assert "1 of 2 stored posts matched" in r.stdout
    assert "warning" not in r.stderr and "cannot match" not in r.stderr


def test_a_scope_entry_no_stored_channel_is_known_by_is_named(tmp_path: Path) -> None:
    """`@shot_shot` beside a channel the store has: the misspelt or unknown one matched nothing, silently."""
    db = store(tmp_path)
    r = run("rules", "backtest", rule(tmp_path, '["Топор Live", "@shot_shot", "mash"]'), "--db", db, "--samples", "0")
    assert r.exit_code == 0, r.output
    assert "2 of 2 stored posts matched" in r.stdout
    assert r.stderr.startswith("warning: rule 'scoped': no channel in this store is known by shot_shot (a username, "
                               "id or exact title)"), r.stderr
    assert "mash" not in r.stderr and "топор" not in r.stderr


def test_a_scope_of_unknown_channels_alone_still_cannot_match(tmp_path: Path) -> None:
    db = store(tmp_path)
    r = run("rules", "backtest", rule(tmp_path, '["@nosuch"]'), "--db", db, "--samples", "0")
    assert r.exit_code == 0, r.output
    assert "0 of 2 stored posts matched" in r.stdout
    assert "warning: rule 'scoped' watches only nosuch, and no channel in this store is one of them" in r.stderr


def test_a_samples_matched_line_lists_the_posts_words_as_alerts_do(tmp_path: Path) -> None:
    """It listed the rule's terms under the same label («matched: Шoйгу», the query's own spelling with
    a Latin «o»), where alerts and exports list the words the post has («matched: Шойгу»)."""
    db = store(tmp_path)
    f = tmp_path / "r.toml"
    f.write_text('[[rule]]\nname = "shoigu"\nquery = "Шoйгу OR премьер"\n'
                 '[[rule]]\nname = "afghan"\nquery = "Афганистан"\n', encoding="utf-8")
    r = run("rules", "backtest", f, "--db", db)
    assert r.exit_code == 0, r.output
    lines = [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("matched: ")]
    assert lines == ["matched: Шойгу",
                     "matched: afghan: Афганистана ← Афганистан; shoigu: премьер, Шойгу"], r.stdout


def test_the_progress_bar_counts_with_thousands_separators(tmp_path: Path) -> None:
    """On a terminal the bar read «1050/1200», the one count in tgwatch printed without separators."""
    posts = [{"channel_id": 1117628569, "channel_username": "mash", "message_id": i,
              "date": f"2024-11-25T{i // 60 % 24:02d}:{i % 60:02d}:00Z", "text": f"Новость номер {i} о погоде"}
             for i in range(1, 1201)]
    src = tmp_path / "posts.jsonl"
    src.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts), encoding="utf-8")
    db = tmp_path / "t.db"
    assert run("replay", src, "--db", db, "--alerts", "none").exit_code == 0
    tty = dict(_ENV, TTY_COMPATIBLE="1")
    r = CliRunner().invoke(cli, ["rules", "backtest", str(rule(tmp_path, '["mash"]')), "--db", str(db),
                                 "--samples", "0"], env=tty)
    assert r.exit_code == 0, r.output
    assert "1,200/1,200 posts" in r.stderr
