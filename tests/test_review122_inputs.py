"""Reviewer helper-122: bad inputs an analyst gives, each asserting what the analyst would see.
Real SQLite files and the real Commands / CLI; each test fails on the code it was written against."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.chat.commands import Caller, Commands, Reply
from bot.match.edit import RuleBook
from bot.store.db import Store

from .sample_store import ROOT, Sample, built, sample, shipped_matcher  # noqa: F401
from .test_live import config

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
ANALYST = Caller(1, "Analyst")
BROKEN = '[[rule]]\nname = "drones"\ntitle = "Дроны"\nquery = "(дрон OR бпла"\n'


def chat(db: Path, rules: Path) -> Commands:
    store = Store(db)

    async def digest(_now: datetime) -> int:
        return 0

    return Commands(store, RuleBook(rules, store), config(rules.parent, db=db, rules=rules), matcher=shipped_matcher,
                    on_rules_changed=lambda: None, status=lambda _now: "watching", digest=digest, clock=lambda: NOW)


def ask(commands: Commands, text: str) -> Reply:
    reply = asyncio.run(commands.handle(text, ANALYST))
    assert reply is not None
    return reply


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    return folder


def test_a_rule_with_a_query_error_can_be_fixed_from_the_chat(sample: Sample, rules: Path) -> None:  # noqa: F811
    """/rules shows «⚠️ drones.toml:4:10: query: '(' is never closed»; the analyst fixes it with
    /edit_rule drones … and is told «no rule named 'drones' (have: desertion, lockdown, regiment)»,
    a rule the same reply's /rules just listed; /add_rule drones … answers «internal: the edit of
    'drones' would change more than asked». Either the query is replaced (the error was in the
    query, which is what /edit_rule replaces) or the reply says the rule has an error at
    drones.toml:4 to fix in the file: never «no rule named» nor «internal»."""
    (rules / "drones.toml").write_text(BROKEN, encoding="utf-8")
    commands = chat(sample.db, rules)
    assert "drones.toml:4:10" in ask(commands, "/rules").html
    edit = ask(commands, "/edit_rule drones дрон OR бпла").html
    add = ask(commands, "/add_rule drones дрон OR бпла").html
    for reply in (edit, add):
        assert "no rule named" not in reply and "internal" not in reply, reply
        assert "Change rule drones" in reply or "drones.toml:4" in reply, reply


def test_a_refused_rule_change_names_the_line_of_the_file_on_disk(sample: Sample, rules: Path) -> None:  # noqa: F811
    """A file of two rules, the second broken on disk after the service loaded it (an analyst
    saving a half-done edit). /disable of the first rule is refused, rightly, but the reply names
    drones.toml:9:10, the line the error would have in the file after the inserted
    `enabled = false`: line 9 of the file on disk is empty; the error is on line 8."""
    good = ('[[rule]]\nname = "drones"\nquery = "дрон"\n\n'
            '[[rule]]\nname = "tanks"\nseverity = "low"\nquery = "танк"\n')
    (rules / "drones.toml").write_text(good, encoding="utf-8")
    commands = chat(sample.db, rules)
    (rules / "drones.toml").write_text(good.replace('"танк"', '"(танк"'), encoding="utf-8")
    commands.rulebook.reload_if_changed()
    reply = ask(commands, "/disable drones").html
    assert reply.startswith("/disable: "), reply
    assert "drones.toml:8:10" in reply, reply


def test_a_number_searched_alone_is_that_number_not_every_number_it_starts(sample: Sample) -> None:  # noqa: F811
    """`search 10` lists «евро — 106» and «евро — 104,1» (matched: 106, matched: 104) and no post
    with the number 10: a lone number is searched as a prefix, though the same number in a phrase
    is whole (`_exact_part`: "a number" matched whole) and a rule's `10` never reaches 106. An
    analyst searching a brigade's or a regiment's number (`search 155`) gets 1550 and 155000 too."""
    from .test_export import run
    r = run("search", "10", "--db", sample.db, "--limit", "all")
    assert "106" not in r.stdout and "104,1" not in r.stdout, r.stdout
    assert r.exit_code == 1 and "no stored post contains '10'" in r.stderr, r.stderr


RAW_JSON = ("Expecting property name", "Extra data", "Expecting value")


def _replay_stdin(tmp_path: Path, data: bytes):  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    db = tmp_path / "t.db"
    r = subprocess.run([sys.executable, "-m", "bot", "replay", "-", "--db", str(db), "--alerts", "none",
                        "--rules", str(ROOT / "rules")], input=data, capture_output=True, cwd=ROOT, timeout=300)
    return r, db


def _stored(db: Path) -> int:
    import sqlite3
    with sqlite3.connect(db) as c:
        return int(c.execute("select count(*) from posts").fetchone()[0])


def test_json_lines_pretty_printed_by_jq_without_c_get_one_clear_line(tmp_path: Path) -> None:
    """The README's `jq -c … | tgwatch replay -`, typed without -c: jq prints each post over 6
    lines. Replay stores nothing and prints «line 1: not valid JSON (column 1: Expecting property
    name enclosed in double quotes)», «line 2: … (column 15: Extra data)», ten such lines and «and
    8 more», the json module's words for every line of every post, never what is wrong. Either
    the posts are read, or one line says the objects span several lines (`jq -c`)."""
    import json
    posts = [json.dumps({"channel_id": 1117628569, "message_id": i, "date": "2024-11-20T09:04:00Z",
                         "text": f"дезертир {i}"}, ensure_ascii=False, indent=2) for i in (1, 2, 3)]
    r, db = _replay_stdin(tmp_path, ("\n".join(posts) + "\n").encode())
    err = r.stderr.decode()
    assert "Traceback" not in err
    assert not any(w in err for w in RAW_JSON), err
    assert _stored(db) == 3 or sum("<stdin>" in line for line in err.splitlines()) == 1, err


def test_a_desktop_export_given_as_json_lines_is_named_as_one(tmp_path: Path) -> None:
    """`cat result.json | tgwatch replay -` (or the export saved as posts.jsonl): the same file
    named result.json or mash.json is read as the export it is (22 posts); through `-` it is 700
    lines of «not valid JSON (column 8: Extra data)» and nothing stored. Either it is read as the
    export, or one line says it is a Telegram Desktop export, to be given by its path."""
    data = (ROOT / "examples" / "export" / "ChatExport_1700000001" / "result.json").read_bytes()
    r, db = _replay_stdin(tmp_path, data)
    err = r.stderr.decode()
    assert "Traceback" not in err
    assert not any(w in err for w in RAW_JSON), err[:2000]
    assert _stored(db) == 22 or sum("<stdin>" in line for line in err.splitlines()) == 1, err[:2000]



def test_a_whole_account_export_given_as_json_lines_is_named_as_one(tmp_path: Path) -> None:
    """The same for a full-account export (`chats.list` holding each chat's messages): one line."""
    import json
    chat = json.loads((ROOT / "examples" / "export" / "ChatExport_1700000001" / "result.json").read_bytes())
    data = json.dumps({"about": "Telegram Desktop export", "chats": {"about": "", "list": [chat]}},
                      ensure_ascii=False, indent=1).encode()
    r, db = _replay_stdin(tmp_path, data)
    err = r.stderr.decode()
    assert "Traceback" not in err
    assert not any(w in err for w in RAW_JSON), err[:2000]
    assert sum("<stdin>" in line for line in err.splitlines()) == 1 and "Desktop export" in err, err[:2000]

@pytest.mark.parametrize("link", ["https://t.me/Kuban_Online/501?single",  # «Copy Post Link» on a post of an album
                                  "https://t.me/Kuban_Online/501?comment=7"])  # a link to a comment under the post
def test_channel_links_as_telegram_and_the_web_give_them(sample: Sample, link: str) -> None:  # noqa: F811
    """`--channel` takes «the link of one of its posts (t.me/name/N)»; a post link as Telegram's
    «Copy Post Link» gives it for an item of an album (`?single`) or a comment (`?comment=`) is
    «no channel … in this store», though the error's own list names @Kuban_Online. (The config's
    channels.watch refuses them too: «is not a channel username, t.me link or id».)"""
    from .test_export import run
    r = run("export", "--db", sample.db, "--channel", link)
    assert r.exit_code == 0, r.stderr
    assert "Kuban_Online" in r.stdout and "Сводка 24" not in r.stdout


def test_backtest_of_a_rule_with_an_error_names_the_error_not_no_such_rule(sample: Sample, rules: Path) -> None:  # noqa: F811
    """rules/README: a bad rule is reported and skipped, and «rules backtest … print its error as a
    `warning:` line». `rules backtest drones` of a drones.toml whose query has an unclosed «(»
    answers only «error: no rule named 'drones' in rules (have: desertion, lockdown, regiment)»:
    no warning, and the rule the analyst is looking at in the file «does not exist». Backtesting
    another rule of the same folder prints no warning either (`rules test` and `rules explain` do)."""
    from .test_export import run
    (rules / "drones.toml").write_text(BROKEN, encoding="utf-8")
    r = run("rules", "backtest", "drones", "--rules", rules, "--db", sample.db)
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "drones.toml:4:10" in r.stderr and "no rule named" not in r.stderr, r.stderr
    other = run("rules", "backtest", "desertion", "--rules", rules, "--db", sample.db)
    assert other.exit_code == 0, other.output
    assert "warning: " in other.stderr and "drones.toml:4:10" in other.stderr, other.stderr


def test_a_word_past_the_sixteenth_is_not_dropped_without_a_word(sample: Sample) -> None:  # noqa: F811
    """`search` finds «posts with every word»; a query of more than 16 words (an analyst pasting a
    sentence without quotes, or a list of names) keeps the first 16 and drops the rest silently:
    16 words of a post and then «дезертир», which the post lacks, lists the post, «1 post found»,
    and says nothing of the word it ignored (export --search alike: its rows lack the word)."""
    import re
    import sqlite3

    from .test_export import run
    with sqlite3.connect(sample.db) as c:
        texts = [t for (t,) in c.execute("select text from posts") if "дезертир" not in t.lower()]
    words: list[str] = []
    text = next(t for t in texts if len(set(re.findall(r"[А-Яа-яЁё]{5,}", t))) >= 16)
    for w in re.findall(r"[А-Яа-яЁё]{5,}", text):
        if w not in words:
            words.append(w)
    r = run("search", *words[:16], "дезертир", "--db", sample.db)
    assert "Traceback" not in r.output
    ignored_said = "дезертир" in r.stderr and r.stderr.startswith(("note:", "error:", "warning:"))
    assert r.exit_code != 0 or ignored_said, (r.exit_code, r.stdout[:300], r.stderr)


def test_a_word_with_a_minus_is_not_searched_as_a_word_it_must_contain(sample: Sample, rules: Path) -> None:  # noqa: F811
    """`-часть` is «without часть» in the rule language the same analysts write (`NOT a`, `-a`), in
    Telegram's and the web's search boxes too. `/search дезертир -часть` lists posts WITH «части»,
    in bold, as matched words, and `export --search дезертир --search -часть` writes 3 rows, every
    one with «части»: the exclusion silently turned into a requirement, the opposite of what was
    asked. Either the word is excluded, or the reply says search has no exclusion."""
    from .test_export import run
    reply = ask(chat(sample.db, rules), "/search дезертир -часть").html
    assert "<b>части</b>" not in reply and "<b>часть</b>" not in reply, reply
    r = run("export", "--db", sample.db, "--all-posts", "--search", "дезертир", "--search", "-часть", "--format", "jsonl")
    assert "Traceback" not in r.output
    import json
    import re
    texts = [json.loads(line)["text"] for line in r.stdout.splitlines() if line.strip()]
    assert r.exit_code == 2 or not any(re.search(r"(?<!\w)част", t.lower()) for t in texts), texts


@pytest.mark.parametrize("command", [["search", "дезертир", "--limit", "all"], ["story", "5"],
                                     ["stories", "--since", "2026-11-01", "--format", "csv"],
                                     ["stories", "--since", "2026-11-01", "--format", "jsonl"],
                                     ["export"], ["export", "--format", "jsonl"]])
def test_output_redirected_to_a_full_disk_is_one_error_line(sample: Sample, command: list[str]) -> None:  # noqa: F811
    """`tgwatch search … > out.txt` (or story, stories --format csv) on a full disk ends in a
    traceback ending «OSError: [Errno 28] No space left on device»; `export > out.csv` says
    «error: None: cannot write (No space left on device)», naming «None» for the output. `-o` on a
    full disk is one clean line; standard output should be too, naming it (stdout)."""
    import subprocess
    import sys
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "bot", *command, "--db", str(sample.db)], stdout=full,
                           stderr=subprocess.PIPE, cwd=ROOT, timeout=120)
    err = r.stderr.decode()
    assert "Traceback" not in err and "OSError" not in err, err[-1500:]
    assert r.returncode != 0 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "None" not in err and "No space left on device" in err, err


def test_a_chat_edit_that_breaks_the_rules_own_examples_says_so_before_confirm(sample: Sample, rules: Path) -> None:  # noqa: F811
    """rules/README: should_match / should_not_match «are the cheapest guard against a bad edit:
    `rules check` fails when a rule stops matching its own examples». /edit_rule is where most
    edits are made, and it never runs them: `/edit_rule desertion дезертир` offers Confirm with a
    back-test and not a word of the examples the new query no longer matches («СОЧ», «самоволка»
    …); once confirmed, the file fails `tgwatch rules check` (exit 1, one error per example)."""
    from .test_export import run
    commands = chat(sample.db, rules)
    reply = ask(commands, "/edit_rule desertion дезертир")
    assert reply.buttons, reply.html  # offered (a back-test is fine), but ...
    told = "example" in reply.html.lower()
    confirmed = asyncio.run(commands.press(reply.buttons[0][0][1], ANALYST))
    check = run("rules", "check", rules)
    assert told or check.exit_code == 0, (confirmed.html, check.output[-600:])


def test_a_username_taken_by_another_channel_never_links_two_channels_posts_alike(tmp_path: Path) -> None:
    """Telegram usernames are unique at any moment, but one passes on: a channel drops @news and
    another takes it (or two JSON Lines files disagree). Replaying both, each channel keeps
    @news: channel 1000000001's post and channel 1000000002's post are both linked
    https://t.me/news/1 in search, story and export, the evidence link of the first opening the
    second's post, and `--channel @news` picks one of them without a word."""
    import json

    from .test_export import run
    lines = [{"channel_id": 1000000001, "channel_username": "news", "message_id": 1,
              "date": "2024-11-20T09:04:00Z", "text": "В Краснодаре задержали дезертира"},
             {"channel_id": 1000000002, "channel_username": "news", "message_id": 1,
              "date": "2024-11-21T09:04:00Z", "text": "Курс доллара вырос, дезертир сбежал"}]
    src = tmp_path / "posts.jsonl"
    src.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    db = tmp_path / "t.db"
    assert run("replay", src, "--db", db, "--alerts", "none", "--rules", ROOT / "rules").exit_code == 0
    r = run("export", "--db", db, "--all-posts", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    links = {row["channel_id"]: row["link"] for row in map(json.loads, r.stdout.splitlines())}
    assert links[1000000002] == "https://t.me/news/1"
    assert links[1000000001] != links[1000000002], links


@pytest.mark.parametrize("name", ["Drones.TOML",  # an editor or a Windows share in capitals
                                  "drones.toml.txt",  # Windows Notepad's «Save as» adds .txt
                                  "team/drones.toml"])  # rules kept in a subfolder per team
def test_a_rule_file_that_is_not_read_is_named(tmp_path: Path, name: str) -> None:
    """A rule file the folder scan (`*.toml`, case-sensitive, top level only) passes over is never
    named: `rules check` says «3 rules in 3 files loaded, 0 errors» (exit 0) and the analyst's
    drones rule never runs in replay or live, though rules/README's promise is that a bad rule
    file is reported. Either it is read, or a warning names the file it did not read."""
    from .test_export import run
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[[rule]]\nname = "drones"\nquery = "дрон OR беспилотник"\n', encoding="utf-8")
    r = run("rules", "check", folder)
    assert "Traceback" not in r.output
    assert Path(name).name in r.output, r.output




def test_the_chat_rules_list_names_a_rule_file_that_is_not_read(sample: Sample, rules: Path) -> None:  # noqa: F811
    """`rules check` named `drones.toml.txt`, but `/rules` in the chat, where analysts look at what
    runs, listed the shipped rules and said nothing: the drones rule silently never ran there."""
    (rules / "drones.toml.txt").write_text('[[rule]]\nname = "drones"\nquery = "дрон"\n', encoding="utf-8")
    reply = ask(chat(sample.db, rules), "/rules").html
    assert "drones.toml.txt" in reply and "rename it to drones.toml" in reply, reply
    assert str(rules) not in reply  # the file by its name, not the server's path
