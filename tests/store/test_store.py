"""The review store: migrations, a file seen all or nothing, idempotent re-import, events."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from synth.corpus.reading import read_file
from synth.store import (
    StoreError,
    connect,
    import_paths,
    load_extracts,
    load_records,
    schema_version,
    split_records,
)
from synth.store import imports as imports_module
from synth.store.db import transaction
from tests.store.test_failures import _store_at_version

RIS = """TY  - JOUR
AU  - Armstrong, Natalie
AU  - Herbert, Georgia
TI  - Optimizing patient involvement in quality improvement
JO  - Health Expectations
PY  - 2013
DO  - 10.1111/hex.12039
ER  - 

TY  - JOUR
AU  - Boyd, Hazel
TI  - Improving healthcare through the use of co-design
JO  - N Z Med J
PY  - 2012
ER  - 
"""

BIB = """@article{armstrong2013,
  author = {Armstrong, N. and Herbert, G.},
  title = {Optimizing Patient Involvement in Quality Improvement},
  journal = {Health Expectations},
  year = {2013},
  doi = {https://doi.org/10.1111/HEX.12039}
}

@techreport{cqc2018,
  author = {{Care Quality Commission}},
  title = {Quality improvement in hospital trusts},
  institution = {CQC},
  year = {2018}
}
"""

EXTRACTS = """---
kind: quote
ref: cqc2018
---
Achieving performance targets comes as a result of tailoring improvement.
---
kind: finding
doi: 10.1111/hex.12039
---
Early involvement helps shape the planned work.
"""


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "scopus.ris").write_text(RIS, encoding="utf-8")
    (folder / "refs.bib").write_text(BIB, encoding="utf-8")
    (folder / "extracts.md").write_text(EXTRACTS, encoding="utf-8")
    return folder


def _counts(con: sqlite3.Connection) -> dict[str, int]:
    tables = ["sources", "records", "extracts", "import_failures", "duplicate_groups"]
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def test_new_store_is_wal_and_at_current_schema(tmp_path: Path) -> None:
    con = connect(tmp_path / "r.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA user_version").fetchone()[0] == schema_version() >= 1
    con.close()
    # opening again applies nothing and keeps the version
    con = connect(tmp_path / "r.sqlite")
    assert con.execute("PRAGMA user_version").fetchone()[0] == schema_version()


def test_store_from_a_newer_synth_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite"
    con = connect(path)
    con.execute(f"PRAGMA user_version={schema_version() + 1}")
    con.close()
    with pytest.raises(StoreError, match="newer than this synth"):
        connect(path)


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "notes.sqlite"
    bad.write_text("these are my notes, not a database " * 100)
    with pytest.raises(StoreError, match=r"notes\.sqlite"):
        connect(bad)


def test_a_sqlite_database_of_something_else_is_named(tmp_path: Path) -> None:
    other = tmp_path / "zotero.sqlite"
    foreign = sqlite3.connect(other)
    foreign.execute("CREATE TABLE records (x)")  # a name our schema uses too
    foreign.commit()
    foreign.close()
    with pytest.raises(StoreError, match=r"zotero\.sqlite: .*not a synth review store"):
        connect(other)
    assert [r[0] for r in sqlite3.connect(other).execute("SELECT name FROM sqlite_master")] == [
        "records"
    ]  # left as it was


def test_a_store_of_schema_4_migrates_with_its_data_and_references(
    tmp_path: Path, corpus: Path
) -> None:
    """Migration 0005 turns the file tables into views of complete sources: a store's
    rows, the decisions' references to its records and re-importing all stay as they were."""
    path = tmp_path / "r.sqlite"
    old = _store_at_version(path, 4)
    scopus = read_file(corpus / "scopus.ris")
    old.execute(
        "INSERT INTO sources (source_id, sha256, name, format, size, n_records, n_failures,"
        " n_new, imported_at) VALUES (1, ?, 'scopus.ris', 'ris', 10, 2, 1, 2, 'then')",
        (scopus.sha256,),
    )
    old.executemany(
        "INSERT INTO records (record_id, source_id, title, source_file, source_format,"
        " position) VALUES (?, 1, ?, 'scopus.ris', 'ris', ?)",
        [(rid, title, i) for i, (rid, title) in enumerate(zip(
            scopus.records.record_id, scopus.records.title, strict=True))],
    )  # fmt: skip
    kept = scopus.records.record_id.iloc[0]
    old.execute("INSERT INTO record_sightings VALUES (?, 1, 5, 9)", (kept,))
    old.execute("INSERT INTO import_failures (source_id, file, reason) VALUES (1, 'x', 'bad')")
    old.execute(
        "INSERT INTO extracts (extract_id, source_id, ref, record_id, kind, text, source_file)"
        " VALUES ('e1', 1, 'k', ?, 'quote', 'said', 'x.md')",
        (kept,),
    )
    old.execute("INSERT INTO fulltexts VALUES (?, 1, 'the text', 8)", (kept,))
    old.execute(
        "INSERT INTO decisions (stage, record_id, reviewer, decision, created_at)"
        " VALUES ('title_abstract', ?, 'ana', 'include', 'then')",
        (kept,),
    )
    old.close()

    con = connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == schema_version()
    assert _counts(con) == {
        "sources": 1, "records": 2, "extracts": 1, "import_failures": 1, "duplicate_groups": 0,
    }  # fmt: skip
    assert con.execute("SELECT count(*) FROM record_sightings").fetchone()[0] == 1
    assert con.execute("SELECT chars FROM fulltexts").fetchone()[0] == 8
    assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the decisions still refer to the records, by the table behind the view
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        con.execute(
            "INSERT INTO decisions (stage, record_id, reviewer, decision, created_at)"
            " VALUES ('title_abstract', 'r-nowhere', 'ana', 'include', 'now')"
        )
    report = import_paths(con, [corpus])
    names = report.files.file.map(lambda f: Path(f).name)
    status = dict(zip(names, report.files.status, strict=True))
    assert status["scopus.ris"] == "unchanged (imported before)"
    assert report.totals["records"] == 4 and report.totals["sources"] == 3
    assert report.totals["duplicates"] == 1  # the migrated record is grouped with the new


def test_any_thread_may_use_a_connection_and_writes_take_turns(tmp_path: Path) -> None:
    """Jupyter runs widget callbacks on other threads than the cell that opened the store."""
    con = connect(tmp_path / "r.sqlite")
    errors: list[BaseException] = []

    def write(name: str) -> None:
        try:
            for i in range(40):
                with transaction(con):  # two statements that belong together
                    for part in ("a", "b"):
                        con.execute(
                            "INSERT INTO settings (name, value, saved_at) VALUES (?, ?, '')",
                            (name, f"{i}{part}"),
                        )
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = con.execute("SELECT name, value FROM settings ORDER BY settings_id").fetchall()
    assert len(rows) == 240
    # each transaction's two rows are adjacent: no thread wrote inside another's
    for first, second in zip(rows[::2], rows[1::2], strict=True):
        assert first[0] == second[0] and first[1][:-1] == second[1][:-1]
        assert (first[1][-1], second[1][-1]) == ("a", "b")
    con.close()


def test_import_groups_duplicates_links_extracts_and_reimport_changes_nothing(
    tmp_path: Path, corpus: Path
) -> None:
    con = connect(tmp_path / "r.sqlite")
    report = import_paths(con, [corpus])
    assert report.totals["records"] == 4
    assert report.totals["duplicates"] == 1  # Armstrong 2013 is in both exports
    assert report.totals["groups"] == 3
    assert report.totals["extracts"] == 2
    assert report.totals["extracts_unlinked"] == 0

    records = load_records(con, with_groups=True)
    armstrong = records[records.doi == "10.1111/hex.12039"]
    assert armstrong.group_id.nunique() == 1 and len(armstrong) == 2
    assert armstrong.is_kept.sum() == 1
    assert set(armstrong.source_file) == {"scopus.ris", "refs.bib"}

    extracts = load_extracts(con)
    by_kind = dict(zip(extracts.kind, extracts.record_id, strict=True))
    cqc = records.loc[records.source_key == "cqc2018", "record_id"].item()
    assert by_kind["quote"] == cqc
    assert by_kind["finding"] in set(armstrong.record_id)

    before = _counts(con)
    changes = con.total_changes
    again = import_paths(con, [corpus])
    assert set(again.files.status) == {"unchanged (imported before)"}
    assert _counts(con) == before
    # rebuilding the derived duplicate tables rewrites rows but the content is identical
    assert load_records(con, with_groups=True).equals(records)
    assert con.total_changes >= changes


def test_a_file_is_stored_all_or_nothing(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = connect(tmp_path / "r.sqlite")
    real = imports_module.record_rows

    def explode(*args: object, **kwargs: object) -> object:
        rows = real(*args, **kwargs)  # type: ignore[arg-type]
        return [*rows[:1], ("broken",)]  # a malformed row fails mid-insert

    monkeypatch.setattr(imports_module, "record_rows", explode)
    with pytest.raises(sqlite3.ProgrammingError):
        import_paths(con, [corpus / "scopus.ris"])
    assert _counts(con)["sources"] == 0
    assert _counts(con)["records"] == 0
    # what it wrote before failing is removed again, not just unseen
    for table in ("sources_all", "records_all"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    monkeypatch.undo()
    import_paths(con, [corpus / "scopus.ris"])
    assert _counts(con)["records"] == 2


def test_unreadable_file_is_reported_and_the_rest_import(tmp_path: Path, corpus: Path) -> None:
    (corpus / "junk.ris").write_bytes(bytes(range(256)) * 50)
    con = connect(tmp_path / "r.sqlite")
    report = import_paths(con, [corpus])
    junk = report.files[report.files.file.str.endswith("junk.ris")].iloc[0]
    assert junk.status.startswith("not read: is binary")
    assert report.totals["records"] == 4
    assert report.failures.file.tolist() == ["junk.ris"]
    import_paths(con, [corpus])  # reporting it again adds no second failure row
    assert con.execute("SELECT count(*) FROM import_failures").fetchone()[0] == 1


def test_decisions_are_append_only(tmp_path: Path, corpus: Path) -> None:
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [corpus])
    rid = con.execute("SELECT record_id FROM records LIMIT 1").fetchone()[0]
    con.execute(
        "INSERT INTO decisions (stage, record_id, reviewer, decision, created_at)"
        " VALUES ('title_abstract', ?, 'ana', 'include', '2026-01-01')",
        (rid,),
    )
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE decisions SET decision='exclude'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM decisions")
    assert con.execute("SELECT decision FROM decisions").fetchone()[0] == "include"


def test_split_survives_later_imports(tmp_path: Path, corpus: Path) -> None:
    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [corpus])
    records = load_records(con, with_groups=True)
    bib_armstrong = records.loc[records.source_key == "armstrong2013", "record_id"].item()
    split_records(con, [bib_armstrong], reviewer="ana", note="erratum, not the paper")
    after = load_records(con, with_groups=True).set_index("record_id")
    assert after.group_id.nunique() == 4
    assert bool(after.loc[bib_armstrong, "is_kept"])
    (corpus / "more.ris").write_text(RIS.replace("Boyd", "Boyde"), encoding="utf-8")
    import_paths(con, [corpus / "more.ris"])
    final = load_records(con, with_groups=True).set_index("record_id")
    others = final[(final.doi == "10.1111/hex.12039") & (final.index != bib_armstrong)]
    assert final.loc[bib_armstrong, "group_id"] not in set(others.group_id)
    with pytest.raises(KeyError, match="not in any duplicate group"):
        split_records(con, ["r-does-not-exist"], reviewer="ana")


def test_first_import_dedupes_in_memory_exactly_as_from_the_store(
    tmp_path: Path, corpus: Path
) -> None:
    from synth.store import refresh_duplicates

    con = connect(tmp_path / "r.sqlite")
    import_paths(con, [corpus])  # empty store: groups computed from the frames just read
    query = "SELECT record_id, group_id, is_kept FROM duplicate_groups ORDER BY record_id"
    in_memory = con.execute(query).fetchall()
    refresh_duplicates(con)  # the same, read back from the database
    assert [tuple(r) for r in con.execute(query).fetchall()] == [tuple(r) for r in in_memory]


def test_record_rows_write_extra_as_before() -> None:
    """``extra`` as JSON: an empty dict as ``{}``, a missing one as ``null`` (as before
    the rows were built a column at a time)."""
    import pandas as pd

    from synth.store.imports import record_rows

    frame = pd.DataFrame({c: [None, None, None] for c in imports_module._RECORD_FIELDS})
    frame["extra"] = [None, {}, {"a": 1}]
    extra = imports_module._RECORD_FIELDS.index("extra")
    assert [row[extra] for row in record_rows(frame, 1)] == ["null", "{}", '{"a": 1}']


class _Tag(str):
    """A str subclass (what a reader might leave in a list): encoded as a string."""


@pytest.mark.parametrize(
    "value",
    [
        [], ["a", "é \"q\" \\ \n\t"], [_Tag("x")], ["a", 1], [None, 2.5], [float("nan")],
        {"k": [1, {"z": None}], "d": Path("p")}, {1: "x"}, {}, None, 3, 1.5, "s",
    ],
)  # fmt: skip
def test_record_json_is_the_encoders_text(value: object) -> None:
    """Authors, keywords and ``extra`` are written as ``JSONEncoder(ensure_ascii=False,
    default=str).encode`` writes them, though its C encoder is made once (and a list of
    strings is joined without it)."""
    import json

    encode = json.JSONEncoder(ensure_ascii=False, default=str).encode
    assert imports_module._to_json(value) == encode(value)
    assert imports_module._json_list(value) == encode(value)


def test_record_json_fails_as_the_encoder_does() -> None:
    """A value the encoder refuses fails with its own error, not a recursion error."""
    circular: list[object] = []
    circular.append(circular)
    for encode in (imports_module._to_json, imports_module._json_list):
        with pytest.raises(ValueError, match="Circular reference"):
            encode(circular)
        with pytest.raises(ValueError, match="Circular reference"):
            encode({"self": circular})


def test_a_circular_value_is_caught_even_with_a_high_recursion_limit() -> None:
    """The encoder keeps its circular-reference check: with the recursion limit raised (a
    notebook may), a circular value is the encoder's ValueError, not a crash."""
    import subprocess
    import sys

    code = (
        "import sys; sys.setrecursionlimit(10**6)\n"
        "from synth.store.imports import _to_json\n"
        "a = []; a.append(a)\n"
        "try:\n    _to_json({'x': a})\nexcept ValueError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    assert "Circular reference detected" in done.stdout


def test_record_rows_write_integers_and_flags_as_python_ints() -> None:
    """Years, positions, lines, labels and the grey flag are bound as ints or None
    (whatever dtype the frame has them in)."""
    import pandas as pd

    from synth.store.imports import record_rows

    frame = pd.DataFrame({c: [None, None] for c in imports_module._RECORD_FIELDS})
    frame["year"] = pd.array([2001, None], dtype="Int64")
    frame["position"] = [1.0, float("nan")]
    frame["line"] = ["3", None]
    frame["grey"] = pd.array([True, None], dtype="boolean")
    frame["label_included"] = [0, 1]
    rows = record_rows(frame, 1)
    for name, want in [
        ("year", [2001, None]), ("position", [1, None]), ("line", [3, None]),
        ("grey", [1, None]), ("label_included", [0, 1]),
    ]:  # fmt: skip
        got = [row[imports_module._RECORD_FIELDS.index(name)] for row in rows]
        assert got == want and all(v is None or type(v) is int for v in got), name
