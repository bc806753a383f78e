"""Alerts as Telegram HTML: escaped post text, hits in bold, split under Telegram's 4096 limit."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from telethon.extensions import html as tl_html
from telethon.helpers import add_surrogate, del_surrogate
from telethon.tl.types import TypeMessageEntity
from telethon.utils import split_text

from .outbox import Alert, deleted_line, snippet, story_line

__all__ = ["bold_spans", "channel_text", "clip", "isolated", "local_time", "render_html", "to_parts", "MAX_LENGTH"]

MAX_LENGTH = 4096
_BADGE = {"high": "🔴 HIGH", "normal": "🟡 NORMAL", "low": "⚪ LOW"}
# Bidi: the embeddings and overrides a PDF closes, the isolates a PDI closes (else the line's end)
_PDF, _PDI, _FSI = "\u202c", "\u2069", "\u2068"
_OPENS = {"\u202a": _PDF, "\u202b": _PDF, "\u202d": _PDF, "\u202e": _PDF, "\u2066": _PDI, "\u2067": _PDI, _FSI: _PDI}
_RTL = frozenset({"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})
_SIMPLE = re.compile(r"[\x00-\u058f]*")  # no right-to-left letter nor bidi control below U+0590


def _isolate(text: str) -> tuple[str, str, str]:
    """(opening, `text`, closing) that keep a channel's words from reordering what follows them:
    with right-to-left letters or bidi controls, in a first-strong isolate (FSI … PDI, as HTML's
    <bdi>) with what they left open closed and a PDI that would close ours made a word joiner (one
    character for one: spans into `text` hold); else `text` alone, as it is (copied, a name is the name)."""
    if _SIMPLE.fullmatch(text) or not any(unicodedata.bidirectional(c) in _RTL for c in text):
        return "", text, ""
    chars, open_ = list(text), []
    for i, c in enumerate(text):
        if c in _OPENS:
            open_.append(c)
        elif c == _PDI:
            if any(_OPENS[o] == _PDI for o in open_):
                while _OPENS[open_.pop()] != _PDI:
                    pass
            else:
                chars[i] = "\u2060"
        elif c == _PDF and open_ and _OPENS[open_[-1]] == _PDF:
            open_.pop()
        elif c == "\n":
            open_.clear()
    return _FSI, "".join(chars), "".join(_OPENS[o] for o in reversed(open_)) + _PDI


def isolated(text: str) -> str:
    """`text` (a channel's name or words) as `_isolate` keeps it from turning round the line it is in."""
    return "".join(_isolate(text))


def channel_text(text: str) -> str:
    """A channel's name or words as Telegram HTML: escaped and `isolated`."""
    return html.escape(isolated(text))


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
    """`text` escaped, with the (merged) spans in <b>; `isolated`, as a channel's words."""
    opening, text, closing = _isolate(text)
    out: list[str] = [opening]
    at = 0
    for s, e in sorted(spans):
        s = max(s, at)
        if e <= s:
            continue
        out.append(html.escape(text[at:s]))
        out.append(f"<b>{html.escape(text[s:e])}</b>")
        at = e
    out.append(html.escape(text[at:]))
    out.append(closing)
    return "".join(out)


def render_html(alert: Alert, tz: ZoneInfo | None = None, *, width: int = 400) -> str:
    """The alert as Telegram HTML: severity, rule title, channel linked to the post, time, a
    snippet with the matched words in bold, the words matched (`Alert.matched`) and the story line;
    under the channel line, when the channel has deleted the post, when that was learnt."""
    badge = _BADGE.get(alert.severity, alert.severity.upper())
    window, spans, _ = snippet(alert.text, alert.spans, width=width)
    lines = [
        f"{badge} · <b>{html.escape(alert.title)}</b>",
        f'<a href="{html.escape(alert.link, quote=True)}">{channel_text(alert.channel_title)}</a> · {local_time(alert.date, tz)}',
        *([html.escape(gone)] if (gone := deleted_line(alert, tz)) else []),
        "",
        bold_spans(window, spans),
        "",
        f"<i>matched: {channel_text(alert.matched)}</i>",
    ]
    if alert.story_size > 1 or alert.story:
        lines.append(f"<i>story #{alert.story_id} ({alert.story_size} posts): {html.escape(story_line(alert, tz=tz, name=isolated))}</i>")
    return "\n".join(lines)


# Where a part may end, best first, as Telethon's splitter reads them (on UTF-16 units, a pair as two):
# after a newline, a space, a character no mark, joiner, selector or skin tone leans on; else after
# any character but the first half of a surrogate pair (Telethon's own last resort, any unit, cut
# inside an emoji: the part could not be decoded, and the alert was never sent).
_LEANING = "\u0300-\u036f\u0483-\u0489\u200c\u200d\u20d0-\u20ff\ufe00-\ufe0f"
_SPLIT_AT = (r"\n", r"\s", rf".(?![{_LEANING}\udc00-\udfff]|\ud83c[\udffb-\udfff]|\udb40[\udc00-\udd7f])",
             r".(?![\udc00-\udfff])")


def to_parts(markup: str, limit: int = MAX_LENGTH) -> list[tuple[str, list[TypeMessageEntity]]]:
    """Parse HTML into (text, entities) and split it into messages Telegram accepts, keeping
    formatting across the cut (Telethon's splitter counts UTF-16 units as Telegram does); a line
    with no space is cut between whole characters (`_SPLIT_AT`)."""
    text, entities = tl_html.parse(markup)
    return list(split_text(text, entities, limit=limit, split_at=_SPLIT_AT))


def clip(markup: str, limit: int) -> tuple[str, list[TypeMessageEntity]]:
    """HTML parsed into (text, entities), the text cut to `limit` UTF-16 units as Telegram counts a
    caption (not the markup: tags and escapes are free), at a space in its last tenth, else between
    whole characters, and «…» added; the entities end with the text."""
    text, entities = tl_html.parse(markup)
    if len(add_surrogate(text)) <= limit:
        return text, entities
    head, kept = next(split_text(text, entities, limit=limit - 1, split_at=_SPLIT_AT[2:]))
    units = add_surrogate(head)
    space = max(units.rfind(" "), units.rfind("\n"))
    units = (units[:space] if space > len(units) - limit // 10 else units).rstrip()
    for e in kept:
        e.length = min(e.offset + e.length, len(units)) - e.offset
    return del_surrogate(units) + "…", [e for e in kept if e.length > 0]
