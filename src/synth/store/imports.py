"""Import files into a review store: each file in one transaction, all of it or none.

A file whose bytes were imported before is skipped, so re-importing changes nothing.
Parsing happens before the write lock is taken, so a long parse never blocks a
reviewer's decision in another kernel.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synth.corpus.model import WARNING, Failure, ReadError
from synth.corpus.reading import FileResult, failures_frame, iter_files, read_file
from synth.store.db import now
from synth.store.duplicates import link_extracts, refresh_duplicates

log = logging.getLogger(__name__)

_RECORD_FIELDS = [
    "record_id", "source_id", "title", "authors", "year", "venue", "volume", "issue", "pages",
    "publisher", "doi", "pmid", "url", "abstract", "keywords", "language", "pub_type", "grey",
    "label_included", "source_key", "source_file", "source_format", "database", "position",
    "line", "extra",
]  # fmt: skip
_INSERT_RECORD = (
    f"INSERT OR IGNORE INTO records ({', '.join(_RECORD_FIELDS)}) "
    f"VALUES ({', '.join('?' for _ in _RECORD_FIELDS)})"
)


@dataclass
class ImportReport:
    """What an import did, file by file, and the store's totals afterwards."""

    files: pd.DataFrame
    failures: pd.DataFrame
    totals: dict[str, int] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per-file counts plus a total row, for a table on screen."""
        cols = ["read", "failed", "warnings", "new", "already", "extracts", "fulltexts"]
        total = {c: int(self.files[c].sum()) if len(self.files) else 0 for c in cols}
        total.update(file="TOTAL", format="", status="")
        return pd.concat([self.files, pd.DataFrame([total])], ignore_index=True)


def _none(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    return value


_to_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _column(df: pd.DataFrame, name: str) -> list[Any]:
    """A column as plain Python values with None for missing (what sqlite3 binds)."""
    col = df[name]
    if name in ("authors", "keywords", "extra"):
        return [_to_json(v) for v in col]
    if name in ("year", "position", "line", "label_included"):
        return [None if v is pd.NA else int(v) for v in col.astype("Int64")]
    if name == "grey":
        return [None if v is pd.NA else int(bool(v)) for v in col.astype("boolean")]
    values = col.astype(object)
    return values.where(values.notna(), None).tolist()


def _record_rows(df: pd.DataFrame, source_id: int) -> list[tuple[Any, ...]]:
    """Rows for ``executemany``, built column by column (per-cell pandas access is slow)."""
    columns = [
        [source_id] * len(df) if name == "source_id" else _column(df, name)
        for name in _RECORD_FIELDS
    ]
    return list(zip(*columns, strict=True))


def store_file(con: sqlite3.Connection, result: FileResult) -> dict[str, Any]:
    """Write one read file in a single transaction; returns its row of the report."""
    n_warnings = int((result.failures["severity"] == WARNING).sum())
    row: dict[str, Any] = {
        "file": str(result.path),
        "format": result.format,
        "database": result.database,
        "read": len(result.records),
        "failed": len(result.failures) - n_warnings,
        "warnings": n_warnings,
        "new": 0,
        "already": 0,
        "extracts": len(result.extracts),
        "fulltexts": len(result.fulltexts),
        "status": "imported",
    }
    con.execute("BEGIN IMMEDIATE")
    try:
        if con.execute("SELECT 1 FROM sources WHERE sha256=?", (result.sha256,)).fetchone():
            con.execute("ROLLBACK")
            row.update(status="unchanged (imported before)", new=0, already=row["read"])
            return row
        cur = con.execute(
            "INSERT INTO sources (sha256, name, path, format, database, encoding, encoding_how,"
            " size, n_records, n_failures, n_warnings, n_new, imported_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?)",
            (
                result.sha256, result.path.name, str(result.path), result.format,
                result.database, result.encoding, result.encoding_how, result.size,
                len(result.records), row["failed"], n_warnings, now(),
            ),
        )  # fmt: skip
        source_id = cur.lastrowid
        before = con.total_changes
        con.executemany(_INSERT_RECORD, _record_rows(result.records, source_id))
        new = con.total_changes - before
        if new < len(result.records):
            # ids already in the store (same file name, key, title and year): keep provenance
            con.executemany(
                "INSERT OR IGNORE INTO record_sightings (record_id, source_id, position, line)"
                " VALUES (?,?,?,?)",
                [
                    (r.record_id, source_id, _none(r.position), _none(r.line))
                    for r in result.records.itertuples()
                ],
            )
        con.executemany(
            "INSERT INTO import_failures (source_id, file, line, record, reason, raw, severity)"
            " VALUES (?,?,?,?,?,?,?)",
            [
                (source_id, f.file, _none(f.line), _none(f.record), f.reason, f.raw, f.severity)
                for f in result.failures.itertuples()
            ],
        )
        con.executemany(
            "INSERT OR IGNORE INTO extracts (extract_id, source_id, ref, page, kind, section,"
            " text, source_file, line) VALUES (?,?,?,?,?,?,?,?,?)",
            [
                (
                    e["extract_id"], source_id, e["ref"], _none(e.get("page")), e["kind"],
                    _none(e.get("section")), e["text"], e["source_file"], _none(e.get("line")),
                )
                for e in result.extracts.to_dict("records")
            ],
        )  # fmt: skip
        con.executemany(
            "INSERT OR IGNORE INTO fulltexts (record_id, source_id, text, chars) VALUES (?,?,?,?)",
            [
                (t["record_id"], source_id, t["text"], len(t["text"]))
                for t in result.fulltexts.to_dict("records")
            ],
        )
        con.execute("UPDATE sources SET n_new=? WHERE source_id=?", (new, source_id))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    row.update(new=new, already=len(result.records) - new)
    return row


def import_paths(
    con: sqlite3.Connection,
    paths: Iterable[Path | str],
    *,
    progress: bool = False,
    dedupe: bool = True,
) -> ImportReport:
    """Read and store every file under ``paths``; then refresh duplicate groups and links.

    A file that cannot be read at all is reported (one failure row naming it) and the
    other files still import.
    """
    files = iter_files(paths)
    # into an empty store, the records just read are all there is: dedupe them in memory
    # instead of reading them back from the database
    empty_before = con.execute("SELECT count(*) FROM records").fetchone()[0] == 0
    fresh: list[pd.DataFrame] = []
    rows: list[dict[str, Any]] = []
    failures: list[pd.DataFrame] = []
    bar = None
    if progress:
        from synth.progress import progress_bar

        bar = progress_bar(total=len(files), desc="importing", unit="file")
    for path in files:
        if bar is not None:
            bar.set_postfix_str(path.name[:40])
        try:
            result = read_file(path)
        except ReadError as exc:
            fail = Failure(path.name, None, None, exc.reason, "")
            _store_unreadable(con, path, exc)
            rows.append(
                {"file": str(path), "format": "?", "database": None, "read": 0, "failed": 1,
                 "warnings": 0, "new": 0, "already": 0, "extracts": 0, "fulltexts": 0,
                 "status": f"not read: {exc.reason}"}
            )  # fmt: skip
            failures.append(failures_frame([fail]))
        else:
            row = store_file(con, result)
            rows.append(row)
            failures.append(result.failures)
            if row["status"] == "imported" and row["already"] == 0:
                fresh.append(result.records)
            else:
                empty_before = False  # some rows were not inserted: read the store instead
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    totals: dict[str, int] = {}
    if dedupe:
        in_memory = pd.concat(fresh, ignore_index=True) if empty_before and fresh else None
        totals.update(refresh_duplicates(con, progress=progress, records=in_memory))
    totals.update(link_extracts(con))
    totals.update(store_totals(con))
    files_df = pd.DataFrame(
        rows,
        columns=["file", "format", "database", "read", "failed", "warnings", "new", "already",
                 "extracts", "fulltexts", "status"],
    )  # fmt: skip
    fails = [f for f in failures if len(f)]
    failures_df = pd.concat(fails, ignore_index=True) if fails else pd.DataFrame()
    return ImportReport(files=files_df, failures=failures_df, totals=totals)


def _store_unreadable(con: sqlite3.Connection, path: Path, exc: ReadError) -> None:
    """Keep the failure of a whole file in the store's failures report too."""
    con.execute(
        "INSERT INTO import_failures (source_id, file, line, record, reason, raw)"
        " SELECT NULL, ?, NULL, NULL, ?, '' WHERE NOT EXISTS (SELECT 1 FROM import_failures"
        " WHERE source_id IS NULL AND file=? AND reason=?)",
        (path.name, exc.reason, path.name, exc.reason),
    )


def store_totals(con: sqlite3.Connection) -> dict[str, int]:
    """Counts over the whole store (not just this import)."""
    q = {
        "records": "SELECT count(*) FROM records",
        "sources": "SELECT count(*) FROM sources",
        "groups": "SELECT count(DISTINCT group_id) FROM duplicate_groups",
        "duplicates": "SELECT count(*) FROM duplicate_groups WHERE is_kept=0",
        "extracts": "SELECT count(*) FROM extracts",
        "fulltexts": "SELECT count(*) FROM fulltexts",
        "failures": "SELECT count(*) FROM import_failures WHERE severity = 'error'",
        "warnings": "SELECT count(*) FROM import_failures WHERE severity = 'warning'",
    }
    return {k: int(con.execute(sql).fetchone()[0]) for k, sql in q.items()}
