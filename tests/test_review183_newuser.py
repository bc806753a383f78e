"""A new analyst's first two hours, by README.md and rules/README.md alone (helper-183's review).

Each test is a mistake a newcomer makes, or a line they read, where the tool's answer misleads:
a search-engine habit in a rule's query that loads silently and means something else, a warning
that names the wrong character, a config error that calls a secret a section, a login error
quoting a billion bytes. Real rule and config files under tmp_path, the real CLI via CliRunner."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

from .test_cli_login import FakeDC, config_at

HASH = "0123456789abcdef0123456789abcdef"
_ENV = {"COLUMNS": "80", "NO_COLOR": "1", "FORCE_COLOR": None,
        "TGWATCH_API_ID": "123456", "TGWATCH_API_HASH": HASH}


def tg(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=_ENV)


def rule_file(folder: Path, query: str, *, should_match: str | None = None) -> Path:
    folder.mkdir(exist_ok=True)
    f = folder / "mobilisation.toml"
    text = f"[[rule]]\nname = \"mobilisation\"\nquery = {json.dumps(query, ensure_ascii=False)}\n"
    if should_match is not None:
        text += f"should_match = [{json.dumps(should_match, ensure_ascii=False)}]\n"
    f.write_text(text, encoding="utf-8")
    return f


# -- search-engine habits in a query: each loads with "0 errors" and no warning today -------------

@pytest.mark.parametrize("query, char", [
    # Google/Lucene's NOT: the rule then *requires* повестка, the opposite of what was meant
    ("мобилизация !повестка", "!"),
    # Lucene's boost: the rule becomes the phrase «мобилизация 2» and stops matching «мобилизация»
    ("мобилизация^2", "^"),
    # a one-letter wildcard: the rule becomes the phrase «мобилизац я» and matches no real word
    ("мобилизац?я", "?"),
    # Factiva's / Nexis's proximity: the rule then needs the words «w 5» in the post
    ("мобилизация W/5 повестка", "W/5"),
])
def test_a_search_engine_operator_in_a_query_is_not_loaded_silently(tmp_path: Path, query: str,
                                                                    char: str) -> None:
    """README: other tools' habits (`|`, `&`, `"…"~2`) are errors that say what to write; these
    four change the rule's meaning with "1 rule in 1 file loaded, 0 errors" and no warning."""
    f = rule_file(tmp_path / "rules", query)
    r = tg("rules", "check", f)
    problems = [line for line in r.output.splitlines() if f"{f.name}:3:" in line]
    assert problems and any(char in line for line in problems), r.output


def test_a_bang_before_a_word_does_not_make_the_rule_require_it(tmp_path: Path) -> None:
    """`мобилизация !повестка` (meant: without повестка) must not alert on a post with повестка."""
    rules = tmp_path / "rules"
    rule_file(rules, "мобилизация !повестка")
    r = tg("rules", "test", "Объявлена мобилизация, всем вручают повестки", "--rules", rules)
    assert r.exit_code != 0 or "error" in r.output or "warning" in r.output, r.output


def test_a_doubled_typo_allowance_is_an_error_not_a_phrase_that_never_matches(tmp_path: Path) -> None:
    """`военкомат~1~1` (a slip of the keyboard) loads as the phrase «военкомат 1 1», which no post
    about a военкомат has; only a `should_match` example, when the user wrote one, gives it away."""
    f = rule_file(tmp_path / "rules", "военкомат~1~1")
    r = tg("rules", "check", f)
    assert r.exit_code == 1 and f"{f.name}:3:" in r.output and "~" in r.output, r.output


def test_a_semicolon_between_words_is_not_called_a_comma(tmp_path: Path) -> None:
    """The warning for `мобилизация; повестка` says «a comma is no operator»: the user looks for a
    comma their query does not have."""
    f = rule_file(tmp_path / "rules", "мобилизация; повестка")
    r = tg("rules", "check", f)
    warning = [line.split(f"{f.name}:", 1)[-1] for line in r.output.splitlines() if line.startswith("warning:")]
    assert warning, r.output
    assert "comma" not in warning[0] or "';'" in warning[0] or "semicolon" in warning[0], warning[0]


def test_near_without_its_slash_is_not_told_to_be_upper_case(tmp_path: Path) -> None:
    """`NEAR5` is written in capitals already; the error says «operators are upper case: NEAR/5,
    not 'NEAR5'», so the user looks for a lower-case letter instead of the missing slash."""
    f = rule_file(tmp_path / "rules", "мобилизация NEAR5 повестка")
    r = tg("rules", "check", f)
    assert r.exit_code == 1 and "NEAR/5" in r.output, r.output
    assert "upper case" not in r.output, r.output


# -- the config -----------------------------------------------------------------------------------

def test_api_id_pasted_into_the_config_says_where_secrets_go(tmp_path: Path) -> None:
    """A newcomer pastes my.telegram.org's api_id/api_hash at the top of config.toml. The answer
    today is `api_id: unknown section`: a key is called a section and the user is not told that
    secrets belong in TGWATCH_API_ID / TGWATCH_API_HASH or the secrets file (paths.secrets)."""
    sessions = tmp_path / "sessions"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'api_id = 123456\napi_hash = "{HASH}"\n\n[paths]\nsession_dir = "{sessions}"\n\n'
                   '[channels]\nwatch = ["mash"]\n', encoding="utf-8")
    r = tg("run", "-c", cfg)
    assert r.exit_code == 2, r.output
    line = next(line for line in r.output.splitlines() if "api_id" in line)
    assert "section" not in line, line
    assert "TGWATCH_API_ID" in line or "secrets" in line, line


# -- login behind a proxy: an HTTP server answers instead of Telegram ------------------------------

@pytest.fixture
def http_dc() -> Iterator[FakeDC]:
    server = FakeDC("http")
    yield server
    server.close()


def test_login_answered_by_a_web_proxy_does_not_quote_a_billion_bytes(http_dc: FakeDC, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen on this machine: `cannot reach Telegram …: the connection was closed during the handshake
    (95 of 1347703872 bytes received)`. 1347703872 is «HTTP» read as a length; the user reads a
    number that means nothing. Expected: the line says an HTTP server (a proxy) answered."""
    from bot.live.session import LOGIN_OPTIONS

    monkeypatch.setitem(LOGIN_OPTIONS, "retry_delay", 0)
    r = tg("login", "-c", config_at(tmp_path, http_dc), "--phone", "+447700900123")
    assert r.exit_code == 2 and r.output.startswith("error: cannot reach Telegram"), r.output
    assert not re.search(r"\d{9,}", r.output), r.output
    assert "HTTP" in r.output or "proxy" in r.output.split(":", 2)[-1], r.output
