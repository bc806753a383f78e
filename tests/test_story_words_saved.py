"""The story index's word counts as the store saves them (meta `story_words`): read back the same,
written as `json.dumps` writes them (an older tgwatch, or a reader by hand, reads them alike)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.store.db import Store

# words as any text may hold them: quotes, backslashes, control characters, line separators, emoji
_words = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f",
                                                                                 "\u2028", "\ufeff", "😀"]), max_size=6)


@given(st.integers(0, 10**6), st.dictionaries(_words, st.integers(0, 10**9), max_size=20))
@settings(max_examples=100, deadline=None)
def test_saved_word_counts_read_back_as_saved_in_json_dumps_form(docs: int, counts: dict[str, int]) -> None:
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "s.db")
        with store.transaction():
            store.save_story_words(docs, counts)
        assert store.story_words() == (docs, counts, 0)
        assert store.get_meta("story_words") == json.dumps([docs, 0, counts], ensure_ascii=False, separators=(",", ":"))
        store.close()
