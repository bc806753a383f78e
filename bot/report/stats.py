"""Numbers for the analysts' chat: /stats (a PNG chart and its caption), /status and the heartbeat.

Every function reads the store and takes the present as an argument (`now`, timezone-aware; a
naive datetime is taken as UTC), so the same call gives the same answer and tests control time.

Which clock each number follows:
  - matches, and the alerts and verdicts in /stats, follow the **post's date** (when the channel
    published it): replaying last month today puts last month's matches on last month's days;
  - "alerts in 24 h" (heartbeat) and "alerts today" (/status) follow the alert's `created_at`
    (when tgwatch raised it), count only the live service's (`alerts.owner`: a replay into the live
    store is not news the chat got), and leave out alerts queued muted;
  - "posts in 24 h" and channel activity follow the post's date.
A match counts while it is current: an edit that removed the matched words removes it.
Precision is relevant / (relevant + false positive) over the analysts' verdicts (one per analyst
and alert, the latest counts) on the rule's alerts of the period.

matplotlib is imported inside `stats_png` only, so importing this module (and starting
`tgwatch`) stays fast; the chart is drawn on a bare Agg `Figure`, no pyplot, no GUI, no global
state. Rendering takes a few hundred milliseconds: an asyncio caller should run it in a thread.
"""

from __future__ import annotations

import io
import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from collections.abc import Collection, Iterable

from ..post import bare_id
from ..store.alerts import NO_MATCH
from ..store.counts import rule_hits
from ..store.db import LIVE, Store, iso

__all__ = ["RuleStats", "ChannelActivity", "matches_per_day", "rule_stats", "stats_png", "stats_text",
           "channel_activity", "channel_name", "heartbeat_text", "status_text", "BURST", "CAPTION_LIMIT"]

BURST = timedelta(minutes=5)  # posts closer than this are one burst (an album, a thread): no gap between them
CAPTION_LIMIT = 1024  # Telegram's limit on a photo caption
MESSAGE_LIMIT = 4096  # ... and on a message


# -- data ------------------------------------------------------------------------------------------


@dataclass
class RuleStats:
    """One rule over a period: posts matched, alerts (stories), and the analysts' verdicts."""

    rule: str
    matches: int
    alerts: int
    relevant: int
    false_positive: int
    held: int = 0  # of `alerts`, held after a restore (`bot.live.restored`): not in the chat (yet)

    @property
    def verdicts(self) -> int:
        return self.relevant + self.false_positive

    @property
    def precision(self) -> float | None:
        """relevant / (relevant + false_positive); None without verdicts."""
        return self.relevant / self.verdicts if self.verdicts else None


@dataclass
class ChannelActivity:
    """How a channel has been posting, for /status and the "channel has gone silent" warning."""

    id: int
    title: str
    username: str | None
    status: str | None  # the channels table's status: 'ok', 'private', 'banned', ... (None: never resolved)
    last_post: datetime | None  # the newest stored post dated at or before now
    posts_in_window: int  # posts dated in the window_days before now
    typical_gap: timedelta | None  # median gap between posts (bursts count once); None with fewer than two
    silent_for: timedelta | None  # now - last_post
    silent_warning: bool  # silent far longer than usual (and over the minimum silence)

    @property
    def name(self) -> str:
        return channel_name(self.id, self.title, self.username)


def channel_name(channel_id: int, title: str | None, username: str | None) -> str:
    """A channel as the chat's answers name it: «SHOT (@shot_shot)», its title or @username alone
    when only one is known, else its id."""
    if title and username:
        return f"{title} (@{username})"
    return title or (f"@{username}" if username else str(channel_id))


# -- helpers ---------------------------------------------------------------------------------------


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _parse(value: str) -> datetime:
    return _utc(datetime.fromisoformat(value))


def _period(since: datetime, now: datetime) -> tuple[datetime, datetime]:
    since, now = _utc(since), _utc(now)
    if since > now:
        raise ValueError(f"the period starts ({iso(since)}) after it ends ({iso(now)})")
    return since, now


def _days(since: datetime, now: datetime, tz: tzinfo) -> list[date]:
    first, last = since.astimezone(tz).date(), now.astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _when(dt: datetime | None, tz: tzinfo | None = None) -> str:
    """'2024-11-21 01:00 MSK', as alerts give times (a period names its zone: `_span`)."""
    if dt is None:
        return "never"
    return f"{dt.astimezone(tz or timezone.utc):%Y-%m-%d %H:%M %Z}"


def _midnight(now: datetime, tz: tzinfo | None) -> datetime:
    """The start of `now`'s day in `tz` (UTC without one): "today" as the analysts' clock reads it.
    A day that begins in a clock change (no 00:00 that night) begins at its first hour."""
    zone = tz or timezone.utc
    local = datetime.combine(now.astimezone(zone).date(), time(), tzinfo=zone)
    return _utc(local).astimezone(zone)


def _span(since: datetime, now: datetime, tz: tzinfo | None) -> str:
    """'2024-11-14 03:00 – 2024-11-21 01:00 MSK': the zone named as every time in the chat is (its
    abbreviation), at each end when a clock change between them gives the two ends different ones."""
    a, b = since.astimezone(tz or timezone.utc), now.astimezone(tz or timezone.utc)
    if f"{a:%Z}" == f"{b:%Z}":
        return f"{a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M %Z}"
    return f"{a:%Y-%m-%d %H:%M %Z} – {b:%Y-%m-%d %H:%M %Z}"


def duration(td: timedelta) -> str:
    """A rough human duration: '40 s', '35 min', '1.5 h', '10 h', '3 d'."""
    s = max(td.total_seconds(), 0.0)
    if s < 90:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 10 * 3600:
        return f"{s / 3600:.1f}".removesuffix(".0") + " h"
    if s < 48 * 3600:
        return f"{s / 3600:.0f} h"
    return f"{s / 86400:.0f} d"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _precision(s: RuleStats) -> str:
    p = s.precision
    return "no verdicts" if p is None else f"precision {p:.2f} ({_plural(s.verdicts, 'verdict')})"


# -- /stats ----------------------------------------------------------------------------------------


def matches_per_day(store: Store, *, since: datetime, now: datetime, tz: tzinfo | None = None,
                    rules: Iterable[str] = ()) -> dict[str, dict[str, int]]:
    """rule -> {YYYY-MM-DD: posts matched that day}, by the post's date (its day in `tz`, UTC by
    default), for posts dated from `since` to `now`; every day of the period is present, with 0
    when nothing matched. Rules are those with a match in the period plus `rules` (all zeros)."""
    since, now = _period(since, now)
    zone = tz or timezone.utc
    keys = [d.isoformat() for d in _days(since, now, zone)]
    out: dict[str, dict[str, int]] = {r: dict.fromkeys(keys, 0) for r in rules}
    rows = store.db.execute(
        "SELECT m.rule, p.date FROM posts p JOIN matches m ON m.channel_id = p.channel_id AND m.message_id = p.message_id "
        "WHERE m.current = 1 AND p.date >= ? AND p.date <= ?", [iso(since), iso(now)])
    for rule, when in rows:
        day = _parse(when).astimezone(zone).date().isoformat()
        per = out.get(rule)
        if per is None:
            per = out[rule] = dict.fromkeys(keys, 0)
        if day in per:
            per[day] += 1
    return dict(sorted(out.items()))


def rule_stats(store: Store, *, since: datetime, now: datetime, rules: Iterable[str] = ()) -> list[RuleStats]:
    """Per rule, for posts dated from `since` to `now`: posts matched, alerts (one per story, dated
    by the alert's post) and the verdicts on those alerts. Busiest rule first; `rules` adds rules
    with nothing to show (all zeros)."""
    since, now = _period(since, now)
    a, b = iso(since), iso(now)
    stats: dict[str, RuleStats] = {r: RuleStats(r, 0, 0, 0, 0) for r in rules}

    def get(rule: str) -> RuleStats:
        return stats.setdefault(rule, RuleStats(rule, 0, 0, 0, 0))

    for rule, n in rule_hits(store, since, now).items():
        get(rule).matches = n
    # An alert is dated by its post (its created_at when the post is gone): the week's posts lead
    # to their alerts, and the gone posts' alerts are found by created_at; alerts are never pruned,
    # so reading every one would read the year's for a week's chart. An alert muted as its rule no
    # longer matches its post (`NO_MATCH`: edited before it was shown) is left out, as its match is.
    period = ("WITH period AS (SELECT a.id, a.rule, a.state FROM posts p CROSS JOIN alerts a ON a.channel_id = p.channel_id "
              "AND a.message_id = p.message_id WHERE p.date >= ? AND p.date <= ? AND a.error IS NOT ? "
              "UNION ALL SELECT a.id, a.rule, a.state FROM alerts a "
              "WHERE a.created_at >= ? AND a.created_at <= ? AND a.error IS NOT ? AND NOT EXISTS (SELECT 1 FROM posts p WHERE "
              "p.channel_id = a.channel_id AND p.message_id = a.message_id AND p.date IS NOT NULL)) ")
    args = [a, b, NO_MATCH, a, b, NO_MATCH]
    for rule, n, held in store.db.execute(period + "SELECT rule, count(*), sum(state = 'held') FROM period GROUP BY rule", args):
        get(rule).alerts, get(rule).held = n, held
    for rule, verdict, n in store.db.execute(
            period + "SELECT coalesce(f.rule, period.rule), f.verdict, count(*) FROM period JOIN feedback f ON f.alert_id = period.id "
            "GROUP BY 1, 2", args):
        if verdict == "relevant":
            get(rule).relevant += n
        elif verdict == "false_positive":
            get(rule).false_positive += n
    return sorted(stats.values(), key=lambda s: (-s.matches, -s.alerts, s.rule))


def stats_text(store: Store, *, since: datetime, now: datetime, tz: tzinfo | None = None,
               rules: Iterable[str] = (), limit: int = CAPTION_LIMIT) -> str:
    """The /stats numbers as plain text (no HTML), one line per rule, at most `limit` characters
    (a photo caption): the busiest rules first, then "… and N more rules"."""
    since, now = _period(since, now)
    stats = rule_stats(store, since=since, now=now, rules=rules)
    head = f"Matches per rule, {_span(since, now, tz)}"
    if not any(s.matches or s.alerts or s.verdicts for s in stats):
        return f"{head}\nno matches"
    total = store.db.execute(
        "SELECT count(*) FROM posts p WHERE p.date >= ? AND p.date <= ? AND EXISTS (SELECT 1 FROM matches m "
        "WHERE m.channel_id = p.channel_id AND m.message_id = p.message_id AND m.current = 1)",
        [iso(since), iso(now)]).fetchone()[0]
    lines = [head, f"{_plural(total, 'post')} matched"]
    body = [f"{s.rule}: {_plural(s.matches, 'match', 'matches')}, {_plural(s.alerts, 'alert')}"
            f"{f' ({s.held} held)' if s.held else ''}, {_precision(s)}"
            for s in stats]
    size = sum(len(x) + 1 for x in lines)
    for i, line in enumerate(body):
        if size + len(line) > limit:
            more = len(body) - i
            while lines[2:] and size + len(f"… and {_plural(more, 'more rule')}") > limit:
                size -= len(lines.pop()) + 1
                more += 1
            lines.append(f"… and {_plural(more, 'more rule')}")
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)[:limit]


def stats_png(store: Store, *, since: datetime, now: datetime, tz: tzinfo | None = None,
              rules: Iterable[str] = (), max_lines: int = 8) -> bytes:
    """A PNG chart (1000 x 560): posts matched per rule per day (one line per rule, the busiest
    `max_lines` rules, the rest summed as "other"), the period in the title, and each rule's
    precision from the analysts' verdicts in the legend. With no match it says "no matches"."""
    since, now = _period(since, now)
    zone = tz or timezone.utc
    per_day = matches_per_day(store, since=since, now=now, tz=zone, rules=rules)
    by_rule = {s.rule: s for s in rule_stats(store, since=since, now=now, rules=rules)}

    from matplotlib.backends.backend_agg import (
        FigureCanvasAgg,  # lazily: a second of import time
    )
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    days = [datetime.combine(d, time()) for d in _days(since, now, zone)]
    order = sorted(per_day, key=lambda r: (-sum(per_day[r].values()), r))
    shown, rest = order[:max_lines], order[max_lines:]
    if len(rest) == 1:
        shown, rest = order, []
    fig = Figure(figsize=(10, 5.6), dpi=100, layout="constrained")
    canvas = FigureCanvasAgg(fig)  # (becomes fig.canvas)
    ax = fig.add_subplot()
    marker = "o" if len(days) <= 45 else None
    peak = 0
    # matplotlib plots the datetimes through its units registry; its stubs take numbers only, hence the ignores
    for rule in shown:
        counts = list(per_day[rule].values())
        peak = max(peak, *counts)
        s = by_rule.get(rule) or RuleStats(rule, 0, 0, 0, 0)
        ax.plot(days, counts, marker=marker, markersize=4, linewidth=1.8,  # type: ignore[arg-type]
                label=f"{rule}: {sum(counts):,} · {_precision(s)}")
    if rest:
        counts = [sum(per_day[r][d] for r in rest) for d in per_day[rest[0]]]
        peak = max(peak, *counts)
        ax.plot(days, counts, marker=marker, markersize=3, linewidth=1.2, color="0.5", linestyle="--",  # type: ignore[arg-type]
                label=f"other ({_plural(len(rest), 'rule')}): {sum(counts):,}")
    if peak == 0:
        ax.text(0.5, 0.5, "no matches", transform=ax.transAxes, ha="center", va="center", fontsize=22, color="0.45")
    ax.set_title(f"Posts matched per rule per day\n{_span(since, now, tz)}", fontsize=12)
    ax.set_ylabel("posts matched")
    ax.set_ylim(0, max(peak, 1) * 1.12)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    half = timedelta(hours=12)
    ax.set_xlim(days[0] - half, days[-1] + half)  # type: ignore[arg-type]  # (datetimes, as above)
    locator = AutoDateLocator(minticks=3, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.grid(True, alpha=0.3)
    if shown:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False,
                  title="rule: posts · precision", title_fontsize=9, alignment="left")
    # An opaque RGB PNG: Telethon (with Pillow) re-encodes an image with an alpha channel as JPEG
    # before sending it as a photo, and sends an RGB one within 2560 px as it is.
    from PIL import Image  # Pillow: a dependency of matplotlib

    canvas.draw()
    rgba = canvas.buffer_rgba()
    buf = io.BytesIO()
    Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBA", 0, 1).convert("RGB").save(
        buf, format="png", optimize=True)
    return buf.getvalue()


# -- channels, /status, heartbeat -------------------------------------------------------------------


def _typical_gap(dates: list[datetime]) -> timedelta | None:
    """The median gap between consecutive posts; posts within `BURST` of each other count once."""
    dates = sorted(dates)
    gaps = [b - a for a, b in zip(dates, dates[1:]) if b - a >= BURST]
    # median sorts, and halves the sum of the middle two: timedeltas do both; typeshed's takes numbers only
    return statistics.median(gaps) if gaps else None  # type: ignore[type-var]


def channel_activity(store: Store, *, now: datetime, window_days: int = 7, factor: float = 6.0,
                     min_silence: timedelta = timedelta(hours=1)) -> list[ChannelActivity]:
    """Every known channel's posting habit at `now`, most overdue first.

    posts_in_window counts posts dated in the `window_days` before now; typical_gap is the median
    gap between the posts of that window (bursts count once); a channel with fewer than three posts
    there is judged by the window ending at its last post instead, so a channel silent for longer
    than the window still has its habit and still warns. silent_warning: silent_for > factor x
    typical_gap and silent_for > min_silence."""
    now = _utc(now)
    start = now - timedelta(days=window_days)
    recent: dict[int, list[datetime]] = {}
    for cid, when in store.db.execute("SELECT channel_id, date FROM posts WHERE date > ? AND date <= ? ORDER BY date",
                                      [iso(start), iso(now)]):
        recent.setdefault(cid, []).append(_parse(when))
    rows = {r[0]: r for r in store.db.execute("SELECT id, title, username, status FROM channels")}
    for cid in recent.keys() - rows.keys():
        rows[cid] = (cid, "", None, None)
    out: list[ChannelActivity] = []
    for cid, title, username, status in rows.values():
        dates = recent.get(cid, [])
        habit = dates
        last = dates[-1] if dates else None
        if len(dates) < 3:
            older = sorted(_parse(d) for (d,) in store.db.execute(
                "SELECT date FROM posts WHERE channel_id = ? AND date <= ? ORDER BY message_id DESC LIMIT 500", [cid, iso(now)]))
            if older:
                last = max(older[-1], last) if last else older[-1]
                habit = [d for d in older if d > last - timedelta(days=window_days)]
        gap = _typical_gap(habit)
        silent = now - last if last else None
        warn = bool(gap and silent and silent > min_silence and silent > gap * factor)
        out.append(ChannelActivity(int(cid), title or "", username, status, last, len(dates), gap, silent, warn))
    out.sort(key=lambda c: (not c.silent_warning,
                            -c.silent_for.total_seconds() if c.silent_warning and c.silent_for else 0, c.name.lower()))
    return out


def _alerts_since(store: Store, start: datetime, now: datetime) -> dict[str, int]:
    """state -> the service's alerts (not a replay's) created from `start` to `now`, leaving out those queued muted."""
    return dict(store.db.execute(
        "SELECT state, count(*) FROM alerts WHERE created_at >= ? AND created_at <= ? AND state != 'muted' "
        "AND owner = ? GROUP BY state", [iso(start), iso(now), LIVE]).fetchall())


def _alerts_shown(store: Store, start: datetime, now: datetime) -> dict[str, int]:
    """/status's words for the service's alerts (a replay's are not the chat's) created from `start`
    to `now` (muted ones left out) -> how many: an alert whose story update waits was sent; a low-severity one not sent waits for the
    digest, and «queued» would read as stuck."""
    return dict(store.db.execute(
        "SELECT CASE WHEN state = 'update_queued' THEN 'sent' WHEN state = 'queued' AND severity = 'low' "
        "THEN 'for the digest' WHEN state = 'digested' THEN 'in a digest' ELSE replace(state, '_', ' ') END AS shown, "
        "count(*) FROM alerts WHERE created_at >= ? AND created_at <= ? AND state != 'muted' AND owner = ? GROUP BY shown",
        [iso(start), iso(now), LIVE]).fetchall())


def heartbeat_text(store: Store, *, now: datetime, channels_watched: int) -> str:
    """The daily heartbeat: "watching N channels, M posts, K alerts in 24 h" (posts dated, alerts
    raised, in the 24 h before now); "K alerts (H held)" when some are held after a restore, as /stats."""
    now = _utc(now)
    start = now - timedelta(hours=24)
    posts = store.db.execute("SELECT count(*) FROM posts WHERE date >= ? AND date <= ?", [iso(start), iso(now)]).fetchone()[0]
    by_state = _alerts_since(store, start, now)
    held = by_state.get("held", 0)
    return (f"watching {_plural(channels_watched, 'channel')}, {_plural(posts, 'post')}, "
            f"{_plural(sum(by_state.values()), 'alert')}{f' ({held} held)' if held else ''} in 24 h")


def _fitted(items: list[str], room: int, what: str) -> list[str]:
    """As many of `items` as fit in `room` characters, then "… and N more <what>s": a long list
    never pushes what follows it out of the message."""
    size = 0
    for i, item in enumerate(items):
        if size + len(item) + 1 > room - 40:
            return [*items[:i], f"… and {_plural(len(items) - i, 'more ' + what)}"]
        size += len(item) + 1
    return items


def status_text(store: Store, *, now: datetime, behind: dict[int, int] | None = None,
                errors: list[str] | None = None, tz: tzinfo | None = None, max_channels: int = 60,
                watched: Collection[int] | None = None, failing: Collection[int] = ()) -> str:
    """/status as plain text: the alerts raised today (since midnight of now's day in `tz`, UTC without
    one: the analysts' day) by state; the errors
    (channels whose status is not 'ok', then `errors`); the channels watched (`watched`, bare ids:
    the store also holds channels no longer configured or gone private), overdue ones first,
    with their last post and how far behind each is (`behind`: channel id, bare or marked -> posts
    Telegram gave that are not stored yet, when known: "up to date" at 0; `failing`: channels whose
    last read failed: "may be behind", the reason being among `errors`). The errors are cut to half a message and the
    channel list to the rest, so both stay within one Telegram message."""
    now = _utc(now)
    lag = {bare_id(int(k)): int(v) for k, v in (behind or {}).items()}
    failed = {bare_id(int(k)) for k in failing}
    channels = channel_activity(store, now=now)
    day = _midnight(now, tz)
    by_state = _alerts_shown(store, day, now)
    detail = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items(), key=lambda kv: (-kv[1], kv[0])))
    lines = [f"tgwatch status, {_when(now, tz)}",
             f"Alerts today (since {day.astimezone(tz or timezone.utc):%H:%M %Z}): {sum(by_state.values())}"
             + (f" ({detail})" if detail else "")]
    names = {c.id: c.name for c in channels}
    problems = [f"- {names.get(cid, cid)}: {status}" + (f" ({error})" if error else "")
                for cid, status, error in store.db.execute(
                    "SELECT id, status, error FROM channels WHERE status IS NOT NULL AND status != 'ok' ORDER BY id")]
    problems += [f"- {e}" for e in errors or []]
    lines += [f"Errors: {len(problems)}", *_fitted(problems, MESSAGE_LIMIT // 2, "error")] if problems else ["Errors: none"]
    if watched is not None:
        channels = [c for c in channels if c.id in watched]
    lines.append(f"Channels watched: {len(channels)}")
    size = sum(len(x) + 1 for x in lines)
    for i, c in enumerate(channels):
        seen = ("no post yet" if c.last_post is None
                else f"last post {_when(c.last_post, tz)} ({duration(c.silent_for or timedelta())} ago)")
        parts = [f"- {c.name}: {seen}"]
        if lag.get(c.id, 0) > 0:
            parts.append(f"{_plural(lag[c.id], 'post')} not stored yet")
        if c.id in failed:
            parts.append("may be behind (see Errors)")
        elif c.id in lag and lag[c.id] <= 0:
            parts.append("up to date")
        if c.silent_warning and c.typical_gap:
            parts.append(f"SILENT, usually posts every {duration(c.typical_gap)}")
        line = ", ".join(parts)
        if i == max_channels or size + len(line) + 40 > MESSAGE_LIMIT:
            lines.append(f"… and {_plural(len(channels) - i, 'more channel')}")
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines)[:MESSAGE_LIMIT]
