"""Editing watch rules from the analysts' chat, and reloading them when their files change on disk.

Behind /enable, /disable, /add_rule, /edit_rule and /undo: every edit is planned first (a `Change`
with the whole file text before and after, shown to the analyst), then applied: validated, written
atomically, logged in the store and put in use at once. Edits go through tomlkit, so comments,
blank lines, key order and the other rules of a file stay byte-for-byte as they were.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Collection, Mapping, Sequence

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .. import tomlread
from ..store.backtest import Backtest, run_backtest
from ..store.db import Store
from ..store.export import new_file_mode
from .check import check_examples
from .query import QueryError, parse
from .rules import (
    _NAME_RE,
    SEVERITIES,
    Rule,
    RuleError,
    RuleSet,
    name_problem,
    parse_rules_text,
    read_rule_file,
    rule_files,
    unread_files,
)

__all__ = ["Change", "EditError", "RuleBook", "backtest_query"]

_FILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # not allowed raw in any TOML string (tab, LF are)
_TOML_LINE_RE = re.compile(r"\.toml:[0-9]+")  # a rule file's line named in an error's message


class EditError(ValueError):
    """An edit that cannot be made; `str()` is one line for the chat, `detail` an optional second
    (for a query error: the query line with a caret under the position)."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Change:
    """What an edit would do, shown to the analyst before confirming."""

    action: str  # "add" | "edit" | "enable" | "disable" | "undo"
    rule: str
    file: Path
    before: str | None  # the whole file text before (None: a new file)
    after: str | None  # the whole file text after (None: the file is removed, undoing its creation)
    query_before: str | None
    query_after: str | None
    undoes: int | None = None  # for "undo": the id of the rule_changes row it reverts

    def diff(self) -> str:
        """The change as a unified diff of the file."""
        return "".join(difflib.unified_diff(
            (self.before or "").splitlines(True), (self.after or "").splitlines(True),
            f"a/{self.file.name}", f"b/{self.file.name}"))


class RuleBook:
    """The rules in use: loaded from a folder, replaced only by a valid reload, edited in place."""

    def __init__(self, folder: str | Path, store: Store) -> None:
        """Load the folder; rules with errors are skipped (see `ruleset.errors`), as `load_rules` does."""
        self.folder = Path(folder)
        self.store = store
        self._stat = self._scan()
        texts, read_errors = self._read_all()
        self.ruleset = _build(self.folder, texts, read_errors)
        self._texts = texts  # the file texts the rules in use were built from
        self._baseline = frozenset(self.ruleset.errors)  # errors tolerated in those texts (the caller shows them)
        self._reported = frozenset[RuleError]()  # the new errors a reload returned last
        self.held = ""  # what the last reload's new errors keep from the files on disk, for the chat

    # -- reloading ---------------------------------------------------------------------------------

    def reload_if_changed(self) -> tuple[bool, list[RuleError]]:
        """Re-load the folder when a file was added, removed or changed; (reloaded?, errors not reported yet).
        Errors the rules in use were loaded with (a file broken at start) do not block it: their rules
        stay out, as at start. A file with a new error keeps the version in use (a new file stays out)
        while the other files' edits go in use; the error is returned only once."""
        stat = self._scan()
        if stat == self._stat:
            return False, []
        self._stat = stat
        texts, read_errors = self._read_all()
        if texts == self._texts and not _new_errors(read_errors, self._baseline):
            self._reported, self.held = frozenset(), ""  # back to the files in use (or only touched)
            return False, []
        on_disk = texts
        ruleset, texts, new = self._hold_broken(texts, read_errors)
        told = [e for e in new if e not in self._reported]
        self._reported = frozenset(new)
        if ruleset is None:
            self.held = "the rules in use stay as they were"
            return False, told
        self.held = "; ".join(f"{p.name} stays as it was in use" if p in texts else f"{p.name} is not in use"
                              for p in sorted(on_disk) if texts.get(p) != on_disk[p])
        if texts == self._texts:
            return False, told
        self.ruleset, self._texts, self._baseline = ruleset, texts, frozenset(ruleset.errors)
        return True, told

    def _hold_broken(self, texts: dict[Path, str], read_errors: list[RuleError]
                     ) -> tuple[RuleSet | None, dict[Path, str], list[RuleError]]:
        """The rules of `texts`, each file with a new error taken as it is in use (a new one left out):
        (rule set, the texts it was built from, the new errors). None for the set when the errors are
        not a file's to hold back (the folder emptied): the rules in use stay as they are."""
        new: list[RuleError] = []
        for _ in range(len(texts) + len(read_errors) + 1):
            ruleset = _build(self.folder, texts, read_errors)
            found = _new_errors(ruleset.errors, self._baseline)
            if not found:
                return ruleset, texts, new
            new += found
            broken = {p for e in found if texts.get(p := Path(e.path)) != self._texts.get(p)}  # changed, or new
            if not broken:  # an unchanged file's error an edit of another brought in (a rule name defined twice)
                broken = {p for p, t in texts.items() if t != self._texts.get(p)
                          and _new_errors(_build(self.folder, {**self._texts, p: t}, []).errors, self._baseline)}
            broken |= {Path(e.path) for e in found if Path(e.path) not in texts}  # unreadable now
            held = {p: t for p, t in texts.items() if p not in broken}
            held.update({p: self._texts[p] for p in broken if p in self._texts})  # as in use; a new one left out
            left = [e for e in read_errors if Path(e.path) not in broken]
            if held == texts and left == read_errors:
                break
            texts, read_errors = held, left
        return None, texts, new

    # -- planning ------------------------------------------------------------------------------------

    def plan_set_enabled(self, name: str, enabled: bool) -> Change:
        """Flip one rule's `enabled` (the key is added after `severity`, `title` or `name` when absent)."""
        file, before, doc, table = self._locate(name)
        if table.unwrap().get("enabled", True) is enabled:
            raise EditError(f"rule '{name}' is already {'enabled' if enabled else 'disabled'}")
        item = tomlkit.item(enabled)
        if "enabled" in table:
            table["enabled"] = item
        else:
            item.trivia.trail = _newline(before)
            anchor = next((k for k in ("severity", "title", "name") if k in table), None)
            try:
                table.value._insert_after(anchor, "enabled", item)  # after a key, not after trailing comments
            except Exception:  # noqa: BLE001 - tomlkit internals: fall back to appending
                table["enabled"] = item
        after = doc.as_string()
        _same_except(before, after, name, {"enabled": enabled})
        query = str(table["query"])
        return Change("enable" if enabled else "disable", name, file, before, after, query, query)

    def plan_add(self, name: str, query: str, *, title: str | None = None, severity: str = "normal",
                 file: str | None = None) -> Change:
        """A new rule appended to `file` (default rules/<name>.toml, created when absent)."""
        if not _NAME_RE.fullmatch(name):
            raise EditError(f"bad rule {name_problem(name)}")
        if severity not in SEVERITIES:
            raise EditError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
        _check_query(query)
        if (old := self.ruleset.get(name)) is not None:
            raise EditError(f"rule '{name}' already exists ({Path(old.path).name}:{old.line})")
        if (error := self.ruleset.failed.get(name)) is not None:  # in a file, out of use for an error
            raise EditError(f"rule '{name}' already exists, with an error ({error.brief()}): fix it in the "
                            f"file, or its query with /edit_rule {name} QUERY")
        path = self.folder / _file_name(file or name)
        before = _read(path)
        lines = ["[[rule]]", f"name = {_toml_string(name)}"]
        if title:
            lines.append(f"title = {_toml_string(title)}")
        lines += [f"severity = {_toml_string(severity)}", f"query = {_toml_string(query)}"]
        nl = _newline(before or "")
        block = nl.join(lines) + nl
        if not before or not before.strip():
            after = block
        else:
            try:
                tomlkit.parse(before)
            except TOMLKitError as e:
                raise EditError(f"{path}: not valid TOML, fix it first ({e})") from None
            after = before + ("" if before.endswith("\n") else nl) + nl + block
        _same_except(before or "", after, name, {"name": name, "query": query, "severity": severity,
                                                 **({"title": title} if title else {})})
        return Change("add", name, path, before, after, None, query)

    def plan_edit(self, name: str, query: str) -> Change:
        """Replace only the query string of a rule; everything else in its file stays as it was."""
        _check_query(query)
        file, before, doc, table = self._locate(name)
        old = table["query"]
        if str(old) == query:
            raise EditError(f"the query of '{name}' is already exactly that")
        literal = getattr(old, "type", None) is None or old.type.value.startswith("'")
        src = _toml_string(query, prefer_literal=literal)
        table["query"] = tomlkit.parse(f"v = {src}\n")["v"]
        after = doc.as_string()
        _same_except(before, after, name, {"query": query})
        return Change("edit", name, file, before, after, str(old), query)

    def plan_undo(self) -> Change:
        """Restore the file as it was before the newest change not undone yet."""
        row = self.store.last_rule_change()
        if row is None:
            raise EditError("nothing to undo")
        path = self.folder / str(row["file"])
        current = _read(path)
        if current != row["after"]:
            raise EditError(f"{path.name} was changed since change #{row['id']} ({row['action']} '{row['rule']}' "
                            f"by {row['user_name']} at {row['at']}); undo it by hand")
        restored = row["before"] if isinstance(row["before"], str) else None
        rule = str(row["rule"])
        return Change("undo", rule, path, current, restored, _query_of(current, rule), _query_of(restored, rule),
                      undoes=int(str(row["id"])))

    # -- applying ------------------------------------------------------------------------------------

    def preview(self, change: Change) -> tuple[list[RuleError], Rule | None]:
        """EditError when `change` could not be applied now (the file changed since it was planned, or
        it would leave a rule file invalid): asked before a Confirm button is offered, not only after.
        Else the warnings about the changed rule (it can never match, a look-alike word) and the rule
        as it will be in use once written (its channels, exclusions and typos from the file, also for a
        rule out of use for an error now; None when it will not be): the rules are built once for both."""
        ruleset, _ = self._after(change)
        warnings = [w for w in ruleset.warnings
                    if w.path == str(change.file) and w.message.startswith((f"rule '{change.rule}' ", f"rule '{change.rule}':"))]
        return warnings, ruleset.get(change.rule)

    def broken_examples(self, change: Change, rule: Rule | None) -> list[RuleError]:
        """The changed rule's own `should_match` / `should_not_match` examples it would fail once
        written, as `rules check` reports them: said before Confirm, not found by the check after.
        `rule`: the rule as `preview` gives it (built once for the back-test and this)."""
        if rule is None or change.after is None:
            return []
        return check_examples(RuleSet(rules=[rule]), texts={str(change.file): change.after})

    def apply(self, change: Change, *, user_id: int | None, user_name: str) -> None:
        """Validate, write atomically, log, and put the new rules in use; EditError when refused."""
        ruleset, texts = self._after(change)
        with self.store.transaction():
            self.store.log_rule_change(user_id=user_id, user_name=user_name, action=change.action,
                                       rule=change.rule, file=change.file.name, before=change.before,
                                       after=change.after)
            if change.undoes is not None:
                self.store.mark_undone(change.undoes)
            _write(change.file, change.after)
        self.ruleset, self._texts, self._baseline = ruleset, texts, frozenset(ruleset.errors)
        self._stat = {**self._stat, **self._scan(change.file)}
        if change.after is None:
            self._stat.pop(change.file, None)

    def history(self, limit: int = 10) -> list[dict[str, Any]]:
        """The latest changes, newest first: who, when, action, rule, file, the query before and after."""
        out = []
        for row in self.store.rule_changes(limit):
            rule = str(row["rule"])
            out.append({
                "id": row["id"], "at": row["at"], "user_id": row["user_id"], "user_name": row["user_name"],
                "action": row["action"], "rule": rule, "file": row["file"], "undone": bool(row["undone"]),
                "query_before": _query_of(row["before"], rule),
                "query_after": _query_of(row["after"], rule),
                "enabled_before": _enabled_of(row["before"], rule),
                "enabled_after": _enabled_of(row["after"], rule),
            })
        return out

    # -- internals -----------------------------------------------------------------------------------

    def _after(self, change: Change) -> tuple[RuleSet, dict[Path, str]]:
        """The rules and file texts in use once `change` is written; EditError when it must not be."""
        if _read(change.file) != change.before:
            raise EditError(f"{change.file.name} was changed since this edit was prepared; prepare it again")
        texts = dict(self._texts)
        if change.after is None:
            texts.pop(change.file, None)
        else:
            errors = parse_rules_text(change.after, str(change.file)).errors
            if errors:
                raise EditError(_refusal(errors[0], change))
            texts[change.file] = change.after
        ruleset = _build(self.folder, texts, [])
        new = _new_errors(ruleset.errors, self._baseline)
        if new:
            raise EditError(f"refused: {new[0].brief()}")
        return ruleset, texts

    def _scan(self, only: Path | None = None) -> dict[Path, tuple[int, int]]:
        files = [only] if only else (rule_files(self.folder) if self.folder.is_dir() else [])
        out = {}
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            out[f] = (st.st_mtime_ns, st.st_size)
        return out

    def _read_all(self) -> tuple[dict[Path, str], list[RuleError]]:
        texts: dict[Path, str] = {}
        errors: list[RuleError] = []
        for f in rule_files(self.folder) if self.folder.is_dir() else []:
            text = read_rule_file(f)
            if isinstance(text, RuleError):
                errors.append(text)
            else:
                texts[f] = text
        return texts, errors

    def _locate(self, name: str) -> tuple[Path, str, Any, Any]:
        """The rule's file, its text on disk, the tomlkit document and the rule's table in it."""
        rule = self.ruleset.get(name)
        failed = self.ruleset.failed.get(name)  # a rule with an error: fixed by a new query from the chat
        if rule is None and failed is None:
            known = ", ".join(sorted(r.name for r in self.ruleset)) or "none"
            raise EditError(f"no rule named '{name}' (rules: {known})")
        path = Path(rule.path if rule is not None else failed.path)  # type: ignore[union-attr]  # (one is set: above)
        before = _read(path)
        if before is None:
            raise EditError(f"{path.name} is gone from disk; nothing to edit")
        try:
            doc = tomlkit.parse(before)
        except TOMLKitError as e:
            raise EditError(f"{path.name} is not valid TOML on disk, fix it first ({e})") from None
        for table in doc.get("rule", []):
            if isinstance(table, dict) and table.get("name") == name:
                return path, before, doc, table
        raise EditError(f"rule '{name}' is no longer in {path.name} on disk")


def backtest_query(store: Store, name: str, query: str, days: int = 7, now: datetime | None = None,
                   *, rule: Rule | None = None, samples: int = 5,
                   groups: Mapping[str, Sequence[str]] | None = None) -> Backtest:
    """What `query` would have matched in the stored posts of the last `days` days (as rule `name`;
    pass the rule in use as `rule` to keep its exclusions, channels and typo setting, and the
    config's channel `groups` its channels may name)."""
    _check_query(query)
    candidate = (replace(rule, name=name, query=query, node=parse(query), enabled=True) if rule
                 else Rule.from_query(name, query))
    now = now or datetime.now(timezone.utc)
    return run_backtest(store, [candidate], since=now - timedelta(days=days), samples=samples, groups=groups)


# -- helpers ---------------------------------------------------------------------------------------


def _build(folder: Path, texts: dict[Path, str], read_errors: list[RuleError]) -> RuleSet:
    """A RuleSet from file texts, as `load_rules` builds it from the disk (same errors, same order)."""
    out = RuleSet(errors=list(read_errors))
    seen: dict[str, Rule] = {}
    for path in sorted(texts):
        part = parse_rules_text(texts[path], str(path))
        out.errors.extend(part.errors)
        out.warnings.extend(part.warnings)
        for rule in part.rules:
            if rule.name in seen:
                first = seen[rule.name]
                out.errors.append(RuleError(str(path), rule.line, 1,
                                            f"rule '{rule.name}' is already defined at {first.path}:{first.line}"))
                continue
            seen[rule.name] = rule
            out.rules.append(rule)
        for name, e in part.failed.items():
            out.failed.setdefault(name, e)
    if not texts and not read_errors:
        out.errors.append(RuleError(str(folder), 0, 0, "no *.toml rule files here"))
    out.unread = unread_files(folder)
    out.warnings.extend(out.unread)
    return out


def _new_errors(errors: Sequence[RuleError], known: Collection[RuleError]) -> list[RuleError]:
    """The `errors` that are not among `known`, compared by file and message with line numbers left
    out: an error an edit only moved (a line added above it, or above the rule a duplicate's
    message names) is one the files had already, not a new one."""
    left = Counter(_unplaced(e) for e in known)
    new = []
    for e in errors:
        if left[_unplaced(e)] > 0:
            left[_unplaced(e)] -= 1
        else:
            new.append(e)
    return new


def _unplaced(error: RuleError) -> tuple[str, str]:
    """An error without its lines: its file, and its message with `file.toml:LINE` as `file.toml`."""
    return error.path, _TOML_LINE_RE.sub(".toml", error.message)


def _refusal(error: RuleError, change: Change) -> str:
    """Why `change` is refused, for `error` in the file it would write: an error the file on disk
    has already is named at its line on disk (where the analyst looks), not at the line it would
    move to after the change."""
    on_disk = parse_rules_text(change.before or "", str(change.file)).errors
    same = next((e for e in on_disk if e.message == error.message), None)
    if same is not None:
        return f"refused, the file would be invalid: {same.brief()} (in the file on disk: fix it there first)"
    return f"refused, the file would be invalid: {error.brief()}"


def _check_query(query: str) -> None:
    """EditError pointing at line:col of the first problem in a query."""
    if not query.strip():
        raise EditError("query: the query is empty")
    try:
        parse(query)
    except QueryError as e:
        pos = min(max(e.pos, 0), len(query))
        line = query.count("\n", 0, pos) + 1
        start = query.rfind("\n", 0, pos) + 1
        end = query.find("\n", pos)
        text = query[start:end if end >= 0 else len(query)]
        raise EditError(f"query: {line}:{pos - start + 1}: {e.message}", f"{text}\n{' ' * (pos - start)}^") from None


def _toml_string(value: str, prefer_literal: bool = True) -> str:
    """TOML source for a string: literal ('...' or '''...''' for several lines) when it can be,
    else basic with escapes; always checked to read back as exactly `value`."""
    if "\n" in value:
        literal, basic = "'''\n" + value + "'''", '"""\n' + _escape(value, keep_newlines=True) + '"""'
    else:
        literal, basic = "'" + value + "'", '"' + _escape(value) + '"'
    for src in ([literal, basic] if prefer_literal else [basic, literal]) + ['"' + _escape(value) + '"']:
        try:
            if tomllib.loads(f"v = {src}\n")["v"] == value:
                return src
        except tomllib.TOMLDecodeError:
            pass
    raise AssertionError(f"cannot write {value!r} as TOML")  # unreachable: a basic string takes anything


def _escape(value: str, keep_newlines: bool = False) -> str:
    named = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    out = []
    for ch in value:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in named:
            out.append(named[ch])
        elif _CONTROL_RE.match(ch):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _same_except(before: str, after: str, name: str, values: dict[str, Any]) -> None:
    """Guard: the edited file must read as the original with only these keys of rule `name` set."""
    try:
        want = tomlread.loads(before) if before.strip() else {}
        got = tomlread.loads(after)
    except tomllib.TOMLDecodeError as e:
        raise EditError(f"the file would not be valid TOML ({e})") from None
    rules = want.setdefault("rule", [])
    target = next((r for r in rules if isinstance(r, dict) and r.get("name") == name), None)
    if target is None:
        rules.append(dict(values))
    else:
        target.update(values)
    if got != want:
        raise EditError(f"internal: the edit of '{name}' would change more than asked; nothing written")


def _rule_of(text: object, name: str) -> dict[str, Any]:
    """Rule `name` as a file's text has it ({} when the text is none, not TOML, or lacks it)."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        rules = tomlread.loads(text).get("rule", [])
    except tomllib.TOMLDecodeError:
        return {}
    return next((r for r in rules if isinstance(r, dict) and r.get("name") == name), {})


def _query_of(text: object, name: str) -> str | None:
    q = _rule_of(text, name).get("query")
    return q if isinstance(q, str) else None


def _enabled_of(text: object, name: str) -> bool | None:
    """Whether the text has rule `name` switched on (None: it has no such rule)."""
    rule = _rule_of(text, name)
    return bool(rule.get("enabled", True)) if rule else None


def _file_name(file: str) -> str:
    name = file if file.endswith(".toml") else f"{file}.toml"
    if not _FILE_RE.fullmatch(name) or ".." in name:
        raise EditError(f"bad file name {file!r}: letters, digits, '-', '_' and '.' in the rules folder")
    return name


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8-sig")  # as `read_rule_file` reads it: a BOM is no TOML
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise EditError(f"cannot read {path.name}: {e}") from None


def _write(path: Path, text: str | None) -> None:
    """Replace the file atomically (a temporary file in the same folder, then os.replace); None removes it."""
    if text is None:
        path.unlink(missing_ok=True)
        return
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = new_file_mode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
