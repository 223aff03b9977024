"""BibTeX writer: what it writes parses, and reads back into the same records."""

from __future__ import annotations

import io

import bibtexparser
import pandas as pd
import pytest

from synth.corpus import read_file
from synth.corpus.normalise import records_frame
from synth.corpus.readers.bibtex import parse
from synth.corpus.writers.bibtex import assign_keys, escape_text, make_key, write_bibtex

#: every schema field that a BibTeX round trip must keep
SCHEMA_FIELDS = [
    "title", "authors", "year", "venue", "volume", "issue", "pages", "publisher", "doi",
    "pmid", "url", "abstract", "keywords", "language", "pub_type", "grey",
]  # fmt: skip


def _comparable(df: pd.DataFrame) -> list[dict]:
    return [
        {k: (None if not isinstance(v, list) and pd.isna(v) else v) for k, v in row.items()}
        for row in df[SCHEMA_FIELDS].to_dict("records")
    ]


def _write(records: pd.DataFrame) -> str:
    buffer = io.StringIO()
    write_bibtex(records, buffer)
    return buffer.getvalue()


def _record(**fields) -> dict:
    base = {"source_file": "x.ris", "source_format": "ris", "position": 1, "line": 1}
    return {**base, **fields}


def test_round_trip_keeps_every_schema_field(fixtures, tmp_path):
    original = read_file(fixtures / "bibtex" / "roundtrip.bib").records
    out = tmp_path / "export.bib"
    write_bibtex(original, out)
    again = read_file(out)
    assert again.failures.empty
    assert _comparable(again.records) == _comparable(original)
    # the awkward ones, spelled out
    first = again.records.iloc[0]
    assert first["title"] == "Co-production & the NHS: 50% of DNA-based {set} studies #1"
    assert first["authors"][-1] == "van der Berg, Anna"
    assert again.records.iloc[1]["authors"] == ["World Health Organization"]
    assert again.records.iloc[2]["authors"] == ["Smith, John, Jr", "Østergaard, Søren"]


def test_output_parses_cleanly_with_bare_bibtexparser(fixtures):
    text = _write(read_file(fixtures / "bibtex" / "roundtrip.bib").records)
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    assert len(library.entries) == 6
    assert text.startswith("% Encoding: UTF-8\n")
    assert "Müller, Jörg" in text  # Unicode is written as is


def test_provenance_fields_and_first_origin_kept(fixtures, tmp_path):
    original = read_file(fixtures / "bibtex" / "roundtrip.bib").records
    first = tmp_path / "first.bib"
    write_bibtex(original, first)
    again = read_file(first).records
    extra = again.iloc[0]["extra"]
    assert extra["x-synth-record-id"] == original.iloc[0]["record_id"]
    assert extra["x-synth-source-file"] == "roundtrip.bib"
    assert extra["x-synth-line"] == "6"
    second = tmp_path / "second.bib"
    write_bibtex(again, second)  # a second export still names the first origin
    text = second.read_text("utf-8")
    assert f"x-synth-record-id = {{{original.iloc[0]['record_id']}}}" in text
    assert text.count("x-synth-record-id") == 6


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Braces {x} & 50% of #1 $5 a_b", r"Braces \{x\} \& 50\% of \#1 \$5 a\_b"),
        (
            "Tilde ~ caret ^ backslash \\",
            r"Tilde \textasciitilde{} caret \textasciicircum{} backslash \textbackslash{}",
        ),
        ("A--B and ``quotes''", "A-{}-B and `{}`quotes'{}'"),
        ("A---B ```", "A-{}-{}-B `{}`{}`"),
        ("Übersicht – naïve", "Übersicht – naïve"),
    ],
)
def test_escaping(title, expected):
    assert escape_text(title) == expected
    rec = records_frame([_record(title=title, pub_type="journal-article")])
    assert parse(_write(rec), "x.bib").records[0]["title"] == " ".join(title.split())


def test_lossy_pub_types_survive_the_round_trip():
    rows = [
        _record(title="A review", pub_type="review-article", source_key="r"),
        _record(title="A news item", pub_type="news", source_key="n"),
        _record(title="A guideline", pub_type="guideline", source_key="g"),
    ]
    text = _write(records_frame(rows))
    assert "x-synth-pub-type = {review-article}" in text
    assert "x-synth-pub-type = {news}" in text
    assert "@manual{g," in text and text.count("x-synth-pub-type") == 2
    buffer = io.StringIO(text)
    df = pd.DataFrame(parse(buffer.read(), "x.bib").records)
    assert list(df["pub_type_raw"]) == ["review-article", "news", "manual"]


def test_keys_valid_unique_or_generated():
    rows = [
        {"source_key": "smith2020", "authors": ["Smith, Ann"], "year": 2020, "title": "X"},
        {
            "source_key": "Smith2020",
            "authors": ["Smith, Ann"],
            "year": 2020,
            "title": "The Co-production of health",
        },
        {
            "source_key": "bad key{",
            "authors": ["Müller, Jörg"],
            "year": None,
            "title": "Über alles",
        },
        {
            "source_key": None,
            "authors": ["World Health Organization"],
            "year": 2021,
            "title": "A guide",
        },
        {"source_key": None, "authors": [], "year": 2021, "title": "A guide"},
        {
            "source_key": None,
            "authors": ["Smith, Ann"],
            "year": 2020,
            "title": "Co-production again",
        },
    ]
    keys = assign_keys(rows)
    assert keys == [
        "smith2020",
        "smith2020coproduction",
        "mullernduber",
        "worldhealthorganization2021guide",
        "anon2021guide",
        "smith2020coproductiona",
    ]
    assert make_key({"authors": ["van der Berg, Anna"], "year": 2019, "title": "On DNA"}) == (
        "vanderberg2019dna"
    )


@pytest.mark.parametrize(
    "name",
    [
        "Smith and Sons, Ltd",  # "and" inside a part must not split the list
        "Doe, and Jane",
        "Johnson & Johnson",
        "Odd,, name",  # an empty part: written whole in braces, read back as is
        "Brace {x}, Y",
    ],
)
def test_awkward_author_names_read_back_unchanged(name):
    rec = records_frame([_record(title="T", authors=["First, A.", name, "Last, Z."])])
    assert parse(_write(rec), "x.bib").records[0]["authors"] == ["First, A.", name, "Last, Z."]


def test_original_key_is_recorded_when_replaced():
    text = _write(records_frame([_record(title="T", source_key="bad key", authors=["Doe, J"])]))
    assert "x-synth-source-key = {bad key}" in text


def test_records_from_other_formats_write_valid_bibtex():
    rows = [
        _record(
            title="From RIS",
            authors=["Doe, Jane", "Jean de la Fontaine", "Aristotle"],
            year=2001,
            venue="J. Odd {Names}",
            pages="5–9",
            doi="10.1000/a{b}",
            url="http://x.org/~u?a=1&b=2#frag",
            keywords=["a", "b, c"],
            pub_type=None,
            grey=False,
            label_included=1,
            database="Scopus",
            extra={"N1": "Note with % and }", "Source title": "odd name", "list": ["x", "y"]},
        )
    ]
    text = _write(records_frame(rows))
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    back = parse(text, "x.bib").records[0]
    assert back["authors"] == ["Doe, Jane", "Jean de la Fontaine", "Aristotle"]
    assert back["pages"] == "5-9"
    assert back["doi"] == "10.1000/a{b}"
    assert back["url"] == "http://x.org/~u?a=1&b=2#frag"
    assert back["keywords"] == ["a", "b, c"]
    assert back["database"] == "Scopus"
    assert back["label_included"] == 1
    assert back["extra"]["n1"] == "Note with % and }"
    assert back["extra"]["source-title"] == "odd name"
    assert back["extra"]["list"] == "x; y"


def test_writes_utf8_to_a_path(tmp_path):
    out = tmp_path / "out.bib"
    write_bibtex(records_frame([_record(title="Ærø – ✓", pub_type="book")]), out)
    assert "title = {Ærø – ✓}" in out.read_bytes().decode("utf-8")


def test_empty_frame_writes_a_header_only(tmp_path):
    out = tmp_path / "empty.bib"
    write_bibtex(records_frame([]), out)
    assert out.read_text("utf-8").startswith("% Encoding: UTF-8")
