"""The config file and the secrets: every mistake is one line naming the file and line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.config import ConfigError, channel_ref, chat_topic, exposed_secrets, load_config, load_secrets
from bot.live.session import secure_session
from bot.match.rules import channel_key
from bot.post import cut_link

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
    assert {f.name for f in fields(c)} - {"path", "channels", "lines"} <= documented  # lines: where each is written


@pytest.mark.parametrize("text, where, what", [
    ("[channels]\nwatch = \"mash\"\n", ":2:", "channels.watch: expected a list, got str"),
    ("[channels]\nwatch = [\"mash\", \"no spaces allowed\"]\n", ":2:", "is not a channel username"),
    ("[schedule]\n\npoll_minutes = 0\n", ":3:", "schedule.poll_minutes: must be between"),
    ("[schedule]\npoll_minutes = true\n", ":2:", "expected a number, got a boolean"),
    ("[alerts]\nquiet_hours = \"late\"\n", ":2:", "alerts.quiet_hours: expected a span like 23:00-07:00"),
    ("[alerts]\ntimezone = \"Mars/Olympus\"\n", ":2:", "unknown time zone"),
    ("[alerts]\nanalysts = [\"bob\"]\n", ":2:", "numeric Telegram user ids"),
    ("[alerts]\nsend_via = \"pigeon\"\n", ":2:", "expected one of user, bot"),
    ("[alerts]\nsend_via = \"bot\"\nchats = [\"me\"]\nanalysts = [5001]\n", ":3:", "exists only for the user account"),
    ("[alert]\nchats = []\n", ":1:", "alert: unknown section"),
    ("[schedule]\npoll_minute = 5\n", ":2:", "schedule.poll_minute: unknown setting"),
    ("[schedule\npoll_minutes = 5\n", ":1:", ""),
    ("[schedule]\nretention_days = 0.5\n", ":2:", "schedule.retention_days: expected a whole number, got 0.5"),
    ("[schedule]\n# recent posts\nedit_lookback = 2.7\n", ":3:", "schedule.edit_lookback: expected a whole number, got 2.7"),
    ("[schedule]\nedit_lookback = 1e9\n", ":2:", "schedule.edit_lookback: expected a whole number"),
    ("[schedule]\nretention_days = true\n", ":2:", "schedule.retention_days: expected a whole number, got a boolean"),
    ("[schedule]\nretention_days = -1\n", ":2:", "schedule.retention_days: must be between 0 and 36500, got -1"),
    ("[channels.groups]\nMoscow = [\"mash\"]\nmoscow = [\"shot_shot\"]\n", ":3:",
     "channels.groups.moscow: groups 'Moscow' and 'moscow' are the same name"),
    ("[alerts]\nchats = [0]\n", ":2:", "alerts.chats: 0 is not a chat id"),
    ("[alerts]\nchats = [5001, 5001]\n", ":2:", "alerts.chats: 5001 is listed twice"),
    ("[alerts]\nchats = [\"@room\", \"room\"]\n", ":2:", "alerts.chats: 'room' is listed twice"),
    ("[alerts]\nchats = [\"me\", \"me\"]\n", ":2:", "alerts.chats: 'me' is listed twice"),
    ("[alerts]\nchats = [\"@room/0\"]\n", ":2:", "alerts.chats: '@room/0': topic 0 does not exist"),
    ("[alerts]\nchats = [\"@room/5\", \"t.me/room/5\"]\n", ":2:", "alerts.chats: 't.me/room/5' is listed twice"),
    ("[alerts]\nchats = [\"me/5\"]\n", ":2:", "is not \"me\", a @username, a chat id or a forum topic"),
    ("[alerts]\nquiet_hours = \"07:00-07:00\"\n", ":2:", "alerts.quiet_hours: '07:00-07:00' starts and ends at the same time"),
    ("[alerts]\nsend_via = \"bot\"\nchats = [5001]\n", ":2:", "alerts.send_via: send_via = \"bot\" needs the analysts'"),
    ("[alerts]\nsend_via = \"bot\"\nchats = [5001]\nanalysts = []\n", ":4:", "alerts.analysts: send_via = \"bot\" needs"),
])
def test_bad_config_is_one_line_with_file_and_line(tmp_path: Path, text: str, where: str, what: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}{where}") and what in msg and "\n" not in msg


def test_whole_number_settings_stay_whole(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, "[schedule]\nretention_days = 0\nedit_lookback = 7\n"))
    assert c.retention_days == 0 and c.edit_lookback == 7 and isinstance(c.edit_lookback, int)


def test_a_config_saved_with_a_bom_loads(tmp_path: Path) -> None:
    p = tmp_path / "config.toml"
    p.write_text("\ufeff[channels]\nwatch = [\"mash\"]\n[schedule]\nretention_days = 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:  # loads, and lines are still counted from the top
        load_config(p)
    assert str(e.value).startswith(f"{p}:4: schedule.retention_days")
    p.write_text("\ufeff[channels]\nwatch = [\"mash\"]\n", encoding="utf-8")
    assert load_config(p).channels == ("mash",)


def test_a_session_dir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    for folder in ("notes.txt", "notes.txt/sessions"):
        cfg = write(tmp_path, f'[paths]\nrules = "{ROOT / "rules"}"\nsession_dir = "{folder}"\n[channels]\nwatch = ["mash"]\n')
        with pytest.raises(ConfigError) as e:
            load_config(cfg)
        assert str(e.value).startswith(f"{cfg}:3: paths.session_dir: ") and "is a file, not a folder" in str(e.value)
        for command in ("run", "login"):
            r = CliRunner().invoke(cli, [command, "-c", str(cfg)], env={"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH})
            assert r.exit_code == 2 and f"{cfg}:3: paths.session_dir" in r.output and "cannot reach" not in r.output


def test_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, "[paths]\ndb = \"data/t.db\"\nrules = \"/abs/rules\"\n"))
    assert c.db == tmp_path / "data" / "t.db" and c.rules == Path("/abs/rules")


@pytest.mark.parametrize("ref, key", [
    ("@Mash", "mash"), ("https://t.me/shot_shot", "shot_shot"), ("t.me/s/bazabazon/", "bazabazon"),
    ("-1001117628569", 1117628569), (1117628569, 1117628569), ("mash", "mash"), ("https://telegram.me/Mash", "mash"),
    ("telegram.dog/s/bazabazon/", "bazabazon"),
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


_USERNAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{3,31}", fullmatch=True)
# a Telegram link's start as people type or paste it: T.ME, Https://t.Me, telegram.me, TELEGRAM.DOG (a
# host ignores case; Telegram's apps open all three hosts alike, with www. too)
_HOSTS = st.builds(lambda host, upper: "".join(c.upper() if u else c for c, u in zip(host, upper, strict=False)),
                   st.sampled_from([scheme + www + host for scheme in ("", "http://", "https://") for www in ("", "www.")
                                    for host in ("t.me/", "telegram.me/", "telegram.dog/")]),
                   st.lists(st.booleans(), min_size=25, max_size=25))
_SERVICE_PATHS = st.sampled_from(["joinchat/AbCdEf123", "joinchat/12345", "joinchat", "+AbCdEf_-123", "+79001234567",
                                  "proxy?server=1.2.3.4&port=443&secret=ab", "socks?server=x&port=1", "proxy",
                                  "addstickers/Animals", "addlist/AbCd", "share/url?url=x", "login/12345", "iv?url=x"])


@given(_HOSTS, _USERNAMES, st.sampled_from(["", "/", "/123", "/123?single", "/123/?comment=7"]), st.booleans())
def test_a_t_me_link_in_any_case_names_its_channel(host: str, name: str, tail: str, preview: bool) -> None:
    """T.ME/Mash and https://t.me/s/mash/123 are mash, as t.me/s/mash and t.me/mash/123 are."""
    link = f"{host}{'s/' if preview else ''}{name}{tail}"
    if name.lower() in {"joinchat", "proxy", "socks", "share", "login", "addlist", "addtheme", "addemoji"}:
        return  # Telegram's own paths, no channel's username
    assert channel_ref(link, posts=True) == name.lower()
    if not tail.strip("/"):
        assert channel_ref(link) == name.lower()


@given(_USERNAMES, st.sampled_from(["", "&post=123", "#x"]), st.booleans(), st.booleans())
def test_a_tg_resolve_link_names_its_channel_everywhere(name: str, tail: str, first: bool, upper: bool) -> None:
    """tg://resolve?domain=NAME is the apps' own link to @NAME (&post=N: its post): the config, the
    rules and --channel read it as t.me/NAME (the rules took it as a title no channel has)."""
    query = f"domain={name}{tail}" if first or not tail.startswith("&") else f"{tail[1:]}&domain={name}"
    link = ("TG://RESOLVE?" if upper else "tg://resolve?") + query
    assert channel_ref(link, posts=True) == name.lower() == channel_key(link)
    if "post" not in tail:
        assert channel_ref(link) == name.lower()
    else:
        with pytest.raises(ValueError, match="not a channel username"):
            channel_ref(link)


@given(_HOSTS, _SERVICE_PATHS)
def test_a_t_me_link_to_no_channel_says_what_it_is(host: str, path: str) -> None:
    """An invite, proxy or sticker link was read as the username joinchat / proxy (or as a post of them)."""
    for posts in (False, True):
        with pytest.raises(ValueError) as e:
            channel_ref(host + path, posts=posts)
        shown = str(e.value).split(" is a")[0]
        assert "not a channel" in str(e.value) and shown == repr(cut_link(host + path))
        assert host + path == shown.strip("'") or (shown.endswith("…'") and (host + path).startswith(shown[1:-2]))


@given(_HOSTS, st.sampled_from(["+", "joinchat/", "proxy?server=1.2.3.4&secret="]),
       st.text(alphabet="ABCdef0123456789_-", min_size=8, max_size=40))
def test_an_invite_or_proxy_secret_is_cut_from_what_an_error_shows(host: str, kind: str, secret: str) -> None:
    """An invite's hash is the way into a private channel: an error (posted to a group chat) never shows it."""
    with pytest.raises(ValueError) as e:
        channel_ref(host + kind + secret)
    assert secret not in str(e.value).replace(host, "")
    assert cut_link(host + kind + secret) == host + kind.split("?")[0] + ("?" if "?" in kind else "") + "…"


# an invite link's start on every host, and in the apps' own scheme (tg://join?invite=HASH)
_INVITES = st.one_of(st.builds(str.__add__, _HOSTS, st.sampled_from(["+", "joinchat/", "JoinChat/"])),
                     st.sampled_from(["tg://join?invite=", "TG://JOIN?invite=", "tg://join?foo=1&invite="]))


@given(_INVITES, st.text(alphabet="ABCdef0123456789_-", min_size=8, max_size=40), st.sampled_from(["join ", "@mash "]))
def test_cut_link_cuts_an_invite_hash_after_other_words(start: str, secret: str, before: str) -> None:
    """«/mute_channel join t.me/+HASH» echoed the hash: only a link at the very start was cut."""
    shown = cut_link(before + start + secret)
    assert shown.startswith(before) and secret not in shown.replace(start, "") and shown.endswith("…")


@given(_INVITES, st.text(alphabet="ABCdef0123456789_-", min_size=8, max_size=40), st.sampled_from(["", "/", " "]))
def test_cut_link_never_shows_an_invite_hash_on_any_host(start: str, secret: str, end: str) -> None:
    """telegram.me/+HASH, telegram.dog/joinchat/HASH and tg://join?invite=HASH were shown whole (only
    t.me was cut): a config or rule error posted to a group chat let every member join."""
    link = start + secret + end
    assert secret not in cut_link(link).replace(start, "") and cut_link(link).endswith("…")
    with pytest.raises(ValueError) as e:
        channel_ref(link, posts=True)
    assert secret not in str(e.value).replace(start, "") and "not a channel" in str(e.value)  # (+digits: a phone)


@given(_HOSTS, st.sampled_from(["tg://proxy?server=1.2.3.4&port=443&secret=", "tg://socks?server=x&pass=",
                                "tg://login?code=", "tg://login?token=", "tg://resolve?phone="]),
       st.text(alphabet="ABCdef0123456789", min_size=8, max_size=40))
def test_a_tg_scheme_link_to_no_channel_is_cut_after_its_kind(host: str, link: str, secret: str) -> None:
    """tg://proxy, tg://login and tg://resolve?phone= links name no channel and show no secret."""
    with pytest.raises(ValueError) as e:
        channel_ref(link + secret)
    assert secret not in str(e.value) and "not a channel" in str(e.value)
    assert cut_link(link + secret) == link.split("?")[0] + "?…"


def test_channel_forms_in_the_config_are_read_alike_or_refused_with_their_line(tmp_path: Path) -> None:
    """Watch and group entries, and alert chats: a link in capitals is its channel; a link that is
    no channel's is one `file:line: key: why` line each (joinchat and proxy were taken as usernames)."""
    c = load_config(write(tmp_path, '[channels]\nwatch = ["T.ME/Mash", "https://t.me/s/mash/123", "t.me/s/mash", '
                                    '"HTTPS://T.ME/shot_shot/5", "https://telegram.me/Baza/7", "Telegram.Dog/rian_ru"]\n'
                                    '[channels.groups]\nmoscow = ["Https://T.me/Moscowach", "telegram.me/s/mash"]\n'
                                    '[alerts]\nchats = ["T.ME/analysts_room", "T.me/team/42", "telegram.me/desk/7", '
                                    '"https://telegram.dog/c/1234567890/42"]\n'))
    assert c.channels == ("mash", "shot_shot", "baza", "rian_ru") and c.groups == {"moscow": ("moscowach", "mash")}
    assert c.chats == ("analysts_room", "team/42", "desk/7", "-1001234567890/42")
    cfg = write(tmp_path, '[channels]\nwatch = ["mash", "t.me/joinchat/AbCdEf"]\n[channels.groups]\n'
                          'moscow = ["t.me/proxy?server=1.2.3.4&port=443&secret=ab"]\n'
                          '[alerts]\nchats = ["t.me/joinchat/12345"]\n')
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert str(e.value).splitlines() == [
        f"{cfg}:2: channels.watch: 't.me/joinchat/…' is an invite link, not a channel: join it with the watching "
        "account, then name the channel by @username or id",
        f"{cfg}:4: channels.groups.moscow: 't.me/proxy?…' is a proxy link, not a channel",
        f"{cfg}:6: alerts.chats: 't.me/joinchat/…' is an invite link, not a channel: join it "
        "with the watching account, then name the channel by @username or id"]


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


@pytest.mark.parametrize("mode, said", [(0o600, None), (0o400, None), (0o644, "read"), (0o640, "read"),
                                        (0o604, "read"), (0o620, "changed")])
def test_a_secrets_file_open_to_other_users_is_named_with_its_fix(tmp_path: Path, mode: int, said: str | None) -> None:
    """As ssh says of a private key: the file, its mode and `chmod 600`; a file only its owner reads gets no word."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'api_id = 7\napi_hash = "{HASH}"\n', encoding="utf-8")
    secrets.chmod(mode)
    c = load_config(write(tmp_path, '[paths]\nsecrets = "secrets.toml"\n'))
    warning = exposed_secrets(c)
    if said is None:
        assert warning is None
    else:
        assert warning == f"{secrets} can be {said} by other users (mode {mode:04o}), and it holds the api_hash: chmod 600 {secrets}"
    assert load_secrets(c, {}).api_id == 7  # used all the same: a running service keeps running
    assert exposed_secrets(load_config(write(tmp_path, '[paths]\nsecrets = "gone.toml"\n'))) is None  # load_secrets says


@pytest.mark.parametrize("held, holds", [("api_hash", "it holds the api_hash"), ("bot_token", "it holds the bot token"),
                                         ("api_hash bot_token", "it holds the api_hash and the bot token"),
                                         ("", "it is where the api_hash and the bot token go")])
def test_the_warning_of_a_secrets_file_open_to_others_names_only_what_it_holds(tmp_path: Path, held: str, holds: str) -> None:
    """The warning said the file «holds the api_hash and the bot token» of a file with no bot token
    in it (a user account alone sends the alerts): it names what the file holds (nothing secret yet:
    what it is for)."""
    values = {"api_hash": f'"{HASH}"', "bot_token": '"123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"'}
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("api_id = 7\n" + "".join(f"{k} = {values[k]}\n" for k in held.split()), encoding="utf-8")
    secrets.chmod(0o644)
    c = load_config(write(tmp_path, '[paths]\nsecrets = "secrets.toml"\n'))
    assert exposed_secrets(c) == (f"{secrets} can be read by other users (mode 0644), and {holds}: "
                                  f"chmod 600 {secrets}")


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


@pytest.mark.parametrize("command", ["run", "login"])
def test_a_session_file_that_cannot_be_used_is_named_not_blamed_on_the_network(tmp_path: Path, command: str) -> None:
    """A folder where the session file should be (or a file the process cannot open) is one line naming
    the file and what is wrong, before anything connects: not «cannot reach Telegram (network…)»."""
    from click.testing import CliRunner

    from bot.cli import cli

    cfg = write(tmp_path, f'[paths]\nsession_dir = "{tmp_path / "s"}"\ndb = "t.db"\nrules = "{ROOT / "rules"}"\n'
                          '[channels]\nwatch = ["mash"]\n')
    session = tmp_path / "s" / "user.session"
    session.mkdir(parents=True)
    env = {"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH}
    r = CliRunner().invoke(cli, [command, "-c", str(cfg)], env=env)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert r.output.strip().splitlines() == [f"error: {session}: is a folder, expected the session file; "
                                             "move it away, then run `tgwatch login`"]
    session.rmdir()
    session.symlink_to(session.name)  # a link to itself: open() fails (as for another user's file, even as root)
    r = CliRunner().invoke(cli, ["login", "-c", str(cfg)], env=env)
    assert r.exit_code == 2 and "Traceback" not in r.output and "network" not in r.output, r.output
    assert r.output.strip().splitlines() == [f"error: {session}: cannot use it for the session (Too many levels of "
                                             "symbolic links): it must be a file the user running tgwatch owns"]


def test_every_run_without_login_says_so_and_never_connects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner
    from telethon import TelegramClient

    from bot.cli import cli
    from bot.config import Config, Secrets
    from bot.live.session import make_client

    connects: list[object] = []

    async def connect(self: TelegramClient) -> None:
        connects.append(self)
        raise ConnectionError("the test has no network")

    monkeypatch.setattr(TelegramClient, "connect", connect)
    env = {"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH}
    fresh, keyless = tmp_path / "fresh", tmp_path / "keyless"
    # what an earlier tgwatch left behind: a session file Telethon saved with no auth key in it
    make_client(Config(session_dir=keyless), Secrets(api_id=1, api_hash=HASH)).session.close()
    for folder in (fresh, keyless):
        cfg = write(tmp_path, f'[paths]\nsession_dir = "{folder}"\ndb = "t.db"\nrules = "{ROOT / "rules"}"\n'
                              '[channels]\nwatch = ["mash"]\n')
        for _ in range(2):  # the first run and every later one
            r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env=env)
            assert r.exit_code == 2, r.output
            assert r.output.count("\n") == 1 and "not logged in: run `tgwatch login" in r.output
    assert connects == []
    assert not (fresh / "user.session").exists() and not (tmp_path / "t.db").exists()


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


def test_a_second_service_on_the_same_database_is_refused(tmp_path: Path) -> None:
    """Two `tgwatch run` on one store, each with its own session folder, would each send every alert."""
    from click.testing import CliRunner

    from bot.cli import cli
    from bot.live.session import database_lock

    cfg = write(tmp_path, f'[paths]\nsession_dir = "{tmp_path / "other"}"\ndb = "{tmp_path / "t.db"}"\n'
                          f'rules = "{ROOT / "rules"}"\n[channels]\nwatch = ["mash"]\n')
    env = {"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH}
    with database_lock(tmp_path / "t.db"):  # the service already running, on another session
        r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env=env)
        assert r.exit_code == 2, r.output
        assert r.output == (f"error: another `tgwatch run` is using the database {tmp_path / 't.db'} (each would send "
                            "every alert); stop it first\n")
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env=env)  # once it stopped: the usual checks
    assert "not logged in" in r.output


def test_a_database_whose_lock_cannot_be_made_names_the_config_file_and_line(tmp_path: Path) -> None:
    """The lock beside paths.db is made only when `run` starts: one it cannot make is still the
    setting's problem, named `file:line: paths.db` as every other bad setting is."""
    from click.testing import CliRunner

    from bot.cli import cli

    db = Path("/proc/tgwatch-config-test.db")  # /proc is a folder that takes no new file, even for root
    if db.exists() or not db.parent.is_dir():
        pytest.skip("needs a /proc that takes no new file")
    cfg = write(tmp_path, f'[paths]\nsession_dir = "{tmp_path / "s"}"\nrules = "{ROOT / "rules"}"\ndb = "{db}"\n'
                          '[channels]\nwatch = ["mash"]\n')
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env={"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH})
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert r.output.startswith(f"error: {cfg}:4: paths.db: cannot lock {db} ("), r.output


def test_a_setting_left_at_its_default_is_not_pinned_to_a_line_of_the_file(tmp_path: Path) -> None:
    """A session folder that could not be made, never set in the file, was named «config.toml:1:
    paths.session_dir» (or the [paths] header's line), sending the analyst to a line that says nothing."""
    cfg = write(tmp_path, '[paths]\nrules = "rules"\n[channels]\nwatch = ["mash"]\n')
    config = load_config(cfg)
    assert config.setting("paths.session_dir") == f"{cfg}: paths.session_dir (not set there: its default)"
    assert config.setting("paths.rules") == f"{cfg}:2: paths.rules"


def test_alert_chats_keep_their_sign_and_names(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, '[alerts]\nchats = ["-1001234567890", -1009876543210, 5001, "@analysts_room", "me"]\n'))
    assert c.chats == (-1001234567890, -1009876543210, 5001, "analysts_room", "me")


def test_alert_chats_may_name_forum_topics_as_their_links_read(tmp_path: Path) -> None:
    c = load_config(write(tmp_path, '[alerts]\nchats = ["@Team/42", "https://t.me/team/43", "-1001234567890/7", '
                                    '"t.me/c/1234567890/8", "@team"]\n'))
    assert c.chats == ("team/42", "team/43", "-1001234567890/7", "-1001234567890/8", "team")
    assert [chat_topic(x) for x in c.chats] == [("team", 42), ("team", 43), (-1001234567890, 7), (-1001234567890, 8),
                                                ("team", None)]


def test_every_bad_setting_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    (tmp_path / "rules").mkdir()  # else `run` names the missing rules folder too, with the rest
    cfg = write(tmp_path, f'[paths]\nsession_dir = "{tmp_path / "s"}"\n[channels]\nwatch = ["mash"]\n'
                          '[alerts]\ntimezone = "Mars/Olympus"\nquiet_hours = "25:00-07:00"\n'
                          '[schedule]\npoll_minutes = 0\nbogus = 1\n')
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert [line.split(": ")[0:2] for line in str(e.value).splitlines()] == [
        [f"{cfg}:6", "alerts.timezone"], [f"{cfg}:7", "alerts.quiet_hours"],
        [f"{cfg}:9", "schedule.poll_minutes"], [f"{cfg}:10", "schedule.bogus"]]
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env={"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH})
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = r.stderr.splitlines()
    assert len(lines) == 4 and all(line.startswith(f"error: {cfg}:") for line in lines)


def test_a_dotted_key_is_reported_on_its_own_line(tmp_path: Path) -> None:
    cfg = write(tmp_path, '[channels]\nwatch = ["mash"]\n\nalerts.timezone = "Europe/Moscow"\n')
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert str(e.value).startswith(f"{cfg}:4: channels.alerts: unknown setting")


@pytest.mark.parametrize("db, rules, says", [
    ("nowhere/t.db", "rules", [":2: paths.db: folder ", "nowhere does not exist"]),
    (".", "rules", [":2: paths.db: ", "is a folder"]),
    ("t.db", "no-rules", [":3: paths.rules: no such folder "]),
    ("t.db", "rules/desertion.toml", [":3: paths.rules: ", "is a file", "the folder that holds the rule files"]),
])
def test_run_names_a_missing_db_folder_or_rules_folder_before_connecting(tmp_path: Path, db: str, rules: str,
                                                                         says: list[str]) -> None:
    from click.testing import CliRunner

    from bot.cli import cli

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "desertion.toml").write_text('[desertion]\nquery = "дезертир"\n', encoding="utf-8")
    cfg = write(tmp_path, f'[paths]\ndb = "{db}"\nrules = "{rules}"\nsession_dir = "{tmp_path / "s"}"\n'
                          '[channels]\nwatch = ["mash"]\n')
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env={"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH})
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {cfg}"), r.output
    assert all(s in r.stderr for s in says), r.stderr
    assert not (tmp_path / "s").exists()  # stopped before any session was touched


def test_a_posts_link_names_its_channel_in_watch_and_groups(tmp_path: Path) -> None:
    """As a rule's channels take it (rules/README.md): the link every alert and export gives."""
    c = load_config(write(tmp_path, '[channels]\nwatch = ["https://t.me/mash/123", "t.me/c/1117628569/48217"]\n'
                                    '[channels.groups]\nsouth = ["t.me/s/shot_shot/9/"]\n'))
    assert c.channels == ("mash", 1117628569) and c.groups == {"south": ("shot_shot",)}


def test_a_posts_link_as_telegram_copies_it_names_its_channel(tmp_path: Path) -> None:
    """«Copy Post Link» on an album's item gives ?single, a comment's link ?comment=N: still the channel."""
    c = load_config(write(tmp_path, '[channels]\nwatch = ["https://t.me/Kuban_Online/501?single", '
                                    '"t.me/c/1117628569/48217?comment=7"]\n'))
    assert c.channels == ("kuban_online", 1117628569)


def test_run_names_bad_settings_missing_folders_and_no_channels_at_once(tmp_path: Path) -> None:
    """README: every bad setting at once, one line each; for `run`, also the database or rules folder."""
    from click.testing import CliRunner

    from bot.cli import cli

    cfg = write(tmp_path, f'[paths]\ndb = "nowhere/t.db"\nrules = "no-rules"\nsession_dir = "{tmp_path / "s"}"\n'
                          '[alerts]\ntimezone = "Mars/Olympus"\n')
    r = CliRunner().invoke(cli, ["run", "-c", str(cfg)], env={"TGWATCH_API_ID": "1", "TGWATCH_API_HASH": HASH})
    lines = r.stderr.splitlines()
    assert r.exit_code == 2 and all(line.startswith(f"error: {cfg}:") for line in lines), r.stderr
    for says in ("paths.db: folder", "paths.rules: no such folder", "channels.watch: lists no channel", "alerts.timezone"):
        assert sum(says in line for line in lines) == 1, (says, r.stderr)
    assert not (tmp_path / "s").exists()
    assert load_config(write(tmp_path, "[alerts]\ntimezone = \"UTC\"\n")).channels == ()  # `login` needs none


def test_a_secret_in_the_config_is_named_where_it_goes_and_never_echoed(tmp_path: Path) -> None:
    """api_hash above every section and bot_token inside [alerts]: each refused at its own line, the
    error saying where secrets go, never quoting the value."""
    token = "123456:" + "A" * 35
    p = write(tmp_path, f'api_hash = "{HASH}"\n\n[alerts]\nbot_token = "{token}"\n')
    with pytest.raises(ConfigError) as e:
        load_config(p)
    text = str(e.value)
    assert f"{p}:1: api_hash:" in text and "TGWATCH_API_HASH" in text, text
    assert f"{p}:4: alerts.bot_token:" in text and "TGWATCH_BOT_TOKEN" in text, text
    assert HASH not in text and token not in text, text


@pytest.mark.parametrize("text, line, said", [
    (f'api_id = 7\napi_hash = "{HASH}"\nbot_tokn = "123:{"B" * 35}"\n', 3, "unknown key 'bot_tokn': did you mean 'bot_token'?"),
    (f'[telegram]\napi_id = 7\napi_hash = "{HASH}"\n', 1, "unknown key 'telegram'"),  # keys under a section are not read
    (f'api_id = 7\napi_hash = "{HASH}"\n"{HASH}" = 1\n', 3, "an unknown key"),  # a key shaped like a secret is not shown
])
def test_an_unknown_key_in_the_secrets_file_is_one_line_naming_its_line(tmp_path: Path, text: str, line: int,
                                                                        said: str) -> None:
    """A misspelt key was read as missing: the bot token silently unused (no chat), or «not set» said of
    a key the file has. Now the file's line and the key, never a value."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(text, encoding="utf-8")
    c = load_config(write(tmp_path, '[paths]\nsecrets = "secrets.toml"\n'))
    with pytest.raises(ConfigError) as e:
        load_secrets(c, {})
    assert str(e.value).startswith(f"{secrets}:{line}: {said}") and "\n" not in str(e.value)
    assert HASH not in str(e.value) and "BBBB" not in str(e.value)
