"""Why a post matched, in the post's own words: each word a rule hit, with the rule's term beside it.

Alerts (terminal, Telegram) and exports show the same line, from the hits a `Match` stored."""

from __future__ import annotations

__all__ = ["matched_words"]

_EDGE = "\"'«»„“”‘’()[]{}.,:;!?…"  # cut from a word's ends when it is shown
_URL_SHOWN = 60  # a matched link longer than this is cut (the alert links the post; the text has it whole)


def _whole_word(text: str, start: int, end: int) -> str:
    """The whitespace-delimited word around text[start:end], without its punctuation: «45-й» for
    a hit on «й», «Краснодаре» for one on its letters."""
    if not 0 <= start < end <= len(text):
        return text[start:end]
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end].strip(_EDGE) or text[start:end]


def _cut(url: str) -> str:
    return url if len(url) <= _URL_SHOWN else url[: _URL_SHOWN - 1] + "…"


def matched_words(text: str, hits: tuple[tuple[str, str, int, int, float, str], ...]) -> str:
    """«оцеплена ← оцепить, 45-й, полка, дезертирв ← дезертир (typo)»: each word of the post a rule
    hit, once, in order, with the rule's term when it is not the same word (an inflection, a
    prefix, a typo); the words of a phrase or an exact form stand alone."""
    out: dict[str, str] = {}
    for term, _form, start, end, _score, kind in sorted(hits, key=lambda h: h[2]):
        word = _whole_word(text, start, end) if kind != "url" else _cut(text[start:end])
        key = word.casefold()
        if not word or key in out:
            continue
        base = term.lstrip("=").rstrip("*").casefold()
        same = base == key or term.startswith(('"', "=")) or " " in term
        out[key] = word if same else f"{word} ← {term}" + (" (typo)" if kind == "typo" else "")
    return ", ".join(out.values())
