"""The config file and the secrets: every mistake is one line naming the file and line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, channel_ref, load_config, load_secrets
from bot.live.session import secure_session

ROOT = Path(__file__).resolve().parents[1]
HASH = "0123456789abcdef0123456789abcdef"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_example_config_loads_and_documents_every_setting() -> None:
    c = load_config(ROOT / "config.example.toml")
    assert c.channels == ("shot_shot", "mash", "bazabazon", "ostorozhno_novosti")
    assert c.chats == ("me",)
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    from dataclasses import fields
    documented = {"db", "rules", "session_dir", "secrets", "watch", "groups", "chats", "analysts", "send_via",
                  "edit_every_seconds", "quiet_hours", "timezone", "digest", "digest_at", "poll_minutes",
                  "story_window_hours", "resolve_delay_seconds", "edit_lookback", "retention_days", "heartbeat_at",
                  "silence_factor"}
    for key in documented:
        assert key in text, f"config.example.toml does not document {key}"
    assert {f.name for f in fields(c)} - {"path", "channels"} <= documented


@pytest.mark.parametrize("text, where, what", [
    ("[channels]\nwatch = \"mash\"\n", ":2:", "channels.watch: expected a list, got str"),
    ("[channels]\nwatch = [\"mash\", \"no spaces allowed\"]\n", ":2:", "is not a channel username"),
    ("[schedule]\n\npoll_minutes = 0\n", ":3:", "schedule.poll_minutes: must be between"),
    ("[schedule]\npoll_minutes = true\n", ":2:", "expected a number, got a boolean"),
    ("[alerts]\nquiet_hours = \"late\"\n", ":2:", "alerts.quiet_hours: expected a span like 23:00-07:00"),
    ("[alerts]\ntimezone = \"Mars/Olympus\"\n", ":2:", "unknown time zone"),
    ("[alerts]\nanalysts = [\"bob\"]\n", ":2:", "numeric Telegram user ids"),
    ("[alerts]\nsend_via = \"pigeon\"\n", ":2:", "expected one of user, bot"),
    ("[alerts]\nsend_via = \"bot\"\nchats = [\"me\"]\n", ":3:", "exists only for the user account"),
    ("[alert]\nchats = []\n", ":1:", "alert: unknown section"),
    ("[schedule]\npoll_minute = 5\n", ":2:", "schedule.poll_minute: unknown setting"),
    ("[schedule\npoll_minutes = 5\n", ":1:", ""),
])
def test_bad_config_is_one_line_with_file_and_line(tmp_path: Path, text: str, where: str, what: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}{where}") and what in msg and "\n" not in msg


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, "[paths]\ndb = \"data/t.db\"\nrules = \"/abs/rules\"\n"))
    assert c.db == tmp_path / "data" / "t.db" and c.rules == Path("/abs/rules")


@pytest.mark.parametrize("ref, key", [
    ("@Mash", "mash"), ("https://t.me/shot_shot", "shot_shot"), ("t.me/s/bazabazon/", "bazabazon"),
    ("-1001117628569", 1117628569), (1117628569, 1117628569), ("mash", "mash"),
])
def test_channel_references(ref: object, key: object) -> None:
    assert channel_ref(ref) == key


@given(st.one_of(st.text(max_size=40), st.integers(), st.none(), st.floats()))
def test_channel_ref_never_crashes_otherwise(value: object) -> None:
    try:
        out = channel_ref(value)
    except ValueError as e:
        assert str(e)
    else:
        assert isinstance(out, (int, str)) and out != ""


def test_secrets_from_environment_never_shown(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, ""))
    s = load_secrets(c, {"TGWATCH_API_ID": "12345", "TGWATCH_API_HASH": HASH, "TGWATCH_BOT_TOKEN": "123:" + "A" * 35})
    assert s.api_id == 12345 and s.bot_token
    assert HASH not in repr(s) and "AAAA" not in repr(s) and HASH not in str(s)


def test_secrets_file_and_errors_name_no_value(tmp_path: Path) -> None:
    (tmp_path / "secrets.toml").write_text(f'api_id = 7\napi_hash = "{HASH}"\n', encoding="utf-8")
    c = load_config(write(tmp_path, '[paths]\nsecrets = "secrets.toml"\n'))
    assert load_secrets(c, {}).api_id == 7
    with pytest.raises(ConfigError) as e:
        load_secrets(c, {"TGWATCH_API_HASH": "not-a-hash-secretvalue"})
    assert "secretvalue" not in str(e.value) and "32 hexadecimal" in str(e.value)
    with pytest.raises(ConfigError, match="TGWATCH_API_ID and TGWATCH_API_HASH not set"):
        load_secrets(load_config(write(tmp_path, "")), {})


def test_session_file_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        p = secure_session(tmp_path / "sessions" / "user.session")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert stat.S_IMODE(p.parent.stat().st_mode) == 0o700


def test_run_without_login_says_so_and_exits_without_touching_the_network(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    cfg = write(tmp_path, f'[paths]\nsession_dir = "{tmp_path / "s"}"\ndb = "t.db"\nrules = "{ROOT / "rules"}"\n'
                          '[channels]\nwatch = ["mash"]\n')
    env = {"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH}
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env=env)
    assert r.exit_code == 2 and "not logged in: run `tgwatch login" in r.output and HASH not in r.output
    assert "Traceback" not in r.output
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env={"TGWATCH_API_ID": "", "TGWATCH_API_HASH": ""})
    assert r.exit_code == 2 and "TGWATCH_API_ID and TGWATCH_API_HASH not set" in r.output


def test_a_second_tgwatch_on_the_same_session_is_refused(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli
    from bot.live.session import session_lock

    cfg = write(tmp_path, f'[paths]\nsession_dir = "{tmp_path / "s"}"\nrules = "{ROOT / "rules"}"\n'
                          '[channels]\nwatch = ["mash"]\n')
    env = {"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH}
    with session_lock(tmp_path / "s"):  # the tgwatch already running
        for command in (["run", "-c", str(cfg)], ["login", "-c", str(cfg)]):
            r = CliRunner().invoke(cli, command, env=env)
            assert r.exit_code == 2 and "another tgwatch is using the session" in r.output, r.output
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env=env)  # once it stopped: the usual checks
    assert "not logged in" in r.output


def test_alert_chats_keep_their_sign_and_names(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, '[alerts]\nchats = ["-1001234567890", -1009876543210, 5001, "@analysts_room", "me"]\n'))
    assert c.chats == (-1001234567890, -1009876543210, 5001, "analysts_room", "me")
