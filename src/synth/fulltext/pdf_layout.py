"""Reading order and cleaning of one PDF's text, page by page, from PDFium's text page.

PDFium gives a page's text in content-stream order with its own line breaks, and each
character's box. We take one box at each line's ends (two calls a line, so reading stays
close to PDFium's own speed), find two columns from where the lines start and end, and put
the left column before the right one between full-width blocks (title, abstract, figures
across both columns). Lines keep their stream order inside a column, so sub- and
superscripts and drop capitals stay where the producer put them.

The document-wide steps need every page: running headers and footers are lines at the top
or bottom of most pages (digits may vary), and a line-end hyphen is joined unless the
hyphenated form is used elsewhere in the document.
"""

from __future__ import annotations

import codecs
import ctypes
import math
import re
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import accumulate, pairwise, repeat
from operator import add, attrgetter, itemgetter, sub
from typing import Any

import pypdfium2.raw as pdfium_c
import yaml
from pypdfium2 import PdfiumError

_BREAKS = re.compile(r"([\r\n]+)")  # split on, kept: the lines are the runs between
_SPACES = re.compile(r" {2,}")
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?(?:\d{1,4}|[ivxlc]{1,7})(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE
)
_LINE_END_HYPHEN = re.compile(r"\b([^\W\d_]+)-\n(\w+)")
_INLINE_COMPOUND = re.compile(r"(?<!-)\b([^\W\d_]+-[^\W\d_]+)\b(?!-)")
# where those two can match: a hyphen before a line break and a word character, or before
# a letter (patterns that start with a literal: found without looking at every character)
_HYPHEN_BREAK = re.compile(r"-\n(?=\w)")
_INNER_HYPHEN = re.compile(r"-(?=[^\W\d_])")
_PAGE_END_HYPHEN = re.compile(r"[^\W\d_]-$")
_WORDS = re.compile(r"\w+")
_PAGE_START_WORD = re.compile(r"(\w+[.,;:]?)[ \t]*\n?")

# a running header or footer sits in this top or bottom share of the page ...
_MARGIN_SHARE = 0.12
# ... among the first or last few lines there, and recurs on at least half the pages (and 3)
_EDGE_LINES = 3
# half the width of the strip where a gutter between columns written row by row is looked
# for: wider than a word space, narrower than a gutter
_STRIP = 4.0
_MIN_RUNNING_PAGES = 3
_TOP = attrgetter("top")


@lru_cache(maxsize=1)
def rules() -> dict[str, Any]:
    """The cleaning table, headings and word lists (package data ``pdf_reading.yml``)."""
    text = resources.files("synth.data").joinpath("pdf_reading.yml").read_text("utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=1)
def _table() -> tuple[dict[int, str], re.Pattern[str]]:
    """The character table and a pattern finding any of its characters (most lines have
    none, and looking costs less than translating)."""
    characters = rules()["characters"]
    odd = re.compile("[" + "".join(re.escape(c) for c in characters) + "]")
    return str.maketrans(characters), odd


@lru_cache(maxsize=1)
def _ascii_odd() -> tuple[str, ...]:
    return tuple(char for char in rules()["characters"] if char.isascii())


def clean_line(raw: str) -> str:
    """Ligatures, odd spaces, soft hyphens and zero-width characters normalised, runs of
    spaces made one, ends stripped."""
    text = _translate(raw) if _table()[1].search(raw) else raw
    if "  " in text:
        text = _SPACES.sub(" ", text)
    return text.strip()


def _clean_all(lines: list[str], chars: set[str]) -> list[str]:
    """``[_SPACES.sub(" ", _translate(line)).strip() for line in lines]`` for lines whose
    characters of the table are among ``chars``, each step made once on the lines joined
    by a NUL (which neither the table nor the spaces pattern touch)."""
    if any("\0" in line for line in lines):
        return [_SPACES.sub(" ", _translate(line)).strip() for line in lines]
    table = _table()[0]
    joined = "\0".join(lines)
    for char in chars:  # (no replacement holds a character of the table)
        joined = joined.replace(char, table[ord(char)])
    if "  " in joined:
        joined = _SPACES.sub(" ", joined)
    return list(map(str.strip, joined.split("\0")))


def _translate(text: str) -> str:
    """``text.translate(table)``, one ``replace`` per character of the table it holds (a
    tenth of the time: no replacement holds a character of the table)."""
    table, odd = _table()
    for char in set(odd.findall(text)):
        text = text.replace(char, table[ord(char)])
    return text


@dataclass(slots=True, init=False)
class Line:
    """One text line of a page: its cleaned text and box (PDF points, origin bottom-left)."""

    text: str
    x0: float
    x1: float
    top: float
    bottom: float
    size: float  # the line's font height, measured on the first page only
    column: int  # 0 full width (or a one-column page), 1 left, 2 right
    height: float  # top - bottom, at least 0

    def __init__(
        self,
        text: str,
        x0: float,
        x1: float,
        top: float,
        bottom: float,
        size: float = 0.0,
        column: int = 0,
    ) -> None:
        # written out, not generated with a __post_init__: made for every line of a file
        self.text = text
        self.x0 = x0
        self.x1 = x1
        self.top = top
        self.bottom = bottom
        self.size = size
        self.column = column
        height = top - bottom
        self.height = 0.0 if height < 0.0 else height  # max(height, 0.0), without the call


class TextPage:
    """A page's text by PDFium's handle (``raw``), with the few reads of pypdfium2's
    ``PdfTextPage`` the reader makes, done as it does them, without its object tree (a
    finalizer and weak references for every page)."""

    __slots__ = ("page", "raw")

    def __init__(self, raw: Any, page: Any) -> None:
        self.raw, self.page = raw, page

    @classmethod
    def load(cls, page: Any) -> TextPage:
        raw = pdfium_c.FPDFText_LoadPage(page)
        if not raw:
            raise PdfiumError("Failed to load text page.")
        return cls(raw, page)

    @property
    def _as_parameter_(self) -> Any:
        return self.raw

    def close(self) -> None:
        if self.raw:
            pdfium_c.FPDFText_ClosePage(self.raw)
            self.raw = None

    def count_chars(self) -> int:
        count = pdfium_c.FPDFText_CountChars(self.raw)
        if count == -1:
            raise PdfiumError("Failed to get character count.")
        return count

    def get_text_range(self) -> str:
        """The page's whole text, as ``PdfTextPage.get_text_range()`` gives it: characters
        PDFium leaves out at either end narrow the range (crbug.com/pdfium/2079)."""
        count = self.count_chars()
        first, last, left, right = 0, count - 1, 0, 0
        text_index = pdfium_c.FPDFText_GetTextIndexFromCharIndex
        while True:
            if first > last:
                return ""
            start = text_index(self.raw, first)
            if start == -1:
                first, left = first + 1, left + 1
                continue
            end = text_index(self.raw, last)
            if end == -1:
                last, right = last - 1, right + 1
                continue
            break
        buffer = (ctypes.c_ushort * (end + 2 - start))()
        copied = pdfium_c.FPDFText_GetText(self.raw, left, count - left - right, buffer)
        return codecs.decode(memoryview(buffer)[: copied - 1], "utf-16-le", "ignore")

    def get_text_bounded(self, left: float, bottom: float, right: float, top: float) -> str:
        args = (self.raw, left, top, right, bottom)
        count = pdfium_c.FPDFText_GetBoundedText(*args, None, 0)
        if count <= 0:
            return ""
        buffer = (ctypes.c_ushort * count)()
        pdfium_c.FPDFText_GetBoundedText(*args, buffer, count)
        return codecs.decode(buffer, "utf-16-le", "ignore")

    def get_index(self, x: float, y: float, x_tol: float, y_tol: float) -> int | None:
        index = pdfium_c.FPDFText_GetCharIndexAtPos(self.raw, x, y, x_tol, y_tol)
        if index == -3:
            raise PdfiumError("An error occurred on attempt to get char index by pos.")
        return None if index < 0 else index

    def get_charbox(self, index: int, loose: bool = True) -> tuple[float, float, float, float]:
        rect = pdfium_c.FS_RECTF()
        if not pdfium_c.FPDFText_GetLooseCharBox(self.raw, index, rect):
            raise PdfiumError("Failed to get charbox.")
        return rect.left, rect.bottom, rect.right, rect.top


def _char_index(textpage: Any, text_index: int, same: bool) -> int:
    if same:
        return text_index
    return pdfium_c.FPDFText_GetCharIndexFromTextIndex(textpage, text_index)


def _box(textpage: Any, index: int) -> tuple[float, float, float, float] | None:
    if index < 0:
        return None
    left, bottom, right, top = textpage.get_charbox(index, loose=True)
    if right <= left and top <= bottom:
        return None
    return left, bottom, right, top


def _line_size(textpage: Any, start: int, end: int, same: bool, heights: list[float]) -> float:
    """Median loose height of the first, middle and last characters (``heights`` has the
    first's and the last's): a drop capital at the start does not count."""
    middle = (start + end) // 2
    if middle not in (start, end):
        box = _box(textpage, _char_index(textpage, middle, same))
        if box is not None:
            heights.append(box[3] - box[1])
    return _median(heights)  # (statistics.median's, without its overhead)


@lru_cache(maxsize=1)
def _loose_box() -> Any:
    """PDFium's ``FPDFText_GetLooseCharBox`` untyped, called with the page as a
    ``c_void_p``, the index as a plain int and the rectangle by ``byref``: the binding's
    own type checks cost a fifth of the call, made twice for every line of every page.
    Called holding the GIL (``PYFUNCTYPE``): PDFium answers in a fraction of a
    microsecond, less than letting the GIL go and taking it back costs."""
    function = ctypes.PYFUNCTYPE(ctypes.c_int)(
        ctypes.cast(pdfium_c.FPDFText_GetLooseCharBox, ctypes.c_void_p).value
    )
    function.argtypes = None
    return function


def page_lines(textpage: Any, height: float, *, sizes: bool = False) -> list[Line]:
    """The page's lines in PDFium's stream order, cleaned, each with its box (from its first
    and last characters' font boxes)."""
    return _page_lines(textpage, height, sizes)[0]


class BoxSlots:
    """Room for two character boxes (``FS_RECTF``: left, top, right, bottom) a line, and
    the pointer to each slot, made once for a document's pages (grown for a page with more
    lines): making the pointers (``byref``) again for every page cost a tenth of reading
    the boxes. A slot PDFium did not fill on a page may hold an earlier page's box; it is
    never read (its line has no box)."""

    __slots__ = ("firsts", "lasts", "lines", "rects")

    def __init__(self) -> None:
        self.lines = 0
        self.rects: Any = None
        self.firsts: list[Any] = []
        self.lasts: list[Any] = []

    def room(self, count: int) -> None:
        """At least ``count`` lines' slots."""
        if count > self.lines:
            lines = max(count, 2 * self.lines, 128)
            rects = (ctypes.c_float * (8 * lines))()
            byref = ctypes.byref
            self.firsts = list(map(byref, repeat(rects), range(0, 32 * lines, 32)))
            self.lasts = list(map(byref, repeat(rects), range(16, 32 * lines, 32)))
            self.rects, self.lines = rects, lines


def _page_lines(
    textpage: Any, height: float, sizes: bool, slots: BoxSlots | None = None
) -> tuple[list[Line], Any]:
    """:func:`page_lines`, and the placed lines' starts and ends (for :func:`_gutter_of`).
    The boxes take two calls to PDFium a line, made by ``map`` into one array of rectangles
    (``slots``, kept for the document), which is read back at once: no Python loop around
    the calls, no field read one by one."""
    text = textpage.get_text_range()
    texts, firsts, lasts, orders = _stream_lines(text)
    count = len(texts)
    if not count:
        return [], ([], [])
    if slots is None:
        slots = BoxSlots()
    slots.room(count)
    rects = slots.rects
    page = textpage.raw  # (a ctypes pointer: the untyped call passes its address)
    loose_box = _loose_box()
    same = len(text) == textpage.count_chars()
    if same:  # text and character indices agree
        found = list(map(loose_box, repeat(page, count), firsts, slots.firsts))
        found_last = list(map(loose_box, repeat(page, count), lasts, slots.lasts))
    else:
        char_index = pdfium_c.FPDFText_GetCharIndexFromTextIndex
        raw = textpage.raw
        found = []
        for at_first, at_last, start, end in zip(
            slots.firsts, slots.lasts, firsts, lasts, strict=False
        ):
            first, last = char_index(raw, start), char_index(raw, end)
            found.append(
                first >= 0
                and last >= 0
                and loose_box(page, first, at_first)
                and loose_box(page, last, at_last)
            )
        found_last = found
    # (read back through array: half the time of the ctypes array's own slice)
    box = array("f", ctypes.string_at(rects, 32 * count)).tolist()
    values = iter(box)
    # each line made by hand (the fields as Line.__init__ sets them): a call to __init__
    # a line cost a sixth of reading the page
    lines: list[Line] = []
    new, add_line = object.__new__, lines.append
    for cleaned, order, ok, ok_last, (l1, t1, r1, b1, l2, t2, r2, b2) in zip(
        texts, orders, found, found_last, zip(*[values] * 8, strict=True), strict=True
    ):
        line = new(Line)
        line.text = cleaned
        if ok and ok_last and r1 > l1 and r2 > l2:
            line.x0 = l2 if l2 < l1 else l1  # min() and max(), without the calls
            line.x1 = r2 if r2 > r1 else r1
            line.top = top = t2 if t2 > t1 else t1
            line.bottom = bottom = b2 if b2 < b1 else b1
            line.height = 0.0 if top < bottom else top - bottom
        else:  # no box: placed to keep the stream order
            line.x0 = line.x1 = line.height = 0.0
            line.top = line.bottom = height - order
        line.size = 0.0
        line.column = 0
        add_line(line)
    if sizes:  # the boxes of the first and last characters are at hand
        for k, line in enumerate(lines):
            if line.x1 > line.x0:
                start, end = firsts[k], lasts[k]
                heights = [box[8 * k + 1] - box[8 * k + 3]]
                if end != start:
                    heights.append(box[8 * k + 5] - box[8 * k + 7])
                line.size = _line_size(textpage, start, end, same, heights)
    return lines, (
        [line.x0 for line in lines if line.x1 > line.x0],
        [line.x1 for line in lines if line.x1 > line.x0],
    )


def _runs(text: str) -> tuple[list[str], list[int]]:
    """The runs of ``text`` between line breaks (``[^\\r\\n]+``) and where each starts; by
    ``str.split`` where every break is PDFium's CRLF (a tenth of the pattern's time)."""
    pieces = text.split("\r\n")
    if text.count("\r") == len(pieces) - 1 == text.count("\n"):
        starts = list(accumulate(map(add, map(len, pieces), repeat(2)), initial=0))
        starts.pop()
        if "" in pieces:  # breaks in a row, or at an end
            kept = [k for k, piece in enumerate(pieces) if piece]
            return [pieces[k] for k in kept], [starts[k] for k in kept]
        return pieces, starts
    parts = _BREAKS.split(text)
    pieces = parts[::2]
    starts = list(accumulate(map(len, parts), initial=0))[: len(parts) : 2]
    if pieces[0] == "":  # a break first: no run before it
        del pieces[0], starts[0]
    if pieces and pieces[-1] == "":
        pieces.pop()
        starts.pop()
    return pieces, starts


def _stream_lines(text: str) -> tuple[list[str], list[int], list[int], list[int]]:
    """The page text's lines (runs without a line break) that are not blank once cleaned:
    their cleaned text, the text indices of their first and last characters (the line
    stripped), and their place among all the runs. Line by line only where a line has
    spaces at its ends, two spaces inside or a character of the cleaning table."""
    pieces, firsts = _runs(text)
    cores = list(map(str.strip, pieces))
    sizes = list(map(len, cores))
    blank: list[int] = []
    if cores != pieces:  # spaces at a line's ends: the line starts after those before it
        lengths = list(map(len, pieces))
        kept = list(map(len, map(str.lstrip, pieces)))
        firsts = list(map(add, firsts, map(sub, lengths, kept)))
        if "" in cores:
            blank = [k for k, core in enumerate(cores) if not core]
    texts = cores
    lasts = list(map(sub, map(add, firsts, sizes), repeat(1)))
    # the table's characters: most pages have none, and an ASCII page can only hold its few
    # ASCII ones, looked for without the pattern; only the lines holding one are translated
    if not text.isascii() or any(char in text for char in _ascii_odd()):
        found = [m.start() for m in _table()[1].finditer(text)]
        # the line each is in, if within its stripped text (firsts to lasts)
        lines = sorted(
            {k for at in found if at <= lasts[k := bisect_right(firsts, at) - 1] and k >= 0}
        )
        if lines:
            texts = list(cores)
            chars = {text[at] for at in found}
            for k, cleaned in zip(lines, _clean_all([cores[k] for k in lines], chars), strict=True):
                texts[k] = cleaned
                if not cleaned:
                    blank.append(k)
    if "  " in text:
        texts = [_SPACES.sub(" ", line) if "  " in line else line for line in texts]
    orders = list(range(len(pieces)))
    if blank:
        drop = set(blank)
        keep = [k for k in range(len(pieces)) if k not in drop]
        return (
            [texts[k] for k in keep],
            [firsts[k] for k in keep],
            [lasts[k] for k in keep],
            keep,
        )
    return texts, firsts, lasts, orders


def _split_at_empty_strip(textpage: Any, lines: list[Line]) -> list[Line]:
    """Where many lines cross the middle of a page that has no column gutter between its
    lines, but a thin vertical strip there holds (almost) no character, the page is two
    columns written row by row (PDFium joins text on one baseline into one line): each line
    with no character in the strip is cut in two there; one with a character (a title, an
    abstract across both columns) stays whole. A one-column page has characters in any
    strip, so this costs it one look per place tried."""
    placed = [ln for ln in lines if ln.x1 > ln.x0]
    if len(placed) < 6:
        return lines
    left = min(ln.x0 for ln in placed)
    right = max(ln.x1 for ln in placed)
    best: tuple[int, int, float, list[Line]] | None = None
    bounded = _BoundedText(textpage)
    for step in range(11):
        x = left + (right - left) * (0.40 + 0.02 * step)
        crossing = [ln for ln in placed if ln.x0 < x - _STRIP and ln.x1 > x + _STRIP]
        if len(crossing) < max(6, len(placed) // 3):
            continue
        top = max([ln.top for ln in crossing])
        bottom = min([ln.bottom for ln in crossing])
        inside = bounded(x - _STRIP, bottom, x + _STRIP, top)
        chars = len("".join(inside.split()))  # those that are not spaces (str.isspace)
        if chars <= len(crossing) // 2 and (
            best is None or (chars, -len(crossing)) < (best[0], best[1])
        ):
            best = (chars, -len(crossing), x, crossing)
    return lines if best is None else _cut(bounded, lines, best[3], best[2])


class _BoundedText:
    """``textpage.get_text_bounded``, in one call to PDFium instead of two (the binding asks
    for the length first, and PDFium looks through every character of the page each time)
    into a buffer kept for the page; the binding answers whenever the buffer is full or
    the text holds a character outside the basic plane, so the text is always the same."""

    def __init__(self, textpage: Any) -> None:
        self.textpage = textpage
        self.buffer = (ctypes.c_ushort * (2 * textpage.count_chars() + 16))()

    def __call__(self, left: float, bottom: float, right: float, top: float) -> str:
        size = len(self.buffer)
        copied = pdfium_c.FPDFText_GetBoundedText(
            self.textpage, left, top, right, bottom, self.buffer, size
        )
        if 0 < copied < size:  # the text and PDFium's closing NUL
            text = ctypes.string_at(self.buffer, 2 * (copied - 1)).decode("utf-16-le", "ignore")
            if len(text) == copied - 1:
                return text
        return self.textpage.get_text_bounded(left, bottom, right, top)


def _cut(bounded: _BoundedText, lines: list[Line], crossing: list[Line], x: float) -> list[Line]:
    """``lines`` with each of ``crossing`` that has no character at ``x`` cut in two."""
    gaps = {
        id(ln)
        for ln in crossing
        if bounded.textpage.get_index(x, (ln.top + ln.bottom) / 2, _STRIP, 0.3 * ln.height) is None
    }
    out: list[Line] = []
    for line in lines:
        if id(line) not in gaps:
            out.append(line)
            continue
        margin = 0.1 * line.height  # the middle of the line: not its neighbours' edges
        for x0, x1 in ((line.x0 - 1, x), (x, line.x1 + 1)):
            piece = bounded(x0, line.bottom + margin, x1, line.top - margin)
            cleaned = clean_line(piece.replace("\r", " ").replace("\n", " "))
            if cleaned:
                box = (max(x0, line.x0), min(x1, line.x1), line.top, line.bottom)
                out.append(Line(cleaned, *box, line.size))
    return out


# ------------------------------------------------------------------------- columns


def _gutter(lines: Sequence[Line]) -> float | None:
    """The x of the gap between two columns, or None for a one-column page.

    Two columns need at least four long lines (60% of a column's width) on each side of a
    vertical line near the middle that few lines (a third at most) cross; table cells and
    list items are short, so a table does not look like two columns."""
    placed = [line for line in lines if line.x1 > line.x0]
    return _gutter_of([line.x0 for line in placed], [line.x1 for line in placed])


def _gutter_of(starts: list[float], ends: list[float]) -> float | None:
    """:func:`_gutter` of the placed lines' starts and ends."""
    count = len(starts)
    if count < 12:
        return None
    left, right = min(starts), max(ends)
    span = right - left
    widths = list(map(sub, ends, starts))
    across = 0.7 * span
    if len([w for w in widths if w > across]) > count * 2 / 3:
        return None  # most lines run across the page: one column
    # counted by bisection: the lines left of a place are those ending before it, those
    # right of it the ones starting after it (less the few narrow ones inside it)
    sorted_ends = sorted(ends)
    sorted_starts = sorted(starts)
    narrow = (
        [(a, b) for a, b, w in zip(starts, ends, widths, strict=True) if w <= 2.5]
        if min(widths) <= 2.5
        else None
    )
    places: list[tuple[int, float, tuple[int, int]]] = []
    for step in range(11):
        gutter = left + span * (0.40 + 0.02 * step)
        before, after = gutter + 1, gutter - 1
        on_left = bisect_right(sorted_ends, before)
        not_right = bisect_left(sorted_starts, after)
        inside = len([1 for a, b in narrow if a >= after and b <= before]) if narrow else 0
        crossing = count - on_left - (count - not_right - inside)
        if crossing <= count / 3:
            places.append((crossing, gutter, (on_left, not_right)))
    # the best place: the fewest lines crossing, then the most long lines, then leftmost; so
    # long lines are counted (the costly part) only at the places fewest lines cross, until
    # one of them has enough on both sides. Places that have the same lines on their left
    # and the same starting after them share the sorted widths the counts are read from.
    places.sort(key=itemgetter(0))  # stable: left to right among equals
    best: tuple[int, int, float] | None = None
    sides: dict[tuple[int, int], tuple[list[float], list[float]]] = {}
    for crossing, gutter, lines_at in places:
        if best is not None and crossing > best[0]:
            break
        before, after = gutter + 1, gutter - 1
        if lines_at not in sides:
            sides[lines_at] = (
                sorted([w for b, w in zip(ends, widths, strict=True) if b <= before]),
                sorted(
                    [
                        w
                        for b, a, w in zip(ends, starts, widths, strict=True)
                        if b > before and a >= after
                    ]
                ),
            )
        on_left, on_right = sides[lines_at]
        # the lines at least ``need`` long: those from the first such in the sorted widths
        long_left = len(on_left) - bisect_left(on_left, 0.6 * (gutter - left))
        long_right = len(on_right) - bisect_left(on_right, 0.6 * (right - gutter))
        if long_left < 4 or long_right < 4:
            continue
        key = (crossing, -(long_left + long_right), gutter)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


class RowColumns:
    """Whether a document's pages may be two columns written row by row: looked for on
    each page until three pages in a row have shown one column without it (a producer
    writes all its pages one way), so a long one-column document pays for three pages."""

    def __init__(self) -> None:
        self.misses = 0

    def split(self, textpage: Any, lines: list[Line]) -> list[Line]:
        if self.misses >= 3:
            return lines
        split = _split_at_empty_strip(textpage, lines)
        if split is not lines:
            self.misses = 0
        elif len(lines) >= 12:
            self.misses += 1
        return split


def read_page(
    textpage: Any,
    height: float,
    *,
    sizes: bool = False,
    rows: RowColumns | None = None,
    slots: BoxSlots | None = None,
) -> list[Line]:
    """The page's lines in reading order (``rows`` and ``slots`` kept for the document)."""
    lines, (starts, ends) = _page_lines(textpage, height, sizes, slots)
    gutter = _gutter_of(starts, ends)
    if gutter is None:
        split = (rows or RowColumns()).split(textpage, lines)
        if split is not lines:
            lines, gutter = split, _gutter(split)
        return reading_order(lines, gutter)
    # the edges of the text (lines without a box end at 0)
    right = max(ends) if len(ends) == len(lines) else max(max(ends), 0.0)
    return reading_order(lines, gutter, (min(starts), right))


def reading_order(
    lines: list[Line], gutter: float | None, edges: tuple[float, float] | None = None
) -> list[Line]:
    """Left column, then right, band by band; one-column pages as they are.

    Bands are cut at full-width lines (a title, an abstract, a figure across both columns)
    and at an empty horizontal strip below a block without long lines in both columns (the
    authors side by side above the columns), so a block above the columns is read first."""
    if gutter is None:
        return lines
    if edges is None:
        edges = (min([ln.x0 for ln in lines if ln.x1 > ln.x0]), max([ln.x1 for ln in lines]))
    to_left, to_right = gutter + 1, gutter - 1
    for line in lines:
        if line.x1 <= to_left:
            line.column = 1
        elif line.x0 >= to_right:
            line.column = 2
    cuts = sorted([y for y, _ in _band_cuts(lines, gutter, edges)])
    # band (counted from the top: the cuts above the line's middle), then column; a stable
    # sort keeps the stream order within each
    if len(cuts) == 1:  # (the usual page: its title or running header) by a comparison
        cut = cuts[0]
        keys = [(3 if (ln.top + ln.bottom) / 2 < cut else 0) + ln.column for ln in lines]
    elif cuts:
        bands = len(cuts)
        keys = [
            (bands - bisect_right(cuts, (ln.top + ln.bottom) / 2)) * 3 + ln.column for ln in lines
        ]
    else:
        keys = [ln.column for ln in lines]
    return [lines[i] for i in sorted(range(len(lines)), key=keys.__getitem__)]


def _band_cuts(
    lines: Sequence[Line], gutter: float, edges: tuple[float, float]
) -> list[tuple[float, Line | None]]:
    """Heights where a band ends: just above each full-width line, and in an empty strip
    (taller than a line) whose block above has no long lines in both columns."""
    heights = sorted([ln.height for ln in lines if ln.height > 0])
    tall = heights[len(heights) // 2] if heights else 0.0
    cuts: list[tuple[float, Line | None]] = []
    ordered = sorted(lines, key=_TOP, reverse=True)  # stable: ties keep their order
    block = 0  # the block above the current line: ordered[block:k] (no full-width line)
    reach = math.inf  # the lowest bottom of the lines above
    strip = 1.5 * tall
    below = reach - strip  # a line whose top is under this leaves an empty strip above it
    for k, line in enumerate(ordered):
        if line.column == 0:
            cuts.append((line.top + 0.01, line))
            block = k + 1
        elif (
            line.top < below and k > block and not _columns_filled(ordered[block:k], gutter, edges)
        ):
            cuts.append(((line.top + reach) / 2, None))
            block = k
        if line.bottom < reach:
            reach = line.bottom
            below = reach - strip
    return cuts


def _columns_filled(block: Sequence[Line], gutter: float, edges: tuple[float, float]) -> bool:
    left, right = edges
    long_left = any(ln.column == 1 and ln.x1 - ln.x0 >= 0.6 * (gutter - left) for ln in block)
    long_right = any(ln.column == 2 and ln.x1 - ln.x0 >= 0.6 * (right - gutter) for ln in block)
    return long_left and long_right


def _gaps_between(lines: Sequence[Line]) -> tuple[float, float]:
    """The page's usual white gap between two lines of a paragraph, and its usual line
    height."""
    gaps = [
        gap
        for a, b in pairwise(lines)
        if a.column == b.column and -0.5 * (h := a.height) < (gap := a.bottom - b.top) < 3 * h
    ]
    heights = sorted([ln.height for ln in lines if ln.height > 0])
    return _median(gaps), (heights[len(heights) // 2] if heights else 0.0)


def _median(values: list[float]) -> float:
    """``statistics.median`` (0.0 for none), without its overhead: called for every page."""
    if not values:
        return 0.0
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def join_lines(lines: Sequence[Line]) -> str:
    """One page's text: lines joined by newlines, a blank line where the white gap to the
    next line of the same column is larger than usual by more than half a line height: a
    new paragraph. (Gaps, not line distances, so a line PDFium joined with the next one at
    a hyphen does not look like the end of a paragraph, nor does a large title's line.)"""
    usual, height = _gaps_between(lines)
    if not (lines and height > 0):
        return "\n".join(line.text for line in lines)
    # each line with a second line break after it where a paragraph ends (taller: the
    # line's height, or the usual one if larger; the usual one's limit computed once)
    limit = usual + 0.6 * height
    ends = [
        a.text + "\n"
        if a.column == b.column
        and a.top > b.top
        and a.bottom - b.top > (usual + 0.6 * a.height if a.height > height else limit)
        else a.text
        for a, b in pairwise(lines)
    ]
    ends.append(lines[-1].text)
    return "\n".join(ends)


# ------------------------------------------------------------- running headers/footers


def _edge_lines(lines: Sequence[Line], height: float) -> list[int]:
    """Indices of the lines at the top and bottom edge of a page."""
    if not lines:
        return []
    tops = [ln.top for ln in lines]
    by_top = sorted(range(len(lines)), key=tops.__getitem__, reverse=True)  # ties: in order
    top = [i for i in by_top[:_EDGE_LINES] if lines[i].top >= height * (1 - _MARGIN_SHARE)]
    bottom = [i for i in by_top[::-1][:_EDGE_LINES] if lines[i].bottom <= height * _MARGIN_SHARE]
    if all(ln.x1 == ln.x0 for ln in lines):  # no geometry: the first and last lines
        top, bottom = [0], [len(lines) - 1]
    return sorted(set(top + bottom))


def _running_key(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def drop_running_lines(pages: list[list[Line]], heights: Sequence[float]) -> list[list[Line]]:
    """Pages without their running headers, footers and bare page numbers."""
    known: dict[str, str] = {}  # a running line's key, made once for all its pages

    def key(text: str) -> str:
        if text not in known:
            known[text] = _running_key(text)
        return known[text]

    edges = [
        {i: key(lines[i].text) for i in _edge_lines(lines, h)}
        for lines, h in zip(pages, heights, strict=True)
    ]
    seen: Counter[str] = Counter()
    for keys in edges:
        seen.update(set(keys.values()))
    with_text = sum(1 for lines in pages if lines)
    needed = max(_MIN_RUNNING_PAGES, math.ceil(with_text / 2))
    running = {key for key, count in seen.items() if count >= needed}
    out = []
    for lines, keys in zip(pages, edges, strict=True):
        kept = list(lines)
        for i in sorted(keys, reverse=True):
            if keys[i] in running or _PAGE_NUMBER.match(lines[i].text):
                del kept[i]
        out.append(kept)
    return out


# ------------------------------------------------------------------------ hyphenation


def join_hyphens(pages: list[str]) -> list[str]:
    """Line-end hyphens joined: "improve-\\nment" becomes "improvement", but a hyphenated
    form the document uses inside a line ("co-production") keeps its hyphen (unless the
    joined word is used too), and so does one before a capital or a digit; the line break
    goes either way. The patterns run only near each hyphen (:func:`_near`)."""
    pages = _across_pages(pages)
    if not any("-\n" in text for text in pages):
        return pages
    compounds: set[str] = set()
    for text in pages:
        for start, end in _near(text, _INNER_HYPHEN):
            compounds.update(m.lower() for m in _INLINE_COMPOUND.findall(text, start, end))
    document: list[str] = []  # the lowered text without its line-end hyphens, when needed
    seen: dict[str, bool] = {}

    def used(word: str) -> bool:
        if not document:
            text = _sub_near(_LINE_END_HYPHEN, " ", "\n".join(pages), _HYPHEN_BREAK)
            document.append(text.lower())
        if word not in seen:
            seen[word] = _has_word(document[0], word)
        return seen[word]

    def join(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        if not right[0].islower():
            return f"{left}-{right}"
        if f"{left}-{right}".lower() in compounds and not used(f"{left}{right}".lower()):
            return f"{left}-{right}"
        return f"{left}{right}"

    return [_sub_near(_LINE_END_HYPHEN, join, text, _HYPHEN_BREAK) for text in pages]


def _near(text: str, marks: re.Pattern[str]) -> list[tuple[int, int]]:
    """The spans of ``text`` around each match of ``marks``: from just after the space or
    line break before it to the one after it, overlapping spans merged. A pattern whose
    matches each hold a match of ``marks``, no space and no line break but those in it, and
    look at most one character beyond (a word boundary, a look-around), finds the same
    matches in these spans as in the whole text, without scanning it all (a tenth of the
    time on a long paper)."""
    spans: list[tuple[int, int]] = []
    find, rfind, size = text.find, text.rfind, len(text)
    for mark in marks.finditer(text):
        at, after = mark.span()
        if spans and at < spans[-1][1] and "\n" not in mark.group():
            continue  # in the span already
        start = rfind(" ", 0, at)
        newline = rfind("\n", 0, at)
        start = (newline if newline > start else start) + 1
        space, newline = find(" ", after), find("\n", after)
        if space < 0:
            end = newline if newline >= 0 else size
        else:
            end = newline if 0 <= newline < space else space
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _sub_near(pattern: re.Pattern[str], repl: Any, text: str, marks: re.Pattern[str]) -> str:
    """``pattern.sub(repl, text)`` for a pattern that only matches around ``marks``."""
    spans = _near(text, marks)
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts.append(text[last:start])
        parts.append(pattern.sub(repl, text[start:end]))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _has_word(text: str, word: str) -> bool:
    """Whether ``word`` is one of the ``\\w+`` words of ``text``."""
    if not _WORDS.fullmatch(word):
        return False
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        before = at == 0 or not _is_word(text[at - 1])
        if before and (end == len(text) or not _is_word(text[end])):
            return True
        at = text.find(word, at + 1)
    return False


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"  # what ``\\w`` matches


def _across_pages(pages: list[str]) -> list[str]:
    """A word hyphenated at the foot of a page ends that page whole: the next page's first
    fragment moves up, so the line-end rule can join it."""
    out = list(pages)
    for index in range(len(out) - 1):
        if not out[index].endswith("-") or not _PAGE_END_HYPHEN.search(out[index][-2:]):
            continue
        match = _PAGE_START_WORD.match(out[index + 1])
        if match:
            out[index] = f"{out[index]}\n{match.group(1)}"
            out[index + 1] = out[index + 1][match.end() :]
    return out
