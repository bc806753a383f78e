"""Telethon messages -> posts: channel ids, links, forwards, entities, albums as one post."""

from __future__ import annotations

from datetime import datetime, timezone

from telethon.tl import types

from bot.source.telegram import album_to_post, group_albums, message_to_post

WHEN = datetime(2024, 11, 20, 9, 4, tzinfo=timezone.utc)


def channel(username: str | None = "shot_shot", usernames: list[str] | None = None) -> types.Channel:
    return types.Channel(id=1117628569, title="SHOT", photo=types.ChatPhotoEmpty(), date=WHEN, access_hash=1,
                         username=username, broadcast=True,
                         usernames=[types.Username(u, active=True) for u in usernames or []] or None)


def msg(id: int, text: str = "", **kw: object) -> types.Message:
    return types.Message(id=id, peer_id=types.PeerChannel(1117628569), date=WHEN, message=text, post=True, **kw)


def test_plain_post() -> None:
    p = message_to_post(msg(5, "Дезертиры задержаны", entities=[types.MessageEntityBold(0, 9)]), channel())
    assert p is not None
    assert (p.channel_id, p.message_id, p.link) == (1117628569, 5, "https://t.me/shot_shot/5")
    assert p.entities[0].type == "bold" and p.date == WHEN


def test_link_uses_an_active_collectible_username_or_the_c_form() -> None:
    assert message_to_post(msg(5, "x"), channel(None, ["shot_news"])).link == "https://t.me/shot_news/5"  # type: ignore[union-attr]
    assert message_to_post(msg(5, "x"), channel(None)).link == "https://t.me/c/1117628569/5"  # type: ignore[union-attr]


def test_forward_origin() -> None:
    fwd = types.MessageFwdHeader(date=WHEN, from_id=types.PeerChannel(1099860397), channel_post=77)
    p = message_to_post(msg(6, "x", fwd_from=fwd), channel())
    assert p is not None and (p.forward_channel_id, p.forward_post_id) == (1099860397, 77)


def test_service_messages_are_not_posts() -> None:
    s = types.MessageService(id=7, peer_id=types.PeerChannel(1117628569), date=WHEN, action=types.MessageActionPinMessage())
    assert message_to_post(s, channel()) is None


def test_album_is_one_post_under_its_first_id_with_its_caption() -> None:
    items = [msg(12, "", grouped_id=9), msg(10, "", grouped_id=9), msg(11, "Колонна техники", grouped_id=9)]
    p = album_to_post(items, channel())
    assert p is not None and (p.message_id, p.last_id, p.text, p.media) == (10, 12, "Колонна техники", "album")


def test_group_albums_keeps_runs_together() -> None:
    ms = [msg(1, "a"), msg(2, grouped_id=5), msg(3, grouped_id=5), msg(4, "b"), msg(5, grouped_id=6), msg(6, grouped_id=7)]
    assert [[m.id for m in run] for run in group_albums(ms)] == [[1], [2, 3], [4], [5], [6]]
