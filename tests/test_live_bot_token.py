"""A changed bot token (TGWATCH_BOT_TOKEN, or bot_token in the secrets file) is the bot `run` serves
as: the new token logs in, then the old bot's session is logged out; the same token keeps its session.
The real `_serve` and TelegramClient against the fake server (tests/fake_telegram.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from telethon.crypto import AuthKey

from bot.config import Config, Secrets
from bot.live import service as live_service
from bot.live.session import Unreachable, make_client

from .fake_telegram import BOT_ID, USER_ID, FakeSender, FakeTelegram, eventually
from .telegram_fixtures import clock_jobs_held, fake  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[1]
HASH = "fedcba9876543210fedcba9876543210"
NEW_BOT = 9_999_999
OLD_TOKEN = f"{BOT_ID}:AAHfirstBotToken0123456789abcdefghij"
NEW_TOKEN = f"{NEW_BOT}:AAHanotherBotsToken0123456789abcdefgh"


def _config(tmp_path: Path) -> Config:
    return Config(session_dir=tmp_path / "s", db=tmp_path / "t.db", rules=ROOT / "rules", channels=("mash",),
                  chats=(5001,), analysts=(5001,), send_via="bot", resolve_delay_seconds=0)


def _logged_in(fake: FakeTelegram, config: Config) -> None:  # noqa: F811
    """Both sessions logged in before: the user account's, and the old bot's."""
    _session_file(fake, config, USER_ID, bot=False)
    _session_file(fake, config, BOT_ID)


def _session_file(fake: FakeTelegram, config: Config, account: int | None, *, bot: bool = True,  # noqa: F811
                  name: str | None = None) -> None:
    """A session file (the bot's, or `name` in the session folder) holding an auth key, which the
    server knows as `account`'s login (None: a key from a connect whose login never completed)."""
    client = make_client(config, Secrets(api_id=1, api_hash=HASH), bot=bot, name=name)
    client.session.auth_key = AuthKey(os.urandom(256))
    client.session.save()
    if account is not None:
        fake._auth[str(client.session.auth_key.key_id)] = account
    client.session.close()


def _serve(fake: FakeTelegram, config: Config, token: str,  # noqa: F811
           serving: Callable[[], Awaitable[None]] | None = None) -> None:
    """`tgwatch run` with `token` until its chat listens (and `serving` is done), then stopped as after
    a dropped session; its time-of-day jobs held, as every test's service."""
    bots: list[Any] = []

    def make(config: Config, secrets: Secrets, bot: bool = False, **kw: Any) -> Any:
        client = make_client(config, secrets, bot=bot, **kw)
        client._sender = FakeSender(fake, client, client.session.auth_key)
        if bot:
            bots.append(client)
        else:
            asyncio.get_running_loop().create_task(stop(client))
        return client

    async def stop(user: Any) -> None:
        try:
            await eventually(lambda: any(b.list_event_handlers() for b in bots))  # (the last made may be the old bot)
            if serving is not None:
                await serving()
        finally:
            await user.disconnect()

    with clock_jobs_held():  # (no test here is about them)
        asyncio.run(asyncio.wait_for(live_service._serve(config, Secrets(api_id=1, api_hash=HASH, bot_token=token), make), 60))


def _bot_session_account(fake: FakeTelegram, config: Config) -> int | None:  # noqa: F811
    """The account the bot.session on disk is logged in as, by the fake server's books."""
    client = make_client(config, Secrets(api_id=1, api_hash=HASH), bot=True)
    try:
        return fake._auth.get(str(client.session.auth_key.key_id)) if client.session.auth_key else None
    finally:
        client.session.close()


def _logins(fake: FakeTelegram) -> int:  # noqa: F811
    """Log outs and bot log ins the server has seen."""
    return sum(type(r).__name__ in ("LogOutRequest", "ImportBotAuthorizationRequest") for r in fake.requests)


def test_a_changed_bot_token_logs_the_new_bot_in_and_the_old_one_out(fake: FakeTelegram, tmp_path: Path,  # noqa: F811
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    fake.add_channel(1800000002, "mash", "Mash")
    fake.add_bot(NEW_BOT, "new_bot")
    config = _config(tmp_path)
    _logged_in(fake, config)
    assert _bot_session_account(fake, config) == BOT_ID
    with caplog.at_level(logging.WARNING):
        _serve(fake, config, NEW_TOKEN)
    assert _bot_session_account(fake, config) == NEW_BOT  # the next run starts as the new bot too
    assert BOT_ID not in fake._auth.values()  # the old bot's session was logged out, not left behind
    assert sorted(p.name for p in (tmp_path / "s").glob("bot*")) == ["bot.session"]  # nothing kept aside
    said = [r.getMessage() for r in caplog.records if "bot.session" in r.getMessage()]
    assert said == [f"bot.session is logged in as bot {BOT_ID}, the bot token is bot {NEW_BOT}'s: logging the old "
                    "bot out, and in as the new one"]
    assert not any(NEW_TOKEN.partition(":")[2] in r.getMessage() for r in caplog.records)  # never the token's secret
    # the same token again: its session is used as it is, no new login
    logins = _logins(fake)
    assert logins == 2  # the old bot's log out, the new bot's log in
    _serve(fake, config, NEW_TOKEN)
    assert _bot_session_account(fake, config) == NEW_BOT and _logins(fake) == logins


def test_an_old_bot_telegram_will_not_log_out_gives_way_all_the_same(fake: FakeTelegram,  # noqa: F811
                                                                      tmp_path: Path) -> None:
    """The new token logs in first; the old bot's log out, refused (its login revoked meanwhile),
    still leaves no old session file behind, and the new bot serves."""
    fake.add_channel(1800000002, "mash", "Mash")
    fake.add_bot(NEW_BOT, "new_bot")
    fake.fail("LogOutRequest", "AUTH_KEY_UNREGISTERED", code=401)
    config = _config(tmp_path)
    _logged_in(fake, config)
    _serve(fake, config, NEW_TOKEN)
    assert _bot_session_account(fake, config) == NEW_BOT
    assert sorted(p.name for p in (tmp_path / "s").glob("bot*")) == ["bot.session"]


def test_the_same_bot_token_keeps_its_session(fake: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    fake.add_channel(1800000002, "mash", "Mash")
    config = _config(tmp_path)
    _logged_in(fake, config)
    _serve(fake, config, OLD_TOKEN)
    assert _bot_session_account(fake, config) == BOT_ID
    assert _logins(fake) == 0



@pytest.mark.parametrize("half", ["no file", "no auth key", "a key never logged in"])
@pytest.mark.parametrize("token", [OLD_TOKEN, NEW_TOKEN])
def test_a_change_of_bot_killed_before_the_new_login_puts_the_old_bot_back(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture, half: str, token: str) -> None:  # noqa: F811
    """Killed between moving bot.session aside and the new bot's login: the next run found no (or a
    half) bot.session, logged a bot in afresh and left bot.session.previous, the old bot still
    logged in (two bots' logins, one file nobody uses). The old file is put back, then the token decides."""
    fake.add_channel(1800000002, "mash", "Mash")
    fake.add_bot(NEW_BOT, "new_bot")
    config = _config(tmp_path)
    _logged_in(fake, config)
    folder = tmp_path / "s"
    os.replace(folder / "bot.session", folder / "bot.previous.session")
    if half == "no auth key":
        make_client(config, Secrets(api_id=1, api_hash=HASH), bot=True).session.close()
    elif half == "a key never logged in":
        _session_file(fake, config, None)
    with caplog.at_level(logging.WARNING):
        _serve(fake, config, token)
    said = [r.getMessage() for r in caplog.records if "bot.previous.session" in r.getMessage()]
    assert said == ["bot.previous.session put back as bot.session: the last change of bot token was stopped "
                    "before the new bot logged in"]
    assert sorted(p.name for p in folder.glob("bot*")) == ["bot.session"]
    wanted = int(token.partition(":")[0])
    assert _bot_session_account(fake, config) == wanted and list(fake._auth.values()).count(wanted) == 1
    assert BOT_ID not in fake._auth.values() or wanted == BOT_ID  # the old bot, when changed, logged out
    assert _logins(fake) == (0 if token == OLD_TOKEN else 2)  # the old login kept, not a second one


@pytest.mark.parametrize("aside", ["bot.previous.session", "bot.session.previous"])
def test_a_change_of_bot_killed_before_the_old_bot_logged_out_logs_it_out_at_the_next_start(
        fake: FakeTelegram, tmp_path: Path, caplog: pytest.LogCaptureFixture, aside: str) -> None:  # noqa: F811
    """Killed after the new bot's login, before the old bot's log out: the old bot's file is logged
    out and removed at the next start, the new bot's kept. (bot.session.previous: an earlier
    tgwatch's name, which Telethon opened as another file, bot.session.previous.session.)"""
    fake.add_channel(1800000002, "mash", "Mash")
    fake.add_bot(NEW_BOT, "new_bot")
    config = _config(tmp_path)
    _session_file(fake, config, USER_ID, bot=False)
    _session_file(fake, config, BOT_ID)
    # set aside as `_change_bot` does: the name has no .session, which Telethon would add to a name it is given
    os.replace(tmp_path / "s" / "bot.session", tmp_path / "s" / aside)
    _session_file(fake, config, NEW_BOT)
    with caplog.at_level(logging.WARNING):
        _serve(fake, config, NEW_TOKEN)
    said = [r.getMessage() for r in caplog.records if "bot.previous.session" in r.getMessage()]
    assert said == [f"bot.previous.session left by a change of bot token stopped before the old bot was logged out "
                    f"(bot.session is bot {NEW_BOT}): logging it out now"]
    assert sorted(p.name for p in (tmp_path / "s").glob("bot*")) == ["bot.session"]
    assert _bot_session_account(fake, config) == NEW_BOT and sorted(fake._auth.values()) == sorted([USER_ID, NEW_BOT])
    assert _logins(fake) == 1  # the old bot's log out, no new login


class _NeverAnswers(FakeSender):
    """A server that never answers this client's connect (a firewall that drops its packets)."""

    async def connect(self, connection: Any) -> bool:
        await asyncio.Event().wait()
        return True


@pytest.mark.parametrize("token", [OLD_TOKEN, NEW_TOKEN])
def test_a_bot_connect_that_hangs_is_one_line_after_the_startup_wait(fake: FakeTelegram, tmp_path: Path,  # noqa: F811
                                                                    monkeypatch: pytest.MonkeyPatch, token: str) -> None:
    """The user client's first connect is limited; the bot's was not: `run` waited forever, silent.
    With a new token the new bot's connect hangs (the old one's answers): the old bot's file stays."""
    monkeypatch.setattr("bot.live.session.STARTUP_CONNECT_SECONDS", 0.2)
    fake.add_channel(1800000002, "mash", "Mash")
    fake.add_bot(NEW_BOT, "new_bot")
    config = _config(tmp_path)
    _logged_in(fake, config)
    bots: list[Any] = []

    def make(config: Config, secrets: Secrets, bot: bool = False, **kw: Any) -> Any:
        client = make_client(config, secrets, bot=bot, **kw)
        if bot:
            bots.append(client)
        silent = bot and len(bots) == (1 if token == OLD_TOKEN else 2)  # the bot serving (the new one)
        client._sender = (_NeverAnswers if silent else FakeSender)(fake, client, client.session.auth_key)
        return client

    secrets = Secrets(api_id=1, api_hash=HASH, bot_token=token)
    with pytest.raises(Unreachable) as e:  # (the 60 s: a guard, so that a hang fails instead)
        asyncio.run(asyncio.wait_for(live_service._serve(config, secrets, make), 60))
    assert str(e.value) == "the bot cannot reach Telegram (network, firewall or proxy?): timed out"
    assert _bot_session_account(fake, config) == BOT_ID and list(fake._auth.values()).count(BOT_ID) == 1
    assert sorted(p.name for p in (tmp_path / "s").glob("bot*")) == ["bot.session"]


def _auth_key(path: Path) -> bytes | None:
    """The auth key a Telethon session file holds (None: none, or no session file)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        row = db.execute("SELECT auth_key FROM sessions").fetchone()
    return row[0] if row else None


def run_cli(cfg: Path, env: dict[str, str], seconds: float) -> Any:
    """`tgwatch run -c cfg` in a thread of its own (its loop serves the fake's clients), its time-of-day
    jobs held; its result, or None when it still runs after `seconds`."""
    from click.testing import CliRunner

    from bot.cli import cli

    out: list[Any] = []
    ran = threading.Thread(target=lambda: out.append(CliRunner().invoke(cli, ["run", "-c", str(cfg)], env=env)),
                           daemon=True)
    with clock_jobs_held():
        ran.start()
        ran.join(seconds)
    return out[0] if out else None


def _refuse_moves(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The session folder read-only for renames and removals of the bot's files (tests run as root,
    which a chmod would not stop): os.replace, os.remove and unlink raise PermissionError as the OS would."""
    real_replace, real_remove, real_unlink = os.replace, os.remove, Path.unlink

    def replace(src: Any, dst: Any, *a: Any, **kw: Any) -> None:
        if Path(src).parent == folder:
            raise PermissionError(13, "Permission denied", str(src), None, str(dst))
        real_replace(src, dst, *a, **kw)

    def remove(path: Any, *a: Any, **kw: Any) -> None:
        if Path(path).parent == folder and Path(path).name.startswith("bot"):
            raise PermissionError(13, "Permission denied", str(path))
        real_remove(path, *a, **kw)

    def unlink(path: Path, missing_ok: bool = False) -> None:
        if path.parent == folder and path.name.startswith("bot"):
            raise PermissionError(13, "Permission denied", str(path))
        real_unlink(path, missing_ok=missing_ok)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "remove", remove)
    monkeypatch.setattr(Path, "unlink", unlink)


@pytest.mark.parametrize("left", ["killed before the new login", "killed before the old log out", "a new token"])
def test_a_session_folder_that_refuses_the_bot_files_move_is_one_error_line(
        fake: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, left: str) -> None:  # noqa: F811
    """`tgwatch run` changing bots (or settling a change a kill cut short) moves bot.session and
    bot.previous.session in the session folder; a folder that refuses it stops `run` with one
    `error:` line naming the folder and what to do, no traceback, and no session file lost."""
    from functools import partial

    fake.add_channel(1800000002, "mash", "Mash")
    fake.add_bot(NEW_BOT, "new_bot")
    config = _config(tmp_path)
    folder = tmp_path / "s"
    _session_file(fake, config, USER_ID, bot=False)
    _session_file(fake, config, BOT_ID)
    if left != "a new token":  # set aside as `_change_bot` does
        os.replace(folder / "bot.session", folder / "bot.previous.session")
    if left == "killed before the old log out":
        _session_file(fake, config, NEW_BOT)
    before = {p.name: _auth_key(p) for p in folder.glob("bot*")}
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\ndb = "{tmp_path / "t.db"}"\nrules = "{ROOT / "rules"}"\nsession_dir = "{folder}"\n'
                   '[channels]\nwatch = ["mash"]\n'
                   '[alerts]\nchats = [5001]\nanalysts = [5001]\nsend_via = "bot"\n'
                   '[schedule]\nresolve_delay_seconds = 0\n', encoding="utf-8")

    def make(config: Config, secrets: Secrets, bot: bool = False, **kw: Any) -> Any:
        client = make_client(config, secrets, bot=bot, **kw)
        client._sender = FakeSender(fake, client, client.session.auth_key)
        return client

    monkeypatch.setattr(live_service, "run", partial(live_service.run, make=make))
    _refuse_moves(monkeypatch, folder)
    r = run_cli(cfg, {"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH, "TGWATCH_BOT_TOKEN": NEW_TOKEN}, 30)
    assert r is not None, "tgwatch run went on serving"
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    lines = r.output.strip().splitlines()
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], r.output
    assert lines[-1].startswith(f"error: {folder}: ") and "make it writable" in lines[-1], r.output  # what to do
    assert {name: _auth_key(folder / name) for name in before} == before  # nothing moved, no login lost
    if left != "killed before the old log out":  # (there the old bot is logged out before its file is removed)
        assert BOT_ID in fake._auth.values()  # the old bot's login kept with its file
