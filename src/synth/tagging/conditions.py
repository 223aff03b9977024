"""Cross-facet conditions: what one facet's label asks of another facet's evidence.

A review, commentary or guideline is not a study done somewhere: it takes a setting only
when it is limited to one ("a review of trials in primary care"), which it says
prominently, not in passing. The codebook says so as data, on the facet it limits::

    setting:
      conditions:
        - when: {facet: design, labels: [review, position-paper, guideline-toolkit]}
          require: {min_score: 0.75, or_fields: [title]}

``when`` holds when the record has one of ``labels`` of ``facet`` scoring at least
``min_score`` (default: the counted score, 0.5), or with ``absent: true`` when it has none
of them; when ``facet`` keeps one label per record (``multi: false``), only its best label
is read: a trial that also mentions a toolkit is a trial, and its setting stands. Then
each label of the limited facet (or only those the condition's own ``labels`` lists) is
kept only if it meets ``require``: a score of at least ``min_score``, or evidence (a hit
counting for it) in one of ``or_fields`` (with ``or_roles``, in a sentence of one of
those roles: a review's abstract names its country in a sentence about the review itself,
"this review of trials in Ontario", not in its background). An evaluation report is grey
literature::

    design:
      conditions:
        - when: {facet: publication, labels: [grey], absent: true}
          labels: [evaluation-report]
          require: never

The codebook validates the key on load
(:meth:`synth.tagging.codebook._Builder.conditions`); :func:`apply_conditions` runs on a
record's scored labels after scoring, before single-label facets keep their best label.
``require: never`` drops the labels whenever ``when`` holds (a score may round to 1.0, so
no ``min_score`` says "never"). A condition reads the label a facet ends with: when one
condition drops a label of a facet another condition reads (a journal paper's "evaluation
report"), the conditions are read again on the labels left, outranked again, until no
reading drops more (:func:`apply_conditions`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Keys of a condition, of its ``when`` and of its ``require``.
CONDITION_KEYS = frozenset({"when", "require", "labels"})
#: ``require: never``: the limited labels are dropped whenever ``when`` holds.
NEVER = "never"
WHEN_KEYS = frozenset({"facet", "labels", "min_score", "absent"})
REQUIRE_KEYS = frozenset({"min_score", "or_fields", "or_roles"})
#: ``when.min_score`` when not given: the score from which a tag counts as a label
#: (:data:`synth.tagging.describe.COUNTED_SCORE`).
DEFAULT_WHEN_SCORE = 0.5


@dataclass(frozen=True, slots=True)
class Condition:
    """On ``facet``: when the record has a label of ``when_facet`` in ``when_labels``
    scoring at least ``when_score``, a label of ``facet`` needs a score of at least
    ``min_score`` or a hit in one of ``or_fields``."""

    facet: str
    when_facet: str
    when_labels: frozenset[str]
    when_score: float = DEFAULT_WHEN_SCORE
    min_score: float = 1.0
    or_fields: frozenset[str] = frozenset()
    #: read only the best label of ``when_facet`` (a single-label facet; set on load)
    when_best: bool = False
    #: ``when`` holds when the record has NONE of ``when_labels`` (``when.absent``)
    when_absent: bool = False
    #: the labels of ``facet`` the condition limits (None: every label)
    labels: frozenset[str] | None = None
    #: a hit in ``or_fields`` counts only in a sentence of one of these roles
    #: (:mod:`synth.tagging.sentence_roles`; None: any)
    or_roles: frozenset[str] | None = None

    def holds(self, scores: dict[tuple[str, str], float], best: dict[str, tuple[str, str]]) -> bool:
        """Whether the record's scored labels meet ``when`` (``best``: each facet's best
        label, for a single-label ``when_facet``)."""
        if self.when_best:
            key = best.get(self.when_facet)
            found = (
                key is not None and key[1] in self.when_labels and scores[key] >= self.when_score
            )
        else:
            found = any(
                scores.get((self.when_facet, label), 0.0) >= self.when_score
                for label in self.when_labels
            )
        return found != self.when_absent

    def limits(self, key: tuple[str, str]) -> bool:
        """Whether this condition limits the label ``key`` (facet, label)."""
        return key[0] == self.facet and (self.labels is None or key[1] in self.labels)

    def keeps(self, score: float, group: Sequence[tuple]) -> bool:
        """Whether a label of the limited facet with this score and these hits stays."""
        if score >= self.min_score:
            return True
        fields, roles = self.or_fields, self.or_roles
        if not fields:
            return False
        if roles is None:
            return any(h[2] in fields and h[3] > 0 for h in group)
        # as a facet's `counts_in` reads roles: a hit outside any sentence (a web address)
        # or in a field that is the paper's throughout (a title) has no role to fail
        from synth.tagging.sentence_roles import ALWAYS_COUNT_FIELDS

        return any(
            h[2] in fields
            and h[3] > 0
            and (h[9] is None or h[9] in roles or h[2] in ALWAYS_COUNT_FIELDS)
            for h in group
        )


def apply_conditions(
    conds: Sequence[Condition],
    scored: list[tuple],
    outrank: Callable[[list[tuple]], list[tuple]] | None = None,
) -> list[tuple]:
    """A record's scored labels without those a condition drops.

    ``scored`` holds the tagger's rows in the making: ``(facet rank, -score, label rank,
    (facet, label), hits, score)``; ``conds`` are the codebook's conditions (the tagger
    gathers them once); ``outrank`` is the tagger's outranking, after which a single-label
    facet's best label is read (a review that names trials more often than itself is a
    review: the label it ends with decides). A condition reads the label a facet ends with:
    while a reading drops a label of a facet some condition reads (a journal paper's
    "evaluation report", which only grey literature may be), the conditions are read again
    on what is left, outranked again (the quantitative study the report had outranked is
    back). Drops only add, so this ends. Returns ``scored`` itself when nothing is
    dropped."""
    if not conds:
        return scored
    watched = {c.when_facet for c in conds}
    dropped: set[tuple[str, str]] = set()
    present = scored
    while True:
        decided = outrank(present) if outrank is not None and len(present) > 1 else present
        scores = {s[3]: s[5] for s in present}
        new = _dropped(conds, present, scores, _best_labels(decided))
        if not new:
            break
        dropped |= new
        present = [s for s in scored if s[3] not in dropped]
        if not any(key[0] in watched for key in new):
            break  # no condition reads the facets that lost labels: nothing else changes
    return present


def _best_labels(entries: Sequence[tuple]) -> dict[str, tuple[str, str]]:
    """Each facet's best (facet, label) among ``entries``: score, then codebook order."""
    best: dict[str, tuple] = {}
    for s in entries:
        b = best.get(s[3][0])
        if b is None or (s[1], s[2]) < (b[1], b[2]):
            best[s[3][0]] = s
    return {f: s[3] for f, s in best.items()}


def _dropped(
    conds: Sequence[Condition],
    scored: list[tuple],
    scores: dict[tuple[str, str], float],
    best: dict[str, tuple[str, str]],
) -> set[tuple[str, str]]:
    """The (facet, label) keys of ``scored`` that a condition holding on ``scores`` and
    ``best`` does not keep."""
    dropped: set[tuple[str, str]] = set()
    for cond in conds:
        if not cond.holds(scores, best):
            continue
        for s in scored:
            if cond.limits(s[3]) and not cond.keeps(s[5], s[4]):
                dropped.add(s[3])
    return dropped
