"""Alerts as Telegram HTML: escaped post text, hits in bold, split under Telegram's 4096 limit."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from telethon.extensions import html as tl_html
from telethon.tl.types import TypeMessageEntity
from telethon.utils import split_text

from .outbox import Alert, deleted_line, snippet, story_line

__all__ = ["bold_spans", "local_time", "render_html", "to_parts", "MAX_LENGTH"]

MAX_LENGTH = 4096
_BADGE = {"high": "🔴 HIGH", "normal": "🟡 NORMAL", "low": "⚪ LOW"}


def local_time(when: str | datetime, tz: ZoneInfo | None) -> str:
    """A time as analysts read it: '2024-11-20 12:04 MSK' in their zone (UTC without one); an
    unreadable ISO string comes back as it is."""
    try:
        dt = datetime.fromisoformat(when) if isinstance(when, str) else when
    except ValueError:
        return str(when)
    if tz is None:
        return dt.strftime("%Y-%m-%d %H:%M UTC")
    return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def bold_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` escaped, with the (merged) spans in <b>."""
    out: list[str] = []
    at = 0
    for s, e in sorted(spans):
        s = max(s, at)
        if e <= s:
            continue
        out.append(html.escape(text[at:s]))
        out.append(f"<b>{html.escape(text[s:e])}</b>")
        at = e
    out.append(html.escape(text[at:]))
    return "".join(out)


def render_html(alert: Alert, tz: ZoneInfo | None = None, *, width: int = 400) -> str:
    """The alert as Telegram HTML: severity, rule title, channel linked to the post, time, a
    snippet with the matched words in bold, the words matched (`Alert.matched`) and the story line;
    under the channel line, when the channel has deleted the post, when that was learnt."""
    badge = _BADGE.get(alert.severity, alert.severity.upper())
    window, spans, _ = snippet(alert.text, alert.spans, width=width)
    lines = [
        f"{badge} · <b>{html.escape(alert.title)}</b>",
        f'<a href="{html.escape(alert.link, quote=True)}">{html.escape(alert.channel_title)}</a> · {local_time(alert.date, tz)}',
        *([html.escape(gone)] if (gone := deleted_line(alert, tz)) else []),
        "",
        bold_spans(window, spans),
        "",
        f"<i>matched: {html.escape(alert.matched)}</i>",
    ]
    if alert.story_size > 1 or alert.story:
        lines.append(f"<i>story #{alert.story_id} ({alert.story_size} posts): {html.escape(story_line(alert, tz=tz))}</i>")
    return "\n".join(lines)


def to_parts(markup: str, limit: int = MAX_LENGTH) -> list[tuple[str, list[TypeMessageEntity]]]:
    """Parse HTML into (text, entities) and split it into messages Telegram accepts, keeping
    formatting across the cut (Telethon's splitter counts UTF-16 units as Telegram does)."""
    text, entities = tl_html.parse(markup)
    return list(split_text(text, entities, limit=limit))
