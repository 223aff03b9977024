"""CSV/TSV/XLSX readers: column aliases, database detection, line numbers, broken rows."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from synth.corpus import ReadError, read_file
from synth.corpus.readers.tabular import (
    alias_table,
    normalise_header,
    parse_csv,
    parse_tsv,
    parse_xlsx,
    sniff_delimiter,
)


def values(column: pd.Series) -> list:
    """A column as a list with missing values as ``None`` (pandas may hold NaN)."""
    return [None if not isinstance(v, list) and pd.isna(v) else v for v in column]


@pytest.fixture
def tabular(fixtures: Path) -> Path:
    return fixtures / "tabular"


def test_scopus_csv_quoted_commas_embedded_newlines_and_aliases(tabular: Path) -> None:
    result = read_file(tabular / "scopus.csv")
    recs = result.records
    assert result.format == "csv" and result.database == "Scopus"
    assert result.failures.empty
    assert recs.position.tolist() == [1, 2, 3, 4, 5]
    # row 2's abstract spans three physical lines, so rows 3-5 start three lines later
    assert recs.line.tolist() == [2, 3, 6, 7, 8]
    assert recs.title[2] == "Designing public policy for co-production: theory, practice and change"
    assert recs.abstract[1].startswith("Background: Coproduction, the collaboration")
    assert "Main body:" in recs.abstract[1]
    assert 'shape "public policy"?' in recs.abstract[2]
    # "Author full names" wins over "Authors"; Scopus author ids are stripped
    assert recs.authors[0] == [
        "Palmer, Victoria J.",
        "Weavell, Wayne",
        "Callander, Rosemary",
        "Piper, Donella",
    ]
    assert recs.extra[0]["Authors"] == "Palmer V.J., Weavell W., Callander R., Piper D."
    assert values(recs.pages) == ["247-257", None, "1-264", "846-860", None]
    assert recs.extra[4]["Art. No."] == "g7714"
    assert recs.venue[0] == "Medical Humanities" and recs.year[0] == 2019
    assert recs.doi[1] == "10.1186/s12961-019-0432-3"
    assert recs.pmid[0] == "30077972"
    assert recs.source_key[0] == "2-s2.0-85050883567"
    assert recs.pub_type.tolist()[:3] == ["journal-article", "review-article", "book"]
    assert recs.language[0] == "English"
    assert recs.keywords[0] == ["codesign", "coproduction", "participation"]
    # no author keywords: index keywords stand in; where both exist the index ones go to extra
    assert recs.keywords[3] == ["public services", "user involvement"]
    assert recs.extra[0]["Index Keywords"] == "article; health care delivery; human"
    assert recs.extra[0]["Cited by"] == "212"


def test_scopus_abbreviated_authors_become_family_comma_initials() -> None:
    text = (
        "Title,Authors,Source title,EID\n"
        'A study,"Adler D.G., Liu R., Quintanilla-Dieck L.",J,2-s2.0-1\n'
    )
    rec = parse_csv(text, "scopus.csv").records[0]
    assert rec["authors"] == ["Adler, D.G.", "Liu, R.", "Quintanilla-Dieck, L."]


def test_wos_tab_delimited_export(tabular: Path) -> None:
    result = read_file(tabular / "wos_savedrecs.txt")
    recs = result.records
    assert result.format == "tsv" and result.database == "Web of Science"
    assert result.encoding_how == "bom"
    # rows end with a stray tab: that is not a wrong number of fields
    assert result.failures.empty and len(recs) == 3
    # WoS does not quote fields: a title starting with " stays whole
    assert recs.title[1] == (
        '"Nothing about us without us": user involvement and co-production in mental health'
    )
    assert recs.abstract[1].startswith('Service users argue that "involvement"')
    assert recs.authors[2] == ["Osborne, Stephen P.", "Radnor, Zoe", "Strokosch, Kirsty"]
    assert recs.extra[0]["AU"] == "Brandsen, T; Honingh, M"
    assert values(recs.pages) == ["427-435", "279-291", "639-653"]
    assert recs.venue[0] == "PUBLIC ADMINISTRATION REVIEW"
    assert recs.keywords[0] == ["coproduction", "public services", "citizen participation"]
    assert recs.keywords[1] == []
    assert recs.source_key.tolist()[0] == "WOS:000375167300014"
    assert values(recs.pmid) == [None, "31234567", None]
    assert recs.pub_type.tolist() == ["journal-article", "journal-article", "review-article"]
    assert recs.extra[0]["PG"] == "9"  # page count is not pages
    assert recs.line.tolist() == [2, 3, 4]


def test_rayyan_decisions_are_read_from_notes(tabular: Path) -> None:
    result = read_file(tabular / "rayyan.csv")
    recs = result.records
    assert result.database == "Rayyan" and result.failures.empty
    # agreed include, agreed exclude, conflict, maybe, no decision
    assert values(recs.label_included) == [1, 0, None, None, None]
    assert recs.extra[0]["notes"].startswith('RAYYAN-INCLUSION: {"Alice"=>"Included"')
    assert recs.extra[0]["pmc_id"] == "PMC5366138"
    assert recs.source_key[0] == "rayyan-412001"
    assert recs.pmid[0] == "28335746"
    assert recs.authors[0] == ["Gillard, Steve", "Foster, Rhiannon", "Gibson, Sarah"]
    assert recs.venue[0] == "BMC Psychiatry" and recs.pages[1] == "45-52"


def test_rayyan_label_column_wins_over_notes() -> None:
    text = (
        "key,title,notes,pmc_id,included\n"
        'r1,A,"RAYYAN-INCLUSION: {""A""=>""Included""}",,0\n'
        'r2,B,"RAYYAN-INCLUSION: {""A""=>""Included""}",,\n'
    )
    recs = parse_csv(text, "r.csv").records
    assert [r.get("label_included") for r in recs] == ["0", 1]


def test_covidence_export(tabular: Path) -> None:
    result = read_file(tabular / "covidence.csv")
    recs = result.records
    assert result.database == "Covidence" and len(recs) == 3
    assert recs.source_key.tolist() == ["#45", "#46", "#47"]
    assert recs.authors[0][:2] == ["Redman S", "Greenhalgh T"]
    assert recs.year.tolist() == [2021, 2016, 2020]
    assert recs.venue[1] == "Milbank Quarterly" and recs.pages[1] == "392-429"
    assert values(recs.abstract)[2] is None
    assert recs.extra[0] == {
        "Published Month": "Oct",
        "Accession Number": "34620185",
        "Ref": "12",
        "Study": "Redman 2021",
        "Notes": "Full text retrieved",
        "Tags": "co-production; review",
    }


def test_asreview_labelled_csv(tabular: Path) -> None:
    result = read_file(tabular / "asreview_labelled.csv")
    recs = result.records
    assert result.database == "ASReview"
    assert values(recs.label_included) == [1, 0, 0, None]
    # the abstract-stage label never stands in for the final one
    assert [e["label_abstract_screening"] for e in recs.extra] == ["1", "0", "1", "1"]
    assert recs.source_key.tolist() == ["101", "102", "103", "104"]
    assert recs.doi[0] == "10.1186/s12913-020-05000-1"
    assert recs.abstract[3] == "Staff and users co-designed a service, then evaluated it."
    assert recs.authors[0] == ["Park, Jin", "Evans, Mary"]


def test_semicolon_csv_is_detected(tabular: Path) -> None:
    result = read_file(tabular / "semicolon.csv")
    recs = result.records
    assert len(recs) == 2 and result.failures.empty
    assert values(recs.title)[0] == "Co-production with older people: a Dutch case study"
    assert recs.extra[0] == {"Titel": "Eine Studie"}
    assert recs.authors[0] == ["van den Berg, Anna", "de Vries, Jan"]
    assert recs.abstract[1] == "Citizens allocated 1,5 million euro, then reviewed it."
    assert values(recs.label_included) == [1, 0]


def test_zotero_csv(tabular: Path) -> None:
    result = read_file(tabular / "zotero.csv")
    recs = result.records
    assert result.database == "Zotero"
    assert recs.source_key.tolist() == ["QW3ERT7Y", "ZX81AB2C"]
    assert recs.pub_type[0] == "report" and bool(recs.grey[0])
    assert recs.publisher[0] == "NHS Wales"
    assert recs.authors[1] == ["Farr, Michelle", "Davies, Philippa"]
    assert recs.keywords[1] == ["pandemic", "co-production"]
    assert recs.extra[1]["Automatic Tags"] == "COVID-19"
    assert recs.venue[1] == "Health Expectations" and recs.abstract[0].startswith("A practical")


def test_row_with_wrong_number_of_fields_is_a_failure_not_a_shift(tabular: Path) -> None:
    result = read_file(tabular / "broken.csv")
    recs, failures = result.records, result.failures
    assert values(recs.title) == [
        "Co-production in primary care: a qualitative study",
        "Working with carers as partners",
    ]
    assert recs.position.tolist() == [1, 3] and recs.line.tolist() == [2, 4]
    assert failures.line.tolist() == [3] and failures.record.tolist() == [2]
    assert failures.reason[0] == "record 2 (line 3): 5 fields where the header has 4"
    assert failures.raw[0].rstrip("\n").endswith("10.1000/a2,unexpected")
    assert failures.file[0] == "broken.csv"


def test_unmatched_quote_fails_one_line_and_reading_resumes() -> None:
    text = (
        "title,year\n"
        "Good one,2001\n"
        '"Unclosed quote swallows the rows below,2002\n'
        "Next one,2003\n"
        "Last one,2004\n"
        '"A quoted, fine title",2005\n'
    )
    parsed = parse_csv(text, "q.csv")
    titles = [r["title"] for r in parsed.records]
    assert titles == ["Good one", "Next one", "Last one", "A quoted, fine title"]
    assert [r["line"] for r in parsed.records] == [2, 4, 5, 6]
    assert [r["position"] for r in parsed.records] == [1, 3, 4, 5]
    (failure,) = parsed.failures
    assert failure.line == 3 and failure.record == 2
    assert "unmatched quote" in failure.reason and "resumed at line 4" in failure.reason
    assert failure.raw.startswith('"Unclosed quote')


def test_multiline_row_with_an_extra_field_fails_whole() -> None:
    text = 'title,abstract\nA,"first line\nsecond line",extra\nB,fine\n'
    parsed = parse_csv(text, "m.csv")
    assert [r["title"] for r in parsed.records] == ["B"]
    (failure,) = parsed.failures
    assert failure.line == 2 and "3 fields where the header has 2" in failure.reason
    assert "second line" in failure.raw


def test_no_title_column_is_a_read_error_naming_the_columns() -> None:
    with pytest.raises(ReadError, match=r"no title column.*'abstract', 'year'"):
        parse_csv("abstract,year\nSome text,2020\n", "untitled.csv")


def test_header_matching_ignores_case_spaces_underscores_and_punctuation() -> None:
    text = " TITLE ,Publication_Year,D.O.I.,Label-Included,My Own Column\nA,2019,10.1/X,1,kept\n"
    (rec,) = parse_csv(text, "h.csv").records
    assert rec["title"] == "A" and rec["year"] == "2019" and rec["doi"] == "10.1/X"
    assert rec["label_included"] == "1"
    assert rec["extra"] == {"My Own Column": "kept"}
    assert normalise_header("Page start") == normalise_header("page_start") == "pagestart"


def test_blank_and_all_empty_rows_are_skipped_missing_values_stay_empty() -> None:
    text = 'title,abstract\n"Title of reference",""\n\n,,\n"",Only an abstract\nT2,\n'
    parsed = parse_csv(text, "mv.csv")
    assert parsed.failures == []
    assert [r.get("title") for r in parsed.records] == ["Title of reference", None, "T2"]
    assert [r.get("abstract") for r in parsed.records] == [None, "Only an abstract", None]
    assert [r["line"] for r in parsed.records] == [2, 5, 6]


def test_crlf_inside_quoted_fields_counts_lines() -> None:
    text = 'title,abstract\r\nA,"one\r\ntwo\r\nthree"\r\nB,x\r\n'
    parsed = parse_csv(text, "crlf.csv")
    assert [r["line"] for r in parsed.records] == [2, 5]
    assert parsed.records[0]["abstract"] == "one\r\ntwo\r\nthree"


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("title,abstract\nA,x\n", ","),
        ("title;abstract;year\nA;one, two, three, four;2001\n", ";"),
        ("title\tabstract\nA, b, c\tx; y\n", "\t"),
        ("title|abstract|year\nA|one, two; three|2001\n", "|"),
    ],
)
def test_sniff_delimiter(text: str, delimiter: str) -> None:
    assert sniff_delimiter(text) == delimiter
    assert parse_csv(text, "d.csv").records[0]["title"].startswith("A")


def test_parse_tsv_without_tabs_falls_back_to_detection() -> None:
    parsed = parse_tsv("title,year\nA,2001\n", "mislabelled.tsv")
    assert parsed.records[0]["year"] == "2001"


def test_embase_source_and_openurl_fill_venue_and_doi() -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Title", "Author Names", "Source", "Open URL Link", "Emtree Drug Index Terms"])
    writer.writerow(
        [
            "Co-design of a ward",
            "Liu R., Adler D.G.",
            "Cancer (2004) 102:4 (253-258). Date of Publication: 25 Aug 2004",
            "http://sfx.example/x?sid=EMBASE&id=doi:10.1002%2Fcncr.20369&atitle=Co",
            "drug a (drug therapy, adverse), drug b",
        ]
    )
    parsed = parse_csv(out.getvalue(), "embase.csv")
    (rec,) = parsed.records
    assert parsed.database == "Embase"
    assert rec["authors"] == ["Liu, R.", "Adler, D.G."]
    assert (rec["venue"], rec["year"], rec["volume"], rec["issue"], rec["pages"]) == (
        "Cancer",
        "2004",
        "102",
        "4",
        "253-258",
    )
    assert rec["doi"] == "10.1002%2Fcncr.20369"  # the normaliser unquotes it
    assert rec["extra"]["Source"].startswith("Cancer (2004)")


def test_xlsx_export(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "references"
    ws.append(["Title", "Authors", "Year", "DOI", "Included", "Date added", "Reviewer note"])
    ws.append(["Co-production in care homes", "Kim, Y; Lee, S", 2021, "10.1000/ABC", True,
               datetime(2024, 1, 2, 10, 0), None])  # fmt: skip
    ws.append([None] * 7)  # an empty spreadsheet row is skipped
    ws.append(["Community health workers as co-researchers", None, 2019.0, None, False, None,
               "check", "a cell right of the header"])  # fmt: skip
    other = wb.create_sheet("excluded")
    other.append(["Title"])
    other.append(["Not read"])
    path = tmp_path / "screening.xlsx"
    wb.save(path)

    result = read_file(path)
    recs = result.records
    assert result.format == "xlsx"
    assert values(recs.title) == [
        "Co-production in care homes",
        "Community health workers as co-researchers",
    ]
    assert recs.year.tolist() == [2021, 2019]
    assert recs.authors[0] == ["Kim, Y", "Lee, S"]
    assert recs.doi[0] == "10.1000/abc"
    assert values(recs.label_included) == [1, 0]
    assert recs.line.tolist() == [2, 4] and recs.position.tolist() == [1, 2]
    assert recs.extra[0] == {"Date added": "2024-01-02T10:00:00"}
    assert recs.extra[1] == {"Reviewer note": "check", "column 8": "a cell right of the header"}
    assert "sheet 'excluded' was not read" in result.failures.reason[0]


def test_xlsx_without_title_column_and_damaged_workbook(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.append(["Abstract", "Year"])
    wb.active.append(["Text", 2020])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ReadError, match=r"sheet 'Sheet' has no title column.*'Abstract'"):
        parse_xlsx(buf.getvalue(), "untitled.xlsx")
    with pytest.raises(ReadError, match="not a readable Excel workbook"):
        parse_xlsx(b"PK\x03\x04xl/ but not a zip", "damaged.xlsx")


def test_alias_table_is_data_and_valid() -> None:
    table = alias_table()
    fields = {rule.field for rule in table.fields}
    assert {"title", "authors", "year", "doi", "label_included", "source_key"} <= fields
    names = [db.name for db in table.databases]
    assert {"Scopus", "Web of Science", "Embase", "Rayyan", "Covidence", "ASReview"} <= set(names)
    assert alias_table() is table  # loaded once


@pytest.mark.slow
def test_100k_rows_with_multiline_fields_keep_their_lines() -> None:
    """Scale, not speed (benchmarks/ measures speed): every row and its line are right."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Authors", "Title", "Year", "Source title", "DOI", "Abstract", "EID"])
    abstract = "Co-production with patients and staff, evaluated over two years. " * 8 + "\nEnd."
    for i in range(100_000):
        writer.writerow(
            ["Smith J., Jones K.", f"Title {i}", 2000 + i % 24, "J", f"10.1/{i}", abstract, i]
        )
    text = out.getvalue()
    parsed = parse_csv(text, "big.csv")
    assert len(parsed.records) == 100_000 and not parsed.failures
    assert parsed.records[-1]["line"] == 2 + 99_999 * 2  # each abstract spans two lines


@pytest.mark.parametrize("brk", ["\u2028", "\u0085", "\u2029"])
def test_rows_separated_by_unicode_line_breaks(tmp_path: Path, brk: str) -> None:
    rows = [
        "Title,Authors,Year",
        '"Co-design, in wards","Smith, J",2020',
        "Peer support,Doe A,2021",
    ]
    path = tmp_path / "export.csv"
    path.write_text(brk.join(rows) + brk, encoding="utf-8")
    result = read_file(path)
    assert result.records.title.tolist() == ["Co-design, in wards", "Peer support"]
    assert result.records.year.tolist() == [2020, 2021]
    assert result.records.line.tolist() == [2, 3]
    assert result.failures.empty


def test_unicode_line_breaks_inside_fields_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text('Title,Year\n"Part one\u2028part two",2020\nA\u0085B,2021\n', encoding="utf-8")
    result = read_file(path)
    assert len(result.records) == 2 and result.failures.empty
    assert result.records.year.tolist() == [2020, 2021]


def test_header_without_rows_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "empty-search.csv"
    path.write_text("Title,Authors,Year\n,,\n", encoding="utf-8")
    result = read_file(path)
    assert result.records.empty
    assert result.failures.reason.tolist() == [
        "has a header row (line 1) but no data rows below it"
    ]
