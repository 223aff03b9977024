"""The one record schema every reader produces, and the shapes readers hand back.

Readers return plain dicts (fast, no pandas per record); :mod:`synth.corpus.normalise`
turns them into the canonical columns below. Everything later in synth reads these
columns and nothing else, so a new export format only needs a reader.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: Canonical record columns, in the order exports write them.
RECORD_COLUMNS: list[str] = [
    "record_id",  # stable id: same file, same entry -> same id on every import
    "title",
    "authors",  # list[str], "Family, Given" where the source allows
    "year",  # nullable int
    "venue",  # journal, book or series title; for grey literature the issuing body's series
    "volume",
    "issue",
    "pages",
    "publisher",  # publisher or issuing organisation (grey literature)
    "doi",  # lower-case, no resolver prefix
    "pmid",
    "url",
    "abstract",
    "keywords",  # list[str]
    "language",
    "pub_type",  # canonical vocabulary in data/pub_types.yml
    "grey",  # bool: grey literature (reports, web pages, guides, theses ...)
    "label_included",  # nullable int: an inclusion label carried by a screening export
    "source_key",  # the record's own key in its file (BibTeX key, RIS ID, PMID, ...)
    "source_file",  # file name the record was read from
    "source_format",  # bibtex, ris, medline, wos, csv, tsv, xlsx, endnote, markdown
    "database",  # database or tool that produced the export, when known
    "position",  # 1-based index of the record in its file
    "line",  # 1-based line where the record starts (None for spreadsheets' header offset)
    "extra",  # dict of the source's fields that have no canonical column (kept for round trips)
]

LIST_COLUMNS = ("authors", "keywords")

#: Columns of an extract (a passage from a paper: quote, finding, summary).
EXTRACT_COLUMNS: list[str] = [
    "extract_id",
    "ref",  # the reference it comes from: a record's source_key or a DOI
    "page",
    "kind",  # quote, finding, summary, citation
    "section",  # where in the source document the passage sits (a heading), if known
    "text",
    "source_file",
    "line",
]

#: Columns of a full text attached to a record.
FULLTEXT_COLUMNS: list[str] = ["record_id", "text", "source_file", "chars"]

#: Columns of the failures report.
FAILURE_COLUMNS: list[str] = ["file", "line", "record", "reason", "raw", "severity"]

#: ``severity`` of a failures-report row: ``error`` means the record (or file) was not
#: imported; ``warning`` means it was imported but something in it needs a look.
ERROR, WARNING = "error", "warning"


@dataclass(slots=True)
class Failure:
    """One record (or whole file) that could not be read, with enough to find and fix it.

    With ``severity="warning"`` the record was imported; the row says what to check.
    """

    file: str
    line: int | None
    record: int | None
    reason: str
    raw: str = ""
    severity: str = ERROR

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # keep raw text bounded: the report must stay readable for a 50 MB file
        if len(d["raw"]) > 2000:
            d["raw"] = d["raw"][:2000] + " ..."
        return d


@dataclass
class Parsed:
    """What a format reader returns: records as dicts, plus failures (and extracts/full texts).

    Record dicts use the keys of :data:`RECORD_COLUMNS` (any subset), plus
    ``pub_type_raw`` (the source's own type code, mapped by the normaliser) and
    ``extra`` for everything else. ``position`` and ``line`` should always be set.
    """

    records: list[dict[str, Any]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    extracts: list[dict[str, Any]] = field(default_factory=list)
    fulltexts: list[dict[str, Any]] = field(default_factory=list)
    database: str | None = None  # the database the whole file came from, if recognisable


class ReadError(Exception):
    """A file that cannot be read at all. The message names the file and what is wrong."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")
