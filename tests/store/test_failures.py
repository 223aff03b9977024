"""Numbers go into the store as numbers, and the failures report keeps errors and warnings.

Issue 14: a numpy integer handed to sqlite3 was stored as its bytes, so `synth failures`
showed line ``b'\\x02\\x00...'``. Every numeric column must round-trip as a number, and a
store written before the fix is mended by migration 0004.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth.store import connect, import_paths, load_failures, load_sources, store_totals
from synth.store.db import _statements, migrations

RIS = """TY  - JOUR
TI  - Co-production in care
PY  - 2020
DO  - 10.1000/abc
ER  - 

TY  - JOUR
AU  - Wrong, A.
ER  - 

TY  - JOUR
AU  - Ng, T.
DO  - 10.1000/def
ER  - 

TY  - JOUR
ER  - 
"""

MORE_RIS = (
    RIS
    + """
TY  - RPRT
TI  - A new report
PY  - 2021
ER  - 
"""
)


@pytest.fixture
def store(tmp_path: Path, fixtures: Path) -> sqlite3.Connection:
    """A store holding records, failures, warnings, sightings, extracts and full texts."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "refs.ris").write_text(RIS, encoding="utf-8")
    (second / "refs.ris").write_text(MORE_RIS, encoding="utf-8")  # same ids: sightings
    shutil.copy(fixtures / "markdown" / "fulltext.md", first / "fulltext.md")
    shutil.copy(fixtures / "markdown" / "extracts.md", first / "extracts.md")
    con = connect(tmp_path / "review.sqlite")
    import_paths(con, [first])
    import_paths(con, [second])
    return con


def _numeric_columns(con: sqlite3.Connection) -> list[tuple[str, str]]:
    """(table or view, column) for every INTEGER or REAL column the schema declares."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            " AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return [
        (t, c["name"])
        for t in tables
        for c in con.execute(f"PRAGMA table_info({t})")
        if c["type"].upper() in ("INTEGER", "REAL")
    ]


def test_every_numeric_column_holds_numbers_after_an_import(store: sqlite3.Connection) -> None:
    filled = {}
    for table, column in _numeric_columns(store):
        kinds = {r[0] for r in store.execute(f"SELECT DISTINCT typeof({column}) FROM {table}")}
        assert kinds <= {"integer", "real", "null"}, (table, column, kinds)
        filled[table, column] = bool(kinds - {"null"})
    # the import wrote the columns that used to take numpy values, so the check means something
    for written in [
        ("import_failures", "line"), ("import_failures", "record"),
        ("record_sightings", "position"), ("record_sightings", "line"),
        ("records", "year"), ("records", "line"), ("extracts", "line"), ("fulltexts", "chars"),
    ]:  # fmt: skip
        assert filled[written], written


def test_failures_report_round_trips_lines_and_records(store: sqlite3.Connection) -> None:
    failures = load_failures(store)
    assert str(failures["line"].dtype) == "Int64" and str(failures["record"].dtype) == "Int64"
    ris = failures[failures["file"] == "refs.ris"]
    # each file's rows: record 2 (no title, no DOI) fails, record 3 (DOI) is kept with a
    # warning, record 4 (nothing but TY) fails
    assert ris[["line", "record", "severity"]].values.tolist() == 2 * [
        [7, 2, "error"],
        [11, 3, "warning"],
        [16, 4, "error"],
    ]
    assert ris["reason"].iloc[0] == "record 2 (line 7): no title and no DOI/PMID"


def test_warnings_are_counted_apart_from_failures(store: sqlite3.Connection) -> None:
    totals = store_totals(store)
    assert (totals["failures"], totals["warnings"]) == (4, 2)
    sources = load_sources(store).set_index("name")
    assert sources.loc["refs.ris", ["n_records", "n_failures", "n_warnings"]].values.tolist() == [
        [2, 2, 1],
        [3, 2, 1],
    ]


@pytest.mark.parametrize(
    "value",
    [np.int8(-3), np.int16(300), np.int32(70_000), np.int64(2**40), np.uint8(7),
     np.uint32(4_000_000_000), np.intc(5), np.bool_(True), np.float32(0.5), np.float16(1.5)],
    ids=lambda v: type(v).__name__,
)  # fmt: skip
def test_numpy_scalars_are_bound_as_numbers(tmp_path: Path, value: object) -> None:
    con = connect(tmp_path / "review.sqlite")
    got, kind = con.execute("SELECT ?, typeof(?)", (value, value)).fetchone()
    assert kind in ("integer", "real")
    assert got == value


def _store_at_version(path: Path, version: int) -> sqlite3.Connection:
    """A store as an older synth left it: the first ``version`` migrations only."""
    con = sqlite3.connect(path, isolation_level=None)
    for number, _, sql in migrations()[:version]:
        for statement in _statements(sql):
            con.execute(statement)
        con.execute(f"PRAGMA user_version={number}")
    return con


def test_migration_turns_integers_stored_as_bytes_back_into_integers(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old = _store_at_version(path, 3)

    def blob(n: int, dtype: type = np.int64) -> bytes:
        return dtype(n).tobytes()  # what sqlite3 stored for a numpy integer

    old.execute(
        "INSERT INTO sources (source_id, sha256, name, format, size, n_records, n_failures,"
        " n_new, imported_at) VALUES (1, 'x', 'refs.ris', 'ris', 10, 1, 2, 1, 'now')"
    )
    old.execute(
        "INSERT INTO records (record_id, source_id, title, year, position, line, source_file,"
        " source_format) VALUES ('r1', 1, 'T', ?, ?, ?, 'refs.ris', 'ris')",
        (2020, blob(1), blob(70_000, np.int32)),
    )
    old.execute("INSERT INTO record_sightings VALUES ('r1', 1, ?, ?)", (blob(3), blob(2**33 + 5)))
    old.executemany(
        "INSERT INTO import_failures (source_id, file, line, record, reason) VALUES (1,?,?,?,?)",
        [("refs.ris", blob(5), blob(2), "record 2 (line 5): bad"),
         ("refs.ris", 9, None, "already an integer")],
    )  # fmt: skip
    old.close()

    con = connect(path)  # migrates to the current version
    assert con.execute("SELECT year, position, line FROM records").fetchone()[:] == (
        2020, 1, 70_000,
    )  # fmt: skip
    assert con.execute("SELECT position, line FROM record_sightings").fetchone()[:] == (
        3, 2**33 + 5,
    )  # fmt: skip
    failures = load_failures(con)
    assert failures["line"].tolist() == [5, 9]
    assert failures["record"].tolist() == [2, pd.NA]  # NULL stays missing
    assert failures["severity"].tolist() == ["error", "error"]
    for table, column in _numeric_columns(con):
        (blobs,) = con.execute(
            f"SELECT count(*) FROM {table} WHERE typeof({column}) = 'blob'"
        ).fetchone()
        assert blobs == 0, (table, column)
