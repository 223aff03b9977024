"""PDFs in the store and their link events: stored once, manual beats automatic, the
latest event stands, and the log is append-only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from synth.fulltext.links import link_pdfs
from synth.screening.decisions import record_decision
from synth.screening.prisma import prisma_counts
from synth.store import fulltexts as ft
from synth.store import import_paths, load_failures, load_fulltexts, load_records
from tests.conftest import record_id
from tests.pdf_fixtures import pdf_doc

BIB = """@article{Smith2019,
  author = {Smith, Anna and Jones, Ben},
  title = {Co-producing mental health services with service users: a realist review},
  year = {2019},
  doi = {10.1000/coprod.2019.7},
}
@article{Brown2021,
  author = {Brown, Carl},
  title = {Patient and public involvement in cancer research: a qualitative study},
  year = {2021},
}
"""


@pytest.fixture
def store(bib_store: sqlite3.Connection) -> sqlite3.Connection:
    return bib_store


def test_a_pdf_is_stored_once_with_its_pages_and_sections(store: sqlite3.Connection) -> None:
    doc = pdf_doc("ab", title="A title", pages=("One.", "Two.", "Three."))
    pdf_id, new = ft.store_pdf(store, doc, "folder/a.pdf", 123)
    again, new_again = ft.store_pdf(store, doc, "elsewhere/a-copy.pdf", 123)
    assert (new, again, new_again) == (True, pdf_id, False)
    pdfs = ft.load_pdfs(store)
    assert pdfs[["file", "pages", "chars", "title"]].values.tolist() == [
        ["folder/a.pdf", 3, len("One.\n\nTwo.\n\nThree."), "A title"]
    ]
    assert ft.load_pages(store, pdf_id)["text"].tolist() == ["One.", "Two.", "Three."]
    assert ft.load_sections(store, pdf_id)[["name", "page"]].values.tolist() == [
        ["abstract", 1], ["methods", 2],
    ]  # fmt: skip
    assert ft.pdf_text(store, pdf_id) == doc.text
    assert ft.find_pdf(store, "a.pdf") == ft.find_pdf(store, str(pdf_id)) == pdf_id


def test_a_reviewers_link_outranks_the_linker_on_every_later_import(
    store: sqlite3.Connection,
) -> None:
    smith, brown = record_id(store, "Smith2019"), record_id(store, "Brown2021")
    pdf_id, _ = ft.store_pdf(store, pdf_doc("cd", doi="10.1000/COPROD.2019.7"), "s.pdf", 1)
    assert link_pdfs(store)["pdfs_by_doi"] == 1
    ft.link(store, pdf_id, brown, reviewer="ann", note="the DOI on the PDF is wrong")
    counts = link_pdfs(store)  # what a re-import does
    assert counts["pdfs_by_reviewer"] == 1 and counts["pdfs_by_doi"] == 0
    current = ft.current_links(store).iloc[0]
    assert (current["record_id"], current["rule"], current["reviewer"]) == (brown, "manual", "ann")
    # even an automatic event written after the reviewer's does not stand
    store.execute(
        "INSERT INTO fulltext_link_events (pdf_id, record_id, action, rule, score, created_at)"
        " VALUES (?, ?, 'link', 'doi', 100, '9999')",
        (pdf_id, smith),
    )
    assert ft.current_links(store).iloc[0]["record_id"] == brown


def test_unlink_and_the_latest_reviewer_event_stands(store: sqlite3.Connection) -> None:
    smith = record_id(store, "Smith2019")
    pdf_id, _ = ft.store_pdf(store, pdf_doc("ef", doi="10.1000/coprod.2019.7"), "s.pdf", 1)
    link_pdfs(store)
    ft.unlink(store, pdf_id, reviewer="ann", note="a draft, not the paper")
    current = ft.current_links(store).iloc[0]
    assert current["action"] == "unlink" and current["record_id"] is None
    link_pdfs(store)  # the linker does not link it again
    assert ft.current_links(store).iloc[0]["action"] == "unlink"
    ft.link(store, pdf_id, smith, reviewer="bob")
    current = ft.current_links(store).iloc[0]
    assert (current["action"], current["record_id"], current["reviewer"]) == ("link", smith, "bob")
    events = ft.link_events(store)
    assert events["rule"].tolist() == ["doi", "manual", "manual"]
    assert events["reviewer"].tolist() == [None, "ann", "bob"]


def test_reimporting_adds_no_event_and_events_are_append_only(store: sqlite3.Connection) -> None:
    ft.store_pdf(store, pdf_doc("gh", doi="10.1000/coprod.2019.7"), "s.pdf", 1)
    link_pdfs(store)
    assert link_pdfs(store)["pdfs_unchanged"] == 1
    assert len(ft.link_events(store)) == 1
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.execute("UPDATE fulltext_link_events SET score = 1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.execute("DELETE FROM fulltext_link_events")


def test_unknown_pdf_record_or_reviewer_is_a_clear_error(store: sqlite3.Connection) -> None:
    pdf_id, _ = ft.store_pdf(store, pdf_doc("ij"), "s.pdf", 1)
    with pytest.raises(ValueError, match="r-nope: no such record"):
        ft.link(store, pdf_id, "r-nope", reviewer="ann")
    with pytest.raises(ValueError, match="no such PDF"):
        ft.find_pdf(store, "missing.pdf")
    with pytest.raises(ValueError, match="no such PDF"):
        ft.unlink(store, 999, reviewer="ann")
    with pytest.raises(ValueError, match="name the reviewer"):
        ft.unlink(store, pdf_id, reviewer=" ")
    assert ft.link_events(store).empty


def test_load_fulltexts_gives_linked_pdfs_beside_markdown_the_longer_pdf_wins(
    store: sqlite3.Connection,
) -> None:
    smith, brown = record_id(store, "Smith2019"), record_id(store, "Brown2021")
    short, _ = ft.store_pdf(store, pdf_doc("k1", pages=("Short.",)), "short.pdf", 1)
    long, _ = ft.store_pdf(store, pdf_doc("k2", pages=("A longer text.", "Page two.")), "l.pdf", 1)
    ft.link(store, short, smith, reviewer="ann")
    ft.link(store, long, smith, reviewer="ann", note="the same paper, with its appendix")
    texts = load_fulltexts(store).set_index("record_id")
    assert list(texts.columns[:2]) == ["text", "chars"]
    row = texts.loc[smith]
    assert (row["source"], row["pdf_id"]) == ("pdf", long)
    assert row["text"] == "A longer text.\n\nPage two."
    assert row["chars"] == len(row["text"])
    assert brown not in texts.index
    # a Markdown full text of the record wins over its PDF
    store.execute(
        "INSERT INTO fulltexts_all (record_id, source_id, text, chars) VALUES (?, 1, 'md', 2)",
        (smith,),
    )
    row = load_fulltexts(store).set_index("record_id").loc[smith]
    assert (row["source"], row["text"]) == ("markdown", "md") and pd.isna(row["pdf_id"])


def test_prisma_counts_a_linked_pdf_as_a_full_text_retrieved(store: sqlite3.Connection) -> None:
    smith, brown = record_id(store, "Smith2019"), record_id(store, "Brown2021")
    for rid in (smith, brown):
        record_decision(store, record_id=rid, reviewer="ana", decision="include")
    assert prisma_counts(store).not_retrieved == 2
    pdf_id, _ = ft.store_pdf(store, pdf_doc("m1", doi="10.1000/coprod.2019.7"), "s.pdf", 1)
    link_pdfs(store)
    assert prisma_counts(store).not_retrieved == 1  # Brown's is still missing
    ft.unlink(store, pdf_id, reviewer="ann")
    assert prisma_counts(store).not_retrieved == 2


def test_an_unreadable_pdf_is_no_record_identified(
    store: sqlite3.Connection, tmp_path: Path
) -> None:
    """PRISMA counts a reference file that cannot be read as a record found and not read;
    a PDF that cannot be read is a full text, not a record of the search."""
    assert prisma_counts(store).identified == 2
    (tmp_path / "pdfs").mkdir()
    (tmp_path / "pdfs" / "zero.pdf").write_bytes(b"")
    import_paths(store, [tmp_path / "pdfs"])
    assert "zero.pdf" in set(load_failures(store)["file"])
    assert prisma_counts(store).identified == 2


def test_a_pdf_without_a_title_is_a_record_titled_by_its_file_with_a_warning(
    store: sqlite3.Connection,
) -> None:
    ft.store_pdf(store, pdf_doc("n1", pages=("3 1 4 1 5",)), "scans/minimal.pdf", 1)
    assert link_pdfs(store)["pdfs_own_record"] == 1
    link = ft.current_links(store).iloc[0]
    record = load_records(store).set_index("record_id").loc[link["record_id"]]
    assert (record["title"], record["source_format"]) == ("minimal", "pdf")
    failures = load_failures(store)
    (reason,) = failures.loc[failures["file"] == "scans/minimal.pdf", "reason"]
    assert "no title found in the PDF" in reason and "synth fulltexts link" in reason
    assert set(failures["severity"]) == {"warning"}
    link_pdfs(store)  # once
    assert len(load_failures(store)) == 1


def test_a_pdf_named_otherwise_is_imported_as_a_full_text(
    store: sqlite3.Connection, tmp_path: Path
) -> None:
    """A PDF saved without its suffix (a browser's download) is a full text by its first
    bytes: stored and linked, not refused as a reference file that is a PDF."""
    from synth.corpus import read_file
    from synth.corpus.reading import ReadError
    from tests.pdf_fixtures import Text, write_pdf

    download = tmp_path / "download"
    lines = [
        "Co-producing mental health services with service users:",
        "a realist review",
        "Anna Smith, Ben Jones",
        "doi:10.1000/coprod.2019.7",
        *(f"Line {i} of the paper's text about co-production." for i in range(20)),
    ]
    write_pdf(download, [[Text(line, 60, 760 - 16 * i) for i, line in enumerate(lines)]])
    report = import_paths(store, [download])
    assert load_failures(store).empty, load_failures(store)
    (row,) = report.files.to_dict("records")
    assert row["format"] == "pdf"
    (link,) = ft.current_links(store).to_dict("records")
    assert link["record_id"] == record_id(store, "Smith2019") and link["rule"] == "doi"
    with pytest.raises(ReadError, match="a PDF"):  # read as references, it says what it is
        read_file(download)


def test_every_event_writer_asks_for_a_name_in_one_way(store: sqlite3.Connection) -> None:
    """Linking a PDF, recording a value, a screening decision and a CERQual judgement all
    refuse a blank name with one message (synth.store.db.require_name)."""
    from synth.extraction.cerqual import record_judgement
    from synth.store.extraction import record_value

    smith = record_id(store, "Smith2019")
    pdf_id, _ = ft.store_pdf(store, pdf_doc("w1"), "w.pdf", 1)
    blank = r"name the reviewer \(a non-empty string\), not ' '"
    writers = [
        lambda: ft.link(store, pdf_id, smith, reviewer=" "),
        lambda: ft.unlink(store, pdf_id, reviewer=" "),
        lambda: record_value(store, smith, "f", "x", "v", " "),
        lambda: record_decision(store, record_id=smith, reviewer=" ", decision="include"),
        lambda: record_judgement(store, "t1", "coherence", "minor concerns", " "),
    ]
    for write in writers:
        with pytest.raises(ValueError, match=blank):
            write()
    with pytest.raises(ValueError, match=r"name the finding \(its theme id\)"):
        record_judgement(store, " ", "coherence", "minor concerns", "ann")
