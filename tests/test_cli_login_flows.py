"""`tgwatch login` against the offline fake Telegram (tests/fake_telegram.py): the real CLI and the
real TelegramClient, only its MTProto sender is the fake. Every way a login fails is one line."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from telethon.crypto import AuthKey

from bot.cli import cli
from bot.live import session as live_session

from .fake_telegram import LOGIN_CODE, FakeSender, FakeTelegram

HASH = "0123456789abcdef0123456789abcdef"
ENV = {"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH}
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


@pytest.fixture
def login_cli(fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`tgwatch login ARGS` with the client's sender replaced by the fake's; returns the Result,
    or fails the test when the command has not finished within 20 s."""
    real = live_session.make_client

    def make(config: Any, secrets: Any, **kw: Any) -> Any:
        client = real(config, secrets, **kw)
        key = client.session.auth_key
        if key is None or key.key is None:
            key = AuthKey(os.urandom(256))
        client._sender = FakeSender(fake, client, key)
        return client

    monkeypatch.setattr(live_session, "make_client", make)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\nsession_dir = "{tmp_path / "sessions"}"\n', encoding="utf-8")

    def invoke(*args: str, input: str | None = None) -> Result:
        out: list[Result] = []
        t = threading.Thread(target=lambda: out.append(CliRunner().invoke(cli, ["login", "-c", str(cfg), *args],
                                                                           env=ENV, input=input)), daemon=True)
        t.start()
        t.join(20)
        assert out, "tgwatch login did not finish (asking Telethon the same thing over and over?)"
        return out[0]

    return invoke


def one_line(r: Result, *needles: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and HASH not in r.output, r.output
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("error: login failed: "), r.output
    for n in needles:
        assert n in last, r.output


def test_a_phone_code_login_succeeds(login_cli: Any, fake: FakeTelegram) -> None:
    r = login_cli("--phone", "+447700900123", input=LOGIN_CODE + "\n")
    assert r.exit_code == 0, r.output
    assert "logged in as Watcher" in r.output


def test_a_phone_number_that_is_not_one_is_one_line_not_a_hang(login_cli: Any) -> None:
    one_line(login_cli("--phone", "my phone"), "'my phone' is not a phone number", "+")


def test_a_phone_number_telegram_rejects_names_the_problem(login_cli: Any, fake: FakeTelegram) -> None:
    fake.fail("SendCodeRequest", "PHONE_NUMBER_INVALID")
    one_line(login_cli("--phone", "+999123"), "PHONE_NUMBER_INVALID", "phone number")


def test_a_flood_wait_on_sending_the_code_says_how_long(login_cli: Any, fake: FakeTelegram) -> None:
    fake.flood("SendCodeRequest", 3600)
    one_line(login_cli("--phone", "+447700900123"), "3600 s")


def test_three_wrong_codes_are_one_line(login_cli: Any) -> None:
    one_line(login_cli("--phone", "+447700900123", input="1\n2\n3\n"), "3 consecutive")


def test_a_qr_link_nobody_scans_is_a_login_failure_not_a_network_one(fake: FakeTelegram,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.live.session import LoginFailed, log_in

    monkeypatch.setattr(live_session, "QR_WAIT_SECONDS", 0.3, raising=False)

    async def go() -> None:
        client = await fake.client(authorized=False)
        shown: list[str] = []
        try:
            with pytest.raises(LoginFailed, match="no phone used the QR link"):
                await asyncio.wait_for(log_in(client, phone=str, code=str, password=str, show_link=shown.append), 60)
        finally:
            await client.disconnect()
        assert any(s.startswith("tg://login?token=") for s in shown)
    asyncio.run(go())


def test_a_qr_link_that_expired_is_replaced_and_the_new_one_logs_in(fake: FakeTelegram) -> None:
    from bot.live.session import log_in

    from .fake_telegram import eventually

    fake.qr_token_seconds = 2

    async def go() -> None:
        client = await fake.client(authorized=False)
        shown: list[str] = []
        try:
            login = asyncio.ensure_future(log_in(client, phone=str, code=str, password=str, show_link=shown.append))
            await eventually(lambda: len(fake.qr_tokens) >= 2)  # the first one expired unscanned
            assert fake.scan_qr()
            said = await asyncio.wait_for(login, 60)
            assert said.startswith("logged in as Watcher") and await client.is_user_authorized()
        finally:
            await client.disconnect()
        links = [s for s in shown if s.startswith("tg://login")]
        assert len(links) >= 2 and len(set(links)) == len(links)
    asyncio.run(go())


def test_a_bot_token_telegram_refuses_at_run_names_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A mistyped or revoked TGWATCH_BOT_TOKEN: `run` said only "Telegram refused: BAD_REQUEST"."""
    from telethon import errors

    import bot.live.service as live_service

    root = Path(__file__).resolve().parents[1]

    def refused(config: Any, secrets: Any) -> None:
        raise errors.AccessTokenInvalidError(request=None)

    monkeypatch.setattr(live_service, "run", refused)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\nsession_dir = "{tmp_path / "s"}"\ndb = "t.db"\nrules = "{root / "rules"}"\n'
                   '[channels]\nwatch = ["mash"]\n', encoding="utf-8")
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env={**ENV, "TGWATCH_BOT_TOKEN": TOKEN})
    assert r.exit_code == 2, r.output
    assert r.output.count("\n") == 1 and "ACCESS_TOKEN_INVALID" in r.output and "TGWATCH_BOT_TOKEN" in r.output, r.output
    assert TOKEN not in r.output


def test_three_wrong_2fa_passwords_say_so() -> None:
    """What Telethon's start() raises after three wrong 2FA passwords (it builds the error itself)."""
    from telethon import errors

    from bot.cli.live import _login_error

    assert _login_error(errors.PasswordHashInvalidError(request=None)) == "PASSWORD_HASH_INVALID: wrong 2FA password"
