"""Which terms of a rule bring its back-test hits (and in which words), and the warnings
`rules check` gives for rule files that watch nothing or words that cannot match as meant."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.match.edit import RuleBook
from bot.match.explain import term_words
from bot.match.matcher import Matcher
from bot.match.rules import Rule, load_rules
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.backtest import run_backtest
from bot.store.db import Store

from .test_chat import run as run_async
from .test_chat import running


def run(*args: object) -> Result:
    """The CLI on a terminal wide enough that no table row wraps."""
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "200"})


RULE = '''[[rule]]
name = "desertion"
query = 'дезертир OR дезертирство OR "самовольно оставивший" OR самоволка'
'''
TEXTS = [
    "В Краснодаре задержали дезертиров.",  # дезертир, alone
    "Задержан дизертир, его ищут с весны.",  # дезертир, by a typo
    "⚡️Дезертирство стало массовым, пишут СМИ.",  # дезертирство (an emoji stuck to it)
    "Самовольно оставивших часть военных задержали.",  # the phrase
    "Дезертир рассказал о дезертирстве.",  # two terms: neither alone
    "Погода в Москве: завтра до +5, без осадков.",  # nothing
]


def make_store(tmp_path: Path, texts: list[str] = TEXTS, rules: list[Rule] | None = None, name: str = "t.db") -> Path:
    """A store of these posts (one channel, one an hour), written by the real pipeline (matching
    `rules`, none by default)."""
    db = tmp_path / name
    posts = [Post(message_id=i + 1, date=datetime(2024, 11, 1, tzinfo=UTC) + timedelta(hours=i), text=t,
                  channel_id=-1001800000001, channel_title="Кубань Онлайн", channel_username="kuban")
             for i, t in enumerate(texts)]
    store = Store(db)
    try:
        list(Pipeline(store, Matcher(rules or [])).process(posts))
    finally:
        store.close()
    return db


def rule_file(tmp_path: Path, text: str = RULE, name: str = "desertion.toml") -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- back-test: hits per term ----------------------------------------------------------------------


def test_each_term_has_its_posts_the_posts_it_alone_matched_and_the_words_it_caught(tmp_path: Path) -> None:
    store = Store(make_store(tmp_path))
    try:
        bt = run_backtest(store, load_rules(rule_file(tmp_path)).rules)
    finally:
        store.close()
    terms = bt.terms["desertion"]
    assert list(terms) == ["дезертир", "дезертирство", '"самовольно оставивший"', "самоволка"]  # query order
    d = terms["дезертир"]
    assert (d.posts, d.alone, dict(d.words), d.typos) == (3, 2, {"дезертиров": 1, "дизертир": 1, "дезертир": 1},
                                                          {"дизертир"})
    s = terms["дезертирство"]
    assert (s.posts, s.alone, dict(s.words)) == (2, 1, {"дезертирство": 1, "дезертирстве": 1})  # not «⚡️дезертирство»
    assert dict(terms['"самовольно оставивший"'].words) == {"самовольно оставивших": 1}  # one phrase, one entry
    assert terms["самоволка"].posts == 0
    assert bt.matched_posts == 5


def test_the_words_of_a_phrase_and_of_a_slashed_word_count_as_one() -> None:
    m = Matcher([Rule.from_query("r", 'в/ч OR 137-й OR "воинская часть"')])
    text = "В/ч 12345 и 137-й полк; воинской части, а затем Воинская часть."
    (match,) = m.match(text)
    found = term_words(text, [(h.term, h.form, h.start, h.end, h.score, h.kind) for h in match.hits])
    assert found == {'"в/ч"': {"в/ч": False}, '137-й': {"137-й": False},
                     '"воинская часть"': {"воинской части": False, "воинская часть": False}}


def test_cli_backtest_shows_hits_per_term_and_the_terms_that_hit_nothing(tmp_path: Path) -> None:
    db = make_store(tmp_path)
    r = run("rules", "backtest", rule_file(tmp_path), "--db", db, "--samples", "0")
    assert r.exit_code == 0, r.output
    rows = [" ".join(line.strip("│ ").split()) for line in r.stdout.split("hits per term")[1].splitlines()]
    assert any(row.startswith("дезертир │ 3 │ 2 │ дезертиров 1, дизертир (typo) 1, Дезертир 1") for row in rows), rows
    assert any(row.startswith('"самовольно оставивший" │ 1 │ 1 │ Самовольно оставивших 1') for row in rows), rows
    assert "1 term hit nothing: самоволка" in r.stdout



def test_backtest_samples_all_shows_every_hit(tmp_path: Path) -> None:
    """`--samples all` lists every hit, as `--limit all` does for search: 5 posts hit, 5 shown."""
    db = make_store(tmp_path)
    r = run("rules", "backtest", rule_file(tmp_path), "--db", db, "--samples", "all")
    assert r.exit_code == 0, r.output
    shown = r.stdout.split("latest 5 hits")[1]
    assert [line.strip() for line in shown.splitlines() if line.strip() in TEXTS] == TEXTS[4::-1], shown
    few = run("rules", "backtest", rule_file(tmp_path), "--db", db, "--samples", "2")
    assert "latest 2 hits" in few.stdout, few.stdout

KOVER = '''[[rule]]
name = "kover"
query = '(ковер NEAR/3 план) OR "план Ковёр"'
'''
KOVER_TEXTS = [
    'В Казани до утра действовал план "Ковёр", аэропорт закрыт.',  # both branches hold
    "Ввели режим «Ковёр»: план действовал час.",  # the NEAR alone
    "План на неделю: погода, пробки.",  # nothing
]


def test_backtest_counts_every_or_branch_that_holds_and_alone_is_what_dropping_the_term_loses(tmp_path: Path) -> None:
    """The phrase and the NEAR both hit «план "Ковёр"»: each term has the post, and none of them
    is alone there (either branch keeps it); the NEAR alone holds in the second post, where the rule
    needs both its words."""
    db = make_store(tmp_path, KOVER_TEXTS)
    r = run("rules", "backtest", rule_file(tmp_path, KOVER, "kover.toml"), "--db", db, "--samples", "0")
    assert r.exit_code == 0, r.output
    rows = [" ".join(line.strip("│ ").split()) for line in r.stdout.split("hits per term")[1].split("hits per channel")[0].splitlines()]
    assert [row.split(" │ ")[:3] for row in rows if row.count("│") >= 3] == [
        ["ковер", "2", "1"], ["план", "2", "1"], ['"план Ковёр"', "1", "0"]], rows
    assert "hit nothing" not in r.stdout
    assert "alone: of those, posts the rule would not match without this term" in r.stdout


def test_stored_term_hits_count_every_or_branch_that_holds_too(tmp_path: Path) -> None:
    """The chat's /rule counts from the stored hits, which name one term per word: the NEAR's words
    are counted from the branches that hold, as a back-test counts them."""
    from bot.store.backtest import stored_term_hits

    rule = load_rules(rule_file(tmp_path, KOVER, "kover.toml")).rules[0]
    store = Store(make_store(tmp_path, KOVER_TEXTS, rules=[rule], name="m.db"))
    try:
        stored = stored_term_hits(store, rule, datetime(2024, 11, 1, tzinfo=UTC))
    finally:
        store.close()
    assert {t: (h.posts, h.alone) for t, h in stored.items()} == {
        "ковер": (2, 1), "план": (2, 1), '"план Ковёр"': (1, 0)}


def test_backtest_words_are_the_posts_own_spelling_the_most_common_one(tmp_path: Path) -> None:
    """«Ковёр» as the posts write it, not «ковер»; the abbreviation «КТО», not the pronoun «кто»:
    what alerts and exports show. Of two spellings, the one more posts have."""
    db = make_store(tmp_path, ['Действовал план "Ковёр".', "План «Ковёр» снят.", "Снят план ковер.",
                               "В Грозном введён режим КТО."])
    rule = '[[rule]]\nname = "r"\nquery = "ковер OR =КТО"\n'
    r = run("rules", "backtest", rule_file(tmp_path, rule, "r.toml"), "--db", db, "--samples", "0")
    assert r.exit_code == 0, r.output
    rows = [" ".join(line.strip("│ ").split()) for line in r.stdout.split("hits per term")[1].splitlines()]
    assert "ковер │ 3 │ 3 │ Ковёр 3" in rows and "=КТО │ 1 │ 1 │ КТО 1" in rows, rows


def test_cli_backtest_of_a_file_names_the_rule_of_each_term_and_the_written_term(tmp_path: Path) -> None:
    db = make_store(tmp_path, ["Задержан военнослужащий в/ч 12345", "Дезертира задержали"])
    path = rule_file(tmp_path, RULE + '\n[[rule]]\nname = "unit"\nquery = "в/ч OR бригада"\n')
    r = run("rules", "backtest", path, "--db", db, "--samples", "0")
    assert r.exit_code == 0, r.output
    table = r.stdout.split("hits per term")[1]
    assert "│ unit      │ в/ч " in table and '"=в =ч"' not in table  # as the rule writes it
    assert "unit: бригада" in r.stdout and "desertion: самоволка" in r.stdout  # among the terms that hit nothing


# -- the chat's back-test --------------------------------------------------------------------------


def test_chat_add_rule_backtest_names_its_busiest_terms_and_their_words(fake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from .fake_telegram import eventually
    from .test_chat import ANALYST, DESERTION, SHOT, alerts, replies

    async def go() -> None:
        async with running(fake, tmp_path):
            fake.publish(SHOT, DESERTION)
            await eventually(lambda: alerts(fake))
            fake.message_to_bot(ANALYST, "/add_rule krasnodar Краснодар AND (задержали OR арестовали OR сбежать)")
            r = await eventually(lambda: next((m for m in replies(fake) if "Back-test" in m.text), None))
            assert "Back-test, last 7 days: 1 of 1 post would match" in r.text
            assert "Terms: Краснодар 1 (Краснодаре); задержали 1 (задержали); сбежать 1 (сбежавших); " \
                   "1 hit nothing." in r.text, r.text
    run_async(go())


def test_chat_add_rule_backtest_counts_every_branch_that_holds_in_the_posts_spelling(fake, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The chat's back-test shares the CLI's counts: the NEAR's words are not «hit nothing» because the
    phrase hit the same words, and «Ковёр» is shown as the post writes it."""
    from .fake_telegram import eventually
    from .test_chat import ANALYST, SHOT, replies

    async def go() -> None:
        async with running(fake, tmp_path) as service:
            fake.publish(SHOT, KOVER_TEXTS[0])
            await eventually(lambda: service.store.count("posts") == 1)
            fake.message_to_bot(ANALYST, '/add_rule kover (ковер NEAR/3 план) OR "план Ковёр"')
            r = await eventually(lambda: next((m for m in replies(fake) if "Back-test" in m.text), None))
            assert 'Terms: ковер 1 (Ковёр); план 1 (план); "план Ковёр" 1 (план Ковёр).' in r.text, r.text
    run_async(go())


# -- rules check: warnings -------------------------------------------------------------------------


def test_a_file_with_no_rules_warns_and_the_other_rules_still_pass(tmp_path: Path) -> None:
    rule_file(tmp_path)
    empty = rule_file(tmp_path, "# a draft: rules to come\nrule = []\n", "draft.toml")
    blank = rule_file(tmp_path, "# nothing here yet\n", "blank.toml")
    r = run("rules", "check", tmp_path / "rules")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == [
        f"warning: {blank}:1:1: no rules in this file; each rule starts with [[rule]]",
        f"warning: {empty}:2:1: rule = [] defines no rules: this file watches nothing; each rule starts with [[rule]]",
    ]
    assert "1 rule in 1 file loaded, 0 errors, 2 warnings" in r.stderr


def test_a_draft_file_with_no_rules_does_not_hold_back_reloading_the_others(tmp_path: Path) -> None:
    path = rule_file(tmp_path)
    store = Store(tmp_path / "t.db")
    try:
        book = RuleBook(tmp_path / "rules", store)
        rule_file(tmp_path, "# a draft: its rules are still to come\n", "draft.toml")  # an error until now
        path.write_text(RULE.replace("OR самоволка", "OR самоволочка"), encoding="utf-8")
        os.utime(path, ns=(time.time_ns() + 10**9,) * 2)  # a later mtime, however coarse the clock
        assert book.reload_if_changed() == (True, [])
        assert "самоволочка" in book.ruleset.get("desertion").query  # type: ignore[union-attr]
    finally:
        store.close()


@pytest.mark.parametrize(("query", "exclude", "says"), [
    ("дезертир AND NOT дезертир", [], ("3:1: rule 'd' can never match: its query needs дезертир, which a NOT in "
                                       "the same query rules out")),
    ("(полк OR бригада) AND NOT полк AND NOT бригада", [], "its query needs one of полк, бригада"),
    ("дезертир AND NOT (Дезертир OR самоволка)", [], "its query needs дезертир"),
    ('"воинская часть" AND NOT часть', [], 'its query needs "воинская часть"'),
    ("дезертир OR самоволка", ["самоволка OR дезертир"], ("4:1: rule 'd' can never match: every post its query "
                                                           "matches has one of дезертир, самоволка, which its exclude "
                                                           "rules out")),
])
def test_a_rule_that_can_never_match_warns_at_its_line(tmp_path: Path, query: str, exclude: list[str],
                                                      says: str) -> None:
    text = f"[[rule]]\nname = \"d\"\nquery = '{query}'\n" + (f"exclude = {exclude!r}\n".replace("'", '"') if exclude else "")
    path = rule_file(tmp_path, text)
    r = run("rules", "check", path)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"warning: {path}:") and says in r.stdout, r.stdout
    assert not Matcher(load_rules(path).rules).match(query.replace("NOT", "").replace('"', ""))  # it truly cannot


@pytest.mark.parametrize("query", [
    "дезертир AND NOT дезертир~1",  # the NOT allows no typo, the word does: «дизертир» matches
    "дезертир AND NOT дезертир*",  # a prefix is another term
    "(дезертир OR самоволка) AND NOT дезертир",
    "дезертир AND NOT (дезертир AND самоволка)",
])
def test_a_rule_that_can_match_gives_no_warning(tmp_path: Path, query: str) -> None:
    r = run("rules", "check", rule_file(tmp_path, f"[[rule]]\nname = \"d\"\nquery = '{query}'\n"))
    assert r.exit_code == 0 and r.stdout == "", r.output


@pytest.mark.parametrize(("word", "cyrillic"), [("BCY", "ВСУ"), ("CAXAP", "САХАР"), ("TOP", "ТОР"), ("CKA*", "СКА"),
                                                ("cop", "сор")])
def test_a_latin_word_that_looks_cyrillic_warns_with_the_cyrillic_spelling(tmp_path: Path, word: str,
                                                                          cyrillic: str) -> None:
    path = rule_file(tmp_path, f'[[rule]]\nname = "d"\nquery = "дезертир OR {word}"\n')
    r = run("rules", "check", path)
    assert r.exit_code == 0, r.output
    assert r.stdout == (f"warning: {path}:3:22: rule 'd': '{word}' is in Latin letters only, so it never matches "
                        f"Cyrillic «{cyrillic}» (look-alike letters are folded only in words that mix both "
                        f"alphabets); if you meant Cyrillic, write {cyrillic}"
                        + (f"; if you mean the Latin word, write ={word}" if word.isalpha() else "") + "\n")
    # the warning's reason: the Latin word misses the Cyrillic one (remove the warning when it stops)
    assert not Matcher(load_rules(path).rules).match(f"Новость: {cyrillic.replace('*', '')} сообщает")


@pytest.mark.parametrize("word", ["cуть", "deserter", "=AWOL", "T34", "A", "book", "=BMP", "=APC"])
def test_words_that_match_as_written_give_no_look_alike_warning(tmp_path: Path, word: str) -> None:
    r = run("rules", "check", rule_file(tmp_path, f'[[rule]]\nname = "d"\nquery = "дезертир OR {word}"\n'))
    assert r.exit_code == 0 and r.stdout == "", r.output


def test_a_common_word_in_capitals_warns_to_write_the_abbreviation_with_equals(tmp_path: Path) -> None:
    """КТО without '=' is «кто» in every form; ОМОН, КПП and =КТО are fine (abbreviations, or asked for exactly)."""
    path = rule_file(tmp_path, '[[rule]]\nname = "d"\nquery = "ОМОН OR КПП OR =КТО OR (режим NEAR/2 КТО)"\n')
    r = run("rules", "check", path)
    assert r.exit_code == 0, r.output
    assert r.stdout == (f"warning: {path}:3:47: rule 'd': 'КТО' is written in capitals, but without '=' it matches "
                        "the common word «кто» in every form (кем, кого, ком); for the abbreviation write =КТО (an "
                        "exact form in capitals matches capitals only)\n")
    # the warning's reason: the word in capitals matches the pronoun (remove the warning when it stops)
    assert Matcher(load_rules(path).rules).match("режим, кто-то сказал")


def test_a_look_alike_word_in_an_exclude_warns_too(tmp_path: Path) -> None:
    path = rule_file(tmp_path, '[[rule]]\nname = "d"\nquery = "дезертир"\nexclude = ["пустыня", "HET"]\n')
    r = run("rules", "check", path)
    assert r.stdout.startswith(f"warning: {path}:4:24: rule 'd': 'HET' is in Latin letters only"), r.stdout


def test_backtest_by_name_shows_the_rules_own_warnings(tmp_path: Path) -> None:
    db = make_store(tmp_path)
    rule_file(tmp_path, '[[rule]]\nname = "d"\nquery = "дезертир AND NOT дезертир"\n')
    rule_file(tmp_path, '[[rule]]\nname = "e"\nquery = "BCY"\n', "e.toml")
    r = run("rules", "backtest", "d", "--rules", tmp_path / "rules", "--db", db)
    assert r.exit_code == 0, r.output
    assert "rule 'd' can never match" in r.stderr and "BCY" not in r.stderr  # only the rule run
    assert "\n0 of 6 stored posts matched" in "\n" + r.stdout


def test_a_quoted_slashed_word_is_shown_as_the_rule_writes_it() -> None:
    from bot.store.backtest import _terms

    terms = _terms(Rule.from_query("r", '"в/ч" OR бригада OR «воинская часть»'))
    assert [t.written for t in terms.values()] == ['"в/ч"', "бригада", "«воинская часть»"]


def test_stored_term_hits_count_what_a_back_test_counts_without_matching_again(tmp_path: Path) -> None:
    from bot.store.backtest import stored_term_hits

    rule = load_rules(rule_file(tmp_path)).rules[0]
    store = Store(make_store(tmp_path, rules=[rule], name="m.db"))
    try:
        stored = stored_term_hits(store, rule, datetime(2024, 11, 1, 1, tzinfo=UTC))  # the first post is older
        fresh = run_backtest(store, [rule], since=datetime(2024, 11, 1, 1, tzinfo=UTC)).terms["desertion"]
    finally:
        store.close()
    assert {t: (h.posts, h.alone, dict(h.words), h.typos) for t, h in stored.items()} == {
        t: (h.posts, h.alone, dict(h.words), h.typos) for t, h in fresh.items()}
    assert stored["дезертир"].posts == 2 and stored["дезертир"].typos == {"дизертир"}


def test_backtest_of_a_disabled_rule_runs_it_and_marks_it(tmp_path: Path) -> None:
    db = make_store(tmp_path)
    rule_file(tmp_path, RULE.replace('name = "desertion"', 'name = "desertion"\nenabled = false'))
    r = run("rules", "backtest", "desertion", "--rules", tmp_path / "rules", "--db", db, "--samples", "0")
    assert r.exit_code == 0, r.output
    assert "5 of 6 stored posts matched" in r.stdout
    assert "desertion  (disabled: not matched live or in replay)" in r.stdout.splitlines()
    enabled = run("rules", "backtest", rule_file(tmp_path, RULE, "on.toml"), "--db", db, "--samples", "0")
    assert "disabled" not in enabled.stdout


def test_stored_term_hits_read_the_links_behind_words_as_a_back_test_does(tmp_path: Path) -> None:
    """/rule counts a rule's terms from the stored posts: a post matched by the link behind its words
    (`url:`) counted that term without saying the post needs it, where a back-test said it does."""
    from bot.post import Entity
    from bot.store.backtest import stored_term_hits

    rule = Rule.from_query("desertion", "дезертир OR url:desert.example")
    db = tmp_path / "l.db"
    at = datetime(2024, 11, 1, tzinfo=UTC)
    posts = [Post(-1001800000001, 1, at, "Подробнее о побеге из части", "Кубань Онлайн",
                  entities=(Entity("text_link", 0, 9, "https://desert.example/1"),)),
             Post(-1001800000001, 2, at + timedelta(hours=1), "В Краснодаре задержали дезертира", "Кубань Онлайн")]
    store = Store(db)
    try:
        list(Pipeline(store, Matcher([rule])).process(posts))
        stored = stored_term_hits(store, rule, at)
        fresh = run_backtest(store, [rule], since=at).terms["desertion"]
    finally:
        store.close()
    assert {t: (h.posts, h.alone) for t, h in stored.items()} == {t: (h.posts, h.alone) for t, h in fresh.items()}
    assert stored["url:desert.example"].alone == 1


def test_backtest_spells_a_phrase_in_a_hashtag_as_the_post_does(tmp_path: Path) -> None:
    """A phrase the post writes as one hashtag («#СЗЧ_ВСУ»): the back-test's word is the post's
    «СЗЧ_ВСУ», as the alert's matched: line shows it, not the folded «сзч_всу»."""
    db = make_store(tmp_path, ["Сводка #СЗЧ_ВСУ за неделю", "Опять #СЗЧ_ВСУ"])
    rule = '[[rule]]\nname = "r"\nquery = \'"СЗЧ ВСУ"\'\n'
    r = run("rules", "backtest", rule_file(tmp_path, rule, "r.toml"), "--db", db, "--samples", "0")
    assert r.exit_code == 0, r.output
    rows = [" ".join(line.strip("│ ").split()) for line in r.stdout.split("hits per term")[1].splitlines()]
    assert any(row.endswith("│ СЗЧ_ВСУ 2") for row in rows), rows
