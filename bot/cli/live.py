"""`tgwatch login` and `tgwatch run`: the live service's faces on the command line."""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import sys
from typing import Callable

import click

from ..config import ENV_2FA_PASSWORD, Config, ConfigError, Secrets, exposed_secrets, load_config, load_secrets
from ..store.db import StoreError
from .common import err, fail, fail_config, given
from .rules import load_or_fail

__all__ = ["login", "run"]

log = logging.getLogger(__name__)


def _settings(config_path: str, *, run: bool = False) -> tuple[Config, Secrets]:
    """The config and secrets, or exit with every bad setting, one `error:` line each. With
    `run`, the database's folder, the rules and the bot token send_via = "bot" needs must be there
    too (login signs in the user account alone). A secrets file other users can read is used, with
    one `warning:` line (refusing it would stop a running service at its next restart)."""
    try:
        config = load_config(config_path, run=run)  # with run: the paths and channels.watch too, all at once
        if exposed := exposed_secrets(config):
            err().print(f"warning: {exposed}", style="yellow", markup=False, highlight=False)
        return config, load_secrets(config, user_only=not run)
    except ConfigError as e:
        fail_config(e)


# What a user can do about the errors a login meets most (Telethon's own message for them is only
# "BAD_REQUEST" or "FLOOD").
_LOGIN_HINTS = {
    "PHONE_NUMBER_INVALID": "Telegram knows no such phone number; give it with its country code, e.g. +447700900123",
    "PHONE_NUMBER_BANNED": "this phone number is banned from Telegram",
    "PHONE_NUMBER_UNOCCUPIED": "no Telegram account uses this phone number: sign up in a Telegram app first",
    "PHONE_CODE_EXPIRED": "the login code expired: run `tgwatch login` again",
    "PASSWORD_HASH_INVALID": "wrong 2FA password",
    "API_ID_INVALID": "TGWATCH_API_ID and TGWATCH_API_HASH are not a pair my.telegram.org gave",
    "AUTH_TOKEN_EXPIRED": "the QR link expired: run `tgwatch login --qr` again",
    "ACCESS_TOKEN_INVALID": "TGWATCH_BOT_TOKEN is not a token @BotFather gave (mistyped or revoked)",
    "ACCESS_TOKEN_EXPIRED": "TGWATCH_BOT_TOKEN was revoked: take the new one from @BotFather",
}


def _login_error(e: BaseException) -> str:
    """An error Telegram gave the login, by its code (a flood wait with its seconds) and what it means."""
    from ..live.codes import telegram_code

    code = telegram_code(e)
    seconds = getattr(e, "seconds", None)
    if seconds is not None and code.startswith("FLOOD"):
        return f"{code}: Telegram asks to wait that long before another login attempt"
    hint = _LOGIN_HINTS.get(code)
    return f"{code}: {hint}" if hint else code


# login and run read one config the same way: a session logged in by one is the session the other uses
_CONFIG_OPTION = click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default="config.toml",
                              callback=given, show_default=True, help="Config file (copy config.example.toml).")


def _ask(what: str, hint: str) -> str:
    """`what` typed at the prompt. With no terminal to type it at (cron, `< /dev/null`, stdin closed)
    and nothing to read, a LoginFailed naming it, not an empty «login failed: »."""
    from ..live.session import LoginFailed

    at_terminal = sys.stdin is not None and sys.stdin.isatty()
    try:
        if sys.stdin is None:
            raise EOFError
        return click.prompt(what + hint)
    except (click.Abort, EOFError):
        if at_terminal:
            raise  # Ctrl-C or Ctrl-D at the prompt: cancelled
        raise LoginFailed(f"no {what} to read: standard input is not a terminal (run tgwatch login in one)") from None


def _password() -> Callable[[], str] | str:
    """The 2FA password: TGWATCH_2FA_PASSWORD when set (tried once), else typed at the terminal, not
    echoed; with no terminal (a script, `< file`), a LoginFailed saying how to give it, never a wait."""
    from ..live.session import LoginFailed

    if given := os.environ.get(ENV_2FA_PASSWORD):
        return given
    if sys.stdin is not None and sys.stdin.isatty():
        return lambda: getpass.getpass("2FA password: ")

    def refuse() -> str:
        raise LoginFailed(f"the account has a 2FA password and standard input is not a terminal to type it at: "
                          f"set {ENV_2FA_PASSWORD}, or run tgwatch login in a terminal")
    return refuse


@click.command()
@_CONFIG_OPTION
@click.option("--phone", help="The account's phone number, e.g. +447700900123 (asked when missing).")
@click.option("--qr", is_flag=True, help="Log in by scanning a QR code (a tg://login link) in a logged-in Telegram app.")
def login(config_path: str, phone: str | None, qr: bool) -> None:
    """Log the watching user account in: phone code and 2FA password, or a QR login.

    The 2FA password is typed at the terminal, or read from TGWATCH_2FA_PASSWORD (where standard
    input is not a terminal: a script). The session file is created 0600 inside a 0700 folder (paths.session_dir); it holds full
    access to the account: never copy it, never share it between two running tgwatch.
    """
    from telethon import errors

    from ..live.session import (
        LOGIN_OPTIONS,
        NETWORK_ERRORS,
        ConnectionAttempts,
        LoginFailed,
        SessionBusy,
        cannot_reach,
        log_in,
        make_client,
        session_lock,
    )

    config, secrets = _settings(config_path)

    async def go() -> str:
        client = make_client(config, secrets, **LOGIN_OPTIONS)
        try:
            await client.connect()
            who = await log_in(client, phone=lambda: phone or _ask("phone number", " (+country code)"),
                               code=lambda: _ask("login code", " (sent to your Telegram app)"),
                               password=_password(),
                               show_link=click.echo if qr else None)
            return f"{who}; session {config.session_path} (mode 0600)"
        finally:
            await client.disconnect()

    attempts = ConnectionAttempts()
    try:
        with session_lock(config.session_dir, config.setting("paths.session_dir")), attempts:
            click.echo(asyncio.run(go()))
    except (SessionBusy, ConfigError) as e:
        fail(str(e))
    except click.Abort:  # Ctrl-C or Ctrl-D at a prompt (click's Abort is a RuntimeError: caught before it)
        fail("login cancelled")
    except (RuntimeError, LoginFailed) as e:  # Telethon gives up after three wrong codes
        fail(f"login failed: {e}")
    except errors.RPCError as e:
        given = isinstance(e, errors.PasswordHashInvalidError) and os.environ.get(ENV_2FA_PASSWORD)
        fail(f"login failed: {_login_error(e)}" + (f" (from {ENV_2FA_PASSWORD})" if given else ""))
    except NETWORK_ERRORS as e:
        fail(cannot_reach(e, attempts))
    except OSError as e:  # the session folder or file
        fail(f"login failed: {type(e).__name__}: {e.strerror or e}")
    except (KeyboardInterrupt, EOFError):  # Ctrl-C while connecting
        fail("login cancelled")


@click.command()
@_CONFIG_OPTION
def run(config_path: str) -> None:
    """Watch the configured channels live and send alerts to the analysts' chat.

    Live updates bring posts within seconds; every few minutes (and at start-up) each channel's
    history since the last stored post is read again, so nothing Telegram failed to push is
    missed. Stop with Ctrl-C or SIGTERM; a restart picks up where it stopped.
    """
    from telethon import errors

    from ..live.service import run as run_service
    from ..live.session import NETWORK_ERRORS, NotLoggedIn, SessionBusy, SessionLost, Unreachable, cannot_reach, lost_line

    config, secrets = _settings(config_path, run=True)
    load_or_fail(str(config.rules))  # bad files are reported; the service posts them to the chat too
    try:
        run_service(config, secrets)
    except StoreError as e:
        fail(str(e))
    except (SessionBusy, SessionLost, ConfigError, Unreachable) as e:
        fail(str(e))
    except NotLoggedIn:
        fail(f"not logged in: run `tgwatch login --config {config_path}` first (session {config.session_path})")
    except errors.AuthKeyDuplicatedError as e:
        fail(lost_line(e, config.session_path))
    except errors.RPCError as e:
        fail(f"Telegram refused: {_login_error(e)}")
    except NETWORK_ERRORS as e:
        fail(cannot_reach(e))
    except OSError as e:  # a file (the session's, a lock) is no network fault: name it
        fail(f"{e.filename}: {e.strerror or type(e).__name__}" if e.filename else cannot_reach(e))
    except KeyboardInterrupt:
        err().print("stopped")
