"""Word forms: expand a query word into every inflected form once, when rules load.

Russian and Ukrainian go through pymorphy3's OpenCorpora / VESUM dictionaries (all parses,
so «полки» reaches both полк and полка); English through lemminflect. Matching is then a
hash lookup per post word, and `is_known` tells typo tolerance which words are real words.
"""

from __future__ import annotations

import logging
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from ..text import WORD_RE, normalize

if TYPE_CHECKING:  # pymorphy3 is imported when first needed (0.2 s); it ships no types, so these are Any to mypy
    from pymorphy3 import MorphAnalyzer
    from pymorphy3.analyzer import Parse
    from pymorphy3.tagset import OpencorporaTag

__all__ = ["Morphology", "default_morphology"]

log = logging.getLogger(__name__)

_UK_ONLY = set("іїєґ")
# A surname's (Лапина, Лапину, Лапиным, Лапине) and a possessive place name's (Часова, Часовом) endings.
_PROPER_ENDINGS = ("а", "у", "ым", "е", "ом", "ой", "ою", "ы", "ых", "ыми")


class Morphology:
    """Lazy pymorphy3 analysers (about 0.2 s and 48 MiB for both) plus lemminflect."""

    @cached_property
    def ru(self) -> MorphAnalyzer:
        import pymorphy3

        return pymorphy3.MorphAnalyzer(lang="ru")

    @cached_property
    def uk(self) -> MorphAnalyzer:
        import pymorphy3

        return pymorphy3.MorphAnalyzer(lang="uk")

    def _analysers(self, word: str) -> list[MorphAnalyzer]:
        """The analysers that know `word`; if none does, the likeliest one to predict it."""
        known = [a for a in (self.ru, self.uk) if a.word_is_known(word)]
        if known:
            return known
        return [self.uk] if _UK_ONLY & set(word) else [self.ru]

    @lru_cache(maxsize=4096)
    def forms(self, word: str, short: bool = False) -> frozenset[str]:
        """Every inflected form of a normalised word (the word itself included); a word of 1-2
        letters only when `short` (a name, Яр: the rest are prepositions and particles)."""
        if not word or word.isdigit():
            return frozenset({word})
        if len(word) <= (0 if short else 2):
            return self._short_noun_forms(word)
        if word.isascii():
            return self._english_forms(word)
        if not any("а" <= c <= "я" or c in _UK_ONLY for c in word):
            return frozenset({word})
        out = {word}
        try:
            analysers = self._analysers(word)
            for analyser in analysers:
                parses = analyser.parse(word)
                own = [p for p in parses if normalize(p.normal_form) == word]
                if not own and analyser is self.ru and not self.ru.word_is_known(word):
                    own = self._predicted_ru(word)  # a word no dictionary knows (самоволочка)
                for p in own or parses:
                    out.update(normalize(f.word) for f in p.lexeme)
            if self.ru not in analysers and not _UK_ONLY & set(word):
                # Known to the Ukrainian dictionary alone, yet spelt as Russian (Пригожин, an
                # indeclinable surname there; тероборона, самоволка): the Russian forms predicted for
                # it as a dictionary form, or a Russian post's «Пригожиным», «самоволке» would be
                # nobody's form.
                own = [p for p in self.ru.parse(word) if normalize(p.normal_form) == word]
                for p in own or self._predicted_ru(word):
                    out.update(normalize(f.word) for f in p.lexeme)
        except ValueError:  # pymorphy3 fails on characters Unicode names nothing for (𗀀дезертир)
            return frozenset({word})
        if "'" in word:
            # Ukrainian typed without its apostrophe (обєкт, зявився): the dictionary holds such
            # spellings as distorted words of their own, so they are neither forms nor typos
            out.update([w.replace("'", "") for w in out])
        return frozenset(w for w in out if WORD_RE.fullmatch(w))

    def _short_noun_forms(self, word: str) -> frozenset[str]:
        """A word of 1-2 letters: its forms when its likeliest Russian reading is a noun of its own
        (юг: «на юге», ёж, яд), else the word alone (в, из, не, он: a preposition's or pronoun's forms
        would be other function words; як, Ukrainian «how», is no noun there)."""
        try:
            parses = self.ru.parse(word) if self.ru.word_is_known(word) else []
            if (not parses or parses[0].tag.POS != "NOUN" or normalize(parses[0].normal_form) != word
                    or any(_function_kind(p.tag) for p in self.uk.parse(word) if self.uk.word_is_known(word))):
                return frozenset({word})
        except ValueError:  # pymorphy3 fails on characters Unicode names nothing for
            return frozenset({word})
        out = {normalize(f.word) for p in parses if p.tag.POS == "NOUN" and normalize(p.normal_form) == word
               for f in p.lexeme}
        return frozenset(w for w in out | {word} if WORD_RE.fullmatch(w))

    def _predicted_ru(self, word: str) -> list[Parse]:
        """The Russian parses pymorphy3 predicts from the word's ending (as for any word it does not
        know) that take `word` as their dictionary form; [] when it predicts none.

        pymorphy3 stops at the first analyser that finds anything, and for a word the dictionary
        lacks that is often a known prefix with a dictionary word after it: «само|волка», the
        genitive of a made-up «самоволк», «самоволочка» of «самоволочёк». Neither is the word the
        rule wrote, so its own paradigm (самоволке, самоволкой, самоволок) was never generated and
        a post's forms hit only as typos. The ending tells the paradigm (-ка: a feminine noun)."""
        from pymorphy3.units import KnownSuffixAnalyzer

        for unit in getattr(self.ru, "_units", ()):  # (pymorphy3 exposes the analyser chain no other way)
            if isinstance(unit.analyzer, KnownSuffixAnalyzer):
                parses = unit.analyzer.parse(word, word, set())
                return [p for p in (self.ru._result_type(*t) for t in parses) if normalize(p.normal_form) == word]
        return []

    @staticmethod
    def _english_forms(word: str) -> frozenset[str]:
        import lemminflect

        out = {word}
        lemmas = {lem for group in lemminflect.getAllLemmas(word).values() for lem in group} or {word}
        for lemma in lemmas:
            out.add(lemma)
            infl = lemminflect.getAllInflections(lemma) or lemminflect.getAllInflectionsOOV(lemma, "NOUN")
            for group in infl.values():
                out.update(w.lower() for w in group)
        return frozenset(out)

    def proper_forms(self, word: str) -> tuple[frozenset[str], frozenset[str]]:
        """The forms of a Russian surname or place name in -ов/-ев/-ин/-ын the dictionary does not
        decline as one («Лапиным» of Лапин, «Часовом» of Часов Яр): (those no other word has, those
        that are another dictionary word's forms: «часовом», «чистовой»). Empty for other words."""
        if len(word) < 4 or word[-2:] not in ("ов", "ев", "ин", "ын"):
            return frozenset(), frozenset()
        free: set[str] = set()
        common: set[str] = set()
        for f in (word + end for end in _PROPER_ENDINGS):
            try:
                other = self.ru.word_is_known(f) and all(normalize(p.normal_form) != word for p in self.ru.parse(f))
            except ValueError:
                continue
            (common if other else free).add(f)
        return frozenset(free), frozenset(common)

    def is_known(self, word: str) -> bool:
        """Is this normalised word a real dictionary word (and so not anybody's typo)?"""
        if word.isascii():
            import lemminflect

            return bool(lemminflect.getAllLemmas(word))
        try:
            return bool(self.ru.word_is_known(word) or self.uk.word_is_known(word))
        except ValueError:  # pymorphy3 fails on characters Unicode names nothing for
            return False

    def common_word(self, word: str) -> bool:
        """Is this normalised word an ordinary dictionary word with no abbreviation among its readings
        («кто», not «омон» or «кпп»)? A rule that writes it in capitals (КТО) most likely means an
        abbreviation spelt with the same letters."""
        if word.isascii() or len(word) < 2:
            return False
        try:
            parses = [p for a in (self.ru, self.uk) if a.word_is_known(word) for p in a.parse(word) if p.is_known]
        except ValueError:  # pymorphy3 fails on characters Unicode names nothing for
            return False
        return bool(parses) and not any("Abbr" in p.tag for p in parses)

    def function_word(self, word: str) -> str | None:
        """What part of speech a normalised word is when it is a function word, one nearly every post
        has («в» "a preposition", «и», «что» "a conjunction", «не» "a particle", «он», «этот» "a
        pronoun"), else None. Read by its likeliest Russian reading (pymorphy3's frequency order) when
        the Russian dictionary knows it; else by any Ukrainian one (that dictionary has no frequencies).
        An English one from a short list (`_ENGLISH_FUNCTION`: pymorphy3 reads no English); None for a
        word no dictionary knows."""
        if word.isascii():
            return _ENGLISH_FUNCTION.get(word)
        if not word.isalpha():
            return None
        try:
            if self.ru.word_is_known(word) and not _UK_ONLY & set(word):
                return _function_kind(self.ru.parse(word)[0].tag)
            if self.uk.word_is_known(word):
                return next((k for p in self.uk.parse(word) if (k := _function_kind(p.tag))), None)
        except ValueError:  # pymorphy3 fails on characters Unicode names nothing for
            pass
        return None

    def predicate_like(self, word: str) -> bool:
        """Is a normalised word's likeliest Russian reading a singular verb, short adjective or a
        predicative («ввел», «виноват»): what a pronoun «кто» stands before? Not a word that can be a
        short passive participle («введен», «отменен», «объявлен»: what the regime КТО is, the
        headline «КТО ВВЕДЁН В …»), nor a plural verb («КТО ВВЕЛИ»: «кто» takes the singular)."""
        try:
            parses = self.ru.parse(word)
        except ValueError:
            return False
        if not parses or any(p.tag.POS == "PRTS" for p in parses):
            return False
        tag = parses[0].tag
        return tag.POS in ("VERB", "INFN", "ADJS", "PRED") and tag.number != "plur"

    def lemma(self, word: str) -> str:
        """The likeliest Russian dictionary form (ё folded); the word itself when unknown."""
        try:
            return normalize(self.ru.parse(word)[0].normal_form)
        except (ValueError, IndexError):
            return word


_FUNCTION_POS = {"PREP": "a preposition", "CONJ": "a conjunction", "PRCL": "a particle", "NPRO": "a pronoun"}
# English function words an English post can hardly do without (the English posts of the corpus, 1 % of
# it, nearly all have one: `the OR of` matched 282 posts). Not «and», «or», «not»: in lower case they
# are warned about as operators written as words, the likelier mistake. Nor the one-letter «a» and «I»:
# a rule word `A` or `I` is more likely a grade or a class («Plan A», «Type I»).
_ENGLISH_FUNCTION = {
    **dict.fromkeys("the an".split(), "an article"),
    **dict.fromkeys("of in on at to for with by from about as into onto over under after before between through during "
                    "without within against among upon via per".split(), "a preposition"),
    **dict.fromkeys("but if than that because while though although whether nor".split(), "a conjunction"),
    **dict.fromkeys("me my mine you your yours he him his she her hers it its we us our ours they them their theirs "
                    "this these those who whom whose which what".split(), "a pronoun"),
}


def _function_kind(tag: OpencorporaTag) -> str | None:
    """The function word a pymorphy3 tag reads a word as (a pronoun adjective, «этот», «свой», is a
    pronoun), or None."""
    if tag.POS == "ADJF" and "Apro" in tag:
        return "a pronoun"
    return _FUNCTION_POS.get(str(tag.POS))


@lru_cache(maxsize=1)
def default_morphology() -> Morphology:
    """One shared instance: the dictionaries are loaded once per process."""
    return Morphology()
