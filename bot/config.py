"""The service configuration (a TOML file) and the secrets (environment or a secrets file).

Every mistake is a `ConfigError` printable as one line `file:line: key: message`; secrets never
appear in an error, a repr or a log line.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Callable, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import tomlread
from .guess import meant
from .post import TG_LINK, cut_link, link_channel, not_a_channel, t_me_lower

__all__ = ["Config", "ConfigError", "Secrets", "chat_topic", "exposed_secrets", "load_config", "load_secrets",
           "ENV_API_ID", "ENV_API_HASH", "ENV_BOT_TOKEN", "ENV_2FA_PASSWORD"]

ENV_API_ID = "TGWATCH_API_ID"
ENV_API_HASH = "TGWATCH_API_HASH"
ENV_BOT_TOKEN = "TGWATCH_BOT_TOKEN"
ENV_2FA_PASSWORD = "TGWATCH_2FA_PASSWORD"  # `tgwatch login` only, where no terminal can take it typed

_CHANNEL_RE = re.compile(rf"^(?:{TG_LINK}(?:s/)?)?@?([A-Za-z][A-Za-z0-9_]{{3,31}})/?$")
_ID_RE = re.compile(r"^-?\d{5,16}$")
# A forum topic of an alert chat: @team/42, t.me/team/42 (a public group's topic link), -1001234567890/42,
# or t.me/c/1234567890/42 (a private group's topic link).
_TOPIC_RE = re.compile(rf"^\s*(?:{TG_LINK}(c/)?)?(@?[A-Za-z][A-Za-z0-9_]{{3,31}}|-?\d{{5,16}})/(\d{{1,10}})/?\s*$")


T = TypeVar("T")

# What a secret looks like, wherever it was pasted: my.telegram.org's api_hash, BotFather's bot token,
# a Telethon string session (a "1" and ~350 URL-safe base64 characters).
_SECRET_RE = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{32}(?![0-9A-Fa-f])|\d+:[A-Za-z0-9_-]{30,}"
                        r"|(?<![A-Za-z0-9_-])1[A-Za-z0-9_-]{200,}=*")


class ConfigError(Exception):
    """A bad setting: `file:line: key: message`; a file with several gives one such line each,
    in the order of the file (`line` sorts them)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Config:
    """Every setting of `tgwatch run`, validated; paths are resolved against the config's folder."""

    path: Path | None = None
    db: Path = Path("tgwatch.db")
    rules: Path = Path("rules")
    session_dir: Path = Path("~/.tgwatch").expanduser()
    secrets: Path | None = None
    channels: tuple[str | int, ...] = ()  # usernames (lower-case, no @) or bare ids
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    chats: tuple[str | int, ...] = ("me",)  # "me", usernames, ids, and CHAT/TOPIC strings (`chat_topic`)
    analysts: tuple[int, ...] = ()
    send_via: str = "user"  # user | bot
    edit_every_seconds: float = 60.0
    quiet_hours: tuple[time, time] | None = None
    timezone: str = "UTC"
    digest: str = "hourly"  # hourly | daily
    digest_at: time = time(9, 0)
    poll_minutes: float = 5.0
    story_window_hours: float = 48.0
    resolve_delay_seconds: float = 2.0
    edit_lookback: int = 20
    retention_days: int = 30
    heartbeat_at: time = time(9, 0)
    silence_factor: float = 6.0
    lines: _Lines | None = field(default=None, repr=False, compare=False)  # where each setting is in `path`

    def setting(self, name: str) -> str:
        """A setting (`paths.db`) as an error names it, `file:line: paths.db`, so a problem found
        after loading (a folder that cannot be made) points at the line as the others do."""
        if self.path is None or self.lines is None:
            return name
        section, _, key = name.rpartition(".")
        if (section, key) not in self.lines.where:  # left at its default: no line of the file says it
            return f"{self.path}: {name} (not set there: its default)"
        return f"{self.path}:{self.lines.line(section, key)}: {name}"

    @property
    def session_path(self) -> Path:
        return self.session_dir / "user.session"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Secrets:
    """api_id / api_hash of the user account and the optional bot token; never printed."""

    api_id: int
    api_hash: str = field(repr=False)
    bot_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # the dataclass repr would still name the fields; say only what is set
        return f"Secrets(api_id=<set>, api_hash=<set>, bot_token={'<set>' if self.bot_token else None})"


def _t_me(value: str) -> str:
    """`value` stripped, a t.me link's scheme and host in lower case; ValueError saying why for a
    t.me link no channel can be (an invite, a proxy, a sticker set: `not_a_channel`), the link cut
    (`cut_link`: an invite's hash is the way into a private channel)."""
    if why := not_a_channel(value):
        raise ValueError(f"{cut_link(value)!r} is {why}")
    return t_me_lower(value)


def channel_ref(value: object, *, posts: bool = False) -> str | int:
    """A channel as the config may name it (@name, name, t.me/name in any case, bare or marked id;
    with `posts`, a post's link too: `link_channel`) -> a lower-case username or a bare id; raises
    ValueError, saying why for a t.me link that is no channel's (an invite link)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a username, t.me link or id, got {type(value).__name__}")
    s = _t_me(value)
    if posts and (named := link_channel(s)) is not None:
        s = named  # a post's link (what alerts and exports link to), as the rules' channels take it
    if _ID_RE.match(s):
        n = int(s)
        return -n - 1_000_000_000_000 if n < -1_000_000_000_000 else abs(n)
    m = _CHANNEL_RE.match(s)
    if not m:
        raise ValueError(f"{cut_link(value)!r} is not a channel username, t.me link or id")  # bare +HASH: cut
    return m.group(1).lower()


def chat_topic(chat: str | int) -> tuple[str | int, int | None]:
    """An alert chat as configured -> the chat and its forum topic: "team/42" -> ("team", 42),
    "-1001234567890/42" -> (-1001234567890, 42); a chat without a topic -> (chat, None)."""
    if isinstance(chat, str) and "/" in chat:
        base, _, topic = chat.rpartition("/")
        if topic.isdigit() and base:
            return (int(base) if base.lstrip("-").isdigit() else base), int(topic)
    return chat, None


def _topic_ref(value: str) -> str | None:
    """A configured forum topic as the CHAT/TOPIC string `chat_topic` reads; None when `value` names
    no topic; raises ValueError for topic 0 and for a t.me link no chat can be (`_t_me`)."""
    m = _TOPIC_RE.match(_t_me(value))
    if not m:
        return None
    private, chat, topic = m.groups()
    if private and not chat.lstrip("-").isdigit():
        return None
    if int(topic) == 0:
        raise ValueError(f"{value!r}: topic 0 does not exist (General is topic 1)")
    base = channel_ref(chat)
    if isinstance(base, int):
        base = -1_000_000_000_000 - base  # a group's topics are in a supergroup: its marked id
    return f"{base}/{int(topic)}"


class _Lines:
    """Finds the line of `key =` inside `[section]` of the TOML source, for error messages."""

    def __init__(self, text: str) -> None:
        self.where: dict[tuple[str, str], int] = {}
        section = ""
        for n, line in enumerate(tomlread.key_lines(text), 1):
            s = line.strip()
            if m := re.match(r"^\[\[?(.+?)\]\]?\s*(?:#.*)?$", s):
                section = ".".join(_key_path(m.group(1))) or m.group(1).replace('"', "").replace(" ", "")
                self.where.setdefault((section, ""), n)
            elif m := re.match(r"""^("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*[=.]""", s):  # key = or dotted.key =
                self.where.setdefault((section, next(iter(_key_path(m.group(1))), m.group(1).strip("\"'"))), n)

    def line(self, section: str, key: str = "") -> int:
        """The line of `key` in `section`; else of the table's header, or of the key that makes the
        table (`alerts = {...}`, `groups.moscow = [...]`), nearest first; else 1."""
        if n := self.where.get((section, key)):
            return n
        parts = section.split(".") if section else []
        while parts:
            if n := self.where.get((".".join(parts), "")):
                return n
            last = parts.pop()
            if n := self.where.get((".".join(parts), last)):
                return n
        return 1


def _key_path(written: str) -> list[str]:
    """A TOML key as written (`"a\\nb"`, `channels . groups`) -> its parts as read; [] when not a key."""
    try:
        node: Any = tomlread.loads(f"{written} = 0")
    except tomllib.TOMLDecodeError:
        return []
    parts = []
    while isinstance(node, dict) and len(node) == 1:
        key, node = next(iter(node.items()))
        parts.append(key)
    return parts


class _Reader:
    """Typed access to one section, raising ConfigError with file:line on a bad value."""

    def __init__(self, data: dict[str, Any], lines: _Lines, path: str) -> None:
        self.data, self.lines, self.path = data, lines, path

    def fail(self, section: str, key: str, message: str) -> ConfigError:
        name = ".".join(_printable(part) for part in (section, key) if part)  # ("", key): a key above every section
        line = self.lines.line(section, key)
        return ConfigError(f"{self.path}:{line}: {_unsecret(f'{name}: {message}')}", line)

    def table(self, section: str) -> dict[str, Any]:
        node: Any = self.data
        for part in section.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            raise self.fail(section, "", "expected a table")
        return node

    def get(self, section: str, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = self.table(section).get(key, default)
        if value is default:
            return default
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(section, key, f"expected {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(section, key, f"expected {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def setting_path(self, section: str, key: str, default: str, base: Path) -> Path:
        """A path setting: `~` expanded, relative to `base` (the config's folder); a `~user` for no
        such user (a config from another machine) is the setting's error, not expanduser's RuntimeError."""
        value = self.get(section, key, str, default)
        if "\0" in value:  # no file name has one: expanduser would raise ValueError, a later mkdir too
            raise self.fail(section, key, "a path cannot hold the character U+0000")
        try:
            return _path(base, value)
        except RuntimeError:
            user = Path(value).parts[0]
            raise self.fail(section, key, f"{user} names no user on this machine (~ alone is your home folder)"
                            if user != "~" else "~: no home folder is known here (HOME is not set)") from None

    def number(self, section: str, key: str, default: float, *, low: float, high: float) -> float:
        written = self.get(section, key, (int, float), default)
        try:
            value = float(written)
        except OverflowError:  # an integer past any float: TOML reads it whole
            raise self.fail(section, key, f"must be between {low:g} and {high:g}, got a number of "
                                          f"{len(str(abs(written)))} digits") from None
        if not low <= value <= high:
            raise self.fail(section, key, f"must be between {low:g} and {high:g}, got {value:g}")
        return value

    def integer(self, section: str, key: str, default: int, *, low: int, high: int) -> int:
        """A TOML integer (not a float, not true/false) between low and high."""
        value = self.table(section).get(key, default)
        if isinstance(value, bool):
            raise self.fail(section, key, "expected a whole number, got a boolean")
        if isinstance(value, float):
            raise self.fail(section, key, f"expected a whole number, got {value!r}")
        if not isinstance(value, int):
            raise self.fail(section, key, f"expected a whole number, got {type(value).__name__}")
        if not low <= value <= high:
            raise self.fail(section, key, f"must be between {low} and {high}, got {value}")
        return value

    def clock(self, section: str, key: str, default: time) -> time:
        value = self.get(section, key, str, None)
        if value is None:
            return default
        try:
            return _hhmm(value)
        except ValueError:
            raise self.fail(section, key, f"expected a time like 09:00, got {value!r}") from None

    def choice(self, section: str, key: str, default: str, options: tuple[str, ...]) -> str:
        value = self.get(section, key, str, default)
        if value not in options:
            raise self.fail(section, key, f"expected one of {', '.join(options)}, got {value!r}")
        return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table", bool: "true or false"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if float in kinds:
        kinds = tuple(k for k in kinds if k is not int)
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _hhmm(value: str) -> time:
    m = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError(value)
    return time(int(m.group(1)), int(m.group(2)))


def _path(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _unsecret(text: str) -> str:
    """`text` with anything shaped like a secret (`_SECRET_RE`) replaced: an error quoting a value
    goes to terminals and logs, and a token pasted into the wrong setting is still a token."""
    return _SECRET_RE.sub("(a secret: not shown)", text)


def _printable(text: object) -> str:
    """`text` as an error line shows it: quoted with its escapes when it holds a newline or another
    control character (a quoted key "a\\nb", a path), so each problem stays one line."""
    s = str(text)
    return s if s.isprintable() else repr(s)


def _folder_problem(folder: Path) -> str | None:
    """Why `folder` cannot be (or become) a folder: it, or the nearest part of it that exists, is a file."""
    p = folder
    while not p.exists() and p != p.parent:
        p = p.parent
    if p.exists() and not p.is_dir():
        return (f"{_printable(p)} is a file, not a folder" if p == folder
                else f"{_printable(p)} (in {_printable(folder)}) is a file, not a folder")
    return None


def _not_utf8(path: Path, e: UnicodeDecodeError) -> str:
    """`file:line: not UTF-8 text` for a file that is not text (a database, a UTF-16 save)."""
    line = e.object.count(b"\n", 0, e.start) + 1
    return f"{path}:{line}: not UTF-8 text (byte 0x{e.object[e.start]:02x}); is this the right file? save it as UTF-8"


def load_config(path: str | Path | None, *, run: bool = False) -> Config:
    """Read and validate a config file (None: every default, for quick starts); raises ConfigError.
    With `run`, also what `tgwatch run` needs (`_run_path_problems`, a channel to watch), reported
    with the other bad settings: one run of the command names every problem."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not part of the TOML
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file (copy config.example.toml to start)") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, expected the config file (config.toml)") from None
    except UnicodeDecodeError as e:
        raise ConfigError(_not_utf8(p, e)) from None
    except OSError as e:
        raise ConfigError(f"{p}: cannot read ({e.strerror or e})") from None
    try:
        data = tomlread.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        where = f"{m.group(1)}:{m.group(2)}" if m else "1"
        message = _unsecret(re.sub(r" ?\(at line.*", "", str(e)))  # (tomllib quotes a key twice declared)
        raise ConfigError(f"{p}:{where}: {message}") from None
    r = _Reader(data, _Lines(text), str(p))
    problems: dict[str, ConfigError] = {}  # every bad setting, each once

    def note(error: ConfigError) -> None:
        problems.setdefault(str(error), error)

    def check(read: Callable[[], T], default: T) -> T:
        """`read()`, or `default` with its problem noted: one run reports every mistake."""
        try:
            return read()
        except ConfigError as e:
            note(e)
            return default

    known = {"paths": {"db", "rules", "session_dir", "secrets"},
             "channels": {"watch", "groups"},
             "alerts": {"chats", "analysts", "send_via", "edit_every_seconds", "quiet_hours", "timezone", "digest", "digest_at"},
             "schedule": {"poll_minutes", "story_window_hours", "resolve_delay_seconds", "edit_lookback", "retention_days",
                          "heartbeat_at", "silence_factor"}}
    for section, value in data.items():
        if section in _SECRET_KEYS:
            note(r.fail("", section, _secret_in_config(section)))
        elif section not in known:
            note(r.fail(section, "", f"unknown section{meant(section, known)} (expected {', '.join(known)})"))
        elif not isinstance(value, dict):
            note(r.fail(section, "", "expected a table"))
        else:
            for key in value:
                if key in _SECRET_KEYS:
                    note(r.fail(section, key, _secret_in_config(key)))
                elif key not in known[section]:
                    note(r.fail(section, key, f"unknown setting{meant(key, known[section])} "
                                              f"(expected one of {', '.join(sorted(known[section]))})"))
    base = p.resolve().parent

    def channels(section: str, key: str, values: Any) -> tuple[str | int, ...]:
        if not isinstance(values, list):
            raise r.fail(section, key, "expected a list of channels")
        out: list[str | int] = []
        for v in values:
            try:
                out.append(channel_ref(v, posts=True))
            except ValueError as e:
                raise r.fail(section, key, str(e)) from None
        return tuple(dict.fromkeys(out))

    def groups() -> dict[str, tuple[str, ...]]:
        found: dict[str, tuple[str, ...]] = {}
        spelled: dict[str, str] = {}
        for g, v in r.get("channels", "groups", dict, {}).items():
            name = str(g).casefold()
            if name in spelled:
                note(r.fail("channels.groups", str(g), f"groups {spelled[name]!r} and {g!r} are the same name "
                            "(group names ignore case): merge them or rename one"))
                continue
            spelled[name] = str(g)
            try:
                found[name] = tuple(str(c) for c in channels("channels.groups", str(g), v))
            except ConfigError as e:
                note(e)
        return found

    def chats() -> tuple[str | int, ...]:
        out: list[str | int] = []
        for c in r.get("alerts", "chats", list, ["me"]):
            if c == "me":
                if "me" in out:
                    raise r.fail("alerts", "chats", "'me' is listed twice (each alert would be sent to it twice)")
                out.append("me")
                continue
            try:
                topic = _topic_ref(c) if isinstance(c, str) else None
            except ValueError as e:
                raise r.fail("alerts", "chats", str(e)) from None  # names `c`
            if topic is not None:
                chat: str | int = topic
            elif isinstance(c, (int, str)) and re.fullmatch(r"\s*-?\d+\s*", str(c)):
                if len(str(c).strip().lstrip("-")) > 19:  # past any 64-bit id, and int() refuses 4,301 digits
                    raise r.fail("alerts", "chats", f"{str(c).strip()[:12]!r}… ({len(str(c).strip())} characters) is not "
                                 "a chat id (Telegram's have at most 19 digits)")
                chat = int(c)  # a user or chat id, kept as written, quoted or not (groups and channels are negative)
            else:
                try:
                    chat = channel_ref(c)
                except ValueError:
                    raise r.fail("alerts", "chats", f"{c!r} is not \"me\", a @username, a chat id or a forum topic "
                                 "(@group/42, the number ending the topic's link)") from None
            if chat == 0:
                raise r.fail("alerts", "chats", "0 is not a chat id (a user's id is positive, a group's or channel's negative)")
            if chat in out:
                raise r.fail("alerts", "chats", f"{c!r} is listed twice (each alert would be sent to it twice)")
            out.append(chat)
        if not out:
            raise r.fail("alerts", "chats", "name at least one chat (\"me\" is your Saved Messages)")
        return tuple(out)

    def analysts() -> tuple[int, ...]:
        ids = r.get("alerts", "analysts", list, [])
        if not all(isinstance(a, int) and not isinstance(a, bool) and a > 0 for a in ids):
            raise r.fail("alerts", "analysts", "expected a list of numeric Telegram user ids")
        too_long = next((a for a in ids if a >= 1 << 63), None)  # Telegram's ids are 64-bit
        if too_long is not None:
            raise r.fail("alerts", "analysts", f"{len(str(too_long))} digits is no Telegram user id (they have at most 19): "
                         "the bot would answer nobody by it")
        return tuple(ids)

    def quiet_hours() -> tuple[time, time] | None:
        quiet = r.get("alerts", "quiet_hours", str, None)
        if quiet is None:
            return None
        try:
            a, b = quiet.split("-")
            span = (_hhmm(a), _hhmm(b))
        except ValueError:
            raise r.fail("alerts", "quiet_hours", f"expected a span like 23:00-07:00, got {quiet!r}") from None
        if span[0] == span[1]:
            raise r.fail("alerts", "quiet_hours", f"{quiet!r} starts and ends at the same time, so it is never quiet: "
                                                  "give a span like 23:00-07:00, or remove the setting")
        return span

    def timezone() -> str:
        tz = r.get("alerts", "timezone", str, "UTC")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a region's folder (America), a name too long
            raise r.fail("alerts", "timezone", f"unknown time zone {tz!r} (e.g. Europe/Moscow)") from None
        return tz

    def session_dir() -> Path:
        folder = r.setting_path("paths", "session_dir", "~/.tgwatch", base)
        if problem := _folder_problem(folder):
            raise r.fail("paths", "session_dir", f"{problem} (the folder for the Telegram sessions)")
        return folder

    watch: tuple[str | int, ...] = check(lambda: channels("channels", "watch", r.get("channels", "watch", list, [])), ())
    group_map: dict[str, tuple[str, ...]] = check(groups, {})
    chat_ids = check(chats, None)
    analyst_ids = check(analysts, None)
    send_via = check(lambda: r.choice("alerts", "send_via", "user", ("user", "bot")), "user")
    if send_via == "bot" and chat_ids is not None and "me" in chat_ids:
        note(r.fail("alerts", "chats", "\"me\" (Saved Messages) exists only for the user account; "
                    "with send_via = \"bot\" name the analysts' chat ids"))
    if send_via == "bot" and analyst_ids == ():
        alerts: dict[str, Any] = check(lambda: r.table("alerts"), {})
        key = "analysts" if "analysts" in alerts else "send_via"
        note(r.fail("alerts", key, "send_via = \"bot\" needs the analysts' Telegram user ids in "
                    "alerts.analysts (the bot answers nobody else, so no one could use its chat)"))
    secrets = check(lambda: r.setting_path("paths", "secrets", "", base) if r.get("paths", "secrets", str, None) else None,
                    None)
    config = Config(
        path=p,
        db=check(lambda: r.setting_path("paths", "db", "tgwatch.db", base), base / "tgwatch.db"),
        rules=check(lambda: r.setting_path("paths", "rules", "rules", base), base / "rules"),
        session_dir=check(session_dir, Config.session_dir),
        secrets=secrets,
        channels=watch, groups=group_map, chats=chat_ids or ("me",), analysts=analyst_ids or (), send_via=send_via,
        edit_every_seconds=check(lambda: r.number("alerts", "edit_every_seconds", 60, low=0, high=86400), 60.0),
        quiet_hours=check(quiet_hours, None), timezone=check(timezone, "UTC"),
        digest=check(lambda: r.choice("alerts", "digest", "hourly", ("hourly", "daily")), "hourly"),
        digest_at=check(lambda: r.clock("alerts", "digest_at", time(9, 0)), time(9, 0)),
        poll_minutes=check(lambda: r.number("schedule", "poll_minutes", 5, low=0.1, high=1440), 5.0),
        story_window_hours=check(lambda: r.number("schedule", "story_window_hours", 48, low=0.1, high=24 * 30), 48.0),
        resolve_delay_seconds=check(lambda: r.number("schedule", "resolve_delay_seconds", 2, low=0, high=600), 2.0),
        edit_lookback=check(lambda: r.integer("schedule", "edit_lookback", 20, low=0, high=100), 20),
        retention_days=check(lambda: r.integer("schedule", "retention_days", 30, low=0, high=36500), 30),
        heartbeat_at=check(lambda: r.clock("schedule", "heartbeat_at", time(9, 0)), time(9, 0)),
        silence_factor=check(lambda: r.number("schedule", "silence_factor", 6, low=1, high=1000), 6.0),
        lines=r.lines,
    )
    if run:
        for found_on_disk in _run_path_problems(config, r.lines, str(p)):
            note(found_on_disk)
        if not watch and not any(": channels.watch: " in str(pr) for pr in problems.values()):
            note(r.fail("channels", "watch", "lists no channel to watch"))
    if problems:
        found = sorted(problems.values(), key=lambda e: e.line)  # stable: one line's problems as found
        raise ConfigError("\n".join(map(str, found)), found[0].line)
    return config


def _run_path_problems(config: Config, lines: _Lines, where: str) -> list[ConfigError]:
    """What `tgwatch run` needs on disk besides the sessions: the database's folder (the file
    itself is created) and the rules; one `file:line: paths.key: problem` error each."""
    problems = []
    db, rules = _printable(config.db), _printable(config.rules)
    if config.db.is_dir():
        problems.append(("db", f"{db} is a folder; name the database file in it, e.g. {_printable(config.db / 'tgwatch.db')}"))
    elif not config.db.parent.is_dir():
        problems.append(("db", f"folder {_printable(config.db.parent)} does not exist (create it, or name a file in a "
                               "folder that does)"))
    if not config.rules.exists():
        problems.append(("rules", f"no such folder {rules} (the watch rules: copy the shipped rules/ folder there)"))
    elif not config.rules.is_dir():  # (run would watch no rule at all, and alert nothing)
        problems.append(("rules", f"{rules} is a file; name the folder that holds the rule files "
                                  f"(*.toml), e.g. {_printable(config.rules.parent)}"))
    return [ConfigError(f"{where}:{line}: paths.{key}: {_unsecret(message)}", line)
            for key, message in problems for line in [lines.line("paths", key)]]


# The secrets' keys in the secrets file, and their environment variables: never read from the config,
# which is shared and backed up (a newcomer pastes my.telegram.org's api_id/api_hash at its top).
_SECRET_KEYS = {"api_id": ENV_API_ID, "api_hash": ENV_API_HASH, "bot_token": ENV_BOT_TOKEN}


def _secret_in_config(key: str) -> str:
    """What to say about a secret written into the config (never its value)."""
    return (f"a secret, never read from the config: set {_SECRET_KEYS[key]} in the environment or put {key} in "
            f"the secrets file named by paths.secrets, and delete it here")


def load_secrets(config: Config, environ: dict[str, str] | None = None, *, user_only: bool = False) -> Secrets:
    """api_id, api_hash and the bot token from the environment, else from the secrets file;
    raises ConfigError naming what is missing (never the values). `user_only` (`login`, which
    signs in the user account alone) neither reads nor asks for the bot token."""
    env = os.environ if environ is None else environ
    found: dict[str, Any] = {}
    if config.secrets is not None:
        try:
            text = config.secrets.read_text(encoding="utf-8-sig")
            found = tomlread.loads(text)
        except FileNotFoundError:
            raise ConfigError(f"{config.secrets}: no such secrets file (named by paths.secrets)") from None
        except tomllib.TOMLDecodeError as e:
            line = re.search(r"at line (\d+)", str(e))
            raise ConfigError(f"{config.secrets}:{line.group(1) if line else 1}: not valid TOML") from None
        except IsADirectoryError:
            raise ConfigError(f"{config.secrets}: is a folder, expected the secrets file (named by paths.secrets)") from None
        except UnicodeDecodeError:  # never shown: the bytes may be a secret
            raise ConfigError(f"{config.secrets}: not UTF-8 text; save the secrets file as UTF-8") from None
        except OSError as e:
            raise ConfigError(f"{config.secrets}: cannot read ({e.strerror or type(e).__name__})") from None
        _unknown_secret_keys(config.secrets, text, found)
    where = f"{config.secrets}" if config.secrets else "the secrets file (paths.secrets)"
    api_id = env.get(ENV_API_ID) or found.get("api_id")
    api_hash = env.get(ENV_API_HASH) or found.get("api_hash")
    token = None if user_only else env.get(ENV_BOT_TOKEN) or found.get("bot_token") or None
    if not api_id or not api_hash:
        missing = " and ".join(n for n, v in ((ENV_API_ID, api_id), (ENV_API_HASH, api_hash)) if not v)
        raise ConfigError(f"{missing} not set: set the environment variable, or put api_id/api_hash in {where} "
                          "(get them at https://my.telegram.org)")
    api_id = _api_id(api_id)
    if api_id is None:
        raise ConfigError(f"{ENV_API_ID} (or api_id in {where}) must be a whole positive number (my.telegram.org shows it)")
    if not isinstance(api_hash, str) or not re.fullmatch(r"[0-9a-fA-F]{32}", api_hash):
        raise ConfigError(f"{ENV_API_HASH} (or api_hash in {where}) must be 32 hexadecimal characters")
    if token is not None and (not isinstance(token, str) or not re.fullmatch(r"\d+:[A-Za-z0-9_-]{30,}", token)):
        raise ConfigError(f"{ENV_BOT_TOKEN} (or bot_token in {where}) does not look like a bot token (123456:ABC...)")
    if config.send_via == "bot" and not token and not user_only:
        raise ConfigError(f"alerts.send_via = \"bot\" needs {ENV_BOT_TOKEN} (or bot_token in {where})")
    return Secrets(api_id=api_id, api_hash=api_hash, bot_token=token)


def _unknown_secret_keys(path: Path, text: str, found: dict[str, Any]) -> None:
    """Refuse a key of the secrets file that is none of `_SECRET_KEYS` (`bot_tokn`, a `[telegram]`
    table): read as missing, it left the bot unstarted, or «not set» named a key the file has.
    Names the key and its line, never a value (a key too long or odd to be a typo is not shown)."""
    for key, value in found.items():
        if key not in _SECRET_KEYS:
            line = _Lines(text).line(key) if isinstance(value, dict) else _Lines(text).line("", key)
            shown = f"unknown key {key!r}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9 _-]{0,29}", key) else "an unknown key"
            raise ConfigError(f"{path}:{line}: {shown}{meant(key, _SECRET_KEYS)} (a secrets file "
                              f"holds only {', '.join(_SECRET_KEYS)}, at its top, under no [section])")


def exposed_secrets(config: Config) -> str | None:
    """Why the secrets file (paths.secrets) is open to other local users, with the fix (`chmod 600`),
    as ssh says of a private key; None when only its owner can read or change it (or it is missing)."""
    if config.secrets is None:
        return None
    try:
        mode = stat.S_IMODE(config.secrets.stat().st_mode)
    except OSError:  # missing or unreadable: `load_secrets` says so
        return None
    if not mode & 0o077:
        return None
    can = "read" if mode & 0o044 else "changed"
    return (f"{config.secrets} can be {can} by other users (mode {mode:04o}), and {_held_secrets(config.secrets)}: "
            f"chmod 600 {config.secrets}")


def _held_secrets(path: Path) -> str:
    """What the secrets file holds, for `exposed_secrets`: «it holds the api_hash» (and/or the bot
    token), or, with neither (or unreadable: `load_secrets` says why), what it is for."""
    try:
        found = tomlread.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        found = {}
    held = [name for key, name in (("api_hash", "the api_hash"), ("bot_token", "the bot token")) if found.get(key)]
    return f"it holds {' and '.join(held)}" if held else "it is where the api_hash and the bot token go"


def _api_id(value: Any) -> int | None:
    """The api_id as Telegram issues it (a positive 32-bit integer, written bare or quoted), else None:
    1e400, 123.5, true or a list are typing slips to report, not to round or to crash on."""
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,10}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value < 2**31 else None
