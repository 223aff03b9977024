"""RIS reader (dialects, broken input, database detection) and RIS writer (round trip)."""

from __future__ import annotations

import io
import random

import pandas as pd
import pytest

from synth.corpus import ReadError, read_file
from synth.corpus.normalise import normalise_records
from synth.corpus.readers import ris
from synth.corpus.writers.ris import write_ris

SCHEMA_FIELDS = [
    "title",
    "authors",
    "year",
    "venue",
    "volume",
    "issue",
    "pages",
    "publisher",
    "doi",
    "pmid",
    "url",
    "abstract",
    "keywords",
    "language",
    "pub_type",
    "grey",
]


def parse(text: str):
    return ris.parse(text, "test.ris")


def frame(text: str) -> pd.DataFrame:
    parsed = parse(text)
    return normalise_records(parsed.records, source_file="test.ris", source_format="ris")


# -- dialects ---------------------------------------------------------------------------


def test_canonical_record_maps_every_field():
    text = (
        "TY  - JOUR\nTI  - Co-production in practice\nAU  - Smith, Jane\nAU  - Doe, J.\n"
        "PY  - 2020\nT2  - Health Expectations\nVL  - 23\nIS  - 4\nSP  - 812\nEP  - 825\n"
        "PB  - Wiley\nDO  - https://doi.org/10.1111/HEX.13067\nUR  - https://example.org/a\n"
        "AB  - An abstract.\nKW  - co-production\nKW  - patients\nLA  - English\nID  - 17\n"
        "AD  - Leeds, UK\nER  - \n"
    )
    [rec] = parse(text).records
    assert rec["title"] == "Co-production in practice"
    assert rec["authors"] == ["Smith, Jane", "Doe, J."]
    assert rec["year"] == "2020"
    assert rec["venue"] == "Health Expectations"
    assert (rec["volume"], rec["issue"], rec["pages"]) == ("23", "4", "812-825")
    assert rec["publisher"] == "Wiley"
    assert rec["url"] == "https://example.org/a"
    assert rec["keywords"] == ["co-production", "patients"]
    assert rec["pub_type_raw"] == "JOUR"
    assert rec["source_key"] == "17"
    assert rec["extra"] == {"AD": "Leeds, UK"}
    assert (rec["position"], rec["line"]) == (1, 1)
    df = frame(text)
    assert df.loc[0, "doi"] == "10.1111/hex.13067"
    assert df.loc[0, "pub_type"] == "journal-article"


def test_untagged_lines_continue_the_previous_field():
    text = (
        "TY  - JOUR\nTI  - Title\nAB  - First line of the abstract\n"
        "second line of the abstract\n   third, indented\n"
        "KW  - Health Facility Administration\nJoint Commission\nStandards\n"
        "N1  - Times Cited: 5\nTotal Times Cited: 7\nER  -\n"
    )
    [rec] = parse(text).records
    assert rec["abstract"] == (
        "First line of the abstract\nsecond line of the abstract\nthird, indented"
    )
    # Rayyan/EndNote write one keyword a line under a single KW
    assert rec["keywords"] == ["Health Facility Administration", "Joint Commission", "Standards"]
    assert rec["extra"]["N1"] == "Times Cited: 5\nTotal Times Cited: 7"


def test_a_continuation_line_starting_like_ER_is_text():
    text = "TY  - JOUR\nN2  - first line,\nER then second line\nthe last line\nER  -\n"
    [rec] = parse(text).records
    assert rec["abstract"] == "first line,\nER then second line\nthe last line"


@pytest.mark.parametrize(
    "line",
    ["TI - One space", "TI- No space", "TI\t- A tab", "TI   - Three spaces", "TI -  Padded  "],
)
def test_irregular_spacing_of_known_tags(line):
    [rec] = parse(f"TY  - JOUR\n{line}\nER  - \n").records
    assert rec["title"].split()[0] in {"One", "No", "A", "Three", "Padded"}


def test_a_file_spaced_one_way_reads_every_tag_that_way():
    # pybtex-style files write "XX - "; unknown WoS tags (J9, FU) must still be tags
    text = "TY - JOUR\nTI - Title\nJ9 - J ABBREV\nFU - A funder\nER - \n"
    [rec] = parse(text).records
    assert rec["title"] == "Title"
    assert rec["extra"] == {"J9": "J ABBREV", "FU": "A funder"}


def test_irregular_unknown_tag_is_text_not_a_tag():
    text = "TY  - JOUR\nAB  - The odds\nOR - 1.5 was reported\nER  - \n"
    [rec] = parse(text).records
    assert rec["abstract"] == "The odds\nOR - 1.5 was reported"
    assert "OR" not in rec.get("extra", {})


def test_empty_tags_unknown_tags_and_bom():
    text = "\ufeffTY  - JOUR\nTI  - T\nSP  -\nJP  - CRISPR\nJP  - Direct Current\nER  -\n"
    [rec] = parse(text).records
    assert "pages" not in rec
    assert rec["extra"] == {"JP": ["CRISPR", "Direct Current"]}


def test_text_before_first_ty_and_leading_blank_lines_are_ignored():
    text = (
        "\n\nRecord #1 of 2\nProvider: Provider\nContent: text/plain\n1.\n"
        "TY  - JOUR\nTI  - First\nER  - \n\n2.\nTY  - JOUR\nTI  - Second\nER  - \n"
    )
    parsed = parse(text)
    assert [r["title"] for r in parsed.records] == ["First", "Second"]
    assert [r["line"] for r in parsed.records] == [7, 12]
    assert parsed.failures == []


def test_crlf_line_endings():
    text = "TY  - JOUR\r\nTI  - Windows\r\nAU  - A, B\r\nER  - \r\n"
    [rec] = parse(text).records
    assert rec["title"] == "Windows" and rec["authors"] == ["A, B"]


def test_title_venue_year_priorities():
    text = (
        "TY  - JOUR\nT1  - Primary title\nTI  - Title\nJO  - J. Abbrev.\nJF  - Journal Full\n"
        "Y1  - 2014//\nPY  - YEAR/MONTH/DAY/\nDA  - 2015/01/01\nER  - \n"
    )
    [rec] = parse(text).records
    assert rec["title"] == "Title"  # TI before T1
    assert rec["venue"] == "Journal Full"  # JF before JO
    assert rec["year"] == "2014//"  # first candidate holding a year
    assert rec["extra"]["T1"] == "Primary title"
    assert rec["extra"]["JO"] == "J. Abbrev."


def test_a1_and_au_merge_without_repeating_names():
    text = "TY  - JOUR\nAU  - Marx, Karl\nA1  - Marx, Karl\nA1  - Lindgren, Astrid\nER  - \n"
    [rec] = parse(text).records
    assert rec["authors"] == ["Marx, Karl", "Lindgren, Astrid"]
    text = "TY  - JOUR\nAU  - Wang, Y.\nAU  - Wang, Y.\nER  - \n"  # two people, same name
    assert parse(text).records[0]["authors"] == ["Wang, Y.", "Wang, Y."]


@pytest.mark.parametrize(
    ("lines", "doi"),
    [
        ("DO  - doi:10.1201/b19107-2", "doi:10.1201/b19107-2"),
        ("DO  - n/a\nM3  - doi: 10.1063/1.1954747", "10.1063/1.1954747"),
        ("UR  - http://dx.doi.org/10.1023/A:1017379030770", "10.1023/A:1017379030770"),
        ("N1  - doi: 10.1016/j.neuron.2016.10.006", "10.1016/j.neuron.2016.10.006"),
        # a Scopus link's &doi= parameter is not taken as the DOI by the reader
        ("UR  - https://www.scopus.com/x?eid=2&doi=10.1186%2fs1&md5=0", None),
    ],
)
def test_doi_from_do_or_hidden_in_other_tags(lines, doi):
    [rec] = parse(f"TY  - JOUR\nTI  - T\n{lines}\nER  - \n").records
    assert rec.get("doi") == doi


@pytest.mark.parametrize(
    ("lines", "pmid"),
    [
        ("U1  - 26957754[pmid]", "26957754"),
        ("AN  - 21553931\nDP  - NLM", "21553931"),
        ("AN  - 21553931", None),  # an accession number is a PMID only from PubMed
        ("L2  - http://www.ncbi.nlm.nih.gov/pubmed/30755846", "30755846"),
        ("UR  - https://pubmed.ncbi.nlm.nih.gov/26957754", "26957754"),
    ],
)
def test_pmid(lines, pmid):
    [rec] = parse(f"TY  - JOUR\nTI  - T\n{lines}\nER  - \n").records
    assert rec.get("pmid") == pmid


def test_urls_on_one_line_are_split():
    [rec] = parse("TY  - JOUR\nUR  - http://a.org/x; http://b.org/y\nER  - \n").records
    assert rec["url"] == "http://a.org/x"
    assert rec["extra"]["UR"] == "http://b.org/y"


def test_ovid_no_pagination_placeholder():
    [rec] = parse("TY  - JOUR\nTI  - T\nSP  - No\nEP  - Specified\nER  - \n").records
    assert "pages" not in rec


def test_ovid_tags_after_er_belong_to_the_record():
    text = (
        "1.\nTY  - JOUR\nT1  - Ovid record\nER  -\nNL  - Clin Psychol Psychother\n\n"
        "Link to the Ovid Full Text or citation: https://example.org\n\n2.\n"
        "TY  - JOUR\nT1  - Next\nER  -\n"
    )
    parsed = parse(text)
    assert parsed.failures == []
    assert parsed.records[0]["extra"] == {"NL": "Clin Psychol Psychother"}
    assert [r["position"] for r in parsed.records] == [1, 2]


def test_asreview_labels_in_notes():
    text = (
        "TY  - GEN\nTI  - A\nN1  - ASReview_relevant\nER  -\n"
        "TY  - GEN\nTI  - B\nN1  - <p>ASReview_irrelevant</p>\nER  -\n"
        "TY  - GEN\nTI  - C\nN1  - ASReview_not_seen\nER  -\n"
    )
    labels = [r.get("label_included") for r in parse(text).records]
    assert labels == [1, 0, None]


# -- broken input -------------------------------------------------------------------------


def test_missing_er_at_end_of_file_keeps_a_titled_record_and_says_so(fixtures, caplog):
    result = read_file(fixtures / "tagged" / "truncated.ris")
    assert result.records["title"].tolist() == [
        "A complete first record",
        "The second record is cut off mid-abstract",
    ]
    assert result.failures.empty
    assert "truncated" in result.records.loc[1, "extra"]["ris_warning"]
    assert "no ER before the end of the file" in caplog.text


def test_missing_er_without_title_is_a_failure():
    parsed = parse("TY  - JOUR\nTI  - Good\nER  - \n\nTY  - JOUR\nAU  - Cut, Off\nAB  - mid")
    assert [r["title"] for r in parsed.records] == ["Good"]
    [failure] = parsed.failures
    assert failure.reason.startswith("record 2 (line 5): no ER before the end of the file")
    assert failure.record == 2 and failure.line == 5
    assert failure.raw.startswith("TY  - JOUR\nAU  - Cut, Off")


def test_record_without_ty_is_a_failure_between_good_records(fixtures):
    result = read_file(fixtures / "tagged" / "no_ty.ris")
    assert result.records["title"].tolist() == ["A good record before", "A good record after"]
    assert result.records["position"].tolist() == [1, 3]  # positions count the failure
    [failure] = result.failures.to_dict("records")
    assert failure["reason"] == "record 2 (line 6): no TY tag before ER"
    assert failure["line"] == 6 and failure["record"] == 2
    assert "A record whose TY line was lost" in failure["raw"]


def test_stray_ty_inside_a_record_starts_a_new_one():
    text = "TY  - JOUR\nTI  - Kept\nTY  - BOOK\nTI  - Next\nER  - \n"
    parsed = parse(text)
    assert [r["title"] for r in parsed.records] == ["Kept", "Next"]
    assert "next TY (line 3)" in parsed.records[0]["extra"]["ris_warning"]


def test_empty_record_is_a_failure():
    parsed = parse("TY  -\nER  -\n\nTY  - GEN\nTI  - Real\nER  -\n")
    assert [r["title"] for r in parsed.records] == ["Real"]
    assert parsed.failures[0].reason == "record 1 (line 1): empty record (nothing but TY)"
    assert parsed.records[0]["position"] == 2


def test_binary_junk_inside_one_record(tmp_path):
    good = b"TY  - JOUR\nTI  - Good one\nER  - \n\n"
    junk = b"TY  - JOUR\nTI  - Junk\nAB  - \x00\x01\x02\x03garbage\x10\x11\n\x05\x06\nER  - \n\n"
    path = tmp_path / "junk.ris"
    path.write_bytes(good + junk + good.replace(b"one", b"two"))
    result = read_file(path)
    assert result.records["title"].tolist() == ["Good one", "Good two"]
    [failure] = result.failures.to_dict("records")
    assert failure["reason"] == (
        "record 2 (line 5): contains binary data (control characters); skipped"
    )
    assert result.records["position"].tolist() == [1, 3]


def test_non_utf8_binary_junk_deep_in_a_file(tmp_path):
    """Bytes that are not even UTF-8: the file decodes by best guess, one record fails."""
    good = b"".join(
        b"TY  - JOUR\nTI  - Good %d\nAB  - %s\nER  - \n\n" % (i, b"word " * 40) for i in range(60)
    )
    junk = b"TY  - JOUR\nTI  - Junk\nAB  - \x00\x81\xfe\x02\xff\x00\x13\nER  - \n\n"
    path = tmp_path / "deep.ris"
    path.write_bytes(good + junk + good)
    result = read_file(path)
    assert len(result.records) == 120
    [failure] = result.failures.to_dict("records")
    assert failure["record"] == 61
    assert "binary data" in failure["reason"]


def test_empty_file_is_one_clear_failure(tmp_path):
    path = tmp_path / "empty.ris"
    path.write_bytes(b"")
    result = read_file(path)
    assert result.records.empty
    assert result.failures["reason"].tolist() == ["file is empty"]


def test_text_without_any_ris_tag_raises_read_error():
    with pytest.raises(ReadError, match="no RIS records found"):
        ris.parse("just some words\nand more words\n", "notes.ris")


# -- where a file came from ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "database"),
    [("scopus.ris", "Scopus"), ("wos.ris", "Web of Science")],
)
def test_database_of_fixture_files(fixtures, name, database):
    result = read_file(fixtures / "tagged" / name)
    assert result.database == database
    assert set(result.records["database"]) == {database}


@pytest.mark.parametrize(
    ("lines", "database"),
    [
        ("DB  - Embase\nUR  - http://www.embase.com/x", "Embase"),
        ("L2  - http://ovidsp.ovid.com/ovidweb.cgi?T=JS", "Ovid"),
        ("DB  - PTSDpubs\nUR  - https://search.proquest.com/docview/1", "ProQuest"),
        ("AN  - 21553931\nDP  - NLM", "PubMed"),
        ("N1  - <p>A Zotero note</p>", "Zotero"),
        ("DP  - Database Provider", None),
    ],
)
def test_database_detection(lines, database):
    assert parse(f"TY  - JOUR\nTI  - T\n{lines}\nER  - \n").database == database


def test_endnote_export_is_recognised_by_its_tag_order():
    text = "TY  - JOUR\nAB  - a\nAU  - b\nPY  - 2011\nSN  - 1\nTI  - t\nID  - 369\nER  - \n"
    assert parse(text).database == "EndNote"


# -- the fixtures, end to end -------------------------------------------------------------


def test_scopus_fixture(fixtures):
    df = read_file(fixtures / "tagged" / "scopus.ris").records
    assert df["pub_type"].tolist() == ["journal-article", "book-chapter", "conference-paper"]
    first = df.iloc[0]
    assert first["authors"] == ["Smith, Jane A.", "O'Neill, Patrick", "García-López, María"]
    assert first["pages"] == "112-128"
    assert first["doi"] == "10.1186/s12961-020-00621-4"
    assert first["extra"]["N1"] == ["Cited By :12", "Export Date: 14 January 2024"]
    assert df.iloc[1]["keywords"] == ["participatory action research", "community mental health"]
    assert df["line"].tolist() == [1, 30, 47]


def test_wos_ris_fixture_with_continuation_lines(fixtures):
    df = read_file(fixtures / "tagged" / "wos.ris").records
    first, second = df.iloc[0], df.iloc[1]
    assert first["abstract"].endswith("would feel free to leave while being questioned.")
    assert first["source_key"] == "WOS:000444108200009"
    assert first["publisher"] == "ELSEVIER SCIENCE INC"
    assert second["title"] == (
        "When self-report trumps science: effects of confessions, DNA, and prosecutorial "
        "theories on perceptions of guilt"
    )
    assert second["keywords"] == ["confessions", "DNA evidence", "false confessions"]


# -- the writer ---------------------------------------------------------------------------


def _roundtrip(df: pd.DataFrame, tmp_path) -> pd.DataFrame:
    out = tmp_path / "out.ris"
    write_ris(df, out)
    return read_file(out).records


def _assert_same(a: pd.DataFrame, b: pd.DataFrame, fields: list[str]) -> None:
    assert len(a) == len(b)
    for field in fields:
        left = [None if not isinstance(v, list) and pd.isna(v) else v for v in a[field]]
        right = [None if not isinstance(v, list) and pd.isna(v) else v for v in b[field]]
        assert left == right, field


@pytest.mark.parametrize(
    "name", ["scopus.ris", "wos.ris", "pubmed.nbib", "savedrecs.ciw", "records.enw"]
)
def test_write_then_read_back_gives_the_same_records(fixtures, tmp_path, name):
    original = read_file(fixtures / "tagged" / name).records
    back = _roundtrip(original, tmp_path)
    _assert_same(original, back, [*SCHEMA_FIELDS, "label_included", "source_key", "database"])
    # provenance survives in the note
    assert back["extra"][0]["synth_record_id"] == original["record_id"][0]
    assert back["extra"][0]["synth_source_file"] == name


def test_writer_keeps_flags_types_and_extras_ris_cannot_carry(tmp_path):
    rows = [
        {
            "title": "A review",
            "authors": ["A, B"],
            "year": 2020,
            "pub_type_raw": "review-article",
            "grey": True,  # says so explicitly, against the type's default
            "label_included": 1,
            "source_key": "smith2020",
            "extra": {"editor": "C, D", "note": {"nested": [1, 2]}},
        },
        {"title": "No type at all", "pages": "22-22"},
        {"title": "A patent", "pub_type_raw": "PAT"},
    ]
    df = normalise_records(rows, source_file="x.bib", source_format="ris")
    back = _roundtrip(df, tmp_path)
    _assert_same(df, back, [*SCHEMA_FIELDS, "label_included", "source_key"])
    assert back.loc[0, "pub_type"] == "review-article" and bool(back.loc[0, "grey"])
    assert back.loc[0, "extra"]["editor"] == "C, D"
    assert back.loc[0, "extra"]["note"] == {"nested": [1, 2]}
    assert back.loc[1, "pub_type"] is None or pd.isna(back.loc[1, "pub_type"])
    assert back.loc[2, "extra"]["pub_type_raw"] == "PAT"


def test_writer_output_is_plain_ris(tmp_path):
    df = normalise_records(
        [{"title": "T", "authors": ["A, B", "C, D"], "year": 2021, "pages": "5-9", "pmid": "1"}],
        source_file="x.ris",
        source_format="ris",
    )
    buf = io.StringIO()
    write_ris(df, buf)
    lines = buf.getvalue().splitlines()
    assert lines[0] == "TY  - GEN"
    assert lines[1:7] == [
        "TI  - T",
        "AU  - A, B",
        "AU  - C, D",
        "PY  - 2021",
        "SP  - 5",
        "EP  - 9",
    ]
    assert "U1  - 1[pmid]" in lines
    assert lines[-2].startswith("N1  - synth: {")
    assert lines[-1] == "ER  - "


# -- speed --------------------------------------------------------------------------------


def _synthetic(n: int) -> str:
    rng = random.Random(7)
    words = [
        "co-production",
        "participatory",
        "health",
        "community",
        "public",
        "involvement",
        "trial",
    ]
    out = []
    for i in range(n):
        sent = " ".join(rng.choice(words) for _ in range(150))
        out.append(
            f"TY  - JOUR\nTI  - Title {i}\nT2  - Journal\nVL  - 1\nSP  - 1\nEP  - 9\n"
            f"PY  - 2020\nDO  - 10.1000/x{i}\nAU  - A, B\nAU  - C, D\nAB  - {sent}\n"
            "KW  - a\nKW  - b\nN1  - Export Date: 1 January 2024\nDB  - Scopus\nER  - \n"
        )
    return "\n".join(out)


@pytest.mark.slow
def test_large_file_agrees_with_bare_rispy():
    """Scale, not speed (benchmarks/bench_import.py measures speed): same records as rispy."""
    rispy = pytest.importorskip("rispy")
    text = _synthetic(20_000)
    parsed = ris.parse(text, "big.ris")
    theirs = rispy.loads(text)
    assert len(parsed.records) == len(theirs) == 20_000
    assert [r["title"] for r in parsed.records] == [r["title"] for r in theirs]
    assert [r["doi"] for r in parsed.records] == [r["doi"] for r in theirs]


def test_web_addresses_one_per_untagged_line_are_separate_urls(tmp_path) -> None:
    # Embase and Scopus exports put a record's further web addresses under one UR, one per
    # untagged line: each is an address of its own, never one "url" joined by spaces
    path = tmp_path / "embase.ris"
    path.write_text(
        "TY  - JOUR\nTI  - Trajectories of PTSD after deployment\n"
        "UR  - http://www.embase.com/search/results?id=L1\n"
        "http://dx.doi.org/10.1037/a0018601\n"
        "http://sfx.library.example.org/resolve?sid=EMBASE\n"
        "ER  - \n",
        encoding="utf-8",
    )
    rec = read_file(path).records.iloc[0]
    assert rec["url"] == "http://www.embase.com/search/results?id=L1"
    assert " " not in rec["url"]
    assert "http://dx.doi.org/10.1037/a0018601" in str(rec["extra"])
