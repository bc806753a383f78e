"""Review 170: secrets and privacy. Each test names a secret that leaves where it belongs, or a
secret setting that is not honoured, and fails on the code as reviewed.

Held (not tested here): logs at DEBUG through login, flood waits, a network drop, the bot's
commands and the alerts name no api_hash, bot token, login code, auth key, phone or session path;
session files are 0600 in a 0700 folder (their journals too)."""

from __future__ import annotations

import asyncio
import shutil
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import Config

from .fake_telegram import BOT_ID, FakeTelegram, eventually
from .telegram_fixtures import fake  # noqa: F401 - a fixture
from .test_live_bot_token import _logged_in, _serve

ROOT = Path(__file__).resolve().parents[1]
HASH = "fedcba9876543210fedcba9876543210"
ANALYST = 5001
MASH = 1800000002
INVITE = "t.me/+Qw3rTyUiOpAsDfGh"  # a private channel's invite link: whoever holds it can join


def _config_with_secrets_file(tmp_path: Path) -> tuple[Path, Path]:
    """A config whose paths.secrets names a secrets file (0600), and that file."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'api_id = 4242\napi_hash = "{HASH}"\n', encoding="utf-8")
    secrets.chmod(0o600)
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[paths]\nsession_dir = "{tmp_path / "sessions"}"\ndb = "t.db"\nrules = "{ROOT / "rules"}"\n'
                   'secrets = "secrets.toml"\n[channels]\nwatch = ["mash"]\n', encoding="utf-8")
    return cfg, secrets


def test_a_secrets_file_other_users_can_read_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The secrets file (paths.secrets) holds the api_hash and the bot token (whoever has it is the
    bot: reads the analysts' commands, sends in their chat); saved 0644 (an editor's default under
    umask 022), every local user of a shared analyst server reads them, and `run` (`login` too)
    uses it without a word. As ssh does for a private key, tgwatch should say so, naming the file
    (and `chmod 600`), or refuse it; a file only its owner reads gets no word."""
    cfg, secrets = _config_with_secrets_file(tmp_path)
    env = {"TGWATCH_API_ID": "", "TGWATCH_API_HASH": ""}
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env=env)
    assert r.exit_code == 2 and "not logged in" in r.output and str(secrets) not in r.output, r.output  # private: no word
    secrets.chmod(0o644)
    assert stat.S_IMODE(secrets.stat().st_mode) & 0o077  # readable by its group and by others
    # (`run` with no session: it reads the secrets, then stops before connecting; `login` reads them alike)
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env=env)
    told = r.output.splitlines() + [rec.getMessage() for rec in caplog.records]  # on stderr, or a log warning
    said = [line for line in told if str(secrets) in line]
    assert any(("chmod" in line or "readable" in line or "other users" in line) for line in said), \
        f"tgwatch run: {secrets} (mode 0644) read without a warning:\n{r.output}"
    assert not any(HASH in line for line in told)


def test_a_bot_token_of_another_bot_is_not_ignored(fake: FakeTelegram, tmp_path: Path) -> None:  # noqa: F811
    """TGWATCH_BOT_TOKEN changed to another bot's (the old bot given up, its token leaked): `run`
    goes on as the bot the old bot.session logged in as. Telethon's `start(bot_token=…)` only
    warns (a Python UserWarning) when the session already holds a bot, so the analysts, told to
    use the new bot, get no answer, and the old bot keeps serving the chat. Either the session of
    the other bot is set aside and the new token logs in, or `run` refuses with one line; never
    the old bot answering."""
    fake.add_channel(MASH, "mash", "Mash")
    fake.add_user(ANALYST, "Anna")
    fake.add_bot(9999999, "otherbot")  # (a token Telegram refuses is no test of this: `run` stops either way)
    config = Config(session_dir=tmp_path / "s", db=tmp_path / "t.db", rules=ROOT / "rules", channels=("mash",),
                    chats=(ANALYST,), analysts=(ANALYST,), send_via="bot", resolve_delay_seconds=0)
    _logged_in(fake, config)  # both sessions logged in before: the user account's, and the first bot's

    async def ask() -> None:
        """What the analyst does while the service runs with the new token: /start, /status."""
        fake.message_to_bot(ANALYST, "/start")
        fake.message_to_bot(ANALYST, "/status")
        await fake.idle()  # the old bot, were it serving, has answered by now

    try:
        _serve(fake, config, "9999999:AAHanotherBotsToken0123456789abcdefgh", ask)
    except (Exception, SystemExit):
        pass  # refusing to run on the other bot's session is a fix too
    answered = [m.text[:60] for m in fake.chat if m.sender_id == BOT_ID]
    assert not answered, f"configured bot 9999999, but the old bot {BOT_ID} answered: {answered}"


def test_an_invite_link_in_a_rule_file_is_not_posted_to_the_chat(fake: FakeTelegram,  # noqa: F811
                                                                  tmp_path: Path) -> None:
    """A rule file naming a private channel by its invite link (t.me/+HASH) is an error, and the
    error is posted to the alert chat at start and shown by /rules with the link whole: the
    invite hash, which lets anyone join the private channel, goes to every member of the alert
    chat (a group, a forum) and into its history. The chat needs the file, line and what is
    wrong, not the hash (`t.me/+…` would do; `tgwatch rules check` on the server may say it all)."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from bot.live.service import Service
    from bot.live.session import CLIENT_OPTIONS, WATCH_OPTIONS
    from bot.store.db import Store

    from .telegram_fixtures import hold_clock_jobs, stop_service

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "private.toml").write_text(f'[[rule]]\nname = "leaks"\ntitle = "Leaks"\nquery = "утечка"\n'
                                        f'channels = ["{INVITE}"]\n', encoding="utf-8")
    secret = INVITE.split("+")[1]
    options = {k: v for k, v in CLIENT_OPTIONS.items() if k != "connection_retries"}

    async def go() -> list[str]:
        fake.add_channel(MASH, "mash", "Mash")
        fake.add_user(ANALYST, "Anna")
        user = await fake.client(session=tmp_path / "user.session", **options, **WATCH_OPTIONS)
        bot = await fake.client(bot=True, session=tmp_path / "bot.session", **options)
        fake.message_to_bot(ANALYST, "/start")  # the bot may write to the analyst from now on
        await fake.idle()  # (and has learnt whom to: the notice below goes out at start, not 15 s later)
        config = Config(db=tmp_path / "t.db", rules=rules, channels=("mash",), chats=(ANALYST,), analysts=(ANALYST,),
                        send_via="bot", resolve_delay_seconds=0, edit_every_seconds=0, poll_minutes=60)
        service = Service(config, Store(config.db), user, bot=bot, scheduler=AsyncIOScheduler())
        try:
            await service.start()
            hold_clock_jobs(service)  # a heartbeat is no reply to /rules
            await eventually(lambda: any("private.toml" in m.text for m in fake.chat))  # the start-up notice
            before = len(fake.chat)
            fake.message_to_bot(ANALYST, "/rules")
            await eventually(lambda: any("private.toml" in m.text for m in fake.chat[before:]))  # its reply
        finally:
            await stop_service(service)
        return [m.text for m in fake.chat]

    chat = asyncio.run(go())
    shown = [t for t in chat if "private.toml" in t]
    assert shown, chat  # the error is told (file and line)
    leaked = [t for t in chat if secret in t]
    assert not leaked, f"the invite hash {secret} reached the alert chat: {leaked}"
