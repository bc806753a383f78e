"""Rule files (bot/match/rules.py, check.py): the shipped rules, and errors that point at file:line:col."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.match.check import check_examples
from bot.match.rules import RuleError, load_rules, parse_rules_text

RULES_DIR = Path(__file__).parents[1] / "rules"


@pytest.fixture(scope="module")
def shipped():  # type: ignore[no-untyped-def]
    return load_rules(RULES_DIR)


def test_shipped_rules_load_without_errors(shipped) -> None:  # type: ignore[no-untyped-def]
    assert [str(e) for e in shipped.errors] == []
    names = [r.name for r in shipped]
    assert len(names) == len(set(names)) >= 1
    assert {"desertion", "lockdown", "regiment"} <= set(names)


def test_shipped_rules_load_without_warnings(shipped) -> None:  # type: ignore[no-untyped-def]
    # (none can match on function words alone, none spells a common word in capitals, ...)
    assert [str(e) for e in shipped.warnings] == []


def test_shipped_rules_pass_their_own_examples(shipped) -> None:  # type: ignore[no-untyped-def]
    assert [str(e) for e in check_examples(shipped)] == []


def test_rule_keeps_its_file_and_line(shipped) -> None:  # type: ignore[no-untyped-def]
    rule = shipped.get("desertion")
    assert rule is not None
    assert Path(rule.path).name == "desertion.toml"
    assert Path(rule.path).read_text(encoding="utf-8").splitlines()[rule.line - 1].strip() == "[[rule]]"


# -- parse_rules_text errors ---------------------------------------------------------------------


def only_error(text: str) -> RuleError:
    rs = parse_rules_text(text, "f.toml")
    assert len(rs.errors) == 1, rs.errors
    assert rs.rules == []
    return rs.errors[0]


def at(text: str, e: RuleError) -> str:
    """The source text from the error's line and column on."""
    return text.splitlines()[e.line - 1][e.col - 1:]


def test_a_good_rule_loads() -> None:
    rs = parse_rules_text('[[rule]]\nname = "a"\nquery = "дезертир"\nchannels = ["@Baza", -1001117628569]\n'
                          'severity = "low"\ntypos = 1\n', "f.toml")
    assert rs.errors == []
    (rule,) = rs.rules
    assert (rule.name, rule.title, rule.severity, rule.typos, rule.channels) == (
        "a", "a", "low", 1, ("baza", "1117628569"))


def test_toml_syntax_error() -> None:
    text = '[[rule]]\nname = "a"\nquery = дезертир\n'
    e = only_error(text)
    assert (e.path, e.line, e.col) == ("f.toml", 3, 9)
    assert e.message.startswith("TOML syntax")
    assert str(e).startswith("f.toml:3:9: TOML syntax")


def test_unknown_key() -> None:
    text = '[[rule]]\nname = "a"\nquery = "дезертир"\n  severty = "high"\n'
    e = only_error(text)
    assert "unknown key 'severty' (did you mean 'severity'?)" in e.message
    assert (e.line, at(text, e)) == (4, 'severty = "high"')


def test_an_unknown_key_like_no_known_one_suggests_nothing() -> None:
    e = only_error('[[rule]]\nname = "a"\nquery = "дезертир"\ncolour = "red"\n')
    assert "unknown key 'colour'; allowed: " in e.message and "did you mean" not in e.message


def test_unknown_top_level_key_does_not_stop_the_rules() -> None:
    rs = parse_rules_text('title = "x"\n\n[[rule]]\nname = "a"\nquery = "полк"\n', "f.toml")
    assert [r.name for r in rs] == ["a"]
    assert [(e.line, e.col) for e in rs.errors] == [(1, 1)]
    assert "unknown top-level key 'title'" in rs.errors[0].message


def test_missing_name() -> None:
    text = '# comment\n[[rule]]\nquery = "дезертир"\n'
    e = only_error(text)
    assert "needs name" in e.message
    assert (e.line, e.col) == (2, 1)


def test_bad_name_points_at_the_name() -> None:
    text = '[[rule]]\nname = "Bad Name"\nquery = "дезертир"\n'
    e = only_error(text)
    assert (e.line, at(text, e)) == (2, 'name = "Bad Name"')


@pytest.mark.parametrize("name, says", [
    ('"Weird Name!"', "name 'Weird Name!' has capitals 'W', 'N', a space and '!': a rule name is lower-case Latin "
                      "letters, digits, '-' or '_' (e.g. name = \"weird-name\")"),
    ('"дезертир"', "name 'дезертир' has letters that are not Latin: a rule name is lower-case Latin letters, digits, "
                   "'-' or '_'"),
    ('"-x"', "name '-x' must start with a lower-case Latin letter or a digit (e.g. name = \"x\")"),
    ('""', "name is empty: lower-case Latin letters, digits, '-' or '_'"),
    ("5", "name must be a string of lower-case Latin letters, digits, '-' or '_', not 5"),
    ('"' + "a" * 65 + '"', "name '" + "a" * 39 + "…' is 65 characters long; at most 64"),
])
def test_a_bad_name_says_what_is_wrong_with_it(name: str, says: str) -> None:
    """A rule that has a name is not told it needs one: what the name has that a name cannot."""
    e = only_error(f'[[rule]]\nname = {name}\nquery = "дезертир"\n')
    assert (e.line, e.message) == (2, says)


def test_missing_query() -> None:
    text = '[[rule]]\nname = "a"\n\n[[rule]]\nname = "b"\ntitle = "no query"\n'
    rs = parse_rules_text(text, "f.toml")
    assert [r.name for r in rs] == []
    assert [(e.line, e.col) for e in rs.errors] == [(1, 1), (4, 1)]
    assert all("needs a query" in e.message for e in rs.errors)


MULTI = """\
[[rule]]
name = "a"
query = '''
дезертир OR дезертирство
  OR (бежать NEAR/x часть)
  OR =СОЧ
'''
"""


def test_query_error_in_a_multi_line_query_points_at_the_character() -> None:
    e = only_error(MULTI)
    assert "NEAR needs a distance" in e.message
    assert e.message.startswith("query: ")
    assert (e.line, e.col) == (5, 14)
    assert at(MULTI, e).startswith("NEAR/x")


@pytest.mark.parametrize(("bad", "starts"), [
    ("(бежать NEAR/3 часть", "(бежать"),
    ("бежать NEAR/3 часть~3)", "~3"),
    ("бежать =", "="),
    ("ча*", "ча*"),
])
def test_query_errors_in_the_second_line_of_a_multi_line_query(bad: str, starts: str) -> None:
    text = MULTI.replace("(бежать NEAR/x часть)", bad)
    e = only_error(text)
    assert e.line == 5
    assert at(text, e).startswith(starts), at(text, e)


def test_query_error_in_a_one_line_query_and_in_an_exclude() -> None:
    text = '[[rule]]\nname = "a"\nquery = "дезертир OR"\nexclude = ["полк", "бригада NEAR/99x скорая"]\n'
    rs = parse_rules_text(text, "f.toml")
    assert rs.rules == []
    first, second = rs.errors
    assert (first.line, at(text, first)) == (3, 'OR"')
    assert second.message.startswith("exclude: ")
    assert (second.line, at(text, second)) == (4, 'NEAR/99x скорая"]')


def test_query_error_after_an_escaped_quote() -> None:
    text = '[[rule]]\nname = "a"\nquery = "\\"воинская часть\\" OR (полк"\n'
    e = only_error(text)
    assert at(text, e).startswith("(полк")


def test_query_error_in_a_crlf_file() -> None:
    text = MULTI.replace("\n", "\r\n")
    e = only_error(text)
    assert e.line == 5
    assert at(text, e).startswith("NEAR/x")


@pytest.mark.parametrize(("line", "says"), [
    ('severity = "urgent"', "severity must be one of high, normal, low"),
    ('typos = 3', "typos must be"),
    ('typos = true', "typos must be"),
    ('enabled = "yes"', "enabled must be true or false"),
    ('channels = []', "channels must be"),
    ('should_match = 5', "should_match must be a list"),
    ('exclude = 5', "exclude must be"),
])
def test_bad_values_point_at_their_key(line: str, says: str) -> None:
    text = f'[[rule]]\nname = "a"\nquery = "дезертир"\n{line}\n'
    e = only_error(text)
    assert says in e.message
    assert (e.line, e.col, at(text, e)) == (4, 1, line)


def test_a_bad_rule_does_not_stop_the_others_in_its_file() -> None:
    text = ('[[rule]]\nname = "a"\nquery = "полк"\n\n'
            '[[rule]]\nname = "b"\nquery = "(полк"\n\n'
            '[[rule]]\nname = "c"\nquery = "бригада"\nseverity = "urgent"\n\n'
            '[[rule]]\nname = "d"\nquery = "дивизия"\n')
    rs = parse_rules_text(text, "f.toml")
    assert [r.name for r in rs] == ["a", "d"]
    assert [e.line for e in rs.errors] == [7, 12]
    assert [r.line for r in rs] == [1, 14]


@pytest.mark.parametrize("value", ["1.0", "2.0", "true", "3", "-1", '"1"', "[1]"])
def test_typos_must_be_a_whole_number_from_0_to_2(value: str) -> None:
    text = f'[[rule]]\nname = "a"\nquery = "полк"\ntypos = {value}\n'
    e = only_error(text)
    assert (e.line, at(text, e)) == (4, f"typos = {value}")
    assert e.message.startswith('typos must be "auto", 0, 1 or 2')
    assert e.message.endswith(f"not {value}") or value == "[1]"


@pytest.mark.parametrize(("value", "typos"), [('"auto"', None), ("0", 0), ("2", 2)])
def test_typos_auto_and_0_to_2_load(value: str, typos: int | None) -> None:
    (rule,) = parse_rules_text(f'[[rule]]\nname = "a"\nquery = "полк"\ntypos = {value}\n', "f.toml")
    assert rule.typos == typos


def test_a_channel_that_names_nothing_is_an_error_at_its_entry() -> None:
    text = ('[[rule]]\nname = "a"\nquery = "полк"\nchannels = [\n  "@baza",\n  "",\n  1117628569,\n'
            '  "@",  "https://t.me/",\n  "  ",\n]\n')
    rs = parse_rules_text(text, "f.toml")
    assert rs.rules == []
    assert [(e.line, e.col) for e in rs.errors] == [(6, 3), (8, 3), (8, 9), (9, 3)]
    assert [e.message.split(" names")[0] for e in rs.errors] == [
        "channels: ''", "channels: '@'", "channels: 'https://t.me/'", "channels: '  '"]
    assert all("names no channel" in e.message for e in rs.errors)


def test_an_invite_link_as_a_rule_channel_is_an_error_that_says_to_use_the_id() -> None:
    """A post names its channel by username or id, never by an invite link: a rule scoped to one
    would pass the check and never match."""
    text = '[[rule]]\nname = "a"\nquery = "полк"\nchannels = ["@baza", "https://t.me/+AbCdEf123", "t.me/joinchat/XyZ"]\n'
    rs = parse_rules_text(text, "f.toml")
    assert rs.rules == []
    assert [(e.line, e.col) for e in rs.errors] == [(4, 22), (4, 49)]
    assert rs.errors[0].message == ("channels: 'https://t.me/+…' is an invite link, which no post names its "
                                    "channel by; write the channel's id (a private channel has no username)")
    # the hash (a way into the private channel) is cut: the chat shows this error to every member
    assert rs.errors[1].message.startswith("channels: 't.me/joinchat/…' is an invite link")


def test_an_invite_link_on_any_telegram_host_is_an_error_at_its_entry_with_its_hash_cut() -> None:
    """telegram.me, telegram.dog and tg:// invite links passed as channels («joinchat», a hash) and
    the chat showed the hash; telegram.me/NAME (a channel, as t.me/NAME) was the key «telegram.me/name»."""
    text = ('[[rule]]\nname = "a"\nquery = "полк"\nchannels = ["telegram.me/joinchat/SeCrEt1",\n'
            '  "https://telegram.me/+SeCrEt2", "TELEGRAM.DOG/+SeCrEt3",\n  "tg://join?invite=SeCrEt4", '
            '"tg://login?code=SeCrEt5"]\n')
    rs = parse_rules_text(text, "f.toml")
    lines = text.splitlines()
    assert rs.rules == [] and [lines[e.line - 1][e.col - 1:].split(",")[0] for e in rs.errors] == [
        '"telegram.me/joinchat/SeCrEt1"', '"https://telegram.me/+SeCrEt2"', '"TELEGRAM.DOG/+SeCrEt3"',
        '"tg://join?invite=SeCrEt4"', '"tg://login?code=SeCrEt5"]']  # each error points at its link
    assert [e.message.split(" is ")[0] for e in rs.errors] == [
        "channels: 'telegram.me/joinchat/…'", "channels: 'https://telegram.me/+…'", "channels: 'TELEGRAM.DOG/+…'",
        "channels: 'tg://join?…'", "channels: 'tg://login?…'"]
    assert all("SeCrEt" not in e.message for e in rs.errors)
    assert [e.message.split(" is ")[1][:15] for e in rs.errors] == ["an invite link,"] * 4 + ["a link to a Tel"]
    ok = parse_rules_text('[[rule]]\nname = "a"\nquery = "полк"\nchannels = ["https://telegram.me/Mash", '
                          '"Telegram.Dog/s/baza/5", "telegram.me/c/1117628569/5"]\n', "f.toml")
    assert ok.errors == [] and ok.rules[0].channels == ("mash", "baza", "1117628569")


def test_a_phone_link_as_a_rule_channel_is_called_one_with_the_number_cut() -> None:
    """t.me/+447… was called an invite link (its key starts with + too), and showed the number."""
    rs = parse_rules_text('[[rule]]\nname = "a"\nquery = "полк"\nchannels = ["t.me/+447700900123"]\n', "f.toml")
    assert [e.message for e in rs.errors] == ["channels: 't.me/+…' is a phone number's link (a person), not a channel"]


def test_a_rule_channel_link_in_capitals_is_its_channel_and_a_service_link_is_an_error() -> None:
    """`T.ME/Mash` passed `rules check` and never matched (its key was «t.me/mash», not «mash»);
    `t.me/joinchat/12345` and `t.me/proxy` were read as the usernames «joinchat» and «proxy»,
    as the config reads them no more."""
    ok = parse_rules_text('[[rule]]\nname = "a"\nquery = "полк"\nchannels = ["T.ME/Mash", "HTTPS://T.ME/c/1117628569/5"]\n', "f.toml")
    assert ok.errors == [] and ok.rules[0].channels == ("mash", "1117628569") and ok.rules[0].applies_to({"mash"})
    bad = parse_rules_text('[[rule]]\nname = "a"\nquery = "полк"\nchannels = ["t.me/joinchat/12345", "t.me/proxy", "@joinchatter"]\n', "f.toml")
    assert [e.message.split(" is ")[1][:16] for e in bad.errors] == ["an invite link, ", "a proxy link, no"]


@pytest.mark.parametrize(("query", "col"), [
    ("(" * 200 + "полк" + ")" * 200, 51),  # the 51st '('
    ("полк NEAR/3 " * 3000 + "полк", 12 * 50 + 6),  # the 51st NEAR
    ("полк " + "NOT " * 3000 + "бригада", 5 + 4 * 50 + 1),  # the 51st NOT
])
def test_a_query_nested_too_deeply_is_an_error_not_a_crash(query: str, col: int) -> None:
    text = f'[[rule]]\nname = "a"\nquery = "{query}"\n'
    e = only_error(text)
    assert str(e) == f"f.toml:3:{9 + col}: query: the query is nested too deeply (more than 50 levels)"


def test_an_exclusion_nested_too_deeply_is_an_error_at_its_line() -> None:
    deep = "(" * 60 + "полк" + ")" * 60
    text = f'[[rule]]\nname = "a"\nquery = "полк"\nexclude = [\n  "бригада",\n  "{deep}",\n]\n'
    e = only_error(text)
    assert str(e) == "f.toml:6:54: exclude: the query is nested too deeply (more than 50 levels)"


def test_a_query_at_the_nesting_limit_loads_and_matches(tmp_path: Path) -> None:
    queries = ["полк NEAR/3 " * 50 + "полк", "(полк " * 50 + "бригада" + ")" * 50,
               "полк " + "NOT (x" + " NOT (x" * 23 + ")" * 24]
    f = write(tmp_path, "r.toml", "".join(f'[[rule]]\nname = "r{i}"\nquery = "{q}"\nshould_match = ["полк бригада"]\n'
                                          for i, q in enumerate(queries)))
    rs = load_rules(f)
    assert rs.errors == [] and len(rs) == 3
    assert check_examples(rs) == []


def test_errors_of_a_file_come_in_line_order() -> None:
    text = ('[[rule]]\nname = "a"\nquery = "полк"\nchannels = [""]\ntitle = 1\nenabled = "yes"\n'
            'typos = 1.5\nseverity = "urgent"\nexclude = "("\n')
    rs = parse_rules_text(text, "f.toml")
    assert [e.line for e in rs.errors] == [4, 5, 6, 7, 8, 9]


# -- load_rules on folders --------------------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicate_rule_name_across_files(tmp_path: Path) -> None:
    a = write(tmp_path, "a.toml", '[[rule]]\nname = "dup"\nquery = "полк"\n')
    b = write(tmp_path, "b.toml", '# second\n\n[[rule]]\nname = "dup"\nquery = "бригада"\n')
    rs = load_rules(tmp_path)
    (rule,) = rs.rules
    assert rule.query == "полк"  # the first file wins
    (e,) = rs.errors
    assert (e.path, e.line, e.col) == (str(b), 3, 1)
    assert f"already defined at {a}:1" in e.message
    assert e.brief() == "b.toml:3:1: rule 'dup' is already defined at a.toml:1"  # the chat's: no server paths


def test_a_bad_file_never_stops_good_rules_in_another(tmp_path: Path) -> None:
    bad = write(tmp_path, "a_bad.toml", '[[rule]\nname = "x"\n')
    write(tmp_path, "b_good.toml", '[[rule]]\nname = "good"\nquery = "дезертир"\nshould_match = ["дезертиры"]\n')
    write(tmp_path, "c_half.toml", '[[rule]]\nname = "broken"\nquery = "NOT полк"\n\n'
                                   '[[rule]]\nname = "fine"\nquery = "полк"\n')
    write(tmp_path, "notes.txt", "not a rule file")
    (tmp_path / "d_binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    rs = load_rules(tmp_path)
    assert [r.name for r in rs] == ["good", "fine"]
    assert [(Path(e.path).name, e.line) for e in rs.errors] == [("a_bad.toml", 1), ("c_half.toml", 3), ("d_binary.toml", 1)]
    assert str(rs.errors[0]).startswith(f"{bad}:1:")
    assert check_examples(rs) == []


def test_load_a_single_file_and_missing_paths(tmp_path: Path) -> None:
    f = write(tmp_path, "one.toml", '[[rule]]\nname = "one"\nquery = "полк"\n')
    assert [r.name for r in load_rules(f)] == ["one"]
    missing = load_rules(tmp_path / "nope")
    assert missing.rules == [] and [str(e) for e in missing.errors] == [f"{tmp_path / 'nope'}: no such folder"]
    assert [str(e) for e in load_rules(tmp_path / "nope.toml").errors] == [f"{tmp_path / 'nope.toml'}: no such file"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert [str(e) for e in load_rules(empty).errors] == [f"{empty}: no *.toml rule files here"]


def test_a_file_that_is_not_utf8_is_reported_at_the_bad_byte(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_bytes('[[rule]]\nname = "a"\nquery = "полк '.encode("utf-8") + b'\xff"\n')  # 'я' in cp1251
    write(tmp_path, "s.toml", '[[rule]]\nname = "b"\nquery = "полк"\n')
    rs = load_rules(tmp_path)
    assert [r.name for r in rs] == ["b"]
    assert [str(e) for e in rs.errors] == [f"{f}:3:15: not UTF-8 text (byte 0xff); save the file as UTF-8"]


def test_folder_errors_come_file_by_file_in_line_order(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", '[[rule]]\nname = "dup"\nquery = "полк"\n')
    b = write(tmp_path, "b.toml", '[[rule]]\nname = "dup"\nquery = "бригада"\n\n'
                                  '[[rule]]\nname = "x"\nquery = "("\n')
    rs = load_rules(tmp_path)
    assert [(e.path, e.line) for e in rs.errors] == [(str(b), 1), (str(b), 7)]


# -- check_examples --------------------------------------------------------------------------------


def test_failing_examples_point_at_the_example(tmp_path: Path) -> None:
    f = write(tmp_path, "r.toml", '[[rule]]\nname = "other"\nquery = "полк"\n\n'
                                  '[[rule]]\nname = "d"\nquery = "дезертир"\n'
                                  'should_match = [\n  "дезертиры",\n  "солдаты",\n]\n'
                                  'should_not_match = ["десерт", "дезертир"]\n')
    errors = check_examples(load_rules(f))
    assert [(e.line, e.col) for e in errors] == [(10, 4), (12, 32)]
    assert "rule 'd' does not match its example 'солдаты'" in errors[0].message
    assert "rule 'd' matches its example 'дезертир'" in errors[1].message


def test_disabled_rule_examples_are_still_checked_against_its_query() -> None:
    rs = parse_rules_text('[[rule]]\nname = "a"\nquery = "дезертир"\nenabled = false\n'
                          'should_match = ["дезертиры"]\n', "f.toml")
    assert check_examples(rs) == []


def test_a_rule_file_saved_with_a_bom_loads_and_its_errors_point_right(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    (tmp_path / "a.toml").write_bytes('\ufeff[[rule]]\r\nname = "bom"\r\nquery = "дезертир"\r\n'.encode("utf-8"))
    (tmp_path / "b.toml").write_bytes('\ufeff[[rule]]\nname = "bad"\nquery = "полк AND"\n'.encode("utf-8"))
    rs = load_rules(tmp_path)
    assert [r.name for r in rs] == ["bom"]
    assert [str(e) for e in rs.errors] == [f"{tmp_path / 'b.toml'}:3:15: query: a word or '(' is missing after 'AND'"]
    r = CliRunner().invoke(cli, ["rules", "test", "Трое дезертиров", "--rules", str(tmp_path / "a.toml")])
    assert r.exit_code == 0 and "bom" in r.stdout


def test_a_bad_byte_after_a_bom_is_placed_on_its_line(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_bytes(b'\xef\xbb\xbf[[rule]]\nname = "x"\nquery = "a\xff"\n')
    [e] = load_rules(tmp_path).errors
    assert (e.line, e.col) == (3, 11) and "byte 0xff" in e.message


@pytest.mark.parametrize("value", ['[1, "a"]', '"desertion"', "[{name = 'a', query = 'полк'}, 2]"])
def test_rule_that_is_not_an_array_of_tables_is_one_error_at_its_line(value: str) -> None:
    rs = parse_rules_text(f"# rules\nrule = {value}\n", "f.toml")
    assert rs.rules == [] and [(e.line, e.col, e.message) for e in rs.errors] == [
        (2, 1, "'rule' must be an array of tables: write [[rule]]")]


def test_a_channel_link_with_a_trailing_slash_names_the_channel() -> None:
    (rule,) = parse_rules_text('[[rule]]\nname = "a"\nquery = "полк"\nchannels = ["https://t.me/Mash/", "@baza/"]\n')
    assert rule.channels == ("mash", "baza")
