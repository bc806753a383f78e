"""Config mistakes the property tests (test_config_props.py) found, each as the analyst saw it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config


def loaded_error(tmp_path: Path, text: str, *, run: bool = False) -> str:
    """The message `tgwatch run` prints for a config of `text` (a ConfigError, never another exception)."""
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(p, run=run)
    return str(e.value).replace(str(p), "config.toml")


@pytest.mark.parametrize("text, expected", [
    # OverflowError: int too large to convert to float
    ("[schedule]\npoll_minutes = 1" + "0" * 400 + "\n",
     "config.toml:2: schedule.poll_minutes: must be between 0.1 and 1440, got a number of 401 digits"),
    # IsADirectoryError: .../tzdata/zoneinfo/America (a region, not a zone)
    ('[alerts]\ntimezone = "America"\n', "config.toml:2: alerts.timezone: unknown time zone 'America' (e.g. Europe/Moscow)"),
    # OSError: [Errno 36] File name too long
    ('[alerts]\ntimezone = "' + "a" * 300 + '"\n', "config.toml:2: alerts.timezone: unknown time zone 'aaaaaaaaa"),
    # ValueError: embedded null byte
    ('[paths]\n\ndb = "~a\\u0000b"\n', "config.toml:3: paths.db: a path cannot hold the character U+0000"),
    ('[paths]\nsession_dir = "x\\u0000y"\n', "config.toml:2: paths.session_dir: a path cannot hold the character U+0000"),
    # accepted: the bot then answered nobody, the analyst's own id never equal to a 31-digit one
    ("[alerts]\nanalysts = [123456789, 1" + "0" * 30 + "]\n",
     "config.toml:2: alerts.analysts: 31 digits is no Telegram user id (they have at most 19)"),
])
def test_a_bad_value_is_a_config_error_not_a_traceback(tmp_path: Path, text: str, expected: str) -> None:
    assert loaded_error(tmp_path, text).startswith(expected)


@pytest.mark.parametrize("text, run, expected", [
    ('["a\\nb"]\nx = 1\n', False, ": 'a\\nb': unknown section (expected paths, channels, alerts, schedule)"),
    ('[alerts]\n"a\\nb" = 1\n', False, ": alerts.'a\\nb': unknown setting (expected one of analysts, chats,"),
    ('[channels.groups]\n"a\\rb" = 5\n', False, ": channels.groups.'a\\rb': expected a list of channels"),
    ('[paths]\ndb = "x\\ny/t.db"\n[channels]\nwatch = ["mash"]\n', True,
     "paths.db: folder "),
])
def test_each_problem_is_one_line_whatever_the_key_or_path_holds(tmp_path: Path, text: str, run: bool, expected: str) -> None:
    """A newline in a quoted key or a path split one problem over two lines: the second line named
    no file, and a script reading `file:line:` lines lost the problem."""
    message = loaded_error(tmp_path, text, run=run)
    assert expected in message
    assert all(line.startswith("config.toml:") for line in message.split("\n")), message


@pytest.mark.parametrize("text, expected", [
    # str.splitlines() counted a U+2028 in a comment as a line break: line 4
    ("# Moscow\u2028Kyiv\n[alerts]\ndigest = 5\n", "config.toml:3: alerts.digest: expected a string, got int"),
    # a multi-line string's «[schedule]» line was read as a table: line 1
    ('[alerts]\nquiet_hours = """\n[schedule]\n"""\ndigest = 5\n', "config.toml:5: alerts.digest: expected a string"),
    # a nested list on a line of its own was read as a table «[1, 2]»: line 1
    ("[alerts]\nchats = [\n  [1, 2],\n]\ndigest = 5\n", "config.toml:5: alerts.digest: expected a string"),
    # a setting written above every section: line 1
    ('# my config\n\ntimezone = "UTC"\n', "config.toml:3: timezone: unknown section"),
    ("# my config\nalerts = {digest = 5}\n", "config.toml:2: alerts.digest: expected a string"),
    # a quoted key with an escape, or a quoted table name, was not found: the table's line, or 1
    ('[alerts]\n\n"a\\nb" = 1\n', "config.toml:3: alerts.'a\\nb': unknown setting"),
    ('# c\n["a\\tb"]\n', "config.toml:2: 'a\\tb': unknown section"),
    ('[channels]\n# the groups\ngroups.moscow = 5\n', "config.toml:3: channels.groups.moscow: expected a list of channels"),
])
def test_an_error_names_the_line_the_setting_is_written_on(tmp_path: Path, text: str, expected: str) -> None:
    message = loaded_error(tmp_path, text)
    assert any(line.startswith(expected) for line in message.split("\n")), message


HASH = "0123456789abcdef0123456789abcdef"
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
SESSION = "1BVtsOKABu" + "x" * 340 + "="


@pytest.mark.parametrize("text", [
    f'[alerts]\nsend_via = "{HASH}"\n',  # pasted into the wrong line
    f'[alerts]\nchats = ["{TOKEN}"]\n',
    f'[channels]\nwatch = ["t.me/{TOKEN}"]\n',
    f'[alerts]\ntimezone = "{SESSION}"\n',
    f'[alerts]\nquiet_hours = "{HASH}"\n',
    f'[channels.groups]\n"{HASH}" = 5\n',
    f'[paths]\nrules = "{HASH}"\n',  # `tgwatch run`: «no such folder .../<api_hash>»
])
def test_a_secret_pasted_into_a_setting_is_not_printed(tmp_path: Path, text: str) -> None:
    """The error goes to a terminal, a CI log, a chat asking for help: the value was printed whole."""
    message = loaded_error(tmp_path, text, run=True)
    assert all(secret not in message for secret in (HASH, TOKEN, SESSION)), message
    assert any(line.startswith("config.toml:2: ") and "(a secret: not shown)" in line for line in message.split("\n"))
