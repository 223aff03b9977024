"""A corpus folder of real PDFs beside a BibTeX file (peer data ``pdf/``, copied here at
test time) goes through ``synth review run``: every page renders, the tags of a PDF linked
to its reference carry evidence with the page it stands on, and the screening app at the
full-text stage and the extraction app show that PDF's text, page by page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synth.store import connect, load_records
from synth.store import fulltexts as ft
from synth.store.tags import current_tags
from tests.conftest import PEER

pytestmark = [pytest.mark.peer, pytest.mark.notebook, pytest.mark.slow]

#: a PDF with its reference in ``dev-references.bib``, by BibTeX key
LINKED_PDF, LINKED_KEY = "Kriha2018.pdf", "Kriha2018Teaching"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    from synth.report.run import run_review

    peer_data = PEER
    if not (peer_data / "pdf").is_dir():
        pytest.skip(f"peer data not found at {peer_data} (it sits beside the project in CI)")
    root = tmp_path_factory.mktemp("pdf-corpus")
    corpus = root / "corpus"
    corpus.mkdir()
    for path in (peer_data / "pdf").iterdir():
        if path.suffix in (".pdf", ".bib"):
            shutil.copy(path, corpus / path.name)
    result = run_review(
        corpus=corpus, db=root / "review.sqlite", out=root / "report", progress=False, workers=1
    )
    return result, root / "review.sqlite"


def _linked_record(con) -> tuple[str, int]:
    records = load_records(con)
    rid = str(records.loc[records["source_key"] == LINKED_KEY, "record_id"].iloc[0])
    links = ft.current_links(con).set_index("file")
    assert links.loc[LINKED_PDF, "record_id"] == rid
    return rid, int(links.loc[LINKED_PDF, "pdf_id"])


def test_every_page_renders_with_the_pdfs_counted(run) -> None:
    result, _ = run
    assert [nb.error for nb in result.notebooks] == [None] * len(result.notebooks)
    for page in result.pages.values():
        assert page.stat().st_size > 0
    assert result.totals["pdfs_by_title"] + result.totals["pdfs_by_doi"] == 3


def test_the_linked_papers_tags_name_the_pages_of_their_evidence(run) -> None:
    _, db = run
    con = connect(db)
    try:
        rid, pdf_id = _linked_record(con)
        tags = current_tags(con)
        pages = ft.load_pages(con, pdf_id)
    finally:
        con.close()
    evidence = [ev for evs in tags.loc[tags["record_id"] == rid, "evidence"] for ev in evs]
    paged = [ev for ev in evidence if "page" in ev]
    assert paged, evidence
    for ev in paged:  # the sentence stands on the page it names
        words = " ".join(ev["sentence"].split("…")[-1].split()[:4])
        page_text = " ".join(pages.loc[pages["page"] == ev["page"], "text"].iloc[0].split())
        assert words in page_text, (ev["page"], ev["sentence"])
    assert {ev["field"] for ev in paged} <= {"abstract", "extract", "fulltext"}
    assert any(ev["page"] > 1 for ev in paged)


def test_the_apps_show_the_linked_pdfs_text_page_by_page(run) -> None:
    from synth.extraction.app import ExtractionApp
    from synth.screening.app import ScreeningApp
    from synth.screening.decisions import record_decision

    _, db = run
    con = connect(db)
    try:
        rid, pdf_id = _linked_record(con)
        second_page = ft.load_pages(con, pdf_id)["text"].iloc[1]
        record_decision(con, record_id=rid, reviewer="ann", decision="include")
        screening = ScreeningApp.open(con, reviewer="ann", stage="full_text", background=False)
        try:
            assert screening.current is not None and screening.current.record_id == rid
            shown = screening.record.value
        finally:
            screening.queue.close()
        extraction = ExtractionApp(con, reviewer="ann", record_ids=[rid])
        paper = extraction.paper.value
    finally:
        con.close()
    opening = " ".join(second_page.split()[:6])
    for html in (shown, paper):
        text = html.split("<summary><b>Full text</b>", 1)[1]
        assert "— p. 2 —" in text and "PDF, " in text
        after = " ".join(text.split("— p. 2 —</div>", 1)[1].split())
        assert after.startswith(opening.replace("&", "&amp;")), after[:200]
        assert "synth-scr-ev" in text  # the tagger's evidence marked in the PDF's text
