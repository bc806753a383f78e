"""Shared fixtures: the real corpus beside the repo (../shared), skipped with a reason when absent."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from hypothesis import settings

from bot.post import Post
from bot.source.export import find_exports, read_export

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TGWATCH_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "corpus" / "telegram-ru-news-2024"
DATA = Path(__file__).resolve().parent / "data"

# No property fails for taking over 200 ms on one example: the suite runs in two processes on a
# 2-core machine beside other work, where a slow example is the machine, not the code (speed is
# measured in bench/). Hypothesis's own CI profile, when it loads one, has no deadline already.
if settings.default.deadline is not None:
    settings.register_profile("tgwatch", deadline=None)
    settings.load_profile("tgwatch")


def interruptible() -> None:
    """`preexec_fn` for a child a test sends Ctrl-C: a suite started in the background by a
    non-interactive shell (`pytest &`, nohup) ignores SIGINT, its children inherit that, and Python
    then installs no KeyboardInterrupt handler: the child would never see the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def corpus() -> dict[tuple[int, int], Post]:
    """Every post of ../shared/corpus keyed by (bare channel id, message id)."""
    if not CORPUS.is_dir():
        pytest.skip(f"real corpus not found at {CORPUS} (clone ../shared beside the repo or set TGWATCH_SHARED)")
    posts = (p for f in find_exports([CORPUS]) for p in read_export(f))
    return {p.key: p for p in posts if isinstance(p, Post)}


from .sample_store import built, sample  # noqa: E402,F401  (fixtures: a store built from the sample)
from .telegram_fixtures import fake, fast_updates, telethon_sleeps  # noqa: E402,F401  (fixtures: the offline Telegram server)
