"""An abbreviation means what the record says it means.

A cue such as ``PPI`` (patient and public involvement), ``EBD`` (experience-based design)
or ``US`` (United States) is an abbreviation that other fields use for other things:
"proton pump inhibitors (PPIs)", "prepulse inhibition (PPI)", "emotional and behavioural
difficulties (EBD)", "transvaginal ultrasound (US)". An abstract that uses one of these
usually defines it, so the record itself says which it is. A hit of an abbreviation cue is
dropped when the record defines the abbreviation and no definition holds a phrase that
names the same label in this record (its other, spelled-out hits): "patient and public
involvement (PPI)" keeps PPI as involvement, "proton pump inhibitors (PPIs)" does not. A
record that never defines the abbreviation keeps its hits, as before.

Definitions are read both ways round: the words before ``(PPI)`` (or ``(PPIs)``), and the
words inside the parentheses after ``PPI (...)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

#: An abbreviation as matched in the text: a capital, then 1-5 capitals, digits or "&".
_ABBREVIATION = re.compile(r"[A-Z][A-Z0-9&]{1,5}")
#: Words before "(ABBR)" read as its definition: the abbreviation's letters, and this many
#: more (articles, "and", "of", a hyphenated word split by spaces).
_SLACK_WORDS = 4


def is_abbreviation(match: str) -> bool:
    """Whether a cue's matched text is written as an abbreviation ("PPI", "P&PI", "US")."""
    return match.isupper() and _ABBREVIATION.fullmatch(match) is not None


@lru_cache(maxsize=256)
def _patterns(abbr: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(``... (ABBR)`` with the plural, ``ABBR (...)``) for one abbreviation."""
    escaped = re.escape(abbr)
    return (
        re.compile(rf"\(\s*{escaped}s?\s*[);,]"),
        re.compile(rf"(?<![\w&]){escaped}s?\s*\(([^()]{{3,120}})\)"),
    )


def definitions(text: str, abbr: str) -> list[str]:
    """What ``text`` gives as the meaning of ``abbr``, lower-cased: the words before each
    ``(ABBR)`` and the words inside each ``ABBR (...)``."""
    after, before = _patterns(abbr)
    found = []
    for m in after.finditer(text):
        words = text[: m.start()].split()[-(len(abbr) + _SLACK_WORDS) :]
        if words:
            found.append(" ".join(words).lower())
    found += [m.group(1).lower() for m in before.finditer(text)]
    return found


def without_other_meanings(hits: list[tuple], texts: Callable[[], Sequence[str]]) -> list[tuple]:
    """``hits`` (the tagger's compact tuples: facet, label, field, weight, negated, cue,
    start, match, ...) without those of an abbreviation that ``texts()`` (the record's
    fields, read only when an abbreviation was matched) define only as something else: no
    definition holds another matched phrase of the same label. Returns ``hits`` itself
    when nothing is dropped."""
    abbreviated = {(h[0], h[1], h[7]) for h in hits if is_abbreviation(h[7])}
    if not abbreviated:
        return hits
    fields = texts()
    other: set[tuple[str, str, str]] = set()
    for facet, label, abbr in abbreviated:
        meanings = [d for text in fields for d in definitions(text, abbr)]
        if not meanings:
            continue
        own = _spelled_out(hits, facet, label)
        if not any(phrase in meaning for meaning in meanings for phrase in own):
            other.add((facet, label, abbr))
    if not other:
        return hits
    return [h for h in hits if (h[0], h[1], h[7]) not in other]


def _spelled_out(hits: Iterable[tuple], facet: str, label: str) -> set[str]:
    """The record's matched phrases of one label that are not abbreviations, lower-cased."""
    return {
        h[7].lower() for h in hits if h[0] == facet and h[1] == label and not is_abbreviation(h[7])
    }
