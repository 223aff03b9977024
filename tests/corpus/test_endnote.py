"""EndNote tagged (.enw) and refer (.ref) reader."""

from __future__ import annotations

import pytest

from synth.corpus import ReadError, detect, read_file
from synth.corpus.readers import endnote


def parse(text: str):
    return endnote.parse(text, "test.enw")


def test_enw_fixture(fixtures):
    result = read_file(fixtures / "tagged" / "records.enw")
    assert result.format == "endnote" and result.database == "EndNote"
    assert result.failures.empty
    df = result.records
    assert df["pub_type"].tolist() == ["journal-article", "book-chapter", "report"]
    assert df["grey"].tolist() == [False, False, True]
    assert df["line"].tolist() == [1, 19, 29]
    first = df.iloc[0]
    assert first["authors"] == ["Smith, Jane A.", "O'Neill, Patrick"]
    assert (first["venue"], first["volume"], first["issue"], first["pages"]) == (
        "Health Research Policy and Systems",
        "18",
        "1",
        "112-128",
    )
    assert first["year"] == 2020
    assert first["doi"] == "10.1186/s12961-020-00621-4"
    assert first["abstract"] == (
        "Background: Co-production is increasingly promoted in health research. "
        "Methods: We searched five databases."
    )
    assert first["keywords"] == ["co-production", "patient and public involvement"]
    assert first["extra"]["%@"] == "1478-4505"
    second = df.iloc[1]
    assert second["venue"] == "Handbook of Community Psychology"  # %B for a book section
    assert second["extra"]["%E"] == "Brown, K."
    assert df.iloc[2]["publisher"] == "NIHR INVOLVE"


def test_refer_without_reference_type(fixtures):
    result = read_file(fixtures / "tagged" / "refer.ref", fmt="endnote")
    assert result.records["title"].tolist() == [
        "A refer record without a reference type",
        "A second refer record",
    ]
    assert result.records["authors"][0] == ["Brown, K.", "Green, L."]
    assert result.database is None  # refer, not EndNote: no %0


def test_sniffer_recognises_refer_starting_with_author(fixtures):
    text = (fixtures / "tagged" / "refer.ref").read_text("utf-8")
    assert detect.sniff(text, ".ref") == "endnote"


def test_second_type_line_starts_a_new_record():
    parsed = parse("%0 Journal Article\n%T One\n%0 Book\n%T Two\n")
    assert [r["title"] for r in parsed.records] == ["One", "Two"]
    assert [r["line"] for r in parsed.records] == [1, 3]


def test_pubmed_accession_number_is_the_pmid():
    [rec] = parse("%0 Journal Article\n%T T\n%M 21553931\n%~ PubMed\n").records
    assert rec["pmid"] == "21553931"
    assert rec["database"] == "PubMed"


def test_abstract_paragraphs_after_a_blank_line_stay_in_the_record():
    [rec] = parse("%0 Journal Article\n%T T\n%X First paragraph.\n\nSecond paragraph.\n").records
    assert rec["abstract"] == "First paragraph.\n\nSecond paragraph."


def test_empty_and_binary_records_are_failures():
    text = "%0 Journal Article\n\n%0 Book\n%T Bad \x00\x03\n\n%0 Report\n%T Good\n"
    parsed = parse(text)
    assert [r["title"] for r in parsed.records] == ["Good"]
    assert [f.reason for f in parsed.failures] == [
        "record 1 (line 1): empty record (nothing but %0)",
        "record 2 (line 3): contains binary data (control characters); skipped",
    ]


def test_no_tag_lines_raises():
    with pytest.raises(ReadError, match="no EndNote/refer records"):
        parse("plain text\n")
