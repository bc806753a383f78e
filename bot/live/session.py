"""Telethon clients and their session files: created 0600 inside a 0700 folder, never shared."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
import socket
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

from telethon import TelegramClient, errors, utils

from ..config import Config, ConfigError, Secrets
from ..store.runlock import lock_file
from .difference import hold_catch_up

__all__ = ["CLIENT_OPTIONS", "LOGIN_OPTIONS", "NETWORK_ERRORS", "STARTUP_CONNECT_SECONDS", "WATCH_OPTIONS",
           "SESSION_GONE", "ConnectionAttempts", "LoginFailed", "NotLoggedIn", "SessionLost", "QuietReconnects", "SessionBusy", "Unreachable",
           "cannot_reach", "connect_first", "lost_line", "database_lock", "has_auth_key", "log_in", "make_client", "secure_session", "session_lock", "start_bot", "who"]

log = logging.getLogger(__name__)

# Telethon options every tgwatch client uses (tests build their clients with the same ones).
CLIENT_OPTIONS: dict[str, Any] = {
    "flood_sleep_threshold": 60,  # shorter FloodWaits are slept through inside the call
    "connection_retries": -1,  # keep reconnecting: the reconcile poll catches up afterwards
    "retry_delay": 5,
    # A call that still fails after Telethon's retries (a lasting 500) raises the real RPC error, not a
    # bare ValueError. (Alerts, digests, notices and chat replies meet RANDOM_ID_DUPLICATE at its first
    # answer, not after the retries: `randomid.call_unrepeated`.)
    "raise_last_call_error": True,
    "device_model": "tgwatch",
    "app_version": "tgwatch",
}


# `tgwatch run` reconnects forever once running (the poll catches up), but a first connection
# that has not succeeded within this long is an error, said in one line: the network, a firewall
# or a proxy is in the way, and a service manager will start it again.
STARTUP_CONNECT_SECONDS = 60.0

# The watching user client's own: Telethon loads each channel's pts saved in the session when
# the last run stopped, so the first push of a channel (or 15 min) fetches what happened to it while
# stopped, edits of posts older than the poll's look-back too (`difference.keep_difference_edits`).
# Without it a restarted client takes a channel's next push as its start and never asks.
WATCH_OPTIONS: dict[str, Any] = {"catch_up": True}

# `tgwatch login` is interactive: a few quick attempts, then a clear error (not 20 s of retries).
LOGIN_OPTIONS: dict[str, Any] = {"connection_retries": 2, "retry_delay": 2, "timeout": 10, "catch_up": False}

# `tgwatch login --qr` waits this long for a phone to scan the link; each link lives only ~30 s
# (its token expires), so a new one is shown whenever the last has expired.
QR_WAIT_SECONDS = 300.0

# What a Telegram that cannot be reached raises out of Telethon: refused or failed connections
# (ConnectionError after the retries, an unknown host), a timeout, and a connection cut in the middle of the
# handshake, which Telethon lets through as asyncio.IncompleteReadError (an EOFError, which click
# would otherwise turn into a bare "Aborted!").
NETWORK_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                                                     socket.gaierror)
# A connect that fails: a network error, or any other OSError (a refused port, no route).
_CONNECT_ERRORS: tuple[type[BaseException], ...] = (*NETWORK_ERRORS, OSError)


class _TelethonNetworkFilter(logging.Filter):
    """A filter on Telethon's connection loggers, as a context manager: `with F() as f:` installs it."""

    LOGGERS = ("telethon.network.mtprotosender", "telethon.network.connection.connection")

    def __enter__(self) -> Self:
        for name in self.LOGGERS:
            logging.getLogger(name).addFilter(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeFilter(self)


class ConnectionAttempts(_TelethonNetworkFilter):
    """Collects Telethon's warnings about a failed connection ("Attempt 1 at connecting failed:
    OSError: ...", "Server closed the connection: ...") so the user gets one line at the end, with
    the last attempt's reason, instead of a warning per retry. They still show with -v. Use as a
    context manager around the connection."""

    _MARKERS = ("at connecting failed", "during auth_key gen", "at new auth_key failed", "closed the connection")

    def __init__(self) -> None:
        super().__init__()
        self.last: str | None = None
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING:
            message = record.getMessage()
            if any(m in message for m in self._MARKERS):
                self.count += 1
                if "Attempt" in message or "during auth_key gen" in message:
                    self.last = message.split(": ", 1)[1] if ": " in message else message
                return logging.getLogger().isEnabledFor(logging.INFO)
        return True


class QuietReconnects(_TelethonNetworkFilter):
    """While the service runs, Telethon warns at every reconnection attempt (every `retry_delay`
    seconds, for as long as the network is down): this lets through attempts 1, 2, 4, 8, ... only,
    so an hour's outage is a dozen lines, not 720. Every attempt still shows with -v."""

    _ATTEMPT = re.compile(r"Attempt (\d+) at connecting failed")

    def filter(self, record: logging.LogRecord) -> bool:
        m = self._ATTEMPT.search(record.getMessage()) if record.levelno == logging.WARNING else None
        if m is None or logging.getLogger().isEnabledFor(logging.INFO):
            return True
        n = int(m.group(1))
        return n & (n - 1) == 0


class Unreachable(Exception):
    """Telegram could not be reached at start-up; the message is `cannot_reach`'s one line."""


def cannot_reach(error: BaseException, attempts: ConnectionAttempts | None = None) -> str:
    """One line for a Telegram that cannot be reached: what happened, in short (no secrets: Telethon's
    connection errors carry addresses and counts, never keys)."""
    if isinstance(error, asyncio.IncompleteReadError) and (status := _http_status(error)) is not None:
        reason = (f"a web server answered instead of Telegram ({status or 'HTTP'}): a web proxy or firewall on the "
                  "way intercepts Telegram's address; ask the network's admin to let Telegram through")
    elif isinstance(error, asyncio.IncompleteReadError):
        reason = (f"the connection was closed during the handshake ({len(error.partial)} of "
                  f"{error.expected} bytes received)")
    elif type(error) is ConnectionError and attempts is not None and attempts.last:  # Telethon gave up retrying
        reason = f"{attempts.last} ({attempts.count} attempts)"
    elif isinstance(error, asyncio.TimeoutError):
        reason = "timed out"
    elif isinstance(error, OSError) and error.strerror:
        reason = f"{type(error).__name__}: {error.strerror}"
    else:
        reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if attempts is not None and attempts.last and attempts.last not in reason:
        reason += f"; last attempt: {attempts.last}"
    return f"cannot reach Telegram (network, firewall or proxy?): {reason}"


# «HTTP» read as a packet's length, as Telethon's transports read it (less the 8 bytes of length and
# sequence number the full transport counts in): an HTTP answer, never a length Telegram sends.
_HTTP_LENGTHS = {int.from_bytes(b"HTTP", order) - header for order in ("little", "big") for header in (0, 4, 8)}


def _http_status(error: asyncio.IncompleteReadError) -> str | None:
    """"HTTP 400" (or "" when no status is among the bytes) when the answer was a web server's
    (a proxy's, a captive portal's) rather than Telegram's; None for another cut connection."""
    if error.expected not in _HTTP_LENGTHS and not error.partial.lstrip().startswith(b"HTTP/"):
        return None
    m = re.match(rb"\s*(?:HTTP)?(?:/[0-9.]+)?\s+([1-5][0-9][0-9])\b", error.partial)
    return f"HTTP {m.group(1).decode()}" if m else ""


class LoginFailed(Exception):
    """`tgwatch login` cannot go on; the message says why, in one line."""


class NotLoggedIn(Exception):
    """The session holds no authorised account: run `tgwatch login`."""


class SessionBusy(Exception):
    """Another tgwatch process holds this session (two would corrupt it or get it revoked)."""


class SessionLost(Exception):
    """Telegram stopped taking the session while `tgwatch run` served; the message is `lost_line`'s."""


# What Telegram answers, to any request, on a session it no longer takes: used from two places at
# once (AUTH_KEY_DUPLICATED, 406), revoked or logged out elsewhere (401). No retry can help.
SESSION_GONE: tuple[type[Exception], ...] = (errors.AuthKeyError, errors.UnauthorizedError)


def lost_line(e: BaseException, session: Path) -> str:
    """One line for a session Telegram no longer takes: why, which file, what to do; stored posts
    and queued alerts stay in the store."""
    if isinstance(e, errors.AuthKeyDuplicatedError):
        return (f"Telegram no longer takes the session {session}: it was used from two places at once (a copied "
                "session file, or another tgwatch on it); stop the other one, then `tgwatch login` again "
                "(what was stored is kept)")
    return (f"Telegram closed the session {session} ({type(e).__name__}): run `tgwatch login` again "
            "(what was stored is kept)")


@contextmanager
def session_lock(folder: Path, setting: str = "paths.session_dir") -> Iterator[None]:
    """Hold an exclusive lock on the session folder for the life of the process; raises
    SessionBusy at once when another process holds it (the OS frees it even after a SIGKILL).
    A folder that cannot be made is a ConfigError naming `setting` (`Config.setting`: file:line)."""
    folder = folder.expanduser()
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:  # a file in the way, no permission: the setting's problem, not Telegram's
        raise ConfigError(f"{setting}: cannot use {folder} as the session folder ({e.strerror or type(e).__name__})") from None
    with _exclusive(folder / "tgwatch.lock", f"another tgwatch is using the session in {folder}; stop it first",
                    f"{setting}: cannot use {folder} as the session folder"):
        yield


@contextmanager
def database_lock(db: Path, setting: str = "paths.db") -> Iterator[None]:
    """Hold an exclusive lock beside the database (`<db>.lock`, `lock_file`: through a symlink, beside
    its target) for the life of `tgwatch run`; raises SessionBusy when another service runs on it:
    two services on one store (with two session folders) would each send every alert. Replays and
    exports do not take it (an upgrade of the schema asks for it: `run_holding`)."""
    db = db.expanduser()
    with _exclusive(lock_file(db),
                    f"another `tgwatch run` is using the database {db} (each would send every alert); stop it first",
                    f"{setting}: cannot lock {db}"):
        yield


@contextmanager
def _exclusive(path: Path, busy: str, cannot: str) -> Iterator[None]:
    """flock(LOCK_EX) on `path`, held while the block runs; SessionBusy(`busy`) when another holds
    it, ConfigError(`cannot`: why) when the file cannot be opened."""
    try:
        f = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    except OSError as e:
        raise ConfigError(f"{cannot} ({e.strerror or type(e).__name__})") from None
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SessionBusy(busy) from None
        yield
    finally:
        f.close()


def has_auth_key(session: Any) -> bool:
    """Whether a Telethon session holds an auth key. A SQLite session saved before any login has a
    row with an empty key, which Telethon loads as an `AuthKey` whose `.key` is None (not as None)."""
    key = getattr(session, "auth_key", None)
    return key is not None and getattr(key, "key", None) is not None


def secure_session(path: Path) -> Path:
    """Create the session's folder (0700) and file (0600) before Telethon opens it: the file
    holds the account's auth key. Tightens the modes of ones that already exist. One that cannot be
    used (a folder in its place, another user's file) is a ConfigError naming it: no network fault."""
    path = path.expanduser()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path.parent, 0o700)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected the session file; move it away, then run `tgwatch login`") from None
    except OSError as e:
        where = e.filename or path
        raise ConfigError(f"{where}: cannot use it for the session ({e.strerror or type(e).__name__}): it must be a file "
                          "the user running tgwatch owns") from None
    return path


async def start_bot(bot: TelegramClient, token: str, fresh: Callable[..., TelegramClient]) -> TelegramClient:
    """The bot client logged in with `token`: `bot`, or when its session is another bot's (the token
    was changed) `fresh()`'s new one. Telethon's `start` would only warn, and the old bot go on answering.
    A change of bot a kill cut short (bot.previous.session left) is settled first: `_settle_change`."""
    aside, legacy = _aside(bot), Path(bot.session.filename).with_name("bot.session.previous")
    if legacy.exists() and not aside.exists():  # an earlier tgwatch's name for it
        _move(legacy, aside)
    if aside.exists():
        bot = await _settle_change(bot, fresh)
    await connect_first(bot, "the bot")
    me = await bot.get_me(input_peer=True)  # None: the session holds no login (it was revoked)
    wanted = token.partition(":")[0]
    if me is None or str(me.user_id) == wanted:
        await bot.start(bot_token=token)
        return bot
    log.warning("bot.session is logged in as bot %s, the bot token is bot %s's: logging the old bot out, "
                "and in as the new one", me.user_id, wanted)  # (a bot's id is no secret)
    return await _change_bot(bot, token, fresh)


def _aside(bot: TelegramClient) -> Path:
    """Where `_change_bot` keeps the old bot's session while the new one logs in: bot.previous.session
    (ending in .session: Telethon opens any other name with .session added, another file)."""
    return Path(bot.session.filename).with_name("bot.previous.session")


async def connect_first(client: TelegramClient, who: str = "") -> None:
    """A client's first connect, within STARTUP_CONNECT_SECONDS: one that fails or hangs is
    `Unreachable` (`cannot_reach`'s one line, `who` before it: "the bot"), never a `tgwatch run` that
    waits forever in silence or warns at every retry."""
    if client.is_connected():
        return
    with ConnectionAttempts() as attempts:  # one line at the end, not a warning per attempt
        try:
            await asyncio.wait_for(client.connect(), STARTUP_CONNECT_SECONDS)
        except _CONNECT_ERRORS as e:
            raise Unreachable(f"{who} {cannot_reach(e, attempts)}".lstrip()) from None


async def _settle_change(bot: TelegramClient, fresh: Callable[..., TelegramClient]) -> TelegramClient:
    """A change of bot killed half-way left bot.previous.session (the old bot). Before the new bot's
    login completed (bot.session holds no login: no auth key, or Telegram knows none), the old file
    is put back, still logged in; after it, the old bot is logged out as `_change_bot` would have.
    Either way one bot stays logged in. Returns the client on bot.session to go on with."""
    aside = _aside(bot)
    me = None
    if has_auth_key(bot.session):
        await connect_first(bot, "the bot")
        me = await bot.get_me(input_peer=True)
    if me is None:
        await bot.disconnect()  # closes its file before the move
        _move(aside, Path(bot.session.filename))
        log.warning("bot.previous.session put back as bot.session: the last change of bot token was stopped "
                    "before the new bot logged in")
        return fresh()
    log.warning("bot.previous.session left by a change of bot token stopped before the old bot was logged out "
                "(bot.session is bot %s): logging it out now", me.user_id)
    await _log_out_old(fresh(name=aside.name), aside)
    return bot


async def _change_bot(old: TelegramClient, token: str, fresh: Callable[..., TelegramClient]) -> TelegramClient:
    """Log `token` in on a fresh bot.session, the old file kept aside (bot.previous.session), and only
    then log the old bot out: a token Telegram refuses (a typo) puts the old file back, still logged in."""
    path = Path(old.session.filename)
    aside = _aside(old)
    await old.disconnect()  # closes its file before the move
    _move(path, aside)
    old.session.filename = str(aside)  # whatever the old client writes from now on goes to its own file
    new: TelegramClient | None = None
    try:
        new = fresh()
        await connect_first(new, "the bot")
        await new.start(bot_token=token)
    except BaseException:
        if new is not None:
            await new.disconnect()
            new.session.delete()
        _move(aside, path)
        old.session.filename = str(path)
        raise
    await _log_out_old(old, aside)
    return new


async def _log_out_old(old: TelegramClient, aside: Path) -> None:
    """Log the old bot out (best effort: the new bot serves either way), then remove its file."""
    try:
        await asyncio.wait_for(old.connect(), STARTUP_CONNECT_SECONDS)
        await old.log_out()  # False: Telegram refused (the login is gone already)
    except _CONNECT_ERRORS as e:
        log.warning("the old bot was not logged out (revoke its token in @BotFather): %s", cannot_reach(e))
    finally:
        await old.disconnect()
        _move(aside, None)


def _move(src: Path, dst: Path | None) -> None:
    """Rename a bot's session file to `dst` (None: remove it); a session folder that refuses (read-only,
    another user's) is a ConfigError naming it and what to do, and leaves the files as they were."""
    try:
        if dst is None:
            src.unlink(missing_ok=True)
        else:
            os.replace(src, dst)
    except OSError as e:
        doing = f"remove {src.name}" if dst is None else f"rename {src.name} to {dst.name}"
        raise ConfigError(f"{src.parent}: cannot {doing} in the session folder ({e.strerror or type(e).__name__}): "
                          "make it writable by the user running tgwatch, then start again") from None


def make_client(config: Config, secrets: Secrets, *, bot: bool = False, name: str | None = None,
                **kw: Any) -> TelegramClient:
    """The user client (with WATCH_OPTIONS) or the bot client on its own session file: one process
    per session. `name`: another file in the session folder (an old bot's bot.previous.session)."""
    path = secure_session(config.session_dir / (name or ("bot.session" if bot else "user.session")))
    options = {**CLIENT_OPTIONS, **({} if bot else WATCH_OPTIONS), **kw}
    try:
        client = TelegramClient(str(path), secrets.api_id, secrets.api_hash, **options)
    except sqlite3.DatabaseError:  # not a session file (or a damaged one): never a traceback
        raise ConfigError(f"{path}: not a readable Telethon session file; move it away, then run `tgwatch login`") from None
    if options.get("catch_up"):
        hold_catch_up(client)  # until the live service's handlers are in place (`Events.listen`)
    return client


async def _qr_log_in(client: TelegramClient, password: Callable[[], str] | str, show_link: Callable[[str], Any]) -> None:
    """A QR login: shows a tg://login link, and a new one each time the last expires, until a phone
    scans one or QR_WAIT_SECONDS pass (LoginFailed: a timeout here is no network fault)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + QR_WAIT_SECONDS
    qr = await client.qr_login()
    show_link("Open this link on a phone where Telegram is logged in (Settings > Devices > Link Desktop Device):")
    while True:
        show_link(qr.url)
        left = deadline - loop.time()
        lives = (qr.expires - datetime.now(timezone.utc)).total_seconds()
        try:
            await qr.wait(timeout=max(0.5, min(left, lives)))
            return
        except errors.SessionPasswordNeededError:
            await client.sign_in(password=password() if callable(password) else password)
            return
        except asyncio.TimeoutError:
            if loop.time() >= deadline:
                raise LoginFailed(f"no phone used the QR link within {QR_WAIT_SECONDS:.0f} s: "
                                  "run `tgwatch login --qr` again") from None
        await qr.recreate()
        show_link("That link expired; this one is new:")


def who(me: Any) -> str:
    """A user as people name them: "First Last (@username)"."""
    name = " ".join(filter(None, [getattr(me, "first_name", None), getattr(me, "last_name", None)]))
    user = getattr(me, "username", None)
    return f"{name or 'account'}" + (f" (@{user})" if user else "")


async def log_in(client: TelegramClient, *, phone: Callable[[], str], code: Callable[[], str],
                 password: Callable[[], str] | str, show_link: Callable[[str], Any] | None = None) -> str:
    """Log a connected client in: phone number, the code Telegram sends, the 2FA password if set
    (Telethon's own `start`: a callable is asked again after a wrong password, a string tried once), or with `show_link` a QR login whose tg:// link is shown. Returns
    "logged in as ..." (or "already logged in as ...")."""
    if await client.is_user_authorized():
        return f"already logged in as {who(await client.get_me())}"
    if show_link is not None:
        await _qr_log_in(client, password, show_link)
    else:
        number = phone()
        # Telethon asks its phone callback again, without a word, until the answer parses: a
        # --phone that is not a number would be asked for forever
        if not utils.parse_phone(number):
            raise LoginFailed(f"{number!r} is not a phone number: give it with its country code, e.g. +447700900123")
        await client.start(phone=number, code_callback=code, password=password)
    return f"logged in as {who(await client.get_me())}"
