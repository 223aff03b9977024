"""Theme assignments measured against the review's own per-theme citations.

A review that reports its themes cites papers under each (``themes`` in ``review.yml``:
groups of themes, each with ``cited_refs``, the bibliography keys of the papers it cites).
Each (theme, paper) pair the review cites is a reference pair; each (theme, paper) pair the
assignments hold is a prediction. Precision is the share of predicted pairs the review
cites, recall the share of cited pairs predicted; every included paper counts, so a paper
put under a theme the review does not cite it for is a false positive even when the review
never cites that paper at all (a strict reading: the review may simply not have cited it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from synth.review import load_review
from synth.tagging.describe import unique_record_ids


class ThemeReferenceError(ValueError):
    """A review.yml whose per-theme citations cannot be read; the message names the key."""


@dataclass(frozen=True)
class Agreement:
    precision: float
    recall: float
    true_pairs: frozenset[tuple[str, str]]
    false_pairs: frozenset[tuple[str, str]]
    missed_pairs: frozenset[tuple[str, str]]


def cited_pairs(review_path: Path | str, records: pd.DataFrame) -> set[tuple[str, str]]:
    """(theme id, kept record id) for each paper the review cites under each theme; a
    ``cited_refs`` key is matched to the records' ``source_key``."""
    path = Path(review_path)
    groups = load_review(path).raw.get("themes")
    if not isinstance(groups, list):
        raise ThemeReferenceError(f"{path}: `themes` must be a list of theme groups")
    to_kept = unique_record_ids(records).to_dict()
    by_key: dict[str, str] = {}
    for rid, key in zip(records["record_id"].astype(str), records["source_key"], strict=True):
        if isinstance(key, str) and rid in to_kept:
            by_key.setdefault(key, to_kept[rid])
    out: set[tuple[str, str]] = set()
    for g in groups:
        for t in (g or {}).get("themes") or []:
            for key in t.get("cited_refs") or []:
                if key not in by_key:
                    raise ThemeReferenceError(
                        f"{path}: themes: {t.get('id')!r}: cited_refs {key!r} is no record's key"
                    )
                out.add((str(t["id"]), by_key[key]))
    return out


def agreement(assignments: pd.DataFrame, reference: set[tuple[str, str]]) -> Agreement:
    """Precision and recall of the assignments' (theme, paper) pairs against ``reference``."""
    themes, papers = assignments["theme_id"].astype(str), assignments["record_id"].astype(str)
    predicted = set(zip(themes, papers, strict=True))
    hit = predicted & reference
    return Agreement(
        precision=len(hit) / len(predicted) if predicted else 0.0,
        recall=len(hit) / len(reference) if reference else 0.0,
        true_pairs=frozenset(hit),
        false_pairs=frozenset(predicted - reference),
        missed_pairs=frozenset(reference - predicted),
    )
