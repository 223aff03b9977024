"""Each kind of unreadable PDF is one PdfError with a plain reason; the others still load."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.fulltext import PdfDocument, PdfError, iter_pdfs, read_pdf
from tests.pdf_fixtures import Text, write_pdf


def _good(path: Path, pages: int = 2) -> Path:
    return write_pdf(
        path,
        [
            [Text(f"Page {n} says hello to the reader of this document.", 72, 700)]
            for n in range(1, pages + 1)
        ],
    )


def _reason(path: Path) -> str:
    with pytest.raises(PdfError) as caught:
        read_pdf(path)
    assert caught.value.path == path
    return caught.value.reason


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "nothing.pdf"
    empty.write_bytes(b"")
    assert _reason(empty) == "empty file (0 bytes)"


def test_a_non_pdf_named_pdf(tmp_path: Path) -> None:
    fake = tmp_path / "page.pdf"
    fake.write_text("<html><body>not a pdf</body></html>", encoding="utf-8")
    assert _reason(fake) == "not a PDF (starts with b'<html><body>not ')"


def test_a_truncated_pdf(tmp_path: Path) -> None:
    whole = _good(tmp_path / "whole.pdf", pages=5)
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert read_pdf(whole).pages  # the uncut file reads
    assert _reason(cut).startswith("truncated or damaged")


def test_damaged_inside(tmp_path: Path) -> None:
    """A file with a PDF header and an end marker but garbage between them."""
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n")
    assert _reason(junk).startswith("truncated or damaged")


def test_blank_pages(tmp_path: Path) -> None:
    blank = write_pdf(tmp_path / "blank.pdf", [[], []])
    assert _reason(blank) == "no text: its 2 page(s) are blank"


def test_missing_file(tmp_path: Path) -> None:
    assert _reason(tmp_path / "absent.pdf") == "no such file"


def test_iter_pdfs_reports_bad_files_and_loads_the_rest(tmp_path: Path) -> None:
    _good(tmp_path / "b-good.pdf")
    (tmp_path / "a-zero.PDF").write_bytes(b"")
    (tmp_path / "c-fake.pdf").write_text("hello", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    _good(tmp_path / "sub" / "d-good.Pdf")
    (tmp_path / "notes.txt").write_text("not a pdf and not named one", encoding="utf-8")
    results = list(iter_pdfs(tmp_path))
    assert [r.path.name for r in results] == [
        "a-zero.PDF",
        "b-good.pdf",
        "c-fake.pdf",
        "d-good.Pdf",
    ]
    kinds = [type(r) for r in results]
    assert kinds == [PdfError, PdfDocument, PdfError, PdfDocument]
    assert "Page 1 says hello" in results[1].text


def test_iter_pdfs_of_one_file_and_of_nothing(tmp_path: Path) -> None:
    good = _good(tmp_path / "one.pdf")
    assert [type(r) for r in iter_pdfs(good)] == [PdfDocument]
    missing = list(iter_pdfs(tmp_path / "nowhere"))
    assert len(missing) == 1 and isinstance(missing[0], PdfError)


# ------------------------------------------------------------------ the real hard cases

EXPECTED = {
    "encrypted.pdf": "encrypted: needs a password",
    "scanned-image-only.pdf": "no text layer (a scanned image?): run OCR first, e.g. ocrmypdf",
    # opens without a password (owner password only), but its words are drawn as images
    "write-protected.pdf": "no text layer (a scanned image?): run OCR first, e.g. ocrmypdf",
    "empty.pdf": "no text: its 1 page(s) are blank",
    "broken-pdf.pdf": "not a PDF (starts with b'broken pdf...')",
    "zero-size-pdf.pdf": "empty file (0 bytes)",
}


@pytest.mark.peer
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_hard_cases(peer_data: Path, name: str) -> None:
    assert _reason(peer_data / "pdf" / name) == EXPECTED[name]


@pytest.mark.peer
def test_owner_password_only_pdf_reads_like_its_unprotected_twin(peer_data: Path) -> None:
    protected = read_pdf(peer_data / "pdf" / "LNCS-minimal-protected.pdf")
    plain = read_pdf(peer_data / "pdf" / "LNCS-minimal.pdf")
    # the two builds differ in one line only: the protected one's institute is "..."
    assert protected.text.replace("\n...\n", "\nInstitute\n", 1) == plain.text
    assert "Hello, here is some text without a meaning." in protected.text
    assert protected.title == "Paper Title"


@pytest.mark.peer
def test_the_real_folder_loads_around_its_bad_files(peer_data: Path) -> None:
    results = list(iter_pdfs(peer_data / "pdf"))
    failed = {r.path.name for r in results if isinstance(r, PdfError)}
    assert failed == set(EXPECTED)
    read = [r for r in results if isinstance(r, PdfDocument)]
    assert len(read) == 12
    assert all(doc.text.strip() and len(doc.sha256) == 64 for doc in read)


@pytest.mark.peer
def test_a_pdf_cut_near_its_end_is_not_read_as_whole(peer_data: Path, tmp_path: Path) -> None:
    """PDFium repairs this cut file and would give most of its text without a word: the
    missing end marker makes it a failure rather than a silently shorter text."""
    whole = (peer_data / "pdf" / "Baldoni2002.pdf").read_bytes()
    cut = tmp_path / "Baldoni-cut.pdf"
    cut.write_bytes(whole[: int(len(whole) * 0.99)])
    assert _reason(cut) == "truncated or damaged: the file ends without %%EOF (cut short?)"


def test_scanned_pages_with_a_download_stamp_are_no_text(tmp_path: Path) -> None:
    """Scanned pages whose only text is a repeated footer and a page number: after the
    running lines are dropped nothing is left, so it is the OCR reason, not an empty text."""
    pages = [
        [Text("Downloaded from example.org on 1 May 2020", 72, 30), Text(str(n), 300, 15)]
        for n in range(1, 5)
    ]
    scanned = write_pdf(tmp_path / "scanned.pdf", pages, image_bytes=2_000)
    reason = _reason(scanned)
    assert "run OCR first" in reason and "running headers" in reason


def test_a_long_line_of_capitals_after_the_title_does_not_stall_the_reader() -> None:
    """The inverted-name pattern once backtracked exponentially on an affiliation line in
    capitals (100 s for this one); run in a fresh process that must finish."""
    import subprocess
    import sys

    code = (
        "from synth.fulltext.pdf_meta import _names; "
        "print(_names('Medicine, UNIVERSITY OF CALIFORNIA SAN FRANCISCO SCHOOL OF MEDICINE (USA)'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
