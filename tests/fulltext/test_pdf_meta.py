"""Front matter and sections from text: the rules on small, exact inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.fulltext import read_pdf
from synth.fulltext.pdf_meta import abstract_of, find_doi, find_sections, plausible_title
from tests.pdf_fixtures import Text, write_pdf


@pytest.mark.parametrize(
    ("title", "plausible"),
    [
        ("Microsoft Word - ieee_on_how_we_teach_jul_01.docx", False),
        ("draft-final.pdf", False),
        ("", False),
        ("Untitled", False),
        ("Untitled-3", False),
        ("2019-04-01 123", False),
        ("Artificial intelligence and the conduct of literature reviews", True),
        ("Vector Clocks", True),
    ],
)
def test_plausible_metadata_titles(title: str, plausible: bool) -> None:
    assert plausible_title(title) is plausible


def test_doi_found_cleaned_and_rejoined() -> None:
    assert find_doi(["See https://doi.org/10.1000/xyz-123.", "x"]) == "10.1000/xyz-123"
    assert find_doi(["(doi:10.1177/0268396221104820)"]) == "10.1177/0268396221104820"
    assert find_doi(["no doi here", "DOI 10.1007/978-3-031-\n40213-5 next"]) == (
        "10.1007/978-3-031-40213-5"
    )
    assert find_doi(["nothing", "at all"]) is None


def test_sections_from_headings_in_their_many_spellings() -> None:
    pages = [
        "A Title\nAbstract—We did a thing.\nIt worked.\nKeywords: things\n1. Introduction\nWhy.",
        "2 Materials and Methods\nHow.\nRESULTS\nWhat.\n3.1 A subsection\nMore what.\n"
        "IV. General Discussion\nSo.",
        "Conclusions\nDone.\nBibliography\n[1] A. Person. A paper. 2020.\nSummary\nNot it.",
    ]
    sections = find_sections(pages)
    assert [(s.name, s.page) for s in sections] == [
        ("abstract", 1),
        ("other", 1),
        ("introduction", 1),
        ("methods", 2),
        ("results", 2),
        ("discussion", 2),
        ("conclusion", 3),
        ("references", 3),
        ("other", 3),  # a later "Summary" is not the abstract
    ]
    assert sections[0].text == "We did a thing.\nIt worked."
    assert sections[4].text == "What.\n3.1 A subsection\nMore what."
    assert abstract_of(sections) == "We did a thing. It worked."


def test_an_abstract_no_heading_ends_is_its_first_paragraph() -> None:
    body = "First paragraph of the abstract.\n\n" + "Body text goes on. " * 300
    sections = find_sections(["Title\nAbstract\n" + body])
    assert abstract_of(sections) == "First paragraph of the abstract."


def test_title_in_the_largest_font_and_year_above_the_abstract(tmp_path: Path) -> None:
    page = [
        Text("Proceedings of Testing 2019", 60, 800, 8),
        Text("A Larger Title Set On", 60, 760, 20),
        Text("Two Lines", 60, 736, 20),
        Text("Ann Smith and Bob Jones", 60, 710, 11),
        Text("Abstract", 60, 680, 10),
        *[
            Text(f"Body line {i} of the paper in the usual size.", 60, 660 - 12 * i)
            for i in range(20)
        ],
    ]
    doc = read_pdf(write_pdf(tmp_path / "front.pdf", [page]))
    assert doc.title == "A Larger Title Set On Two Lines"
    assert doc.authors == ("Ann Smith", "Bob Jones")
    assert doc.year == 2019
