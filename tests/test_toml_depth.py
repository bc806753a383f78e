"""TOML nested past Python's recursion limit (a runaway script's `[[[…]]]`) is a one-line error at
its line in every file tgwatch reads (rules, config, secrets) and in the chat's rule edits."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import tomlread
from bot.config import ConfigError, load_config, load_secrets
from bot.match.edit import EditError, RuleBook
from bot.store.db import Store

from .test_rule_edit import ROOT, touch_later

DEEP = 3000


def deep(n: int = DEEP) -> str:
    return "[" * n + "]" * n


def test_a_secrets_file_nested_too_deeply_is_a_config_error_naming_its_line(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text(f"api_id = 7\napi_hash = {deep()}\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text('[paths]\nsecrets = "secrets.toml"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_secrets(load_config(tmp_path / "config.toml"), {})
    assert str(e.value) == f"{tmp_path / 'secrets.toml'}:2: not valid TOML"


def test_a_rule_file_turned_deep_on_disk_is_reported_and_refused_by_chat_edits(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    for f in (ROOT / "rules").glob("*.toml"):
        (folder / f.name).write_bytes(f.read_bytes())
    store = Store(tmp_path / "t.db")
    try:
        book = RuleBook(folder, store)
        path = folder / "regiment.toml"
        touch_later(path, path.read_text(encoding="utf-8") + f"\nx = {deep()}\n")
        reloaded, errors = book.reload_if_changed()
        assert [(Path(e.path).name, "nested too deeply" in e.message) for e in errors] == [("regiment.toml", True)]
        assert book.ruleset.get("regiment") is not None  # the version in use stays
        with pytest.raises(EditError, match="not valid TOML"):
            book.plan_edit("regiment", "полк")
        with pytest.raises(EditError, match="not valid TOML"):
            book.plan_add("corps", "корпус", file="regiment")
    finally:
        store.close()


_NOISE = st.lists(st.sampled_from(['a = "[[{"', "b = '[[['", 'c = """\n[[\n"""', "d = '''[{'''", "# [[[[",
                                   "e = [1, [2]]", 'f = {g = "]]"}', "[t]", "[[r]]"]), max_size=6)


@settings(max_examples=40, deadline=None)
@given(before=_NOISE, after=_NOISE, depth=st.sampled_from([1, 2, 40, DEEP]))
def test_loads_never_lets_a_recursion_error_out_and_points_at_the_deep_line(
        before: list[str], after: list[str], depth: int) -> None:
    """Whatever the brackets in strings, comments and tables around it, a deep value is either
    read or a TOMLDecodeError on its own line."""
    lines = [*before, f"deep = {deep(depth)}", *after]
    text = "\n".join(lines) + "\n"
    deep_line = text[:text.index("deep = ")].count("\n") + 1
    try:
        tomllib.loads(text)
        expected: Exception | None = None
    except RecursionError:
        expected = None
    except tomllib.TOMLDecodeError as e:
        expected = e
    try:
        tomlread.loads(text)
    except tomllib.TOMLDecodeError as e:
        if expected is not None:  # an error of the noise itself: as tomllib said, a key set twice named
            same_line = re.search(r"\(at line \d+, ", str(expected))
            assert str(e) == str(expected) or ("is set twice in one table" in str(e) and same_line is not None
                                               and same_line.group() in str(e)), (str(e), str(expected))
        else:
            assert f"(at line {deep_line}, column " in str(e), str(e)


_TOML_LINES = st.lists(st.sampled_from(["a = 1", 'b = "x"', "[t]", "[[r]]", "c = [1, [2]]", "d = {x = 1}", "# c",
                                        "e = '''\nz\n'''", "a = ", "[", "]", "{", '"', "'", "x.y = 3", "[t.u]",
                                        "f = 1979-05-27", "g = inf", "h = 0x1F", "", "\\", 'i = """a\\"b"""']),
                       max_size=10).map("\n".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_TOML_LINES, st.text(max_size=60)))
def test_loads_reads_every_shallow_text_as_tomllib_does(text: str) -> None:
    """Nesting aside, `tomlread.loads` is `tomllib.loads`: the same tables, or the same error (its
    line and column are what a rule or config error shows the user); one tomllib places «at end of
    document» names the file's last line; a key set twice is named, on the same line."""
    try:
        want = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        with pytest.raises(tomllib.TOMLDecodeError) as got:
            tomlread.loads(text)
        end = text.count("\n") + 1, len(text) - text.rfind("\n")
        at_end = str(e).removesuffix(" (at end of document)") + " at the end of the file (at line {}, column {})".format(*end)
        twice = re.fullmatch(r"Cannot overwrite a value \(at line (\d+), column \d+\)", str(e))
        if twice and "is set twice in one table" in str(got.value):  # the key named, at its line (test_toml_twice.py)
            assert f"(at line {twice.group(1)}, column " in str(got.value)
        else:
            assert str(got.value) == (at_end if str(e).endswith(" (at end of document)") else str(e))
    else:
        assert tomlread.loads(text) == want
