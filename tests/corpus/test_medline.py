"""PubMed MEDLINE / .nbib reader."""

from __future__ import annotations

import pytest

from synth.corpus import ReadError, read_file
from synth.corpus.readers import medline


def parse(text: str):
    return medline.parse(text, "test.nbib")


def test_pubmed_fixture(fixtures):
    result = read_file(fixtures / "tagged" / "pubmed.nbib")
    assert result.format == "medline" and result.database == "PubMed"
    assert result.failures.empty
    df = result.records
    assert df["pmid"].tolist() == ["33524002", "31870001", "30000003"]
    assert df["line"].tolist() == [1, 45, 67]
    first = df.iloc[0]
    assert first["title"] == (
        "Co-producing a community health intervention with older adults: a process "
        "evaluation of a participatory study."
    )
    assert first["authors"] == ["Jones, Mary Elizabeth", "van der Berg, Pieter"]
    assert (first["year"], first["volume"], first["issue"], first["pages"]) == (
        2021,
        "21",
        "1",
        "245",
    )
    assert first["venue"] == "BMC public health"
    assert first["doi"] == "10.1186/s12889-021-10283-5"
    assert first["abstract"].startswith("BACKGROUND: Co-production with older adults is widely")
    assert first["abstract"].endswith("CONCLUSIONS: Co-production is feasible.")
    keywords = ["Aged", "*Community Participation", "Humans", "co-production", "older adults"]
    assert first["keywords"] == keywords  # MH then OT
    assert first["language"] == "eng"
    assert first["pub_type"] == "journal-article"
    assert first["source_key"] == "33524002"
    assert first["extra"]["PT"] == ["Journal Article", "Research Support, Non-U.S. Gov't"]
    assert first["extra"]["TA"] == "BMC Public Health"
    # the most specific publication type wins
    assert df.iloc[1]["pub_type"] == "review-article"
    third = df.iloc[2]
    assert third["pub_type"] == "book-chapter"
    assert third["authors"] == ["INVOLVE Advisory Group"]  # CN when no person is named
    assert third["venue"] == "NIHR INVOLVE Guidance"
    assert third["publisher"] == "NIHR INVOLVE"


def test_short_authors_when_no_full_names():
    [rec] = parse("PMID- 1\nTI  - T\nAU  - Long V\nAU  - Marland H\n").records
    assert rec["authors"] == ["Long V", "Marland H"]


def test_records_without_blank_line_between_them():
    text = "PMID- 1\nTI  - One\nPMID- 2\nTI  - Two\n"
    assert [r["pmid"] for r in parse(text).records] == ["1", "2"]


def test_tag_spacing_variants_and_aid_doi():
    text = "PMID-22664220\nPT  - Technical Report\nAID - doi:10.1016/j.cpr.2005.02.002\n"
    [rec] = parse(text).records
    assert rec["pmid"] == "22664220"
    assert rec["doi"] == "10.1016/j.cpr.2005.02.002"


def test_lid_without_doi_marker_is_not_a_doi():
    [rec] = parse("PMID- 1\nTI  - T\nLID - e0815 [pii]\n").records
    assert "doi" not in rec


def test_stray_text_between_records_is_skipped():
    text = "PMID- 1\nTI  - One\n\nThis line should be omitted.\n\nPMID- 2\nTI  - Two\n"
    parsed = parse(text)
    assert [r["title"] for r in parsed.records] == ["One", "Two"]
    assert [r["line"] for r in parsed.records] == [1, 6]


def test_broken_records_are_failures_with_their_line():
    text = "PMID- 1\nTI  - Good\n\nOWN - NLM\nSTAT- MEDLINE\n\nPMID- 3\nTI  - Bad \x00\x01\n"
    parsed = parse(text)
    assert [r["title"] for r in parsed.records] == ["Good"]
    reasons = [f.reason for f in parsed.failures]
    assert reasons == [
        "record 2 (line 4): no PMID, title, abstract or authors",
        "record 3 (line 7): contains binary data (control characters); skipped",
    ]


def test_no_tag_lines_raises():
    with pytest.raises(ReadError, match="no PubMed/MEDLINE records"):
        parse("nothing\n   here\n")
