"""The chat's /test says how often each term hit and where («×2 at 0, 17»): one count per occurrence
of a phrase, however many words or parts it has and whichever of them is a typo."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.match.explain import occurrences, term_words
from bot.match.matcher import Matcher
from bot.match.rules import Rule

from .fake_telegram import FakeTelegram
from .test_chat import ask, run, running


def test_a_phrase_with_a_typo_in_one_occurrence_is_counted_apart_not_split(fake: FakeTelegram, tmp_path: Path) -> None:
    """«воинская часть и воинскя часть»: /test said «воинская, часть ← … (form) ×2 at 0, 25» and
    «воинскя ← … (typo)» apart, 25 being the «часть» of the typo's occurrence: the form was found
    once, at 0, and the typo once, at 17."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.toml").write_text('[[rule]]\nname = "unit"\nquery = \'"воинская часть"\'\n', encoding="utf-8")

    async def go() -> str:
        async with running(fake, tmp_path):
            return str((await ask(fake, "/test воинская часть и воинскя часть")).text)

    answer = run(go())
    assert answer.startswith("✅ unit"), answer
    assert "×" not in answer and "25" not in answer, answer
    assert "(form)" in answer and "(typo)" in answer, answer


_SPELLINGS = {'"в/ч"': ["в/ч", "(в/ч)"], '"Су-34"': ["Су-34", "Су34", "СУ-34"],
              '"воинская часть"': ["воинская часть", "воинской части", "воинскя часть", "воинская чать"]}


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(_SPELLINGS)), st.data())
def test_each_written_occurrence_of_a_phrase_is_one(term: str, data: st.DataObject) -> None:
    """However a phrase is written each time (parts, glued, inflected, a typo in a word), next to
    each other or apart, it is counted once per occurrence, by /test and by the back-test's words."""
    written = data.draw(st.lists(st.sampled_from(_SPELLINGS[term]), min_size=1, max_size=4))
    gaps = data.draw(st.lists(st.sampled_from([" ", ", ", " и ", " потом "]), min_size=len(written), max_size=len(written)))
    text = "".join(w + g for w, g in zip(written, gaps)) + "конец"
    (m,) = Matcher([Rule.from_query("r", term)]).match(text)
    hits = [(h.term, h.form, h.start, h.end, h.score, h.kind) for h in m.hits]
    runs = occurrences(text, hits)
    assert len(runs) == len(written), (text, runs)
    assert set(term_words(text, hits)[term]) == {w.strip("()").casefold() for w in written}, text
