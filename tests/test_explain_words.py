"""The matched words analysts read (alerts' «matched:» line, export's matched column, the back-test's
words per term): the post's word alone, beside the term as the analyst meant it."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bot.cli import cli
from bot.match.explain import kinship, matched_words, shown_term, term_words
from bot.match.matcher import Matcher
from bot.match.rules import Rule


def _hits(rule: str, text: str) -> tuple[tuple[str, str, int, int, float, str], ...]:
    (m,) = Matcher([Rule.from_query("r", rule)]).match(text)
    return tuple((h.term, h.form, h.start, h.end, h.score, h.kind) for h in m.hits)


def test_an_emoji_glued_to_a_word_is_not_shown_as_part_of_it() -> None:
    """The corpus opens headlines with an emoji and no space («⚡️План «Ковёр»», «❗️Посольство»):
    export and alerts showed «⚡️План ← план» where `rules test` shows «План»."""
    cases = [("⚡️План «Ковёр» введён в аэропорту Внуково", "план", "План"),
             ("❗️Посольство США закрыто", "посольство", "Посольство"),
             ("✈️Беспилотники над городом", "беспилотник", "Беспилотники ← беспилотник"),
             ("Граница закрыта🔥", "граница", "Граница"),
             ("Ввели режим→границу закрыли", "граница", "границу ← граница")]
    for text, rule, line in cases:
        hits = _hits(rule, text)
        assert matched_words(text, hits) == line, text
        assert term_words(text, hits) == {rule: {line.split(" ← ")[0].casefold(): False}}, text


def test_joined_words_are_still_shown_whole() -> None:
    for text, rule, line in [("Задержан всушник-дезертир", "дезертир", "дезертир"),  # a compound: the part hit
                             ("Ту-22М3 и Су-34", "Ту-22М3 OR Су-34", "Ту-22М3, Су-34"),
                             ("Из (в/ч) 12345 бежали", "в/ч", "в/ч"),
                             ("Бойцы 45-и\u0306 бригады", "=й", "45-и\u0306"),  # й typed as и + breve
                             ("#ДезертирПойман", "дезертир", "ДезертирПойман ← дезертир"),
                             ("«Дезертиры»!", "дезертир", "Дезертиры ← дезертир"),
                             ("Задержан дезертир...Его судят", "дезертир", "дезертир")]:  # an ellipsis with no space
        assert matched_words(text, _hits(rule, text)) == line, text


_MARK = st.sampled_from("\u0301\u0306")  # a stress mark, a breve: part of the letter before
_LETTERS = st.text(st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=5)
_JOINER = st.sampled_from("-/.'’")
_GLUE = st.text(st.sampled_from("⚡❗✈🔥️\u200d#@№₽→%*•✅\"«»()."), max_size=4)  # emoji, marks, quotes


@st.composite
def _written_word(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.tuples(_LETTERS, st.one_of(st.just(""), _MARK)), min_size=1, max_size=3))
    return "".join(draw(_JOINER) * bool(i) + letters + mark for i, (letters, mark) in enumerate(parts))


@given(_GLUE, _written_word(), _GLUE, st.data())
def test_the_shown_word_is_the_written_word_without_what_is_glued_around_it(
        before: str, word: str, after: str, data: st.DataObject) -> None:
    text = f"Сводка: {before}{word}{after} конец"
    at = text.index(word, 8)
    letters = [i for i, c in enumerate(word) if c.isalnum()]
    a = data.draw(st.sampled_from(letters))
    hit = (("=x", word[a], at + a, at + a + 1, 1.0, "exact"),)
    shown = matched_words(text, hit)
    # a hyphen between letters parts a compound («всушник-дезертир»), a full stop before a capital two
    # sentences with the space forgotten («дезертир.Его»): the part hit is the word shown
    def cut(i: int) -> bool:
        marked = unicodedata.category(word[i - 1]) == "Mn"
        if word[i] == "-":
            return word[i + 1].isalpha() and (word[i - 1].isalpha() or marked)
        return word[i] == "." and word[i + 1].isupper() and (word[i - 1].isalnum() or marked)
    cuts = [i for i in range(1, len(word) - 1) if cut(i)]
    word = word[max([i + 1 for i in cuts if i < a], default=0):min([i for i in cuts if i > a], default=len(word))]
    assert shown == word
    assert shown[0].isalnum() and (shown[-1].isalnum() or unicodedata.category(shown[-1]) == "Mn")
    assert list(term_words(text, hit)["=x"]) == [word.casefold().replace("ё", "е")]


def test_a_term_is_shown_without_its_typo_allowance_and_with_what_it_means() -> None:
    """`блокпост~0` showed as «блокпосту ← блокпост~0», and a post's own «блокпост» as «блокпост ←
    блокпост~0»: the allowance says how the word matches, the (typo) mark says when one was used."""
    text = "У блокпосту и на блокпост стянули спецназовцев; дезертирв задержан у КПП, в воинскои части"
    rule = 'блокпост~0 OR спецназ* OR дезертир~1 OR =КПП OR "воинская~1 часть"'
    assert matched_words(text, _hits(rule, text)) == (
        "блокпосту ← блокпост, блокпост, спецназовцев ← спецназ…, дезертирв ← дезертир (typo), КПП, "
        "воинскои, части")
    assert matched_words("ёлка", (("елка~0", "ёлка", 0, 4, 1.0, "form"),)) == "ёлка"  # ё is е, as matching reads it
    assert [shown_term(t) for t in ["блокпост~0", '"воинская~1 часть~2"', "=КПП", "спецназ*", "url:t.me/x~1"]] == [
        "блокпост", '"воинская часть"', "=КПП", "спецназ…", "url:t.me/x~1"]


def test_a_post_word_is_kin_to_the_rule_word_of_its_own_kind() -> None:
    """pymorphy3 files a participle under its verb, so `перекрытый` reaches «перекрыли» and
    `перекрыть` reaches «перекрыта»: kinship says which of the two a word most directly belongs to."""
    from bot.match.morph import default_morphology

    morph = default_morphology()
    for form, verb_first in [("перекрыли", True), ("Перекрыв", True), ("перекрыть", True),
                             ("перекрыта", False), ("перекрытых", False), ("перекрытый", False)]:
        kin = kinship(form, "перекрыть", morph), kinship(form, "перекрытый~1", morph)
        assert kin == ((2, 1) if verb_first else (1, 2)), form
    assert kinship("закрыт", "закрытый", morph) > kinship("закрыт", "закрыть", morph)  # a short adjective
    assert kinship("полка", "полк", morph) == 2 and kinship("полк", "=полк", morph) == 3
    assert kinship("спецназовцев", "спецназ*", morph) == 1 and kinship("режиме", '"режим =КТО"', morph) == 3


def test_a_finite_verb_is_named_after_the_verb_not_its_participle() -> None:
    text = "Въезд перекрыли, дорога перекрыта"
    hits = _hits("въезд NEAR/3 (перекрыть OR перекрытый)", text)
    assert matched_words(text, hits) == "Въезд, перекрыли ← перекрыть, перекрыта ← перекрытый"


def test_the_matched_line_shows_a_wildcard_a_name_and_a_compound_as_an_analyst_reads_them() -> None:
    """Alerts' «matched:» line showed «спецназовцев ← спецназ*» (query syntax, as `~0` was),
    «Калиновского ← калиновский» (a name in lower case, as the rule wrote it) and «всушник-дезертир ←
    дезертир» (a compound as if it were a form of the word its second half is)."""
    cases = [("Кордон из спецназовцев у здания", "кордон AND спецназ*", "Кордон, спецназовцев ← спецназ…"),
             ("Бойцы полка Калиновского ушли", "=полка NEAR/3 калиновский", "полка, Калиновского ← Калиновский"),
             ("Задержан всушник-дезертир", "дезертир", "дезертир"),
             ("Задержан дезертир-всушник", "дезертир", "дезертир"),
             # a sentence's first word: only the dictionary tells a name (a place) from a common noun
             ("Дезертиров задержали", "дезертир", "Дезертиров ← дезертир"),
             ("Азове снова бои", "азов", "Азове ← Азов"),
             ("Нью-Йорк и Ростов-на-Дону", '"нью йорк" OR ростов', "Нью-Йорк, Ростов"),
             ("Полк стоял в Азове", "азов", "Азове ← Азов")]
    for text, rule, line in cases:
        assert matched_words(text, _hits(rule, text)) == line, text


def test_the_export_names_the_word_hit_not_the_next_sentence_nor_the_rest_of_a_hashtag(tmp_path: Path) -> None:
    """«дезертир.Его» (the space after a full stop forgotten, in 89 corpus posts) and «#СЗЧ_ВСУ»: the
    export's matched column named «дезертир.Его ← дезертир» and «СЗЧ_ВСУ», words no rule hit; it names
    what the alert bolds."""
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.toml").write_text('[[rule]]\nname = "d"\nquery = "дезертир OR =СЗЧ"\n', encoding="utf-8")
    src, db = tmp_path / "p.jsonl", tmp_path / "t.db"
    src.write_text(json.dumps({"channel_id": 1, "message_id": 1, "date": "2024-11-20T09:04:00Z",
                               "text": "Задержан дезертир.Его судят, число #СЗЧ_ВСУ растёт"}, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    assert CliRunner().invoke(cli, ["replay", str(src), "--db", str(db), "--rules", str(rules),
                                    "--alerts", "none"]).exit_code == 0
    out = CliRunner().invoke(cli, ["export", "--db", str(db)])
    (row,) = csv.DictReader(io.StringIO(out.stdout.lstrip("\ufeff")))
    assert row["matched"] == "d: дезертир, СЗЧ"
