"""Choose a file's format from its content first and its extension second, and check
that reading it gave about as many records as the content holds.

Exports are often mislabelled (RIS saved as ``.txt``, BibTeX as ``.ref``), so content
decides; the extension only breaks ties (and picks CSV vs TSV for tabular text). One
exception: a table whose first line is a header naming a title column is a table, even
when a cell further down starts like a BibTeX entry (``@misc(``) or a tagged line; such a
cell is data, and reading the file as BibTeX would silently drop its rows.
"""

from __future__ import annotations

import re
from pathlib import Path

from synth.corpus.model import WARNING, Failure

_BY_EXTENSION: dict[str, str] = {
    ".bib": "bibtex",
    ".bibtex": "bibtex",
    ".ris": "ris",
    ".nbib": "medline",
    ".medline": "medline",
    ".ciw": "wos",
    ".isi": "wos",
    ".enw": "endnote",
    ".ref": "endnote",
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".xlsx": "xlsx",
    ".md": "markdown",
    ".markdown": "markdown",
}

#: extensions a folder import picks up (anything else in a folder is left alone)
IMPORTABLE_SUFFIXES = frozenset(_BY_EXTENSION) | {".txt"}

_RIS = re.compile(r"^\s{0,2}TY\s{0,3}-", re.M)
_MEDLINE = re.compile(r"^(?:PMID|PMC|PMCR|FAU|STAT|OWN)\s*-", re.M)
_WOS = re.compile(r"^(FN |VR |PT [A-Z]\s*$)", re.M)
_ENDNOTE = re.compile(r"^%[0A-Z@] \S", re.M)
_BIBTEX = re.compile(r"^\s*@\s*[A-Za-z]+\s*[{(]", re.M)
_FRONT_MATTER = re.compile(r"\A\s*---\s*\n")
_TABULAR = {"csv", "tsv"}


def sniff(text: str, suffix: str = "") -> str | None:
    """Format name for ``text`` (``None`` if nothing recognisable)."""
    head = text[:65536]
    suffix = suffix.lower()
    if _FRONT_MATTER.match(head):
        return "markdown"
    table = _table_header(head)
    if table:
        by_ext = _BY_EXTENSION.get(suffix)
        return by_ext if by_ext in _TABULAR else table
    if _MEDLINE.search(head):
        return "medline"
    if _WOS.search(head[:2000]) and re.search(r"^ER\s*$", head, re.M):
        return "wos"
    if _RIS.search(head):
        return "ris"
    if len(_ENDNOTE.findall(head[:4000])) >= 2:
        return "endnote"
    if _BIBTEX.search(head):
        return "bibtex"
    by_ext = _BY_EXTENSION.get(suffix)
    if by_ext in {"csv", "tsv"}:
        return by_ext
    first = head.split("\n", 1)[0]
    if first.count("\t") >= 2:
        return "tsv"
    if first.count(",") >= 2 or first.count(";") >= 2:
        return "csv"
    return by_ext if by_ext in {"bibtex", "ris", "medline", "wos", "endnote"} else None


def _table_header(head: str) -> str | None:
    """``"csv"``/``"tsv"`` when the first non-blank line is a header with a title column."""
    from synth.corpus.readers.tabular import header_delimiter

    first = next((line for line in head.split("\n", 200) if line.strip()), "")
    delimiter = header_delimiter(first)
    if delimiter is None:
        return None
    return "tsv" if delimiter == "\t" else "csv"


def format_from_extension(path: Path) -> str | None:
    return _BY_EXTENSION.get(path.suffix.lower())


#: What a PDF starts with (PDF readers look for it in the first 1,024 bytes).
PDF_MAGIC = b"%PDF-"
PDF_SUFFIX = ".pdf"


def looks_like_pdf(head: bytes) -> bool:
    """A PDF by its content: the header in its first 1,024 bytes, whatever its name."""
    return PDF_MAGIC in head[:1024]


def is_pdf(path: Path) -> bool:
    """A PDF by its name or, named otherwise, by its first bytes (a browser's download
    without a suffix): a full text for the PDF reader, never a reference file. A file that
    cannot be opened is no PDF here (the reference reader says why it cannot be read)."""
    if path.suffix.lower() == PDF_SUFFIX:
        return True
    try:
        with path.open("rb") as fh:
            return looks_like_pdf(fh.read(1024))
    except OSError:
        return False


def is_xlsx(data: bytes) -> bool:
    """An .xlsx is a zip holding ``xl/``; content tells it from a renamed CSV."""
    return data[:4] == b"PK\x03\x04" and b"xl/" in data[:65536]


#: what marks one record in each format's text, and how a warning names it
_RECORD_MARKS: dict[str, tuple[re.Pattern[str], str]] = {
    "bibtex": (
        re.compile(
            r"^[ \t]*@[ \t]*(?!(?:comment|string|preamble)\b)[A-Za-z]+[ \t]*[{(]", re.M | re.I
        ),
        "lines starting an @entry",
    ),
    "ris": (_RIS, "TY lines"),
    "medline": (re.compile(r"^PMID-", re.M), "PMID lines"),
    "wos": (re.compile(r"^(?:PT [A-Z]|ER)[ \t]*$", re.M), "PT or ER lines"),
    "endnote": (re.compile(r"^%0 ", re.M), "%0 lines"),
}

#: Counting a mark with its pattern tries the pattern at every line start (every
#: character, for a leading ``\s{0,2}``), about 0.3 s per 40 MB. The same count, fast:
#: a fixed mark at a line start is counted with ``str.count``; otherwise the mark's tail
#: (from its first fixed character, which the regex engine finds by a fast literal scan)
#: is searched, and only its few hits are checked for what may come before on the line.
#: Each mark holds exactly one such first character, so tails and marks pair one to one.
_FIXED_MARKS: dict[str, str] = {"medline": "PMID-", "endnote": "%0 "}
_MARK_TAILS: dict[str, tuple[re.Pattern[str], int | None, str | None]] = {
    # (tail, the most characters allowed before it on its line (None: any number), which
    # characters (for ``str.strip``; None: whitespace, as ``\s`` means))
    "ris": (re.compile(r"TY\s{0,3}-"), 2, None),
    "bibtex": (
        re.compile(r"@[ \t]*(?!(?:comment|string|preamble)\b)[A-Za-z]+[ \t]*[{(]", re.I),
        None,
        " \t",
    ),
}


def _count_marks(text: str, fmt: str, pattern: re.Pattern[str]) -> int:
    """``len(pattern.findall(text))`` for a format's record mark, without trying it at every
    line (see ``_FIXED_MARKS``); formats without a fast form use the pattern itself."""
    fixed = _FIXED_MARKS.get(fmt)
    if fixed is not None:
        return text.count("\n" + fixed) + text.startswith(fixed)
    tail = _MARK_TAILS.get(fmt)
    if tail is None:
        return sum(1 for _ in pattern.finditer(text))
    tail_re, most, allowed = tail
    count = 0
    for m in tail_re.finditer(text):
        at = m.start()
        line_start = text.rfind("\n", 0 if most is None else max(at - most - 1, 0), at) + 1
        if line_start == 0 and most is not None and at > most:
            # no line break within reach: the line starts too far back (or at 0 itself)
            continue
        count += not text[line_start:at].strip(allowed)
    return count


def _has_cell(line: str) -> bool:
    return bool(line.strip(" \t,;|"))  # a row of empty cells is no record


def mark_counts(text: str, fmt: str) -> tuple[int, int] | None:
    """The record marks in ``text`` of a tagged format or BibTeX, and how many of them are
    Web of Science's ``ER`` lines (0 elsewhere); ``None`` for a format without marks.

    Counts of consecutive pieces of a file add up to the whole file's (a piece cut at a
    line start), so a file read in chunks is counted chunk by chunk
    (:func:`expected_count` then gives the file's figure)."""
    mark = _RECORD_MARKS.get(fmt)
    if mark is None:
        return None
    pattern = mark[0]
    if fmt == "wos":
        found = pattern.findall(text)
        return len(found), sum(1 for m in found if m.startswith("ER"))
    return _count_marks(text, fmt, pattern), 0


def expected_count(fmt: str, found: int, ends: int) -> tuple[int, str]:
    """How many records ``found`` marks (``ends`` of them ER lines, see :func:`mark_counts`)
    suggest, and what was counted: for Web of Science the larger of the PT and ER counts,
    as either may be missing."""
    what = _RECORD_MARKS[fmt][1]
    return (max(ends, found - ends) if fmt == "wos" else found), what


def expected_records(text: str, fmt: str) -> tuple[int, str] | None:
    """How many records ``text`` looks like it holds, and what was counted (or ``None``).

    Tagged formats and BibTeX count their record marks (:func:`mark_counts`,
    :func:`expected_count`); tables count the non-blank lines outside quoted fields, less
    the header.
    """
    if fmt in {"csv", "tsv"}:
        # quotes pair up: even pieces lie outside fields; a quoted field counts as one cell
        outside = "q".join(text.split('"')[::2])
        lines = sum(1 for line in outside.split("\n") if _has_cell(line))
        return max(lines - 1, 0), "non-blank lines below the header"
    counts = mark_counts(text, fmt)
    return None if counts is None else expected_count(fmt, *counts)


def shortfall(text: str | None, fmt: str, source: str, found: int) -> list[Failure]:
    """A warning row when far fewer records came out of a file than its text suggests.

    ``found`` counts the records read plus the failure rows (a record that failed was
    still seen). Fewer than half of what the content suggests means the format was
    probably misjudged or records were lost, and nobody should learn that by accident.
    """
    if text is None:
        return []
    return shortfall_of(expected_records(text, fmt), fmt, source, found)


def shortfall_of(
    expected: tuple[int, str] | None, fmt: str, source: str, found: int
) -> list[Failure]:
    """:func:`shortfall` from what the text suggests (:func:`expected_records`), counted
    before (a file read in pieces is counted piece by piece)."""
    if expected is None:
        return []
    count, what = expected
    if count < 2 or found * 2 >= count:
        return []
    reason = (
        f"only {found} record{'s' if found != 1 else ''} read as {fmt}, but the file has "
        f"{count} {what}; some records were probably not read (wrong format, or a damaged "
        "file?)"
    )
    return [Failure(source, None, None, reason, "", WARNING)]
