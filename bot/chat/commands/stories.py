"""/stories, /story N and the story button: the largest stories, and one story's posts oldest first."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from ...alert.html import channel_text, local_time
from ...store.alerts import alert_post
from ...store.counts import story_counts, story_span
from ...store.db import Store
from ...store.read import OutsideStored, outside_stored, story_detail, top_stories
from .common import Common
from .replies import Caller, CommandError, Reply, _echo
from .spans import _span_text, parse_span

__all__ = ["STORIES_SHOWN", "STORY_SHOWN", "Stories"]

STORY_SHOWN = 30  # posts /story and the story button show
STORIES_SHOWN = 10  # stories /stories shows


class Stories(Common):
    """The story commands and the story button under an alert."""

    async def cmd_stories(self, args: str, caller: Caller) -> Reply:
        span = parse_span(args) if args.strip() else timedelta(days=1)
        since = self.clock() - span

        def find(store: Store) -> tuple[list[Any], OutsideStored | None]:
            rows = top_stories(store, since=since, min_size=2, limit=STORIES_SHOWN)
            return rows, None if rows else outside_stored(store, since, None)

        rows, outside = await self._off_loop(find)
        if not rows:
            return Reply(f"No story of 2+ posts in the last {_span_text(span)}." + self._outside(outside))
        lines = [f"<b>Largest stories</b>, last {_span_text(span)}:"]
        for r in rows:
            names = [t for _, t in r.channels]
            shown = ", ".join(channel_text(n) for n in names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")
            head = r.first_text.strip().split("\n", 1)[0]
            head = head[:100] + ("…" if len(head) > 100 else "")
            lines.append(f'\n<b>#{r.id}</b> · {r.size} posts · {shown}\nfirst: <a href="{html.escape(r.first_link, quote=True)}">'
                         f"{channel_text(r.first_title)}</a> {local_time(r.first_date, self.config.zone)}\n{channel_text(head)}")
        return Reply("\n".join(lines))

    async def cmd_story(self, args: str, caller: Caller) -> Reply:
        if not args.strip():
            raise self._usage("story")
        number = args.strip().removeprefix("#").strip()
        if not re.fullmatch(r"[0-9]{1,18}", number):
            raise CommandError(f"{_echo(args.strip())} is not a story number: use the #N an alert or /stories gives")
        reply = self._story_reply(int(number))
        return reply if reply is not None else Reply(f"No story #{int(number)} is stored.")

    def _story(self, alert_id: int) -> Reply:
        alert = alert_post(self.store, alert_id)
        if alert is None:
            return Reply("", toast="This alert is no longer stored.")
        reply = self._story_reply(alert.story_id)  # None: the story itself is no longer stored
        return reply if reply is not None else Reply("", toast=f"Story #{alert.story_id} is no longer stored.")

    def _story_reply(self, story_id: int) -> Reply | None:
        """A story's posts, oldest first: time, channel (linked to the post), the rules it matches
        and its first line; None when there is no such story."""
        posts = story_detail(self.store, story_id, limit=STORY_SHOWN + 1)
        # the posts kept are listed; the story row counts every post the story had, as /stories
        # and alerts do (retention prunes posts that matched nothing)
        counts = story_counts(self.store, story_id)
        had, total, channels = counts.had, counts.kept, counts.channels
        if not posts:  # (retention may have pruned them all: /stories lists the story still)
            span = story_span(self.store, story_id) if had else None
            return None if span is None else Reply(
                f"<b>Story #{story_id}</b>: {had} post{'s' * (had != 1)} from {span.channels} channel"
                f"{'s' * (span.channels != 1)}, none kept (posts that matched no rule are dropped after "
                f"{self.config.retention_days} day{'s' * (self.config.retention_days != 1)})")
        lines = [f"<b>Story #{story_id}</b>: {had} post{'s' * (had != 1)}"
                 + (f" from {channels} channels" if channels > 1 and had == total else "")
                 + (f", {total} kept (posts that matched no rule are dropped after {self.config.retention_days} "
                    f"day{'s' * (self.config.retention_days != 1)})"
                    if had > total else "")]
        for p in posts[:STORY_SHOWN]:
            head = p.text.strip().split("\n", 1)[0]
            head = head[:80] + ("…" if len(head) > 80 else "")
            rules = f" <b>{html.escape(', '.join(p.rules))}</b>" if p.rules else ""
            gone = f" 🗑 deleted by the channel {local_time(p.deleted_at, self.config.zone)}" if p.deleted_at else ""
            lines.append(f'• {local_time(p.date, self.config.zone)} <a href="{html.escape(p.link, quote=True)}">'
                         f"{channel_text(p.channel_title)}</a>{rules}{gone}" + (f"\n  {channel_text(head)}" if head else ""))
        if total > STORY_SHOWN:
            lines.append(f"<i>… and {total - STORY_SHOWN} more: tgwatch story {story_id} on the command line lists more.</i>")
        return Reply("\n".join(lines))
