"""Review 186 of the day's change (6cbc43d..): faults found at its edges, one test each.

The story reach (a story joined by similarity only through its posts of its first 8 h) and the
Telegram links on other hosts and tg:// (bot/post.py TG_LINK, cut_link; the rules' channels)."""

from __future__ import annotations

from pathlib import Path

from bot.match.matcher import Matcher
from bot.match.rules import parse_rules_text
from bot.pipeline import Pipeline
from bot.post import Post
from bot.store.db import Store

from .test_story_reach import RATES, rates


def _stories(db: Path, posts: list[Post]) -> list[int]:
    """The story of each post, processed as pushed (not in order), in one run on `db`."""
    with Pipeline(Store(db), Matcher([])) as pipe:
        return [p.story_id for p in pipe.process(posts, in_order=False)]  # type: ignore[misc]


def test_an_earlier_post_read_late_takes_the_reach_from_the_story_s_new_first_post(tmp_path: Path) -> None:
    """A story began by its 6 h post, joined by the 12 h one (filed: 6 h after that start); then the
    0 h post arrives (a polled channel, a file read after another) and joins, so the story's first
    post is at 0 h and the 12 h post lies 12 h after it, past the reach. The 18 h post, close only to
    the 12 h one, still joins in one run (it chains past the reach), but not after a restart just
    before it (the 12 h post comes back unfiled): the same posts fold two ways."""
    p = rates()
    order = [p[2], p[3], p[0], p[4]]
    assert [RATES[i][0] for i in (2, 3, 0, 4)] == [6, 12, 0, 18]
    whole = _stories(tmp_path / "whole.db", order)
    assert whole[0] == whole[1] == whole[2]  # (the 0 h post joins the story of the 6 h and 12 h ones)
    db = tmp_path / "split.db"
    parts = _stories(db, order[:3]) + _stories(db, order[3:])
    assert parts == whole, "a restart folds the 18 h post apart from what one run does"
    assert whole[3] != whole[0], "the 18 h post joined through a post 12 h after its story's first"


def test_a_rule_channel_given_as_a_tg_resolve_link_is_read_or_refused() -> None:
    """tg://resolve?domain=NAME is the apps' own link to @NAME (post.py names it a username, and the
    config refuses it with an error); in a rule's channels it was taken as a channel title
    «tg://resolve?domain=mash» that no channel has: the rule silently watches nothing."""
    rules = parse_rules_text('[[rule]]\nname = "r"\nquery = "взрыв"\nchannels = ["tg://resolve?domain=Mash"]\n',
                             "rules.toml")
    assert rules.errors or [r.channels for r in rules.rules] == [("mash",)]
