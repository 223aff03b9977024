"""Web of Science plain-text reader."""

from __future__ import annotations

import pytest

from synth.corpus import ReadError, read_file
from synth.corpus.readers import wos


def parse(text: str):
    return wos.parse(text, "savedrecs.txt")


def test_wos_fixture(fixtures):
    result = read_file(fixtures / "tagged" / "savedrecs.ciw")
    assert result.format == "wos" and result.database == "Web of Science"
    assert result.failures.empty
    first, second = result.records.iloc[0], result.records.iloc[1]
    assert first["title"] == (
        "Interactions stabilizing the structure of the core light-harvesting complex (LH1) "
        "of photosynthetic bacteria"
    )
    assert first["authors"] == ["Parkes-Loach, Pamela S.", "Majeed, Ali P."]  # AF over AU
    assert (first["venue"], first["year"], first["volume"], first["issue"]) == (
        "BIOCHEMISTRY",
        2001,
        "40",
        "22",
    )
    assert first["pages"] == "6521-6530"
    assert first["doi"] == "10.1021/bi010179k"
    assert first["pmid"] == "11380246"
    assert first["keywords"] == [
        "light harvesting",
        "photosynthesis",
        "reconstitution",
        "CHEMICALLY SYNTHESIZED POLYPEPTIDES",
        "IN-VITRO RECONSTITUTION",
        "AMINO-ACID-SEQUENCE",
    ]
    assert first["abstract"].startswith("Reconstitution experiments with a chemically")
    assert first["source_key"] == "WOS:000169187300011"
    assert first["pub_type"] == "journal-article"
    assert first["extra"]["CR"] == [
        "BERCHA DM, 1997, FIZ TVERD TELA, V39, P1219",
        "BRAVINA SL, 1997, FERROELECTRICS, V192, P197",
    ]
    assert first["line"] == 3
    assert second["pub_type"] == "book-chapter"
    assert second["line"] == 37


def test_medline_records_on_the_platform():
    text = (
        "FN ISI Export Format\nVR 1.0\nPT J\nTI Estrogen therapy\n"
        "AU Joffe, Hadine; Hall, Janet E; Gruber, Staci\nSO Menopause\nPS 411-22\nPY 2006\n"
        "UT MEDLINE:16735938\nER\n\nEF\n"
    )
    [rec] = parse(text).records
    assert rec["authors"] == ["Joffe, Hadine", "Hall, Janet E", "Gruber, Staci"]
    assert rec["pmid"] == "16735938"
    assert rec["database"] == "MEDLINE"
    assert rec["pages"] == "411-22"


def test_inspec_records_keep_id_as_identifiers():
    text = (
        "PT J\nTI Optical waveguides\nAU Brown, J\nDE optical losses; lasers\n"
        "ID 0003-6951/2006/89(4)/041103-1(3)/$23.00],[10.1063/1.2234275]\n"
        "BP 41103-1\nEP 41103-41103-3\nPS 41103-1-3\nUT INSPEC:9027814\nER\n"
    )
    [rec] = parse(text).records
    assert rec["keywords"] == ["optical losses", "lasers"]
    assert rec["doi"] == "10.1063/1.2234275"
    assert rec["database"] == "Inspec"
    assert rec["pages"] == "41103-1-3"
    assert "ID" in rec["extra"]


def test_missing_er_and_ef():
    text = "PT J\nTI First\nPT J\nTI Second\nER\nPT J\nAU Cut, Off\n"
    parsed = parse(text)
    assert [r["title"] for r in parsed.records] == ["First", "Second"]
    assert "next PT (line 3)" in parsed.records[0]["extra"]["wos_warning"]
    [failure] = parsed.failures
    assert failure.reason == (
        "record 3 (line 6): no ER before the end of the file (truncated?), "
        "and no title to keep it by"
    )


def test_binary_junk_in_one_record():
    text = "PT J\nTI Good\nER\n\nPT J\nTI Bad\x00\x02\nER\n\nPT J\nTI Also good\nER\nEF\n"
    parsed = parse(text)
    assert [r["title"] for r in parsed.records] == ["Good", "Also good"]
    assert parsed.failures[0].reason.startswith("record 2 (line 5): contains binary data")


def test_no_records_raises():
    with pytest.raises(ReadError, match="no Web of Science records"):
        parse(" ## \n")


def test_records_after_ef_are_read_and_junk_is_reported():
    # two exports concatenated (each FN ... EF), a stray EF, and text between records
    block = "FN Clarivate Analytics Web of Science\nVR 1.0\n{records}EF\n\n"
    records = [f"PT J\nAU Smith, J\nTI Paper {n}\nPY 2020\nER\n\n" for n in range(1, 8)]
    text = (
        block.format(records="".join(records[:2]))
        + block.format(records="".join(records[2:4]))
        + "EF\n"
        + records[4]
        + "Exported by a colleague, 12 May\nsee notes\n\n"
        + "".join(records[5:])
        + "EF\ntrailing text\n"
    )
    parsed = parse(text)
    assert [r["title"] for r in parsed.records] == [f"Paper {n}" for n in range(1, 8)]
    assert [r["position"] for r in parsed.records] == list(range(1, 8))
    lines = text.split("\n")
    assert [lines[r["line"] - 1] for r in parsed.records] == ["PT J"] * 7
    junk, tail = parsed.failures
    assert (junk.line, junk.record) == (lines.index("Exported by a colleague, 12 May") + 1, None)
    assert (
        junk.reason == "2 lines of text outside any record (not inside a PT ... ER block); ignored"
    )
    assert junk.raw == "Exported by a colleague, 12 May\nsee notes"
    assert tail.raw == "trailing text"


def test_record_cut_by_ef_is_closed_there():
    parsed = parse("PT J\nTI Kept\nEF\nPT J\nTI After\nER\n")
    assert [r["title"] for r in parsed.records] == ["Kept", "After"]
    assert (
        parsed.records[0]["extra"]["wos_warning"]
        == "no ER before EF (line 3); kept because it has a title"
    )
