"""EndNote tagged (``.enw``) and refer (``.ref``) reader.

Both write ``%X value`` lines, one character after the ``%``; lines without a tag
continue the previous field (abstracts keep their line breaks), and a blank line ends a
record. EndNote adds ``%0`` (the reference type); refer files often lack it and start
with ``%A``. A second ``%0`` with no blank line before it also starts a new record. The
tag map lives in ``data/endnote_tags.yml``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from synth.corpus.model import Failure, Parsed, ReadError
from synth.corpus.readers._tagged import CONTROL as _CONTROL
from synth.corpus.readers._tagged import DIGITS as _DIGITS
from synth.corpus.readers._tagged import YEAR as _YEAR
from synth.corpus.readers._tagged import tag_table

log = logging.getLogger(__name__)

_TAG = re.compile(r"^(%\S)(?:[ \t](.*))?$")
_DOI = re.compile(r"10\.\d{4,9}/\S")


@dataclass(frozen=True)
class _Spec:
    type_tag: str
    single: tuple[tuple[str, tuple[str, ...]], ...]
    year: tuple[str, ...]
    doi: tuple[str, ...]
    authors: tuple[str, ...]
    keywords: tuple[str, ...]
    items: frozenset[str]
    pmid_accession: tuple[str, ...]
    pmid_source: tuple[str, ...]
    pubmed_sources: frozenset[str]


@cache
def _spec() -> _Spec:
    t = tag_table("endnote")
    return _Spec(
        type_tag=t["type_tag"],
        single=tuple((k, tuple(v)) for k, v in t["single"].items()),
        year=tuple(t["year"]),
        doi=tuple(t["doi"]),
        authors=tuple(t["authors"]),
        keywords=tuple(t["keywords"]),
        items=frozenset(t["continuation_items"]),
        pmid_accession=tuple(t["pmid_accession_tags"]),
        pmid_source=tuple(t["pmid_source_tags"]),
        pubmed_sources=frozenset(s.lower() for s in t["pubmed_sources"]),
    )


def parse(text: str, source: str) -> Parsed:
    """Parse EndNote tagged / refer text; ``source`` is the file name used in failures.

    Raises
    ------
    ReadError
        When no line of the text is a ``%`` tag line.
    """
    spec = _spec()
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[tuple[int, int, dict[str, list[str]]]] = []  # first line, last line, fields
    fields: dict[str, list[str]] | None = None
    last: list[str] | None = None
    last_tag = ""
    first = 0
    blank = False
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            blank = True
            continue
        m = _TAG.match(line)
        if m is None:
            if fields is not None and last is not None:
                _continue(last, last_tag, line, spec.items, blank)
                blank = False
            continue  # text before the first record
        tag, value = m.group(1), (m.group(2) or "").strip()
        if fields is None or blank or (tag == spec.type_tag and tag in fields):
            if fields is not None:
                blocks.append((first, i - 1, fields))
            fields, first = {}, i
        blank = False
        last = fields.setdefault(tag, [])
        last.append(value)
        last_tag = tag
    if fields is not None:
        blocks.append((first, len(lines), fields))
    if not blocks:
        raise ReadError(source, "no EndNote/refer records found (no '%0 ' or '%A ' tag lines)")

    out = Parsed(database="EndNote" if any(spec.type_tag in f for _, _, f in blocks) else None)
    for position, (start, end, block) in enumerate(blocks, start=1):
        raw = "\n".join(lines[start - 1 : end]).strip()
        reason = None
        if _CONTROL.search(raw):
            reason = "contains binary data (control characters); skipped"
        elif not any(v for t, vals in block.items() if t != spec.type_tag for v in vals):
            reason = "empty record (nothing but %0)"
        if reason:
            message = f"record {position} (line {start}): {reason}"
            out.failures.append(Failure(source, start, position, message, raw))
            continue
        rec = build_record(block, spec)
        rec["position"] = position
        rec["line"] = start
        out.records.append(rec)
    return out


def _continue(last: list[str], tag: str, line: str, items: frozenset[str], blank: bool) -> None:
    value = line.strip()
    if tag in items or not last[-1]:
        if last[-1]:
            last.append(value)
        else:
            last[-1] = value
    else:
        last[-1] = last[-1] + ("\n\n" if blank else "\n") + value


def build_record(fields: dict[str, list[str]], spec: _Spec | None = None) -> dict[str, Any]:
    """Map one EndNote record's ``tag -> values`` to a raw record dict."""
    spec = spec or _spec()
    rec: dict[str, Any] = {}
    drop: dict[str, set[str]] = {}
    consumed = {*spec.authors, *spec.keywords}

    def take(field: str, tags: tuple[str, ...], pattern: re.Pattern[str] | None = None) -> None:
        for t in tags:
            for v in fields.get(t, ()):
                if v and (pattern is None or pattern.search(v)):
                    rec[field] = v
                    drop.setdefault(t, set()).add(v)
                    return

    for field, tags in spec.single:
        take(field, tags)
    take("year", spec.year, _YEAR)
    take("doi", spec.doi, _DOI)
    authors = [v for t in spec.authors for v in fields.get(t, ()) if v]
    if authors:
        rec["authors"] = authors
    keywords = [k.strip() for t in spec.keywords for v in fields.get(t, ()) for k in v.split(";")]
    keywords = [k for k in keywords if k]
    if keywords:
        rec["keywords"] = list(dict.fromkeys(keywords))
    provider = {v.lower() for t in spec.pmid_source for v in fields.get(t, ()) if v}
    if provider & spec.pubmed_sources:
        for t in spec.pmid_accession:
            for v in fields.get(t, ()):
                if _DIGITS.match(v):
                    rec["pmid"] = v
                    break
    extra: dict[str, Any] = {}
    for tag, vals in fields.items():
        if tag in consumed:
            continue
        d = drop.get(tag)
        keep = [v for v in vals if v and (d is None or v not in d)]
        if keep:
            extra[tag] = keep[0] if len(keep) == 1 else keep
    if extra:
        rec["extra"] = extra
    return rec
