"""Alerts as Telegram HTML: escaped post text, hits in bold, split under Telegram's 4096 limit."""

from __future__ import annotations

import html
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from itertools import accumulate
from datetime import datetime
from zoneinfo import ZoneInfo

from telethon.extensions import html as tl_html
from telethon.helpers import add_surrogate, del_surrogate
from telethon.tl.types import TypeMessageEntity

from .outbox import _CLUSTER, Alert, deleted_line, edited_note, snippet, story_line

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
    """The alert as Telegram HTML: severity, rule title, channel linked to the post, time (and the
    edit's, when an edit brought the rule's words), a snippet with the matched words in bold, the
    words matched (`Alert.matched`) and the story line;
    under the channel line, when the channel has deleted the post, when that was learnt."""
    badge = _BADGE.get(alert.severity, alert.severity.upper())
    window, spans, _ = snippet(alert.text, alert.spans, width=width)
    lines = [
        f"{badge} · <b>{html.escape(alert.title)}</b>",
        f'<a href="{html.escape(alert.link, quote=True)}">{channel_text(alert.channel_title)}</a> · {local_time(alert.date, tz)}'
        + (f", {edited_note(alert.edited_at, alert.date, tz)}" if alert.edited_at else ""),
        *([html.escape(gone)] if (gone := deleted_line(alert, tz)) else []),
        "",
        bold_spans(window, spans),
        "",
        f"<i>matched: {channel_text(alert.matched)}</i>",
    ]
    if alert.story_size > 1 or alert.story:
        lines.append(f"<i>story #{alert.story_id} ({alert.story_size} posts): {html.escape(story_line(alert, tz=tz, name=isolated))}</i>")
    return "\n".join(lines)


# Where a part may end inside one grapheme cluster longer than a part (never in a real post), best
# first, on UTF-16 units (a pair as two): after a character no mark, joiner, selector or skin tone
# leans on; else after any character but the first half of a surrogate pair (a part cut inside a
# pair could not be decoded, and the alert was never sent).
_LEANING = "\u0300-\u036f\u0483-\u0489\u200c\u200d\u20d0-\u20ff\ufe00-\ufe0f"
_INSIDE = tuple(re.compile(p) for p in (
    rf".(?![{_LEANING}\udc00-\udfff]|\ud83c[\udffb-\udfff]|\udb40[\udc00-\udd7f])", r".(?![\udc00-\udfff])"))
_LAST_SPACE = re.compile(r"[\s\S]*\s")  # up to a part's last space
_CLUSTER_ROOM = 1024  # UTF-16 units read past a part's end to find its last whole cluster


def to_parts(markup: str, limit: int = MAX_LENGTH) -> list[tuple[str, list[TypeMessageEntity]]]:
    """Parse HTML into (text, entities) and split it into messages Telegram accepts, keeping
    formatting across the cut (`_split`, as Telethon's splitter, counting UTF-16 units as Telegram
    does); a line with no space is cut between grapheme clusters (`_cut`)."""
    text, entities = tl_html.parse(markup)
    return list(_split(text, entities, limit))


def _split(text: str, entities: list[TypeMessageEntity], limit: int, *, spaces: bool = True,
           max_entities: int = 100) -> Iterator[tuple[str, list[TypeMessageEntity]]]:
    """Telethon's `split_text` (at most `limit` UTF-16 units and `max_entities` entities a part, the
    entities cut with the text), with a part's end chosen by `_cut`: Telethon's own last resort
    takes any character, and cut a flag's two letters or joined emoji apart."""
    units = add_surrogate(text)
    while True:
        room = limit
        if len(entities) > max_entities:
            last = entities[max_entities - 1]
            room = min(limit, last.offset + last.length)
        cut = _cut(units, room, spaces) if len(units) > room else None
        if cut is None:
            break
        head: list[TypeMessageEntity] = []
        tail: list[TypeMessageEntity] = []
        for e in entities:
            if e.offset + e.length <= cut:
                head.append(e)
            elif e.offset >= cut:
                tail.append(_moved(e, offset=e.offset - cut))
            else:
                head.append(_moved(e, length=cut - e.offset))
                tail.append(_moved(e, offset=0, length=e.offset + e.length - cut))
        yield del_surrogate(units[:cut]), head
        units, entities = units[cut:], tail
    yield del_surrogate(units), entities


def _moved(entity: TypeMessageEntity, **changed: int) -> TypeMessageEntity:
    """A copy of `entity` with its offset or length changed (the other part's keeps its own)."""
    fields = {k: v for k, v in entity.to_dict().items() if k != "_"}
    return type(entity)(**{**fields, **changed})


def _cut(units: str, room: int, spaces: bool) -> int | None:
    """Where a part of `units` (UTF-16, a pair as two) at most `room` long ends, best first: after its
    last newline, or space (`spaces`); else after its last whole grapheme cluster (what is drawn as
    one character: a flag, an emoji with its skin tone or joined to others, a letter and its marks);
    else, one cluster longer than the part, `_INSIDE`. None: nowhere (Telethon's: sent whole)."""
    if spaces:
        if (i := units.rfind("\n", 0, room)) >= 0:
            return i + 1
        if (m := _LAST_SPACE.match(units, 0, room)) is not None:
            return m.end()
    seen = room + _CLUSTER_ROOM
    seen -= "\ud800" <= units[seen - 1:seen] <= "\udbff"  # (never half a pair: it could not be decoded)
    window = del_surrogate(units[:seen])
    fits = len(del_surrogate(units[:room - ("\ud800" <= units[room - 1:room] <= "\udbff")]))  # code points
    ends = list(accumulate(map(len, _CLUSTER.findall(window))))
    if (n := bisect_right(ends, fits)) > 0:
        return len(window[:ends[n - 1]].encode("utf-16-le")) // 2
    for inside in _INSIDE:
        for i in reversed(range(room)):
            if (m := inside.match(units, i)) is not None:
                return m.end()
    return None


def clip(markup: str, limit: int) -> tuple[str, list[TypeMessageEntity]]:
    """HTML parsed into (text, entities), the text cut to `limit` UTF-16 units as Telegram counts a
    caption (not the markup: tags and escapes are free), at a space in its last tenth, else between
    whole characters, and «…» added; the entities end with the text."""
    text, entities = tl_html.parse(markup)
    if len(add_surrogate(text)) <= limit:
        return text, entities
    head, kept = next(_split(text, entities, limit - 1, spaces=False))
    units = add_surrogate(head)
    space = max(units.rfind(" "), units.rfind("\n"))
    units = (units[:space] if space > len(units) - limit // 10 else units).rstrip()
    for e in kept:
        e.length = min(e.offset + e.length, len(units)) - e.offset
    return del_surrogate(units) + "…", [e for e in kept if e.length > 0]
