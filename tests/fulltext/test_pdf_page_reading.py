"""A page's lines as the reader takes them from PDFium give what the plain code gives.

The reader reads a page through PDFium's own handles (:class:`TextPage`, not pypdfium2's
objects), cuts its text into lines with ``str.split`` (cleaning only the lines that need
it, in one go), and fetches the two character boxes of every line by ``map`` into one
array. Each is checked here against the straightforward way: pypdfium2's text page, the
line pattern over the text line by line, one ``get_charbox`` at a time.
"""

from __future__ import annotations

import gc
import hashlib
import random
import re
from pathlib import Path
from statistics import median

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from synth.fulltext import PdfDocument, PdfError, read_pdf
from synth.fulltext import pdf as pdf_module
from synth.fulltext.pdf import _METADATA_KEYS, _metadata, _open
from synth.fulltext.pdf_layout import (
    BoxSlots,
    Line,
    TextPage,
    _page_lines,
    _stream_lines,
    clean_line,
    page_lines,
)
from tests.pdf_fixtures import Text, long_pdf, write_pdf

_LINE = re.compile(r"[^\r\n]+")


def _plain_stream_lines(text: str) -> tuple[list[str], list[int], list[int], list[int]]:
    """:func:`_stream_lines` as the line pattern over the text, one line at a time."""
    texts, firsts, lasts, orders = [], [], [], []
    for order, match in enumerate(_LINE.finditer(text)):
        raw = match.group()
        core = raw.strip()
        cleaned = clean_line(core)
        if not core or not cleaned:
            continue
        start = match.start() + len(raw) - len(raw.lstrip())
        texts.append(cleaned)
        firsts.append(start)
        lasts.append(start + len(core) - 1)
        orders.append(order)
    return texts, firsts, lasts, orders


def test_stream_lines_as_the_line_pattern_line_by_line() -> None:
    tricky = [
        "",
        "\r\n",
        "one line",
        "a\r\nb\r\n\r\n  c  \r\n\r\n",
        "lone\rbreaks\nand\r\n\r\r\nmixed\n\r",
        "  \u00a0\u00a0 \r\n\u00a0x\u00a0\r\n\ufb01nd  the\u2009 \u2009gap\r\n\u200b\r\n",
        "hyphen\ufffe\r\nat the end\r\n\tTab\tin\r\nNUL\0 in a line\ufb02\r\n",
    ]
    for text in tricky:
        assert _stream_lines(text) == _plain_stream_lines(text), repr(text)
    pieces = ["a", "B c", " ", "  ", "\r\n", "\r", "\n", "\t", "\u00a0", "\ufb01", "\ufffe"]
    pieces += ["\u200b", "\u2003", "\0", "\u00e9", "x-", "\u0002", "\u3000"]
    rng = random.Random(18)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert _stream_lines(text) == _plain_stream_lines(text), repr(text)


def _plain_page_lines(textpage: pdfium.PdfTextPage, height: float, sizes: bool) -> list[Line]:
    """:func:`page_lines` by pypdfium2's text page, a character box at a time."""
    text = textpage.get_text_range()
    same = len(text) == textpage.count_chars()

    def char(index: int) -> int:
        return index if same else pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, index)

    def box(index: int) -> tuple[float, float, float, float] | None:
        if char(index) < 0:
            return None
        try:
            return textpage.get_charbox(char(index), loose=True)
        except pdfium.PdfiumError:
            return None

    lines = []
    for cleaned, start, end, order in zip(*_plain_stream_lines(text), strict=True):
        first, last = box(start), box(end)
        if first is None or last is None or first[2] <= first[0] or last[2] <= last[0]:
            lines.append(Line(cleaned, 0.0, 0.0, height - order, height - order))
            continue
        line = Line(
            cleaned,
            min(first[0], last[0]),
            max(first[2], last[2]),
            max(first[3], last[3]),
            min(first[1], last[1]),
        )
        if sizes:  # the loose heights of the first, last and middle characters (an empty
            # box in the middle, a space's, does not count)
            heights = [first[3] - first[1]] + ([last[3] - last[1]] if end != start else [])
            middle = box((start + end) // 2) if start < (start + end) // 2 < end else None
            if middle is not None and (middle[2] > middle[0] or middle[3] > middle[1]):
                heights.append(middle[3] - middle[1])
            line.size = median(heights)
        lines.append(line)
    return lines


def _pages_of(path: Path) -> list[tuple[TextPage, pdfium.PdfTextPage, float]]:
    doc = pdfium.PdfDocument(str(path))
    out = []
    for index in range(len(doc)):
        page = doc[index]
        # the same page, once by its raw handle and once by pypdfium2
        raw = TextPage.load(page.raw)
        out.append((raw, page.get_textpage(), page.get_height()))
    return out


def _check_pages(path: Path) -> int:
    read = 0
    slots = BoxSlots()  # shared by the pages, as reading a document shares it
    for raw, textpage, height in _pages_of(path):
        assert raw.get_text_range() == textpage.get_text_range()
        assert raw.count_chars() == textpage.count_chars()
        for sizes in (False, True):
            plain = _plain_page_lines(textpage, height, sizes)
            assert page_lines(raw, height, sizes=sizes) == plain
            assert _page_lines(raw, height, sizes, slots)[0] == plain
        for box in ((0.0, 0.0, 600.0, 850.0), (50.0, 300.0, 58.0, 760.0), (0.0, 0.0, 1.0, 1.0)):
            assert raw.get_text_bounded(*box) == textpage.get_text_bounded(*box)
        for x, y in ((60.0, 700.0), (300.0, 400.0), (1.0, 1.0)):
            assert raw.get_index(x, y, 4.0, 4.0) == textpage.get_index(x, y, 4.0, 4.0)
        read += raw.count_chars()
        raw.close()
    return read


def test_page_lines_as_pypdfium2_gives_them_one_box_at_a_time(tmp_path: Path) -> None:
    rng = random.Random(18)
    words = ["co-production", "of", "care", "\u00e9tude", "Figure", "1.", "x"]
    pages = []
    for _ in range(6):
        lines = [Text("Journal of Page Tests 3 (2026)", 200, 810, 8)]
        for i in range(rng.randint(0, 40)):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
            if rng.random() < 0.2:
                text = f"  {text}   {text}  "  # spaces at the ends and inside
            x = rng.choice([50.0, 310.0, rng.uniform(0, 500)])
            lines.append(Text(text, x, 760 - 14 * (i % 50), rng.choice([8.0, 9.0, 14.0])))
        pages.append(lines)
    # a page of 300 lines among them: the slots for the boxes grow, and the pages after it
    # find an earlier page's boxes in the slots they do not fill
    many = [Text(f"{i} x", 40 + (i * 37) % 400, 800 - 2.6 * i, 2.0) for i in range(300)]
    pages.insert(3, many)
    assert _check_pages(write_pdf(tmp_path / "random.pdf", pages)) > 1000
    assert _check_pages(long_pdf(tmp_path / "long.pdf", 3)) > 1000


@pytest.mark.peer
def test_page_lines_of_the_real_pdfs(peer_data: Path) -> None:
    read = 0
    for path in sorted((peer_data / "pdf").glob("*.pdf")):
        try:
            read += _check_pages(path)
        except pdfium.PdfiumError:  # the files that do not open: the failure tests' part
            continue
    assert read > 100_000


def test_reading_leaves_the_cycle_collector_as_it_found_it(tmp_path: Path) -> None:
    path = long_pdf(tmp_path / "long.pdf", 2)
    was_on = gc.isenabled()
    try:
        gc.enable()
        read_pdf(path)
        assert gc.isenabled()
        gc.disable()
        read_pdf(path)
        assert not gc.isenabled()
        gc.enable()
        damaged = tmp_path / "damaged.pdf"  # passes the first checks, fails in PDFium
        damaged.write_bytes(b"%PDF-1.7\n" + b"x" * 200 + b"\n%%EOF\n")
        with pytest.raises(PdfError, match="damaged"):
            read_pdf(damaged)
        assert gc.isenabled()
    finally:
        (gc.enable if was_on else gc.disable)()


def test_a_heading_in_a_letter_equal_only_in_the_patterns_sense_of_case() -> None:
    """The heading pattern ignores case as Python's re does, where the long s equals "s"
    and the Kelvin sign "k": such a heading is named as its plain form is (it raised a
    KeyError, and the file failed as damaged)."""
    from synth.fulltext.pdf_meta import _heading, find_sections

    assert _heading("Method\u017f", False) == _heading("Methods", False) == ("methods", "")
    assert _heading("3. RE\u017fULT\u017f:", False) == ("results", "")
    assert _heading("Related Wor\u212a", False) == ("other", "")
    sections = find_sections(["Intro text.\nMethod\u017f\nWe asked.\nResults\nThey said."])
    assert [(s.name, s.text) for s in sections] == [
        ("methods", "We asked."),
        ("results", "They said."),
    ]


def _pdf_with_info(path: Path, info: bytes) -> Path:
    """A one-page PDF whose document information dictionary is ``info``."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        info,
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    path.write_bytes(bytes(out))
    return path


def _check_metadata(path: Path) -> dict[str, str]:
    raw = _open(path)
    try:
        read = _metadata(raw)
    finally:
        pdfium_c.FPDF_CloseDocument(raw)
    doc = pdfium.PdfDocument(str(path))
    try:
        expected = doc.get_metadata_dict()
    finally:
        doc.close()
    assert read == {key: expected[key] for key in _METADATA_KEYS}
    return read


def test_metadata_as_pypdfium2_reads_it(tmp_path: Path) -> None:
    """Values read into one buffer: a value longer than it (a title of 3,000 characters,
    6,000 bytes in UTF-16) is asked for again; an absent key is empty; one in UTF-16 with
    letters outside ASCII (one outside the basic plane: a surrogate pair) reads whole."""
    title = " ".join(["Community health services"] * 120)
    author = "\u00c9lodie M\u00fcller and \U0001d4d0 \u4e2d\u6587"
    info = b"<< /Title (%s) /Author <%s> >>" % (
        title.encode("ascii"),
        ("\ufeff" + author).encode("utf-16-be").hex().encode("ascii"),
    )
    read = _check_metadata(_pdf_with_info(tmp_path / "info.pdf", info))
    assert read == {"Title": title, "Author": author, "CreationDate": ""}
    assert len(title) > 3000
    dated = _pdf_with_info(tmp_path / "dated.pdf", b"<< /CreationDate (D:20240102) >>")
    assert _check_metadata(dated)["CreationDate"] == "D:20240102"


@pytest.mark.peer
def test_metadata_of_the_real_pdfs(peer_data: Path) -> None:
    titles = 0
    for path in sorted((peer_data / "pdf").glob("*.pdf")):
        try:
            titles += bool(_check_metadata(path)["Title"])
        except PdfError:  # the files that do not open: the failure tests' part
            continue
    assert titles >= 3


def _both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """What read_pdf gives (or the reason it fails) for ``path`` read from its bytes in
    memory (a file up to ``_REOPEN_ABOVE``), and from its path, opened again every 50 pages
    (as a larger file is)."""

    def read() -> object:
        try:
            return read_pdf(path)
        except PdfError as error:
            return error.reason

    from_memory = read()
    with monkeypatch.context() as patch:
        patch.setattr(pdf_module, "_REOPEN_ABOVE", 0)
        from_path = read()
    return from_memory, from_path


def test_a_file_read_from_memory_as_from_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small file is read whole and PDFium opens its bytes: the same document (its
    digest that of the file) and the same reasons of failure as opening it by path."""
    path = long_pdf(tmp_path / "long.pdf", 120)
    from_memory, from_path = _both_ways(path, monkeypatch)
    assert from_memory == from_path
    assert isinstance(from_memory, PdfDocument) and len(from_memory.pages) == 120
    assert from_memory.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    damaged = tmp_path / "damaged.pdf"  # passes the first checks, fails in PDFium
    damaged.write_bytes(b"%PDF-1.7\n" + b"x" * 200 + b"\n%%EOF\n")
    assert (
        _both_ways(damaged, monkeypatch)
        == ("truncated or damaged: Failed to load document (PDFium: Data format error).",) * 2
    )


@pytest.mark.peer
def test_the_real_pdfs_read_from_memory_as_from_their_paths(
    peer_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reasons = set()
    for path in sorted((peer_data / "pdf").glob("*.pdf")):
        from_memory, from_path = _both_ways(path, monkeypatch)
        assert from_memory == from_path, path.name
        if isinstance(from_memory, str):
            reasons.add(from_memory)
    assert "encrypted: needs a password" in reasons
