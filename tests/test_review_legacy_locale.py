"""tgwatch under a Russian terminal's legacy encoding (KOI8-R, CP1251, CP866: an old server's
`LANG=ru_RU.KOI8-R`, a redirect on Russian Windows) or one with no Cyrillic at all (Latin-1):
posts and alerts carry emoji and arrows such encodings lack. Through the real `tgwatch` process."""

from __future__ import annotations

from pathlib import Path

import pytest

from .sample_store import ROOT, Sample, built  # noqa: F401  (`sample`: a conftest fixture)
from .test_review194_term import tgwatch

CYRILLIC = ["koi8-r", "cp1251", "cp866"]


@pytest.mark.parametrize("encoding", CYRILLIC)
def test_search_in_a_cyrillic_legacy_encoding_shows_the_posts(sample: Sample, encoding: str) -> None:
    """`tgwatch search дезертир` crashed (UnicodeEncodeError on the first 🔴 of a post, a traceback);
    the terminal reads its own encoding, so Cyrillic stays in it and what it lacks becomes «?»."""
    r = tgwatch("search", "дезертир", "--db", sample.db, env={"LANG": "C.UTF-8", "PYTHONIOENCODING": encoding})
    assert b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode(encoding)
    assert "Краснодар" in text and "matched: дезертир" in text


@pytest.mark.parametrize("encoding", CYRILLIC)
def test_replay_in_a_cyrillic_legacy_encoding_shows_every_alert(tmp_path: Path, encoding: str) -> None:
    """The README's first command, replay of the bundled sample, died at its first alert's arrow."""
    env = {"LANG": "C.UTF-8", "PYTHONIOENCODING": encoding}
    r = tgwatch("replay", ROOT / "examples" / "export", "--db", tmp_path / "tg.db", env=env)
    assert b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    assert r.returncode == 0, r.stderr
    same = tgwatch("replay", ROOT / "examples" / "export", "--db", tmp_path / "utf8.db", env={"LANG": "C.UTF-8"})
    shown, utf8 = r.stdout.decode(encoding), same.stdout.decode("utf-8")
    assert shown.count("\n") == utf8.count("\n") and "дезертир" in shown.lower()


def test_a_latin1_terminal_gets_utf8_not_question_marks(sample: Sample) -> None:
    """Latin-1 has no Cyrillic letter: every word of a post would be «?»; as under an ASCII locale,
    the output is UTF-8."""
    r = tgwatch("search", "дезертир", "--db", sample.db, env={"LANG": "C.UTF-8", "PYTHONIOENCODING": "latin-1"})
    assert b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    assert r.returncode == 0, r.stderr
    assert "Краснодар" in r.stdout.decode("utf-8")
