"""Which posts of an alert's story have its rule's words from an edit: the alert gives the edit's time
beside the post's (analysts credit whoever reported first; a post's time is not when it said this).

Read from the store, which keeps a post's last text only. A post's match of the rule is from an edit
when the post has an edit date and either the store never had its text from before that edit (it was
first stored edited: an export, a late read), or the alert was queued after the post was first stored
(the rule matched it only when an edit came, or, its text being the edited one, when the rule
changed). A post whose first stored version matched keeps its own time alone, however it is edited
later (a typo fixed after it alerted is no news). An edit in the post's minute is not shown: the
alert's times are minutes. Whole seconds: an edit stored in the second the post was is taken as its
first version.
"""

from __future__ import annotations

from ..store.db import Store

__all__ = ["edited_matches"]

_FROM_AN_EDIT = ("p.edit_date IS NOT NULL AND substr(p.edit_date, 1, 16) != substr(p.date, 1, 16) "
                 "AND (p.edited_after IS NULL OR p.first_seen < a.created_at)")
_SQL = (
    # the alerted post, whether or not its rule still matches it (the alert quotes it)
    "SELECT p.channel_id, p.message_id, p.edit_date FROM alerts a JOIN posts p "
    f"ON p.channel_id = a.channel_id AND p.message_id = a.message_id WHERE a.id = ? AND {_FROM_AN_EDIT} "
    "UNION "
    # the story's other posts the rule matches now
    "SELECT p.channel_id, p.message_id, p.edit_date FROM alerts a JOIN posts p ON p.story_id = a.story_id "
    f"WHERE a.id = ? AND {_FROM_AN_EDIT} AND EXISTS (SELECT 1 FROM matches m WHERE m.channel_id = p.channel_id "
    "AND m.message_id = p.message_id AND m.rule = a.rule AND m.current = 1)"
)


def edited_matches(store: Store, alert_id: int) -> dict[tuple[int, int], str]:
    """(channel id, message id) -> edit date (ISO, UTC) of the alert's post and of its story's posts
    whose match of the alert's rule is from an edit (see the module's note)."""
    return {(int(c), int(m)): str(e) for c, m, e in store.db.execute(_SQL, [alert_id, alert_id])}
