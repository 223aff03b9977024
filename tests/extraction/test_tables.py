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


# ------------------------------------------------------------------ tables from a store

ALICE, BOB = "alice", "bob"


def _papers(db: Path) -> pd.DataFrame:
    """The included papers of a store (every unique record: the bundled corpus has no
    screening decisions), with the short citation a table names them by."""
    from synth.corpus.citation import citations
    from synth.report.overview import select_records
    from synth.store import connect

    con = connect(db)
    try:
        records = select_records(con).records
    finally:
        con.close()
    return records.assign(citation=citations(records).to_numpy())


def _record(db: Path, events: list[tuple]) -> None:
    """Save (record_id, form_id, field_id, value, reviewer[, kind]) events as the app does."""
    from synth.store import connect
    from synth.store.extraction import record_value

    con = connect(db)
    try:
        for rid, form_id, field_id, value, reviewer, *kind in events:
            record_value(con, rid, form_id, field_id, value, reviewer, kind=(kind or ["value"])[0])
    finally:
        con.close()


def _export(*args: str) -> object:
    from typer.testing import CliRunner

    from synth.cli import app

    return CliRunner().invoke(app, ["export", *args])


@pytest.fixture
def extracted(kei_imported_db: Path, copy_db) -> tuple[Path, pd.DataFrame]:
    """The bundled corpus with three papers extracted: two extractors agreeing, two in
    conflict, and a value the form's choices no longer hold (hostile text and unicode in
    the free text)."""
    from synth.extraction.forms import default_form

    db = copy_db(kei_imported_db)
    papers = _papers(db).sort_values("citation", key=lambda c: c.str.casefold())
    papers = papers.reset_index(drop=True)
    a, b, c = papers["record_id"].iloc[[0, 1, 2]]
    form = default_form().id
    _record(
        db,
        [
            (a, form, "aims", f"Co-design with carers — 患者参与 {HOSTILE}", ALICE),
            (a, form, "aims", f"Co-design with carers — 患者参与 {HOSTILE}", BOB),
            (a, form, "setting", "mental health", ALICE),
            (a, form, "setting", "mental health", BOB),
            (a, form, "approach", ["experience-based co-design"], ALICE),
            (b, form, "setting", "primary care", ALICE),
            (b, form, "setting", "community", BOB),
            (c, form, "setting", "a ward that is no choice", ALICE),
            (c, form, "aims", "ünïcode & <b>bold</b>", ALICE),
        ],
    )
    return db, papers


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".docx"])
def test_export_extraction_on_the_bundled_corpus(extracted, tmp_path: Path, suffix: str) -> None:
    from synth.extraction.forms import default_form

    db, papers = extracted
    out = tmp_path / f"characteristics{suffix}"
    result = _export("extraction", "--db", str(db), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {len(papers)} papers" in result.output
    back = _read_back(out)
    labels = [f.label for f in default_form().key_fields]
    assert list(back.columns) == ["citation", "link", *labels]
    assert back["citation"].tolist() == papers["citation"].tolist()  # one row per paper
    first, second, third = (back.iloc[i] for i in range(3))
    assert first["Aims"] == f"Co-design with carers — 患者参与 {HOSTILE}"
    assert first["Setting"] == "mental health"
    assert second["Setting"] == "conflict: alice: primary care | bob: community"
    assert third["Setting"].startswith("a ward that is no choice [does not fit the form: ")
    assert third["Aims"] == "ünïcode & <b>bold</b>"
    assert (back.iloc[3:][labels] == "").all().all()  # nobody extracted the others
    doi = papers["doi"].iloc[0]
    assert doi and first["link"] == f"https://doi.org/{doi}"  # the citation's link


def test_a_consensus_settles_a_conflict_in_the_table(extracted) -> None:
    from synth.extraction.forms import default_form
    from synth.extraction.tables import characteristics_table
    from synth.store import connect

    db, papers = extracted
    form = default_form()
    _record(
        db, [(papers["record_id"].iloc[1], form.id, "setting", "community", ALICE, "consensus")]
    )
    con = connect(db)
    try:
        table = characteristics_table(con, form)
    finally:
        con.close()
    assert table.loc[1, "Setting"] == "community"


def test_export_appraisal_on_the_bundled_corpus(extracted, tmp_path: Path) -> None:
    from synth.extraction.forms import appraisal_tools

    db, papers = extracted
    tools = appraisal_tools()
    tool = next(t for t in tools.values() if "qualitative" in t.applies_to)
    items = [f for f in tool.fields.values() if f.id != "overall"]
    scale = items[0].choices
    rid = papers["record_id"].iloc[0]
    _record(
        db,
        [
            (rid, tool.id, items[0].id, scale[0], ALICE),
            (rid, tool.id, items[1].id, scale[1], ALICE),
        ],
    )
    out = tmp_path / "appraisal.xlsx"
    result = _export("appraisal", "--db", str(db), "--out", str(out))
    assert result.exit_code == 0, result.output
    back = _read_back(out)
    assert list(back.columns) == [
        "citation",
        "link",
        "tool",
        items[0].label,
        items[1].label,
        "overall",
        f"judgement: {items[0].section}",
        "judgement: overall",
    ]
    assert len(back) == len(papers)  # every paper listed, appraised or not
    row = back.iloc[0]
    assert (row["tool"], row[items[0].label], row[items[1].label]) == (
        tool.title,
        scale[0],
        scale[1],
    )
    assert "overall" not in tool.fields  # so the judgements are counted
    assert row["overall"] == f"1 {scale[0]}, 1 {scale[1]} of {len(items)} items"
    assert (back.iloc[1:]["overall"] == "not appraised").all()
    # the page's traffic light, as columns: a "no" in the domain makes it a high concern
    # (appraisal.yml), and the overall level is the worst judged domain's
    assert (scale[0], scale[1]) == ("yes", "no")
    assert row[f"judgement: {items[0].section}"] == "High concern"
    assert row["judgement: overall"] == "High concern"
    assert (back.iloc[1:]["judgement: overall"].fillna("") == "").all()


def test_export_findings_on_the_bundled_corpus(
    kei_tagged_db: Path, copy_db, tmp_path: Path
) -> None:
    from synth.extraction.cerqual import record_judgement
    from synth.extraction.tables import findings_table
    from synth.store import connect

    db = copy_db(kei_tagged_db)
    con = connect(db)
    try:
        before = findings_table(con)
        assert len(before) > 0
        finding = before.iloc[0]
        record_judgement(con, _finding_id(con, finding["Finding"]), "overall", "low", ALICE)
    finally:
        con.close()
    for suffix in (".csv", ".docx"):
        out = tmp_path / f"findings{suffix}"
        result = _export("findings", "--db", str(db), "--out", str(out))
        assert result.exit_code == 0, result.output
        back = _read_back(out)
        assert list(back.columns) == list(before.columns)
        assert back["Finding"].tolist() == before["Finding"].tolist()
        assert back.loc[0, "Confidence"] == "low*"  # the reviewer's judgement, marked
        assert back["Papers"].tolist() == before["Papers"].astype(str).tolist()


def _finding_id(con, heading: str) -> str:
    from synth.themes import load_theme_codebook

    return next(t.id for t in load_theme_codebook().themes if t.heading == heading)


def test_an_empty_store_writes_each_table_with_its_header(tmp_path: Path) -> None:
    from synth.extraction.forms import default_form
    from synth.store import connect

    db = tmp_path / "empty.sqlite"
    connect(db).close()
    out = tmp_path / "empty.docx"
    result = _export("extraction", "--db", str(db), "--out", str(out))
    assert result.exit_code == 0, result.output
    back = _read_back(out)
    assert list(back.columns) == ["citation", "link", *[f.label for f in default_form().key_fields]]
    assert back.empty
    result = _export("appraisal", "--db", str(db), "--out", str(tmp_path / "a.csv"))
    assert result.exit_code == 0, result.output
    assert list(_read_back(tmp_path / "a.csv").columns) == ["citation", "link", "tool", "overall"]


def test_export_refuses_a_bad_suffix_or_a_missing_store(
    kei_imported_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "table.pdf"
    result = _export("extraction", "--db", str(kei_imported_db), "--out", str(out))
    assert result.exit_code == 2
    assert (
        "table.pdf: cannot write a table as '.pdf'; use one of .csv, .xlsx, .docx" in result.output
    )
    assert "Traceback" not in result.output and not out.exists()
    missing = tmp_path / "nowhere.sqlite"
    result = _export("appraisal", "--db", str(missing), "--out", str(tmp_path / "a.csv"))
    assert result.exit_code == 2 and "nowhere.sqlite: no such review store" in result.output
    assert not missing.exists()
    result = _export("appraisal", "--db", str(kei_imported_db), "--out", str(tmp_path / "a.csv"),
                     "--form", "coproduction-extraction")  # fmt: skip
    assert result.exit_code == 2 and "not an appraisal tool" in result.output


def test_export_refuses_a_bad_form_naming_its_file_and_field(
    kei_imported_db: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "my-form.yml"
    bad.write_text(
        "id: mine\ntitle: Mine\nkind: extraction\nsections:\n  - section: A\n    fields:\n"
        "      - id: aims\n        label: Aims\n        type: colour\n",
        encoding="utf-8",
    )
    out = tmp_path / "t.xlsx"
    args = ["--db", str(kei_imported_db), "--out", str(out), "--form", str(bad)]
    result = _export("extraction", *args)
    assert result.exit_code == 2
    assert "my-form.yml: field 'aims'" in result.output and "unknown type 'colour'" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_a_reviewer_changes_a_findings_confidence_from_the_command_line(
    kei_tagged_db: Path, copy_db, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from synth.cli import app
    from synth.extraction.tables import findings_table
    from synth.store import connect

    db = copy_db(kei_tagged_db)
    con = connect(db)
    try:
        first = findings_table(con).iloc[0]
        finding = _finding_id(con, first["Finding"])
    finally:
        con.close()
    judge = ["extract", "judge", "--db", str(db), "--finding", finding, "--component",
             "overall", "--reviewer", ALICE]  # fmt: skip
    runner = CliRunner()
    result = runner.invoke(app, [*judge, "--level", "very low", "--note", "thin data"])
    assert result.exit_code == 0 and "judgement saved" in result.output, result.output
    con = connect(db)
    try:
        assert findings_table(con).iloc[0]["Confidence"] == "very low*"
    finally:
        con.close()
    cleared = runner.invoke(app, [*judge, "--level", "clear"])
    assert cleared.exit_code == 0 and "withdrawn" in cleared.output
    con = connect(db)
    try:
        assert findings_table(con).iloc[0]["Confidence"] == first["Confidence"]
    finally:
        con.close()
    bad = runner.invoke(app, [*judge[:5], "no-such-theme", *judge[6:], "--level", "low"])
    assert bad.exit_code == 2 and "not a theme id" in bad.output and "Traceback" not in bad.output
    wrong = runner.invoke(app, [*judge, "--level", "rather good"])
    assert wrong.exit_code == 2 and "Traceback" not in wrong.output
