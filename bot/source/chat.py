"""One chat of an export -> its posts: the chat's own fields checked, then each message a Post, a Skip or Notes.

A chat that is no channel (a personal chat, a bot, a basic group) is one Skip line, its messages unread.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from ..post import Post
from .checks import UNEXPECTED, BadInput, Note, Skip, check_int, show
from .message import _Chat, _message_to_post

__all__ = ["NOT_CHANNELS", "NOT_A_CHANNEL"]


# The chats of a full-account export that are not channels (Telegram Desktop's `type`): their
# messages are someone's private conversations, and their ids are no channel ids (a post link
# t.me/c/<id>/<n> would lead nowhere). Channels and supergroups are read; so is a chat of a type
# not listed here (a newer export's), rather than lose posts.
NOT_CHANNELS = {
    "personal_chat": "a personal chat", "bot_chat": "a chat with a bot", "saved_messages": "Saved Messages",
    "replies": "Replies", "verification_codes": "verification codes",
    "private_group": "a basic group (no channel id: its posts would have no working link)",
}
NOT_A_CHANNEL = "not a channel, not read"


def _chat(chat: dict[str, Any], path: str, where: str) -> Iterator[_Chat | Skip]:
    """The checked chat fields (last), after a Note for each bad optional one (its posts are still
    read); only a skip when the chat cannot be read (no usable id)."""
    if "id" not in chat:
        yield Skip(path, where, "chat has no id")
        return
    try:
        chat_id = check_int(chat["id"], "chat id")
    except BadInput as e:
        yield Skip(path, where, f"{e}; the chat cannot be read")
        return
    # Name and username only label posts and build t.me links (a post without a username links
    # by id): a bad one is reported and read as absent rather than losing the chat's posts.
    title, username = chat.get("name"), chat.get("username")
    if title is not None and not isinstance(title, str):
        yield Note(path, where, f"chat name {show(title)} is not a string (read as no name)")
        title = None
    if username is not None and not isinstance(username, str):
        yield Note(path, where, f"chat username {show(username)} is not a string (read as no username)")
        username = None
    kind = chat.get("type")
    if kind is not None and not isinstance(kind, str):  # a sign of a damaged file: read as a channel
        yield Note(path, where, f"chat type {show(kind)} is not a string (ignored)")
    elif kind in NOT_CHANNELS:
        yield Skip(path, where, f"{NOT_CHANNELS[kind]}: {NOT_A_CHANNEL}")
        return
    yield _Chat(chat_id, title or "", (username.lstrip("@") or None) if username else None)


def _chat_posts(chat: dict[str, Any], path: str, where: str,
                messages: Iterable[Any] | None = None) -> Iterator[Post | Skip]:
    """A chat's posts: `messages` streamed (a Skip among them says where the file broke), or the
    chat's own `messages` list when None."""
    checked: _Chat | None = None
    for item in _chat(chat, path, where.removesuffix(": ")):
        if isinstance(item, Skip):
            yield item
        else:
            checked = item
    if checked is None:
        return
    if messages is None:
        messages = chat.get("messages")
        if not isinstance(messages, list):
            yield Skip(path, where.removesuffix(": "), "chat has no messages list")
            return
    for i, msg in enumerate(messages):
        if isinstance(msg, Skip):  # where the stream broke: the messages before it are read
            yield msg
            continue
        if not isinstance(msg, dict):
            yield Skip(path, f"{where}message #{i}", "not an object")
            continue
        kind = msg.get("type", "message")
        if not isinstance(kind, str):
            yield Skip(path, _label(where, i, msg), f"type {show(kind)} is not a message type")
            continue
        if kind != "message":
            yield Skip(path, _label(where, i, msg), f"{kind} message")
            continue
        notes: list[str] = []
        try:
            post = _message_to_post(msg, checked, notes)
        except KeyError as e:
            yield Skip(path, _label(where, i, msg), f"missing field {e}")
        except BadInput as e:
            yield Skip(path, _label(where, i, msg), str(e))
        except (ValueError, TypeError, OverflowError):  # a check missed: still one line, no Python text
            yield Skip(path, _label(where, i, msg), UNEXPECTED)
        else:
            if notes:
                label = _label(where, i, msg)
                yield from (Note(path, label, why) for why in notes)
            yield post


def chat_place(label: str, n: int, name: Any) -> str:
    """`chat #2 (Name): `, the place of a full-account export's chat in its skip lines; the name on
    one line (its whitespace runs one space), as a skip line is one line whatever the chat's name."""
    return f"{label} #{n} ({' '.join(name.split()) if isinstance(name, str) else '?'}): "


def _label(where: str, i: int, msg: dict[str, Any]) -> str:
    """Where message #i is, for its Skip or Note line: made only when there is one (a json.dumps of
    its id for every post read was a measurable part of the parse's CPU)."""
    return f"{where}message #{i} (id {show(msg['id']) if 'id' in msg else '?'})"


def _after(n: int, last: Any, where: str = "") -> str:
    """Where a stream broke: after the last message read (index and id) or, with none, the chat."""
    if not n:
        return where.removesuffix(": ")
    mid = show(last["id"]) if isinstance(last, dict) and "id" in last else "?"
    return f"{where}after message #{n - 1} (id {mid})"
