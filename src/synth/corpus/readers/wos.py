"""Web of Science plain-text reader (``.ciw``, ``savedrecs.txt``, JabRef's ``.isi``).

The format: ``FN``/``VR`` head the file, two-letter tags followed by a space, values
wrapped onto lines indented by three spaces, ``ER`` closing each record and ``EF``
closing the file. Authors and cited references put one item per continuation line.
Records from the platform's other databases (Inspec, MEDLINE) use the same layout with
a few tags meaning something else; ``UT`` says which, and the reader adapts. The tag
map lives in ``data/wos_tags.yml``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from synth.corpus.model import Failure, Parsed, ReadError
from synth.corpus.normalise import canonical_pub_type
from synth.corpus.readers._tagged import CONTROL as _CONTROL
from synth.corpus.readers._tagged import DIGITS as _DIGITS
from synth.corpus.readers._tagged import YEAR as _YEAR
from synth.corpus.readers._tagged import leftover_extra, tag_table

log = logging.getLogger(__name__)

_TAG = re.compile(r"^([A-Z][A-Z0-9])(?:[ \t](.*))?$")
_DOI = re.compile(r"(?:^|\[|\s)(10\.\d{4,9}/[^\]\s]+)")


@dataclass(frozen=True)
class _Spec:
    header: frozenset[str]
    start: str
    end: str
    file_end: str
    single: tuple[tuple[str, tuple[str, ...]], ...]
    year: tuple[str, ...]
    pub_type: tuple[str, ...]
    full: tuple[str, ...]
    short: tuple[str, ...]
    keywords: tuple[str, ...]
    start_page: tuple[str, ...]
    end_page: tuple[str, ...]
    page_fallback: tuple[str, ...]
    items: frozenset[str]
    consumed: frozenset[str]
    keywords_skip_for: tuple[str, ...]
    doi_fallback: tuple[str, ...]
    accession_databases: tuple[tuple[str, str], ...]
    pmid_prefix: str
    database: str


@cache
def _spec() -> _Spec:
    t = tag_table("wos")
    return _Spec(
        header=frozenset(t["header_tags"]),
        start=t["start_tag"],
        end=t["end_tag"],
        file_end=t["file_end_tag"],
        single=tuple((k, tuple(v)) for k, v in t["single"].items()),
        year=tuple(t["year"]),
        pub_type=tuple(t["pub_type"]),
        full=tuple(t["authors_full"]),
        short=tuple(t["authors_short"]),
        keywords=tuple(t["keywords"]),
        start_page=tuple(t["start_page"]),
        end_page=tuple(t["end_page"]),
        page_fallback=tuple(t["page_fallback"]),
        items=frozenset(t["continuation_items"]),
        consumed=frozenset(t["consumed"]),
        keywords_skip_for=tuple(t["keywords_skip_for"]),
        doi_fallback=tuple(t["doi_fallback"]),
        accession_databases=tuple((k.upper(), v) for k, v in t["accession_databases"].items()),
        pmid_prefix=t["pmid_accession_prefix"].upper(),
        database=t["database"],
    )


def parse(text: str, source: str) -> Parsed:
    """Parse Web of Science plain text; ``source`` is the file name used in failures.

    Raises
    ------
    ReadError
        When the text holds no Web of Science tag lines at all.
    """
    return _Reader(text, source).run()


class _Reader:
    def __init__(self, text: str, source: str) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        self.lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self.source = source
        self.spec = _spec()
        self.out = Parsed(database=self.spec.database)
        self.position = 0

    def run(self) -> Parsed:
        """Read every record, also past an ``EF`` (files are often concatenated exports).

        Text outside any record (between an ``ER`` or ``EF`` and the next record) is not
        a record, but it is not silently dropped either: each run of it is a failure row.
        """
        spec = self.spec
        fields: dict[str, list[str]] | None = None
        first = 0
        last: list[str] | None = None
        last_tag = ""
        seen_tag = False
        junk: list[int] = []  # line numbers of the current run of text outside records
        for i, line in enumerate(self.lines, start=1):
            if not line.strip():
                continue
            m = None if line[:1].isspace() else _TAG.match(line)
            if m is None:
                if fields is None:
                    junk.append(i)
                elif last is not None:
                    value = line.strip()
                    if last_tag in spec.items:
                        last.append(value)
                    else:
                        last[-1] = f"{last[-1]} {value}".strip()
                continue
            seen_tag = True
            tag, value = m.group(1), (m.group(2) or "").strip()
            if tag == spec.file_end:
                if fields is not None:
                    self.close(fields, first, i - 1, f"EF (line {i})")
                    fields, last = None, None
                self.outside(junk)
                continue
            if fields is None:
                self.outside(junk)
                if tag in spec.header or tag == spec.end:
                    continue  # a file header (again, in concatenated files), or an ER twice
                fields, first, last, last_tag = {}, i, None, ""
            elif tag == spec.start and spec.start in fields:
                self.close(fields, first, i - 1, f"the next PT (line {i})")
                fields, first = {}, i
            if tag == spec.end:
                self.close(fields, first, i, None)
                fields, last = None, None
                continue
            last = fields.setdefault(tag, [])
            last.append(value)
            last_tag = tag
        if fields is not None:
            self.close(fields, first, len(self.lines), "the end of the file (truncated?)")
        self.outside(junk)
        if not seen_tag:
            raise ReadError(
                self.source,
                "no Web of Science records found (expected 'PT ' ... 'ER' tagged blocks)",
            )
        return self.out

    def outside(self, junk: list[int]) -> None:
        """One failure row for a run of untagged lines between records; empties ``junk``."""
        if not junk:
            return
        n, first = len(junk), junk[0]
        raw = "\n".join(self.lines[j - 1] for j in junk)
        reason = (
            f"{n} line{'s' if n > 1 else ''} of text outside any record (not inside a "
            "PT ... ER block); ignored"
        )
        self.out.failures.append(Failure(self.source, first, None, reason, raw))
        junk.clear()

    def close(
        self, fields: dict[str, list[str]], first: int, last_line: int, missing_er: str | None
    ) -> None:
        """Keep or fail one record; ``missing_er`` says what came instead of its ER."""
        self.position += 1
        raw = "\n".join(self.lines[first - 1 : last_line])
        prefix = f"record {self.position} (line {first})"
        reason = None
        if _CONTROL.search(raw):
            reason = "contains binary data (control characters); skipped"
        elif not any(v for vals in fields.values() for v in vals):
            reason = "empty record"
        rec = None if reason else build_record(fields, self.spec)
        if rec is not None and missing_er and not rec.get("title"):
            reason = f"no ER before {missing_er}, and no title to keep it by"
        if reason or rec is None:
            self.out.failures.append(
                Failure(self.source, first, self.position, f"{prefix}: {reason}", raw)
            )
            return
        if missing_er:
            warning = f"no ER before {missing_er}; kept because it has a title"
            rec.setdefault("extra", {})["wos_warning"] = warning
            log.warning("%s: %s: %s", self.source, prefix, warning)
        rec["position"] = self.position
        rec["line"] = first
        self.out.records.append(rec)


def _split(values: list[str]) -> list[str]:
    return [p.strip() for v in values for p in v.split(";") if p.strip()]


def build_record(fields: dict[str, list[str]], spec: _Spec | None = None) -> dict[str, Any]:
    """Map one Web of Science record's ``tag -> values`` to a raw record dict."""
    spec = spec or _spec()
    rec: dict[str, Any] = {}
    drop: dict[str, set[str]] = {}
    consumed = set(spec.consumed)

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

    accession = (rec.get("source_key") or "").upper()
    for prefix, database in spec.accession_databases:
        if accession.startswith(prefix):
            rec["database"] = database
            break
    if "pmid" not in rec and accession.startswith(spec.pmid_prefix):
        number = accession[len(spec.pmid_prefix) :].strip()
        if _DIGITS.match(number):
            rec["pmid"] = number

    for t in spec.pub_type:
        for v in fields.get(t, ()):
            if v and v != "-" and canonical_pub_type("wos", v) != "other":
                rec["pub_type_raw"] = v
                drop.setdefault(t, set()).add(v)
                break
        if "pub_type_raw" in rec:
            break
    else:
        take("pub_type_raw", spec.pub_type)

    authors = _authors(fields, spec.full) or _authors(fields, spec.short)
    if authors:
        rec["authors"] = authors

    skip_keywords = accession.startswith(spec.keywords_skip_for)
    tags = tuple(t for t in spec.keywords if not (skip_keywords and t == "ID"))
    if skip_keywords:
        consumed.discard("ID")
    keywords = _split([v for t in tags for v in fields.get(t, ())])
    if keywords:
        rec["keywords"] = list(dict.fromkeys(keywords))

    if "doi" not in rec:
        for t in spec.doi_fallback:
            for v in fields.get(t, ()):
                m = _DOI.search(v)
                if m:
                    rec["doi"] = m.group(1)
                    break
            if "doi" in rec:
                break

    sp = next((v for t in spec.start_page for v in fields.get(t, ()) if v), None)
    ep = next((v for t in spec.end_page for v in fields.get(t, ()) if v), None)
    fallback = any(fields.get(t) for t in spec.page_fallback)
    if "-" in f"{sp or ''}{ep or ''}" and fallback:
        take("pages", spec.page_fallback)  # Inspec: BP "41103-1", EP "41103-41103-3"
    elif sp and ep and sp != ep:
        rec["pages"] = f"{sp}-{ep}"
    elif sp or ep:
        rec["pages"] = sp or ep
    else:
        take("pages", spec.page_fallback)

    extra = leftover_extra(fields, consumed, drop)
    if extra:
        rec["extra"] = extra
    return rec


def _authors(fields: dict[str, list[str]], tags: tuple[str, ...]) -> list[str]:
    values = [v for t in tags for v in fields.get(t, ()) if v]
    # MEDLINE records on the platform list "Joffe, Hadine; Hall, Janet E" on one line
    return list(dict.fromkeys(_split(values)))
