"""The real PDFs of the test material (other projects' fixtures, several layouts): the
title and DOI each prints on its first page, and each layout read in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.fulltext import PdfDocument, read_pdf

pytestmark = pytest.mark.peer

# what each first page prints (looked at on the rendered page); None: it prints none
FRONT = {
    "Baldoni2002.pdf": (
        "Fundamentals of Distributed Computing: A Practical Tour of Vector Clock Systems",
        None,
    ),
    "Kriha2018.pdf": (
        "On How We Can Teach – Exploring New Ways in Professional Software Development "
        "for Students",
        None,
    ),
    "LNCS-minimal.pdf": ("Paper Title", None),
    "LNCS-minimal-protected.pdf": ("Paper Title", None),
    "SrivastavaShainesh2015.pdf": (
        "Bridging the service divide through digitally enabled service innovations: "
        "Evidence from Indian healthcare service providers",
        None,
    ),
    "Tucker2007.pdf": ("OPIUM: Optimal Package Install/Uninstall Manager", None),
    "WagnerLukyanenkoParEtAl2022.pdf": (
        "Artificial intelligence and the conduct of literature reviews",
        "10.1177/02683962211048201",
    ),
    "example.pdf": ("An Example Paper", None),
    "ieee-paper.pdf": ("JabRef Example for Reference Parsing", None),
    "thesis-example.pdf": ("Thesis Title", None),
    # a page of references: no title of its own; the first DOI it prints
    "test-doi.pdf": (None, "10.1007/978-3-662-65004-2_3"),
}

# a sentence that runs over several lines of one column, as it must come out
SENTENCES = {
    "Baldoni2002.pdf": "A key concept of asynchronous distributed systems is causality.",
    "Kriha2018.pdf": (
        "The most important change was to switch to a project-based approach instead of the "
        "usual exercises given to students after a lecture."
    ),
    "LNCS-minimal.pdf": (
        "Hello, here is some text without a meaning. This text should show what a printed "
        "text will look like at this place."
    ),
    "Tucker2007.pdf": (
        "Using off-the-shelf SAT solvers, pseudo-boolean solvers, and Integer Linear "
        "Programming solvers, we have developed a new package-management tool, called Opium, "
        "that improves on current tools in two ways"
    ),
    "WagnerLukyanenkoParEtAl2022.pdf": (
        "To familiarize researchers with some of the recent trends in this area, we outline "
        "how AI can expedite individual steps of the literature review process."
    ),
    "example.pdf": (
        "This short note provides a guide to using the ENTCS macro package for preparing "
        "papers for publication in your conference Proceedings."
    ),
    "thesis-example.pdf": (
        "The Thesis Abstract is written here (and usually kept to just this page)."
    ),
    "ieee-paper.pdf": "Nam dui ligula, fringilla a, euismod sodales, sollicitudin vel, wisi.",
}


def _read(peer_data: Path, name: str) -> PdfDocument:
    return read_pdf(peer_data / "pdf" / name)


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", sorted(FRONT))
def test_title_and_doi_printed_on_the_first_page(peer_data: Path, name: str) -> None:
    doc = _read(peer_data, name)
    assert (doc.title, doc.doi) == FRONT[name]


@pytest.mark.parametrize("name", sorted(SENTENCES))
def test_each_layout_reads_sentences_whole(peer_data: Path, name: str) -> None:
    assert SENTENCES[name] in _flat(_read(peer_data, name).text)


def test_ieee_two_columns_are_not_interleaved(peer_data: Path) -> None:
    text = _flat(_read(peer_data, "ieee-paper.pdf").pages[0])
    headings = [
        "I. INTRODUCTION",
        "II. RELATED WORK",
        "III. CONTRIBUTION",
        "IV. CONCLUSION AND OUTLOOK",
        "REFERENCES",
    ]
    places = [text.index(h) for h in headings]
    assert places == sorted(places)
    # the left column's last sentence, then the right column's first: in that order, whole
    assert (
        "tortor vitae risus porta vehicula. Fusce mauris. Vestibulum luctus nibh at lectus." in text
    )


def test_word_two_columns_with_a_title_and_authors_above(peer_data: Path) -> None:
    doc = _read(peer_data, "Kriha2018.pdf")
    first = _flat(doc.pages[0])
    assert first.startswith(
        "On How We Can Teach – Exploring New Ways in Professional Software Development for "
        "Students Walter Kriha, Tobias Jordine Abstract — Requirements and approaches"
    )
    assert first.index("I. INTRODUCTION") < first.index("II. SETTING THE STAGE")
    assert doc.authors == ("Walter Kriha", "Tobias Jordine")


def test_authors_side_by_side_above_two_columns(peer_data: Path) -> None:
    doc = _read(peer_data, "Tucker2007.pdf")
    assert doc.authors == ("Chris Tucker", "David Shuffelton", "Ranjit Jhala", "Sorin Lerner")
    assert _flat(doc.pages[0]).index("lerner@cs.ucsd.edu") < _flat(doc.pages[0]).index("Abstract")


def test_abstracts_and_sections(peer_data: Path) -> None:
    ieee = _read(peer_data, "ieee-paper.pdf")
    assert ieee.abstract is not None
    assert ieee.abstract.startswith("Lorem ipsum dolor sit amet, consectetuer adipiscing elit.")
    assert ieee.abstract.endswith("Duis eget orci sit amet orci dignissim rutrum.")
    names = [s.name for s in ieee.sections]
    assert names == ["abstract", "introduction", "other", "other", "conclusion", "references"]
    wagner = _read(peer_data, "WagnerLukyanenkoParEtAl2022.pdf")
    assert wagner.abstract is not None
    assert wagner.abstract.startswith("Artificial intelligence (AI) is beginning to transform")
    assert wagner.abstract.endswith("shaping the future of AILRs in research.")
    assert wagner.authors == ("Gerit Wagner", "Roman Lukyanenko", "Guy Paré")
    assert wagner.year == 2022
    references = next(s for s in wagner.sections if s.name == "references")
    assert references.page >= 14


def test_inverted_author_names(peer_data: Path) -> None:
    doc = _read(peer_data, "SrivastavaShainesh2015.pdf")
    assert doc.authors == ("Shirish C. Srivastava", "G. Shainesh")
    assert doc.year == 2015
