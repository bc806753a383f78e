"""The analysts' chat commands over the library: text in, a `Reply` out. No Telegram here; the
bot glue (`bot.chat.telegram`) only carries messages, files and button presses."""

from __future__ import annotations

import contextlib
import difflib
import html
import inspect
import logging
import re
import secrets
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

from ...alert.html import bold_spans, channel_text, isolated, local_time
from ...alert.outbox import snippet
from ...config import Config
from ...live.dbfaults import busy_reply, newer_store, store_down
from ...match.edit import Change, EditError, RuleBook, backtest_query
from ...match.matcher import Matcher
from ...match.rules import DISABLED, _NAME_RE, Rule, RuleError, name_problem
from ...store.backtest import Backtest
from ...store.db import NewerStore, Store, iso
from .common import USAGE as USAGE  # (tests import it from here)
from .export import _FORMATS, Export
from .feedback import Feedback
from .mutes import Mutes
from .replies import _ECHO, Caller, CommandError, Reply, _clip, _clip_quoted, _echo
from .rules import RuleViews
from .rules import _terms_line as _terms_line  # (tests import it from here)
from .ruletest import RuleTest
from .search import Search
from .spans import _SPAN_RE, parse_span
from .status import Status
from .stories import Stories

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
PENDING_MAX = 20  # rule-change proposals whose Confirm button still works (in memory only)


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


def _short(query: object, width: int = 120) -> str:
    text = " ".join(str(query).split())
    return text if len(text) <= width else text[:width - 1] + "…"


class Commands(RuleViews, RuleTest, Mutes, Export, Search, Stories, Status, Feedback):
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
            guess = difflib.get_close_matches(name, self._names(), n=1, cutoff=0.75)
            hint = f"; did you mean /{guess[0]}?" if guess else "."
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

    async def press(self, data: str, caller: Caller) -> Reply:
        """A button under an alert or under a rule change."""
        kind, _, arg = data.partition(":")
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

    async def cmd_enable(self, args: str, caller: Caller) -> Reply:
        return self._set_enabled(args, caller, True)

    async def cmd_disable(self, args: str, caller: Caller) -> Reply:
        return self._set_enabled(args, caller, False)

    async def cmd_add_rule(self, args: str, caller: Caller) -> Reply:
        typed, query = self._name_query(args, "add_rule")
        name = typed.lower()  # names are lower case; a phone capitalises the first letter (/rule takes any case too)
        if not _NAME_RE.fullmatch(name) or "\n" in name:
            problem = name_problem(name)  # («name 'x' has 'ж': a rule name is …»), as rules check says it
            raise CommandError(f"bad rule name {_echo(typed)}: " + (problem.split("' ", 1)[-1] if problem.startswith("name '") else problem))
        if name in _FORMATS or _SPAN_RE.fullmatch(name):
            raise CommandError(f"{_echo(typed)} cannot be a rule name: /export and /stats would read it as "
                               f"{'a file format' if name in _FORMATS else 'a period'}")
        return await self._propose(self.rulebook.plan_add(name, query), caller, typed=typed)

    async def cmd_edit_rule(self, args: str, caller: Caller) -> Reply:
        name, query = self._name_query(args, "edit_rule")
        key = name.lower()  # a rule out of use for an error in its query: this is how the chat fixes it
        target = key if key in self.rulebook.ruleset.failed else self._rule(name, "edit_rule").name
        return await self._propose(self.rulebook.plan_edit(target, query), caller, typed=name)

    async def cmd_undo(self, args: str, caller: Caller) -> Reply:
        named = args.strip().lower()  # «/undo lockdown»: only when lockdown's is the last change
        last = self.store.last_rule_change()
        if not named and (mute := self._own_mute_since(caller, str(last["at"]) if last else "")) is not None:
            # «/mute desertion 2h», then /undo: taking back yesterday's rule edit instead would drop alerts unseen
            later = (f"; the last rule change ({last['action']} {last['rule']}, {local_time(str(last['at']), self.config.zone)}) "
                     f"is taken back with /undo {last['rule']}" if last else "")
            raise CommandError(f"nothing was undone: your last action was a mute ({mute}); /undo takes back rule "
                               f"changes only{later}")
        if last is None:
            raise CommandError("no rule change to undo: /undo takes back /add_rule, /edit_rule, /enable and /disable")
        change = self.rulebook.plan_undo()
        if named and named != change.rule:
            raise CommandError(f"the last rule change is to {change.rule}, not {_echo(named)}: /undo takes back "
                               "only the last change (/history lists them); nothing was undone")
        undone = self.store.rule_change(change.undoes) if change.undoes is not None else None
        action = str(undone["action"]) if undone else ""
        self.rulebook.apply(change, user_id=caller.user_id, user_name=caller.name)
        self._changed = self.on_rules_changed()
        name = html.escape(change.rule)
        if action == "disable":
            what = f"{name} is enabled again"
        elif action == "enable":
            what = f"{name} is disabled again"
        elif change.query_after is None:
            what = f"rule {name} removed"
        else:
            what = f"the query of {name} is back to <code>{html.escape(_short(change.query_after, _ECHO))}</code>"
        by = ""
        if undone and undone["user_id"] != caller.user_id:  # /undo takes back the last change, whoever made it: say whose
            by = f" (a change by {html.escape(str(undone['user_name']))} at {local_time(str(undone['at']), self.config.zone)})"
        return Reply(f"↩️ Undone: {what}{by}.")

    async def cmd_history(self, args: str, caller: Caller) -> Reply:
        rows = self.rulebook.history(10)
        if not rows:
            return Reply("No rule changes yet.")
        lines = ["<b>Rule changes</b> (newest first)"]
        for r in rows:
            before, after = r.get("query_before"), r.get("query_after")
            if r["action"] in ("enable", "disable"):
                what = f"{r['action']}d"
            elif before == after and r.get("enabled_before") != r.get("enabled_after"):  # an undone enable or disable
                what = "enabled again" if r.get("enabled_after") else "disabled again"
            elif before and not after:  # an undone add
                what = f"removed (<code>{html.escape(_short(before))}</code>)"
            elif before and after:
                what = f"<code>{html.escape(_short(before))}</code> → <code>{html.escape(_short(after))}</code>"
            else:
                what = f"<code>{html.escape(_short(after or before or ''))}</code>"
            undone = " (undone)" if r.get("undone") else ""
            lines.append(f"• {local_time(str(r['at']), self.config.zone)} {html.escape(str(r['user_name']))}: "
                         f"{r['action']} {html.escape(str(r['rule']))}{undone}: {what}")
        return Reply("\n".join(lines))

    def _name_query(self, args: str, command: str) -> tuple[str, str]:
        """NAME and QUERY, split at the first run of any Unicode whitespace (a no-break space too)."""
        name, *rest = re.split(r"\s+", args.strip(), maxsplit=1)
        query = rest[0].strip() if rest else ""
        if not name or not query:
            raise self._usage(command)
        return name, query

    def _own_mute_since(self, caller: Caller, since: str) -> str | None:
        """The caller's newest mute still running, made since `since` (ISO, to the second: the same
        second counts, refusing being the safe side; "" for any), as the answer to /undo names it
        with the command that lifts it; None when there is none."""
        mute = self.store.newest_mute_by(caller.user_id, iso(self.clock()) or "", since)
        if mute is None:
            return None
        cid = mute.channel_id
        where = f" for {isolated(self._channel_name(cid))}" if cid is not None else ""
        lift = f"/unmute_channel {self._channel_ref(cid)}" if mute.rule == "*" and cid is not None else f"/unmute {mute.rule}"
        what = "every rule" if mute.rule == "*" else mute.rule
        return f"{what}{where} until {local_time(mute.until, self.config.zone)}: {lift} lifts it"

    def _ours(self, bot: str) -> bool:
        """Is /cmd@bot addressed to this bot? Never when our username is unknown (see `__init__`)."""
        return bool(self.bot_username) and bot.lower() == str(self.bot_username).lstrip("@").lower()

    def _names(self) -> list[str]:
        """Every command's name, for a did-you-mean."""
        return [n[4:] for n in dir(self) if n.startswith("cmd_")]

    def _set_enabled(self, args: str, caller: Caller, enabled: bool) -> Reply:
        rule = self._rule(args, "enable" if enabled else "disable")
        if rule.enabled == enabled:
            return Reply(f"{html.escape(rule.name)} is already {'enabled' if enabled else 'disabled'}.")
        self.rulebook.apply(self.rulebook.plan_set_enabled(rule.name, enabled), user_id=caller.user_id, user_name=caller.name)
        self._changed = self.on_rules_changed()
        return Reply(f"{'✅' if enabled else '⏸'} {html.escape(rule.name)} {'enabled' if enabled else 'disabled'}. /undo takes it back.")

    async def _propose(self, change: Change, caller: Caller, *, typed: str | None = None) -> Reply:
        """The change back-tested, with Confirm and Cancel buttons; an EditError first when it could not be saved.
        `typed`: the rule's name as the analyst wrote it; when that is not the name used («Drones»), a line says so."""
        now = self.clock()
        def test(store: Store) -> tuple[list[RuleError], Rule | None, Backtest, list[RuleError]]:  # rules built: off the loop
            warnings, rule = self.rulebook.preview(change)  # as it will be saved: a rule out of use for an error keeps its channels
            return (warnings, rule, backtest_query(store, change.rule, change.query_after or "", days=7, now=now, rule=rule,
                                                   groups=self.config.groups), self.rulebook.broken_examples(change, rule))

        warnings, rule, bt, broken = await self._off_loop(test)
        token = secrets.token_hex(4)
        self.pending = {k: v for k, v in list(self.pending.items())[-(PENDING_MAX - 1):]}
        self.pending[token] = (change, caller.user_id)
        verb = "Add" if change.action == "add" else "Change"
        lines = [f"<b>{verb} rule {html.escape(change.rule)}</b> in {html.escape(change.file.name)}"
                 + (f" {DISABLED}" if rule is not None and not rule.enabled else "")]
        if typed is not None and typed != change.rule:
            lines.append(f"(written {html.escape(_echo(typed))}: rule names are lower case, so it is "
                         f"<b>{html.escape(change.rule)}</b>)")
        if change.query_before:
            lines.append(f"before: <code>{html.escape(change.query_before)}</code>")
        lines.append(f"after: <code>{html.escape(change.query_after or '')}</code>")
        lines += [f"⚠️ {html.escape(_clip_quoted(w.brief()))}" for w in warnings]
        if broken:  # `rules check` fails on each once confirmed: the examples are the file's guard against a bad edit
            lines.append(f"⚠️ {'This query breaks' if change.query_before else 'It breaks'} {len(broken)} of the rule's own "
                         f"examples (should_match / should_not_match); <code>tgwatch rules check</code> fails until the "
                         f"query or the examples in {html.escape(change.file.name)} are fixed:")
            lines += [f"❌ {html.escape(_clip_quoted(e.brief()))}" for e in broken[:5]]
            lines += [f"❌ and {len(broken) - 5} more"] if len(broken) > 5 else []
        stored = bt.stored.get(change.rule, 0)
        hits = bt.hits.get(change.rule, 0)
        lines.append(f"Back-test, last 7 days: {hits} of {bt.posts} post{'s' * (bt.posts != 1)} would match"
                     + (f" (now {stored})" if change.query_before else "") + ".")
        if hits:
            lines.append(_terms_line(bt.terms.get(change.rule, {})))
        for post, matches in list(bt.samples)[-3:]:  # the words around the hit: why the post is here
            window, spans, _ = snippet(post.text, [(h.start, h.end) for m in matches for h in m.hits], width=160)
            lines.append(f'• <a href="{html.escape(post.link, quote=True)}">{channel_text(post.channel_title)}</a>: '
                         f"{bold_spans(window, spans)}")
        return Reply("\n".join(lines), buttons=[[("✅ Confirm", f"ok:{token}"), ("✖️ Cancel", f"no:{token}")]])

    def _confirm(self, token: str, caller: Caller, ok: bool) -> Reply:
        item = self.pending.pop(token, None)
        if item is None:
            if token in self.answered:
                return Reply("", toast=f"This change was already {self.answered[token]}.")
            return Reply("", toast=f"This proposal has expired (confirm buttons last until the bot restarts or "
                                   f"{PENDING_MAX} newer proposals); send the command again.")
        change, _asker = item
        self.answered = {k: v for k, v in list(self.answered.items())[-99:]}
        self.answered[token] = "cancelled"
        if not ok:
            return Reply(f"Cancelled: rule {html.escape(change.rule)} unchanged.")
        self.answered[token] = "refused (not saved)"
        try:
            self.rulebook.apply(change, user_id=caller.user_id, user_name=caller.name)
        except sqlite3.OperationalError as e:
            if store_down(e) is not None:  # not refused, only not now: Confirm works again in a moment
                self.pending[token] = item
                self.answered.pop(token)
            raise
        self.answered[token] = "confirmed"
        self._changed = self.on_rules_changed()
        return Reply(f"✅ Rule {html.escape(change.rule)} saved to {html.escape(change.file.name)}. /undo takes it back.")
