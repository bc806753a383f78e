"""A chat error reply shortens the analyst's long input it quotes, never the sentence around it: an
apostrophe in the prose («a rule's») is no quote. What the analyst reads is the reply as sent (HTML
parsed into text and entities, as `ChatBot.send` does)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.alert.html import to_parts
from bot.chat.commands import Commands, _clip_quoted

from .sample_store import Sample, sample  # noqa: F401
from .test_chat_review import ask, commands  # noqa: F401


def shown(html: str) -> str:
    return "".join(text for text, _ in to_parts(html))


def test_search_with_or_says_its_whole_error(commands: Commands) -> None:  # noqa: F811
    """«/search дезертир OR часть» answered «…has no OR or NEAR …'s query has them)»: the closing
    quote of 'OR' and the apostrophe of «rule's» were read as a quoted input of 70 characters, cut."""
    text = shown(ask(commands, "/search дезертир OR часть").html)
    assert "has no OR or NEAR (a rule's query has them); search each word on its own" in text, text
    assert "…" not in text and "&#x27;" not in text, text


def test_a_long_input_quoted_in_an_error_is_still_shortened(commands: Commands) -> None:  # noqa: F811
    text = shown(ask(commands, "/mute_channel " + "Канал" * 30 + " 1d").html)
    assert text.startswith("/mute_channel: no stored channel '") and text.endswith("…'"), text
    assert len(text) < 120, text


_PROSE = st.lists(st.sampled_from(["'OR'", "rule's", "NEAR's", "д'Артаньян", "it's", *"search finds posts with every "
                                   "word and has no OR or NEAR ( a query ) , : ;".split()]), max_size=40).map(" ".join)


@given(_PROSE, st.text(st.sampled_from("abcдеж '"), min_size=61, max_size=200), _PROSE)
@settings(max_examples=200, deadline=None)
def test_only_a_quoted_input_is_shortened(before: str, quoted: str, after: str) -> None:
    """A message of prose (apostrophes in words, short quoted inputs) around one long quoted input, as repr() quotes
    it: the input is cut to 60 characters; the prose is kept as it was."""
    message = f"{before} {quoted!r}. {after}"
    clipped = _clip_quoted(message)
    assert clipped.startswith(f"{before} ") and clipped.endswith(f". {after}"), clipped
    if quoted.count("'") == 0:  # (repr quotes one with an apostrophe in double quotes: left as it is)
        assert f"'{quoted[:59]}…'" in clipped, clipped
