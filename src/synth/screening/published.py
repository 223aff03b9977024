"""A published review's own decisions, taken into the store as one reviewer's events.

When a corpus *is* a review's included set (the KEI corpus: its reference list), the
review definition says so under ``published_decisions``::

    reported_stages: [full_text]
    published_decisions:
      reviewer: Mukoro, Felix (2020, published review)
      include_file: references.bib
      stages: [full_text]

Every record read from ``include_file`` is then recorded as included by that reviewer
at those stages, so PRISMA counts and "included only" filters describe the published
review rather than an unscreened corpus. Decisions are recorded only at stages the review
reports (``reported_stages``; ``stages`` defaults to them, and a stage outside them is an
error of the definition): a review that reports only its full-text includes gets no
invented title/abstract decisions. Records from other files (extracts, full
texts) are left for a human to screen. The file is matched by its content hash, not
its name, so a changed reference list is a new source and its records are taken again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from synth.review import Review
from synth.screening.decisions import import_decisions

NOTE = "included in the published review (its reference list)"


@dataclass(frozen=True)
class PublishedDecisions:
    """What a review definition says about the published review's own decisions."""

    reviewer: str
    include_file: Path
    stages: tuple[str, ...]


def published_decisions_spec(review: Review) -> PublishedDecisions | None:
    """The ``published_decisions`` section with its file found; None when there is none.

    The section itself is checked on load (:func:`synth.review.load_review`); here the
    include file must exist beside the review.
    """
    section = review.published_decisions
    if section is None or review.path is None:
        return None
    include = section["include_file"]
    path = review.path.parent / include
    if not path.is_file():
        raise ValueError(
            f"{review.path}: published_decisions.include_file: {include!r} not found beside "
            "the review"
        )
    return PublishedDecisions(section["reviewer"], path, tuple(section["stages"]))


def record_published_decisions(con: sqlite3.Connection, review: Review) -> int:
    """Record the published review's includes; returns how many decisions were added.

    Idempotent: a record that already has this reviewer's decision at a stage is skipped,
    so running the review again adds nothing and a later change of mind recorded by that
    reviewer in the store is never overwritten.
    """
    spec = published_decisions_spec(review)
    if spec is None:
        return 0
    sha = hashlib.sha256(spec.include_file.read_bytes()).hexdigest()
    row = con.execute("SELECT source_id FROM sources WHERE sha256 = ?", (sha,)).fetchone()
    if row is None:
        raise ValueError(
            f"{review.path}: published_decisions.include_file {spec.include_file.name!r} "
            "has not been imported into this store (import the corpus first)"
        )
    record_ids = [
        r[0]
        for r in con.execute(
            "SELECT record_id FROM records WHERE source_id = ? UNION"
            " SELECT record_id FROM record_sightings WHERE source_id = ? ORDER BY record_id",
            (row[0], row[0]),
        )
    ]
    done = {
        (r[0], r[1])
        for r in con.execute(
            "SELECT record_id, stage FROM decisions WHERE reviewer = ? AND kind = 'decision'",
            (spec.reviewer,),
        )
    }
    rows = [
        {"record_id": rid, "stage": stage, "decision": "include", "note": NOTE}
        for stage in spec.stages
        for rid in record_ids
        if (rid, stage) not in done
    ]
    if not rows:
        return 0
    return import_decisions(con, pd.DataFrame(rows), reviewer=spec.reviewer)
