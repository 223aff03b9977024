"""A facet's fallback: the label a record gets when no cue of the facet speaks for it.

Most abstracts say what they did ("a randomised trial", "we interviewed", "a systematic
review"), and the design cues read that. An abstract that names no method and reports
no figure at all (no sample size, no percentage, no result) did not collect data: it
argues, comments or proposes, which is what a position paper is; one that names no
method but reports figures throughout (rates, sizes, percentages) measured something. The
codebook says so as data, on the facet, a fallback or a list of them (the first that
holds is taken)::

    design:
      fallback:
        - label: position-paper
          score: 0.5
          min_words: 60      # an abstract of its own, not a title or a line
          max_numbers: 0     # figures in the abstract (years and reference marks aside)
        - {label: quantitative, score: 0.5, min_words: 60, min_numbers: 5}

A fallback is read when the facet has no label at all for the record, and only from the
abstract: a record known by its title alone gets nothing. It is also read over a weak row
of its own label alone (below its score), which agrees with it: "This paper proposes an
architecture ..." in an abstract that names no method and reports no figure is a
conceptual paper, and the weak cue stays in the evidence after the reason. A fallback
with ``over_weaker_than: S`` is also read when the facet's labels all score below S (the
codebook's design facet: figures throughout show what was done better than one weak
"associated with" or "n =" does, so its quantitative fallback says
``over_weaker_than: 0.5``, the counted score). Those weak labels stay in a multi-label
facet and give way to the fallback in a single-label one. A fallback without the key is
not read over a weak row of another label (the position-paper fallback: a weak hint of a
method is still a hint that the paper did something).
Its evidence says why, so a reviewer sees a reasoned default, not a cue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Keys of a facet's ``fallback``.
FALLBACK_KEYS = frozenset(
    {"label", "score", "min_words", "min_numbers", "max_numbers", "over_weaker_than"}
)
#: The cue name fallback evidence carries (exports and the evidence view show it).
FALLBACK_CUE = "fallback"
#: What a facet found when a fallback is read over weak rows (:meth:`Fallback.applies`):
#: labels all below its ``over_weaker_than``, or only its own label below its score.
WEAKER, OWN_WEAKLY = "weaker", "own weakly"

_YEAR = re.compile(r"\b(?:1[89]|20)\d\d(?:s|'s)?\b")
# a reference mark glued to a word or a full stop ("recognised.1", "trials2,3"): no figure
_REFERENCE_MARK = re.compile(r"(?<=[a-z.)])\d{1,3}(?:[,\u2013-]\d{1,3})*(?=\s|$)")
# a number on its own; digits in a name ("H1", "COVID-19", "IL-6") are no figure
# a bracketed citation ("[1,2]", "[3-5]"): references, not figures
_CITATION = re.compile(r"\[\d{1,3}(?:\s*[,\u2013-]\s*\d{1,3})*\]")
_NUMBER = re.compile(r"(?<![A-Za-z0-9])(?<![A-Za-z]-)\d+(?:[.,]\d+)?")


def count_figures(text: str) -> int:
    """How many numbers ``text`` reports, leaving out years ("in 2004", "the 1990s"),
    reference marks ("widely recognised.1", "[3-5]") and names with digits ("COVID-19"):
    those are not data."""
    if not text or not any(c.isdigit() for c in text):
        return 0
    text = _REFERENCE_MARK.sub(" ", _CITATION.sub(" ", _YEAR.sub(" ", text)))
    return len(_NUMBER.findall(text))


@dataclass(frozen=True, slots=True)
class Fallback:
    """On ``facet``: ``label`` at ``score`` when no label of the facet was found (or only
    its own, below ``score``) and the abstract has at least ``min_words`` words and
    between ``min_numbers`` and ``max_numbers`` figures (None: no upper bound); with
    ``over_weaker_than``, "no label" is also every label found scoring below it."""

    facet: str
    label: str
    score: float = 0.5
    min_words: int = 60
    min_numbers: int = 0
    max_numbers: int | None = None
    #: labels of the facet scoring below this do not stop the fallback (None: any does)
    over_weaker_than: float | None = None

    def applies(self, abstract: Any, weak: str | None = None) -> str | None:
        """The reason the fallback holds for this abstract, or None when it does not.
        ``weak`` says what the facet found: None nothing, :data:`WEAKER` labels all
        below ``over_weaker_than``, :data:`OWN_WEAKLY` only its own label, weakly."""
        if not isinstance(abstract, str):
            return None
        words = len(abstract.split())
        if words < self.min_words:
            return None
        figures = count_figures(abstract)
        if figures < self.min_numbers or (
            self.max_numbers is not None and figures > self.max_numbers
        ):
            return None
        named = {
            None: "named",
            WEAKER: f"found at {self.over_weaker_than} or more",
            OWN_WEAKLY: f"named but {self.label}, weakly",
        }[weak]
        return f"no {self.facet} {named}, and the abstract ({words} words) reports " + (
            "no figures" if figures == 0 else f"{figures} figure(s)"
        )

    def evidence(self, reason: str) -> list[dict[str, Any]]:
        """The evidence of a fallback row: the reason, in the shape of a cue's evidence."""
        return [
            {
                "field": "abstract",
                "sentence": reason,
                "match": "",
                "cue": FALLBACK_CUE,
                "negated": False,
                "weight": 0.0,
            }
        ]
