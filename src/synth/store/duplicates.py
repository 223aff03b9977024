"""Duplicate groups in the store: recomputed from the records and reviewers' split events.

Groups are derived data (rebuilt after every import), while a reviewer's "these are not
the same paper" is an appended event that every later rebuild honours as a cannot-link.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import pandas as pd

from synth.corpus.dedupe import dedupe
from synth.store.db import now
from synth.store.views import load_records


def cannot_links(con: sqlite3.Connection) -> list[tuple[str, str]]:
    """Pairs reviewers have split and not since re-joined (latest event wins)."""
    state: dict[tuple[str, str], str] = {}
    for row in con.execute("SELECT kind, record_a, record_b FROM group_events ORDER BY event_id"):
        key = tuple(sorted((row["record_a"], row["record_b"])))
        state[key] = row["kind"]  # type: ignore[index]
    return [k for k, kind in state.items() if kind == "split"]  # type: ignore[misc]


def refresh_duplicates(
    con: sqlite3.Connection, *, progress: bool = False, records: pd.DataFrame | None = None
) -> dict[str, int]:
    """Re-run deduplication over every record and replace the derived group tables.

    ``records`` may be passed when the caller holds exactly the store's records already
    (a first import), to save reading them back.
    """
    if records is None:
        records = load_records(con)
    result = dedupe(records, cannot_link=cannot_links(con), progress=progress)
    groups = result.groups
    pairs = result.pairs
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute("DELETE FROM duplicate_groups")
        con.execute("DELETE FROM duplicate_pairs")
        con.executemany(
            "INSERT INTO duplicate_groups (record_id, group_id, is_kept) VALUES (?,?,?)",
            [(r.record_id, r.group_id, int(bool(r.is_kept))) for r in groups.itertuples()],
        )
        con.executemany(
            "INSERT OR REPLACE INTO duplicate_pairs (record_a, record_b, rule, score,"
            " title_score, author_match, year_diff) VALUES (?,?,?,?,?,?,?)",
            [
                (
                    p.record_a, p.record_b, p.rule, _f(p.score), _f(p.title_score),
                    None if p.author_match is None else int(bool(p.author_match)),
                    None if p.year_diff is None or p.year_diff != p.year_diff
                    else int(p.year_diff),
                )
                for p in pairs.itertuples()
            ],
        )  # fmt: skip
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"duplicate_pairs": len(pairs)}


def _f(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if v != v else v


def split_records(
    con: sqlite3.Connection,
    record_ids: Iterable[str],
    *,
    reviewer: str,
    note: str | None = None,
) -> dict[str, int]:
    """Take ``record_ids`` out of their duplicate group: a reviewer's correction.

    Each split record gets a cannot-link event against every other member of its
    current group; groups are then rebuilt, so the correction survives later imports.
    """
    ids = list(dict.fromkeys(record_ids))
    if not ids:
        raise ValueError("name at least one record id to split")
    placeholders = ",".join("?" for _ in ids)
    known = {
        r[0]
        for r in con.execute(
            f"SELECT record_id FROM duplicate_groups WHERE record_id IN ({placeholders})", ids
        )
    }
    missing = [i for i in ids if i not in known]
    if missing:
        raise KeyError(f"not in any duplicate group: {', '.join(missing)}")
    events = []
    stamp = now()
    for rid in ids:
        (group,) = con.execute(
            "SELECT group_id FROM duplicate_groups WHERE record_id=?", (rid,)
        ).fetchone()
        members = [
            r[0]
            for r in con.execute(
                "SELECT record_id FROM duplicate_groups WHERE group_id=? AND record_id<>?",
                (group, rid),
            )
        ]
        events += [("split", rid, other, reviewer, note, stamp) for other in members]
    with con:
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            "INSERT INTO group_events (kind, record_a, record_b, reviewer, note, created_at)"
            " VALUES (?,?,?,?,?,?)",
            events,
        )
    refresh_duplicates(con)
    return {"events": len(events)}


def link_extracts(con: sqlite3.Connection) -> dict[str, int]:
    """Resolve each extract's ``ref`` (a record's key, or a DOI) to a record id."""
    con.execute("BEGIN IMMEDIATE")
    try:
        con.execute(
            "UPDATE extracts SET record_id = COALESCE("
            " (SELECT r.record_id FROM records r WHERE r.source_key = extracts.ref"
            "  ORDER BY r.source_id LIMIT 1),"
            " (SELECT r.record_id FROM records r WHERE r.doi = lower(extracts.ref)"
            "  ORDER BY r.source_id LIMIT 1))"
            " WHERE record_id IS NULL"
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    (unlinked,) = con.execute("SELECT count(*) FROM extracts WHERE record_id IS NULL").fetchone()
    return {"extracts_unlinked": int(unlinked)}
