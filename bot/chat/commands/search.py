"""/search: the stored posts with all the words, best first, a phone screen's worth."""

from __future__ import annotations

import html
from typing import Any

from ...alert.html import bold_spans, channel_text, local_time
from ...alert.outbox import snippet
from ...store.db import Store
from ...store.read import IN_LINKS, OutsideStored, outside_stored, search_posts
from .common import Common
from .replies import Caller, Reply, _echo
from .spans import _SPAN_RE, _span_text, _spans_joined, parse_span

__all__ = ["SEARCH_SHOWN", "Search"]

SEARCH_SHOWN = 5  # posts /search shows (a phone screen's worth)


class Search(Common):
    """/search (a mixin of `Commands`, as each command group is)."""

    async def cmd_search(self, args: str, caller: Caller) -> Reply:
        words, span = args, None
        tokens = _spans_joined(args.split())  # «7 d» too: read as words, it found nothing and said so
        if len(tokens) > 1 and _SPAN_RE.fullmatch(tokens[-1]):  # a trailing 7d is the period
            words, span = " ".join(tokens[:-1]), parse_span(tokens[-1])
        if not words.strip():
            raise self._usage("search")
        since = self.clock() - span if span else None

        def find(store: Store) -> tuple[list[Any], OutsideStored | None]:
            hits = list(search_posts(store, words, SEARCH_SHOWN + 1, since=since))
            return hits, None if hits else outside_stored(store, since, None)

        hits, outside = await self._off_loop(find)
        scope = f" in the last {_span_text(span)}" if span else ""
        if not hits:
            return Reply(f"No stored post{scope} has {html.escape(_echo(words))}." + self._outside(outside))
        lines = [f"<b>{'More than ' + str(SEARCH_SHOWN) if len(hits) > SEARCH_SHOWN else len(hits)} "
                 f"post{'s' * (len(hits) != 1)}</b>{scope} with {html.escape(_echo(words))}, best first:"]
        for h in hits[:SEARCH_SHOWN]:
            window, spans, _ = snippet(h.text, list(h.spans), width=240)
            gone = f" · 🗑 deleted by the channel {local_time(h.deleted_at, self.config.zone)}" if h.deleted_at else ""
            lines.append(f'\n• <a href="{html.escape(h.link, quote=True)}">{channel_text(h.channel_title)}</a> · '
                         f"{local_time(h.date, self.config.zone)}{gone}\n{bold_spans(window, spans)}"
                         + (f"\n<i>({IN_LINKS})</i>" if h.in_links_only else ""))
        if len(hits) > SEARCH_SHOWN:
            lines.append("\n<i>tgwatch search on the command line shows more (--limit).</i>")
        return Reply("\n".join(lines))
