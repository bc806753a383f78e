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
])
def test_a_bad_value_is_a_config_error_not_a_traceback(tmp_path: Path, text: str, expected: str) -> None:
    assert loaded_error(tmp_path, text).startswith(expected)
