"""Markdown extracts (quotes, findings, summaries) and full texts, each under YAML front matter.

The format
----------
A file holds one or more documents. Each document starts with a front-matter block, a
line ``---``, YAML ``key: value`` lines, and a closing line ``---``; its body runs until
the next front-matter block or the end of the file::

    ---
    kind: quote
    ref: kei2020            # a BibTeX key of a record in the corpus (or give `doi:`)
    page: 12
    section: Findings
    ---
    "Co-production shifted power towards the people who use services."

    ---
    kind: fulltext
    key: nhswales2019
    title: Co-production in Wales: a practical guide
    authors: [Co-production Network for Wales]
    year: 2019
    organisation: NHS Wales
    pub_type: guide
    grey: true
    url: https://example.org/guide
    ---
    # Introduction
    The whole text of the guide, in Markdown ...

A ``---`` line opens a new document only when the lines after it look like YAML
mappings, a closing ``---`` follows, and the mapping has ``kind`` (or another key of
ours: ``ref``, ``doi``, ``key``, ``title`` ...): a horizontal rule inside a body is safe.

``kind`` decides what a document is:

* ``quote``, ``finding``, ``summary``, ``citation``: an **extract** of a record, named by
  ``ref`` (a BibTeX key) or ``doi``, with optional ``page`` and ``section``; the body is
  the extract's text. It goes to ``Parsed.extracts``.
* ``fulltext``: a **full-text document** that is also a record. The front matter gives
  ``key`` (its ``source_key``), ``title``, ``authors`` (list or string), ``year``,
  ``publisher`` or ``organisation``, ``pub_type`` (report, guide, guideline, book,
  web-page, blog, journal-article), ``url``, ``doi``, ``grey``, ``venue`` and optionally
  ``abstract``. The record goes to ``Parsed.records`` and the body to
  ``Parsed.fulltexts``, keyed by the record's position until the record has an id.

A document with broken YAML, an unknown kind, no ``ref``/``doi`` or an empty body is a
failure naming its line; the documents after it still load. ``position`` counts every
document in the file, so it matches the file even when some fail.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml

from synth.corpus.model import Failure, Parsed, ReadError

log = logging.getLogger(__name__)

EXTRACT_KINDS = frozenset({"quote", "finding", "summary", "citation"})
FULLTEXT_KIND = "fulltext"

_NEWLINE = re.compile(r"\r\n|\r|\n")
_FENCE = re.compile(r"^---[ \t]*$")
_KEY_LINE = re.compile(r"^[A-Za-z_][\w -]*:(?:\s|$)")
#: lines a YAML mapping may hold: "key: ...", indented continuations, "- item", comments
_YAML_LINE = re.compile(
    r"""^(?:[A-Za-z_][\w -]*:(?:\s|$)|["'][^"']*["']\s*:|[ \t]+\S|-(?:\s|$)|#|\s*$)"""
)
_MAX_FRONT_MATTER = 200  # lines; a longer "block" is prose between two horizontal rules
#: keys that mark a mapping as our front matter even when ``kind`` is missing
_KNOWN_KEYS = frozenset(
    {"kind", "ref", "doi", "page", "section", "key", "title", "authors", "year", "pub_type"}
)
#: front-matter keys of a full text copied to the record under the same name
_RECORD_KEYS = (
    "title",
    "authors",
    "year",
    "venue",
    "volume",
    "issue",
    "pages",
    "publisher",
    "doi",
    "pmid",
    "url",
    "abstract",
    "keywords",
    "language",
    "grey",
    "database",
)


@dataclass(frozen=True, slots=True)
class _Block:
    """One document: where its front matter and body are, and its parsed front matter."""

    start: int  # 0-based index of the opening ``---``
    end: int  # 0-based index of the closing ``---``
    meta: dict[str, Any] | None
    error: str | None  # the YAML error, when the front matter does not parse


def _front_matter_at(lines: list[str], i: int) -> _Block | None:
    """The front-matter block opening at ``lines[i]``, or ``None`` if it is not one."""
    if not _FENCE.match(lines[i]) or i + 1 >= len(lines) or not _KEY_LINE.match(lines[i + 1]):
        return None
    for j in range(i + 1, min(len(lines), i + 1 + _MAX_FRONT_MATTER)):
        if _FENCE.match(lines[j]):
            break
        if not _YAML_LINE.match(lines[j]):
            return None
    else:
        return None
    text = "\n".join(lines[i + 1 : j])
    try:
        meta = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        if not any(_known_key(line) for line in lines[i + 1 : j]):
            return None  # prose like "Note: see: below" between two rules
        return _Block(i, j, None, _yaml_error(exc, i + 2))
    if not isinstance(meta, dict) or not _KNOWN_KEYS & {str(k) for k in meta}:
        return None  # prose that happens to sit between two horizontal rules
    return _Block(i, j, meta, None)


def _known_key(line: str) -> bool:
    key = line.split(":", 1)[0].strip().strip("\"'")
    return ":" in line and key in _KNOWN_KEYS


def _yaml_error(exc: yaml.YAMLError, first_line: int) -> str:
    """PyYAML's message with its position made a line of the file."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is None:
        return f"front matter is not valid YAML: {problem}"
    return f"front matter is not valid YAML: {problem} (line {first_line + mark.line})"


def _blocks(lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        block = _front_matter_at(lines, i) if lines[i].startswith("---") else None
        if block is None:
            i += 1
            continue
        blocks.append(block)
        i = block.end + 1
    return blocks


def _body(lines: list[str], start: int, stop: int) -> tuple[str, int | None]:
    """The body text between two blocks, and the 1-based line of its first non-blank line."""
    while start < stop and not lines[start].strip():
        start += 1
    while stop > start and not lines[stop - 1].strip():
        stop -= 1
    if start >= stop:
        return "", None
    return "\n".join(lines[start:stop]), start + 1


def _text(value: Any) -> str | None:
    """A scalar from YAML as a string (YAML reads ``page: 12`` as int, dates as dates)."""
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _plain(value: Any) -> Any:
    """YAML dates as ISO strings, so ``extra`` stays JSON-serialisable."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def extract_id(source: str, ref: str, text: str) -> str:
    """A stable id: the same file, reference and text give the same id on every import."""
    basis = "\x1f".join([source, ref, text])
    return "x" + hashlib.sha1(basis.encode("utf-8")).hexdigest()[:15]


def _extract(meta: dict[str, Any], body: str, line: int, kind: str, source: str) -> dict[str, Any]:
    key = _text(meta.get("ref"))
    # "[@kei2020]" and "@kei2020" are pandoc habits for the key "kei2020"
    ref = key.strip("[]").lstrip("@") if key else (_text(meta.get("doi")) or "").lower()
    return {
        "extract_id": extract_id(source, ref, body),
        "ref": ref,
        "page": _text(meta.get("page")),
        "kind": kind,
        "text": body,
        "source_file": source,
        "line": line,
        "section": _text(meta.get("section")),
    }


def _fulltext_record(meta: dict[str, Any], position: int, line: int) -> dict[str, Any]:
    rec: dict[str, Any] = {key: meta[key] for key in _RECORD_KEYS if meta.get(key) is not None}
    for key in ("year", "volume", "issue", "pages", "pmid", "doi"):
        if key in rec and not isinstance(rec[key], bool):
            rec[key] = _text(rec[key])
    if "publisher" not in rec:
        org = meta.get("organisation", meta.get("organization"))
        if org is not None:
            rec["publisher"] = org
    if "grey" in rec and not isinstance(rec["grey"], bool):
        rec["grey"] = str(rec["grey"]).strip().lower() in {"true", "yes", "1", "y"}
    if meta.get("pub_type") is not None:
        rec["pub_type_raw"] = str(meta["pub_type"])
    if meta.get("key") is not None:
        rec["source_key"] = _text(meta["key"])
    used = {*_RECORD_KEYS, "kind", "key", "pub_type", "organisation", "organization"}
    rec["extra"] = {str(k): _plain(v) for k, v in meta.items() if k not in used and v is not None}
    rec["position"] = position
    rec["line"] = line
    return rec


def parse(text: str, source: str) -> Parsed:
    """Read extracts and full texts from a Markdown file with YAML front matter.

    Parameters
    ----------
    text : str
        The decoded file.
    source : str
        File name, used in failures and in each extract's ``source_file``.

    Returns
    -------
    Parsed
        ``extracts`` (keys of ``EXTRACT_COLUMNS`` plus ``section``), ``records`` and
        ``fulltexts`` for full-text documents, and a failure per broken document.

    Raises
    ------
    ReadError
        When the file has no front matter at all (it is not an extracts file).
    """
    lines = _NEWLINE.split(text)  # not splitlines(): a form feed in a full text is not a line
    blocks = _blocks(lines)
    if not blocks:
        raise ReadError(
            source,
            "has no front matter; extracts and full texts start with a '---' line, "
            "YAML such as 'kind: quote' and 'ref: <key>', and a closing '---' line",
        )
    parsed = Parsed()
    preface, preface_line = _body(lines, 0, blocks[0].start)
    if preface:
        parsed.failures.append(
            Failure(
                source,
                preface_line,
                None,
                f"line {preface_line}: text before the first front matter belongs to no "
                "document and was not read",
                preface,
            )
        )
    for position, block in enumerate(blocks, start=1):
        stop = blocks[position].start if position < len(blocks) else len(lines)
        problem = _read_document(parsed, lines, block, stop, position, source)
        if problem:
            raw = "\n".join(lines[block.start : stop])
            where = f"document {position} (line {block.start + 1})"
            parsed.failures.append(
                Failure(source, block.start + 1, position, f"{where}: {problem}", raw)
            )
    log.debug(
        "%s: %d extracts, %d full texts, %d failures",
        source,
        len(parsed.extracts),
        len(parsed.fulltexts),
        len(parsed.failures),
    )
    return parsed


def _read_document(
    parsed: Parsed, lines: list[str], block: _Block, stop: int, position: int, source: str
) -> str | None:
    """Add one document's extract or record to ``parsed``; return what is wrong, if anything."""
    if block.error is not None:
        return block.error
    meta = block.meta or {}
    body, body_line = _body(lines, block.end + 1, stop)
    opening = block.start + 1
    kind = (_text(meta.get("kind")) or "").lower()
    if not kind:
        return f"front matter has no 'kind' (expected one of {_kinds()})"
    if kind in EXTRACT_KINDS:
        if not _text(meta.get("ref")) and not _text(meta.get("doi")):
            return f"{kind} has neither 'ref' (a BibTeX key) nor 'doi'"
        if not body:
            return f"{kind} has no text below its front matter"
        parsed.extracts.append(_extract(meta, body, body_line or opening, kind, source))
        return None
    if kind == FULLTEXT_KIND:
        if not _text(meta.get("title")):
            return "fulltext has no 'title'"
        parsed.records.append(_fulltext_record(meta, position, opening))
        if not body:
            return "fulltext has no text below its front matter; the record was kept"
        parsed.fulltexts.append({"record_id": position, "text": body, "source_file": source})
        return None
    return f"unknown kind {kind!r} (expected one of {_kinds()})"


def _kinds() -> str:
    return ", ".join([*sorted(EXTRACT_KINDS), FULLTEXT_KIND])
