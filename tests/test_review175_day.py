"""Review 175 of the day's change (8e540d3..): what a user would still hit. Real TelegramClient against
the offline server (tests/fake_telegram.py), real SQLite stores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from telethon import errors

from bot.store.db import iso

from . import test_story_channel_order as story_order
from .fake_telegram import BOT_ID, FakeTelegram, eventually
from .test_live import DESERTION, DESERTION_2, MASH, SHOT, TOPOR, channels, run, running
from .test_live_bot_token import _bot_session_account, _config, _logged_in, _serve
from .test_live_edited_away import EDITED, states, stored_text
from .test_live_rule_off import rules
from .test_live_sender_faults import digests

UNKNOWN_BOT = 7_777_777  # a bot id Telegram does not know: a typo in the new token, a bot deleted since


def test_a_new_bot_token_telegram_refuses_leaves_the_old_bot_logged_in(fake: FakeTelegram, tmp_path: Path) -> None:
    """The analyst pastes the new bot's token with a typo: Telegram refuses it and `run` stops with
    one line. The old bot's session was logged out and deleted first, for a login that never came:
    the old bot is gone too (and reverting the token means a fresh login, its pending updates lost).
    The new token is to be proven (logged in) before the old bot is logged out."""
    fake.add_channel(1800000002, "mash", "Mash")
    config = _config(tmp_path)
    _logged_in(fake, config)
    with pytest.raises(errors.RPCError):
        _serve(fake, config, f"{UNKNOWN_BOT}:AAHnoSuchBotsToken0123456789abcdefghij")
    assert BOT_ID in fake._auth.values(), "the old bot was logged out for a token Telegram refused"
    assert _bot_session_account(fake, config) == BOT_ID


def test_an_edited_away_alert_quotes_the_report_of_a_channel_not_muted(fake: FakeTelegram, tmp_path: Path) -> None:
    """SHOT's post, whose alert waits for the digest, is edited so the rule no longer matches it; the
    story's other reports are Mash's (muted by the analysts) and, later, Топор's (not muted). The alert
    is aimed at the oldest other report, Mash's, then muted for Mash's mute: Топор's report, which
    a mute holds nowhere, never reaches the analysts (no later post re-arms it: Топор's is stored)."""
    channels(fake)

    async def go() -> tuple[int, list[tuple[int, int, str, str | None]]]:
        async with running(fake, tmp_path, rules=rules(tmp_path, severity="low")) as service:
            until = iso(datetime.now(timezone.utc) + timedelta(days=1)) or ""
            service.store.mute("desertion", until, channel_id=MASH)
            mid = fake.publish(SHOT, DESERTION)
            fake.publish(MASH, DESERTION_2)
            fake.publish(TOPOR, DESERTION_2 + ", пишут местные каналы")
            await eventually(lambda: service.store.count("posts") == 3 and service.store.count("alerts") == 1)
            fake.edit(SHOT, mid, EDITED)
            await eventually(lambda: stored_text(service, SHOT, mid) == EDITED)
            return await service.sender.send_digest(), states(service)

    sent, alerts = run(go())
    assert [(channel, state) for channel, _, state, _ in alerts] == [(TOPOR, "digested")], alerts
    assert sent == 1
    [digest] = digests(fake)
    assert "https://t.me/topor/" in str([getattr(e, "url", "") for e in digest.entities])


def test_two_channels_reporting_at_the_same_minute_are_listed_as_story_id_lists_them(tmp_path: Path) -> None:
    """6fa120b: `stories` lists a story's channels «as story ID» does. Two channels posting the same
    minute (a network cross-posting its channels): story ID lists them by channel id after the date,
    `stories` in the order they were read (Третий replayed first, Первый later): the two faces
    disagree about who reported first."""
    db = tmp_path / "t.db"
    story_order.replay(tmp_path, db, "a.jsonl", (3, "10:00"))
    story_order.replay(tmp_path, db, "b.jsonl", (1, "10:00"))
    r = story_order.run("stories", "--db", db, "--since", "2024-11-01", "--format", "jsonl")
    assert r.exit_code == 0, r.output
    [story] = [json.loads(x) for x in r.stdout.splitlines()]
    detail = story_order.run("story", story["story_id"], "--db", db)
    assert detail.exit_code == 0, detail.output
    listed = [t for line in detail.stdout.splitlines() for t in story_order.TITLES.values() if t in line]
    assert listed == ["Первый", "Третий"], detail.stdout
    assert story["channels"] == listed, story
