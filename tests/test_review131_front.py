"""Reviewer h131, the front door: faults a first-day analyst meets with `login`, `run` and the
config file. Each test fails on the code it was written against, for the reason its name says."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli

ROOT = Path(__file__).resolve().parents[1]
HASH = "0123456789abcdef0123456789abcdef"
UNCREATABLE = "/proc/tgwatch-review131-sessions"  # /proc takes no new folder, even for root


def test_a_session_folder_that_cannot_be_created_names_the_config_file_and_line(tmp_path: Path) -> None:
    """README: a bad setting is `file:line: key: problem`; a session folder in the way of a file
    says so, one that cannot be made (no permission, a read-only place) named neither."""
    if Path(UNCREATABLE).exists() or not Path("/proc").is_dir():
        pytest.skip("needs a /proc that takes no new folder")
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\nrules = "{ROOT / "rules"}"\nsession_dir = "{UNCREATABLE}"\n'
                   '[channels]\nwatch = ["mash"]\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["login", "-c", str(cfg)], env={"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH})
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert f"{cfg}:3: paths.session_dir" in r.output, r.output


def test_login_without_c_reads_the_config_toml_run_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tgwatch run` reads ./config.toml when given no -c; `tgwatch login` then ignored it, so its
    session_dir and secrets file were not used: logged in, `run` still said «not logged in»."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secrets.toml").write_text('api_id = 12345\napi_hash = "not-a-hash"\n', encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        f'[paths]\nrules = "{ROOT / "rules"}"\nsession_dir = "sessions"\nsecrets = "secrets.toml"\n'
        '[channels]\nwatch = ["mash"]\n', encoding="utf-8")
    env = {"TGWATCH_API_ID": None, "TGWATCH_API_HASH": None, "TGWATCH_BOT_TOKEN": None}
    ran = CliRunner().invoke(cli, ["run"], env=env)
    assert ran.exit_code == 2 and "secrets.toml" in ran.output  # run reads ./config.toml: its secrets file
    logged = CliRunner().invoke(cli, ["login"], env=env)
    assert logged.exit_code == 2 and "Traceback" not in logged.output
    assert "secrets.toml" in logged.output, logged.output  # the same config, the same secrets file


class _Reached(Exception):
    """Raised where `login` would start talking to Telegram: the test needs no network."""


def test_login_of_the_user_account_does_not_ask_for_the_bot_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`login` logs the watching user account in; the bot token is only `run`'s (send_via = "bot").
    It refused, asking for TGWATCH_BOT_TOKEN, so the account could not log in before a bot existed."""
    import bot.live.session as session

    def reached(*args: object, **kwargs: object) -> None:
        raise _Reached()

    monkeypatch.setattr(session, "make_client", reached)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\nrules = "{ROOT / "rules"}"\nsession_dir = "{tmp_path / "sessions"}"\n'
                   '[channels]\nwatch = ["mash"]\n'
                   '[alerts]\nchats = [-1001234567890]\nanalysts = [12345]\nsend_via = "bot"\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["login", "-c", str(cfg)],
                           env={"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH, "TGWATCH_BOT_TOKEN": None})
    assert "TGWATCH_BOT_TOKEN" not in r.output, r.output
    assert isinstance(r.exception, _Reached), r.output  # it went on to log the account in
    ran = CliRunner().invoke(cli, ["run", "-c", str(cfg)],
                             env={"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH, "TGWATCH_BOT_TOKEN": None})
    assert ran.exit_code == 2 and "TGWATCH_BOT_TOKEN" in ran.output  # run does need it, and says so
