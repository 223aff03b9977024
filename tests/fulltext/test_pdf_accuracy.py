"""Synthetic papers typeset by chromium (one and two columns, running header and footer,
page numbers, a table, hyphenated words) read back against their source text."""

from __future__ import annotations

import re

import pytest

from synth.fulltext import PdfDocument, read_pdf
from tests.browser import unavailable
from tests.pdf_fixtures import (
    Paper,
    char_accuracy,
    chromium,
    normalise,
    render_html,
    synthetic_paper,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=[1, 2], ids=["one-column", "two-columns"])
def paper(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Paper, PdfDocument]:
    binary = chromium()
    if binary is None:
        unavailable("chromium not found: cannot typeset the synthetic papers")
    source = synthetic_paper(columns=request.param)
    out = tmp_path_factory.mktemp("papers") / f"paper-{request.param}.pdf"
    return source, read_pdf(render_html(source.html, out, binary))


def test_text_read_back_with_99_percent_character_accuracy(
    paper: tuple[Paper, PdfDocument],
) -> None:
    source, doc = paper
    assert len(doc.pages) >= 3  # long enough for running headers to repeat
    assert char_accuracy(doc.text, source.text) >= 0.99


def test_running_header_footer_and_page_numbers_are_gone(
    paper: tuple[Paper, PdfDocument],
) -> None:
    _, doc = paper
    assert "Journal of Synthetic Evidence" not in doc.text
    for page in doc.pages:
        assert not page.strip().splitlines()[-1].strip().isdigit()


def test_hyphenated_words_are_whole(paper: tuple[Paper, PdfDocument]) -> None:
    source, doc = paper
    words = set(re.findall(r"\w+(?:-\w+)*", doc.text))
    for word in ("internationalisation", "telecommunications", "appropriateness"):
        assert word in words, word
    hyphenated = {w for w in re.findall(r"\w+(?:-\w+)+", source.text)}
    assert {w for w in words if "-" in w} <= hyphenated
    assert not re.search(r"\w- ", normalise(doc.text))  # none left open, even across pages


def test_front_matter_and_sections(paper: tuple[Paper, PdfDocument]) -> None:
    source, doc = paper
    assert doc.title == source.title
    assert doc.doi == source.doi
    assert doc.authors == ("Ann Smith", "Bob Jones")
    names = [s.name for s in doc.sections]
    assert names == ["abstract", "introduction", "methods", "results", "discussion", "conclusion"]
    abstract = source.text.split("\nAbstract\n", 1)[1].split("\n", 1)[0]
    assert doc.abstract == abstract
    methods = next(s for s in doc.sections if s.name == "methods")
    assert normalise(methods.text).startswith("Participants described the acknowledgement")
    assert doc.page_of(doc.text.index("3. Results")) == next(
        s.page for s in doc.sections if s.name == "results"
    )
