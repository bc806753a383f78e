"""bot/match/edit.py: planning and applying rule edits, undo, history and reloading from disk."""

from __future__ import annotations

import os
import shutil
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.match.edit import Change, EditError, RuleBook, backtest_query
from bot.match.query import QueryError, parse
from bot.match.rules import load_rules, parse_rules_text
from bot.post import Post
from bot.store.db import Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    out = tmp_path / "rules"
    out.mkdir()
    for f in (ROOT / "rules").glob("*.toml"):
        shutil.copyfile(f, out / f.name)
    return out


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = Store(tmp_path / "t.db")
    yield s
    s.close()


@pytest.fixture
def book(folder: Path, store: Store) -> RuleBook:
    b = RuleBook(folder, store)
    assert not b.ruleset.errors and {r.name for r in b.ruleset} == {"desertion", "lockdown", "regiment"}
    return b


def touch_later(path: Path, text: str) -> None:
    """Write a file as an editor would, with an mtime surely different from the last one seen."""
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(old + 2_000_000_000, old + 2_000_000_000))


def query_span(text: str) -> tuple[int, int]:
    """Start and end of the first `query = ...` value (any string style) in a file."""
    start = text.index("\nquery = ") + len("\nquery = ")
    for q in ("'''", '"""', "'", '"'):
        if text.startswith(q, start):
            i = start + len(q)
            while not text.startswith(q, i):
                i += 2 if q[0] == '"' and text[i] == "\\" else 1  # an escape in a basic string
            end = i + len(q)
            while text.startswith(q[0], end) and len(q) == 3:  # '''' : a quote just inside the delimiter
                end += 1
            return start, end
    raise AssertionError("no query string")


# -- edit -------------------------------------------------------------------------------------------


def test_edit_changes_only_the_query_string(book: RuleBook, folder: Path, store: Store) -> None:
    path = folder / "desertion.toml"
    before = path.read_text(encoding="utf-8")
    change = book.plan_edit("desertion", 'дезертир OR "самовольное оставление"')
    assert (change.action, change.rule, change.file, change.before) == ("edit", "desertion", path, before)
    assert change.query_before == book.ruleset.get("desertion").query  # type: ignore[union-attr]
    assert change.query_after == 'дезертир OR "самовольное оставление"'
    s, e = query_span(before)
    assert change.after == before[:s] + "'дезертир OR \"самовольное оставление\"'" + before[e:]
    assert path.read_text(encoding="utf-8") == before  # planning writes nothing
    book.apply(change, user_id=7, user_name="anna")
    assert path.read_text(encoding="utf-8") == change.after
    assert book.ruleset.get("desertion").query == change.query_after  # type: ignore[union-attr]
    assert [(r["action"], r["rule"], r["file"], r["user_name"], r["before"], r["after"]) for r in store.rule_changes()] == [
        ("edit", "desertion", "desertion.toml", "anna", before, change.after)]
    assert book.reload_if_changed() == (False, [])  # our own write is not a change on disk
    assert not list(folder.glob(".*.tmp"))


def test_edit_keeps_multiline_literal_style_and_other_rules(book: RuleBook, folder: Path) -> None:
    path = folder / "lockdown.toml"
    path.write_text(path.read_text(encoding="utf-8") + '\n# a second rule\n[[rule]]\nname = "x"  # keep\n'
                    'query = "a OR b"   # trailing comment\nenabled = false\n', encoding="utf-8")
    book = RuleBook(folder, book.store)
    before = path.read_text(encoding="utf-8")
    multi = 'оцепление\nOR "комендантский час"\n'
    change = book.plan_edit("lockdown", multi)
    s, e = query_span(before)
    assert change.after == before[:s] + "'''\n" + multi + "'''" + before[e:]
    change = book.plan_edit("x", "it's OR c:\\path")  # a quote: no literal string; was basic anyway
    s = before.rindex('"a OR b"')
    assert change.after == before[:s] + '"it\'s OR c:\\\\path"' + before[s + len('"a OR b"'):]
    assert "# trailing comment" in change.after and "# keep" in change.after
    book.apply(change, user_id=None, user_name="cli")
    assert load_rules(folder).get("x").query == "it's OR c:\\path"  # type: ignore[union-attr]


def test_invalid_query_is_refused_with_its_position(book: RuleBook, folder: Path) -> None:
    with pytest.raises(EditError) as e:
        book.plan_edit("desertion", "дезертир OR (самовольно")
    assert str(e.value).startswith("query: 1:") and "\n" not in str(e.value)
    pos = int(str(e.value).split(":")[2])
    with pytest.raises(QueryError) as q:
        parse("дезертир OR (самовольно")
    assert pos == q.value.pos + 1
    assert e.value.detail.splitlines()[1] == " " * q.value.pos + "^"
    with pytest.raises(EditError, match=r"^query: 2:\d+: "):
        book.plan_add("new", "дезертир\nOR NEAR/x полк")
    with pytest.raises(EditError, match="already exactly that"):
        book.plan_edit("desertion", book.ruleset.get("desertion").query)  # type: ignore[union-attr]
    for bad in ("", "   ", "NOT дезертир"):
        with pytest.raises(EditError, match="^query: "):
            book.plan_edit("desertion", bad)


def test_unknown_rule(book: RuleBook) -> None:
    for plan in (lambda: book.plan_edit("nope", "x"), lambda: book.plan_set_enabled("nope", False)):
        with pytest.raises(EditError, match="no rule named 'nope'.*desertion"):
            plan()


# -- enable / disable -------------------------------------------------------------------------------


def test_disable_then_enable_flips_only_enabled(book: RuleBook, folder: Path, store: Store) -> None:
    path = folder / "regiment.toml"
    original = path.read_text(encoding="utf-8")
    change = book.plan_set_enabled("regiment", False)
    lines = change.after.splitlines()  # type: ignore[union-attr]
    assert lines[lines.index('severity = "normal"') + 1] == "enabled = false"
    assert [x for x in lines if x != "enabled = false"] == original.splitlines()
    book.apply(change, user_id=1, user_name="anna")
    assert book.ruleset.get("regiment").enabled is False  # type: ignore[union-attr]
    with pytest.raises(EditError, match="already disabled"):
        book.plan_set_enabled("regiment", False)
    change = book.plan_set_enabled("regiment", True)
    assert change.after == original.replace("enabled = false", "enabled = true").replace(
        'severity = "normal"\n', 'severity = "normal"\nenabled = false\n').replace("enabled = false", "enabled = true")
    book.apply(change, user_id=1, user_name="anna")
    assert book.ruleset.get("regiment").enabled is True  # type: ignore[union-attr]
    assert [r["action"] for r in store.rule_changes()] == ["enable", "disable"]


def test_enabled_key_keeps_crlf_line_ends(folder: Path, store: Store) -> None:
    (folder / "crlf.toml").write_bytes(b'# c\r\n[[rule]]\r\nname = "crlf"\r\nquery = "a"\r\n# next\r\n')
    book = RuleBook(folder, store)
    after = book.plan_set_enabled("crlf", False).after
    assert after == '# c\r\n[[rule]]\r\nname = "crlf"\r\nenabled = false\r\nquery = "a"\r\n# next\r\n'


# -- add ----------------------------------------------------------------------------------------------


def test_add_to_a_new_file(book: RuleBook, folder: Path, store: Store) -> None:
    change = book.plan_add("evac", "эвакуация NEAR/5 взрывчатка", title="Эвакуации", severity="high")
    assert change.file == folder / "evac.toml" and change.before is None
    assert not change.file.exists()
    book.apply(change, user_id=3, user_name="oleg")
    rule = load_rules(folder).get("evac")
    assert rule is not None and (rule.query, rule.title, rule.severity) == ("эвакуация NEAR/5 взрывчатка", "Эвакуации", "high")
    assert book.ruleset.get("evac") == rule
    assert store.rule_changes()[0]["before"] is None
    with pytest.raises(EditError, match="already exists"):
        book.plan_add("evac", "x")


def test_add_to_an_existing_file(book: RuleBook, folder: Path) -> None:
    path = folder / "regiment.toml"
    before = path.read_text(encoding="utf-8")
    change = book.plan_add("corps", '"армейский корпус"', file="regiment")
    assert change.file == path and change.after.startswith(before)  # type: ignore[union-attr]
    book.apply(change, user_id=1, user_name="a")
    assert [r.name for r in parse_rules_text(path.read_text(encoding="utf-8")).rules] == ["regiment", "corps"]


def test_add_refuses_bad_names_files_and_duplicates(book: RuleBook, folder: Path) -> None:
    for kwargs, msg in (
        ({"name": "Bad Name", "query": "x"}, "bad rule name 'Bad Name' has capitals 'B', 'N' and a space: a rule name is lower-case Latin"),
        ({"name": "дезертир", "query": "x"}, "letters that are not Latin"),
        ({"name": "ok\n", "query": "x"}, "bad rule name"),
        ({"name": "desertion", "query": "x"}, r"already exists \(desertion.toml:6\)"),
        ({"name": "ok", "query": "x", "file": "../escape"}, "bad file name"),
        ({"name": "ok", "query": "x", "file": "a/b.toml"}, "bad file name"),
        ({"name": "ok", "query": "x", "severity": "urgent"}, "severity"),
    ):
        with pytest.raises(EditError, match=msg):
            book.plan_add(**kwargs)  # type: ignore[arg-type]
    assert sorted(p.name for p in folder.iterdir()) == ["desertion.toml", "lockdown.toml", "regiment.toml"]


def test_apply_refuses_an_invalid_file_and_a_stale_plan(book: RuleBook, folder: Path, store: Store) -> None:
    path = folder / "desertion.toml"
    before = path.read_text(encoding="utf-8")
    bad = Change("edit", "desertion", path, before, before.replace('severity = "high"', 'severity = "urgent"'), None, None)
    with pytest.raises(EditError, match=r"invalid: .*desertion.toml:9:1: severity"):
        book.apply(bad, user_id=1, user_name="a")
    dup = book.plan_add("lockdown2", "x", file="desertion")
    dup = Change("add", "lockdown", path, before, dup.after.replace("lockdown2", "lockdown"), None, "x")  # type: ignore[union-attr]
    with pytest.raises(EditError, match="already defined"):
        book.apply(dup, user_id=1, user_name="a")
    change = book.plan_edit("desertion", "дезертир")
    touch_later(path, before + "\n# an analyst's note\n")
    with pytest.raises(EditError, match="changed since this edit was prepared"):
        book.apply(change, user_id=1, user_name="a")
    assert store.rule_changes() == [] and "# an analyst's note" in path.read_text(encoding="utf-8")


def test_a_duplicate_the_files_had_already_blocks_no_edit_that_only_moves_it(tmp_path: Path, store: Store) -> None:
    """`tanks` is in a.toml and z.toml (the second is out of use, an error tolerated since start):
    an edit that moves a.toml's `tanks` down (a query made two lines) or touches z.toml is saved;
    a new duplicate is still refused."""
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "a.toml").write_text('[[rule]]\nname = "drones"\nquery = "дрон"\n\n[[rule]]\nname = "tanks"\nquery = "танк"\n',
                                   encoding="utf-8")
    (folder / "z.toml").write_text('[[rule]]\nname = "tanks"\nquery = "танкист"\n\n[[rule]]\nname = "trucks"\nquery = "грузовик"\n',
                                   encoding="utf-8")
    book = RuleBook(folder, store)
    assert [e.message for e in book.ruleset.errors] == [f"rule 'tanks' is already defined at {folder / 'a.toml'}:5"]
    book.apply(book.plan_edit("drones", "дрон\nOR беспилотник"), user_id=1, user_name="a")
    assert book.ruleset.get("drones").query == "дрон\nOR беспилотник"  # type: ignore[union-attr]
    book.apply(book.plan_set_enabled("trucks", False), user_id=1, user_name="a")
    assert not book.ruleset.get("trucks").enabled  # type: ignore[union-attr]
    assert [e.message for e in book.ruleset.errors] == [f"rule 'tanks' is already defined at {folder / 'a.toml'}:7"]
    z = folder / "z.toml"
    before = z.read_text(encoding="utf-8")
    dup = Change("add", "drones", z, before, before + '\n[[rule]]\nname = "drones"\nquery = "x"\n', None, "x")
    with pytest.raises(EditError, match=r"refused: z.toml:\d+:1: rule 'drones' is already defined"):
        book.apply(dup, user_id=1, user_name="a")
    assert z.read_text(encoding="utf-8") == before


# -- undo and history ---------------------------------------------------------------------------------


def test_undo_restores_the_exact_text_and_logs(book: RuleBook, folder: Path, store: Store) -> None:
    path = folder / "desertion.toml"
    original = path.read_bytes()
    with pytest.raises(EditError, match="nothing to undo"):
        book.plan_undo()
    book.apply(book.plan_edit("desertion", "дезертир"), user_id=1, user_name="anna")
    book.apply(book.plan_set_enabled("desertion", False), user_id=2, user_name="boris")
    undo = book.plan_undo()
    assert (undo.action, undo.rule, undo.query_before, undo.query_after) == ("undo", "desertion", "дезертир", "дезертир")
    book.apply(undo, user_id=3, user_name="vera")
    assert book.ruleset.get("desertion").enabled is True  # type: ignore[union-attr]
    book.apply(book.plan_undo(), user_id=3, user_name="vera")
    assert path.read_bytes() == original
    assert book.ruleset.get("desertion").query.startswith("\nдезертир OR") is False  # type: ignore[union-attr]
    assert book.ruleset.get("desertion").query == tomllib.loads(original.decode())["rule"][0]["query"]  # type: ignore[union-attr]
    rows = store.rule_changes()
    assert [(r["action"], r["user_name"], r["undone"]) for r in rows] == [
        ("undo", "vera", 0), ("undo", "vera", 0), ("disable", "boris", 1), ("edit", "anna", 1)]
    with pytest.raises(EditError, match="nothing to undo"):
        book.plan_undo()
    hist = book.history()
    assert [(h["action"], h["rule"], h["undone"]) for h in hist][2:] == [("disable", "desertion", True), ("edit", "desertion", True)]
    assert hist[3]["query_after"] == "дезертир" and hist[3]["query_before"].startswith("дезертир OR дезертирство")
    assert hist[0]["user_name"] == "vera" and hist[0]["at"]
    assert len(book.history(limit=1)) == 1


def test_undo_of_an_added_file_removes_it(book: RuleBook, folder: Path) -> None:
    book.apply(book.plan_add("evac", "эвакуация"), user_id=1, user_name="a")
    undo = book.plan_undo()
    assert undo.after is None and undo.query_before == "эвакуация" and undo.query_after is None
    book.apply(undo, user_id=1, user_name="a")
    assert not (folder / "evac.toml").exists() and book.ruleset.get("evac") is None
    assert book.reload_if_changed() == (False, [])


def test_undo_refused_after_an_on_disk_change(book: RuleBook, folder: Path, store: Store) -> None:
    path = folder / "lockdown.toml"
    book.apply(book.plan_edit("lockdown", "оцепление"), user_id=1, user_name="a")
    touch_later(path, path.read_text(encoding="utf-8").replace("severity = \"high\"", "severity = \"low\""))
    with pytest.raises(EditError, match=r"lockdown.toml was changed since change #1 \(edit 'lockdown' by a"):
        book.plan_undo()
    assert store.rule_changes()[0]["undone"] == 0


# -- reloading ----------------------------------------------------------------------------------------


def test_reload_picks_up_a_valid_edit(book: RuleBook, folder: Path) -> None:
    assert book.reload_if_changed() == (False, [])
    path = folder / "regiment.toml"
    touch_later(path, path.read_text(encoding="utf-8").replace('severity = "normal"', 'severity = "low"'))
    assert book.reload_if_changed() == (True, [])
    assert book.ruleset.get("regiment").severity == "low"  # type: ignore[union-attr]
    assert book.reload_if_changed() == (False, [])
    os.utime(path, ns=(1, 1))  # touched only
    assert book.reload_if_changed() == (False, [])


def test_reload_keeps_the_rules_in_use_and_reports_errors_once(book: RuleBook, folder: Path) -> None:
    path = folder / "regiment.toml"
    good = path.read_text(encoding="utf-8")
    in_use = book.ruleset
    touch_later(path, good.replace('severity = "normal"', 'severity = "urgent"'))
    reloaded, errors = book.reload_if_changed()
    assert not reloaded and [str(e) for e in errors] == [f"{path}:9:1: severity must be one of high, normal, low, not 'urgent'"]
    assert book.ruleset is in_use
    assert book.reload_if_changed() == (False, [])
    touch_later(path, path.read_text(encoding="utf-8") + "\n")  # same error: not again
    assert book.reload_if_changed() == (False, [])
    touch_later(path, good.replace("query = '''", "query = '''\n("))  # another error
    reloaded, errors = book.reload_if_changed()
    assert not reloaded and len(errors) == 1 and errors[0].message.startswith("query:") and errors[0].line == 11
    assert book.ruleset is in_use
    touch_later(folder / "other.toml", '[[rule]]\nname = "other"\nquery = "x"\n')  # valid, but regiment still broken
    reloaded, errors = book.reload_if_changed()
    assert (reloaded, errors) == (True, [])  # the same error: told already; the other file's rule is in use
    assert book.ruleset.get("other") is not None and book.ruleset.get("regiment") == in_use.get("regiment")
    touch_later(path, good)
    assert book.reload_if_changed() == (False, [])  # regiment as in use already
    assert book.ruleset.get("other") is not None
    touch_later(path, good.replace('severity = "normal"', 'severity = "urgent"'))
    assert len(book.reload_if_changed()[1]) == 1  # broken again after a good load: reported again


def test_a_file_broken_while_running_keeps_its_rules_as_they_were_and_holds_back_no_other_file(book: RuleBook, folder: Path) -> None:
    """An analyst saves regiment.toml half-edited, then widens desertion.toml: desertion's edit is in
    use at once, regiment matches as it did until its file is fixed; a new broken file stays out."""
    regiment, desertion = folder / "regiment.toml", folder / "desertion.toml"
    was = book.ruleset.get("regiment")
    touch_later(regiment, regiment.read_text(encoding="utf-8").replace("query = '''", "query = '''\n("))
    reloaded, (error,) = book.reload_if_changed()
    assert not reloaded and error.path == str(regiment) and book.ruleset.get("regiment") == was
    touch_later(desertion, desertion.read_text(encoding="utf-8").replace('severity = "high"', 'severity = "low"'))
    touch_later(folder / "draft.toml", '[[rule]]\nname = "draft"\nquery = "(x"\n')
    reloaded, (error,) = book.reload_if_changed()  # only the new file's error: regiment's was told
    assert reloaded and error.path == str(folder / "draft.toml")
    assert book.held == "draft.toml is not in use; regiment.toml stays as it was in use"
    assert book.ruleset.get("desertion").severity == "low"  # type: ignore[union-attr]
    assert book.ruleset.get("regiment") == was and book.ruleset.get("draft") is None


def test_a_rule_name_pasted_into_another_file_holds_back_the_edited_file_not_the_untouched_one(book: RuleBook, folder: Path) -> None:
    """regiment's rule pasted into an edited lockdown.toml: the error falls on regiment.toml (the later
    file), which nobody touched; the edit that brought the duplicate is the one held back, and said so."""
    lockdown, regiment = folder / "lockdown.toml", folder / "regiment.toml"
    was = book.ruleset.get("lockdown")
    touch_later(lockdown, lockdown.read_text(encoding="utf-8").replace('severity = "high"', 'severity = "low"')
                + "\n" + regiment.read_text(encoding="utf-8"))
    reloaded, (error,) = book.reload_if_changed()
    assert "already defined at" in error.message
    assert book.ruleset.get("lockdown") == was and book.held == "lockdown.toml stays as it was in use"
    touch_later(folder / "desertion.toml", (folder / "desertion.toml").read_text(encoding="utf-8").replace('severity = "high"', 'severity = "low"'))
    assert book.reload_if_changed() == (True, [])  # the other files' edits go in use meanwhile
    assert book.ruleset.get("desertion").severity == "low"  # type: ignore[union-attr]


def test_an_emptied_rules_folder_keeps_every_rule_and_says_so(book: RuleBook, folder: Path) -> None:
    in_use = book.ruleset
    for f in folder.glob("*.toml"):
        f.rename(f.with_suffix(".bak"))  # a checkout midway, a move
    reloaded, (error,) = book.reload_if_changed()
    assert not reloaded and book.ruleset is in_use and "no *.toml rule files here" in error.message
    assert book.held == "the rules in use stay as they were"


def test_reload_puts_a_valid_edit_in_use_while_a_file_broken_at_start_stays_out(folder: Path, store: Store) -> None:
    """A file broken at start (its error posted then) leaves its rule out, as at start, but does not
    hold back an edit of another file; an error that is new is returned once, alone."""
    broken = folder / "regiment.toml"
    broken.write_text(broken.read_text(encoding="utf-8").replace('severity = "normal"', 'severity = "urgent"'), encoding="utf-8")
    book = RuleBook(folder, store)
    (started,) = book.ruleset.errors
    path = folder / "desertion.toml"
    touch_later(path, path.read_text(encoding="utf-8").replace('severity = "high"', 'severity = "low"'))
    assert book.reload_if_changed() == (True, [])
    assert book.ruleset.get("desertion").severity == "low" and book.ruleset.get("regiment") is None  # type: ignore[union-attr]
    assert book.ruleset.errors == [started]
    touch_later(broken, "# a note\n" + broken.read_text(encoding="utf-8"))  # the same error, a line down
    assert book.reload_if_changed() == (True, [])
    lockdown = folder / "lockdown.toml"
    in_use = book.ruleset
    touch_later(lockdown, lockdown.read_text(encoding="utf-8").replace("query = '''", "query = '''\n("))
    reloaded, errors = book.reload_if_changed()
    assert not reloaded and [e.path for e in errors] == [str(lockdown)] and errors[0].message.startswith("query:")
    touch_later(lockdown, lockdown.read_text(encoding="utf-8") + "\n")
    assert book.reload_if_changed() == (False, [])  # said once
    assert book.ruleset is in_use


def test_reload_refuses_a_duplicate_across_files_and_toml_errors(book: RuleBook, folder: Path) -> None:
    touch_later(folder / "zz.toml", '[[rule]]\nname = "desertion"\nquery = "x"\n')
    reloaded, errors = book.reload_if_changed()
    assert not reloaded and "already defined" in errors[0].message and errors[0].path.endswith("zz.toml")
    touch_later(folder / "zz.toml", "[[rule]\n")
    reloaded, errors = book.reload_if_changed()
    assert not reloaded and errors[0].message.startswith("TOML syntax") and errors[0].line == 1


def test_reload_after_a_file_is_deleted(book: RuleBook, folder: Path) -> None:
    (folder / "lockdown.toml").unlink()
    assert book.reload_if_changed() == (True, [])
    assert {r.name for r in book.ruleset} == {"desertion", "regiment"}
    for f in folder.glob("*.toml"):
        f.unlink()
    reloaded, errors = book.reload_if_changed()
    assert not reloaded and "no *.toml rule files" in errors[0].message
    assert {r.name for r in book.ruleset} == {"desertion", "regiment"}


def test_edit_applies_while_another_file_is_broken_on_disk(book: RuleBook, folder: Path) -> None:
    path = folder / "regiment.toml"
    touch_later(path, "[[rule]\n")
    assert book.reload_if_changed()[1]
    book.apply(book.plan_edit("desertion", "дезертир"), user_id=1, user_name="a")
    assert book.ruleset.get("desertion").query == "дезертир"  # type: ignore[union-attr]
    assert book.ruleset.get("regiment") is not None  # the version in use, not the broken one
    assert book.reload_if_changed() == (False, [])  # the broken file was reported already
    with pytest.raises(EditError, match="not valid TOML"):
        book.plan_edit("regiment", "полк")


# -- the round trip of arbitrary queries ------------------------------------------------------------

_PIECES = st.sampled_from([
    "дезертир", "полк", "=СОЧ", "бригад*", '"воинская часть"', "OR", "AND", "NEAR/3", "-", "(", ")",
    "'", "''", "'''", '"', "\\", "\\n", "\\u0041", "\n", "\r\n", "\t", " ", "ёлка", "Ї", "url:t.me/x", "#тег", "$", "😀",
])
QUERIES = st.lists(st.one_of(_PIECES, st.text(st.characters(blacklist_categories=("Cs",)), max_size=4)),
                   min_size=1, max_size=12).map("".join)


def _parses(q: str) -> bool:
    try:
        parse(q)
    except QueryError:
        return False
    return bool(q.strip())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(query=QUERIES, rule=st.sampled_from(["desertion", "lockdown", "regiment"]))
def test_edit_round_trips_any_query(book: RuleBook, query: str, rule: str) -> None:
    assume(_parses(query))
    change = book.plan_edit(rule, query)
    loaded = parse_rules_text(change.after, "x.toml")  # type: ignore[arg-type]
    assert not loaded.errors
    assert loaded.get(rule).query == query  # type: ignore[union-attr]
    assert [r.name for r in loaded.rules] == [rule]
    s, e = query_span(change.before)  # type: ignore[arg-type]
    s2, e2 = query_span(change.after)  # type: ignore[arg-type]
    assert change.before[:s] == change.after[:s2] and change.before[e:] == change.after[e2:]  # type: ignore[index]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(query=QUERIES, title=st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_add_round_trips_any_query_and_title(book: RuleBook, query: str, title: str) -> None:
    assume(_parses(query))
    change = book.plan_add("new-rule", query, title=title or None, file="desertion")
    rule = parse_rules_text(change.after, "x.toml").get("new-rule")  # type: ignore[arg-type]
    assert rule is not None and rule.query == query and rule.title == (title or "new-rule")


# -- backtest -------------------------------------------------------------------------------------------


def test_backtest_query_counts_the_last_days(store: Store) -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    posts = [
        Post(channel_id=1, message_id=1, date=now - timedelta(days=1), text="Задержали двух дезертиров"),
        Post(channel_id=1, message_id=2, date=now - timedelta(days=20), text="Дезертир вернулся в часть"),
        Post(channel_id=1, message_id=3, date=now - timedelta(days=2), text="Погода на выходные"),
    ]
    with store.transaction():
        store.upsert_channel(1, "One")
        for p in posts:
            store.write_post(p, store.new_story(p), now=now.isoformat())
    result = backtest_query(store, "try", "дезертир", days=7, now=now)
    assert (result.posts, result.hits["try"]) == (2, 1)
    assert backtest_query(store, "try", "дезертир", days=30, now=now).hits["try"] == 2
    with pytest.raises(EditError, match="^query: 1:"):
        backtest_query(store, "try", "(дезертир", now=now)


def test_a_rule_file_saved_with_a_bom_can_be_edited_from_the_chat(folder: Path, store: Store) -> None:
    path = folder / "desertion.toml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Windows Notepad saves it
    book = RuleBook(folder, store)
    assert not book.ruleset.errors and book.ruleset.get("desertion") is not None
    change = book.plan_edit("desertion", "дезертир")
    book.apply(change, user_id=7, user_name="anna")
    assert load_rules(folder).get("desertion").query == "дезертир"  # type: ignore[union-attr]
    book.apply(book.plan_undo(), user_id=7, user_name="anna")  # the file on disk is the one it wrote
    assert "дезертир OR" in load_rules(folder).get("desertion").query  # type: ignore[union-attr]


def test_preview_refuses_before_confirming_what_apply_would_refuse(book: RuleBook, folder: Path, store: Store) -> None:
    path = folder / "lockdown.toml"
    good = book.plan_edit("lockdown", "оцепление")
    book.preview(good)  # fine: nothing raised, nothing written
    assert path.read_text(encoding="utf-8") == good.before and store.rule_changes() == []
    touch_later(path, good.before + '\n[[rule]]\nname = "other"\nquery = "x"\nseverity = "urgent"\n')  # type: ignore[operator]
    change = book.plan_edit("lockdown", "оцепление")
    with pytest.raises(EditError, match=r"^refused, the file would be invalid: lockdown.toml:\d+:1: severity") as e:
        book.preview(change)
    assert str(folder) not in str(e.value)  # the chat is told the file, not the server's path to it
    with pytest.raises(EditError, match="changed since this edit was prepared"):
        book.preview(good)
    assert store.rule_changes() == []


def test_preview_returns_the_changed_rules_own_warnings_and_the_rule_as_it_will_be(book: RuleBook, folder: Path) -> None:
    warnings, rule = book.preview(book.plan_edit("lockdown", "оцепление"))
    assert warnings == [] and rule is not None and rule.query == "оцепление"
    (w,), _ = book.preview(book.plan_edit("lockdown", "оцепление AND NOT оцепление"))
    assert w.path == str(folder / "lockdown.toml") and "rule 'lockdown' can never match" in w.message
    (w,), rule = book.preview(book.plan_add("kpp", "BCY AND блокпост"))
    assert rule is not None and rule.name == "kpp"
    assert "'BCY' is in Latin letters only" in w.message and "write ВСУ" in w.message
