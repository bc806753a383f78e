"""`tgwatch rules ...`: check, test, explain and back-test watch rules."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.text import Text
from rich.tree import Tree

from ..match.check import check_examples
from ..match.matcher import Match, Matcher, ordinal_ending
from ..match.query import And, Near, Node, Not, Or, Phrase, Url, Word, to_text
from ..match.rules import DISABLED, Rule, RuleError, RuleSet, load_rules
from .common import DEFAULT_RULES, counted, err, fail, given, out, resolve_rules
from .lazy import LazyGroup

SEVERITY_STYLE = {"high": "bold red", "normal": "yellow", "low": "dim"}


def load_or_fail(path: str, *, show_errors: bool = True) -> RuleSet:
    """Load rules for a command; bad files are reported, good rules still load. Without
    `show_errors`, the errors are still shown when they leave no rule to use."""
    path = resolve_rules(path)
    ruleset = load_rules(path)
    if show_errors or not ruleset.rules:
        _warn(ruleset)
    if not ruleset.rules:
        fail(f"no usable rules in {path}")
    return ruleset


def find_rule(ruleset: RuleSet, name: str, rules_path: str) -> Rule:
    """Rule NAME in use, in any case (as every --rule takes it); else a one-line error naming the
    error that took the rule out of use, or the rules there are."""
    rule = ruleset.get(name)
    if rule is None:
        fail(ruleset.missing(name, rules_path))
    return rule


def warn_shadowed(ruleset: RuleSet, rule: Rule) -> None:
    """Warn when another file defines a rule of the same name: the command uses `rule`, which may
    not be the one just written; and about `rule` itself (it can never match, a look-alike word)."""
    for e in ruleset.errors:
        if e.message.startswith(f"rule '{rule.name}' is already defined at "):
            err().print(Text(f"warning: {e}; using the one at {rule.path}:{rule.line}", style="yellow"))
    for e in ruleset.warnings:
        if e.path == rule.path and e.message.startswith((f"rule '{rule.name}' ", f"rule '{rule.name}':")):
            err().print(Text(f"warning: {e}", style="yellow"))


def warn_errors(ruleset: RuleSet, name: str) -> None:
    """The errors that take rules out of use, each a `warning:` line (rules/README's promise: the
    command goes on with the other rules); rule NAME's duplicate is left to `warn_shadowed`."""
    for e in ruleset.errors:
        if not e.message.startswith(f"rule '{name.strip().lower()}' is already defined at "):
            err().print(Text(f"warning: {e}", style="yellow"))


def _warn(ruleset: RuleSet) -> None:
    for e in [*ruleset.errors, *ruleset.warnings]:
        err().print(Text(f"warning: {e}", style="yellow"))


def disabled_mark(rule: Rule | None) -> str:
    """«  (disabled: not matched live or in replay)» after a disabled rule's name; else nothing."""
    return f"  {DISABLED}" if rule is not None and not rule.enabled else ""


def highlight(text: str, match_list: list[Match]) -> Text:
    """The text with every hit of every match in bold."""
    t = Text(text)
    for m in match_list:
        for h in m.hits:
            t.stylize("bold reverse" if h.kind != "typo" else "bold underline", h.start, h.end)
    return t


def describe_hits(m: Match) -> Text:
    t = Text()
    for i, h in enumerate(m.hits):
        if i:
            t.append(", ")
        t.append(h.form, style="bold")
        detail = h.kind if h.kind != "typo" else f"typo, score {h.score:.2f}"
        t.append(f" ← {h.term} ({detail}) @{h.start}")
    return t


# `rules backtest` needs the store (sqlite_utils): imported when it runs, not for `rules check`
BACKTEST = (".backtest", "backtest", "Run rule NAME (or every rule in FILE.toml) over the stored posts and show what "
            "it would match: hits per rule, channel and day, the change against the stored matches, and sample posts.")


@click.group(cls=LazyGroup, lazy={"backtest": BACKTEST}, package=__package__)
def rules() -> None:
    """Check, test, explain and back-test watch rules."""


@rules.command()
@click.argument("path", default=DEFAULT_RULES, type=click.Path(), callback=given)
def check(path: str) -> None:
    """Validate every rule file in PATH (a folder or a file) and run each rule's examples. Warnings
    (a file or rule that watches nothing, a word that cannot match as meant) do not fail the check."""
    path = resolve_rules(path, "tgwatch rules check DIR")  # a folder argument, no --rules
    ruleset = load_rules(path)
    if not Path(path).exists():  # a mistyped path (`rule/`) is the user's error, exit 2, not a finding in a file
        fail(str(ruleset.errors[0]))
    errors = list(ruleset.errors)
    if ruleset.rules:
        errors += check_examples(ruleset)
    notes = [RuleError(r.path, r.line, 1, f"rule '{r.name}' {DISABLED}") for r in ruleset.rules if not r.enabled]
    prefix = {**{id(e): "warning: " for e in ruleset.warnings}, **{id(e): "note: " for e in notes}}
    shown = sorted([*errors, *ruleset.warnings, *notes], key=lambda e: (e.path, e.line, e.col))  # file by file, in reading order
    for e in shown:
        click.echo(f"{prefix.get(id(e), '')}{e}")
    files = {r.path for r in ruleset.rules}
    summary = f"{counted(len(ruleset.rules), 'rule')} in {counted(len(files), 'file')} loaded, {counted(len(errors), 'error')}"
    summary += f", {counted(len(ruleset.warnings), 'warning')}" if ruleset.warnings else ""
    click.echo(summary, err=True)
    sys.exit(1 if errors else 0)


@rules.command()
@click.argument("text")
@click.option("--rules", "rules_path", default=DEFAULT_RULES, show_default=True, callback=given, help="Rule folder or file.")
@click.option("--rule", "names", multiple=True, help="Only these rules (repeatable).")
def test(text: str, rules_path: str, names: tuple[str, ...]) -> None:
    """Show which rules match TEXT and why (when none does, how close each came). Exit 0 when
    something matched, 1 when nothing did, 2 when TEXT is empty."""
    if not text.strip():  # not a post that matched nothing: a mistake in the command (exit 2, as a missing TEXT)
        fail("TEXT is empty: give the text to test, e.g. rules test \"В Краснодаре задержали дезертиров\"")
    rules_path = resolve_rules(rules_path)  # named as used in the messages below
    ruleset = load_or_fail(rules_path)
    selected = ruleset.rules
    if names:
        wanted = {find_rule(ruleset, n, rules_path).name for n in names}
        selected = [r for r in ruleset.rules if r.name in wanted]
    matcher = Matcher([r if r.enabled else _enabled(r) for r in selected])
    matches = matcher.match(text)
    by_name = {r.name: r for r in selected}
    c = out()
    if not matches:
        c.print("no rule matched")
        for name, why in matcher.why_not(text):
            c.print(Text(f"  {name}{disabled_mark(by_name.get(name))}: ", style="bold").append(why))
        sys.exit(1)
    for m in matches:
        line = Text(f"{m.rule}", style="bold")
        line.append(f"  [{m.severity}] ", style=SEVERITY_STYLE[m.severity])
        line.append(m.title)
        line.append(disabled_mark(by_name.get(m.rule)), style="yellow")
        c.print(line)
        c.print(Text("  hits: ").append(describe_hits(m)))
    c.print(highlight(text, matches))


def _enabled(rule: Rule) -> Rule:
    from dataclasses import replace

    return replace(rule, enabled=True)


@rules.command()
@click.argument("name")
@click.option("--rules", "rules_path", default=DEFAULT_RULES, show_default=True, callback=given, help="Rule folder or file.")
def explain(name: str, rules_path: str) -> None:
    """Show rule NAME's parsed query as a tree, with the word forms each term matches."""
    rules_path = resolve_rules(rules_path)
    ruleset = load_or_fail(rules_path, show_errors=False)
    if ruleset.get(name) is None:  # perhaps a rule the errors below left out
        _warn(ruleset)
    else:  # the other rules' errors, as test, replay and backtest print them
        warn_errors(ruleset, name)
    rule = find_rule(ruleset, name, rules_path)
    warn_shadowed(ruleset, rule)
    matcher = Matcher([_enabled(rule)])
    head = Text(f"{rule.name}", style="bold").append(f"  [{rule.severity}] ", style=SEVERITY_STYLE[rule.severity])
    head.append(f"{rule.title}  ({rule.path}:{rule.line})", style="")
    if not rule.enabled:  # under the name, not at the tree's end (a line of its own: a narrow terminal wraps the head)
        head.append(f"\n{DISABLED}", style="yellow")
    tree = Tree(head)
    _branch(tree.add("MATCH"), rule.node, rule, matcher)
    if rule.exclude_nodes:
        ex = tree.add("UNLESS any of")
        for node in rule.exclude_nodes:
            _branch(ex, node, rule, matcher)
    scope = "all channels" if rule.channels is None else ", ".join(rule.channels)
    tree.add(f"channels: {scope}; enabled: {str(rule.enabled).lower()}")
    out().print(tree, soft_wrap=False)  # wrapped inside the tree's guides; a reader gone away is exit 141


def _branch(parent: Tree, node: Node, rule: Rule, matcher: Matcher, in_phrase: bool = False) -> None:
    if isinstance(node, (And, Or)):
        b = parent.add(Text("ALL of" if isinstance(node, And) else "ANY of", style="cyan"))
        for n in node.items:
            _branch(b, n, rule, matcher)
    elif isinstance(node, Not):
        _branch(parent.add(Text("NOT", style="red")), node.item, rule, matcher)
    elif isinstance(node, Near):
        b = parent.add(Text(f"NEAR, within {counted(node.distance, 'word')}", style="cyan"))
        _branch(b, node.left, rule, matcher)
        _branch(b, node.right, rule, matcher)
    elif isinstance(node, Phrase):
        b = parent.add(Text(f"phrase {to_text(node)}, words in this order", style="green"))
        for w in node.words:
            _branch(b, w, rule, matcher, in_phrase=True)
    elif isinstance(node, Url):
        parent.add(Text(f"link containing {node.text!r}", style="green"))
    elif isinstance(node, Word):
        forms, allowance = matcher.explain_forms(rule, node)
        what = {"forms": counted(len(forms), "form"), "exact": "this exact form", "prefix": "words starting with it"}[node.mode]
        if node.ordinal:
            what = f"{node.text} with any ordinal ending: {node.text}-й, {node.text}-го, {node.text}й…"
        elif ordinal_ending(node, in_phrase):  # as Matcher reads it
            what = f"a unit number's ending: 58-{node.text}, 58{node.text}; never «{node.text}» alone, nor a year's"
        what += ", in capitals only" if node.cased else ""
        typos = "by length" if allowance is None else str(allowance)
        sample = ", ".join(forms[:12]) + (", …" if len(forms) > 12 else "")
        t = Text(to_text(node), style="bold green").append(f"  {what}; typos: {typos}")
        if node.mode == "forms":
            t.append(f"\n{sample}", style="dim")
        parent.add(t)
