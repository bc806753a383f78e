"""/undo and /history: take back the last rule change (never a mute), and who changed what."""

from __future__ import annotations

import html

from ...alert.html import isolated, local_time
from ...store.db import iso
from .common import Common
from .replies import _ECHO, Caller, CommandError, Reply, _echo

__all__ = ["Undo"]


def _short(query: object, width: int = 120) -> str:
    text = " ".join(str(query).split())
    return text if len(text) <= width else text[:width - 1] + "…"


class Undo(Common):
    """The commands over the rule-change log."""

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
