"""Two or more reviewers: blinded views, agreement, conflicts and their resolution.

Agreement is measured per stage on the records both reviewers of a pair screened, from
their standing decisions (include / exclude / maybe as three categories).
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Sequence
from itertools import combinations

import pandas as pd

from synth.screening.decisions import (
    _check_decision,
    _check_reason,
    _check_stage,
    _clean_text,
    _insert,
    _kept_id,
    _standing,
    current_decisions,
    final_decisions,
    valid_reasons,
)
from synth.store.db import now, require_name, transaction

AGREEMENT_COLUMNS = ["stage", "reviewer_a", "reviewer_b", "n_both", "percent_agreement", "kappa"]


def _pairs(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, str]]:
    if len(a) != len(b):
        raise ValueError(f"two raters' decisions differ in length ({len(a)} and {len(b)})")
    return list(zip(a, b, strict=True))


def percent_agreement(a: Sequence[str], b: Sequence[str]) -> float:
    """Share of items (0-1) on which the two raters gave the same category; NaN if none."""
    pairs = _pairs(a, b)
    if not pairs:
        return math.nan
    return sum(x == y for x, y in pairs) / len(pairs)


def cohens_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa: agreement beyond what the raters' own category rates predict.

    ``(p_o - p_e) / (1 - p_e)`` with ``p_e = sum_c p_a(c) p_b(c)``. Undefined (NaN) when
    there are no items, or when both raters used one and the same category for every
    item (``p_e = 1``): they agree fully, but there is no variation for chance
    correction to measure, so report percent agreement instead.
    """
    pairs = _pairs(a, b)
    n = len(pairs)
    if n == 0:
        return math.nan
    p_o = sum(x == y for x, y in pairs) / n
    count_a = Counter(x for x, _ in pairs)
    count_b = Counter(y for _, y in pairs)
    p_e = sum(count_a[c] * count_b[c] for c in count_a) / (n * n)
    if math.isclose(p_e, 1.0):
        return math.nan
    return (p_o - p_e) / (1 - p_e)


def agreement(
    con: sqlite3.Connection,
    *,
    stage: str = "title_abstract",
    reviewers: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """Percent agreement and Cohen's kappa per reviewer pair on the records both screened.

    Every pair of reviewers with decisions at ``stage``, or just ``reviewers``.
    """
    current = current_decisions(con, stage=stage)
    wide = current.pivot(index="record_id", columns="reviewer", values="decision")
    names = sorted(wide.columns) if reviewers is None else [*reviewers]
    rows = []
    for ra, rb in combinations(names, 2) if reviewers is None else [tuple(names)]:
        if ra in wide.columns and rb in wide.columns:
            both = wide[[ra, rb]].dropna()
            a, b = both[ra].tolist(), both[rb].tolist()
        else:
            a, b = [], []
        rows.append((stage, ra, rb, len(a), percent_agreement(a, b), cohens_kappa(a, b)))
    df = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    df["n_both"] = df["n_both"].astype(int)
    return df.astype({"percent_agreement": float, "kappa": float})


def _titles(con: sqlite3.Connection) -> dict[str, tuple[str | None, int | None]]:
    return {r[0]: (r[1], r[2]) for r in con.execute("SELECT record_id, title, year FROM records")}


def conflicts(
    con: sqlite3.Connection, *, stage: str = "title_abstract", include_resolved: bool = False
) -> pd.DataFrame:
    """Records the reviewers disagree on and nobody has resolved yet.

    Columns ``record_id, title, year``, then one column per reviewer holding that
    reviewer's decision (missing if they have not screened it); with
    ``include_resolved`` also the resolved disagreements, plus ``resolved`` and
    ``resolution`` columns.
    """
    final = final_decisions(con, stage=stage)
    disputed = final[(final["decision"] == "conflict") | (final["resolved"] & include_resolved)]
    current = current_decisions(con, stage=stage)
    current = current[current["record_id"].isin(disputed["record_id"])]
    wide = current.pivot(index="record_id", columns="reviewer", values="decision")
    reviewers = sorted(wide.columns)
    titles = _titles(con)
    rows = []
    for rec, decision, resolved in zip(
        disputed["record_id"], disputed["decision"], disputed["resolved"], strict=True
    ):
        title, year = titles.get(rec, (None, None))
        row = {"record_id": rec, "title": title, "year": year}
        row.update({r: wide.at[rec, r] for r in reviewers})
        if include_resolved:
            row.update(resolved=bool(resolved), resolution=decision if resolved else None)
        rows.append(row)
    columns = ["record_id", "title", "year", *reviewers]
    if include_resolved:
        columns += ["resolved", "resolution"]
    df = pd.DataFrame(rows, columns=columns)
    df["year"] = df["year"].astype("Int64")
    return df


def resolve_conflict(
    con: sqlite3.Connection,
    *,
    record_id: str,
    stage: str,
    decision: str,
    reason: str | None = None,
    reviewer: str,
    note: str | None = None,
) -> int:
    """Settle a disagreement: a ``resolution`` event by ``reviewer`` (the arbiter).

    Refused (ValueError) unless the reviewers' standing decisions on the record differ;
    a later resolution replaces an earlier one. Returns the event id.
    """
    _check_stage(stage)
    _check_decision(decision)
    reviewer = require_name(reviewer, "reviewer")
    reason = _check_reason(reason, valid_reasons(con))
    with transaction(con):
        kept = _kept_id(con, record_id)
        standing = set(_standing(con, kept=kept, stage=stage).values())
        if len(standing) < 2:
            raise ValueError(
                f"no conflict to resolve on {record_id} ({stage}): "
                + (f"the reviewers agree ({standing.pop()})" if standing else "not screened")
            )
        event_id = _insert(
            con,
            {
                "stage": stage, "record_id": record_id, "reviewer": reviewer,
                "kind": "resolution", "decision": decision, "reason": reason,
                "note": _clean_text(note), "created_at": now(),
            },
        )  # fmt: skip
    return event_id


def missing_second_screening(
    con: sqlite3.Connection, *, stage: str = "title_abstract", required: int = 2
) -> pd.DataFrame:
    """Records some reviewer screened but fewer than ``required`` reviewers did.

    Columns ``record_id, title, n_reviewers, reviewers`` (comma-separated, sorted),
    ``missing`` (how many more screenings are needed), in record order of first decision.
    """
    if required < 1:
        raise ValueError("required must be at least 1")
    current = current_decisions(con, stage=stage)
    titles = _titles(con)
    rows = []
    for rec, names in current.groupby("record_id", sort=False)["reviewer"]:
        n = names.nunique()
        if n < required:
            rows.append(
                (rec, titles.get(rec, (None, None))[0], n, ", ".join(sorted(names)), required - n)
            )
    columns = ["record_id", "title", "n_reviewers", "reviewers", "missing"]
    return pd.DataFrame(rows, columns=columns).astype({"n_reviewers": int, "missing": int})


def blinded_view(con: sqlite3.Connection, *, reviewer: str, stage: str) -> pd.DataFrame:
    """What ``reviewer`` may see while screening blind: only their own standing decisions.

    Same columns as :func:`~synth.screening.decisions.current_decisions`; nothing about
    other reviewers (not even whether a record was screened by them) leaks into it.
    """
    return current_decisions(con, stage=stage, reviewer=require_name(reviewer, "reviewer"))
