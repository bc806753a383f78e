"""Console output with no blank at a line's end. rich pads table cells and wrapped lines to their
width; pasted into a report the selection comes out ragged, and `> out.txt` diffs with noise."""

from __future__ import annotations

from typing import Iterable, Iterator

from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderHook, RenderResult
from rich.segment import Segment

__all__ = ["TrimLineEnds", "trim_line_ends"]


def _pieces(segments: Iterable[Segment]) -> Iterator[Segment]:
    """`segments` with each line break a segment of its own (and no empty text)."""
    for s in segments:
        if s.control or "\n" not in s.text:
            if s.text or s.control:
                yield s
            continue
        for i, part in enumerate(s.text.split("\n")):
            if i:
                yield Segment("\n", s.style)
            if part:
                yield Segment(part, s.style)


def _trimmed(held: list[Segment]) -> Iterator[Segment]:
    """The end of a line, `held`, without its trailing blanks (control codes kept)."""
    for s in held:
        if s.control:
            yield s
        elif kept := s.text.rstrip():
            yield Segment(kept, s.style)


def trim_line_ends(segments: Iterable[Segment]) -> Iterator[Segment]:
    """`segments` without the whitespace before each line break; styles, control codes and the
    blanks inside a line are kept as rich drew them, and so is the end of output no break follows
    (a prompt's space)."""
    held: list[Segment] = []  # the line's end from its last segment ending in a blank: it may be trimmed
    for segment in _pieces(segments):
        text = segment.text
        if segment.control:
            held.append(segment)
        elif text == "\n":
            if held:
                yield from _trimmed(held)
                held.clear()
            yield segment
        elif not text[-1].isspace():  # a word, a border: the line goes on, what was held stays
            if held:
                yield from held
                held.clear()
            yield segment
        else:  # a cell's padding, or a word then blanks (what was held before it is inside the line)
            if held and not text.isspace():
                yield from held
                held.clear()
            held.append(segment)
    yield from held


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
