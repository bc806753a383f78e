"""What search takes and refuses, each as one line that every face (search, export --search, /search)
says alike: past 16 words is refused, not cut (a 17th word a post lacked was dropped unsaid), and a
number is that number (`10` listed «106» and «104,1»)."""

from __future__ import annotations

from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.chat.commands import Commands
from bot.cli import cli
from bot.store.db import Store
from bot.store.read import search_posts

from .sample_store import built, sample  # noqa: F401
from .test_chat_review import ask, commands  # noqa: F401
from .test_search_lookalikes import found, stored

TEXTS = {
    1: "Дезертир задержан у воинской части",
    2: "Дезертира нашли дома",
    5: "Курс евро 106, доллар 104,1",
    6: "В 10 часов утра",
}


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = stored(tmp_path / "s.db", TEXTS)
    yield s
    s.close()


def search(store: Store, *words: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, ["search", *words, "--db", str(store.path), "--limit", "all"])
    return r.exit_code, r.stdout, r.stderr


def test_more_than_sixteen_words_is_refused_naming_the_limit(store: Store) -> None:
    sixteen = [f"слово{i}" for i in range(16)]
    assert search(store, *sixteen)[0] == 1  # searched: nothing has them
    code, out, err = search(store, *sixteen, "дезертир")
    assert code == 2 and not out and "too many words: 17" in err and "at most 16" in err and err.count("\n") == 1, err
    assert search(store, '"' + " ".join(sixteen + ["дезертир"]) + '"')[0] == 1  # quoted: one phrase


def test_the_chat_says_what_the_command_line_says(commands: Commands) -> None:  # noqa: F811
    for text, said in [("/search " + " ".join(f"слово{i}" for i in range(17)), "at most 16")]:
        reply = unescape(ask(commands, text).html)
        assert said in reply and "\n" not in reply.strip(), reply


@pytest.mark.parametrize("query, ids", [("10", [6]), ("106", [5]), ("10*", [5, 6]), ('"10 часов"', [6])])
def test_a_number_is_that_number_and_a_prefix_only_with_a_star(store: Store, query: str, ids: list[int]) -> None:
    assert found(store, query) == ids


def test_a_number_found_is_highlighted_alone(store: Store) -> None:
    assert [[h.text[a:b] for a, b in h.spans] for h in search_posts(store, "10")] == [["10"]]
