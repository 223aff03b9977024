"""Read a PDF's full text: text per page in reading order, its front matter and sections.

The library is PDFium through ``pypdfium2`` (Apache-2.0 / BSD-3-Clause): it is the PDF
engine of Chromium, reads damaged files leniently, tells an encrypted file from a broken
one, and extracts text about fifty times faster than pdfminer.six on the real papers of
the test material, with the character boxes that column detection needs.

Every failure of a file is a :class:`PdfError` with one plain sentence of reason, so an
import can list it and go on; :func:`iter_pdfs` never lets one bad file stop the others.
Memory stays bounded: one page is open at a time and closed before the next, nothing is
rendered, and only the cleaned text and line boxes are kept.
"""

from __future__ import annotations

import codecs
import ctypes
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pypdfium2  # noqa: F401 (imported first: it starts PDFium, which the raw calls use)
import pypdfium2.raw as pdfium_c

from synth.fulltext.passages import PAGE_JOIN, page_at, page_starts
from synth.fulltext.pdf_layout import (
    BoxSlots,
    Line,
    RowColumns,
    TextPage,
    drop_running_lines,
    join_hyphens,
    join_lines,
    read_page,
)
from synth.fulltext.pdf_meta import Section, abstract_of, find_sections, front_matter
from synth.parallel import gc_paused

__all__ = ["PdfDocument", "PdfError", "Section", "iter_pdfs", "read_pdf"]

_HEADER_SPAN = 1024  # "%PDF-" may follow some junk, within the first kilobyte
_TAIL_SPAN = 16384  # a complete file has "%%EOF" within its last 16 KB
_FRONT_PAGES = 2  # the DOI and inline headings are looked for on the first pages
_REOPEN_EVERY = 50  # pages read before the document is opened again (bounds memory) ...
_REOPEN_ABOVE = 4 << 20  # ... in a file larger than this (PDFium keeps up to ~1.6x a file)
OCR_HINT = "no text layer (a scanned image?): run OCR first, e.g. ocrmypdf"


class PdfError(Exception):
    """A PDF that cannot be read: ``path`` and ``reason``, one plain sentence."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class PdfDocument:
    """A PDF's cleaned text (``pages[0]`` is page 1) and what its first pages say."""

    path: Path
    sha256: str
    pages: tuple[str, ...]
    title: str | None
    authors: tuple[str, ...]
    doi: str | None
    year: int | None
    abstract: str | None
    sections: tuple[Section, ...]

    @cached_property
    def text(self) -> str:
        """All pages, joined by a blank line (:data:`synth.fulltext.passages.PAGE_JOIN`, as
        the store joins a PDF's pages for every later stage)."""
        return PAGE_JOIN.join(self.pages)

    @cached_property
    def _starts(self) -> tuple[int, ...]:
        return page_starts([len(page) for page in self.pages])

    def page_of(self, offset: int) -> int:
        """The 1-based page holding character ``offset`` of :attr:`text`."""
        if not self.pages:
            return 1
        return page_at(self._starts, offset)


def _sha256(path: Path, data: bytes | None) -> str:
    """The file's SHA-256, from its bytes when they were read whole."""
    if data is not None:
        return hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_file(path: Path) -> bytes | None:
    """The failures seen without a PDF library: missing, empty, not a PDF, cut short. A
    file of at most ``_REOPEN_ABOVE`` bytes is read whole, and its bytes returned: PDFium
    reads it from memory (its file reads, many small ones a page, cost a twentieth of the
    reading) and the digest is taken from them (no second read)."""
    data = None
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            if size <= _REOPEN_ABOVE:
                data = handle.read()
                head, tail = data[:_HEADER_SPAN], data[max(len(data) - _TAIL_SPAN, 0) :]
            else:
                head = handle.read(_HEADER_SPAN)
                handle.seek(max(size - _TAIL_SPAN, 0))
                tail = handle.read()
    except FileNotFoundError:
        raise PdfError(path, "no such file") from None
    except OSError as exc:
        raise PdfError(path, f"cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise PdfError(path, "empty file (0 bytes)")
    if b"%PDF-" not in head:
        raise PdfError(path, f"not a PDF (starts with {head[:16]!r})")
    if b"%%EOF" not in tail:
        raise PdfError(path, "truncated or damaged: the file ends without %%EOF (cut short?)")
    return data


def _open_reason(message: str) -> str:
    lowered = message.lower()
    if "password" in lowered:
        return "encrypted: needs a password"
    if "security" in lowered:
        return "encrypted with a security handler PDFium does not support"
    return f"truncated or damaged: {message}"


def _has_images(page: Any) -> bool:
    """Whether the page (PDFium's handle) holds an image or a form at its top level."""
    for index in range(pdfium_c.FPDFPage_CountObjects(page)):
        kind = pdfium_c.FPDFPageObj_GetType(pdfium_c.FPDFPage_GetObject(page, index))
        if kind in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_FORM):
            return True
    return False


@dataclass
class _Pages:
    """What reading the pages leaves: lines per page and the first page's geometry."""

    lines: list[list[Line]]
    heights: list[float]
    first_width: float
    images_only: int  # pages with images but no text


# PDFium's reasons for not opening a file, in pypdfium2's words
_OPEN_ERRORS = {
    pdfium_c.FPDF_ERR_SUCCESS: "Success",
    pdfium_c.FPDF_ERR_UNKNOWN: "Unknown error",
    pdfium_c.FPDF_ERR_FILE: "File access error",
    pdfium_c.FPDF_ERR_FORMAT: "Data format error",
    pdfium_c.FPDF_ERR_PASSWORD: "Incorrect password error",
    pdfium_c.FPDF_ERR_SECURITY: "Unsupported security scheme error",
    pdfium_c.FPDF_ERR_PAGE: "Page not found or content error",
}
# the keys of the document information dictionary that front_matter reads
_METADATA_KEYS = ("Title", "Author", "CreationDate")
_METADATA_NAMES = tuple((key + "\0").encode("utf-8") for key in _METADATA_KEYS)
_METADATA_ROOM = 1024  # bytes: most values fit, a longer one is asked for again


def _open(path: Path, data: bytes | None = None) -> Any:
    """The document's PDFium handle (close it with ``FPDF_CloseDocument``), opened as
    ``pypdfium2.PdfDocument`` opens a path (or, given them, the file's bytes, which must
    outlive the handle), without its object (which resolves the path on disk, a tenth of
    a millisecond, and sets up a finalizer)."""
    if data is not None:
        raw = pdfium_c.FPDF_LoadMemDocument64(data, len(data), None)
    else:
        name = (str(path) + "\0").encode("utf-8", "surrogateescape")
        raw = pdfium_c.FPDF_LoadDocument(name, None)
    if pdfium_c.FPDF_GetPageCount(raw) < 1:
        code = pdfium_c.FPDF_GetLastError()
        if raw:
            pdfium_c.FPDF_CloseDocument(raw)
        message = f"Failed to load document (PDFium: {_OPEN_ERRORS.get(code, code)})."
        raise PdfError(path, _open_reason(message))
    return raw


def _metadata(raw: Any) -> dict[str, str]:
    """The document information dictionary's values that are read (empty when absent), as
    pypdfium2's ``get_metadata_dict`` reads them, but into one buffer, asked once a key
    unless the value is longer."""
    metadata = {}
    buffer = ctypes.create_string_buffer(_METADATA_ROOM)
    for key, name in zip(_METADATA_KEYS, _METADATA_NAMES, strict=True):
        size = pdfium_c.FPDF_GetMetaText(raw, name, buffer, _METADATA_ROOM)
        if size > _METADATA_ROOM:  # (PDFium left the buffer as it was)
            buffer = ctypes.create_string_buffer(size)
            pdfium_c.FPDF_GetMetaText(raw, name, buffer, size)
        # the value in UTF-16 with its closing NUL (2 bytes)
        text = memoryview(buffer)[: size - 2] if size > 2 else b""
        metadata[key] = codecs.decode(text, "utf-16-le")
    return metadata


def _read_pages(
    path: Path, max_pages: int | None, data: bytes | None = None
) -> tuple[_Pages, dict[str, str]]:
    """Every page's lines in reading order, and the metadata dictionary. A file larger
    than ``_REOPEN_ABOVE`` is opened again every ``_REOPEN_EVERY`` pages: PDFium keeps the
    objects it parsed (image data included) until the document closes, up to about 1.6
    times the bytes it read, so memory stays bounded by a chunk of pages, not by the file.
    A smaller file is read in one opening, from its bytes (``data``) when given: opening
    parses the page tree again, 2 ms a time for 500 pages, and what PDFium keeps of it
    stays under 7 MB."""
    doc = _open(path, data)
    try:
        pages = pdfium_c.FPDF_GetPageCount(doc)
        count = pages if max_pages is None else min(pages, max(max_pages, 0))
        metadata = _metadata(doc)
        read = _Pages([], [], 0.0, 0)
        rows, slots = RowColumns(), BoxSlots()
        large = data is None and path.stat().st_size > _REOPEN_ABOVE
        every = _REOPEN_EVERY if large else count + 1
        for index in range(count):
            if index and index % every == 0:
                pdfium_c.FPDF_CloseDocument(doc)
                doc = None
                doc = _open(path)
            _read_page(doc, path, index, read, rows, slots)
    finally:
        if doc:
            pdfium_c.FPDF_CloseDocument(doc)
    return read, metadata


def _read_page(
    doc: Any, path: Path, index: int, read: _Pages, rows: RowColumns, slots: BoxSlots
) -> None:
    """One page, by PDFium's own handles: pypdfium2's page and text page objects (their
    finalizers, weak references and checks) cost a tenth of a page's reading."""
    page = pdfium_c.FPDF_LoadPage(doc, index)
    if not page:
        raise PdfError(path, f"truncated or damaged: page {index + 1}: Failed to load page.")
    try:
        height = pdfium_c.FPDF_GetPageHeightF(page)
        read.first_width = read.first_width or pdfium_c.FPDF_GetPageWidthF(page)
        textpage = TextPage.load(page)
        try:
            found = read_page(textpage, height, sizes=index == 0, rows=rows, slots=slots)
        finally:
            textpage.close()
        if not found and _has_images(page):
            read.images_only += 1
    finally:
        pdfium_c.FPDF_ClosePage(page)
    read.lines.append(found)
    read.heights.append(height)


def read_pdf(path: Path | str, *, max_pages: int | None = None) -> PdfDocument:
    """Read one PDF (at most ``max_pages`` pages); a file that cannot be read raises
    :class:`PdfError` with the reason, never another exception."""
    path = Path(path)
    data = _check_file(path)
    try:
        with gc_paused():  # a few objects a line, none in a cycle: ~3% of the reading
            doc = _read(path, max_pages, data)
    except PdfError:
        raise
    except Exception as exc:  # a damaged file (or a reader bug) must not end an import
        raise PdfError(path, f"truncated or damaged: {type(exc).__name__}: {exc}") from None
    if not any(page.strip() for page in doc.pages):
        # only running headers, footers and page numbers had text: scanned pages with a
        # download stamp, say
        raise PdfError(path, "no text beyond running headers and page numbers: " + OCR_HINT)
    return doc


def _read(path: Path, max_pages: int | None, data: bytes | None) -> PdfDocument:
    """The document, from its pages' lines (which are let go on return)."""
    read, metadata = _read_pages(path, max_pages, data)
    count = len(read.lines)
    if count == 0:
        raise PdfError(path, "no pages")
    if not any(read.lines):
        if read.images_only:
            raise PdfError(path, OCR_HINT)
        raise PdfError(path, f"no text: its {count} page(s) are blank")
    return _document(path, read, metadata, data)


def _document(
    path: Path, read: _Pages, metadata: dict[str, str], data: bytes | None
) -> PdfDocument:
    kept = drop_running_lines(read.lines, read.heights)
    pages = tuple(join_hyphens([join_lines(lines) for lines in kept]))
    size = (read.first_width, read.heights[0])
    front = front_matter(kept[0], size, pages[:_FRONT_PAGES], metadata)
    sections = find_sections(pages)
    return PdfDocument(
        path=path,
        sha256=_sha256(path, data),
        pages=pages,
        title=front.title,
        authors=front.authors,
        doi=front.doi,
        year=front.year,
        abstract=abstract_of(sections),
        sections=sections,
    )


def iter_pdfs(folder_or_file: Path | str) -> Iterator[PdfDocument | PdfError]:
    """Every ``*.pdf`` (any case) in a folder and its subfolders, sorted by path, or the one
    file given; a file that cannot be read yields its :class:`PdfError` and the rest load."""
    root = Path(folder_or_file)
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf")
    elif root.exists():
        files = [root]
    else:
        yield PdfError(root, "no such file or folder")
        return
    for file in files:
        try:
            yield read_pdf(file)
        except PdfError as error:
            yield error
