"""PDFs with known text for the full-text tests and the PDF benchmark.

Two makers (and :func:`pdf_doc`, a read PDF as the reader returns it, for the store's
tests that need no file):

- :func:`write_pdf` places text lines at exact positions with PDFium's own writer
  (standard Helvetica), so a test controls the layout (columns, running headers, page
  numbers) and the content-stream order (to test the reading order independently of it);
  it is fast enough for a 500-page file and needs no browser.
- :func:`render_html` prints an HTML page to PDF with headless chromium, as a reviewer's
  publisher would typeset a paper: :func:`synthetic_paper` writes such a paper (one or two
  columns, a running header and footer, page numbers, a table, hyphenated words) and keeps
  its source text, so that what :func:`synth.fulltext.read_pdf` reads back can be scored by
  :func:`char_accuracy`.
"""

from __future__ import annotations

import ctypes
import html
import re
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from rapidfuzz.distance import Levenshtein

from synth.fulltext.pdf import PdfDocument, Section

A4 = (595.0, 842.0)


@dataclass(frozen=True)
class Text:
    """One text line placed on a page (PDF points from the bottom-left corner)."""

    text: str
    x: float
    y: float
    size: float = 10.0


def write_pdf(
    path: Path,
    pages: Iterable[Sequence[Text]],
    size: tuple[float, float] = A4,
    *,
    image_bytes: int = 0,
) -> Path:
    """A PDF whose pages hold these lines, written in the order given (the content stream
    order), in Helvetica; with ``image_bytes``, each page also shows an image of random
    pixels about that large (incompressible: a big file whose images a reader must not
    decode)."""
    pdf = pdfium.PdfDocument.new()
    font = pdfium_c.FPDFText_LoadStandardFont(pdf, b"Helvetica")
    random = Random(7)
    for lines in pages:
        page = pdf.new_page(*size)
        if image_bytes:
            _add_noise_image(pdf, page, image_bytes, random)
        for line in lines:
            obj = pdfium_c.FPDFPageObj_CreateTextObj(pdf, font, line.size)
            buffer = ctypes.create_string_buffer((line.text + "\x00").encode("utf-16-le"))
            pdfium_c.FPDFText_SetText(obj, ctypes.cast(buffer, ctypes.POINTER(pdfium_c.FPDF_WCHAR)))
            pdfium_c.FPDFPageObj_Transform(obj, 1, 0, 0, 1, line.x, line.y)
            pdfium_c.FPDFPage_InsertObject(page, obj)
        pdfium_c.FPDFPage_GenerateContent(page)
        page.close()
    pdf.save(str(path))
    pdf.close()
    return path


def _add_noise_image(pdf: Any, page: Any, image_bytes: int, random: Random) -> None:
    side = max(int((image_bytes / 3) ** 0.5), 1)
    bitmap = pdfium.PdfBitmap.new_native(side, side, pdfium_c.FPDFBitmap_BGR)
    ctypes.memmove(bitmap.buffer, random.randbytes(side * side * 3), side * side * 3)
    image = pdfium.PdfImage.new(pdf)
    image.set_bitmap(bitmap)
    image.set_matrix(pdfium.PdfMatrix().scale(200, 200).translate(300, 40))
    page.insert_obj(image)


def column_lines(text: str, per_line: int) -> list[str]:
    """The words of ``text`` cut into lines of ``per_line`` words."""
    words = text.split()
    return [" ".join(words[i : i + per_line]) for i in range(0, len(words), per_line)]


def long_pdf(path: Path, pages: int, image_bytes: int = 0) -> Path:
    """A two-column paper of ``pages`` pages with a running header and page numbers (and,
    with ``image_bytes``, a random image of about that size on every page)."""
    words = (
        "Community health services increasingly rely on the co-production of care with "
        "the people who use them and the evidence for it grows year by year "
    ) * 8
    lines = column_lines(words, 7)[:50]
    return write_pdf(
        path,
        (
            [
                Text("Journal of Long Benchmarks 12 (2024)", 200, 810, 8),
                *[Text(t, 50, 760 - 14 * i, 9) for i, t in enumerate(lines)],
                *[Text(t, 310, 760 - 14 * i, 9) for i, t in enumerate(lines)],
                Text(str(n + 1), 295, 30, 8),
            ]
            for n in range(pages)
        ),
        image_bytes=image_bytes,
    )


# --------------------------------------------------------------------------- chromium


def chromium() -> str | None:
    """The chromium binary, as the browser tests find it (``tests/browser.py``)."""
    from tests.browser import chromium_paths

    return chromium_paths()[0]


def render_html(source: str, out: Path, binary: str) -> Path:
    """Print ``source`` (an HTML document) to ``out`` with headless chromium."""
    with tempfile.TemporaryDirectory(prefix="synth-pdf-") as tmp:
        page = Path(tmp) / "paper.html"
        page.write_text(source, encoding="utf-8")
        subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-pdf-header-footer",
                f"--user-data-dir={tmp}/profile",
                f"--print-to-pdf={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
    if not out.is_file() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no PDF to {out}")
    return out


_SENTENCES = (
    "Community health services increasingly rely on the co-production of care with the "
    "people who use them.",
    "We interviewed {n} practitioners and {m} service users about their experience of "
    "shared decision making.",
    "Participants described the acknowledgement of lived experience as the foundation of "
    "any meaningful partnership.",
    "Establishment of trust took time, and the internationalisation of guidance did not "
    "replace local knowledge.",
    "Several respondents noted that telecommunications made participation possible for "
    "those who could not travel.",
    "The findings suggest that co-production improves the appropriateness of services when "
    "resources follow the decisions.",
    "Characteristically, the most successful projects had a named coordinator and a budget "
    "that the group controlled.",
    "Barriers included professional hierarchies, short funding cycles and uncertainty about "
    "accountability for outcomes.",
)

_LONG_WORD = re.compile(r"[a-z]{10,}")


def _soft_hyphens(word: str) -> str:
    """Soft hyphens every four letters (none in the last three), so chromium can break it."""
    cut = range(4, len(word) - 3, 4)
    chunks = (word[i : i + 4] + ("\u00ad" if i + 4 in cut else "") for i in range(0, len(word), 4))
    return "".join(chunks)


@dataclass(frozen=True)
class Paper:
    """A synthetic paper: its HTML and the text a reader should get back (no running
    header, footer or page numbers; table cells in row order)."""

    html: str
    text: str
    title: str
    doi: str


def _paragraphs(count: int, seed: int) -> list[str]:
    out = []
    for i in range(count):
        picked = [_SENTENCES[(seed + i + k) % len(_SENTENCES)] for k in range(5)]
        out.append(" ".join(s.format(n=12 + i, m=30 + i) for s in picked))
    return out


def _soft(text: str) -> str:
    """Every long lower-case word may break at a line end (the source text keeps it whole)."""
    return _LONG_WORD.sub(lambda m: _soft_hyphens(m.group()), text)


def synthetic_paper(columns: int, sections: int = 6) -> Paper:
    """A paper of a few pages in one or two columns, with a running header and footer, page
    numbers, a table, and soft hyphens in long words."""
    title = "Co-production in community health services: a qualitative synthesis"
    doi = "10.5555/synth.2024.0042"
    names = ["Introduction", "Methods", "Results", "Discussion", "Conclusion"]
    parts_html: list[str] = []
    parts_text: list[str] = [title, "Ann Smith, Bob Jones", f"DOI: {doi}"]
    abstract = _paragraphs(1, 0)[0]
    parts_html.append(f"<h2>Abstract</h2><p>{_soft(html.escape(abstract))}</p>")
    parts_text += ["Abstract", abstract]
    for number in range(sections):
        name = names[number % len(names)] if number < len(names) else f"Part {number + 1}"
        heading = f"{number + 1}. {name}"
        parts_html.append(f"<h3>{html.escape(heading)}</h3>")
        parts_text.append(heading)
        for paragraph in _paragraphs(3, number + 1):
            parts_html.append(f"<p>{_soft(html.escape(paragraph))}</p>")
            parts_text.append(paragraph)
        if number == 2:
            rows = [
                ("Group", "Sites", "People"),
                ("Practitioners", "4", "12"),
                ("Users", "6", "30"),
            ]
            cells = "".join(
                "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows
            )
            parts_html.append(f"<table>{cells}</table>")
            parts_text += [" ".join(row) for row in rows]
    column_css = "column-count: 2; column-gap: 9mm;" if columns == 2 else ""
    source = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>
@page {{ size: A4; margin: 22mm 20mm;
  @top-center {{ content: "Journal of Synthetic Evidence · Volume 7"; font: 8pt sans-serif }}
  @bottom-center {{ content: counter(page); font: 8pt sans-serif }} }}
body {{ font: 10pt/1.35 "DejaVu Serif", serif; margin: 0 }}
h1 {{ font-size: 19pt; margin: 0 0 6pt }}
h2, h3 {{ font-size: 11pt; margin: 10pt 0 4pt; break-after: avoid }}
p {{ margin: 0 0 6pt; text-align: justify; hyphens: manual }}
table {{ border-collapse: collapse; margin: 6pt 0 }}
td {{ padding: 2pt 8pt; border: 1px solid #999 }}
.body {{ {column_css} }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Ann Smith, Bob Jones</p>
<p>DOI: {doi}</p>
<div class="body">
{"".join(parts_html)}
</div></body></html>"""
    return Paper(source, "\n".join(parts_text), title, doi)


def normalise(text: str) -> str:
    """Whitespace made single spaces, for comparing texts."""
    return " ".join(text.split())


def char_accuracy(read: str, source: str) -> float:
    """1 - Levenshtein distance / length of the source, whitespace-normalised."""
    a, b = normalise(read), normalise(source)
    return 1 - Levenshtein.distance(a, b) / max(len(b), 1)


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def pdf_doc(
    sha: str,
    *,
    title: str | None = None,
    doi: str | None = None,
    year: int | None = None,
    authors: tuple[str, ...] = (),
    pages: tuple[str, ...] = ("First page.", "Second page."),
) -> PdfDocument:
    """A read PDF as the reader returns it (no file needed for the store)."""
    return PdfDocument(
        path=Path(f"{sha}.pdf"),
        sha256=sha * 8,
        pages=pages,
        title=title,
        authors=authors,
        doi=doi,
        year=year,
        abstract="An abstract.",
        sections=(Section("abstract", 1, "An abstract."), Section("methods", 2, "We asked.")),
    )
