"""A rule added, fixed or changed after a replay is matched against the posts already stored: the
next `tgwatch replay` catches it up (bot/rematch.py), on a real SQLite file per test."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.match.matcher import Matcher
from bot.match.rules import load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "export"


def replay(rules: Path, db: Path, *extra: str) -> Result:
    result = CliRunner().invoke(cli, ["replay", str(SAMPLE), "--rules", str(rules), "--db", str(db), "--alerts", "none", *extra])
    assert result.exit_code == 0, result.output
    return result


def rows(db: Path, sql: str) -> set[tuple[Any, ...]]:
    with sqlite3.connect(db) as c:
        return set(c.execute(sql).fetchall())


def current_matches(db: Path, rule: str) -> set[tuple[Any, ...]]:
    return rows(db, f"SELECT channel_id, message_id FROM matches WHERE rule = '{rule}' AND current = 1")


def alerts(db: Path, rule: str) -> set[tuple[Any, ...]]:
    return rows(db, f"SELECT p.channel_id, p.message_id FROM alerts a JOIN posts p ON p.channel_id = a.channel_id "
                    f"AND p.message_id = a.message_id WHERE a.rule = '{rule}'")


def rules_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    return folder


def again_line(result: Result, rule: str) -> str | None:
    """The summary's «matched RULE again» row, with the lines it wraps onto."""
    lines = result.output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"matched {rule} again"):
            row = [line.strip()]
            for more in lines[i + 1:]:
                if not more.startswith(" "):
                    break
                row.append(more.strip())
            return " ".join(row)
    return None


def test_a_rule_fixed_after_a_replay_matches_the_stored_posts_as_a_fresh_replay_would(tmp_path: Path) -> None:
    rules = rules_copy(tmp_path)
    good = (rules / "lockdown.toml").read_text(encoding="utf-8")
    (rules / "lockdown.toml").write_text(good.replace("query = '''\n", "query = '''\n(", 1), encoding="utf-8")
    first = replay(rules, tmp_path / "a.db")
    assert "lockdown.toml" in first.output and not current_matches(tmp_path / "a.db", "lockdown")

    (rules / "lockdown.toml").write_text(good, encoding="utf-8")
    fixed = replay(rules, tmp_path / "a.db")
    fresh = replay(rules, tmp_path / "fresh.db")
    assert current_matches(tmp_path / "a.db", "lockdown") == current_matches(tmp_path / "fresh.db", "lockdown") != set()
    assert alerts(tmp_path / "a.db", "lockdown") == alerts(tmp_path / "fresh.db", "lockdown") != set()
    line = again_line(fixed, "lockdown")
    assert line is not None and "63 stored posts (a rule new to this store)" in line and "new alert" in line
    assert again_line(fixed, "desertion") is None  # the rules it had are not matched again
    assert again_line(fresh, "lockdown") is None

    third = replay(rules, tmp_path / "a.db")
    assert again_line(third, "lockdown") is None  # caught up once, then covered


def test_a_narrowed_rule_drops_the_matches_it_no_longer_makes_and_alerts_nothing_twice(tmp_path: Path) -> None:
    rules = rules_copy(tmp_path)
    db = tmp_path / "a.db"
    replay(rules, db)
    before, alerted = current_matches(db, "lockdown"), alerts(db, "lockdown")
    text = (rules / "lockdown.toml").read_text(encoding="utf-8")
    (rules / "lockdown.toml").write_text(text.replace("query = '''\n", "query = '''\nКТО AND (\n", 1)
                                         .replace("\n'''", "\n)\n'''", 1), encoding="utf-8")
    narrowed = replay(rules, db)
    after = current_matches(db, "lockdown")
    assert after and after < before
    line = again_line(narrowed, "lockdown")
    assert line is not None and "(the rule changed)" in line and f"{len(before) - len(after)} no longer" in line
    assert "0 new alerts" in line
    assert alerts(db, "lockdown") == alerted  # the alerts stay, as sent history; none is repeated
    exported = CliRunner().invoke(cli, ["export", "--db", str(db), "--rule", "lockdown", "--format", "jsonl"])
    assert exported.exit_code == 0 and exported.stdout.count("\n") == len(after)


def test_a_title_or_note_change_matches_nothing_again(tmp_path: Path) -> None:
    rules = rules_copy(tmp_path)
    db = tmp_path / "a.db"
    replay(rules, db)
    text = (rules / "regiment.toml").read_text(encoding="utf-8")
    (rules / "regiment.toml").write_text(text.replace('title = "', 'title = "Renamed: ', 1), encoding="utf-8")
    assert again_line(replay(rules, db), "regiment") is None


def test_an_upgrade_that_changes_matching_matches_the_stored_posts_again_once(tmp_path: Path, monkeypatch: Any) -> None:
    """A store made by an older tgwatch (an older `MATCHING`, or none recorded at all) is matched
    again with every rule by the next replay, which says why; then it is covered."""
    import bot.rematch

    db = tmp_path / "a.db"
    replay(ROOT / "rules", db)
    with sqlite3.connect(db) as c:  # as a store written before the matching version was kept
        c.execute("UPDATE rule_coverage SET digest = substr(digest, instr(digest, ':') + 1) WHERE rule = 'desertion'")
    monkeypatch.setattr(bot.rematch, "MATCHING", bot.rematch.MATCHING - 1)
    with sqlite3.connect(db) as c:
        c.execute("UPDATE rule_coverage SET digest = ? WHERE rule = 'lockdown'",
                  [bot.rematch.rule_digest(load_rules(ROOT / "rules").get("lockdown"))])  # type: ignore[arg-type]
    monkeypatch.undo()
    matched = current_matches(db, "desertion"), current_matches(db, "lockdown")
    upgraded = replay(ROOT / "rules", db)
    for rule in ("desertion", "lockdown"):
        line = again_line(upgraded, rule)
        assert line is not None and "(tgwatch's matching changed)" in line and "0 new alerts" in line, upgraded.output
    assert again_line(upgraded, "regiment") is None  # recorded with this tgwatch's matching
    assert (current_matches(db, "desertion"), current_matches(db, "lockdown")) == matched
    assert not any(again_line(replay(ROOT / "rules", db), r) for r in ("desertion", "lockdown"))


def test_an_upgraded_word_dictionary_matches_the_stored_posts_again_once(tmp_path: Path, monkeypatch: Any) -> None:
    """A new pymorphy3 dictionary release changes the forms a rule's words reach, as a new tgwatch
    can: the next replay matches the stored posts again with every rule, then they are covered."""
    import importlib.metadata

    import bot.rematch

    db = tmp_path / "a.db"
    replay(ROOT / "rules", db)
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda p: "2.4.999999.1" if p == "pymorphy3-dicts-ru" else real(p))
    bot.rematch._dictionaries.cache_clear()
    try:
        upgraded = replay(ROOT / "rules", db)
        again = replay(ROOT / "rules", db)
    finally:
        bot.rematch._dictionaries.cache_clear()
    for rule in ("desertion", "lockdown", "regiment"):
        line = again_line(upgraded, rule)
        assert line is not None and "(tgwatch's matching changed)" in line, upgraded.output
        assert again_line(again, rule) is None, again.output


def test_since_leaves_a_new_rule_to_be_caught_up_by_a_later_whole_replay(tmp_path: Path) -> None:
    rules = rules_copy(tmp_path)
    db = tmp_path / "a.db"
    lockdown = (rules / "lockdown.toml").read_text(encoding="utf-8")
    (rules / "lockdown.toml").unlink()
    replay(rules, db)
    (rules / "lockdown.toml").write_text(lockdown, encoding="utf-8")
    replay(rules, db, "--since", "2026-11-22")
    partial = current_matches(db, "lockdown")
    assert partial and all(d >= "2026-11-22" for (d,) in rows(
        db, "SELECT p.date FROM matches m JOIN posts p USING (channel_id, message_id) WHERE m.rule = 'lockdown'"))
    whole = replay(rules, db)
    assert again_line(whole, "lockdown") is not None
    replay(rules, tmp_path / "fresh.db")
    assert current_matches(db, "lockdown") == current_matches(tmp_path / "fresh.db", "lockdown") > partial


def test_posts_the_live_pipeline_stored_are_not_matched_again_by_the_next_replay(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replay(ROOT / "rules", db)
    store = Store(db)  # the live service stores through the same pipeline, with the same rules
    with Pipeline(store, Matcher(load_rules(ROOT / "rules"))) as pipeline:
        list(pipeline.process([Post(900, 1, datetime(2026, 11, 25, tzinfo=timezone.utc), "В Ростове задержаны дезертиры")]))
    store.close()
    later = replay(ROOT / "rules", db)
    assert not any(again_line(later, r) for r in ("desertion", "lockdown", "regiment")), later.output


def test_replay_warns_of_a_scope_entry_no_stored_channel_is_known_by(tmp_path: Path) -> None:
    """A rule scoped to a config group whose member is misspelt watches nothing there, silently: the
    replay names the member (and a second, unchanged replay, which matches nothing, still does)."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "south.toml").write_text('[[rule]]\nname = "south"\nquery = "Новоборск"\nchannels = ["south"]\n', encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[channels.groups]\nsouth = [1700000002, "@svodka_24_typo"]\n', encoding="utf-8")
    for _ in range(2):
        result = CliRunner().invoke(cli, ["replay", str(SAMPLE), "--rules", str(rules), "--db", str(tmp_path / "a.db"),
                                          "--alerts", "none", "-c", str(config)])
        assert result.exit_code == 0, result.output
        assert "warning: group 'south': no post came from svodka_24_typo" in result.stderr
        assert "1700000002" not in result.stderr  # the channel it names by id is stored
    assert current_matches(tmp_path / "a.db", "south")


def test_replay_notes_a_disabled_rule_and_matches_nothing_with_it(tmp_path: Path) -> None:
    rules = rules_copy(tmp_path)
    text = (rules / "lockdown.toml").read_text(encoding="utf-8")
    (rules / "lockdown.toml").write_text(text.replace('severity = "high"', 'severity = "high"\nenabled = false', 1), encoding="utf-8")
    result = replay(rules, tmp_path / "a.db")
    assert "note: rule 'lockdown' (disabled: not matched live or in replay)" in result.stderr
    assert not current_matches(tmp_path / "a.db", "lockdown") and current_matches(tmp_path / "a.db", "desertion")


@pytest.mark.parametrize("edit", ["text", "links only"])
def test_a_post_edited_while_it_was_matched_again_keeps_what_the_pipeline_made_of_the_edit(tmp_path: Path, monkeypatch: Any,
                                                                                          edit: str) -> None:
    """The catch-up matches a batch before it takes the write lock (the live service stores posts
    meanwhile): an edit stored in between, of its text or only of the links behind its words (the
    pipeline's hash covers both: helper-94), must not get the matches of what it replaced."""
    import bot.rematch
    from bot.match.rules import Rule
    from bot.post import content_hash
    from bot.rematch import last_rowid, rematch, stale_rules

    store = Store(tmp_path / "a.db")
    at = datetime(2026, 11, 25, tzinfo=timezone.utc)
    with Pipeline(store, Matcher([])) as pipeline:
        list(pipeline.process([Post(900, 1, at, "Беспилотник атаковал нефтебазу в Туапсе", "Кубань"),
                               Post(900, 2, at, "Дрон сбили над Белгородом", "Кубань")]))
    rules = [Rule.from_query("drones", "беспилотник OR дрон")]
    match_rows = bot.rematch._match_rows

    def edited_meanwhile(*args: Any) -> Any:
        found = match_rows(*args)
        if edit == "text":  # the edit, stored as the pipeline stores it (the drones match dropped: not current)
            store.db.execute("UPDATE posts SET text = ?, text_hash = ? WHERE message_id = 1",
                             ["Погода в Туапсе: +12", content_hash("Погода в Туапсе: +12")])
        else:
            store.db.execute("UPDATE posts SET text_hash = 'another link' WHERE message_id = 1")
        return found

    monkeypatch.setattr(bot.rematch, "_match_rows", edited_meanwhile)
    upto = last_rowid(store)
    done = rematch(store, rules, stale_rules(store, rules, upto), upto, alert_state="muted")
    assert rows(tmp_path / "a.db", "SELECT message_id FROM matches WHERE rule = 'drones'") == {(2,)}
    assert done.matched["drones"] == 1
    store.close()


def test_a_change_undone_while_its_catch_up_ran_leaves_the_store_as_the_rule_it_went_back_to(tmp_path: Path,
                                                                                            monkeypatch: Any) -> None:
    """Helper-94: /edit_rule then /undo (or a file saved and reverted) stops the first catch-up after
    a batch it has written; the coverage still named the version undone back to, so the second
    matched nothing, and the batch kept the abandoned version's matches."""
    import bot.rematch
    from bot.match.rules import Rule
    from bot.rematch import Stopped, catch_up

    store = Store(tmp_path / "a.db")
    at = datetime(2026, 11, 25, tzinfo=timezone.utc)
    before = Rule.from_query("drones", "беспилотник")
    with Pipeline(store, Matcher([before])) as pipeline:
        list(pipeline.process([Post(900, i, at, text, "Кубань") for i, text in enumerate(
            ["Беспилотник атаковал нефтебазу", "Дрон сбили над Белгородом", "Беспилотник, он же дрон, упал"], 1)]))
    monkeypatch.setattr(bot.rematch, "BATCH", 2)
    batches: list[int] = []
    with pytest.raises(Stopped):
        catch_up(store, [Rule.from_query("drones", "дрон")], stop=lambda: bool(batches.append(1)) or True)
    catch_up(store, [before])
    assert rows(tmp_path / "a.db", "SELECT message_id FROM matches WHERE rule = 'drones' AND current = 1") == {(1,), (3,)}
    store.close()


def test_a_post_edited_while_its_rule_was_off_is_matched_with_it_when_the_service_catches_up(tmp_path: Path) -> None:
    """The live service stores an edit while `drones` is switched off (its matcher lacks it): the edit
    is new to the rule, so the catch-up once it is back matches the post again (as stored without it,
    not as a rule new to the store), and leaves the other rule's coverage whole."""
    from bot.match.rules import Rule
    from bot.rematch import catch_up

    store = Store(tmp_path / "a.db")
    at = datetime(2026, 11, 25, tzinfo=timezone.utc)
    drones, tanks = Rule.from_query("drones", "дрон"), Rule.from_query("tanks", "танк")
    with Pipeline(store, Matcher([drones, tanks])) as pipeline:
        list(pipeline.process([Post(900, 1, at, "Погода в Туапсе: +12", "Кубань"), Post(900, 2, at, "Танк подбит", "Кубань")]))
    with Pipeline(store, Matcher([tanks])) as pipeline:  # drones switched off
        list(pipeline.process([Post(900, 1, at, "Погода в Туапсе: +12. UPD: над городом сбит дрон", "Кубань",
                                    edit_date=datetime(2026, 11, 25, 1, tzinfo=timezone.utc))]))
    done = catch_up(store, [drones, tanks])
    assert rows(tmp_path / "a.db", "SELECT message_id FROM matches WHERE rule = 'drones' AND current = 1") == {(1,)}
    assert done.why == {"drones": "behind"} and done.matched["drones"] == 1
    store.close()


def test_a_replay_without_the_config_leaves_a_group_scoped_rule_for_the_next_one_given_it(tmp_path: Path) -> None:
    """Without `-c` a rule's config group names no channel: the replay says it leaves the rule as it
    is (its matches kept), and the next replay given the config matches the posts stored meanwhile."""
    rules = tmp_path / "rules"
    rules.mkdir()
    desertion = (ROOT / "rules" / "desertion.toml").read_text(encoding="utf-8")
    (rules / "south.toml").write_text(desertion.replace('name = "desertion"', 'name = "south"\nchannels = ["South"]'), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text('[channels.groups]\nsouth = [1700000002]\n', encoding="utf-8")
    db, fresh = tmp_path / "a.db", tmp_path / "fresh.db"
    replay(rules, db, "-c", str(config), "--since", "2026-11-21")
    recent = current_matches(db, "south")
    without = replay(rules, db)  # -c forgotten: the older posts are stored without the rule
    assert ("note: rule 'south' left as it is (not matched): it names group 'south', which only the config defines; "
            "replay with -c CONFIG to match it") in without.stderr
    assert again_line(without, "south") is None and current_matches(db, "south") == recent
    given = replay(rules, db, "-c", str(config))
    replay(rules, fresh, "-c", str(config))
    assert again_line(given, "south") is not None
    assert current_matches(db, "south") == current_matches(fresh, "south") > recent
