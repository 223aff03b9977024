"""The manuscript tables (characteristics, appraisal, summary of findings) and their
writers: CSV, XLSX and DOCX read back with the same values."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synth.extraction.tables import write_table

HOSTILE = "<script>alert('x')</script>"
#: text a spreadsheet would run as a formula (the CSV writer neutralises it with a ')
FORMULA = '=HYPERLINK("http://evil.example","click")'


def _sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "citation": ["Bombard et al. 2018", "Łukasz and Søren 2021", "Ōtsuka 2019"],
            "link": ["https://doi.org/10.1186/s13012-018-0738-z", "", "http://example.org/a?b=1&c"],
            "Setting": ["acute care; mental health", "primary care", ""],
            "Aims": [HOSTILE, "Co-design with carers — 患者参与\nsecond line", "ümlaut & <b>"],
            "Participants": ["patients, carers & staff", "", "x < y > z"],
        }
    )


def _read_docx(path: Path) -> tuple[pd.DataFrame, object]:
    import docx

    doc = docx.Document(str(path))
    assert len(doc.tables) == 1
    grid = doc.tables[0]
    rows = [[c.text for c in row.cells] for row in grid.rows]
    return pd.DataFrame(rows[1:], columns=rows[0]), grid


def _read_back(path: Path) -> pd.DataFrame:
    """The table as text cells, missing -> '' (a CSV or XLSX reader's NaN)."""
    if path.suffix == ".docx":
        return _read_docx(path)[0]
    if path.suffix == ".csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    else:
        df = pd.read_excel(path, dtype=str, keep_default_na=False)
    return df


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".docx"])
def test_each_format_reads_back_the_same_values(tmp_path: Path, suffix: str) -> None:
    table = _sample()
    out = write_table(table, tmp_path / f"characteristics{suffix}", title="Characteristics")
    back = _read_back(out)
    assert list(back.columns) == list(table.columns)
    pd.testing.assert_frame_equal(back, table.astype(str), check_dtype=False)


def test_xlsx_keeps_text_as_text_and_links_the_citation(tmp_path: Path) -> None:
    import openpyxl

    table = _sample()
    table.loc[1, "Aims"] = FORMULA
    out = write_table(table, tmp_path / "t.xlsx", title="Characteristics: [included]")
    ws = openpyxl.load_workbook(out).active
    assert ws.title == "Characteristics   included"
    assert [c.value for c in ws[1]] == list(table.columns)
    assert all(c.font.bold for c in ws[1])
    aims = ws.cell(row=3, column=4)
    assert aims.value == FORMULA and aims.data_type == "s"  # text, never a formula
    assert ws.cell(row=2, column=1).hyperlink.target == table.loc[0, "link"]
    assert ws.cell(row=3, column=1).hyperlink is None  # no link, no hyperlink
    assert ws.cell(row=2, column=4).value == HOSTILE


def test_csv_neutralises_formulas_as_every_synth_csv(tmp_path: Path) -> None:
    table = _sample()
    table.loc[1, "Aims"] = FORMULA
    back = _read_back(write_table(table, tmp_path / "t.csv"))
    assert back.loc[1, "Aims"] == "'" + FORMULA
    assert back.loc[0, "Aims"] == HOSTILE


def test_docx_is_a_word_table_with_a_header_row_and_linked_citations(tmp_path: Path) -> None:
    from docx.oxml.ns import qn

    table = _sample()
    out = write_table(table, tmp_path / "t.docx", title="Characteristics of included studies")
    _, grid = _read_docx(out)
    header = grid.rows[0]
    assert header._tr.trPr.find(qn("w:tblHeader")) is not None  # repeated on each page
    assert all(r.bold for c in header.cells for r in c.paragraphs[0].runs)
    first = grid.rows[1].cells[0].paragraphs[0]
    assert [h.url for h in first.hyperlinks] == [table.loc[0, "link"]]
    assert grid.rows[2].cells[0].paragraphs[0].hyperlinks == []
    assert grid.rows[1].cells[3].text == HOSTILE  # text in the XML, not markup
    import docx

    assert docx.Document(str(out)).paragraphs[0].text == "Characteristics of included studies"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".docx"])
def test_an_empty_table_still_writes_its_header(tmp_path: Path, suffix: str) -> None:
    empty = pd.DataFrame(columns=["citation", "link", "Setting", "Overall"])
    back = _read_back(write_table(empty, tmp_path / f"empty{suffix}"))
    assert list(back.columns) == list(empty.columns)
    assert back.empty


@pytest.mark.parametrize("name", ["t.pdf", "t.xls", "t"])
def test_other_suffixes_are_refused_naming_the_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match=r"t(\.pdf|\.xls)?: cannot write a table as .*\.csv"):
        write_table(_sample(), tmp_path / name)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("suffix", [".xlsx", ".docx"])
def test_characters_xml_cannot_hold_are_shown_replaced(tmp_path: Path, suffix: str) -> None:
    table = pd.DataFrame({"citation": ["A 2020"], "Aims": ["bell\x07 and tab\tkept"]})
    back = _read_back(write_table(table, tmp_path / f"t{suffix}"))
    assert back.loc[0, "Aims"] == "bell\ufffd and tab\tkept"


def test_numbers_stay_numbers_in_xlsx(tmp_path: Path) -> None:
    import openpyxl

    table = pd.DataFrame({"citation": ["A 2020", "B 2021"], "papers": [3, 12]})
    ws = openpyxl.load_workbook(write_table(table, tmp_path / "t.xlsx")).active
    assert [ws.cell(row=r, column=2).value for r in (2, 3)] == [3, 12]
