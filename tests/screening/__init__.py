"""Screening tests. Each test that writes decisions takes its own copy of the session's
KEI store (``copy_db(kei_imported_db)``, tests/conftest.py), so tests never share one."""

from __future__ import annotations

import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"


def ids(con: sqlite3.Connection, n: int) -> list[str]:
    """The first ``n`` bibliography records that are alone in their duplicate group."""
    rows = con.execute(
        "SELECT r.record_id FROM records r JOIN duplicate_groups g USING (record_id)"
        " WHERE r.source_file = 'references.bib' AND g.group_id IN (SELECT group_id FROM"
        " duplicate_groups GROUP BY group_id HAVING count(*) = 1) ORDER BY r.position LIMIT ?",
        (n,),
    )
    return [r[0] for r in rows]


def group_pair(con: sqlite3.Connection) -> tuple[str, str]:
    """(kept, removed) record ids of the KEI corpus's one two-record duplicate group."""
    rows = con.execute(
        "SELECT record_id, is_kept FROM duplicate_groups WHERE group_id IN (SELECT group_id"
        " FROM duplicate_groups GROUP BY group_id HAVING count(*) = 2) ORDER BY is_kept DESC"
    ).fetchall()
    assert len(rows) == 2, "the KEI corpus has one paper both in references.bib and fulltexts/"
    return rows[0][0], rows[1][0]
