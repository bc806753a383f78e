"""How every face names a stored post: its link (t.me/<username>/N once the username is known) and
the post it forwards; one place, so the CLI, the chat, the exports and the alerts say the same."""

from __future__ import annotations

from ...post import post_link

__all__ = ["shown_link"]


def shown_link(channel_id: int, message_id: int, username: str | None, stored: str | None = None) -> str:
    """A post's link as every face shows it: t.me/<username>/N once the store knows the channel's
    username (a post stored before it was known keeps t.me/c/<id>/N in its row, a link that opens
    only for the channel's members), else the stored link."""
    if username:
        return post_link(channel_id, message_id, username)
    return stored or post_link(channel_id, message_id)


def _forward_origin(channel_id: int | None, post_id: int | None, name: str | None) -> str:
    if channel_id is not None:
        return f"{channel_id}/{post_id}" if post_id is not None else str(channel_id)
    return name or ""
