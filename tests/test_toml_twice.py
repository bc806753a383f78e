"""A key written twice in one table (a new query pasted under the old one, a setting added again at
the end of its section) was «TOML syntax: Cannot overwrite a value» at the second value's column:
no key named, nothing to say which line to delete. Now the key and both lines, in a rule file and in
the config alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

from .test_cli_rules import run


def test_rules_check_names_a_key_set_twice_and_its_first_line(tmp_path: Path) -> None:
    rules = tmp_path / "drones.toml"
    rules.write_text('[[rule]]\nname = "drones"\nquery = "дрон"\nseverity = "high"\nquery = "дрон OR БПЛА"\n',
                     encoding="utf-8")
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"{rules}:5:1: TOML syntax: 'query' is set twice in one table "
                                          "(first at line 3): keep one"]


def test_a_key_in_two_rules_is_no_mistake(tmp_path: Path) -> None:
    (tmp_path / "two.toml").write_text('[[rule]]\nname = "a"\nquery = "дрон"\n\n[[rule]]\nname = "b"\nquery = "БПЛА"\n',
                                       encoding="utf-8")
    assert run("check", str(tmp_path)).exit_code == 0


def test_the_config_names_a_setting_set_twice_and_its_first_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[channels]\nwatch = ["mash"]\n\n[alerts]\ntimezone = "UTC"\ndigest = "daily"\n'
                      'timezone = "Europe/Moscow"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_config(config)
    assert str(e.value) == f"{config}:7:1: 'timezone' is set twice in one table (first at line 5): keep one"
