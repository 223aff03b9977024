"""Screening tests. ``kei_store`` gives each test its own copy of a store of the KEI corpus."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"

_template: dict[str, Path] = {}


def kei_store(folder: Path, cache: Path) -> Path:
    """A fresh copy of an imported (untagged) KEI store in ``folder``.

    The import (about a second) runs once per test session into ``cache``; each test
    then copies the closed, checkpointed file, so tests never share a database.
    """
    from synth.store import connect, import_paths

    if "kei" not in _template:
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / "kei.sqlite"
        con = connect(path)
        import_paths(con, [KEI])
        con.close()
        _template["kei"] = path
    target = folder / "review.sqlite"
    shutil.copyfile(_template["kei"], target)
    return target


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
