"""The live service's pending file (posts and deletions a locked store could not take): what is
written is read back exactly, an empty one is removed, and a damaged one is refused, never half read."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.live.recovery import read_pending, write_pending

_IDS = st.integers(min_value=1, max_value=2**40)
_WHEN = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
    lambda d: d.replace(tzinfo=timezone.utc))
_POSTS = st.lists(st.tuples(_IDS, _IDS, st.none() | _WHEN), max_size=20)
_DELETED = st.lists(st.tuples(_IDS, st.lists(_IDS, min_size=1, max_size=10), _WHEN.map(lambda d: d.isoformat())),
                    max_size=10)


@settings(max_examples=60, deadline=None)
@given(posts=_POSTS, deleted=_DELETED)
def test_what_is_written_is_read_back(tmp_path_factory: pytest.TempPathFactory, posts: list, deleted: list) -> None:
    path = tmp_path_factory.mktemp("pending") / "tgwatch.db.pending.json"
    write_pending(path, posts, deleted)
    if not posts and not deleted:
        assert not path.exists()  # nothing held: no file left to be read again at the next start
        return
    assert read_pending(path) == (posts, deleted)
    assert not path.with_name(path.name + ".tmp").exists()


def test_an_empty_write_removes_the_file_of_an_earlier_one(tmp_path: Path) -> None:
    path = tmp_path / "tgwatch.db.pending.json"
    write_pending(path, [(1, 2, None)], [])
    write_pending(path, [], [])
    assert not path.exists()


def test_an_older_runs_file_of_posts_alone_is_read(tmp_path: Path) -> None:
    path = tmp_path / "tgwatch.db.pending.json"
    when = datetime(2026, 11, 29, 6, 0, tzinfo=timezone.utc)
    path.write_text(json.dumps([[1, 2, when.isoformat()], [3, 4, None]]), encoding="utf-8")
    assert read_pending(path) == ([(1, 2, when), (3, 4, None)], [])


@pytest.mark.parametrize("text", ["", "{", '{"posts": [[1, 2]]}', '{"posts": [["x", 2, null]]}', '{"deleted": [[1, 5, "t"]]}'])
def test_a_damaged_file_is_refused_whole(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tgwatch.db.pending.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises((ValueError, TypeError, AttributeError)):
        read_pending(path)
