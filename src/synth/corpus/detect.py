"""Choose a file's format from its content first and its extension second.

Exports are often mislabelled (RIS saved as ``.txt``, BibTeX as ``.ref``), so content
decides; the extension only breaks ties (and picks CSV vs TSV for tabular text).
"""

from __future__ import annotations

import re
from pathlib import Path

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


def sniff(text: str, suffix: str = "") -> str | None:
    """Format name for ``text`` (``None`` if nothing recognisable)."""
    head = text[:65536]
    suffix = suffix.lower()
    if _FRONT_MATTER.match(head):
        return "markdown"
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


def format_from_extension(path: Path) -> str | None:
    return _BY_EXTENSION.get(path.suffix.lower())


def is_xlsx(data: bytes) -> bool:
    """An .xlsx is a zip holding ``xl/``; content tells it from a renamed CSV."""
    return data[:4] == b"PK\x03\x04" and b"xl/" in data[:65536]
