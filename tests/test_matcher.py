"""Matching posts against rules (bot/match/matcher.py): forms, typos, operators, hits, scope."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import pytest

from bot.match.matcher import Hit, Matcher, _subsequences
from bot.match.morph import Morphology, default_morphology
from bot.match.rules import Rule
from bot.post import Entity, Post

ZWSP = "\u200b"


@lru_cache(maxsize=None)
def matcher(query: str, **kw: object) -> Matcher:
    """One single-rule matcher per query (pymorphy3 dictionaries load once per process)."""
    return Matcher([Rule.from_query("r", query, **kw)])  # type: ignore[arg-type]


def hits(query: str, text: str, **kw: object) -> list[Hit]:
    found = matcher(query, **kw).match(text)
    assert len(found) <= 1
    return list(found[0].hits) if found else []


def matches(query: str, text: str, **kw: object) -> bool:
    return bool(matcher(query, **kw).match(text))


def forms(query: str, text: str, **kw: object) -> list[str]:
    """The surface forms that hit, in text order."""
    return [h.form for h in hits(query, text, **kw)]


# -- word forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Задержан дезертир", "Задержаны трое дезертиров", "вместе с дезертирами",
    "ДЕЗЕРТИРУ грозит срок", "Затримано трьох дезертирів",
])
def test_inflected_forms_match(text: str) -> None:
    found = hits("дезертир", text)
    assert [h.kind for h in found] == ["form"]
    assert found[0].form.lower().startswith("дезертир")


@pytest.mark.parametrize("query, text", [
    ("Пригожин", "встреча с Пригожиным"), ("Пригожин", "вдова Пригожиной"), ("Пригожин", "семья Пригожиных"),
    ("тероборона", "бойцы теробороны"), ("тероборона", "с теробороной"),
])
def test_russian_forms_of_a_word_only_the_ukrainian_dictionary_holds(query: str, text: str) -> None:
    """«Пригожин» is in the Ukrainian dictionary (an indeclinable feminine surname) but not the
    Russian one: the Russian reading of it as a dictionary form still gives its Russian forms."""
    assert [h.kind for h in hits(query, text)] == ["form"]


@pytest.mark.parametrize("query, text", [
    ("об'єкт", "удар по обєктах енергетики"), ("з'явитися", "у місті зявився блокпост"),
    ("зв'язок", "зник звязок"), ("об'єкт", "удар по об’єктах"),
])
def test_ukrainian_word_without_its_apostrophe(query: str, text: str) -> None:
    """«обєктах» typed without the apostrophe is in the Ukrainian dictionary as a distorted
    spelling of its own (so no typo of об'єкт either): a form of the word, as with it."""
    assert [h.kind for h in hits(query, text)] == ["form"]


def test_english_forms_match() -> None:
    assert forms("deserter", "Two deserters were detained") == ["deserters"]
    assert forms("deserter", "A deserter was detained") == ["deserter"]


def test_english_words_expand_in_english() -> None:
    assert matches("deserter", "Two deserters were detained")


def test_other_words_do_not_match() -> None:
    assert not matches("дезертир", "Рецепт десерта из тыквы")
    assert not matches("дезертир", "Караван пересёк пустыню")


def test_exact_form_matches_that_form_only() -> None:
    assert forms("=полком", "командовал полком") == ["полком"]
    assert not matches("=полком", "командир полка")
    assert not matches("=полком", "полк")
    assert [h.kind for h in hits("=СОЧ", "Дело о СОЧ возбуждено")] == ["exact"]
    assert not matches("=СОЧ", "Отдых в Сочи")


def test_exact_form_in_capitals_matches_capitals_only() -> None:
    """`=КТО` is the counter-terrorist regime, not the pronoun of one post in thirty («кто»)."""
    assert forms("=КТО", "В Курской области введён режим КТО") == ["КТО"]
    assert forms("=КТО", "ВВЕДЁН РЕЖИМ КТО") == ["КТО"]
    assert not matches("=КТО", "Трамп введёт пошлины для тех, кто откажется от доллара")
    assert not matches("=КТО", "Кто это сделал?")
    assert forms('"режим =КТО"', "отменён режим КТО") == ["режим", "КТО"]
    assert not matches('"режим =КТО"', "киевский режим: кто-то из них")
    assert matches("=кто", "Кто это сделал?")  # written in lower case: case is folded, as for every word
    assert matches("КТО", "кто-то")  # without '=', a word in capitals is the word (rules check warns)
    assert matches("=В", "в городе")  # one letter is no abbreviation: case folded


def test_english_possessive_is_the_word() -> None:
    """«Russia's», «NATO’s»: the word itself (the apostrophe that keeps об'єкт one word made them
    one token, found only as a typo of an unrelated form, and not at all without typos)."""
    assert [h.kind for h in hits("Russia", "Russia's army")] == ["form"]
    assert forms("Russia", "Russia's army", typos=0) == ["Russia's"]
    assert forms("child", "children's hospital") == ["children's"]
    assert forms("=NATO", "NATO’s summit") == ["NATO’s"]  # capitals: the possessive's s is no word
    assert forms("Iran~0", "Iran's drones") == ["Iran's"]
    assert forms("=Iran's", "Iran's drones") == ["Iran's"]  # a rule may write it
    assert not matches('"Ukrainian army"', "Ukraine's army")  # the word, no typo of another
    assert not matches("=NATO", "Nato's summit")


def test_prefix_matches_words_starting_with_it() -> None:
    assert forms("эвакуац*", "Эвакуация жителей и эвакуационный пункт") == ["Эвакуация", "эвакуационный"]
    assert [h.kind for h in hits("эвакуац*", "эвакуация")] == ["prefix"]
    assert not matches("эвакуац*", "эвакуировали жителей")



def test_prefixes_of_several_lengths_each_match() -> None:
    m = Matcher([Rule.from_query("a", "эвак* AND эвакуац*"), Rule.from_query("b", "эвакуацио*")])
    assert [x.rule for x in m.match("Эвакуационный пункт")] == ["a", "b"]
    assert [x.rule for x in m.match("эвакуация")] == ["a"]
    assert not m.match("эва эвакуировали")

# -- phrases, NEAR, NOT ---------------------------------------------------------------------------


def test_phrase_matches_its_words_in_order_in_any_form() -> None:
    assert forms('"воинская часть"', "Командир воинской части задержан") == ["воинской", "части"]
    assert not matches('"воинская часть"', "Части воинской славы")
    assert not matches('"воинская часть"', "воинская слава и часть")


def test_near_within_and_beyond_the_distance() -> None:
    q = "полк NEAR/2 командир"
    assert matches(q, "полк командир")
    assert matches(q, "командир полка")  # either order
    assert matches(q, "полк и командир")  # positions two apart
    assert not matches(q, "полк и его командир")  # three apart
    assert matches("полк NEAR/3 командир", "полк и его командир")


def test_near_is_checked_per_occurrence() -> None:
    text = "полк ушёл на учения, а потом приехал новый командир и ещё раз полк"
    assert matches("полк NEAR/2 командир", text) is False
    assert matches("полк NEAR/4 командир", text)


def test_one_word_may_stand_on_both_sides_of_a_near() -> None:
    # As rules/README.md says: NEAR is no way to ask for two mentions.
    assert forms("полк NEAR/3 полк", "Полк вышел на позиции") == ["Полк"]
    assert forms('"воинская часть" NEAR/2 часть', "Воинская часть ушла") == ["Воинская", "часть"]


def test_nested_near_in_a_long_post_finds_the_pair_that_is_near() -> None:
    # Hundreds of «полк командир» pairs before the one next to «дезертир».
    assert matches("(полк NEAR/1 командир) NEAR/1 дезертир", "полк командир " * 150 + "дезертир")


def test_near_in_a_long_post_reports_every_word_that_hits() -> None:
    assert len(hits("полк NEAR/2 командир", "полк командир " * 300)) == 600


def test_not_excludes() -> None:
    for q in ("полк -бессмертный", "полк NOT бессмертный", 'полк -"бессмертный полк"'):
        assert matches(q, "Полк вышел на позиции"), q
        assert not matches(q, "Бессмертный полк пройдёт онлайн"), q


def test_rule_exclusions_drop_a_match() -> None:
    q = "полк"
    assert matches(q, "Бессмертный полк пройдёт онлайн")
    assert not matches(q, "Бессмертный полк пройдёт онлайн", exclude=('"бессмертный полк"',))
    assert matches(q, "Полк вышел на позиции", exclude=('"бессмертный полк"',))


def test_and_needs_every_part() -> None:
    assert matches("полк ВСУ", "Полк ВСУ отошёл")
    assert not matches("полк ВСУ", "Полк отошёл")


def test_or_reports_every_alternative_found() -> None:
    assert forms("полк OR бригада", "Бригада и полк") == ["Бригада", "полк"]


# -- typos -------------------------------------------------------------------------------------


def test_one_edit_on_a_mid_length_word() -> None:
    assert forms("сержант", "сержнат сбежал") == ["сержнат"]  # swapped letters, 7 letters
    assert forms("сержант", "серджант сбежал") == ["серджант"]  # extra letter
    assert forms("часть", "чясть") == ["чясть"]  # wrong letter, 5 letters
    assert not matches("сержант", "сиржнат сбежал")  # two edits
    assert not matches("дезертир", "дизертр")  # two edits on 8 letters


def test_a_typo_scores_against_its_nearest_form() -> None:
    # «блогпост» is 1 edit from «блокпост» and 2 from other forms: the score is 1 - 1/8
    (typo,) = hits("блокпост", "на блогпост вышли")
    assert typo.kind == "typo" and typo.score == 0.875


def test_no_typos_on_short_words() -> None:
    assert not matches("танк", "тнак")
    assert matches("танк~1", "тнак")  # an explicit allowance still works


def test_two_edits_only_when_asked() -> None:
    assert forms("дезертирство~2", "дизиртирство") == ["дизиртирство"]
    assert forms("мобилизация~2", "мобилизацыя") == ["мобилизацыя"]
    assert not matches("дезертирство~2", "дизиртирствва")  # three edits
    assert forms("дезертирство", "дизертирство") == ["дизертирство"]  # one edit by default
    assert not matches("дезертирство", "дизиртирство")
    assert not matches("дезертировать", "детектировать")  # a word the dictionary lacks, 2 edits off


def test_a_dictionary_word_is_never_a_typo() -> None:
    # Each is one edit from a form of the query word (полка, полку, оцепили)...
    assert not matches("полк", "полька")
    assert not matches("полк", "волка")
    assert not matches("полк", "толку")
    assert not matches("полк~1", "волк")
    assert not matches("полк~1", "толк")
    assert not matches("оцепить", "Работу оценили высоко")
    assert not matches("дезертир~2", "Рецепт десерта")
    # ...while a non-word at the same distance is a typo.
    assert forms("полк~1", "пплк") == ["пплк"]
    assert forms("оцепить", "район оцеппили") == ["оцеппили"]


class _NoDictionary(Morphology):
    """The real word forms, but no word counts as a dictionary word."""

    def forms(self, word: str) -> frozenset[str]:  # type: ignore[override]
        return default_morphology().forms(word)

    def is_known(self, word: str) -> bool:
        return False


def test_the_dictionary_check_is_what_rejects_those_words() -> None:
    # Control for the test above: without the dictionary check the same words would be typos (полк asked
    # for one: a word of 4 letters has none by default; «волка», «толку» change a short word's first letter).
    m = Matcher([Rule.from_query("r", "полк~1 OR оцепить")], morphology=_NoDictionary())
    for text in ("полька", "оценили"):
        assert [h.kind for x in m.match(text) for h in x.hits] == ["typo"], text


def test_typo_keys_are_the_prefix_with_up_to_k_letters_deleted() -> None:
    """The delete keys made by itertools.combinations are exactly SymSpell's, built by slicing."""
    def by_slicing(word: str, k: int) -> set[str]:
        out = level = {word[:7]}
        for _ in range(k):
            level = {s[:i] + s[i + 1:] for s in level for i in range(len(s))} - {""}
            out = out | level
        return out

    for word in ("а", "аб", "абв", "танк", "ааааааа", "блокпост", "военнослужащий"):
        for k in (0, 1, 2):
            assert {"".join(d) for d in _subsequences(word, k)} == by_slicing(word, k), (word, k)


def test_tilde_zero_turns_typos_off() -> None:
    assert matches("дезертир", "дезертр")
    assert not matches("дезертир~0", "дезертр")


def test_rule_level_typos() -> None:
    assert not matches("дезертир", "дезертр", typos=0)
    assert matches("танк", "тнак", typos=1)
    assert not matches("дезертирство", "дизиртирство", typos=1)
    assert matches("дезертир~1", "дезертр", typos=0)  # the word's own ~N wins


# -- disguised words ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    f"Задержаны де{ZWSP}зер{ZWSP}тиры",
    "Задержаны де\u00adзер\u00adтиры",
    "Задержаны дезерти\u0301ры",
    "Задержаны дезертиpы",  # Latin p
    "Задержаны ДEЗEPТИPЫ",  # Latin E, P
    "#ДезертирыНовости",
])
def test_disguised_words_match(text: str) -> None:
    found = hits("дезертир", text)
    assert [h.kind for h in found] == ["form"]


@pytest.mark.parametrize("text", ["Задержан CEPЖAHT", "ДEЗEPTИPЫ задержаны", "KOMAHДИP полка"])
def test_words_disguised_mostly_in_latin_letters_match(text: str) -> None:
    assert matches("сержант OR дезертир OR командир", text)


def test_camelcase_after_underscore_in_a_hashtag_matches() -> None:
    assert matches("дезертир", "#Новости_ДезертирыСбежали")


# -- hits --------------------------------------------------------------------------------------


def test_hit_carries_term_form_and_span_of_the_original_text() -> None:
    text = "Срочно: трое ДЕЗЕРТИРОВ задержаны"
    (h,) = hits("дезертир", text)
    assert (h.term, h.form, h.kind, h.score) == ("дезертир", "ДЕЗЕРТИРОВ", "form", 1.0)
    assert text[h.start:h.end] == "ДЕЗЕРТИРОВ"
    assert h.start == text.index("ДЕЗЕРТИРОВ")


def test_hit_span_covers_a_disguised_word() -> None:
    text = f"Трое де{ZWSP}зертиpов"
    (h,) = hits("дезертир", text)
    assert text[h.start:h.end] == h.form == f"де{ZWSP}зертиpов"


@pytest.mark.parametrize("text", ["Приказ № 5: задержан де\u00adзертир", "Задержан дезерти\u0301р по делу № 5"])
def test_hit_span_after_an_expanded_and_a_removed_character(text: str) -> None:
    (h,) = hits("дезертир", text)
    assert h.form.replace("\u00ad", "").replace("\u0301", "") == "дезертир"


def test_hit_term_is_the_query_term_as_written() -> None:
    assert [h.term for h in hits("=СОЧ OR бригад* OR дезертир~2", "СОЧ, бригадир, дезертиры")] == [
        "=СОЧ", "бригад*", "дезертир~2"]
    assert [h.term for h in hits('"воинская часть"', "воинской части")] == ['"воинская часть"'] * 2


def test_scores() -> None:
    exact = hits("=СОЧ OR бригад* OR дезертир", "СОЧ, бригадир, дезертиры")
    assert [h.score for h in exact] == [1.0, 1.0, 1.0]
    (typo,) = hits("дезертир", "задержан дезертр")
    assert typo.kind == "typo"
    assert 0.5 < typo.score < 1.0
    (two,) = hits("дезертирство~2", "дизиртирство")
    assert two.score < hits("дезертирство", "дезертирствао")[0].score < 1.0


def test_url_terms_match_links_only() -> None:
    text = "Источник: https://t.me/Baza/12345"
    (h,) = hits("url:t.me/baza", text)
    assert (h.kind, h.form) == ("url", "https://t.me/Baza/12345")
    assert text[h.start:h.end] == h.form
    assert not matches("url:t.me/baza", "Источник: https://t.me/mash/1")
    assert not matches("url:t.me/baza", "Пишет канал baza")
    assert not matches("baza", text)  # words of a link are not words of the post


def test_url_term_combines_with_words() -> None:
    q = "url:t.me/baza дезертир"
    assert matches(q, "Дезертиры задержаны t.me/baza/1")
    assert not matches(q, "Дезертиры задержаны t.me/mash/1")
    assert not matches(q, "Погода t.me/baza/1")


def _linked(text: str, anchor: str, url: str, kind: str = "text_link") -> Post:
    """A post whose `anchor` words link to `url` (entity offsets in UTF-16 units, as Telegram's)."""
    at = text.index(anchor)
    units = len(text[:at].encode("utf-16-le")) // 2
    return Post(1, 1, datetime(2026, 11, 28, tzinfo=timezone.utc), text,
                entities=(Entity(kind, units, len(anchor.encode("utf-16-le")) // 2, url),))


def test_url_terms_match_links_behind_words() -> None:
    """Channels link sources behind words («Подробнее», «источник»): a url: rule finds those
    links too, and the hit is the linked words (what the alert shows in bold)."""
    m = matcher("url:t.me/baza")
    for text in ("Подробнее читайте у коллег", "🔥🇷🇺 Подробнее читайте у коллег"):  # emoji: two UTF-16 units each
        post = _linked(text, "у коллег", "https://t.me/Baza/12345")
        ((h,),) = [x.hits for x in m.match(post)]
        assert (h.kind, h.form, text[h.start:h.end]) == ("url", "у коллег", "у коллег")
        assert not m.match(post.text)  # the text alone shows no link
    assert not m.match(_linked("Подробнее у коллег", "у коллег", "https://t.me/mash/1"))
    both = matcher("url:t.me/baza дезертир")
    assert both.match(_linked("Дезертиры задержаны, подробнее тут", "тут", "https://t.me/baza/7"))


def test_links_behind_words_reach_the_worker_process(tmp_path: Path) -> None:
    from bot.pipeline import Pipeline
    from bot.store.db import Store

    store = Store(tmp_path / "t.db")
    with Pipeline(store, matcher("url:t.me/baza"), workers=1) as pipe:
        (done,) = pipe.process([_linked("Подробнее у коллег", "у коллег", "https://t.me/baza/1")])
    assert [m.rule for m in done.matches] == ["r"]
    from bot.store.backtest import run_backtest

    assert run_backtest(store, [Rule.from_query("r", "url:t.me/baza")]).hits == {"r": 1}  # read back from the store
    store.close()


# -- several rules, determinism, scope ----------------------------------------------------------

RULES = [
    Rule.from_query("zeta", "полк OR бригада"),
    Rule.from_query("alpha", "дезертир OR =СОЧ"),
    Rule.from_query("mid", "дезертир NEAR/3 полк", severity="high", title="Дезертиры из полка"),
    Rule.from_query("off", "полк", enabled=False),
]
MANY = Matcher(RULES)
TEXT = "Из 137-го полка сбежали трое дезертиров, заведено дело о СОЧ"


def test_results_are_sorted_by_rule_name_and_deterministic() -> None:
    first = MANY.match(TEXT)
    assert [m.rule for m in first] == ["alpha", "mid", "zeta"]
    assert MANY.match(TEXT) == first
    assert Matcher(list(reversed(RULES))).match(TEXT) == first


def test_match_carries_rule_title_severity_and_terms() -> None:
    mid = next(m for m in MANY.match(TEXT) if m.rule == "mid")
    assert (mid.title, mid.severity) == ("Дезертиры из полка", "high")
    assert mid.terms == ["полк", "дезертир"]
    assert [h.start for h in mid.hits] == sorted(h.start for h in mid.hits)


def test_disabled_rules_never_match() -> None:
    assert "off" not in [m.rule for m in MANY.match("полк")]


def test_empty_and_unrelated_text() -> None:
    assert MANY.match("") == []
    assert MANY.match("Погода на выходные: солнечно") == []


def _post(text: str, username: str | None, channel_id: int = 1117628569) -> Post:
    return Post(channel_id=channel_id, message_id=1, date=datetime(2024, 3, 1, tzinfo=timezone.utc), text=text,
                channel_username=username)


SCOPED = Matcher([
    Rule.from_query("baza-only", "дезертир", channels=("baza",)),
    Rule.from_query("by-id", "дезертир", channels=("1117628569",)),
    Rule.from_query("group", "дезертир", channels=("moscow",)),
    Rule.from_query("everywhere", "дезертир"),
], groups={"Moscow": ["@mash", "-1001234567890"]})


def test_channel_scope_by_username() -> None:
    text = "Задержаны дезертиры"
    assert [m.rule for m in SCOPED.match(_post(text, "baza", 42))] == ["baza-only", "everywhere"]
    assert [m.rule for m in SCOPED.match(_post(text, "@Baza", 42))] == ["baza-only", "everywhere"]
    assert [m.rule for m in SCOPED.match(_post(text, "shot_shot", 42))] == ["everywhere"]


def test_channel_scope_by_id_and_group() -> None:
    text = "Задержаны дезертиры"
    assert [m.rule for m in SCOPED.match(_post(text, None, 1117628569))] == ["by-id", "everywhere"]
    assert [m.rule for m in SCOPED.match(_post(text, "mash", 7))] == ["everywhere", "group"]
    assert [m.rule for m in SCOPED.match(_post(text, None, 1234567890))] == ["everywhere", "group"]


def test_a_bare_text_is_not_scoped() -> None:
    assert len(SCOPED.match("Задержаны дезертиры")) == 4


def test_from_query_normalises_channel_references() -> None:
    m = Matcher([Rule.from_query("r", "дезертир", channels=("@Baza",))])
    assert m.match(_post("Задержаны дезертиры", "baza"))


def test_a_full_word_cache_never_loses_a_match_mid_post(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.match.matcher as matcher_module

    m = matcher("дезертир")
    text = " ".join(["Задержан дезертир", *(f"слово{i}" for i in range(60))])
    monkeypatch.setattr(matcher_module, "_CACHE_LIMIT", 5)  # fills many times within this one post
    for _ in range(3):
        assert [x.rule for x in m.match(text)] == ["r"]
        assert len(m._cache) < 100  # and it is still emptied, between posts


def test_a_decomposed_letter_is_the_letter() -> None:
    """«й» typed as «и» + U+0306 (text copied from macOS or a PDF) is «й», not a typo, and the hit
    covers the mark (bold never parts a letter from it)."""
    text = "Солдаты покинули территорию воинскои\u0306 части"
    hs = hits('"воинская часть"', text)
    assert [(h.kind, h.score) for h in hs] == [("form", 1.0), ("form", 1.0)]
    assert text[hs[0].start:hs[0].end] == "воинскои\u0306"
