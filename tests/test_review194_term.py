"""Review 194: tgwatch in the terminals analysts use. A server's cron job or ssh session (an ASCII
locale), a closed pipe, a dumb terminal, 40 columns: each fault as the analyst meets it, through
the real `tgwatch` process (`python -m bot`) with that environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from .sample_store import ROOT, Sample, built  # noqa: F401  (`sample`: a conftest fixture)
from .test_cli_login_flows import login_cli  # noqa: F401  (tgwatch login against the offline fake Telegram)

# the environment of a cron job or an ssh session that sets no locale, as analysts' servers have it
ASCII_LOCALES = {
    "PYTHONIOENCODING=ascii": {"LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "ascii"},
    "PYTHONUTF8=0": {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"},
}


def tgwatch(*args: str | Path, env: dict[str, str], stdout: int | None = subprocess.PIPE,
            closing: int | None = None) -> subprocess.CompletedProcess[bytes]:
    """`tgwatch ARGS` as its own process, under `env` (over a minimal environment), reading
    /dev/null; `closing`: a descriptor closed before it starts (0: `<&-`, 1: `>&-`)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "PYTHONPATH")}
    return subprocess.run([sys.executable, "-m", "bot", *map(str, args)], env={**base, **env}, cwd=ROOT,
                          stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, timeout=120,
                          preexec_fn=None if closing is None else lambda: os.close(closing))


@pytest.mark.parametrize("locale", ASCII_LOCALES)
def test_an_ascii_locale_shows_cyrillic_posts_not_a_traceback(sample: Sample, locale: str) -> None:
    """`tgwatch search дезертир` in a cron job (LANG=C) crashed on the first Cyrillic letter of a post
    (UnicodeEncodeError, exit 1); with PYTHONUTF8=0 the word itself was read as undecodable bytes."""
    r = tgwatch("search", "дезертир", "--db", sample.db, env=ASCII_LOCALES[locale])
    assert b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode("utf-8")
    assert "Краснодар" in text and "matched: дезертир" in text


@pytest.mark.parametrize("locale", ASCII_LOCALES)
def test_an_ascii_locale_names_a_cyrillic_channel_and_file_readably(sample: Sample, tmp_path: Path, locale: str) -> None:
    """An error naming a Cyrillic channel read `\\u041d\\u0435\\u0442` on stderr; an export to a
    folder with Cyrillic letters and spaces in its name is written there and named as typed."""
    env = ASCII_LOCALES[locale]
    r = tgwatch("export", "--db", sample.db, "--channel", "Нет такого", env=env)
    assert r.returncode == 2
    assert "no channel Нет такого" in r.stderr.decode("utf-8") and b"\\u" not in r.stderr
    folder = tmp_path / "Мои отчёты"
    folder.mkdir()
    r = tgwatch("export", "--db", sample.db, "--channel", "Сводка 24", "-o", folder / "выгрузка 1.csv", env=env)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert f"written to {folder / 'выгрузка 1.csv'}" in r.stderr.decode("utf-8")
    assert "Сводка 24" in (folder / "выгрузка 1.csv").read_text(encoding="utf-8")


def test_replay_read_by_head_ends_with_141_not_nothing_read(tmp_path: Path) -> None:
    """`tgwatch replay examples/export | head -3`: the alerts' console exited 1 when head went away,
    which replay documents as "not one post read"; every other command ends so with 141."""
    read, write = os.pipe()
    os.close(read)  # the reader has already had enough: every write to stdout fails
    try:
        r = tgwatch("replay", ROOT / "examples" / "export", "--db", tmp_path / "tg.db", env={"LANG": "C.UTF-8"}, stdout=write)
    finally:
        os.close(write)
    assert r.returncode == 141, r.stderr
    assert b"Traceback" not in r.stderr


def run_on_a_terminal(*args: str | Path, env: dict[str, str]) -> tuple[str, subprocess.CompletedProcess[bytes]]:
    """`tgwatch ARGS` with a pseudo-terminal as its stdout under `env`: what the terminal showed, and
    the run. Read while it runs: an output longer than the terminal's buffer (replay's alerts) would
    otherwise stall the command."""
    import pty

    master, slave = pty.openpty()
    shown = bytearray()

    def read() -> None:
        try:
            while chunk := os.read(master, 65536):
                shown.extend(chunk)
        except OSError:  # EIO: the terminal's other side is closed and everything is read
            pass

    reader = threading.Thread(target=read)
    reader.start()
    try:
        r = tgwatch(*args, env={"LANG": "C.UTF-8", **env}, stdout=slave)
    finally:
        os.close(slave)
        reader.join()
        os.close(master)
    return shown.decode("utf-8"), r


def on_a_terminal(*args: str | Path, env: dict[str, str]) -> str:
    """What `tgwatch ARGS` shows on a terminal (a pseudo-terminal as its stdout) under `env`."""
    shown, r = run_on_a_terminal(*args, env=env)
    assert r.returncode == 0, r.stderr
    return shown


def test_a_dumb_terminal_names_the_words_search_found(sample: Sample) -> None:
    """On TERM=dumb (Emacs' shell, a serial console) rich shows no bold, so the highlighted words
    search found were invisible and no `matched:` line named them, as it does in a pipe."""
    shown = on_a_terminal("search", "дезертир", "--db", sample.db, "--limit", "1", env={"TERM": "dumb"})
    assert "matched: Дезертирство" in shown and "\x1b[" not in shown


def test_stats_at_40_columns_keeps_dates_and_rule_names_whole(sample: Sample) -> None:
    """`COLUMNS=40 tgwatch stats` (a phone's ssh client, a split pane) cut every day to «2026-1…» and
    the rules to «desert…»: the table is split into tables that fit, each with the day column."""
    r = tgwatch("stats", "--db", sample.db, "--since", "2026-11-20", "--until", "2026-11-23", env={"LANG": "C.UTF-8", "COLUMNS": "40"})
    assert r.returncode == 0, r.stderr
    shown = r.stdout.decode("utf-8")
    assert "…" not in shown
    assert all(len(line) <= 40 for line in shown.splitlines() if line.startswith(("┃", "│")))
    for name in ("2026-11-20", "2026-11-23", "desertion", "lockdown", "regiment"):
        assert f" {name} " in shown, shown


def test_stories_at_40_columns_lists_channels_and_headlines(sample: Sample) -> None:
    """`COLUMNS=40 tgwatch stories`: the link column alone is 33 wide, so the channels and headline
    columns were drawn 0 wide (gone) and the story column cut to «2 p…»; below the width the table
    needs, each story is a block of lines: link whole, channels one a line, headline wrapped at words."""
    r = tgwatch("stories", "--db", sample.db, "--since", "2026-11-20", "--until", "2026-11-20",
                env={"LANG": "C.UTF-8", "COLUMNS": "40"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode("utf-8").splitlines()
    shown = "\n".join(lines)
    link = lines.index("  https://t.me/c/1700000002/18737")  # the desertion story's first post, its link whole
    assert re.fullmatch(r"story #\d+ \(\d+ posts\)", lines[link - 1]), shown
    assert "  channels: Южный Телеграф" in lines and "            Горячая линия" in lines
    assert "воинской" in shown  # its headline: «У воинской части в Прикубанском округе…»
    assert all(len(line) <= 40 for line in lines if "https://" not in line), shown


def test_backtest_at_40_columns_keeps_rule_terms_and_days_whole(sample: Sample) -> None:
    """`COLUMNS=40 tgwatch rules backtest lockdown`: the rule showed as «lockd…», «оцепление» and
    «оцепленный» both as «оцеплен…» (two rows alike), every day as «2…» beside a 20-wide bar."""
    r = tgwatch("rules", "backtest", "lockdown", "--db", sample.db, env={"LANG": "C.UTF-8", "COLUMNS": "40"})
    assert r.returncode == 0, r.stderr
    shown = r.stdout.decode("utf-8")
    rows = [line for line in shown.splitlines() if line.startswith(("┃", "│"))]
    assert all(len(line) <= 40 and "…" not in line for line in rows), shown
    cells = {cell.strip() for line in rows for cell in line.strip("│┃").split("│")}
    assert {"lockdown", "оцепление", "оцепленный", "2026-11-20", "2026-11-22"} <= cells, shown


@pytest.mark.parametrize("command", [["rules", "explain", "desertion"], ["--help"]])
def test_explain_and_help_read_by_head_end_with_141(command: list[str]) -> None:
    """`tgwatch rules explain desertion | head -3` and `tgwatch --help | head -3` exited 1 (rich's and
    click's own broken-pipe handling), which reads as an error; every other command ends with 141."""
    read, write = os.pipe()
    os.close(read)
    try:
        r = tgwatch(*command, env={"LANG": "C.UTF-8"}, stdout=write)
    finally:
        os.close(write)
    assert r.returncode == 141, r.stderr
    assert r.stderr == b""


def test_replay_from_a_closed_stdin_says_so(tmp_path: Path) -> None:
    """`tgwatch replay - <&-` (a cron line or a service unit with no standard input at all): Python
    has no sys.stdin then, and replay ended in an AttributeError traceback."""
    r = tgwatch("replay", "-", "--db", tmp_path / "tg.db", env={"LANG": "C.UTF-8"}, closing=0)
    assert b"Traceback" not in r.stderr, r.stderr.decode()
    assert r.returncode == 1  # not one post read, as an empty input
    assert "skipped <stdin>: cannot read: standard input is closed" in r.stderr.decode(), r.stderr.decode()


def closed_stdout(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    """`tgwatch ARGS >&-`: run with no standard output at all (Python's sys.stdout is None then)."""
    return tgwatch(*args, env={"LANG": "C.UTF-8"}, stdout=subprocess.DEVNULL, closing=1)


def test_a_closed_stdout_is_one_error_line_not_a_silent_success(sample: Sample, tmp_path: Path) -> None:
    """`tgwatch search дезертир >&-` (a cron line's slip) found 4 posts, showed none, then ended in an
    AttributeError traceback; stats printed nothing and a traceback. A command that writes to stdout
    says it cannot (exit 2); one that writes a file (`export -o`) needs no stdout and still works."""
    for command in (["search", "дезертир"], ["stats"]):
        r = closed_stdout(*command, "--db", sample.db)
        assert b"Traceback" not in r.stderr, r.stderr.decode()
        assert r.returncode == 2
        assert r.stderr.decode().splitlines()[-1] == "error: standard output: cannot write (it is closed)"
    r = closed_stdout("--version")  # written while click parses, before any command runs
    assert (r.returncode, r.stderr.decode()) == (2, "error: standard output: cannot write (it is closed)\n")
    r = closed_stdout("export", "--db", sample.db, "-o", tmp_path / "out.csv")
    assert r.returncode == 0, r.stderr.decode()
    assert "Краснодар" in (tmp_path / "out.csv").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, asked", [((), "phone number"), (("--phone", "+447700900123"), "login code")])
def test_login_with_no_terminal_says_what_it_could_not_read(
        login_cli: Any, args: tuple[str, ...], asked: str) -> None:  # noqa: F811 (login_cli: the fixture imported above)
    """`tgwatch login < /dev/null` (cron, a script, an ssh command): the prompt read nothing, and the
    login ended «error: login failed: » saying nothing (click's Abort is a RuntimeError); it says what it
    could not read, and where from."""
    r = login_cli(*args, input="")
    assert r.exit_code == 2, r.output
    assert r.stderr.strip().splitlines()[-1] == (f"error: login failed: no {asked} to read: standard input is not "
                                                 "a terminal (run tgwatch login in one)"), r.output


def test_stories_on_a_wide_terminal_shows_the_headline_it_has_room_for(sample: Sample) -> None:
    """`COLUMNS=250 tgwatch stories`: the headline column was 120 wide, yet every headline was cut at
    80 characters («…Росгвардии, на…») and the rest of the column left blank."""
    r = tgwatch("stories", "--db", sample.db, "--since", "2026-11-20", "--until", "2026-11-20",
                env={"LANG": "C.UTF-8", "COLUMNS": "250"})
    assert r.returncode == 0, r.stderr
    shown = r.stdout.decode("utf-8")
    assert "патрули." in shown and "Уточняем, что произошло." in shown, shown  # (its first line, 136 characters, whole)
    assert all(len(line) <= 250 for line in shown.splitlines())
