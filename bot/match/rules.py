"""Watch rules: the model, and loading `rules/*.toml` with errors that point at file:line:col.

A bad rule is reported and skipped; the other rules of its file, and every other file, still
load. See rules/README.md for the format.
"""

from __future__ import annotations

import os
import re
import tomllib
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from .. import tomlread
from ..guess import closest, meant
from ..post import TG_LINK, bare_id, cut_link, link_channel, not_a_channel, t_me_lower
from .broad import function_only
from .explain import dictionary_name
from .morph import default_morphology
from .query import (
    MAX_TYPOS,
    And,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    QueryError,
    Url,
    Word,
    is_abbreviation,
    nodes,
    parse,
    to_text,
    words_of,
)

__all__ = ["DISABLED", "Rule", "RuleError", "RuleSet", "channel_key", "channel_title_key", "load_rules", "name_problem",
           "parse_rules_text", "read_rule_file", "rule_files", "unread_files",
           "SEVERITIES"]

# What every command that shows a rule with `enabled = false` says beside its name (rules test,
# backtest, explain and check, the chat's /test and back-tests): they run it all the same, and
# without the mark its hits read as hits the service would alert on.
DISABLED = "(disabled: not matched live or in replay)"

SEVERITIES = ("high", "normal", "low")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KEYS = {
    "name", "title", "query", "exclude", "channels", "severity", "enabled", "typos", "notes",
    "should_match", "should_not_match",
}


@dataclass(frozen=True)
class RuleError:
    """One problem in a rule file, printable as `file:line:col: message`."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:  # about a folder or a whole file, not a place in one
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}:{self.col}: {self.message}"

    def brief(self) -> str:
        """As `str`, with the files by their names alone, also one the message names (a duplicate's
        first definition, in the same folder): what the chat shows (not the server's paths)."""
        folder = str(Path(self.path).parent)
        message = self.message if folder == "." else self.message.replace(folder + os.sep, "")
        return str(replace(self, path=Path(self.path).name, message=message))

    def takes_out(self) -> str:
        """What the error takes out of use: the whole file when it cannot be read as TOML."""
        return "the file" if self.line <= 0 or self.message.startswith("TOML syntax") else "that rule"


@dataclass(frozen=True)
class Rule:
    """A named watch rule: a query, optional exclusions, a channel scope and a severity."""

    name: str
    query: str
    node: Node
    title: str = ""
    exclude: tuple[str, ...] = ()
    exclude_nodes: tuple[Node, ...] = ()
    channels: tuple[str, ...] | None = None  # None: every channel
    severity: str = "normal"
    enabled: bool = True
    typos: int | None = None  # None: by word length
    notes: str = ""
    should_match: tuple[str, ...] = ()
    should_not_match: tuple[str, ...] = ()
    path: str = "<string>"
    line: int = 1

    @classmethod
    def from_query(cls, name: str, query: str, **kw: Any) -> "Rule":
        """Build a rule in code (tests, `rules test`); raises QueryError."""
        exclude = tuple(kw.pop("exclude", ()))
        if kw.get("channels") is not None:
            kw["channels"] = tuple(channel_key(c) for c in kw["channels"])
        return cls(name=name, query=query, node=parse(query), exclude=exclude,
                   exclude_nodes=tuple(parse(q) for q in exclude), title=kw.pop("title", name), **kw)

    def applies_to(self, channel_keys: set[str]) -> bool:
        """Is a channel known by these keys (lower-case username, bare id, title, group) in scope?"""
        return self.channels is None or not channel_keys.isdisjoint(self.channels)


@dataclass
class RuleSet:
    """Rules loaded from files, the errors met on the way (each takes a rule or a file out of use),
    and warnings (nothing is taken out of use: a file or a rule that watches nothing, a word that
    cannot match as meant)."""

    rules: list[Rule] = field(default_factory=list)
    errors: list[RuleError] = field(default_factory=list)
    warnings: list[RuleError] = field(default_factory=list)
    failed: dict[str, RuleError] = field(default_factory=dict)  # a rule out of use for an error: its first one
    unread: list[RuleError] = field(default_factory=list)  # files that look like rule files but are not read (among `warnings`)

    def get(self, name: str) -> Rule | None:
        """The rule in use NAME names, in any case (names are lower case; a phone capitalises)."""
        key = name.strip().lower()
        return next((r for r in self.rules if r.name == key), None)

    def missing(self, name: str, where: str = "") -> str:
        """Why NAME names no rule in use, in one line: the error that takes the rule out of use
        (the analyst is looking at it in the file), else the names there are."""
        if (e := self.failed.get(name.strip().lower())) is not None:
            return f"rule {name!r} is out of use for an error: {e}"
        names = sorted(r.name for r in self.rules)
        hint = meant(name, names)
        return f"no rule named {name!r}{f' in {where}' if where else ''}{hint} (have: {', '.join(names) or 'none'})"

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


class _Locator:
    """Maps a rule's keys and string values back to lines and columns of the TOML source."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.headers = [m.start() for m in re.finditer(r"(?m)^[ \t]*\[\[[ \t]*rule[ \t]*\]\]", text)]
        self._newlines: list[int] | None = None  # offsets of every "\n", found once when first asked

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset: a bisect over the newlines, so a file's every
        rule is located in time proportional to its size, not to its size times its rules."""
        breaks = self._breaks()
        before = bisect_right(breaks, offset - 1)  # the newlines before offset
        return before + 1, offset - (breaks[before - 1] + 1 if before else 0) + 1

    def _breaks(self) -> list[int]:
        """Offsets of every newline, found once when first asked."""
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.text)]
        return self._newlines

    def header_at(self, line: int) -> int:
        """Index of the [[rule]] header on `line` (0 when none is)."""
        i = bisect_right(self.headers, self.line_start(line)) - 1
        return i if i >= 0 and self.line_col(self.headers[i])[0] == line else 0

    def line_start(self, line: int) -> int:
        """Offset of the first character of a 1-based line."""
        breaks = self._breaks()
        return 0 if line <= 1 else breaks[line - 2] + 1 if line - 2 < len(breaks) else len(self.text)

    def block(self, index: int) -> tuple[int, int]:
        if index >= len(self.headers):
            return 0, len(self.text)
        end = self.headers[index + 1] if index + 1 < len(self.headers) else len(self.text)
        return self.headers[index], end

    def key(self, index: int, key: str) -> int:
        """Offset of `key =` in the index-th rule block (the block start when absent)."""
        start, end = self.block(index)
        m = re.compile(rf"(?m)^[ \t]*{re.escape(key)}[ \t]*=").search(self.text, start, end)
        return m.start() + len(m.group()) - len(m.group().lstrip()) if m else start

    def _walk(self, body: int, pos: int, basic: bool) -> int:
        return _walk_raw(self.text, body, pos, basic)

    def string(self, index: int, key: str, item: int = 0, pos: int = 0) -> int:
        """Offset of character `pos` inside the item-th string value of `key`."""
        start, end = self.block(index)
        m = re.compile(rf"(?m)^[ \t]*{re.escape(key)}[ \t]*=").search(self.text, start, end)
        if not m:
            return start
        i = m.end()
        found = -1
        while i < end:
            for q in ("'''", '"""', "'", '"'):
                if self.text.startswith(q, i):
                    found += 1
                    body = i + len(q)
                    if len(q) == 3 and self.text.startswith("\r\n", body):
                        body += 2
                    elif len(q) == 3 and self.text.startswith("\n", body):
                        body += 1
                    close = self.text.find(q, body)
                    if found == item:
                        return self._walk(body, pos, basic=q.startswith('"'))
                    i = close + len(q) if close >= 0 else end
                    break
            else:
                if self.text[i] == "#":
                    i = self.text.find("\n", i) if "\n" in self.text[i:end] else end
                i += 1
        return m.start()


def _walk_raw(text: str, body: int, pos: int, basic: bool) -> int:
    """Offset in the raw file of the parsed string's character `pos`: escapes (basic strings)
    and CRLF line ends take more raw characters than they give."""
    i = body
    for _ in range(pos):
        if i >= len(text):
            break
        if text.startswith("\r\n", i):
            i += 2
        elif basic and text[i] == "\\" and i + 1 < len(text):
            i += {"u": 6, "U": 10}.get(text[i + 1], 2)
        else:
            i += 1
    return i


def _is_int(value: Any, low: int | None = None, high: int | None = None) -> bool:
    """A TOML integer (not a float, not a boolean) within [low, high]."""
    return (isinstance(value, int) and not isinstance(value, bool)
            and (low is None or value >= low) and (high is None or value <= high))


_NAME_CHARS = "lower-case Latin letters, digits, '-' or '_'"


def name_problem(name: object) -> str:
    """What is wrong with a rule's name (absent, not a string, empty, too long, or which of its
    characters a name cannot have), with a name that would do when one can be made of it."""
    if name is None:
        return f"every rule needs name = \"...\": {_NAME_CHARS}"
    if not isinstance(name, str):
        return f"name must be a string of {_NAME_CHARS}, not {_toml_repr(name)}"
    if not name:
        return f"name is empty: {_NAME_CHARS}"
    shown = name if len(name) <= 40 else name[:39] + "…"
    wrong = [c for c in dict.fromkeys(name) if not re.fullmatch(r"[a-z0-9_-]", c)]
    if wrong:
        capitals = [repr(c) for c in wrong if c.isascii() and c.isupper()]
        parts = [f"capitals {', '.join(capitals)}"] if capitals else []
        parts += ["spaces" if sum(c.isspace() for c in name) > 1 else "a space"] if any(c.isspace() for c in wrong) else []
        parts += ["letters that are not Latin"] if any(c.isalpha() and not c.isascii() for c in wrong) else []
        parts += [repr(c) for c in wrong if not (c.isalpha() or c.isspace())][:8]
        listed = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]
        problem = f"name {shown!r} has {listed}: a rule name is {_NAME_CHARS}"
    elif len(name) > 64:
        return f"name {shown!r} is {len(name)} characters long; at most 64"
    else:  # only - or _ come first
        problem = f"name {shown!r} must start with a lower-case Latin letter or a digit"
    fixed = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")[:64]
    foreign = any(c.isalpha() and not c.isascii() for c in name)  # (a name without them would be another name)
    return problem + (f" (e.g. name = \"{fixed}\")" if _NAME_RE.fullmatch(fixed) and not foreign else "")


def _toml_repr(value: Any) -> str:
    """A value as the analyst wrote it in TOML (true, 1.0, "x"), for messages."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, dict)):
        return "an array" if isinstance(value, list) else "a table"
    return str(value)


def _as_str_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def parse_rules_text(text: str, path: str = "<string>") -> RuleSet:
    """Parse one rule file's text; errors are collected, never raised."""
    out = RuleSet()
    try:
        data = tomlread.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        line, col = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e)) or "invalid TOML"
        out.errors.append(RuleError(path, line, col, f"TOML syntax: {msg}"))
        return out
    loc = _Locator(text)

    def err(offset: int, message: str) -> None:
        out.errors.append(RuleError(path, *loc.line_col(offset), message))

    def warn(offset: int, message: str) -> None:
        out.warnings.append(RuleError(path, *loc.line_col(offset), message))

    for key in data:
        if key != "rule":
            m = re.search(rf"(?m)^[ \t]*\[*[ \t]*{re.escape(key)}\b", text)
            err(m.start() if m else 0, f"unknown top-level key '{key}'; rules start with [[rule]]")
    rules = data.get("rule", [])
    m = re.search(r"(?m)^[ \t]*(rule)[ \t]*=", text)
    assigned = m.start(1) if m else 0  # where `rule = ...` is written, for the two messages about it
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        err(assigned, "'rule' must be an array of tables: write [[rule]]")
        return out
    if not rules and "rule" not in data:
        warn(0, "no rules in this file; each rule starts with [[rule]]")
    elif not rules:
        warn(assigned, "rule = [] defines no rules: this file watches nothing; each rule starts with [[rule]]")
    for index, raw in enumerate(rules):
        first = len(out.errors)
        rule = _build_rule(raw, index, loc, err, path, warn)
        name = raw.get("name")
        if rule is None and len(out.errors) > first and isinstance(name, str) and _NAME_RE.fullmatch(name):
            out.failed.setdefault(name, min(out.errors[first:], key=lambda e: (e.line, e.col)))
        if rule is not None:
            out.rules.append(rule)
            _warn_rule(rule, index, loc, warn)
    out.errors.sort(key=lambda e: (e.line, e.col))
    out.warnings.sort(key=lambda e: (e.line, e.col))
    return out


def _build_rule(raw: dict[str, Any], index: int, loc: _Locator, err: Any, path: str, warn: Any) -> Rule | None:
    n_errors = 0

    def bad(offset: int, message: str) -> None:
        nonlocal n_errors
        n_errors += 1
        err(offset, message)

    where = loc.block(index)[0]
    for key, value in raw.items():
        if key not in _KEYS:
            guess = closest(key, _KEYS)
            hint = (" (keys written after a [rule.x] sub-table belong to it)" if isinstance(value, dict)
                    else f" (did you mean '{guess}'?)" if guess else "")
            bad(loc.key(index, key), f"unknown key '{key}'{hint}; allowed: {', '.join(sorted(_KEYS))}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        bad(loc.key(index, "name"), name_problem(name))
        name = None
    query = raw.get("query")
    node = None
    if not isinstance(query, str) or not query.strip():
        bad(loc.key(index, "query"), "every rule needs a query = \"...\"")
    else:
        habits: list[QueryError] = []  # (another tool's habit a file written for an earlier version has: a warning)
        try:
            node = parse(query, habits=habits)
        except QueryError as e:
            bad(loc.string(index, "query", 0, e.pos), f"query: {e.message}")
        for h in habits:
            warn(loc.string(index, "query", 0, h.pos), f"query: {h.message} (read as before: /add_rule and /edit_rule refuse it)")
    exclude = _as_str_list(raw.get("exclude", []))
    exclude_nodes: list[Node] = []
    if exclude is None:
        bad(loc.key(index, "exclude"), "exclude must be a query string or a list of query strings")
        exclude = []
    for i, q in enumerate(exclude):
        habits = []
        try:
            exclude_nodes.append(parse(q, habits=habits))
        except QueryError as e:
            bad(loc.string(index, "exclude", i, e.pos), f"exclude: {e.message}")
        for h in habits:
            warn(loc.string(index, "exclude", i, h.pos), f"exclude: {h.message} (read as before: /add_rule and /edit_rule refuse it)")
    severity = raw.get("severity", "normal")
    if isinstance(severity, str) and severity.lower() in SEVERITIES:  # "High" is high, as names are any case
        severity = severity.lower()
    else:
        bad(loc.key(index, "severity"), f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        bad(loc.key(index, "enabled"), "enabled must be true or false")
    typos = raw.get("typos", "auto")
    if typos != "auto" and not _is_int(typos, 0, MAX_TYPOS):
        allowed = ", ".join(map(str, range(MAX_TYPOS))) + f" or {MAX_TYPOS}"
        bad(loc.key(index, "typos"), f"typos must be \"auto\", {allowed} (a whole number), not {_toml_repr(typos)}")
    channels_raw = raw.get("channels", "all")
    channels: tuple[str, ...] | None = None
    if isinstance(channels_raw, str) or _is_int(channels_raw):  # one channel without its list: "mash" is ["mash"]
        channels_raw = "all" if str(channels_raw).strip().lower() == "all" else [channels_raw]
    if channels_raw != "all":
        if isinstance(channels_raw, list) and channels_raw and all(isinstance(c, str) or _is_int(c) for c in channels_raw):
            channels = tuple(channel_key(c) for c in channels_raw)
            strings = [c for c in channels_raw if isinstance(c, str)]  # reported at the opening quote
            for i, c in enumerate(strings):
                why = not_a_channel(c)  # an invite, a proxy, a sticker set: else read as the username «proxy»
                if not (key := channel_key(c)):
                    bad(loc.string(index, "channels", i) - 1, f"channels: {c!r} names no channel; write a username, "
                        "@username, t.me/username or an id")
                elif why and not why.startswith("an invite"):  # (a phone link's key starts with "+" too)
                    bad(loc.string(index, "channels", i) - 1, f"channels: {cut_link(c)!r} is {why}")
                elif why or key.startswith(("+", "joinchat/")):  # its hash cut: the chat shows this error
                    bad(loc.string(index, "channels", i) - 1, f"channels: {cut_link(c)!r} is an invite link, which no "
                        "post names its channel by; write the channel's id (a private channel has no username)")
        else:
            bad(loc.key(index, "channels"), "channels must be \"all\", a username, id or group name, or a list of them")
    examples: dict[str, list[str]] = {}
    for key in ("should_match", "should_not_match"):
        vals = _as_str_list(raw.get(key, []))
        if vals is None:
            bad(loc.key(index, key), f"{key} must be a list of example texts")
            vals = []
        examples[key] = vals
    for key in ("title", "notes"):
        if key in raw and not isinstance(raw[key], str):
            bad(loc.key(index, key), f"{key} must be a string")
    if n_errors or name is None or node is None:
        return None
    return Rule(  # (query is a str: node is parsed from it only then; title was checked a str above)
        name=name, query=query, node=node, title=raw.get("title") or name,  # type: ignore[arg-type]
        exclude=tuple(exclude), exclude_nodes=tuple(exclude_nodes), channels=channels,
        severity=severity, enabled=enabled, typos=None if typos == "auto" else typos,
        notes=raw.get("notes", ""), should_match=tuple(examples["should_match"]),
        should_not_match=tuple(examples["should_not_match"]), path=path,
        line=loc.line_col(where)[0],
    )


# -- warnings: rules that load but cannot do what they say ------------------------------------------

# Latin letters an analyst can take for Cyrillic ones, as written (lower-case b, h, k, m, t do not look alike).
_LOOKALIKE = dict(zip("ABCEHKMOPTXYaceopxy", "АВСЕНКМОРТХУасеорху"))


def _warn_rule(rule: Rule, index: int, loc: _Locator, warn: Any) -> None:
    """Warn (at file:line:col) about a rule that can never match, about words written in Latin
    look-alike letters, about an abbreviation that would match a common word («КТО»: кто), and about
    a query that can match on function words alone (`в OR и`)."""
    blocked = _never(rule.node, frozenset())
    if blocked:
        warn(loc.key(index, "query"), f"rule '{rule.name}' can never match: its query needs {_one_of(blocked)}, "
             "which a NOT in the same query rules out")
    elif blocked := _never(rule.node, frozenset().union(*map(_banned_by, rule.exclude_nodes))):
        warn(loc.key(index, "exclude"), f"rule '{rule.name}' can never match: every post its query matches has "
             f"{_one_of(blocked)}, which its exclude rules out")
    broad = _function_words_alone(rule.node)
    for key, item, node in [("query", 0, rule.node), *(("exclude", i, n) for i, n in enumerate(rule.exclude_nodes))]:
        in_phrases = {id(w) for p in nodes(node) if isinstance(p, Phrase) for w in p.words}
        for w in words_of(node):
            operator = None if id(w) in in_phrases else _operator_word(w)
            cyrillic = _cyrillic_twin(w)
            # (КТО, and TO in Latin look-alikes, «ТО»: a warning of their own)
            if key == "query" and id(w) in broad and _common_in_capitals(w) is None and not cyrillic:
                warn(loc.string(index, key, item, w.pos), f"rule '{rule.name}': {broad[id(w)]}")
            elif operator:
                warn(loc.string(index, key, item, w.pos), f"rule '{rule.name}': {operator}")
            elif cyrillic:
                warn(loc.string(index, key, item, w.pos), f"rule '{rule.name}': {w.raw!r} is in Latin letters only, so "
                     f"it never matches Cyrillic «{cyrillic}» (look-alike letters are folded only in words that mix "
                     f"both alphabets); if you meant Cyrillic, write {cyrillic}"
                     + (f"; if you mean the Latin word, write ={w.raw}" if w.raw and w.raw.isalpha() else ""))
            elif (word := _common_in_capitals(w)) is not None:
                forms = ", ".join(sorted(default_morphology().forms(w.text) - {w.text})[:3])
                warn(loc.string(index, key, item, w.pos), f"rule '{rule.name}': {word!r} is written in capitals, but "
                     f"without '=' it matches the common word «{w.text}»" + (f" in every form ({forms})" if forms else "")
                     + f"; for the abbreviation write ={word} (an exact form in capitals matches capitals only)")


def _function_words_alone(node: Node) -> dict[int, str]:
    """By id, what to say about each query word that lets the query match on function words alone
    (`в OR и`: nearly every post has «в»)."""
    morph = default_morphology()
    out: dict[int, str] = {}
    for way in function_only(node, morph):
        for w in way:
            kind = morph.function_word(w.text)
            others = list(dict.fromkeys(f"'{o.raw or o.text}'" for o in way if o is not w and (o.raw or o.text) != (w.raw or w.text)))
            alone = "it alone" if not others else f"it and {', '.join(others)} alone"
            english = w.text.isascii()
            raw = re.sub(r"~\d+$", "", w.raw or w.text)
            out.setdefault(id(w), f"'{w.raw or w.text}' is {kind}, and the query can match on {alone}: nearly every "
                           + ("post in English" if english else "post") + " has such words; drop it, or put it in a "
                           "phrase or a NEAR with a content word (\"из части\", самовольно NEAR/4 позиция)"
                           # (IT, US: an abbreviation meant; a Russian one in capitals, КТО, has a warning of its own)
                           + (f"; for the abbreviation write ={raw}" if english and len(raw) > 1 and raw.isupper() else ""))
    return out


# Words that are operators elsewhere (lower-case English ones, Russian ones, as analysts say them): this
# language reads them as words a post must contain, so `дрон ИЛИ беспилотник` needs «или» in the post.
_OPERATOR_WORDS = {"or": "OR", "и": "AND", "and": "AND", "not": "NOT", "не": "NOT", "или": "OR", "либо": "OR",
                   "near": "NEAR/n", "рядом": "NEAR/n"}


def _operator_word(w: Word) -> str | None:
    """What to say about a word outside quotes that is an operator in another tool or in Russian
    (`or`, `ИЛИ`, `и`, `НЕ`), which matches only posts that contain that word; None for another word."""
    raw = re.sub(r"~\d+$", "", w.raw or "")
    op = _OPERATOR_WORDS.get(raw.casefold()) if w.mode == "forms" else None
    if op is None or raw == op:  # (OR, AND, NOT are the operators themselves: never a Word)
        return None
    how = {"OR": "for either side write OR: дрон OR беспилотник",
           "AND": "for both sides a space is enough (or AND)",
           "NOT": "to leave out posts with a word write NOT word (or -word)",
           "NEAR/n": "for words near each other write NEAR/n: дрон NEAR/5 НПЗ"}[op]
    return (f"'{raw}' is no operator but a word: its part of the query matches only posts that contain «{w.text}»; "
            f"{how} (operators are upper-case English: OR, AND, NOT, NEAR/n)")


def _common_in_capitals(w: Word) -> str | None:
    """The word as written when it is in capitals (an abbreviation, КТО) but read as a common
    word in all its forms («кто», «кого»): no `=`, and the dictionary knows no abbreviation of it."""
    raw = re.sub(r"~\d+$", "", w.raw or "")
    if w.mode != "forms" or not is_abbreviation(raw) or not default_morphology().common_word(w.text):
        return None
    return None if dictionary_name(w.text) else raw  # ТАСС is the agency in every form, not a common word


def _one_of(terms: list[str]) -> str:
    return terms[0] if len(terms) == 1 else "one of " + ", ".join(terms)


def _cyrillic_twin(w: Word) -> str | None:
    """The Cyrillic word a Latin-only query word looks like («BCY» -> «ВСУ»), or None; None for an
    exact form (=BMP): the writer asked for the Latin word as written (APC, MBT, BMP are real ones)."""
    if (w.raw or "").startswith("="):
        return None
    letters = re.sub(r"\*$|~\d+$", "", w.raw or "")
    if len(letters) < 2 or any(c not in _LOOKALIKE for c in letters):
        return None
    return "".join(_LOOKALIKE[c] for c in letters)


def _term_key(node: Word | Phrase | Url) -> tuple[object, ...]:
    """What makes two terms match the same words: a word's text, mode and typos (and for an exact
    form in capitals, that it matches capitals only)."""
    if isinstance(node, Word):
        return ("word", node.text, node.mode, node.typos, node.cased, node.ordinal)
    if isinstance(node, Phrase):
        return ("phrase", *(_term_key(w) for w in node.words))
    return ("url", node.text)


def _banned_by(node: Node) -> frozenset[tuple[object, ...]]:
    """The terms any one of which makes `node` match: what a NOT of it (or an exclude) rules out."""
    if isinstance(node, (Word, Phrase, Url)):
        return frozenset([_term_key(node)])
    if isinstance(node, Or):
        return frozenset().union(*map(_banned_by, node.items))
    return frozenset()  # an AND or a NEAR needs more than one term: no single term decides it


def _never(node: Node, banned: frozenset[tuple[object, ...]]) -> list[str]:
    """The terms that stop `node` from ever matching when posts with a `banned` term are ruled out
    (empty when it can match). Sure, not complete: it catches «x AND NOT x» and its kin."""
    if isinstance(node, (Word, Url)):
        return [to_text(node)] if _term_key(node) in banned else []
    if isinstance(node, Phrase):
        hit = _term_key(node) in banned or any(_term_key(w) in banned for w in node.words)
        return [to_text(node)] if hit else []
    if isinstance(node, Or):
        parts = [_never(n, banned) for n in node.items]
        return list(dict.fromkeys(t for p in parts for t in p)) if all(parts) else []
    if isinstance(node, And):
        banned = banned.union(*(_banned_by(n.item) for n in node.items if isinstance(n, Not)))
        return next((p for n in node.items if not isinstance(n, Not) and (p := _never(n, banned))), [])
    if isinstance(node, Near):
        return _never(node.left, banned) or _never(node.right, banned)
    return []


def channel_key(value: str | int) -> str:
    """Normalise a channel reference: @name, t.me/name, a bare or marked id -> one key. A post's
    link names its channel (t.me/name/123, t.me/c/1117628569/123: the links tgwatch prints), and
    so does a preview link (t.me/s/name)."""
    s = t_me_lower(str(value))  # T.ME/Mash is t.me/Mash
    if (named := link_channel(s)) is not None:  # one reading of a post's link (with ?single, ?comment=…)
        s = named
    elif link := re.match(rf"{TG_LINK}(?:[cs]/)?", s):
        s = re.sub(r"/\d+/?$", "", s[link.end():])
    s = s.lstrip("@").rstrip("/").casefold()
    if re.fullmatch(r"-?\d{1,20}", s):  # longer is no channel's id, and int() refuses 4,301 digits
        s = str(bare_id(int(s)))
    return s


# What a channel reference may be as a username (Telegram's rule, as bot.config takes one): a
# reference of this shape names a channel by its username first.
_USERNAME_KEY_RE = re.compile(r"[a-z][a-z0-9_]{3,31}")


def channel_title_key(title: str | None, username: str | None) -> str | None:
    """The key a channel is known by through its title (case-insensitive, as `export --channel`
    finds a channel by its exact title in any case: bot.store.read.resolve_channels), or None.

    A channel with a username is known by its title only when the title cannot be read as a
    username («Военная хроника»): `@mash` and `Mash` are one key (the config folds both to the
    username «mash»), and must not name another channel that is titled «Mash». A channel without
    a username (a post replayed from a Telegram Desktop export knows only the title and id) is
    known by any title, so `@mash` falls back to the channel titled «Mash»."""
    key = (title or "").strip().casefold()
    if not key or (username and _USERNAME_KEY_RE.fullmatch(key)):
        return None
    return key


def rule_files(path: Path) -> list[Path]:
    """The rule files under a directory (sorted), or the file itself."""
    if path.is_dir():
        return sorted(p for p in path.glob("*.toml") if p.is_file())
    return [path]


def unread_files(folder: Path) -> list[RuleError]:
    """A warning for each file in the folder that looks meant as a rule file but is not read (only
    `*.toml` at the top of the folder is): `Drones.TOML`, Notepad's `drones.toml.txt`, a subfolder's
    `team/drones.toml`. Without it, its rules never run and `rules check` counts them nowhere."""
    if not folder.is_dir():
        return []
    read = set(rule_files(folder))
    out: list[RuleError] = []
    for parent, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # .git and the like: no analyst's rules
        for file in (Path(parent) / n for n in sorted(names)):
            lower = file.name.lower()
            if file in read or lower.startswith(".") or not lower.endswith((".toml", ".toml.txt")):
                continue
            if file.parent != folder:
                why = f"only the top of {folder.name}/ is read, not its subfolders; move it to {folder.name}/"
            elif lower.endswith(".txt"):
                why = f"its name ends in .txt (Windows Notepad adds it); rename it to {file.name[:-4]}"
            else:
                why = f"a rule file's name ends in lower-case .toml; rename it to {file.stem}.toml"
            out.append(RuleError(str(file), 0, 0, f"not read as a rule file: {why}"))
    return out


def read_rule_file(file: Path) -> str | RuleError:
    """A rule file's text, or the error that says where it cannot be read (a bad byte's line:col)."""
    try:
        data = file.read_bytes()
    except OSError as e:
        return RuleError(str(file), 0, 0, f"cannot read: {e.strerror or e}")
    try:
        return data.decode("utf-8-sig")  # a BOM (Windows editors) is not part of the TOML
    except UnicodeDecodeError as e:
        data = e.object  # after the BOM, if any: the offsets count from there
        start = data.rfind(b"\n", 0, e.start) + 1
        line = data.count(b"\n", 0, e.start) + 1
        col = len(data[start:e.start].decode("utf-8", errors="replace")) + 1
        return RuleError(str(file), line, col, f"not UTF-8 text (byte 0x{data[e.start]:02x}); save the file as UTF-8")


def load_rules(path: str | Path) -> RuleSet:
    """Load every `*.toml` rule file in a directory (or one file); never raises on bad input."""
    path = Path(path)
    out = RuleSet()
    if not path.exists():
        what = "file" if path.suffix == ".toml" else "folder"
        out.errors.append(RuleError(str(path), 0, 0, f"no such {what}"))
        return out
    seen: dict[str, Rule] = {}
    for file in rule_files(path):
        text = read_rule_file(file)
        if isinstance(text, RuleError):
            out.errors.append(text)
            continue
        part = parse_rules_text(text, str(file))
        out.warnings.extend(part.warnings)
        errors = list(part.errors)
        for rule in part.rules:
            if rule.name in seen:
                first = seen[rule.name]
                errors.append(RuleError(str(file), rule.line, 1, f"rule '{rule.name}' is already defined at {first.path}:{first.line}"))
                continue
            seen[rule.name] = rule
            out.rules.append(rule)
        for name, e in part.failed.items():
            out.failed.setdefault(name, e)
        out.errors.extend(sorted(errors, key=lambda e: (e.line, e.col)))
    if path.is_dir() and not rule_files(path):
        out.errors.append(RuleError(str(path), 0, 0, "no *.toml rule files here"))
    out.unread = unread_files(path)
    out.warnings.extend(out.unread)
    return out
