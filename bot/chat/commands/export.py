"""/export: matched posts as a CSV or XLSX file, written off the loop to a private folder."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from ...store.db import Store
from ...store.export import XLSX_MAX_CHARS, scratch_dir, write_csv, write_xlsx
from ...store.read import OutsideStored, iter_export_rows, outside_stored, rule_names
from .common import Common
from .replies import Caller, CommandError, Reply, _discard, _echo
from .spans import _SPAN_RE, _span_text, _spans_joined, parse_span

__all__ = ["Export"]

_FORMATS = ("csv", "xlsx")


def _distinct(tokens: list[str], key: Callable[[str], object]) -> list[str]:
    """The tokens that mean different things (7d and 1w are one period), each as first written."""
    seen: dict[object, str] = {}
    for t in tokens:
        seen.setdefault(key(t), t)
    return list(seen.values())


def _export_label(rules: list[str]) -> str:
    """What an export file is named after: its rules while the name stays short (an xlsx is written
    to disk under that name, and file names end at 255 bytes)."""
    joined = "+".join(rules) or "all"
    return joined if len(joined) <= 64 else f"{rules[0]}+{len(rules) - 1}-more"


class Export(Common):
    """/export (a mixin of `Commands`, as each command group is)."""

    async def cmd_export(self, args: str, caller: Caller) -> Reply:
        rules: list[str] = []
        span, fmt = timedelta(days=7), "csv"
        spans: list[str] = []  # as written, to name both when two disagree
        formats: list[str] = []
        for token in _spans_joined(args.split()):  # «7 d» is one period, as /mute and /stats take it
            if token.lower() in _FORMATS:
                fmt = token.lower()
                formats.append(fmt)
            elif _SPAN_RE.fullmatch(token):
                span = parse_span(token)
                spans.append(token)
            elif self.rulebook.ruleset.get(token.lower()) is not None or token.lower() in self._stored_rules():
                rules = list(dict.fromkeys([*rules, token.lower()]))  # several rules: the posts of any of them
            else:
                raise CommandError(f"{_echo(token)} is not a rule, a period (7d) or a format (csv, xlsx)")
        for what, given in (("periods", _distinct(spans, parse_span)), ("formats", _distinct(formats, str))):
            if len(given) > 1:  # the last one silently winning would leave the file's scope a guess
                raise CommandError(f"two {what} ({_echo(given[0], 20)}, {_echo(given[1], 20)}): give one")
        now = self.clock()
        name = f"tgwatch-{_export_label(rules)}-{now.astimezone(self.config.zone):%Y%m%d-%H%M}.{fmt}"  # the analysts' clock

        cut: Counter[str] = Counter()  # xlsx cells too long for Excel

        def write(store: Store) -> tuple[int, Path | None, OutsideStored | None]:
            """The file written row by row to a temporary folder, and sent from there: a year's
            export is tens of MB, never held in the live service's memory. None: no post to send."""
            rows = iter_export_rows(store, rules=rules, since=now - span)
            path = scratch_dir(self.config.db.parent, "tgwatch-export-") / name  # (named so: Telegram shows its name)
            try:
                if fmt == "csv":
                    with path.open("w", encoding="utf-8-sig", newline="") as f:  # the BOM makes Excel read UTF-8
                        n = write_csv(rows, f)  # escaped: for Excel
                else:
                    n = write_xlsx(rows, path, cut)
                if not n:  # a file of the header row alone: the reply says there is nothing, as /search does
                    _discard(path)
                    return 0, None, outside_stored(store, now - span, None)
                return n, path, None
            except BaseException:
                _discard(path)
                raise

        n, data, outside = await self._off_loop(write)
        of = f" of {html.escape(', '.join(rules))}" if rules else ""
        if data is None:
            return Reply(f"No matched posts{of} in the last {_span_text(span)}." + self._outside(outside))
        caption = f"{n} matched post{'s' * (n != 1)}{of}, last {_span_text(span)}"
        if cut:
            caption += (f"; {sum(cut.values())} cell{'s' * (sum(cut.values()) != 1)} cut at Excel's "
                        f"{XLSX_MAX_CHARS:,} characters (the csv export has them whole)")
        return Reply(caption + self._outside(outside), file=data, file_name=name)

    def _stored_rules(self) -> set[str]:
        return set(rule_names(self.store))
