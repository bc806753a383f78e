"""The analysts' chat commands over the library: text in, a `Reply` out. No Telegram here; the
bot glue (`bot.chat.telegram`) only carries messages, files and button presses.

`Commands` is the front: its state, the dispatch of commands (`handle`) and buttons (`press`), and
/help. Each group of commands is a mixin in a module of its own, as /help groups them: `rules`
(/rules, /rule), `ruletest` (/test), `ruleedit` (/enable, /disable, /add_rule, /edit_rule and
Confirm), `undo` (/undo, /history), `mutes`, `export`, `search`, `stories`, `status` (/status,
/stats, /digest, /release) and `feedback` (the triage buttons). They build on `common` (the state,
the usage answer, rules and channels named, reads off the loop), `replies` and `spans`.
"""

from __future__ import annotations

import contextlib
import html
import inspect
import logging
import re
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from ...config import Config
from ...guess import closest
from ...live.dbfaults import busy_reply, newer_store, store_down
from ...match.edit import Change, EditError, RuleBook
from ...match.matcher import Matcher
from ...match.rules import Rule
from ...store.db import NewerStore, Store
from .common import USAGE as USAGE  # (tests import it from here)
from .export import Export
from .feedback import Feedback
from .mutes import Mutes
from .replies import _ECHO, Caller, CommandError, Reply, _clip, _clip_quoted
from .ruleedit import RuleEdits
from .rules import RuleViews
from .rules import _terms_line as _terms_line  # (tests import it from here)
from .ruletest import RuleTest
from .search import Search
from .spans import parse_span
from .status import Status
from .stories import Stories
from .undo import Undo

log = logging.getLogger(__name__)

__all__ = ["Caller", "Commands", "Reply", "parse_span", "HELP"]

HELP = """<b>tgwatch commands</b>
/status: channels watched, last post, posts not stored yet, alerts today, errors
/rules: every rule with its state and hits in 7 days
/rule NAME: a rule's query and recent hits
/test TEXT: which rules would match TEXT and why
/enable NAME, /disable NAME
/mute NAME... 2h, /unmute NAME: silence rules for a while (30m, 2h, 1d, 1w; up to 365 days)
/mute_channel C 1d, /unmute_channel C: silence a channel (@name, id, title or a post link) for every rule
/export [rule...] [7d] [csv|xlsx]: matched posts (of these rules) as a file
/stats [7d]: matches per rule per day (chart) and precision from your triage
/search WORDS [7d]: stored posts with all the words (any inflection; -word: without it), best first
/stories [1d]: the largest stories of the last day (or period): channels and first post
/story N: every post of story #N (the number alerts and /stories give), oldest first
/digest: the low-priority digest now
/release: send the alerts held after the store was restored from a backup
/add_rule NAME QUERY, /edit_rule NAME QUERY: checked and back-tested on 7 days before you confirm
/undo [NAME]: take back the last rule change, whoever made it (NAME: only if it was that rule's); /history: who changed what
Buttons under each alert: relevant / false positive, mute the rule 1 h, mute the channel for the rule, the whole story.
Under the digest, a row per item (N ✅ / N ❌): its relevant / false positive."""

_ID_RE = re.compile(r"[0-9]{1,19}")  # an alert id in button data: ASCII digits, SQLite's 64 bits
_MAX_ID = 2**63 - 1


def _button_id(arg: str) -> int:
    """The alert id in a button's data; ValueError unless ASCII digits within SQLite's 64 bits."""
    if not _ID_RE.fullmatch(arg) or int(arg) > _MAX_ID:
        raise ValueError("not an alert id")
    return int(arg)


def _caret_window(detail: str, width: int = _ECHO) -> str:
    """A query error's two lines (the query line, a caret under the spot), cut to `width`
    characters around the caret so a long query is not echoed whole."""
    lines = detail.split("\n")
    if len(lines) != 2 or len(lines[0]) <= width:
        return "\n".join(_clip(x, 2 * width) for x in lines)
    text, caret = lines
    pos = len(caret) - 1
    start = max(0, min(pos - width // 2, len(text) - width))
    end = start + width
    head, tail = ("…" if start > 0 else ""), ("…" if end < len(text) else "")
    return f"{head}{text[start:end]}{tail}\n{' ' * (len(head) + pos - start)}^"


class Commands(RuleViews, RuleTest, RuleEdits, Undo, Mutes, Export, Search, Stories, Status, Feedback):
    """Every chat command, each a method `cmd_<name>(args, caller) -> Reply`."""

    def __init__(self, store: Store, rulebook: RuleBook, config: Config, *,
                 matcher: Callable[[], Matcher], on_rules_changed: Callable[[], object],
                 status: Callable[[datetime], str | Awaitable[str]], digest: Callable[[datetime], Awaitable[int]],
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 bot_username: str | None = None, chats_down: Callable[[], dict[str, str]] = dict,
                 matching: contextlib.AbstractContextManager[Any] | None = None,
                 release: Callable[[], Awaitable[int]] | None = None) -> None:
        """`bot_username`: the bot's own @username, so /cmd@ourbot is answered and /cmd@otherbot is
        not. Unknown (None, as in library use), every /cmd@name is taken as another bot's and
        ignored: acting on a command meant for another bot (a mute, a rule file rewritten) is
        worse than an analyst resending /cmd without the suffix. The chat glue sets it from get_me().
        `chats_down`: the alert chats that cannot be written to now, with why (the sender's). `status`:
        /status's text, or a coroutine of it (the live service reads the store off the loop). `matching`:
        held while /test matches in its thread (`Pipeline.matching`: one thread matches at a time). `release`:
        sends the alerts held after a restore, and says how many (the sender's)."""
        self.bot_username = bot_username
        self.chats_down = chats_down
        self.store = store
        self.rulebook = rulebook
        self.config = config
        self.matcher = matcher
        self.matching = threading.Lock() if matching is None else matching
        self.on_rules_changed = on_rules_changed  # may return an awaitable: the new rules in use
        self._changed: object = None  # what the last rule change's on_rules_changed returned
        self.status = status
        self.digest = digest
        self.release = release
        self.clock = clock
        self.pending: dict[str, tuple[Change, int]] = {}  # token -> (planned rule change, who asked)
        self.answered: dict[str, str] = {}  # token -> how its proposal ended (confirmed, cancelled, ...)
        self._off: tuple[tuple[Rule, ...], Matcher] | None = None  # the disabled rules, and a matcher of them

    async def handle(self, text: str, caller: Caller) -> Reply | None:
        """Run one command message; a mistake is a one-line answer, never a traceback.
        None: the command is addressed to another bot (/cmd@otherbot), so nothing is done or said."""
        text = text.strip()
        if not text.startswith("/"):
            return Reply("Commands start with /. Send /help for the list.")
        head, *rest = re.split(r"\s+", text, maxsplit=1)  # any Unicode whitespace
        args = rest[0].strip() if rest else ""
        word, at, bot = head[1:].partition("@")  # Telegram adds @bot to commands picked in a group
        if at and not self._ours(bot):
            return None
        if not word:
            after = args.split()[0] if args else ""
            if re.fullmatch(r"[A-Za-z0-9_]{1,%d}" % _ECHO, after):
                return Reply(f"No space after / in a command: write /{after}, not / {after}.")
            return Reply("A command is / and its name, with no space: /help lists the commands.")
        name = word.lower()
        method = getattr(self, f"cmd_{name}", None) if re.fullmatch(r"[A-Za-z0-9_]+", word) else None
        if method is None:
            guess = closest(name, self._names(), cutoff=0.75)
            hint = f"; did you mean /{guess}?" if guess else "."
            return Reply(f"Unknown command /{html.escape(_clip(word))}{hint} /help lists the commands.")
        try:
            reply: Reply = await method(args, caller)
            await self._rules_in_use()
        except EditError as e:  # a query error shows the query with a caret under the position
            detail = f"\n<pre>{html.escape(_caret_window(e.detail))}</pre>" if e.detail else ""
            return Reply(f"/{name}: {html.escape(_clip_quoted(str(e)))}{detail}")
        except (CommandError, ValueError) as e:
            return Reply(f"/{name}: {html.escape(_clip_quoted(str(e)))}")
        except sqlite3.OperationalError as e:  # another program holds the write lock, or the disk failed
            if (down := store_down(e)) is None:
                raise
            log.warning("/%s not done (database: %s); the analyst is asked to try again", name, down)
            return Reply(html.escape(busy_reply(down)))
        except NewerStore as e:  # read off the loop on a connection of its own, which refuses the newer schema
            log.error("/%s not done: %s", name, newer_store(e))
            return Reply(f"/{name} not done: {html.escape(newer_store(e))}.")
        return reply

    async def _rules_in_use(self) -> None:
        """Wait until a rule change just made matches posts (the live service builds the new matcher
        off the loop): the answer «disabled» comes once no post can hit the rule any more."""
        changed, self._changed = self._changed, None
        if inspect.isawaitable(changed):
            await changed

    async def press(self, data: bytes | str, caller: Caller) -> Reply:
        """A button under an alert or under a rule change; `data` as Telegram carries it (any bytes: a
        forged or cut press is refused like an old one)."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        kind, _, arg = text.partition(":")
        try:
            if kind in ("rel", "fp"):
                return self._verdict(_button_id(arg), "relevant" if kind == "rel" else "false_positive", caller)
            if kind == "mr":
                return self._mute_from_alert(_button_id(arg), caller, channel=False)
            if kind == "mc":
                return self._mute_from_alert(_button_id(arg), caller, channel=True)
            if kind == "st":
                return self._story(_button_id(arg))
            if kind in ("ok", "no"):
                reply = self._confirm(arg, caller, kind == "ok")
                await self._rules_in_use()
                return reply
        except EditError as e:  # the file changed since the proposal, or the change became invalid
            detail = f"\n<pre>{html.escape(_caret_window(e.detail))}</pre>" if e.detail else ""
            return Reply(f"Not saved: {html.escape(_clip_quoted(str(e)))}{detail}")
        except ValueError:
            pass
        except sqlite3.OperationalError as e:  # nothing was changed: the same button works again
            if (down := store_down(e)) is None:
                raise
            log.warning("button %r not done (database: %s); the analyst is asked to try again", kind[:10], down)
            return Reply("", toast=busy_reply(down))
        return Reply("", toast="This button is no longer valid.")

    async def cmd_help(self, args: str, caller: Caller) -> Reply:
        return Reply(HELP)

    async def cmd_start(self, args: str, caller: Caller) -> Reply:
        return Reply(HELP)

    def _ours(self, bot: str) -> bool:
        """Is /cmd@bot addressed to this bot? Never when our username is unknown (see `__init__`)."""
        return bool(self.bot_username) and bot.lower() == str(self.bot_username).lstrip("@").lower()

    def _names(self) -> list[str]:
        """Every command's name, for a did-you-mean."""
        return [n[4:] for n in dir(self) if n.startswith("cmd_")]
