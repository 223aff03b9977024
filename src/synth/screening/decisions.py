"""Screening decisions as append-only events in the review store; current state by query.

Each call that records something commits its own ``BEGIN IMMEDIATE`` transaction before
it returns, so a decision the app shows as saved survives a killed kernel, and two
reviewers writing from two kernels queue for the write lock instead of losing events.
A change of mind is a new ``decision`` event (the latest wins); an undo is a
``retraction`` event that cancels one earlier event (the one before it wins again).

The unit screened is the duplicate group: an event stores the record the reviewer saw,
and every query maps it to the *kept* record of that record's current duplicate group,
so a decision on any copy of a paper counts for the paper, and frames returned here
(``current_decisions``, ``final_decisions``) carry kept record ids.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from synth.review import STAGES, find_review, load_review  # STAGES: the review's, re-exported
from synth.store.db import now, require_name, transaction

log = logging.getLogger(__name__)

DECISIONS: tuple[str, ...] = ("include", "exclude", "maybe")

CURRENT_COLUMNS = ["record_id", "reviewer", "decision", "reason", "note", "created_at", "event_id"]
FINAL_COLUMNS = ["record_id", "decision", "reason", "n_reviewers", "resolved"]
HISTORY_COLUMNS = [
    "event_id", "stage", "record_id", "kept_record_id", "reviewer", "kind", "decision",
    "reason", "note", "retracts", "created_at",
]  # fmt: skip

# The kept record of an event's duplicate group (the record itself when ungrouped).
_KEPT = (
    "COALESCE((SELECT min(k.record_id) FROM duplicate_groups g JOIN duplicate_groups k"
    " ON k.group_id = g.group_id AND k.is_kept = 1 WHERE g.record_id = d.record_id),"
    " d.record_id)"
)


# ---------------------------------------------------------------- validation


def _check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")
    return stage


def _check_decision(decision: str) -> str:
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}: choose one of {', '.join(DECISIONS)}")
    return decision


def _clean_text(value: Any) -> str | None:
    """Blank, None and NaN all mean 'no value' (an imported sheet has all three)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = str(value).strip()
    return text or None


def _check_reason(reason: Any, reasons: list[tuple[str, str]]) -> str | None:
    """A criterion id (its text is accepted too) when the review lists them, else as given."""
    reason = _clean_text(reason)
    if reason is None or not reasons:
        return reason
    for rid, text in reasons:
        if reason == rid or reason.casefold() == text.casefold():
            return rid
    raise ValueError(
        f"unknown exclusion reason {reason!r}: choose one of {', '.join(r for r, _ in reasons)}"
    )


def _kept_id(con: sqlite3.Connection, record_id: str) -> str:
    """The kept record of ``record_id``'s group; ValueError naming an unknown record."""
    row = con.execute(
        f"SELECT {_KEPT} FROM records d WHERE d.record_id = ?", (record_id,)
    ).fetchone()
    if row is None:
        raise ValueError(f"unknown record {record_id!r}: it is not in this review store")
    return str(row[0])


# ---------------------------------------------------------------- reasons


def valid_reasons(con: sqlite3.Connection) -> list[tuple[str, str]]:
    """(id, text) of the reasons a reviewer may give for an exclusion.

    From the ``review.yml`` beside the imported files: every ``exclusion_criteria`` item,
    the ``exclusion_general`` one, then each inclusion criterion as "not met: ..." (the
    tagger's suggested exclusions give e.g. ``years`` as their reason). Empty when the
    store knows no review definition, and then any reason is accepted.
    """
    path = find_review(con)
    if path is None:
        return []
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return []
    return list(_reasons_from(str(path), stamp))


@lru_cache(maxsize=8)
def _reasons_from(path: str, stamp: int) -> tuple[tuple[str, str], ...]:
    """Parsed once per file version (``stamp`` is its mtime: an edit reloads it)."""
    try:
        review = load_review(Path(path))
    except ValueError as exc:
        log.warning("exclusion reasons not checked: %s", exc)
        return ()
    out: dict[str, str] = {}
    general = (review.exclusion_general,) if review.exclusion_general else ()
    for c in review.exclusion_criteria + general:
        out.setdefault(c.id, c.text)
    for c in review.inclusion_criteria:
        out.setdefault(c.id, f"not met: {c.text}")
    return tuple(out.items())


# ---------------------------------------------------------------- writing


def _insert(con: sqlite3.Connection, row: dict[str, Any]) -> int:
    cur = con.execute(
        "INSERT INTO decisions (stage, record_id, reviewer, kind, decision, reason, note,"
        " retracts, created_at) VALUES (:stage, :record_id, :reviewer, :kind, :decision,"
        " :reason, :note, :retracts, :created_at)",
        {"retracts": None, "reason": None, "note": None, "decision": None, **row},
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


def record_decision(
    con: sqlite3.Connection,
    *,
    record_id: str,
    reviewer: str,
    decision: str,
    stage: str = "title_abstract",
    reason: str | None = None,
    note: str | None = None,
) -> int:
    """Record one reviewer's decision on one record and commit it; returns its event id.

    ``reason`` must be one of :func:`valid_reasons` (its id, or its exact text) when the
    store knows the review's criteria; otherwise any text is kept as given.
    """
    _check_stage(stage)
    _check_decision(decision)
    reviewer = require_name(reviewer, "reviewer")
    reason = _check_reason(reason, valid_reasons(con))
    with transaction(con):
        _kept_id(con, record_id)
        event_id = _insert(
            con,
            {
                "stage": stage, "record_id": record_id, "reviewer": reviewer,
                "kind": "decision", "decision": decision, "reason": reason,
                "note": _clean_text(note), "created_at": now(),
            },
        )  # fmt: skip
    log.debug("decision %s: %s %s %s (%s)", event_id, reviewer, decision, record_id, stage)
    return event_id


def _latest_standing(
    con: sqlite3.Connection, *, kept: str, stage: str, kind: str, reviewer: str | None
) -> int | None:
    """Event id of the latest standing decision (by ``reviewer``) or resolution on a group."""
    decisions, resolutions = _replay(con, stage=stage, group=kept)
    if kind == "resolution":
        row = resolutions.get(kept)
        return None if row is None else row[0]
    row = decisions.get((kept, reviewer or ""))
    return None if row is None else row[0]


def retract_decision(
    con: sqlite3.Connection,
    *,
    record_id: str,
    reviewer: str,
    stage: str = "title_abstract",
    resolution: bool = False,
) -> int:
    """Undo: cancel ``reviewer``'s latest standing decision on the record's group.

    The undo is itself an event (its ``retracts`` names the cancelled one), so undoing
    again cancels the decision before that, and the log keeps both. With
    ``resolution=True`` it cancels the latest standing conflict resolution on the record
    (whoever made it). Raises ValueError when there is nothing left to undo.
    """
    _check_stage(stage)
    reviewer = require_name(reviewer, "reviewer")
    kind = "resolution" if resolution else "decision"
    with transaction(con):
        kept = _kept_id(con, record_id)
        target = _latest_standing(
            con, kept=kept, stage=stage, kind=kind, reviewer=None if resolution else reviewer
        )
        if target is None:
            who = "" if resolution else f" by {reviewer}"
            raise ValueError(f"no {kind}{who} on {record_id} ({stage}) to retract")
        event_id = _insert(
            con,
            {
                "stage": stage, "record_id": record_id, "reviewer": reviewer,
                "kind": "retraction", "retracts": target, "created_at": now(),
            },
        )  # fmt: skip
    return event_id


def import_decisions(con: sqlite3.Connection, df: pd.DataFrame, *, reviewer: str) -> int:
    """Add a table of one reviewer's decisions (e.g. from a spreadsheet) in one transaction.

    Columns ``record_id``, ``decision`` and optionally ``stage`` (default title/abstract),
    ``reason`` and ``note``. Every row is checked first and all problems are reported
    together; nothing is written unless every row is valid. Returns the rows added.
    """
    reviewer = require_name(reviewer, "reviewer")
    missing = [c for c in ("record_id", "decision") if c not in df.columns]
    if missing:
        raise ValueError(f"decisions table lacks column(s): {', '.join(missing)}")
    reasons = valid_reasons(con)
    known = {r[0] for r in con.execute("SELECT record_id FROM records")}
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    stamp = now()
    for i, item in enumerate(df.to_dict("records"), start=1):
        try:
            record_id = _clean_text(item.get("record_id"))
            if record_id not in known:
                raise ValueError(f"unknown record {record_id!r}")
            stage = _clean_text(item.get("stage")) or "title_abstract"
            rows.append(
                {
                    "stage": _check_stage(stage), "record_id": record_id,
                    "reviewer": reviewer, "kind": "decision",
                    "decision": _check_decision(_clean_text(item.get("decision")) or ""),
                    "reason": _check_reason(item.get("reason"), reasons),
                    "note": _clean_text(item.get("note")), "created_at": stamp,
                }
            )  # fmt: skip
        except ValueError as exc:
            problems.append(f"row {i}: {exc}")
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValueError(f"{len(problems)} invalid decision row(s): {shown}{more}")
    with transaction(con):
        for row in rows:
            _insert(con, row)
    return len(rows)


# ---------------------------------------------------------------- reading


# An event row as read for replay: what the state functions need, in this order.
_EVENT_FIELDS = "event_id, record_id, reviewer, kind, decision, reason, note, retracts, created_at"
_Row = tuple[Any, ...]


def _kept_map(con: sqlite3.Connection) -> dict[str, str]:
    """record -> kept record of its group, for the records that are not kept themselves."""
    sql = (
        "SELECT g.record_id, min(k.record_id) FROM duplicate_groups g JOIN duplicate_groups k"
        " ON k.group_id = g.group_id AND k.is_kept = 1 WHERE g.is_kept = 0 GROUP BY g.record_id"
    )
    return {r[0]: r[1] for r in con.execute(sql)}


def _members(con: sqlite3.Connection, kept: str) -> list[str]:
    """Every record of ``kept``'s duplicate group (just itself when it has no group)."""
    rows = con.execute(
        "SELECT record_id FROM duplicate_groups WHERE group_id ="
        " (SELECT group_id FROM duplicate_groups WHERE record_id = ?)",
        (kept,),
    ).fetchall()
    return [r[0] for r in rows] or [kept]


def _replay(
    con: sqlite3.Connection,
    *,
    stage: str,
    reviewer: str | None = None,
    group: str | None = None,
) -> tuple[dict[tuple[str, str], _Row], dict[str, _Row]]:
    """Replay a stage's events into its standing state (plain SQL and dicts).

    Returns ``{(kept record, reviewer): decision row}`` and ``{kept record: resolution
    row}``, each row in ``_EVENT_FIELDS`` order, ``record_id`` replaced by the kept
    record. ``group`` (a kept record id) limits it to that record's duplicate group.
    Filtering by ``reviewer`` is safe: a reviewer's decisions are only ever
    retracted by that reviewer. This is the one place the state rules live; every
    reader (and the checks made inside write transactions) goes through it.
    """
    sql = f"SELECT {_EVENT_FIELDS} FROM decisions WHERE stage = ?"
    params: list[Any] = [stage]
    if reviewer is not None:
        sql += " AND reviewer = ?"
        params.append(reviewer)
    if group is None:
        kept = _kept_map(con)
    else:
        kept = dict.fromkeys(_members(con, group), group)
        sql += f" AND record_id IN ({','.join('?' for _ in kept)})"
        params += list(kept)
    cur = con.cursor()
    cur.row_factory = None  # plain tuples: several times faster than sqlite3.Row here
    rows = cur.execute(sql + " ORDER BY event_id", params).fetchall()
    retracted = {r[7] for r in rows if r[3] == "retraction"}
    decisions: dict[tuple[str, str], _Row] = {}
    resolutions: dict[str, _Row] = {}
    for row in rows:
        kind = row[3]
        if kind == "retraction" or row[0] in retracted:
            continue
        rec = kept.get(row[1], row[1])
        row = (row[0], rec, *tuple(row)[2:])
        if kind == "decision":
            decisions[(rec, row[2])] = row
        else:
            resolutions[rec] = row
    return decisions, resolutions


def current_decisions(
    con: sqlite3.Connection, *, stage: str = "title_abstract", reviewer: str | None = None
) -> pd.DataFrame:
    """Each reviewer's standing decision per record (kept record id), one row per pair.

    The latest decision event that no retraction has cancelled wins; a record whose
    every decision by a reviewer was retracted has no row for that reviewer. Rows are
    in the order the standing decisions were made.
    """
    _check_stage(stage)
    decisions, _ = _replay(con, stage=stage, reviewer=reviewer)
    return _current_frame(decisions)


def _current_frame(decisions: dict[tuple[str, str], _Row]) -> pd.DataFrame:
    rows = sorted(decisions.values())
    # _EVENT_FIELDS: event_id, record_id, reviewer, kind, decision, reason, note, retracts, at
    data = {
        "record_id": [r[1] for r in rows],
        "reviewer": [r[2] for r in rows],
        "decision": [r[4] for r in rows],
        "reason": [r[5] for r in rows],
        "note": [r[6] for r in rows],
        "created_at": [r[8] for r in rows],
        "event_id": pd.array([r[0] for r in rows], dtype="int64"),
    }
    return pd.DataFrame(data, columns=CURRENT_COLUMNS)


def _standing(con: sqlite3.Connection, *, kept: str, stage: str) -> dict[str, str]:
    """reviewer -> standing decision on one kept record (plain SQL: safe in a transaction)."""
    decisions, _ = _replay(con, stage=stage, group=kept)
    return {reviewer: row[4] for (_, reviewer), row in decisions.items()}


def final_decisions(con: sqlite3.Connection, *, stage: str = "title_abstract") -> pd.DataFrame:
    """The decision that stands per record (kept record id) at ``stage``.

    Reviewers agree -> their decision (reason: the one most of them gave, the earliest on
    a tie). They disagree -> the latest standing resolution (``resolved`` True), else
    ``'conflict'``. Records nobody has decided are absent.
    """
    _check_stage(stage)
    decisions, resolution_rows = _replay(con, stage=stage)
    resolutions = {rec: (row[4], row[5]) for rec, row in resolution_rows.items()}
    by_record: dict[str, list[tuple[str, str | None]]] = {}
    for row in sorted(decisions.values()):
        by_record.setdefault(row[1], []).append((row[4], _clean_text(row[5])))
    rows = []
    for rec, items in by_record.items():
        decisions = {d for d, _ in items}
        if len(decisions) == 1:
            given = [r for _, r in items if r]
            reason = Counter(given).most_common(1)[0][0] if given else None
            rows.append((rec, items[0][0], reason, len(items), False))
        elif rec in resolutions:
            dec, reason = resolutions[rec]
            rows.append((rec, dec, reason, len(items), True))
        else:
            rows.append((rec, "conflict", None, len(items), False))
    df = pd.DataFrame(rows, columns=FINAL_COLUMNS)
    df["n_reviewers"] = df["n_reviewers"].astype(int)
    df["resolved"] = df["resolved"].astype(bool)
    return df


def decision_history(con: sqlite3.Connection, record_id: str | None = None) -> pd.DataFrame:
    """Every screening event in the order it was made (the audit trail).

    ``record_id`` is the record the reviewer saw, ``kept_record_id`` the record it counts
    for. Given a ``record_id``, the events on every record of its duplicate group.
    """
    sql = f"SELECT d.*, {_KEPT} AS kept_record_id FROM decisions d"
    params: tuple[Any, ...] = ()
    if record_id is not None:
        kept = _kept_id(con, record_id)
        sql = f"SELECT * FROM ({sql}) WHERE kept_record_id = ?"
        params = (kept,)
    df = pd.read_sql_query(sql + " ORDER BY event_id", con, params=params)
    df["retracts"] = df["retracts"].astype("Int64")
    return df.reindex(columns=HISTORY_COLUMNS)
