"""What an analyst sees from the CLI's shared filters: --since/--until read the same way by every
command, --channel by username, id or title, -o against --format, and `tgwatch stories` in an
80-column terminal. Real stores built by the real pipeline (tests/sample_store.py)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli

from .sample_store import KUBAN, ROOT, Sample, prune_part_of_a_story
from .test_export import assert_clean_error, csv_rows, run

SVODKA, YUZHNY = 1700000001, 1700000002


def backtest(sample: Sample, *args: str) -> Result:
    return run("rules", "backtest", "desertion", "--db", sample.db, "--rules", ROOT / "rules", *args)


def on_days(sample: Sample, *days: str) -> tuple[int, int]:
    """(stored posts, posts desertion matches) dated on these days."""
    latest = {p.post.key: p for p in sample.processed if p.status != "unchanged"}
    posts = [p for p in latest.values() if p.post.date.date().isoformat() in days]
    return len(posts), sum(1 for p in posts if any(m.rule == "desertion" for m in p.matches))


def add_posts(db: Path, tmp_path: Path, lines: list[dict]) -> None:
    """Replay JSON Lines posts (channels with a title and no username, as Desktop exports give) into db."""
    src = tmp_path / "more.jsonl"
    src.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    r = run("replay", src, "--db", db, "--rules", ROOT / "rules", "--alerts", "none")
    assert r.exit_code == 0, r.output


def post(channel_id: int, title: str, message_id: int, text: str = "В части задержали дезертира.") -> dict:
    return {"channel_id": channel_id, "channel_title": title, "message_id": message_id,
            "date": "2026-11-24T10:00:00Z", "text": text}


# -- 1. dates: one reading of --since / --until ---------------------------------------------------


def test_backtest_since_and_until_the_same_bare_day_is_that_whole_day(sample: Sample) -> None:
    posts, hits = on_days(sample, "2026-11-21")
    assert posts and hits
    r = backtest(sample, "--since", "2026-11-21", "--until", "2026-11-21")
    assert r.exit_code == 0, r.output
    assert f"{hits} of {posts} stored posts matched" in r.stdout
    assert "2026-11-21" in r.stdout and "2026-11-20" not in r.stdout and "2026-11-22" not in r.stdout
    # export reads the same dates the same way: the same day, the same matched posts
    rows = csv_rows(run("export", "--db", sample.db, "--rule", "desertion",
                        "--since", "2026-11-21", "--until", "2026-11-21").stdout)
    assert len(rows) == hits and {row["date"][:10] for row in rows} == {"2026-11-21"}


def test_backtest_until_a_bare_day_includes_that_day(sample: Sample) -> None:
    posts, hits = on_days(sample, "2026-11-21", "2026-11-22")
    r = backtest(sample, "--since", "2026-11-21", "--until", "2026-11-22")
    assert r.exit_code == 0, r.output
    assert f"{hits} of {posts} stored posts matched" in r.stdout
    # a time includes its whole minute: up to 23:59 is the day
    posts_21, hits_21 = on_days(sample, "2026-11-21")
    r = backtest(sample, "--since", "2026-11-21", "--until", "2026-11-21T23:59")
    assert f"{hits_21} of {posts_21} stored posts matched" in r.stdout


def test_backtest_and_export_help_say_a_bare_until_day_is_included() -> None:
    for command in (["rules", "backtest"], ["export"]):
        r = CliRunner().invoke(cli, [*command, "--help"])
        assert r.exit_code == 0
        assert "--until DATE Only posts up to this date (a bare day includes that whole day" in \
            " ".join(r.output.replace("Posts up", "Only posts up").split()), r.output


@pytest.mark.parametrize("command", [["rules", "backtest", "desertion", "--rules", str(ROOT / "rules")], ["export"],
                                     ["search", "дезертир"]])
def test_since_after_until_is_the_same_error_everywhere(sample: Sample, command: list[str]) -> None:
    assert_clean_error(run(*command, "--db", sample.db, "--since", "2026-11-22", "--until", "2026-11-21"),
                       "--since must be before --until")


# -- 2. --channel by title, and channels named by id and title -------------------------------------


def test_channel_by_its_title_in_any_case(sample: Sample) -> None:
    for ref in ("Сводка 24", "сводка 24", "СВОДКА 24"):
        r = run("export", "--db", sample.db, "--channel", ref)
        assert r.exit_code == 0, r.output
        rows = csv_rows(r.stdout)
        assert rows and {int(row["channel_id"]) for row in rows} == {SVODKA}, ref
        assert "warning" not in r.stderr


@pytest.mark.parametrize("ref", ["@mash", "mash", "t.me/mash", "https://t.me/Mash", "Mash", "https://telegram.me/Mash",
                                 "telegram.dog/mash"])
def test_a_channel_with_no_username_is_found_by_the_name_analysts_call_it(sample: Sample, tmp_path: Path,
                                                                        ref: str) -> None:
    add_posts(sample.db, tmp_path, [post(1800000002, "Mash", 7)])
    r = run("export", "--db", sample.db, "--channel", ref)
    assert r.exit_code == 0, r.output
    rows = csv_rows(r.stdout)
    assert [(row["channel_title"], row["message_id"]) for row in rows] == [("Mash", "7")]
    assert "warning" not in r.stderr


@pytest.mark.parametrize("ref", [f"https://t.me/c/{SVODKA}/48217", f"t.me/c/{SVODKA}", f"https://t.me/c/{SVODKA}/",
                                 f"https://telegram.me/c/{SVODKA}/48217", f"telegram.dog/c/{SVODKA}"])
def test_a_channel_named_by_the_post_link_tgwatch_printed(sample: Sample, tmp_path: Path, ref: str) -> None:
    """A store replayed from Desktop exports knows no usernames: the link each post is printed with
    (t.me/c/ID/N) is what an analyst copies, for --channel and for a rule's channels alike."""
    rows = csv_rows(run("export", "--db", sample.db, "--channel", ref).stdout)
    assert rows and {int(row["channel_id"]) for row in rows} == {SVODKA}
    rules = tmp_path / "scoped.toml"
    rules.write_text(f'[[rule]]\nname = "scoped"\nquery = "дезертир OR дезертирство"\nchannels = ["{ref}"]\n',
                     encoding="utf-8")
    r = run("rules", "backtest", rules, "--db", sample.db)
    assert r.exit_code == 0 and "cannot match" not in r.output, r.output
    per_channel = r.stdout.split("hits per channel")[1].split("hits per day")[0]
    assert str(SVODKA) in per_channel and str(YUZHNY) not in per_channel


def test_a_title_two_channels_share_is_a_one_line_error_naming_both(sample: Sample, tmp_path: Path) -> None:
    add_posts(sample.db, tmp_path, [post(1800000002, "Mash", 7), post(1800000005, "MASH", 9)])
    r = run("export", "--db", sample.db, "--channel", "@mash")
    assert_clean_error(r, "'@mash' is the title of 2 channels", "1800000002 (Mash)", "1800000005 (MASH)")
    assert r.stdout == ""
    # an id still picks one of them
    rows = csv_rows(run("export", "--db", sample.db, "--channel", "1800000005").stdout)
    assert [row["message_id"] for row in rows] == ["9"]


def test_an_unknown_channel_error_says_which_channel_is_which(sample: Sample) -> None:
    r = run("export", "--db", sample.db, "--channel", "@mash")
    assert_clean_error(r, "--channel: no channel @mash in this store (")
    assert r.stdout == ""
    for name in (f"{SVODKA} (Сводка 24)", f"{YUZHNY} (Южный Телеграф)", "1700000003 (Горячая линия)",
                 "@Kuban_Online (Кубань Онлайн)"):
        assert name in r.stderr


def of_channel(sample: Sample, channel_id: int) -> tuple[int, int]:
    """(stored posts, posts desertion matches) of this channel."""
    latest = {p.post.key: p for p in sample.processed if p.status != "unchanged"}
    posts = [p for p in latest.values() if p.post.channel_id == channel_id]
    return len(posts), sum(1 for p in posts if any(m.rule == "desertion" for m in p.matches))


def test_backtest_of_one_channel_counts_and_compares_that_channel_only(sample: Sample) -> None:
    posts, hits = of_channel(sample, YUZHNY)
    assert 0 < hits < sum(1 for p in {q.post.key: q for q in sample.processed}.values()
                          if any(m.rule == "desertion" for m in p.matches))  # other channels have hits too
    r = backtest(sample, "--channel", "Южный Телеграф")
    assert r.exit_code == 0, r.output
    assert f"{hits} of {posts} stored posts matched" in r.stdout
    # the stored matches it compares with are that channel's too: nothing new, nothing gone
    assert re.search(rf"desertion\s+│\s+{hits}\s+│\s+{hits}\s+│\s+\+0\s+│\s+-0", r.stdout), r.stdout
    assert "Сводка 24" not in r.stdout and "Горячая линия" not in r.stdout


@pytest.mark.parametrize("command", [["rules", "backtest", "desertion", "--rules", str(ROOT / "rules")],
                                     ["search", "дезертир"]])
def test_a_channel_the_store_does_not_have_is_an_error_not_the_whole_store(sample: Sample, command: list[str]) -> None:
    r = run(*command, "--db", sample.db, "--channel", "@nosuch")
    assert_clean_error(r, "--channel: no channel @nosuch in this store (", "channels: 1700000001 (Сводка 24), ")
    assert r.stdout == ""


def test_search_of_one_channel_and_span(sample: Sample) -> None:
    everywhere = run("search", "дезертир", "--db", sample.db)
    assert everywhere.exit_code == 0, everywhere.output
    assert "Сводка 24" in everywhere.stdout and "Кубань Онлайн" in everywhere.stdout
    r = run("search", "дезертир", "--db", sample.db, "--channel", str(SVODKA))
    assert r.exit_code == 0, r.output
    heads = [line for line in r.stdout.splitlines() if " UTC " in line]
    assert heads and all(h.startswith("Сводка 24  ") for h in heads)
    # a span with no post: exit 1, and the message says the filter is why
    r = run("search", "дезертир", "--db", sample.db, "--since", "2030-01-01")
    assert r.exit_code == 1 and "no stored post in that span contains 'дезертир'" in r.stderr
    days = {h.split("  ")[1][:10] for h in (line for line in everywhere.stdout.splitlines() if " UTC " in line)}
    day = min(days)
    r = run("search", "дезертир", "--db", sample.db, "--since", day, "--until", day)
    shown = {h.split("  ")[1][:10] for h in (line for line in r.stdout.splitlines() if " UTC " in line)}
    assert r.exit_code == 0 and shown == {day}


# -- 3. -o's suffix against --format ------------------------------------------------------------


@pytest.mark.parametrize("fmt, name", [("csv", "out.xlsx"), ("xlsx", "out.csv"), ("jsonl", "out.csv"),
                                       ("csv", "out.ndjson"), ("csv", "OUT.JSONL")])
def test_format_and_a_file_name_that_disagree_is_an_error(sample: Sample, tmp_path: Path, fmt: str, name: str) -> None:
    out = tmp_path / name
    r = run("export", "--db", sample.db, "--format", fmt, "-o", out)
    assert_clean_error(r, f"-o {out}", f"--format says {fmt}")
    assert not out.exists() and not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("fmt, name, start", [("jsonl", "out.ndjson", b"{"), ("csv", "out.txt", b"channel_id,"),
                                              ("jsonl", "out.json", b"{"), (None, "out.xlsx", b"PK"),
                                              (None, "out.ndjson", b"{"), ("xlsx", "out.XLSX", b"PK")])
def test_format_and_file_name_that_agree_or_a_name_that_names_no_format(sample: Sample, tmp_path: Path,
                                                                       fmt: str | None, name: str, start: bytes) -> None:
    out = tmp_path / name
    r = run("export", "--db", sample.db, *(["--format", fmt] if fmt else []), "-o", out)
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(start)


# -- 4. stories in an 80-column terminal ---------------------------------------------------------


def stories(db: Path, *args: str, columns: int = 80) -> Result:
    """`tgwatch stories` over every stored post (by default it lists the last day's alone)."""
    return CliRunner().invoke(cli, ["stories", "--db", str(db), "--since", "2000-01-01", *args],
                              env={"COLUMNS": str(columns)})


def story_links(db: Path, min_size: int) -> list[str]:
    with sqlite3.connect(db) as c:
        return [link for (link,) in c.execute(
            "SELECT p.link FROM stories s JOIN posts p ON p.channel_id = s.first_channel_id "
            "AND p.message_id = s.first_message_id WHERE s.size >= ?", [min_size])]


@pytest.mark.parametrize("columns", [80, 100])
def test_story_links_are_whole_in_a_narrow_terminal(sample: Sample, columns: int) -> None:
    r = stories(sample.db, "--min-size", "1", "--limit", "100", columns=columns)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    links = story_links(sample.db, 1)
    assert "https://t.me/Kuban_Online/501" in links and len(links) > 5
    for link in links:  # each first post's link on one line, whole, clickable
        assert any(re.search(re.escape(link) + r"(?![\w/])", line) for line in lines), link
    broken = [line for line in lines if re.search(r"https://t\.me/\S*\s*│\s*$", line) and
              not any(link in line for link in links)]
    assert not broken


def test_stories_by_default_leave_single_posts_out(sample: Sample) -> None:
    r = stories(sample.db, "--limit", "100")
    assert r.exit_code == 0, r.output
    shown = set(re.findall(r"│ (#\d+)\s", r.stdout))
    with sqlite3.connect(sample.db) as c:
        big = {f"#{i}" for (i,) in c.execute("SELECT id FROM stories WHERE size >= 2")}
        single = {f"#{i}" for (i,) in c.execute("SELECT id FROM stories WHERE coalesce(size, 1) < 2")}
    assert shown == big and single
    assert " 1 post " not in r.stdout
    every = stories(sample.db, "--limit", "100", "--min-size", "1")
    assert set(re.findall(r"│ (#\d+)\s", every.stdout)) == big | single
    assert "1 post " in every.stdout
    help_text = " ".join(CliRunner().invoke(cli, ["stories", "--help"]).output.split())
    assert "Only stories of at least this many posts (1 lists single posts too). [default: 2;" in help_text


def test_no_story_of_two_posts_says_how_to_see_single_ones(tmp_path: Path) -> None:
    db = tmp_path / "one.db"
    add_posts(db, tmp_path, [post(1800000002, "Mash", 7)])
    r = stories(db)
    assert r.exit_code == 1
    assert r.stdout.strip() == "no stories of 2+ posts seen since 2000-01-01 00:00 UTC (--min-size 1 lists single posts too)"
    assert "1 post" in stories(db, "--min-size", "1").stdout


def shown_stories(r: Result) -> set[int]:
    assert r.exit_code == 0, r.output
    return {int(i) for i in re.findall(r"│ #(\d+)\s", r.stdout)}


def test_stories_of_one_rule_are_those_it_matched_a_post_of(sample: Sample) -> None:
    every = shown_stories(stories(sample.db, "--limit", "100", "--min-size", "1"))
    for rule in ("desertion", "lockdown"):
        wanted = {p.story_id for p in sample.matched(rule)}
        assert wanted and wanted < every  # the rule matched some stories, not all
        assert shown_stories(stories(sample.db, "--rule", rule, "--limit", "100", "--min-size", "1")) == wanted
    both = shown_stories(stories(sample.db, "--rule", "desertion", "--rule", "lockdown", "--limit", "100", "--min-size", "1"))
    assert both == {p.story_id for p in sample.matched("desertion") + sample.matched("lockdown")}
    r = stories(sample.db, "--rule", "nosuch")
    assert_clean_error(r, "--rule: no rule nosuch has matches in this store (rules: desertion, ")


def test_stories_of_one_channel_are_those_it_reported(sample: Sample) -> None:
    latest = {p.post.key: p for p in sample.processed if p.status != "unchanged"}
    wanted = {p.story_id for p in latest.values() if p.post.channel_id in (KUBAN, -1000000000000 - KUBAN)}
    every = shown_stories(stories(sample.db, "--limit", "100", "--min-size", "1"))
    r = stories(sample.db, "--channel", "@Kuban_Online", "--limit", "100", "--min-size", "1")
    assert shown_stories(r) == wanted and len(wanted) >= 3 and wanted < every
    # a story Kuban only forwarded is listed with all its channels, the others' first
    assert "Кубань Онлайн" in r.stdout and "Сводка 24" in r.stdout
    assert_clean_error(stories(sample.db, "--channel", "@nosuch"), "--channel: no channel @nosuch in this store")


def test_one_story_lists_its_posts_in_order_with_their_rules(sample: Sample) -> None:
    with sqlite3.connect(sample.db) as c:
        sid, size = c.execute("SELECT id, size FROM stories ORDER BY size DESC, id LIMIT 1").fetchone()
        posts = c.execute("SELECT link, date FROM posts WHERE story_id = ? ORDER BY date, channel_id, message_id",
                          [sid]).fetchall()
    assert size == len(posts) >= 3
    r = CliRunner().invoke(cli, ["story", str(sid), "--db", str(sample.db)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"story #{sid}: {size} posts from ")
    shown = re.findall(r"https://t\.me/\S+", r.stdout)
    assert shown == [link for link, _ in posts]  # every post, oldest first
    latest = {p.post.link: p for p in sample.processed if p.status != "unchanged"}
    for line in r.stdout.splitlines():
        if m := re.search(r"(https://t\.me/\S+)(.*)$", line):  # the rules it matches follow its link
            shown_rules = set(m[2].split()) & {"desertion", "lockdown", "regiment"}
            assert shown_rules == {x.rule for x in latest[m[1]].matches}, line


def test_a_pruned_story_says_how_many_posts_it_had_and_lists_the_kept_ones(sample: Sample) -> None:
    from bot.store.db import Store

    store = Store(sample.db)
    sid, size, kept = prune_part_of_a_story(store)
    store.close()
    r = CliRunner().invoke(cli, ["story", str(sid), "--db", str(sample.db)])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith(f"story #{sid}: {size} posts ({kept} kept: the others matched no rule and were pruned)")
    assert len(re.findall(r"https://t\.me/\S+", r.stdout)) == kept


def test_a_story_that_is_not_there(sample: Sample) -> None:
    r = CliRunner().invoke(cli, ["story", "99999", "--db", str(sample.db)])
    assert r.exit_code == 1 and "no story #99999" in r.stdout
    r = CliRunner().invoke(cli, ["story", "nine", "--db", str(sample.db)])
    assert r.exit_code == 2 and "Traceback" not in r.output


@pytest.mark.parametrize("ref", ["99999999999999999999999", "²", "-100" + "9" * 30])
def test_a_channel_id_no_store_can_hold_is_an_unknown_channel_not_a_traceback(sample: Sample, ref: str) -> None:
    r = run("export", "--db", sample.db, "--channel", ref)
    assert_clean_error(r, f"--channel: no channel {ref} in this store")
    assert r.stdout == "" and not isinstance(r.exception, (OverflowError, sqlite3.Error)), r.output


BACKTEST = ["rules", "backtest", "desertion", "--rules", str(ROOT / "rules")]


@pytest.mark.parametrize("args", [
    ["export", "--since", "0001-01-01T00:00+01:00"], ["export", "--until", "9999-12-31T23:00-05:00"],
    ["stories", "--since", "0001-01-01T00:00+01:00"],
    [*BACKTEST, "--since", "0001-01-01T00:00+01:00"], [*BACKTEST, "--until", "9999-12-31T23:00-05:00"],
])
def test_a_date_with_an_offset_past_the_calendar_is_a_one_line_error(sample: Sample, args: list[str]) -> None:
    r = run(*args, "--db", sample.db)
    assert_clean_error(r, f"{args[-2]} '{args[-1]}': out of range once read as UTC")


def test_a_date_with_an_offset_is_the_same_moment_in_utc(sample: Sample) -> None:
    moscow = csv_rows(run("export", "--db", sample.db, "--since", "2026-11-21T03:00+03:00").stdout)
    assert moscow and moscow == csv_rows(run("export", "--db", sample.db, "--since", "2026-11-21T00:00").stdout)


@pytest.mark.parametrize("command", [["search", "дезертир"], ["rules", "backtest", "desertion", "--rules", str(ROOT / "rules")]])
def test_control_characters_a_channel_wrote_never_reach_the_terminal(sample: Sample, tmp_path: Path,
                                                                     command: list[str]) -> None:
    add_posts(sample.db, tmp_path, [post(1800000009, "\x1b]0;pwned\x07Канал\x1b[8m", 70,
                                         "\x1b[2JВ части задержали дезертира.\x1b[8m скрыто")])
    r = run(*command, "--db", sample.db)
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "\ufffd[2JВ части задержали дезертира" in r.stdout and "\ufffd]0;pwned\ufffdКанал" in r.stdout


def test_search_refuses_the_rule_operators_it_has_not(sample: Sample) -> None:
    r = run("search", "полк", "OR", "бригада", "--db", sample.db)
    assert r.exit_code == 2 and not r.stdout
    assert r.stderr.startswith("error: 'OR': search finds posts with every word and has no OR or NEAR") and r.stderr.count("\n") == 1
    assert "OR" not in run("search", "абракадабра", "--db", sample.db).output
