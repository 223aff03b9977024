"""The linking rules: DOI first, then a fuzzy title checked by year and first author; a
near-miss title is another paper; no match makes the PDF a record of its own."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from synth.corpus.normalise import normalise_records
from synth.fulltext.links import References, facts_of, match, own_record
from synth.fulltext.pdf import PdfDocument


def refs(*records: dict[str, object]) -> References:
    raw = [{"position": i, "line": i, **r} for i, r in enumerate(records, start=1)]
    return References(normalise_records(raw, source_file="refs.bib", source_format="bibtex"))


def pdf(
    *,
    title: str | None = None,
    doi: str | None = None,
    year: int | None = None,
    authors: tuple[str, ...] = (),
    first_page: str = "",
) -> PdfDocument:
    return PdfDocument(
        path=Path("paper.pdf"),
        sha256="0" * 64,
        pages=(first_page or (title or ""), "More text."),
        title=title,
        authors=authors,
        doi=doi,
        year=year,
        abstract=None,
        sections=(),
    )


SMITH = {
    "source_key": "Smith2019",
    "title": "Co-producing mental health services with service users: a realist review",
    "authors": "Smith, Anna and Jones, Ben",
    "year": 2019,
    "doi": "10.1000/CoProd.2019.7",
}
BROWN = {
    "source_key": "Brown2021",
    "title": "Patient and public involvement in cancer research: a qualitative study",
    "authors": "Brown, Carl",
    "year": 2021,
}


def _id(references: References, key: str) -> str:
    return references.ids[[r["source_key"] for r in (SMITH, BROWN)].index(key)]


def test_doi_first_normalised_and_case_insensitive() -> None:
    references = refs(SMITH, BROWN)
    found = match(facts_of(pdf(doi="https://doi.org/10.1000/COPROD.2019.7")), references)
    assert found is not None
    assert (found.record_id, found.rule, found.score) == (_id(references, "Smith2019"), "doi", 100)
    # the DOI wins over a title that names the other reference
    found = match(facts_of(pdf(title=BROWN["title"], doi="10.1000/coprod.2019.7")), references)
    assert found is not None and found.record_id == _id(references, "Smith2019")


def test_title_with_extraction_noise_links_and_the_checks_raise_the_score() -> None:
    references = refs(SMITH, BROWN)
    noisy = "Co-producing Mental Health Ser- vices with Service Users: A Realist Review"
    bare = match(facts_of(pdf(title=noisy)), references)
    checked = match(
        facts_of(pdf(title=noisy, year=2020, authors=("Anna Smith", "Ben Jones"))), references
    )
    assert bare is not None and checked is not None
    assert bare.rule == checked.rule == "title"
    assert bare.record_id == checked.record_id == _id(references, "Smith2019")
    assert checked.score > bare.score
    assert "year 2020 agrees" in checked.why and "first author smith agrees" in checked.why


def test_title_checks_lower_the_score_below_the_threshold() -> None:
    """A title alone just over the threshold does not link when the year is far off and
    the PDF's authors do not include the reference's first author."""
    references = refs(SMITH, BROWN)
    short = "Co-producing mental health services with service users"  # subtitle lost
    assert match(facts_of(pdf(title=short, year=2019)), references) is not None
    other = pdf(title=short, year=2009, authors=("Dana White",))
    assert match(facts_of(other), references) is None


def test_a_near_miss_title_does_not_link() -> None:
    """One word in place of another (mental health / cancer) is another paper, even with
    the same year and first author."""
    references = refs(SMITH, BROWN)
    near = "Patient and public involvement in mental health research: a qualitative study"
    doc = pdf(title=near, year=2021, authors=("Carl Brown",))
    assert match(facts_of(doc), references) is None


def test_without_a_title_the_references_title_on_the_first_page_links() -> None:
    references = refs(SMITH, BROWN)
    page = (
        "Health Expectations 2021; 24: 1-9\nPatient and public involvement in cancer\n"
        "research: a qualitative study\nCarl Brown\nAbstract Background ..."
    )
    found = match(facts_of(pdf(first_page=page)), references)
    assert found is not None
    assert (found.record_id, found.rule) == (_id(references, "Brown2021"), "title")
    assert "first page" in found.why


def test_no_match_becomes_a_record_of_its_own_marked_as_from_a_pdf() -> None:
    references = refs(SMITH, BROWN)
    doc = pdf(
        title="Gardening for the absent-minded professor",
        doi="10.5555/GARDEN.1",
        year=2020,
        authors=("Jane Doe", "John Roe"),
    )
    assert match(facts_of(doc), references) is None
    record = own_record(facts_of(doc, file="sub/garden.pdf")).iloc[0]
    assert record["title"] == "Gardening for the absent-minded professor"
    assert record["doi"] == "10.5555/garden.1"
    assert record["year"] == 2020 and list(record["authors"]) == ["Jane Doe", "John Roe"]
    assert (record["source_format"], record["source_file"]) == ("pdf", "garden.pdf")
    assert record["extra"]["from_pdf"] == "sub/garden.pdf"
    untitled = own_record(facts_of(pdf(), file="scan-17.pdf")).iloc[0]
    assert untitled["title"] == "scan-17" and "file name" in untitled["extra"]["title_from"]


def test_records_from_pdfs_are_not_references() -> None:
    """A PDF never links to another PDF's own record (both become records; dedupe groups
    them as copies of one paper)."""
    doc = pdf(title="Gardening for the absent-minded professor", year=2020)
    from_pdf = own_record(facts_of(doc))
    assert len(References(pd.concat([from_pdf], ignore_index=True))) == 0
