"""`tgwatch search`: full-text search over every stored post, best match first."""

from __future__ import annotations

import re
import sys
from datetime import datetime

import click
from rich.text import Text

from ..alert.outbox import snippet
from ..store.read import IN_LINKS, SearchError, SearchHit, count_search, search_posts
from ..text import printable
from .common import (
    CHANNEL_FORMS,
    Count,
    DEFAULT_DB,
    UNTIL,
    UNTIL_HELP,
    WHEN,
    WHEN_FORMS,
    check_channels,
    check_span,
    counted,
    fail,
    note,
    note_outside_stored,
    open_store,
    out,
    typed_query,
)

__all__ = ["search", "render_hit", "matched_line"]


def matched_line(hit: SearchHit) -> str:
    """«matched: дезертиров, в/ч»: the post's words the query found, each once, in order, as the
    post writes them (what the highlighting shows on a terminal)."""
    words: dict[str, str] = {}
    for start, end in hit.spans:
        word = " ".join(printable(hit.text[start:end]).split())
        words.setdefault(word.casefold(), word)
    return "matched: " + ", ".join(w for w in words.values() if w)


def render_hit(hit: SearchHit, width: int = 220, *, plain: bool = False) -> Text:
    """Channel, date and link on one line; a snippet with the query words highlighted below, and,
    when `plain` (piped to a file or a program: no highlighting), a `matched:` line naming them."""
    who = printable(hit.channel_title) + (f" (@{hit.username})" if hit.username else "")
    t = Text(who, style="cyan").append(f"  {hit.date.replace('T', ' ')[:16]} UTC  ")
    t.append(hit.link, style="underline")
    if hit.deleted_at:
        t.append(f"  🗑 deleted by the channel {hit.deleted_at.replace('T', ' ')[:16]} UTC", style="bold red")
    window, spans, _ = snippet(hit.text, list(hit.spans), width)
    body = Text("\n  " + printable(window))  # one character for one: the spans still hold
    for s, e in spans:
        body.stylize("bold reverse", s + 3, e + 3)
    if hit.in_links_only:
        body.append(f"\n  ({IN_LINKS})", style="italic")
    elif plain:
        body.append("\n  " + matched_line(hit))
    return t.append_text(body)


class _Words(click.Command):
    """A command whose arguments are search words: `-часть` and `-hezbollah` are words left out, so
    only `--help` and a bare `-h` ask for the help (click would read `-hezbollah` as `-h`). What only
    an option looks like (`--limt`, `-n`) is a usage error, not words that find nothing; after `--`,
    every argument is a word."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        _no_stray_option(ctx, self.params, args)
        return super().parse_args(ctx, ["--help" if a == "-h" else a for a in args])


_OPTION_LIKE = re.compile(r"--[A-Za-z][\w-]*|-[A-Za-z]")  # --limt, --sinse(=…), -n; never -часть or -5%


def _no_stray_option(ctx: click.Context, params: list[click.Parameter], args: list[str]) -> None:
    """Raise click's NoSuchOption (`did you mean '--limit'?`) for the first argument before `--`
    that looks like an option and is none of `params` (nor the help); a known option's value is skipped."""
    takes_value = {o: not p.is_flag for p in params if isinstance(p, click.Option) for o in p.opts}
    takes_value.update(dict.fromkeys([*ctx.help_option_names, "-h"], False))
    it = iter(args)
    for a in it:
        name = a.split("=", 1)[0]
        if a == "--":
            return
        if name in takes_value:
            if takes_value[name] and "=" not in a:
                next(it, None)
        elif _OPTION_LIKE.fullmatch(name):
            raise click.NoSuchOption(name, possibilities=[o for o in takes_value if o.startswith("--")], ctx=ctx)


@click.command(cls=_Words, context_settings={"ignore_unknown_options": True, "help_option_names": ["--help"]})
@click.argument("words", nargs=-1, required=True)
@click.option("--db", "db_path", default=DEFAULT_DB, show_default=True, help="SQLite store to search.")
@click.option("--channel", "channels", multiple=True, metavar="C",
              help=f"Only posts of this channel: {CHANNEL_FORMS}; repeatable.")
@click.option("--since", type=WHEN, help=f"Only posts from this date on ({WHEN_FORMS}).")
@click.option("--until", type=UNTIL, help=f"Only posts up to this date ({UNTIL_HELP}).")
@click.option("--limit", default=20, show_default=True, type=Count(1, every=True),
              help="Show at most this many posts (all: every one found).")
def search(words: tuple[str, ...], db_path: str, channels: tuple[str, ...], since: datetime | None,
           until: datetime | None, limit: int) -> None:
    """Find stored posts containing every one of WORDS (as a word start or in any inflection).

    \b
    "сбежал из части"  quoted: a phrase, its words in this order (word starts)
    СОЧ, КТО           up to 5 letters in capitals: that abbreviation, only where a post writes it
                       in capitals, as =КТО in a rule (not Сочи, not the pronoun «кто»; СОЧ* is)
    =полком, =КТО      this form only, as in a rule (in capitals: in capitals only)
    в/ч, 137-й         written with / or -: its parts in a row (not км/ч)
    Ту-95*, Су-3*      a designation with a star: its family, as in a rule (Ту-95МС, Су-34)
    10, 10*            a number whole (not 106); with a star, every number it starts
    -часть, NOT часть  without the word, as in a rule (-"воинская часть": without the phrase)

    Other punctuation is ignored; AND is the space, and OR and NEAR are errors (search has
    neither: use `tgwatch rules backtest` for a query). At most 16 words. Exit 0 when something
    was found, 1 when nothing was.
    """
    text = typed_query(words)
    check_span(since, until)
    store = open_store(db_path, must_exist=True)
    ids = check_channels(store, channels)
    note_outside_stored(store, since, until)
    c = out()
    n = total = 0

    try:
        for hit in search_posts(store, text, limit, channels=ids, since=since, until=until, repaired=note):
            if n:
                c.print()
            c.print(render_hit(hit, plain=not c.is_terminal or c.color_system is None))  # a pipe, TERM=dumb: no bold
            n += 1
        # the total, when the limit may have left some out: one count over the same query
        total = (count_search(store, text, channels=ids, since=since, until=until, repaired=note)
                 if n == limit else n)
    except SearchError as e:
        fail(str(e))
    finally:
        store.close()
    if not n:
        scope = " of those channels" * bool(channels) + " in that span" * bool(since or until)
        click.echo(printable(f"no stored post{scope} contains {text!r}"), err=True)  # as «N posts found»: not a result
        sys.exit(1)
    if total > n:
        click.echo(f"{n:,} of {total:,} posts found (the best {n:,}; use --limit for more, --limit all for every one)", err=True)
    else:
        click.echo(f"{counted(n, 'post')} found", err=True)
