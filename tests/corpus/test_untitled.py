"""Records without a title: one rule for every format, applied where files are read.

No title and no DOI/PMID: a failure row (file, line, record number, reason) and no record.
No title but a DOI or PMID: the record is kept, and a warning row says so (issue 14:
BibTeX, MEDLINE and WoS readers used to accept blank records silently).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.corpus import read_file

NO_ID = "no title and no DOI/PMID"
KEPT = "no title; kept because it has an identifier"

#: per format: a file of three records, in this order: titled; untitled with a DOI;
#: untitled with neither DOI nor PMID. Values: (file name, text, line of records 2 and 3)
FILES: dict[str, tuple[str, str, int, int]] = {
    "bibtex": (
        "refs.bib",
        "@article{a,\n  title = {Co-production in care},\n  year = {2020}\n}\n\n"
        "@article{b,\n  author = {Ng, T.},\n  doi = {10.1000/abc}\n}\n\n"
        "@article{c,\n  author = {Wrong, A.}\n}\n",
        6,
        11,
    ),
    "ris": (
        "refs.ris",
        "TY  - JOUR\nTI  - Co-production in care\nER  - \n\n"
        "TY  - JOUR\nAU  - Ng, T.\nDO  - 10.1000/abc\nER  - \n\n"
        "TY  - JOUR\nAU  - Wrong, A.\nPY  - 2001\nER  - \n",
        5,
        10,
    ),
    "medline": (
        "pubmed.nbib",
        "PMID- 111\nTI  - Co-production in care\n\n"
        "PMID- 222\nAU  - Ng T\nLID - 10.1000/abc [doi]\n\n"
        "FAU - Wrong, A\nDP  - 2001\n",
        4,
        8,
    ),
    "wos": (
        "savedrecs.txt",
        "FN Clarivate Analytics Web of Science\nVR 1.0\n"
        "PT J\nTI Co-production in care\nER\n\n"
        "PT J\nAU Ng, T\nDI 10.1000/abc\nER\n\n"
        "PT J\nAU Wrong, A\nPY 2001\nER\n\nEF\n",
        7,
        12,
    ),
    "csv": (
        "refs.csv",
        "title,authors,doi,year\n"
        "Co-production in care,Smith J,,2020\n"
        ",Ng T,10.1000/abc,2019\n"
        ",Wrong A,,2001\n",
        3,
        4,
    ),
    "endnote": (
        "refs.enw",
        "%0 Journal Article\n%T Co-production in care\n\n"
        "%0 Journal Article\n%A Ng, T.\n%R 10.1000/abc\n\n"
        "%0 Journal Article\n%A Wrong, A.\n%D 2001\n",
        4,
        8,
    ),
}


@pytest.mark.parametrize("fmt", sorted(FILES))
def test_untitled_record_fails_unless_it_has_an_identifier(tmp_path: Path, fmt: str) -> None:
    name, text, line_2, line_3 = FILES[fmt]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = read_file(path)
    assert result.format == fmt

    # the titled record and the one with an identifier are kept; the third is not
    assert result.records["position"].tolist() == [1, 2]
    assert result.records["title"].iloc[0] == "Co-production in care"
    assert result.records["title"].isna().tolist() == [False, True]

    rows = result.failures.to_dict("records")
    assert [(r["severity"], r["record"], r["line"]) for r in rows] == [
        ("warning", 2, line_2),
        ("error", 3, line_3),
    ]
    assert rows[0]["reason"] == f"record 2 (line {line_2}): {KEPT} (10.1000/abc)"
    assert rows[1]["reason"] == f"record 3 (line {line_3}): {NO_ID}"
    assert all(r["file"] == name for r in rows)
    assert "Wrong" in rows[1]["raw"]  # the record's own text, to find and fix it


def test_an_untitled_record_kept_by_its_pmid(tmp_path: Path) -> None:
    path = tmp_path / "pubmed.nbib"
    path.write_text("PMID- 222\nAU  - Ng T\n", encoding="utf-8")
    result = read_file(path)
    assert result.records["pmid"].tolist() == ["222"]
    (warning,) = result.failures.itertuples()
    assert warning.severity == "warning"
    assert warning.reason == f"record 1 (line 1): {KEPT} (PMID 222)"


def test_a_file_of_blank_wos_records_is_all_failures(tmp_path: Path) -> None:
    path = tmp_path / "savedrecs.txt"
    path.write_text(
        "FN Clarivate Analytics Web of Science\nVR 1.0\n" + "PT J\nER\n\n" * 50 + "EF\n",
        encoding="utf-8",
    )
    result = read_file(path)
    assert result.records.empty
    assert len(result.failures) == 50
    assert set(result.failures["severity"]) == {"error"}
    assert result.failures["record"].tolist() == list(range(1, 51))
    assert result.failures["line"].tolist() == list(range(3, 3 + 3 * 50, 3))


@pytest.mark.peer
def test_peer_blank_bibtex_entries_are_failures(peer_data: Path) -> None:
    result = read_file(peer_data / "formats" / "bibtexparser-v1" / "wrong.bib")
    assert result.records.empty
    assert result.failures[["line", "record", "severity"]].values.tolist() == [
        [3, 1, "error"],
        [7, 2, "error"],
    ]
    assert (result.failures["reason"].str.endswith(NO_ID)).all()


@pytest.mark.peer
def test_peer_medline_untitled_records_kept_by_pmid_or_failed(peer_data: Path) -> None:
    path = peer_data / "formats" / "jabref" / "MedlinePlainImporterTestMultipleEntries.txt"
    result = read_file(path)
    f = result.failures
    errors, warnings = f[f["severity"] == "error"], f[f["severity"] == "warning"]
    assert errors["reason"].tolist() == [f"record 2 (line 55): {NO_ID}"]
    assert warnings["record"].tolist() == [4, 5, 6, 7]
    kept = result.records.set_index("position")
    assert kept.loc[warnings["record"], "title"].isna().all()
    assert kept.loc[[5, 6, 7], "pmid"].tolist() == ["22664238", "96578310", "45984220"]
    assert result.records["title"].notna().sum() == len(result.records) - len(warnings)


def test_spreadsheet_rows_without_title_show_their_fields(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Title", "Authors", "DOI", "Year"])
    sheet.append(["Co-production in care", "Smith J", None, 2020])
    sheet.append([None, "Ng T", "10.1000/abc", 2019])
    sheet.append([None, "Wrong A", None, 2001])
    path = tmp_path / "refs.xlsx"
    book.save(path)
    result = read_file(path)
    assert result.records["position"].tolist() == [1, 2]
    rows = result.failures[["severity", "record", "line", "raw"]].values.tolist()
    # no file text to cut from a workbook: the row's own fields stand in for it
    assert rows == [
        ["warning", 2, 3, "authors: Ng T | year: 2019 | doi: 10.1000/abc"],
        ["error", 3, 4, "authors: Wrong A | year: 2001"],
    ]
