"""Properties of the config file reader over generated files: any TOML built from the real keys
with any values, and any bytes, gives a Config or a ConfigError of one `file:line: ...` line per
problem, naming a line the file has (the key's own line when a key is named), never echoing a
secret, and never another exception (a traceback is what the analyst would see)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import Config, ConfigError, load_config

KNOWN = {"": ("api_id", "api_hash", "bot_token"),
         "paths": ("db", "rules", "session_dir", "secrets"),
         "channels": ("watch", "groups"),
         "channels.groups": ("moscow", "Moscow", "federal", "watch"),
         "alerts": ("chats", "analysts", "send_via", "edit_every_seconds", "quiet_hours", "timezone", "digest", "digest_at"),
         "schedule": ("poll_minutes", "story_window_hours", "resolve_delay_seconds", "edit_lookback", "retention_days",
                      "heartbeat_at", "silence_factor")}
SECRET_KEYS = ("api_id", "api_hash", "bot_token")

# Secrets as they look: my.telegram.org's api_hash, BotFather's token, a Telethon string session.
API_HASHES = st.text("0123456789abcdef", min_size=32, max_size=32)
BOT_TOKENS = st.builds(lambda n, t: f"{n}:{t}", st.integers(10**5, 10**10),
                       st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=35, max_size=35))
SESSIONS = st.binary(min_size=263, max_size=263).map(lambda b: "1" + base64.urlsafe_b64encode(b).decode())
SECRETS = st.one_of(API_HASHES, BOT_TOKENS, SESSIONS)

_ODD = ["", " ", "me", "@mash", "t.me/mash", "t.me/+AbCdEf", "https://t.me/c/1234567890/42", "-1001234567890/42",
        "@team/0", "hourly", "daily", "user", "bot", "09:00", "24:00", "9:5", "23:00-07:00", "07:00-07:00", "UTC",
        "Europe/Moscow", "America", "Europe", ".", "..", "../etc", "a" * 300, "~", "~/x", "~nosuchuser/x",
        "~\u0000x", "x\u0000y", "x\ny/t.db", "/", "/dev/null", "\u202eevil", "<b>", "1" * 30, "-" + "9" * 25]
_STRINGS = st.one_of(st.sampled_from(_ODD), st.text(max_size=20))


def basic(s: str) -> str:
    """`s` as a TOML basic string."""
    out = []
    for c in s:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def multiline(s: str) -> str:
    """`s` as a TOML multi-line basic string, its newlines written as newlines."""
    return '"""\n' + basic(s)[1:-1].replace("\\u000a", "\n") + '"""'


def _float(x: float) -> str:
    return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(x), repr(x))


SCALARS = st.one_of(
    _STRINGS.map(basic), _STRINGS.map(multiline),
    _STRINGS.filter(lambda s: "'" not in s and not re.search(r"[\x00-\x1f\x7f]", s)).map(lambda s: f"'{s}'"),
    st.integers(-10**20, 10**20).map(str), st.sampled_from(["1" + "0" * 400, "-1" + "0" * 400, "0x7fffffff", "0o17",
                                                           "1_000", "1e400", "-1e400", "0.0", "-0.0"]),
    st.floats().map(_float), st.sampled_from(["true", "false", "1979-05-27", "07:32:00", "1979-05-27T07:32:00Z"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.dictionaries(st.sampled_from(["chats", "digest", "db", "x", "watch"]), inner, max_size=3)
    .map(lambda d: "{" + ", ".join(f"{k} = {v}" for k, v in d.items()) + "}")), max_leaves=6)

HEADERS = st.sampled_from(["[paths]", "[channels]", "[channels.groups]", "[alerts]", "[schedule]", "[ alerts ]",
                           '["schedule"]', "[[alerts]]", "[alert]", "[api_hash]", '["a\\nb"]', "[paths.db]"])


@dataclass
class Doc:
    """A generated config: its text, where each plain key was written, and the secrets in it."""

    text: str = ""
    where: dict[str, int] = field(default_factory=dict)  # "alerts.digest" -> its line
    secrets: list[str] = field(default_factory=list)


def _header_name(header: str) -> str | None:
    """The table a `[...]` header opens, as errors name it; None for `[[...]]` (an array of tables)."""
    if header.startswith("[["):
        return None
    inner = header.strip("[] ")
    return None if "\\" in inner else inner.replace('"', "")


@st.composite
def documents(draw: st.DrawFn) -> Doc:
    doc, section = Doc(), ""
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["header", "key", "key", "key", "secret", "comment", "blank", "junk"]))
        line = doc.text.count("\n") + 1
        if kind == "header":
            header = draw(HEADERS)
            section, text = _header_name(header) or "\0", header  # "\0": keys there are not recorded
        elif kind in ("key", "secret"):
            keys = KNOWN.get(section, ()) or KNOWN[""]
            key = draw(st.one_of(st.sampled_from(keys), st.sampled_from(["x", "poll-minutes", '"a\\nb"', "bot_token"])))
            if kind == "secret":
                secret = draw(SECRETS)
                doc.secrets.append(secret)
                value = draw(st.sampled_from([basic(secret), f"[{basic(secret)}]", basic(f" {secret} "),
                                              basic(f"@{secret}"), basic(f"t.me/{secret}")]))
            else:
                value = draw(VALUES)
            text = f"{key} = {value}"
            if re.fullmatch(r"[A-Za-z_]+", key) and "\0" not in section:
                doc.where.setdefault(f"{section}.{key}".lstrip("."), line)
        elif kind == "comment":
            text = "# " + draw(st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)
                               | st.sampled_from(["\u2028[schedule]", "a\x85b", "\u2029"]))
        elif kind == "blank":
            text = ""
        else:
            text = draw(st.text(max_size=20).map(lambda s: s.replace("\n", " ")))
        doc.text += text + "\n"
    if draw(st.booleans()):
        doc.text = doc.text.rstrip("\n")
    return doc


def problems(path: Path, error: ConfigError, text: str) -> list[tuple[int, str]]:
    """Each line of `error` as (its line number, the rest), checked to name `path` and a line
    `text` has (TOML counts lines at "\\n" alone)."""
    found = []
    lines = text.count("\n") + 1
    for line in str(error).split("\n"):
        m = re.fullmatch(rf"{re.escape(str(path))}:(\d+)(?::\d+)?: (.+)", line)
        assert m, f"not `file:line: problem`: {line!r} (message {str(error)!r})"
        assert 1 <= int(m.group(1)) <= lines, f"line {m.group(1)} of a file of {lines} lines: {line!r}"
        found.append((int(m.group(1)), m.group(2)))
    return found


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("configs")


@settings(max_examples=600, derandomize=True)
@given(doc=documents(), run=st.booleans())
def test_any_config_gives_a_config_or_one_line_per_problem_at_its_own_line(folder: Path, doc: Doc, run: bool) -> None:
    path = folder / "config.toml"
    path.write_text(doc.text, encoding="utf-8")
    try:
        assert isinstance(load_config(path, run=run), Config)
        return
    except ConfigError as e:
        error = e
    for line, rest in problems(path, error, doc.text):
        for name, written in doc.where.items():
            if rest.startswith(f"{name}: "):
                assert line == written, f"{name} is on line {written}, the error says {line}: {str(error)!r}"
        for secret in doc.secrets:
            assert secret not in rest, f"a secret echoed: {rest!r}"


@settings(max_examples=300, derandomize=True)
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=60).map(lambda s: s.encode("utf-16")),
                      st.sampled_from([b"", b"\xef\xbb\xbf", b"\x00" * 10, b"SQLite format 3\x00", b"\xff\xfe[\x00"])))
def test_any_bytes_as_the_config_give_a_config_or_a_config_error(folder: Path, data: bytes) -> None:
    path = folder / "bytes.toml"
    path.write_bytes(data)
    try:
        load_config(path)
    except ConfigError as e:
        text = data.decode("utf-8-sig", "replace")
        problems(path, e, text)
