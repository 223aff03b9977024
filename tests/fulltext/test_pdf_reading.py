"""Reading order and cleaning, on PDFs whose layout and content-stream order we set."""

from __future__ import annotations

from pathlib import Path

import pytest

from synth.fulltext import read_pdf
from synth.fulltext.pdf_layout import clean_line
from tests.pdf_fixtures import Text, column_lines, write_pdf

LEFT = column_lines(
    (
        "The left column opens with a sentence that runs over several lines so that a "
        "reader which interleaves the two columns would cut it into pieces and mix in the "
        "words of the right column between them before the sentence reaches its end here."
    ),
    6,
)
RIGHT = column_lines(
    (
        "Meanwhile the right column tells another story entirely about rivers and boats "
        "that must come after the whole left column when the page is read in order, from "
        "its first line down to the last line of the right column below."
    ),
    6,
)


def _two_columns(order: str) -> list[Text]:
    """A title, a full-width abstract line, then two columns written in ``order``:
    'rows' (left and right line by line, as some producers do) or 'right-first'."""
    head = [
        Text("Rivers and Columns", 200, 780, 18),
        Text("Abstract: a full width line that spans both of the columns below it.", 50, 750),
    ]
    left = [Text(t, 50, 700 - 13 * i) for i, t in enumerate(LEFT)]
    right = [Text(t, 320, 700 - 13 * i) for i, t in enumerate(RIGHT)]
    if order == "rows":
        body = [t for pair in zip(left, right, strict=False) for t in pair]
        body += left[len(right) :] + right[len(left) :]
    else:
        body = right + left
    return head + body


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("order", ["rows", "right-first"])
def test_two_columns_read_left_then_right_whatever_the_stream_order(
    tmp_path: Path, order: str
) -> None:
    doc = read_pdf(write_pdf(tmp_path / "columns.pdf", [_two_columns(order)]))
    text = _words(doc.text)
    left, right = _words(" ".join(LEFT)), _words(" ".join(RIGHT))
    assert left in text  # the spanning sentence is whole, nothing interleaved
    assert right in text
    assert text.index("Rivers and Columns") < text.index("Abstract: a full width")
    assert text.index("Abstract: a full width") < text.index(left) < text.index(right)


def test_a_table_on_a_one_column_page_keeps_its_rows(tmp_path: Path) -> None:
    prose = column_lines("This page has one column of prose " * 12, 12)
    lines = [Text(t, 60, 760 - 13 * i) for i, t in enumerate(prose)]
    for row in range(14):
        y = 600 - 14 * row
        lines += [
            Text(f"Site {row}", 60, y),
            Text(f"{row * 3} people", 250, y),
            Text(f"{row + 10} visits", 420, y),
        ]
    text = read_pdf(write_pdf(tmp_path / "table.pdf", [lines])).text
    assert "Site 3 9 people 13 visits Site 4" in _words(text)


def test_running_headers_footers_and_page_numbers_dropped(tmp_path: Path) -> None:
    pages = []
    for number in range(1, 6):
        pages.append(
            [
                Text(
                    f"Journal of Tests 12 ({2020 + number}) {100 + number}-{120 + number}",
                    60,
                    810,
                ),
                Text(f"Body of page {number}: the findings are described here.", 60, 700),
                Text("Smith and Jones: a study", 60, 40),
                Text(str(number), 290, 22),
            ]
        )
    doc = read_pdf(write_pdf(tmp_path / "running.pdf", pages))
    assert doc.pages == tuple(
        f"Body of page {n}: the findings are described here." for n in range(1, 6)
    )


def test_edge_lines_that_do_not_repeat_are_kept(tmp_path: Path) -> None:
    pages = [
        [Text(f"Top line {word} differs on each page.", 60, 810), Text("Body.", 60, 600)]
        for word in ("alpha", "beta", "gamma", "delta")
    ]
    doc = read_pdf(write_pdf(tmp_path / "edges.pdf", pages))
    assert doc.pages[1] == "Top line beta differs on each page.\n\nBody."


def test_line_end_hyphens(tmp_path: Path) -> None:
    lines = [
        "A small improve-",
        "ment of services came through co-",
        "production with users, because co-production shares",
        "power; the Anglo-",
        "Saxon tradition and the well-",
        "being of staff differ.",
    ]
    page = [Text(t, 60, 700 - 13 * i) for i, t in enumerate(lines)]
    text = _words(read_pdf(write_pdf(tmp_path / "hyphens.pdf", [page])).text)
    assert "small improvement of services" in text
    assert "through co-production with users" in text
    assert "the Anglo-Saxon tradition" in text
    assert "and the wellbeing of staff" in text  # no "well-being" elsewhere: joined


def test_a_word_hyphenated_across_a_page_break(tmp_path: Path) -> None:
    pages = [
        [Text("The first page ends with an improve-", 60, 700)],
        [Text("ment of the services, said the second.", 60, 700)],
    ]
    doc = read_pdf(write_pdf(tmp_path / "across.pdf", pages))
    assert doc.pages == (
        "The first page ends with an improvement",
        "of the services, said the second.",
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\ufb01ne \ufb02ow o\ufb00er su\ufb03x ba\ufb04e", "fine flow offer suffix baffle"),
        ("a\u00a0b\u2009c\u202fd\u2002e", "a b c d e"),
        ("zero\u200bwidth\ufeff joins\u00adhere", "zerowidth joinshere"),
        ("  runs   of    spaces  ", "runs of spaces"),
        ("x\u00b2 and 5\u00b5m stay", "x\u00b2 and 5\u00b5m stay"),
    ],
)
def test_clean_line(raw: str, clean: str) -> None:
    assert clean_line(raw) == clean


def test_max_pages_and_page_of(tmp_path: Path) -> None:
    pages = [[Text(f"Words on page number {n} only.", 60, 700)] for n in range(1, 8)]
    path = write_pdf(tmp_path / "seven.pdf", pages)
    doc = read_pdf(path)
    assert len(doc.pages) == 7
    assert doc.page_of(doc.text.index("page number 5")) == 5
    assert doc.page_of(0) == 1 and doc.page_of(len(doc.text) - 1) == 7
    assert read_pdf(path, max_pages=3).pages == doc.pages[:3]


def test_bare_page_numbers_dropped_even_on_two_pages(tmp_path: Path) -> None:
    """Too few pages to call anything running, but a lone number at the foot is a page
    number; one inside the body is kept."""
    pages = [
        [Text("Text of the first page.", 60, 700), Text("42", 60, 600), Text("1", 290, 22)],
        [Text("Text of the second page.", 60, 700), Text("ii", 290, 820)],
    ]
    doc = read_pdf(write_pdf(tmp_path / "numbers.pdf", pages))
    assert doc.pages == ("Text of the first page.\n\n42", "Text of the second page.")
