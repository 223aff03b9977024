"""`synth import` of a folder of real PDFs beside a BibTeX file (peer data): the PDFs with
a reference are linked to it, each hard case is one failures row, the rest still load,
and importing again adds nothing."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from synth.cli import app
from synth.store import connect, import_paths, load_failures, load_records
from synth.store import fulltexts as ft
from tests.conftest import PEER

pytestmark = pytest.mark.peer
runner = CliRunner()

#: the PDFs `dev-references.bib` holds the reference of, by BibTeX key
LINKED = {
    "Kriha2018.pdf": "Kriha2018Teaching",
    "Baldoni2002.pdf": "Baldoni2002Fundamentals",
    "Tucker2007.pdf": "Tucker2007OPIUM",
}
#: the files no reader can take, with a word their reason must give
HARD = {
    "encrypted.pdf": "password",
    "scanned-image-only.pdf": "OCR",
    "empty.pdf": "no text",
    "broken-pdf.pdf": "not a PDF",
    "zero-size-pdf.pdf": "empty",
}


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[sqlite3.Connection, Path]:
    folder = PEER / "pdf"
    if not folder.is_dir():
        pytest.skip(f"peer data not found at {folder} (it sits beside the project in CI)")
    con = connect(tmp_path_factory.mktemp("pdf") / "review.sqlite")
    import_paths(con, [folder])
    yield con, folder
    con.close()


def test_every_pdf_with_a_reference_is_linked_to_it(
    imported: tuple[sqlite3.Connection, Path],
) -> None:
    con, _ = imported
    records = load_records(con)
    by_key = dict(zip(records["source_key"], records["record_id"], strict=True))
    links = ft.current_links(con).set_index("file")
    for file, key in LINKED.items():
        link = links.loc[file]
        assert link["record_id"] == by_key[key], file
        assert link["rule"] in ("doi", "title") and link["score"] >= 90, file
        assert link["reviewer"] is None
    # nothing else links to a reference of the .bib: the others are records of their own
    others = links.drop(index=list(LINKED))
    assert set(others["rule"]) == {"own-record"}
    from_pdfs = records[records["source_format"] == "pdf"]
    assert set(others["record_id"]) <= set(from_pdfs["record_id"])
    assert set(from_pdfs["source_file"]) <= set(others.index)


def test_each_hard_case_is_one_failure_row_and_the_good_files_still_load(
    imported: tuple[sqlite3.Connection, Path],
) -> None:
    con, folder = imported
    failures = load_failures(con)
    errors = failures[failures["severity"] == "error"]
    for file, word in HARD.items():
        rows = errors[errors["file"] == file]
        assert len(rows) == 1, file
        assert word.lower() in rows["reason"].iloc[0].lower(), (file, rows["reason"].iloc[0])
        assert "Traceback" not in rows["reason"].iloc[0]
    stored = set(ft.load_pdfs(con)["file"])
    failed = set(errors["file"])
    assert stored | failed == {p.name for p in folder.glob("*.pdf")}
    assert not stored & failed
    assert set(LINKED) <= stored and len(stored) >= 10


def test_importing_again_adds_nothing(imported: tuple[sqlite3.Connection, Path]) -> None:
    con, folder = imported
    before = (len(ft.load_pdfs(con)), len(ft.link_events(con)), len(load_failures(con)))
    n_records = len(load_records(con))
    report = import_paths(con, [folder])
    after = (len(ft.load_pdfs(con)), len(ft.link_events(con)), len(load_failures(con)))
    assert after == before and len(load_records(con)) == n_records
    pdf_rows = report.files[report.files["format"] == "pdf"]
    read = pdf_rows[~pdf_rows["status"].str.startswith("not read")]
    assert set(read["status"]) == {"unchanged (imported before)"}


def test_synth_import_and_export_fulltexts_through_the_cli(tmp_path: Path) -> None:
    """`synth import` of the folder exits 0 with the hard cases listed, not a traceback,
    and `synth export fulltexts` lists the links, read back from its CSV."""
    folder = PEER / "pdf"
    if not folder.is_dir():
        pytest.skip(f"peer data not found at {folder} (it sits beside the project in CI)")
    db, out = tmp_path / "review.sqlite", tmp_path / "fulltexts.csv"
    result = runner.invoke(app, ["import", str(folder), "--db", str(db), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "encrypted.pdf" in result.output
    result = runner.invoke(app, ["export", "fulltexts", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as fh:
        rows = {row["file"]: row for row in csv.DictReader(fh)}
    assert not set(HARD) & set(rows)
    con = connect(db)
    records = load_records(con)
    con.close()
    by_key = dict(zip(records["source_key"], records["record_id"], strict=True))
    for file, key in LINKED.items():
        row = rows[file]
        assert row["record_id"] == by_key[key] and row["rule"] in ("doi", "title"), row
        assert int(row["pages"]) >= 1 and int(row["characters"]) > 1000 and row["used"] == "yes"
