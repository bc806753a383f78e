"""Console output with no blank at a line's end. rich pads table cells and wrapped lines to their
width; pasted into a report the selection comes out ragged, and `> out.txt` diffs with noise."""

from __future__ import annotations

from typing import Iterable

from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderHook, RenderResult
from rich.segment import Segment

__all__ = ["TrimLineEnds", "trim_line_ends"]


def _blank(s: Segment) -> bool:
    """Shows nothing at a line's end: a control code, or only whitespace."""
    return s.control is not None or not s.text.strip()


def trim_line_ends(segments: Iterable[Segment]) -> list[Segment]:
    """`segments` without the whitespace before each line break; styles, control codes and the
    blanks inside a line are kept as rich drew them, and so is the end of output no break follows
    (a prompt's space). A pass over the line breaks, not every segment: a 16,000-story table."""
    segs = list(segments)
    breaks = [i for i, s in enumerate(segs) if "\n" in s.text and not s.control]
    if any(segs[i].text != "\n" for i in breaks):  # a break inside a text: each made a segment of its own
        segs = [p for s in segs for p in _split(s)]
        breaks = [i for i, s in enumerate(segs) if s.text == "\n" and not s.control]
    out: list[Segment] = []
    start = 0
    for k in breaks:
        end = k
        while end > start and _blank(segs[end - 1]):
            end -= 1
        last = segs[end - 1] if end > start else None
        if last is not None and last.text[-1:].isspace():
            out.extend(segs[start:end - 1])
            out.append(Segment(last.text.rstrip(), last.style))
        else:
            out.extend(segs[start:end])
        out.extend(s for s in segs[end:k] if s.control)
        out.append(segs[k])
        start = k + 1
    out.extend(segs[start:])
    return out


def _split(s: Segment) -> list[Segment]:
    """`s` with each line break a segment of its own."""
    if s.control or "\n" not in s.text or s.text == "\n":
        return [s]
    parts = s.text.split("\n")
    split = [Segment(parts[0], s.style)]
    for part in parts[1:]:
        split.append(Segment("\n", s.style))
        split.append(Segment(part, s.style))
    return [p for p in split if p.text]


class _Trimmed:
    """`inner` drawn as rich draws it, through `trim_line_ends`."""

    def __init__(self, inner: ConsoleRenderable) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from trim_line_ends(console.render(self.inner, options))


class TrimLineEnds(RenderHook):
    """A render hook (rich's `Console.push_render_hook`) that trims every line printed: once for
    every table, tree, wrapped text and alert a console prints, only the line ends changed."""

    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [_Trimmed(r) for r in renderables]
