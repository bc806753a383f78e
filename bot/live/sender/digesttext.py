"""The digest's text: the low-priority alerts as numbered items grouped by rule, in messages of
`DIGEST_ITEMS` items under Telegram's limit; pure (store in, HTML out), so it is sent as rendered."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from telethon import types

from ...alert.html import bold_spans, channel_text, to_parts
from ...alert.outbox import Alert, deleted_line, edited_note, load_alert, snippet
from ...store.db import Store

__all__ = ["DIGEST_ITEMS", "render_digest"]

# Items per digest message. Sent by the bot, each item has a row of triage buttons under its message
# (Telegram takes about 100 buttons a message): 20 rows stay a phone screen or two to scroll.
DIGEST_ITEMS = 20


def render_digest(store: Store, alert_ids: list[int], titles: dict[str, str], tz: ZoneInfo | None) -> str:
    """The digest as HTML: per rule, each story once, numbered, with its size, channel, time, link
    and the words around its first match, in bold (why it matched: the post's start seldom says);
    the messages it is sent as (`DIGEST_ITEMS` items each) one after another."""
    return "\n\n".join(_digest_html(_digest_order(_digest_alerts(store, alert_ids, titles)), tz))


def _digest_alerts(store: Store, alert_ids: list[int], titles: dict[str, str]) -> list[Alert]:
    """The digest's alerts whose posts are stored, in its order."""
    return [a for a in (load_alert(store, i, titles) for i in alert_ids) if a is not None]


@dataclass(frozen=True)
class _DigestPart:
    """One message of a digest: its text and entities, and the items it carries as (number shown,
    alert): what its triage buttons and a deletion notice's reply refer to."""

    text: str
    entities: list[Any]
    items: list[tuple[int, Alert]]


def _digest_order(alerts: Sequence[Alert]) -> list[Alert]:
    """The items as the digest shows and numbers them: by rule, each rule's in the digest's order."""
    by_rule: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_rule.setdefault(alert.rule, []).append(alert)
    return [a for _, group in sorted(by_rule.items()) for a in group]


def _digest_html(order: Sequence[Alert], tz: ZoneInfo | None) -> list[str]:
    """The digest as the HTML of its messages, `DIGEST_ITEMS` numbered items each (so each carries
    a row of triage buttons per item, a phone screen or two of them); `order`: `_digest_order`'s."""
    total = len(order)
    counts = Counter(a.rule for a in order)
    out: list[str] = []
    for start in range(0, max(total, 1), DIGEST_ITEMS):
        chunk = order[start:start + DIGEST_ITEMS]
        if start == 0:
            lines = [f"📋 <b>Digest</b>: {total} low-priority stor{'y' if total == 1 else 'ies'}"]
        else:
            lines = [f"📋 <b>Digest</b>, continued: {start + 1}–{start + len(chunk)} of {total}"]
        rule = None
        for n, a in enumerate(chunk, start + 1):
            if a.rule != rule:
                rule = a.rule
                lines.append(f"\n<b>{html.escape(a.title)}</b> ({counts[a.rule]})")
            size = f" · story #{a.story_id} ({a.story_size} posts)" if a.story_size > 1 else ""  # for /story N, as alerts say it
            when = datetime.fromisoformat(a.date).astimezone(tz or timezone.utc).strftime("%d.%m %H:%M")
            if a.edited_at:  # the rule's words came later, in an edit
                when += f" ({edited_note(a.edited_at, a.date, tz)})"
            window, spans, _ = snippet(a.text, a.spans, width=120)
            gone = f" · {html.escape(deleted_line(a, tz))}" if a.deleted_at else ""
            lines.append(f'<b>{n}.</b> {when} <a href="{html.escape(a.link, quote=True)}">{channel_text(a.channel_title)}</a>'
                         f"{size}{gone}: " + bold_spans(window, spans))
        out.append("\n".join(lines))
    return out


def _digest_parts(alerts: Sequence[Alert], tz: ZoneInfo | None) -> list[_DigestPart]:
    """The digest's messages, each under Telegram's 4096 (a message of long items is split further);
    an item is carried by the part that starts its line («N. ») with its link (one post in two rules
    is two items with one link: the link alone could name the part before)."""
    order = _digest_order(alerts)
    parts: list[_DigestPart] = []
    for c, markup in enumerate(_digest_html(order, tz)):
        chunk = list(enumerate(order[c * DIGEST_ITEMS:(c + 1) * DIGEST_ITEMS], c * DIGEST_ITEMS + 1))
        split = to_parts(markup)
        urls = [{e.url for e in entities if isinstance(e, types.MessageEntityTextUrl)} for _, entities in split]
        k = 0
        carried: list[list[tuple[int, Alert]]] = [[] for _ in split]
        for n, a in chunk:  # in order: an item is never in a part before the previous item's
            line = re.compile(rf"^{n}\. ", re.MULTILINE)
            k = next((j for j in range(k, len(split)) if a.link in urls[j] and line.search(split[j][0])), k)
            carried[k].append((n, a))
        parts += [_DigestPart(text, list(entities), items) for (text, entities), items in zip(split, carried)]
    return parts
