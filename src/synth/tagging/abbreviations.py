"""An abbreviation means what the record says it means.

A cue such as ``PPI`` (patient and public involvement), ``EBD`` (experience-based design)
or ``US`` (United States) is an abbreviation that other fields use for other things:
"proton pump inhibitors (PPIs)", "prepulse inhibition (PPI)", "emotional and behavioural
difficulties (EBD)", "transvaginal ultrasound (US)". An abstract that uses one usually
defines it, so the record itself says which it is.

A hit of an abbreviation cue (a cue written in capitals) is dropped when the record
defines the abbreviation, and every definition means something else. A definition is
read as Schwartz and Hearst (2003) read one: the words before ``(ABBR)`` (or
``(ABBRs)``), or inside ``ABBR (...)``, whose letters spell the abbreviation in order, the
first at the start of a word; a bracket that does not spell it ("the UK (n = 120)",
"the US (2019)") defines nothing. A definition means the label when it shares at least
half the words of one of the label's own spelled-out cues that write the abbreviation out,
among them the word its first letter stands for (``patient and public involvement`` for
PPI: "involvement of patients and the public (PPI)" is read as "patients and the public",
two of the three and the first; "structured decision making (SDM)" shares two words of
"shared decision making" but not its first, so it means something else), or holds a
spelled-out phrase the record matched for the label.
An abbreviation whose label has no such cue (its meaning is not in the data) is never
dropped, and neither is one the record never defines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from math import ceil

#: A cue written as an abbreviation: a capital, then 1-5 capitals, digits or "&".
_ABBREVIATION = re.compile(r"[A-Z][A-Z0-9&]{1,5}")
#: Characters before "(ABBR)" searched for its definition.
_WINDOW = 300
#: Words of a definition that say nothing of its meaning.
_STOP = frozenset({"a", "an", "and", "the", "of", "for", "in", "on", "to", "by", "with", "or"})
_WORD = re.compile(r"[a-z0-9]+")


def is_abbreviation(phrase: str) -> bool:
    """Whether a cue is written as an abbreviation ("PPI", "P&PI", "US")."""
    return phrase.isupper() and _ABBREVIATION.fullmatch(phrase) is not None


def content_words(text: str) -> frozenset[str]:
    """A phrase's words that carry meaning, lower-cased, a plural's "s" dropped (any
    hyphen or dash, ASCII or not, separates words)."""
    words = _WORD.findall(text.lower())
    return frozenset(w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words) - _STOP


def spells(abbr: str, phrase: str) -> str | None:
    """The shortest end of ``phrase`` whose letters spell ``abbr`` in order, its first
    letter at a word's start (Schwartz and Hearst's test of a long form), or None; a
    phrase that holds the abbreviation itself does not define it."""
    letters = [c.lower() for c in abbr if c.isalnum()]
    text = phrase.lower()
    at = len(text) - 1
    for k in range(len(letters) - 1, -1, -1):
        c = letters[k]
        while at >= 0 and (text[at] != c or (k == 0 and at > 0 and text[at - 1].isalnum())):
            at -= 1
        if at < 0:
            return None
        at -= 1
    long_form = phrase[phrase.rfind(" ", 0, at + 1) + 1 :]
    if abbr.lower() in _WORD.findall(long_form.lower()):  # "the UK (UK, Australia ...)"
        return None
    return long_form


@lru_cache(maxsize=256)
def _patterns(abbr: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(``... (ABBR)`` with the plural, ``ABBR (...)``) for one abbreviation."""
    escaped = re.escape(abbr)
    return (
        re.compile(rf"\(\s*{escaped}s?\s*\)"),
        re.compile(rf"(?<![\w&]){escaped}s?\s*\(([^()]{{3,120}})\)"),
    )


def definitions(text: str, abbr: str) -> list[str]:
    """What ``text`` defines ``abbr`` as: each ``... (ABBR)`` and ``ABBR (...)`` whose
    words spell it (:func:`spells`)."""
    after, before = _patterns(abbr)
    found = []
    for m in after.finditer(text):
        words = text[max(0, m.start() - _WINDOW) : m.start()].split()
        long_form = spells(abbr, " ".join(words[-(len(abbr) + 5) :]))
        if long_form:
            found.append(long_form)
    for m in before.finditer(text):
        long_form = spells(abbr, m.group(1))
        if long_form:
            found.append(long_form)
    return found


def expands(abbr: str, phrase: str) -> bool:
    """Whether ``phrase`` is written out letter for letter as ``abbr``: its words'
    initials, with or without the small words, are the abbreviation's letters
    ("patient and public involvement": PPI; "experience-based co-design": EBCD)."""
    letters = "".join(c for c in abbr.lower() if c.isalnum())
    words = _WORD.findall(phrase.lower())
    return letters in (
        "".join(w[0] for w in words),
        "".join(w[0] for w in words if w not in _STOP),
    )


def expansions(cues: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], list]:
    """(facet, label, abbreviation) -> the content words of each of the label's spelled-out
    cues that write the abbreviation out (:func:`expands`): what the data says it means.
    ``cues``: every (facet, label, phrase) of the codebook's positive cues. An
    abbreviation none of its label's cues writes out is not in the mapping."""
    by_label: dict[tuple[str, str], list[str]] = {}
    for facet, label, phrase in cues:
        by_label.setdefault((facet, label), []).append(phrase)
    out: dict[tuple[str, str, str], list] = {}
    for (facet, label), phrases in by_label.items():
        spelled = [p for p in phrases if not is_abbreviation(p) and len(p.split()) > 1]
        for abbr in (p for p in phrases if is_abbreviation(p)):
            meant = [_meaning(p) for p in spelled if expands(abbr, p)]
            if meant:
                out[(facet, label, abbr)] = meant
    return out


def _meaning(phrase: str) -> tuple[frozenset[str], str]:
    """A known expansion as (its content words, its first content word: the one the
    abbreviation's first letter stands for)."""
    first = next((w for w in _WORD.findall(phrase.lower()) if w not in _STOP), "")
    return content_words(phrase), next(iter(content_words(first)), "")


def means_label(
    definition: str, meant: Sequence[tuple[frozenset[str], str]], own: Iterable[str]
) -> bool:
    """Whether a definition names the label: it shares its first word and at least half
    the words of one of the known expansions ("structured decision making (SDM)" shares
    two of "shared decision making"'s words, not its first: another meaning), or holds a
    phrase the record matched for the label."""
    words = content_words(definition)
    if any(
        first in words and len(words & m) >= max(1, ceil(len(m) / 2)) for m, first in meant if m
    ):
        return True
    return any(content_words(p) and content_words(p) <= words for p in own)


def without_other_meanings(
    hits: list[tuple],
    texts: Callable[[], Sequence[str]],
    known: dict[tuple[str, str, str], list],
) -> list[tuple]:
    """``hits`` (the tagger's compact tuples: facet, label, field, weight, negated, cue,
    start, match, ...) without those of an abbreviation cue whose meaning the data knows
    (``known``, :func:`expansions`) and that ``texts()`` (the record's fields, read only
    then) define only as something else. Returns ``hits`` itself when nothing is dropped."""
    candidates = {(h[0], h[1], h[5]) for h in hits if (h[0], h[1], h[5]) in known}
    if not candidates:
        return hits
    fields = texts()
    other: set[tuple[str, str, str]] = set()
    for facet, label, abbr in candidates:
        found = [d for text in fields for d in definitions(text, abbr)]
        if not found:
            continue
        own = _spelled_out(hits, facet, label)
        if not any(means_label(d, known[(facet, label, abbr)], own) for d in found):
            other.add((facet, label, abbr))
    if not other:
        return hits
    return [h for h in hits if (h[0], h[1], h[5]) not in other]


def _spelled_out(hits: Iterable[tuple], facet: str, label: str) -> set[str]:
    """The record's matched phrases of one label whose cue is not an abbreviation."""
    return {h[7] for h in hits if h[0] == facet and h[1] == label and not is_abbreviation(h[5])}
