"""A published review's own decisions, taken into the store as one reviewer's events.

When a corpus *is* a review's included set (the KEI corpus: its reference list), the
review definition says so under ``published_decisions``::

    published_decisions:
      reviewer: Mukoro, Felix (2020, published review)
      include_file: references.bib
      stages: [title_abstract, full_text]

Every record read from ``include_file`` is then recorded as included by that reviewer
at those stages, so PRISMA counts and "included only" filters describe the published
review rather than an unscreened corpus. Records from other files (extracts, full
texts) are left for a human to screen. The file is matched by its content hash, not
its name, so a changed reference list is a new source and its records are taken again.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from synth.screening.decisions import STAGES, import_decisions

NOTE = "included in the published review (its reference list)"


@dataclass(frozen=True)
class PublishedDecisions:
    """What a review definition says about the published review's own decisions."""

    reviewer: str
    include_file: Path
    stages: tuple[str, ...]


def published_decisions_spec(
    review: dict[str, Any], review_path: Path
) -> PublishedDecisions | None:
    """The ``published_decisions`` section, checked; None when the review has none."""
    section = review.get("published_decisions")
    if section is None:
        return None
    where = f"{review_path}: published_decisions"
    if not isinstance(section, dict):
        raise ValueError(f"{where}: expected a mapping with reviewer, include_file, stages")
    reviewer = str(section.get("reviewer") or "").strip()
    include = str(section.get("include_file") or "").strip()
    stages = section.get("stages") or ["title_abstract"]
    if not reviewer:
        raise ValueError(f"{where}: 'reviewer' is missing")
    if not include:
        raise ValueError(f"{where}: 'include_file' is missing")
    if not isinstance(stages, list) or any(s not in STAGES for s in stages):
        raise ValueError(f"{where}: 'stages' must be a list drawn from {list(STAGES)}")
    path = Path(review_path).parent / include
    if not path.is_file():
        raise ValueError(f"{where}: include_file {include!r} not found beside the review")
    return PublishedDecisions(reviewer, path, tuple(stages))


def record_published_decisions(
    con: sqlite3.Connection, review: dict[str, Any], review_path: Path
) -> int:
    """Record the published review's includes; returns how many decisions were added.

    Idempotent: a record that already has this reviewer's decision at a stage is skipped,
    so running the review again adds nothing and a later change of mind recorded by that
    reviewer in the store is never overwritten.
    """
    spec = published_decisions_spec(review, review_path)
    if spec is None:
        return 0
    sha = hashlib.sha256(spec.include_file.read_bytes()).hexdigest()
    row = con.execute("SELECT source_id FROM sources WHERE sha256 = ?", (sha,)).fetchone()
    if row is None:
        raise ValueError(
            f"{review_path}: published_decisions include_file {spec.include_file.name!r} "
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
