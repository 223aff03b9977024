"""The PDF reader's fast paths give what the straightforward code gives.

Line-end hyphens are looked for only around each hyphen, the gutter between two columns
is found by bisection, the block above a line is a slice of the lines sorted by height,
a page with one band cut orders its lines by a comparison, and the text of a strip is
read by one call to PDFium into a kept buffer. Each is checked here against the plain
computation (the patterns over the whole text, the loop over every line and place, the
order as first written, pypdfium2's own ``get_text_bounded``) on tricky and on random
inputs.
"""

from __future__ import annotations

import copy
import ctypes
import math
import random
import re
from bisect import bisect_right
from pathlib import Path

import pypdfium2 as pdfium

from synth.fulltext.pdf_layout import (
    Line,
    _BoundedText,
    _columns_filled,
    _gutter,
    join_hyphens,
    reading_order,
)
from synth.fulltext.pdf_meta import _normal, _on_page
from tests.pdf_fixtures import Text, write_pdf

_LINE_END = re.compile(r"\b([^\W\d_]+)-\n(\w+)")
_COMPOUND = re.compile(r"(?<!-)\b([^\W\d_]+-[^\W\d_]+)\b(?!-)")


def _plain_join_hyphens(pages: list[str]) -> list[str]:
    """The rule of :func:`join_hyphens` as the patterns over the whole text (pages that
    end in a hyphen are left aside: that step is shared)."""
    if not any("-\n" in text for text in pages):
        return pages
    compounds = {m.lower() for text in pages for m in _COMPOUND.findall(text)}
    words = set(re.findall(r"\w+", _LINE_END.sub(" ", "\n".join(pages)).lower()))

    def join(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        if not right[0].islower():
            return f"{left}-{right}"
        if f"{left}-{right}".lower() in compounds and f"{left}{right}".lower() not in words:
            return f"{left}-{right}"
        return f"{left}{right}"

    return [_LINE_END.sub(join, text) for text in pages]


def test_line_end_hyphens_as_the_patterns_over_the_whole_text() -> None:
    tricky = [
        "co-\nproduction of care, as in co-production; self-\nreport and self-report",
        "well-\nknown and wellknown; ab-\ncd-\nef-\ngh, item-\n12, Covid-\nNineteen",
        "x1-\nab, na\u00efve-\nt\u00e9, \u0130-\nx, data-\nbase and 10-\n20, a - \nb",
        "a-b-c-\nd, -\nx, e-\n-f, long-\nword-\nchain in a line-\nend",
    ]
    assert join_hyphens(tricky) == _plain_join_hyphens(tricky)
    pieces = ["a", "co", "pro", "B", "1", "_", "-", "-\n", "\n", " ", ".", "\u00e9", "\u00b2"]
    rng = random.Random(18)
    for _ in range(3000):
        pages = [
            "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
            for _ in range(rng.randint(1, 3))
        ]
        pages = [text.rstrip("-") or "x" for text in pages]  # no page-end hyphens
        assert join_hyphens(pages) == _plain_join_hyphens(pages), pages


def _plain_gutter(lines: list[Line]) -> float | None:
    """:func:`_gutter` as a loop over every place and every line."""
    placed = [line for line in lines if line.x1 > line.x0]
    if len(placed) < 12:
        return None
    left = min(line.x0 for line in placed)
    right = max(line.x1 for line in placed)
    span = right - left
    if sum(1 for ln in placed if ln.x1 - ln.x0 > 0.7 * span) > len(placed) * 2 / 3:
        return None
    best = None
    for step in range(11):
        gutter = left + span * (0.40 + 0.02 * step)
        crossing = long_left = long_right = 0
        need_left, need_right = 0.6 * (gutter - left), 0.6 * (right - gutter)
        for line in placed:
            if line.x1 <= gutter + 1:
                long_left += line.x1 - line.x0 >= need_left
            elif line.x0 >= gutter - 1:
                long_right += line.x1 - line.x0 >= need_right
            else:
                crossing += 1
        if crossing > len(placed) / 3 or long_left < 4 or long_right < 4:
            continue
        key = (crossing, -(long_left + long_right), gutter)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


def test_gutter_as_the_loop_over_every_place_and_line() -> None:
    rng = random.Random(18)
    found = 0
    for _ in range(3000):
        lines = []
        for i in range(rng.randint(0, 40)):
            kind = rng.random()
            if kind < 0.35:
                x0, x1 = 50.0, 50.0 + rng.choice([240.0, 100.0, 239.0])
            elif kind < 0.7:
                x0, x1 = 310.0, 310.0 + rng.choice([240.0, 100.0, 238.0])
            elif kind < 0.85:  # narrow marks at the gutter, a full-width line, no box
                x0 = rng.uniform(250, 350)
                x1 = x0 + rng.choice([0.0, 0.5, 2.0, 1.9999999, 2.0000001, 3.0])
            else:
                x0, x1 = rng.choice([(50.0, 550.0), (0.0, 0.0), (rng.uniform(0, 500), 560.0)])
            lines.append(Line("w", x0, x1, 800.0 - 14 * i, 790.0 - 14 * i))
        expected = _plain_gutter(lines)
        assert _gutter(lines) == expected, lines
        found += expected is not None
    assert found > 500  # two columns were among them


def test_bounded_text_as_pypdfium2_gives_it(tmp_path: Path) -> None:
    words = "of the page, with words to read back."
    page = [Text(f"Line {i} {words}", 60, 700 - 14 * i) for i in range(30)]
    path = write_pdf(tmp_path / "bounded.pdf", [page])
    doc = pdfium.PdfDocument(str(path))
    try:
        textpage = doc[0].get_textpage()
        bounded = _BoundedText(textpage)
        rng = random.Random(18)
        boxes = [(0.0, 0.0, 595.0, 842.0), (0.0, 0.0, 10.0, 10.0), (100.0, 300.0, 108.0, 700.0)]
        boxes += [
            (x, y, x + rng.choice([4.0, 8.0, 80.0]), y + rng.choice([6.0, 14.0, 300.0]))
            for x, y in ((rng.uniform(0, 500), rng.uniform(250, 720)) for _ in range(200))
        ]
        for box in boxes:
            assert bounded(*box) == textpage.get_text_bounded(*box), box
        bounded.buffer = (ctypes.c_ushort * 4)()  # too small: the binding answers
        assert bounded(*boxes[0]) == textpage.get_text_bounded(*boxes[0])
        assert len(bounded(*boxes[0])) > 100
    finally:
        doc.close()


def _plain_reading_order(lines: list[Line], gutter: float) -> list[Line]:
    """:func:`reading_order` as first written: the block above a line kept as a list of
    lines, each line's band found by bisection whatever the number of cuts."""
    edges = (min([ln.x0 for ln in lines if ln.x1 > ln.x0]), max([ln.x1 for ln in lines]))
    for line in lines:
        if line.x1 <= gutter + 1:
            line.column = 1
        elif line.x0 >= gutter - 1:
            line.column = 2
    heights = sorted([ln.height for ln in lines if ln.height > 0])
    tall = heights[len(heights) // 2] if heights else 0.0
    cuts: list[float] = []
    above: list[Line] = []
    reach = math.inf
    for line in sorted(lines, key=lambda ln: ln.top, reverse=True):
        if line.column == 0:
            cuts.append(line.top + 0.01)
            above = []
        else:
            if (
                above
                and line.top < reach - 1.5 * tall
                and not _columns_filled(above, gutter, edges)
            ):
                cuts.append((line.top + reach) / 2)
                above = []
            above.append(line)
        reach = min(reach, line.bottom)
    cuts.sort()
    keys = [
        (len(cuts) - bisect_right(cuts, (ln.top + ln.bottom) / 2)) * 3 + ln.column for ln in lines
    ]
    return [lines[i] for i in sorted(range(len(lines)), key=keys.__getitem__)]


def test_reading_order_as_first_written() -> None:
    """Random pages of two columns with full-width lines (none, one or several band cuts),
    blocks of short lines above empty strips, and lines without a box."""
    rng = random.Random(18)
    cuts_seen = set()
    for _ in range(2000):
        lines = []
        y = 800.0
        for i in range(rng.randint(1, 40)):
            kind = rng.random()
            if kind < 0.4:
                x0, x1 = 50.0, 50.0 + rng.choice([240.0, 100.0])
            elif kind < 0.8:
                x0, x1 = 310.0, 310.0 + rng.choice([240.0, 100.0])
            elif kind < 0.9:
                x0, x1 = 50.0, 550.0  # across both columns: a band cut
            else:
                x0, x1 = rng.choice([(0.0, 0.0), (rng.uniform(0, 500), 560.0)])
            y -= rng.choice([0.0, 0.0, 12.0, 14.0, 40.0])  # same rows, lines, empty strips
            top = y + rng.choice([10.0, 10.0, 24.0])
            lines.append(Line(f"w{i}", x0, x1, top, y))
        if not any(ln.x1 > ln.x0 for ln in lines):
            continue
        expected = _plain_reading_order(copy.deepcopy(lines), 300.0)
        got = reading_order(copy.deepcopy(lines), 300.0)
        assert [ln.text for ln in got] == [ln.text for ln in expected], lines
        cuts_seen.add(sum(1 for ln in lines if ln.x0 == 50.0 and ln.x1 == 550.0))
    assert {0, 1, 2} <= cuts_seen


def test_a_name_on_the_page_as_in_the_normalised_page() -> None:
    """Whether an author's normalised last name is on page 1, looked for in the lowered
    page when it is one word: the same answer as in the whole page normalised, for random
    names and pages of letters (with their odd case forms), digits, marks, punctuation
    and spaces."""
    rng = random.Random(7)
    alphabet = "abAB\u0130\u0131\u017f\u212a\u00df\u0307_1\u00b2 -.,'\u2019\n\t"
    both = 0
    for _ in range(20000):
        name = _normal("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4))))
        page = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        found = _on_page(name, page)
        assert found == (name in _normal(page)), (name, page)
        both += found and " " not in name and name != ""
    assert both > 1000
