"""Every later stage uses a PDF's full text with its pages (issue 18): the tagger reads a
PDF's abstract and methods first and names the page of its evidence; the themes' passages
carry their page; the screening and extraction apps show the text page by page with the
evidence marked; a PDF linked to a duplicate is its kept record's full text."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from synth.fulltext.pdf import PdfDocument
from synth.fulltext.pdf_meta import find_sections
from synth.store import connect, import_paths, load_fulltexts, load_records
from synth.store import fulltexts as ft
from tests.conftest import record_id

BIB = """@article{Smith2019,
  author = {Smith, Anna and Jones, Ben},
  title = {Co-producing mental health services with service users: a realist review},
  year = {2019},
  abstract = {We reviewed how mental health services were co-produced with service users.},
}
@article{Brown2021,
  author = {Brown, Carl},
  title = {Involving patients in cancer research},
  year = {2021},
}
"""
#: a paper's pages as the PDF reader gives them: abstract on page 1, methods on page 2
#: (a sentence running on to page 3), a reference list that names another setting
PAGES = (
    "Involving patients in cancer research\nCarl Brown\n\nAbstract\n"
    "Patients and carers shaped the research programme through co-design workshops.\n\n"
    "1. Introduction\nInvolving patients in research is widely encouraged.",
    "2. Methods\nThe study took place in general practices in Leeds, England, where we\n"
    "interviewed twelve patients and eight clinicians about",
    "their experience of the workshops.\n\n3. Discussion\nThe patients valued being heard.\n\n"
    "References\n[1] Adams K. Experience-based co-design in an intensive care unit. 2015.",
)


def paper(pages: tuple[str, ...] = PAGES, sha: str = "c1") -> PdfDocument:
    """A read PDF (sections found as the reader finds them) without a file."""
    return PdfDocument(
        path=Path("brown.pdf"),
        sha256=sha * 32,
        pages=pages,
        title="Involving patients in cancer research",
        authors=("Carl Brown",),
        doi=None,
        year=2021,
        abstract=None,
        sections=find_sections(pages),
    )


@pytest.fixture
def store(bib_store: sqlite3.Connection) -> sqlite3.Connection:
    return bib_store


def _linked(con: sqlite3.Connection, key: str = "Brown2021") -> str:
    rid = record_id(con, key)
    pdf_id, _ = ft.store_pdf(con, paper(), "brown.pdf", 1)
    ft.link(con, pdf_id, rid, reviewer="ann")
    return rid


def _evidence(tags: pd.DataFrame, rid: str) -> list[dict]:
    rows = tags[tags["record_id"] == rid]
    labelled = zip(rows["facet"], rows["label"], rows["evidence"], strict=True)
    return [dict(ev, label=f"{f}/{lab}") for f, lab, evs in labelled for ev in evs]


def test_the_tagger_reads_a_pdfs_abstract_and_methods_first_and_names_the_page(
    store: sqlite3.Connection,
) -> None:
    from synth.tagging.workflow import tag_store

    brown = _linked(store)
    run = tag_store(store, refine=False)
    evidence = _evidence(run.tags, brown)
    # the record has no abstract: the PDF's abstract is read as one, on page 1
    codesign = [e for e in evidence if e["label"] == "approach/co-design"]
    assert codesign and codesign[0]["field"] == "abstract"
    assert (codesign[0]["page"], codesign[0]["section"]) == (1, "abstract")
    # the methods section is read at the extract weight (1.5), not the full text's (0.5);
    # its sentence runs on to page 3 and is on the page where it starts
    setting = [e for e in evidence if e["label"] == "setting/primary-care"]
    assert setting and setting[0]["field"] == "extract" and setting[0]["weight"] == 1.5
    assert (setting[0]["page"], setting[0]["section"]) == (2, "methods")
    assert "experience of the workshops" in setting[0]["sentence"]
    # the reference list is not read: another paper's setting and approach are not this one's
    assert not [e for e in evidence if "intensive care" in e["sentence"]]
    # every evidence item from the PDF's text names a page; the title's and metadata's none
    for e in evidence:
        assert ("page" in e) == (e["field"] in ("abstract", "extract", "fulltext")), e


def test_records_without_a_pdf_are_tagged_as_before(store: sqlite3.Connection) -> None:
    from synth.tagging.codebook import load_codebook
    from synth.tagging.tagger import tag
    from synth.tagging.workflow import tag_store

    brown, smith = _linked(store), record_id(store, "Smith2019")
    run = tag_store(store, refine=False)
    records = load_records(store)
    plain = tag(records[records["record_id"] == smith], codebook=load_codebook())
    mine = run.tags[run.tags["record_id"] == smith].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, plain.reset_index(drop=True))
    assert brown in set(run.tags["record_id"])


def test_the_bundled_corpus_is_tagged_as_before(kei_imported_db: Path, copy_db) -> None:
    """Records without a PDF (all of the bundled corpus) go through the tagger as they did:
    the rule rows are the tagger's own on the stored records, extracts and full texts."""
    from synth.review import find_review, review_for
    from synth.store.views import load_extracts
    from synth.tagging.codebook import load_codebook
    from synth.tagging.criteria import with_review_cues
    from synth.tagging.tagger import tag
    from synth.tagging.workflow import tag_store

    con = connect(copy_db(kei_imported_db))
    try:
        records, extracts = load_records(con), load_extracts(con)
        fulltexts = pd.read_sql_query("SELECT record_id, text FROM fulltexts", con)
        codebook = with_review_cues(load_codebook(), review_for(find_review(con)))
        before = tag(records, extracts=extracts, fulltexts=fulltexts, codebook=codebook)
        run = tag_store(con, refine=False)
    finally:
        con.close()
    pd.testing.assert_frame_equal(run.tags, before)


def test_a_pdf_linked_to_a_duplicate_is_its_kept_records_full_text(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    again = tmp_path / "more.bib"  # Brown's paper found a second time
    again.write_text(BIB.split("@article{Brown2021", 1)[1].join(["@article{Brown2021b", ""]))
    con = connect(tmp_path / "review.sqlite")
    try:
        import_paths(con, [bib, again])
        records = load_records(con, with_groups=True)
        brown = records[records["title"] == "Involving patients in cancer research"]
        kept = str(brown.loc[brown["is_kept"].astype(bool), "record_id"].iloc[0])
        member = str(brown.loc[~brown["is_kept"].astype(bool), "record_id"].iloc[0])
        pdf_id, _ = ft.store_pdf(con, paper(), "brown.pdf", 1)
        ft.link(con, pdf_id, member, reviewer="ann")  # linked to the duplicate
        texts = load_fulltexts(con).set_index("record_id")
        row = texts.loc[kept]
        assert (row["source"], row["pdf_id"], row["from_record"]) == ("pdf", pdf_id, member)
        assert row["text"] == "\n\n".join(PAGES)
        assert texts.loc[member, "from_record"] is None
        # one record's text, as an app showing that record reads it
        one = load_fulltexts(con, record_ids=[kept])
        assert one["record_id"].tolist() == [kept] and one["from_record"].tolist() == [member]
        many = load_fulltexts(con, record_ids=[kept, *(f"r{i}" for i in range(600))])
        pd.testing.assert_frame_equal(many, one)  # more ids than one SQL statement takes
        # the record's own stored text only, when asked
        assert kept not in set(load_fulltexts(con, groups=False)["record_id"])
    finally:
        con.close()


def test_one_records_full_text_is_its_row_of_every_full_text(tmp_path: Path) -> None:
    """An app reads one record's full text by key (its group and PDFs looked up, not the
    whole store read): the same row as reading every full text gives, for a kept record
    with a duplicate's PDF, a record with two PDFs (the longer), an unlinked PDF, and ids
    that take several SQL statements."""
    bib = tmp_path / "refs.bib"
    bib.write_text(BIB, encoding="utf-8")
    again = tmp_path / "more.bib"
    again.write_text(BIB.split("@article{Brown2021", 1)[1].join(["@article{Brown2021b", ""]))
    con = connect(tmp_path / "review.sqlite")
    try:
        import_paths(con, [bib, again])
        records = load_records(con, with_groups=True)
        member = str(records.loc[~records["is_kept"].astype(bool), "record_id"].iloc[0])
        smith = record_id(con, "Smith2019")
        brown, _ = ft.store_pdf(con, paper(), "brown.pdf", 1)
        ft.link(con, brown, member, reviewer="ann")
        short, _ = ft.store_pdf(con, paper(PAGES[:1], "d1"), "short.pdf", 1)
        full, _ = ft.store_pdf(con, paper(PAGES, "d2"), "full.pdf", 1)
        gone, _ = ft.store_pdf(con, paper(PAGES[1:], "d3"), "gone.pdf", 1)
        for pdf_id in (short, full, gone):
            ft.link(con, pdf_id, smith, reviewer="ann")
        ft.unlink(con, gone, reviewer="ann")
        every = load_fulltexts(con).set_index("record_id")
        assert every.loc[smith, "pdf_id"] == full and len(every) == 3
        ids = records["record_id"].tolist()
        assert ft.chosen_pdfs(con, [*ids, *(f"r{i}" for i in range(1200))]) == ft.chosen_pdfs(con)
        for rid in ids:
            one = load_fulltexts(con, record_ids=[rid]).set_index("record_id")
            pd.testing.assert_frame_equal(one, every.loc[every.index == rid])
    finally:
        con.close()


def test_theme_passages_from_a_pdf_carry_their_page(store: sqlite3.Connection) -> None:
    from synth.themes.assign import build_passages
    from synth.themes.export import theme_rows

    brown = _linked(store)
    records = load_records(store, with_groups=True)
    passages = build_passages(records, None, load_fulltexts(store))
    mine = passages[(passages["record_id"] == brown) & (passages["field"] == "fulltext")]
    page = dict(zip(mine["text"], mine["page"], strict=True))

    def on(words: str) -> int:
        (found,) = [p for text, p in page.items() if words in text]
        return found

    assert on("through co-design workshops.") == 1
    assert on("interviewed twelve patients") == 2  # where the sentence starts
    assert on("The patients valued being heard.") == 3
    assert set(passages.loc[passages["field"] != "fulltext", "page"]) == {None}
    # the theme export shows a full-text sentence's page
    assignments = passages.assign(
        theme_id="t", score=1.0, method="cue", cue="", similarity=1.0, also=""
    )
    table = theme_rows(assignments, records)
    heard = table[table["passage"].str.contains("valued being heard")]
    assert heard["page"].tolist() == ["3"]


def test_a_quote_from_a_pdf_is_cited_with_its_page() -> None:
    from synth.themes.render import render_theme_summary

    summary = pd.DataFrame(
        [{
            "theme_id": "t", "group": "g", "group_heading": "G", "heading": "T", "n_papers": 1,
            "settings": {}, "approaches": {}, "citations": ["Brown 2021"],
            "quotes": [{"text": "The patients valued being heard.", "citation": "Brown 2021",
                        "field": "fulltext", "page": 3, "also": ""}],
            "summary_items": [{"text": "The patients valued being heard.",
                               "citation": "Brown 2021", "field": "fulltext", "page": 3}],
        }]
    )  # fmt: skip
    html = render_theme_summary(summary)
    assert "<cite>Brown 2021</cite>, p.&nbsp;3" in html
    assert "(<cite>Brown 2021, p. 3</cite>)" in html


def test_the_full_text_stage_shows_the_pdf_page_by_page_with_the_evidence_marked(
    store: sqlite3.Connection,
) -> None:
    from synth.screening.app import ScreeningApp
    from synth.screening.decisions import record_decision
    from synth.store.tags import current_tags
    from synth.tagging.workflow import tag_store

    brown = _linked(store)
    tag_store(store, refine=False)
    record_decision(store, record_id=brown, reviewer="ann", decision="include")
    app = ScreeningApp.open(store, reviewer="ann", stage="full_text", background=False, guard=0)
    try:
        assert app.current is not None and app.current.record_id == brown
        shown = app.record.value
    finally:
        app.queue.close()
    text = shown.split("<summary><b>Full text</b>", 1)[1]
    assert "PDF, 3 pages" in text
    assert text.index("— p. 1 —") < text.index("Carl Brown") < text.index("— p. 2 —")
    assert text.index("— p. 2 —") < text.index("2. Methods") < text.index("— p. 3 —")
    # the methods sentence is marked where it stands, across its line break and on to
    # page 3, its cue too
    assert re.search(r'<mark class="synth-scr-ev" title="[^"]*setting: primary-care[^"]*">'
                     r"The study took place in", text)  # fmt: skip
    assert 'title="setting: primary-care · cue “general practices”">general practices<' in text
    assert '— p. 3 —</div><mark class="synth-scr-ev"' in text
    # the abstract's evidence (the record has none of its own) is listed with its page
    assert "abstract · p. 1" in shown.split("<summary><b>Full text</b>", 1)[0]
    # the extraction app shows the same text, the same way
    from synth.extraction.app import paper_html

    tags = current_tags(store)
    record = load_records(store).set_index("record_id").loc[brown].to_dict()
    row = load_fulltexts(store, record_ids=[brown]).iloc[0].to_dict()
    html = paper_html(record, tags[tags["record_id"] == brown], pd.DataFrame(), row)
    assert "— p. 2 —" in html and "synth-scr-ev" in html.split("<summary><b>Full text</b>")[1]


def test_the_title_abstract_stage_does_not_show_the_full_text(store: sqlite3.Connection) -> None:
    from synth.screening.app import ScreeningApp

    _linked(store)
    app = ScreeningApp.open(store, reviewer="ann", background=False, guard=0)
    try:
        assert "Full text" not in app.record.value
    finally:
        app.queue.close()


def test_the_evidence_maps_paper_table_names_the_page_of_a_pdfs_sentence() -> None:
    from synth.report.maps_data import best_evidence

    evidence = [
        {"field": "extract", "sentence": "We worked in general practices.", "page": 4},
        {"field": "title", "sentence": "A title"},
    ]
    assert best_evidence(evidence) == ("We worked in general practices.", "extract, p. 4")
    assert best_evidence(evidence[1:]) == ("A title", "title")


def test_the_tags_export_names_the_page_of_a_pdfs_evidence(
    store: sqlite3.Connection, tmp_path: Path
) -> None:
    import csv

    from synth.exporting import export_tags
    from synth.tagging.workflow import tag_store

    brown = _linked(store)
    tag_store(store, refine=False)
    export_tags(store, tmp_path / "tags.csv")
    with (tmp_path / "tags.csv").open(encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["record_id"] == brown]
    setting = [r for r in rows if r["facet"] == "setting"]
    assert setting and "[extract, p. 2] The study took place in" in setting[0]["evidence"]
    title = [r for r in rows if r["evidence"].startswith("[title]")]
    assert title  # a title's evidence names no page
