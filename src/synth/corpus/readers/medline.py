"""PubMed MEDLINE (``.nbib``, "PubMed format" ``.txt``) reader.

PubMed writes one ``TAG - value`` per line, the tag left-justified in four columns,
long values wrapped onto lines indented by spaces, and a blank line between records.
Authors come twice: ``FAU`` ("Family, Given") and ``AU`` ("Family GI"); we keep the
full form. The tag map lives in ``data/medline_tags.yml``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from synth.corpus.model import Failure, Parsed, ReadError
from synth.corpus.readers._tagged import CONTROL as _CONTROL
from synth.corpus.readers._tagged import YEAR as _YEAR
from synth.corpus.readers._tagged import leftover_extra, tag_table

log = logging.getLogger(__name__)

_TAG = re.compile(r"^([A-Z][A-Z0-9]{1,3})\s*-(?:\s|$)?(.*)$")
_DOI = re.compile(r"10\.\d{4,9}/\S+")


@dataclass(frozen=True)
class _Spec:
    start: str
    single: tuple[tuple[str, tuple[str, ...]], ...]
    joined: tuple[tuple[str, tuple[str, ...]], ...]
    full: tuple[str, ...]
    short: tuple[str, ...]
    corporate: tuple[str, ...]
    keywords: tuple[str, ...]
    consumed: frozenset[str]
    doi_tags: tuple[str, ...]
    doi_marker: str
    pt_tag: str
    pt_priority: tuple[str, ...]
    database: str
    content: tuple[str, ...]
    content_names: str  # "PMID, title, abstract or authors"


@cache
def _spec() -> _Spec:
    t = tag_table("medline")
    return _Spec(
        start=t["start_tag"],
        single=tuple((k, tuple(v)) for k, v in t["single"].items()),
        joined=tuple((k, tuple(v)) for k, v in t["joined"].items()),
        full=tuple(t["authors_full"]),
        short=tuple(t["authors_short"]),
        corporate=tuple(t["authors_corporate"]),
        keywords=tuple(t["keywords"]),
        consumed=frozenset(t["consumed"]),
        doi_tags=tuple(t["doi_tags"]),
        doi_marker=t["doi_marker"],
        pt_tag=t["pub_type_tag"],
        pt_priority=tuple(p.lower() for p in t["pub_type_priority"]),
        database=t["database"],
        content=tuple(t["content_tags"]),
        content_names=_or_list(list(dict.fromkeys(t["content_tags"].values()))),
    )


def _or_list(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def parse(text: str, source: str) -> Parsed:
    """Parse MEDLINE ``text``; ``source`` is the file name used in failures.

    Raises
    ------
    ReadError
        When no line of the text is a MEDLINE tag line.
    """
    spec = _spec()
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks = list(_blocks(lines, spec.start))
    if not blocks:
        raise ReadError(source, "no PubMed/MEDLINE records found (no 'PMID- ' tag lines)")
    out = Parsed(database=spec.database)
    for position, (line_no, block) in enumerate(blocks, start=1):
        raw = "\n".join(block)
        fields = _fields(block)
        reason = None
        if _CONTROL.search(raw):
            reason = "contains binary data (control characters); skipped"
        elif not any(fields.get(t) for t in spec.content):
            reason = "no " + spec.content_names
        if reason:
            message = f"record {position} (line {line_no}): {reason}"
            out.failures.append(Failure(source, line_no, position, message, raw))
            continue
        rec = build_record(fields, spec)
        rec["position"] = position
        rec["line"] = line_no
        out.records.append(rec)
    return out


def _blocks(lines: list[str], start_tag: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, lines) per record: blank lines and PMID lines start records."""
    block: list[str] = []
    first = 0
    has_start = False
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            if block:
                yield first, block
                block, has_start = [], False
            continue
        is_start = line.startswith(start_tag) and _TAG.match(line) is not None
        if is_start and has_start:  # two records with no blank line between them
            yield first, block
            block, has_start = [], False
        if not block:
            if line[:1].isspace() or not _TAG.match(line):
                continue  # text outside any record (a header, a stray wrapped line)
            first = i
        block.append(line)
        has_start = has_start or is_start
    if block:
        yield first, block


def _fields(block: list[str]) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in block:
        m = None if line[:1].isspace() else _TAG.match(line)
        if m is None:
            if last is not None:  # wrapped value: continue the previous field
                last[-1] = f"{last[-1]} {line.strip()}".strip()
            continue
        tag, value = m.group(1), m.group(2).strip()
        last = fields.setdefault(tag, [])
        last.append(value)
    return fields


def build_record(fields: dict[str, list[str]], spec: _Spec | None = None) -> dict[str, Any]:
    """Map one MEDLINE record's ``tag -> values`` to a raw record dict."""
    spec = spec or _spec()
    rec: dict[str, Any] = {}
    drop: dict[str, set[str]] = {}
    for field, tags in spec.single:
        pattern = _YEAR if field == "year" else None
        for t in tags:
            value = next(
                (v for v in fields.get(t, ()) if v and (pattern is None or pattern.search(v))),
                None,
            )
            if value is not None:
                rec[field] = value
                drop.setdefault(t, set()).add(value)
                break
    for field, tags in spec.joined:
        values = [v for t in tags for v in fields.get(t, ()) if v]
        if values:
            rec[field] = "\n".join(values)
    titles = [v for v in fields.get("TI", ()) if v]
    if len(titles) > 1:  # PubMed never repeats TI; JabRef's tests do: keep every part
        rec["title"] = " ".join(titles)
    authors = [v for t in spec.full for v in fields.get(t, ()) if v]
    if not authors:
        authors = [v for t in spec.short for v in fields.get(t, ()) if v]
    if not authors:
        authors = [v for t in spec.corporate for v in fields.get(t, ()) if v]
        if authors:
            drop.update({t: set(authors) for t in spec.corporate})
    if authors:
        rec["authors"] = authors
    keywords = [v for t in spec.keywords for v in fields.get(t, ()) if v]
    if keywords:
        rec["keywords"] = list(dict.fromkeys(keywords))
    doi = _doi(fields, spec)
    if doi:
        rec["doi"] = doi
    types = [v for v in fields.get(spec.pt_tag, ()) if v]
    if types:
        lower = {t.lower(): t for t in types}
        rec["pub_type_raw"] = next((lower[p] for p in spec.pt_priority if p in lower), types[0])
    extra = leftover_extra(fields, spec.consumed, drop)
    if extra:
        rec["extra"] = extra
    return rec


def _doi(fields: dict[str, list[str]], spec: _Spec) -> str | None:
    values = [v for t in spec.doi_tags for v in fields.get(t, ()) if v]
    for v in values:
        if spec.doi_marker in v:
            m = _DOI.search(v.replace(spec.doi_marker, " "))
            if m:
                return m.group(0)
    for v in values:
        m = _DOI.search(v)
        if m and ("doi" in v.lower() or v.startswith("10.")):
            return m.group(0)
    return None
