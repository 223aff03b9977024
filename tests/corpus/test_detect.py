"""Format detection: a clear table stays a table, and a short read says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.corpus import detect, read_file

#: a CSV whose cells start like BibTeX entries and a RIS line: data, not markup
HOSTILE_CSV = """Title,Authors,Year
@misc(co-design),"Smith, J",2020
Peer support in a ward,"Doe, A",2021
@article{injected},"Roe, B",2022
TY  - JOUR,"Poe, C",2019
"""


@pytest.mark.parametrize("suffix", [".csv", ".txt", ""])
def test_csv_with_bibtex_looking_cells_stays_csv(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"hostile{suffix}"
    path.write_text(HOSTILE_CSV, encoding="utf-8")
    result = read_file(path)
    assert result.format == "csv"
    assert result.records.title.tolist() == [
        "@misc(co-design)",
        "Peer support in a ward",
        "@article{injected}",
        "TY - JOUR",
    ]
    assert result.records.year.tolist() == [2020, 2021, 2022, 2019]
    assert result.failures.empty


def test_tab_header_with_title_column_is_tsv() -> None:
    assert detect.sniff("PT\tAU\tTI\tSO\nJ\tSmith, J\tA title\tA journal\n", ".txt") == "tsv"
    assert detect.sniff("Title;Authors;Year\n@misc{x,\n", ".csv") == "csv"


def test_content_still_decides_without_a_table_header() -> None:
    # mislabelled exports are common: RIS saved as .txt or .csv, BibTeX as .csv
    assert detect.sniff("TY  - JOUR\nTI  - A\nER  - \n", ".csv") == "ris"
    assert detect.sniff("@article{k,\n  title = {A},\n}\n", ".csv") == "bibtex"
    assert detect.sniff("% Encoding: UTF-8\n\n@book{k, title={A}}\n", ".txt") == "bibtex"


def test_far_fewer_records_than_record_marks_is_reported(tmp_path: Path) -> None:
    # ten ER lines with nothing before them, then one record: 1 record where 11 are marked
    path = tmp_path / "savedrecs.txt"
    path.write_text("FN Clarivate\nVR 1.0\n" + "ER\n\n" * 10 + "PT J\nTI Kept\nER\nEF\n")
    result = read_file(path)
    assert result.format == "wos"
    assert result.records.title.tolist() == ["Kept"]
    [warning] = result.failures.itertuples()
    assert warning.file == "savedrecs.txt"
    assert warning.severity == "warning"
    assert warning.reason.startswith("only 1 record read as wos, but the file has 11 PT or ER")


def test_a_complete_read_gives_no_shortfall_warning(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text(
        'Title,Abstract\n"A","line one\nline two\nline three"\n"B","x"\n,\n,,\n', encoding="utf-8"
    )
    result = read_file(path)
    assert result.records.title.tolist() == ["A", "B"]
    assert result.failures.empty


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("ris", "TY  - JOUR\nER  - \n\nTY  - BOOK\nER  - \n", 2),
        ("wos", "FN x\nVR 1.0\n" + "ER\n" * 5 + "PT J\nTI a\nER\nEF\n", 6),
        ("bibtex", "@string{a = {b}}\n@comment{x}\n@article{k,\n}\n@Book (j,\n)\n", 2),
        ("csv", 'Title\n"a\nb"\n\nc\n,,\n', 2),
    ],
)
def test_expected_records(fmt: str, text: str, expected: int) -> None:
    assert detect.expected_records(text, fmt)[0] == expected  # type: ignore[index]
