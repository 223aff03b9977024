"""RIS reader: fast on clean exports, robust to the dialects real exports use.

``rispy`` is strict where exports are not: a missing ``ER``, a tag written ``TY -`` or
``A1<TAB>-``, text before the first ``TY``, a stray ``TY`` inside a record, tags Ovid
writes after ``ER``. This reader cuts the text at its ``ER`` lines (``str.find``), reads
each record made only of canonical tag lines with one ``findall`` and hands any other to
a line-by-line reader that knows the dialects. rispy's tag table says which tags are
real when the spacing is irregular; ``data/ris_tags.yml`` maps tags to canonical fields.
Parsing alone it is a little faster than bare ``rispy.loads`` on the same text, and on
12 of the 59 RIS-like peer exports rispy, used as the tokeniser under this mapping, loses
or merges records or fields (Ovid tags after ER, ``TY - `` spacing, a TY without ER,
line breaks inside values): ``benchmarks/bench_ris_dialects.py`` prints both. Broken
records become :class:`~synth.corpus.model.Failure` rows with their line; they never
take the good records down with them.
"""

from __future__ import annotations

import json
import logging
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from synth.corpus.model import Failure, Parsed, ReadError
from synth.corpus.readers._tagged import CONTROL as _CONTROL
from synth.corpus.readers._tagged import DIGITS as _DIGITS
from synth.corpus.readers._tagged import YEAR as _YEAR
from synth.corpus.readers._tagged import tag_table
from synth.parallel import gc_paused

log = logging.getLogger(__name__)

#: a tag line: optional BOM/indent, two-character tag, up to three spaces/tabs, a dash
#: followed by whitespace or the end of the line. Group 2 (the spacing) lets irregular
#: lines count as tags only for tags RIS really has.
_TAG_LINE = re.compile(r"^[ \t\ufeff]{0,2}([A-Z][A-Z0-9])([ \t]{0,3})-(?:[ \t]|$)(.*)$")
#: the file's own TY line tells its spacing ("TY  - " canonical, "TY - " in some tools)
_FIRST_TY = re.compile(r"^[ \t\ufeff]{0,2}TY([ \t]{0,3})-(?:[ \t]|$)", re.M)
_SPACE_OR_END = ("", " ", "\t")
_UNTAGGED = "_untagged"  # where text between TY and the first real tag goes
#: C0 control characters never found in a text export (tab, LF, FF, CR allowed)
_CONTROL_BYTES = bytes(c for c in range(32) if c not in (9, 10, 12, 13))
_DOI_ANY = re.compile(r"10\.\d{4,9}/\S")
_DOI_FALLBACK = re.compile(r"(?:^|\bdoi:?\s*|doi\.org/)(10\.\d{4,9}/\S+)", re.I)
_PMID_MARKED = re.compile(r"^\s*(\d{1,9})\s*\[pmid\]\s*$", re.I)
_PMID_URL = re.compile(r"pubmed(?:\.ncbi\.nlm\.nih\.gov/|/)(\d{1,9})\b", re.I)
_URL_SPLIT = re.compile(r"\s*;\s*(?=https?://|ftp://|www\.)", re.I)
_HTML_P = re.compile(r"^\s*<p>|</p>\s*$", re.I)
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGIT_CHARS = "0123456789"
_SAMPLE = 200  # records looked at to recognise the file's database


@dataclass(frozen=True)
class _Spec:
    """``ris_tags.yml`` compiled into the tuples and sets the hot loop wants."""

    single: tuple[tuple[str, tuple[str, ...]], ...]
    author_tags: tuple[str, ...]
    keyword_tags: tuple[str, ...]
    year: tuple[str, ...]
    doi: tuple[str, ...]
    doi_fallback: tuple[str, ...]
    url: tuple[str, ...]
    start_page: tuple[str, ...]
    end_page: tuple[str, ...]
    page_placeholders: frozenset[str]
    pmid_marked: tuple[str, ...]
    pmid_accession: tuple[str, ...]
    pubmed_sources: frozenset[str]
    pubmed_source_tags: tuple[str, ...]
    pmid_any: frozenset[str]
    pmid_url: tuple[str, ...]
    items: frozenset[str]
    known: frozenset[str]
    valid_tags: frozenset[str]
    whole: frozenset[str]
    tag_field: dict[str, str]
    url_split: bool
    label_tags: tuple[str, ...]
    label_re: re.Pattern[str] | None
    label_hint: str
    included: frozenset[str]
    note_tag: str
    note_prefix: str
    db_rules: tuple[tuple[str, str, str, str], ...]
    tool_rules: tuple[tuple[str, str, str, str], ...]


def _rules(raw: list[dict[str, str]]) -> tuple[tuple[str, str, str, str], ...]:
    out = []
    for rule in raw:
        for how in ("contains", "equals", "startswith"):
            if how in rule:
                out.append((rule["database"], rule["tag"], how, str(rule[how]).lower()))
    return tuple(out)


def _common_prefix(words: list[str]) -> str:
    """The text every label marker starts with: a cheap ``in`` test before the regex."""
    if not words:
        return ""
    low, high = min(words), max(words)
    n = 0
    while n < min(len(low), len(high)) and low[n] == high[n]:
        n += 1
    return low[:n]


def _owners(single: tuple[tuple[str, tuple[str, ...]], ...], t: dict[str, Any]) -> dict[str, str]:
    """Tag -> the canonical field it is a candidate for (a tag serves one field)."""
    owners: dict[str, str] = {}
    for field, tags in (*single, ("year", tuple(t["year"])), ("doi", tuple(t["doi"]))):
        for tag in tags:
            if tag in owners:
                raise ValueError(f"ris_tags.yml: {tag} is listed for {owners[tag]} and {field}")
            owners[tag] = field
    return owners


@cache
def _spec() -> _Spec:
    t = tag_table("ris")
    from rispy.config import TAG_KEY_MAPPING  # rispy's table of the tags RIS defines

    single = tuple((k, tuple(v)) for k, v in t["single"].items())
    author_tags = tuple(t["lists"]["authors"])
    keyword_tags = tuple(t["lists"]["keywords"])
    labels = t.get("labels") or {}
    markers = [*labels.get("included", []), *labels.get("excluded", [])]
    label_re = re.compile(r"\b(" + "|".join(map(re.escape, markers)) + r")\b") if markers else None
    every = {*TAG_KEY_MAPPING, t["start_tag"], t["end_tag"]}
    for key in ("year", "doi", "url", "start_page", "end_page", "doi_fallback"):
        every.update(t[key])
    for _, tags in single:
        every.update(tags)
    every.update(author_tags + keyword_tags)
    writer = t["writer"]
    return _Spec(
        single=single,
        author_tags=author_tags,
        keyword_tags=keyword_tags,
        year=tuple(t["year"]),
        doi=tuple(t["doi"]),
        doi_fallback=tuple(t["doi_fallback"]),
        url=tuple(t["url"]),
        start_page=tuple(t["start_page"]),
        end_page=tuple(t["end_page"]),
        page_placeholders=frozenset(p.lower() for p in t.get("page_placeholders", [])),
        pmid_marked=tuple(t["pmid_marked_tags"]),
        pmid_accession=tuple(t["pmid_accession_tags"]),
        pubmed_sources=frozenset(s.lower() for s in t["pubmed_sources"]),
        pubmed_source_tags=tuple(t["pubmed_source_tags"]),
        pmid_any=frozenset(t["pmid_marked_tags"] + t["pmid_accession_tags"] + t["pmid_url_tags"]),
        pmid_url=tuple(t["pmid_url_tags"]),
        items=frozenset(t["continuation_items"]),
        known=frozenset(every),
        valid_tags=frozenset(a + b for a in _UPPER for b in _UPPER + _DIGIT_CHARS),
        whole=frozenset(
            {t["start_tag"], *author_tags, *keyword_tags, *t["start_page"], *t["end_page"]}
            | set(t["url"])
        ),
        tag_field=_owners(single, t),
        url_split=bool(t.get("url_split", True)),
        label_tags=tuple(labels.get("tags", [])),
        label_re=label_re,
        label_hint=_common_prefix(markers),
        included=frozenset(labels.get("included", [])),
        note_tag=writer["note_tag"],
        note_prefix=writer["note_prefix"],
        db_rules=_rules(t.get("database_rules", [])),
        tool_rules=_rules(t.get("tool_rules", [])),
    )


def parse(text: str, source: str) -> Parsed:
    """Parse RIS ``text``; ``source`` is the file name used in failures.

    Returns
    -------
    Parsed
        Records as raw dicts (see :mod:`synth.corpus.model`), failures for broken
        records, and the database the file came from when recognisable.

    Raises
    ------
    ReadError
        When the text holds no RIS tag line at all.
    """
    with gc_paused():
        return _Scanner(text, source).run()


class _Scanner:
    """One pass over the text: records are cut at their ER lines, then each is read.

    A record whose every line is a canonical ``XX  - value`` tag line (nearly all of
    them, in real exports) is read by one C-level ``findall``; any other record (wrapped
    lines, irregular tags, junk, a missing ER) goes through the line-by-line reader,
    which knows every dialect. Both report 1-based lines and 1-based positions that
    count failed records too.
    """

    def __init__(self, text: str, source: str) -> None:
        if text.startswith("\ufeff"):
            text = text[1:]
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.text = text
        self.source = source
        self.spec = _spec()
        self.records: list[dict[str, Any]] = []
        self.failures: list[Failure] = []
        self.samples: list[dict[str, list[str]]] = []
        self.position = 0
        self.matched = False
        #: the record an ER just closed (its fields and index): Ovid writes tags after ER
        self.last: tuple[dict[str, list[str]], int] | None = None
        self.bad_lines = _control_lines(text)
        first_ty = _FIRST_TY.search(text)
        #: the spacing between tag and dash this file uses; any tag spelt so is a tag
        self.sep = first_ty.group(1) if first_ty else "  "
        self.fast_line = _fast_line(self.sep)

    def run(self) -> Parsed:
        text = self.text
        pos = 0  # offset of the first line of the next chunk
        line = 0  # 0-based index of that line
        for er_start, er_end in _er_lines(text, self.sep):
            chunk = text[pos:er_start]
            n = chunk.count("\n")
            if not self.fast(chunk, n, line, pos, er_end):
                self.slow(text[pos:er_end].split("\n"), line)
            line += n + 1
            pos = er_end + 1
        if pos < len(text):
            self.slow(text[pos:].split("\n"), line)
        if not self.matched:
            raise ReadError(self.source, "no RIS records found (no 'TY  - ' tag lines)")
        return Parsed(records=self.records, failures=self.failures, database=self.database())

    def fast(self, chunk: str, n: int, line: int, start: int, end: int) -> bool:
        """Read a chunk of ``n`` lines made only of canonical tag lines (after any blank
        ones); False sends it to :meth:`slow`."""
        body = chunk.lstrip("\n")
        blank = len(chunk) - len(body)
        pairs = self.fast_line.findall(body)
        if not pairs or pairs[0][0] != "TY" or len(pairs) != n - blank:
            return False
        # a plain dict filled through a bound ``get``: ~560,000 lines at 20,000 records,
        # where defaultdict's ``__missing__`` and the attribute look-ups showed in the profile
        fields: dict[str, list[str]] = {}
        get = fields.get
        for tag, value in pairs:
            vals = get(tag)
            if vals is None:
                fields[tag] = [value.strip()]
            else:
                vals.append(value.strip())
        if len(fields["TY"]) != 1:
            return False
        self.matched = True
        self.last = None
        self.close(fields, line + blank, line + n + 1, None, (start, end))
        return True

    def slow(self, lines: list[str], first: int) -> None:
        """The general reader for one chunk (``lines[0]`` is line index ``first``).

        A chunk ends with an ER line, except the last one of the file; it may hold
        several records (ER lines spelt irregularly) or none (text after the last ER).
        """
        spec = self.spec
        items = spec.items
        valid = spec.valid_tags
        seps = {"  ", self.sep}
        fields: dict[str, list[str]] | None = None
        values: list[str] = []  # the list the last tag line appended to
        last_tag = _UNTAGGED
        rec_start = 0
        orphan_start = -1
        orphan: dict[str, list[str]] = {}

        def raw(a: int, b: int) -> str:
            return "\n".join(lines[a - first : b - first])

        for i, line in enumerate(lines, start=first):
            tag = line[:2]
            if line[2:5] == "  -" and line[5:6] in _SPACE_OR_END and tag in valid:
                value = line[6:].strip()
            else:
                m = _TAG_LINE.match(line) if line else None
                if m is None or (m.group(2) not in seps and m.group(1) not in spec.known):
                    # untagged line: continues the previous field ("OR - odds ratio"
                    # wrapped into an abstract is text, not a tag RIS has)
                    if fields is not None:
                        text = line.strip()
                        if text:
                            if last_tag in items or not values:
                                if not values:
                                    values = fields.setdefault(last_tag, [])
                                values.append(text)
                            elif values[-1]:
                                values[-1] = values[-1] + "\n" + text
                            else:
                                values[-1] = text
                    continue
                tag, value = m.group(1), m.group(3).strip()
            self.matched = True
            if tag == "TY":
                if fields is not None:
                    where = f"the next TY (line {i + 1})"
                    self.close(fields, rec_start, i, where, raw(rec_start, i))
                elif orphan_start >= 0:
                    self.trailing(orphan, orphan_start, raw(orphan_start, i))
                    orphan_start, orphan = -1, {}
                self.last = None
                fields = {"TY": [value]}
                values, last_tag, rec_start = [], _UNTAGGED, i
            elif tag == "ER":
                if fields is not None:
                    self.close(fields, rec_start, i + 1, None, raw(rec_start, i + 1))
                    fields = None
                elif orphan_start >= 0:
                    self.fail(orphan_start, "no TY tag before ER", raw(orphan_start, i + 1))
                    orphan_start, orphan = -1, {}
                    self.last = None
                # a lone ER (an ER written twice) carries nothing: nothing to report
            elif fields is None:
                if orphan_start < 0:
                    orphan_start = i
                orphan.setdefault(tag, []).append(value)
            else:
                values = fields.get(tag)  # type: ignore[assignment]
                if values is None:
                    values = fields[tag] = [value]
                else:
                    values.append(value)
                last_tag = tag
        end = first + len(lines)
        if fields is not None:  # only at the end of the file: every other chunk ends in ER
            where = "the end of the file (truncated?)"
            self.close(fields, rec_start, end, where, raw(rec_start, end))
        elif orphan_start >= 0:
            self.trailing(orphan, orphan_start, raw(orphan_start, end))

    # -- record boundaries -------------------------------------------------------------

    def fail(self, start: int, reason: str, raw: str) -> None:
        self.position += 1
        message = f"record {self.position} (line {start + 1}): {reason}"
        log.debug("%s: %s", self.source, message)
        self.failures.append(Failure(self.source, start + 1, self.position, message, raw.strip()))

    def trailing(self, orphan: dict[str, list[str]], start: int, raw: str) -> None:
        """Tag lines between an ER and the next TY: Ovid puts ``NL`` there, so they belong
        to the record just closed; before any record they are a broken record."""
        if self.last is None:
            self.fail(start, "tag lines outside any record (no TY before them)", raw)
            return
        fields, index = self.last
        for tag, values in orphan.items():
            fields.setdefault(tag, []).extend(values)
        old = self.records[index]
        rec = build_record(fields, self.spec)
        rec["position"], rec["line"] = old["position"], old["line"]
        self.records[index] = rec

    def close(
        self,
        fields: dict[str, list[str]],
        start: int,
        end: int,
        missing_er: str | None,
        raw: str | tuple[int, int],
    ) -> None:
        """Keep or fail one record (lines ``start:end``); ``missing_er`` says what came
        instead of its ER; ``raw`` is its text, or its span in the text (cut on demand)."""
        if self.bad_lines and _has_bad_line(self.bad_lines, start, end):
            self.fail(start, "contains binary data (control characters); skipped", self.cut(raw))
            return
        rec = build_record(fields, self.spec)
        if len(rec) == 1:  # nothing but pub_type_raw: every tag but TY was empty
            why = "empty record (nothing but TY)"
            why += f"; no ER before {missing_er}" if missing_er else ""
            self.fail(start, why, self.cut(raw))
            return
        if missing_er:
            if not rec.get("title"):
                why = f"no ER before {missing_er}, and no title to keep it by"
                self.fail(start, why, self.cut(raw))
                return
            warning = f"no ER before {missing_er}; kept because it has a title"
            rec.setdefault("extra", {})["ris_warning"] = warning
            log.warning(
                "%s: record %d (line %d): %s", self.source, self.position + 1, start + 1, warning
            )
        self.position += 1
        rec["position"] = self.position
        rec["line"] = start + 1
        self.records.append(rec)
        self.last = (fields, len(self.records) - 1) if missing_er is None else None
        if len(self.samples) < _SAMPLE:
            self.samples.append(fields)

    def cut(self, raw: str | tuple[int, int]) -> str:
        """A failed record's text: the fast path passes only its span, cut on demand."""
        return self.text[raw[0] : raw[1]] if isinstance(raw, tuple) else raw

    def database(self) -> str | None:
        return detect_database(self.samples, self.spec)


@cache
def _fast_line(sep: str) -> re.Pattern[str]:
    """A tag line spelt the file's way; a record made only of these takes the fast path."""
    return re.compile(r"^([A-Z][A-Z0-9])" + re.escape(sep) + r"-(?:[ \t](.*))?$", re.M)


def _er_lines(text: str, sep: str = "  ") -> Iterator[tuple[int, int]]:
    """(start, end) of each ``ER  -`` line (spaced the file's way), found with ``str.find``.

    ``str.find`` is several times faster than a multiline regex over a 250 MB text.
    ER lines spelt otherwise (``ER-``) stay inside a chunk, where :meth:`_Scanner.slow`
    recognises them.
    """
    needle = "\nER" + sep + "-"
    width = len(needle) - 1
    k = text.find(needle)
    while k >= 0:
        start = k + 1
        after = text[start + width : start + width + 1]
        if after in _SPACE_OR_END or after == "\n":
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
            yield start, end
            k = text.find(needle, end)
        else:
            k = text.find(needle, start)


def _control_lines(text: str) -> list[int]:
    """0-based indices of lines holding control characters (binary junk), usually none.

    ``bytes.translate`` over the encoded text is ~10x faster than a regex scan, so the
    common clean file pays a few milliseconds; only a dirty one is searched line by line.
    """
    data = text.encode("utf-8", "surrogatepass")
    if len(data.translate(None, _CONTROL_BYTES)) == len(data):
        return []
    return [i for i, line in enumerate(text.split("\n")) if _CONTROL.search(line)]


def _has_bad_line(bad: list[int], start: int, end: int) -> bool:
    k = bisect_left(bad, start)
    return k < len(bad) and bad[k] < end


# -- fields -> record -----------------------------------------------------------------


def build_record(fields: dict[str, list[str]], spec: _Spec | None = None) -> dict[str, Any]:
    """Map one record's ``tag -> values`` to a raw record dict (see the reader contract).

    Runs once per record, so it favours plain loops over helpers and generators: at
    100,000 records every microsecond here is a tenth of a second.
    """
    spec = spec or _spec()
    rec: dict[str, Any] = {"pub_type_raw": None}
    get = fields.get

    for field, tags in spec.single:
        for t in tags:
            vals = get(t)
            if vals:
                for v in vals:
                    if v:
                        rec[field] = v
                        break
                else:
                    continue
                break

    authors: list[str] = []
    for t in spec.author_tags:
        vals = get(t)
        if vals:
            authors += vals
    if authors:
        if "" in authors:
            authors = [a for a in authors if a]
        if authors:
            rec["authors"] = authors
        if len(authors) > 1 and sum(t in fields for t in spec.author_tags) > 1:
            rec["authors"] = _merge_authors(fields, spec.author_tags)
    keywords: list[str] = []
    for t in spec.keyword_tags:
        for v in get(t, ()):
            if ";" in v:
                keywords += [k.strip() for k in v.split(";") if k.strip()]
            elif v:
                keywords.append(v)
    if keywords:
        rec["keywords"] = keywords

    year = _first(fields, spec.year, _YEAR)
    if year is not None:
        rec["year"] = year
    doi = _first(fields, spec.doi, _DOI_ANY)
    if doi is not None:
        rec["doi"] = doi
    else:
        _doi_fallback(fields, rec, spec)

    sp = _first(fields, spec.start_page)
    ep = _first(fields, spec.end_page)
    pages = f"{sp}-{ep}" if sp and ep and "-" not in sp and sp != ep else sp or ep
    if pages and pages.lower() not in spec.page_placeholders:
        rec["pages"] = pages

    extra: dict[str, Any] = {}
    urls: list[str] = []
    for t in spec.url:
        for v in get(t, ()):
            if ";" in v and spec.url_split:
                urls += [u for u in _URL_SPLIT.split(v) if u]
            elif v:
                urls.append(v)
    if urls:
        rec["url"] = urls[0]
        if len(urls) > 1:
            extra[spec.url[0]] = urls[1:] if len(urls) > 2 else urls[1]

    drop: dict[str, str] = {}  # tag -> a value a canonical field took from outside its map
    _pmid(fields, rec, spec, drop)
    note = None
    if spec.note_tag in fields or any(t in fields for t in spec.label_tags):
        note = _label_and_note(fields, rec, spec, drop)

    # every other tag, and each candidate value the canonical field did not take
    whole = spec.whole
    owner = spec.tag_field
    for tag, vals in fields.items():
        if tag in whole:
            continue
        field = owner.get(tag)
        d = rec.get(field) if field is not None else drop.get(tag)
        if len(vals) == 1:
            v = vals[0]
            if v and v != d:
                extra[tag] = v
        else:
            keep = [v for v in vals if v and v != d]
            if keep:
                extra[tag] = keep[0] if len(keep) == 1 else keep
    if note:
        _apply_note(note, rec, extra)
    if extra:
        rec["extra"] = extra
    return rec


def _merge_authors(fields: dict[str, list[str]], tags: tuple[str, ...]) -> list[str]:
    """AU and A1 in one record usually repeat each other: the first list, plus any name
    only the other has. (Two authors of the same name within one tag both stay.)"""
    out: list[str] = []
    for t in tags:
        names = [v for v in fields.get(t, ()) if v]
        if not out:
            out = names
        else:
            seen = set(out)
            out += [n for n in names if n not in seen]
    return out


def _doi_fallback(fields: dict[str, list[str]], rec: dict[str, Any], spec: _Spec) -> None:
    """DOIs hiding in URLs and notes: only at the start, after ``doi:`` or ``doi.org/``."""
    for t in spec.doi_fallback:
        for v in fields.get(t, ()):
            if "10." in v:
                m = _DOI_FALLBACK.search(v)
                if m:
                    rec["doi"] = m.group(1)
                    return


def _first(
    fields: dict[str, list[str]], tags: tuple[str, ...], pattern: re.Pattern[str] | None = None
) -> str | None:
    for t in tags:
        vals = fields.get(t)
        if vals:
            for v in vals:
                if v and (pattern is None or pattern.search(v)):
                    return v
    return None


def _pmid(
    fields: dict[str, list[str]], rec: dict[str, Any], spec: _Spec, drop: dict[str, str]
) -> None:
    if spec.pmid_any.isdisjoint(fields):
        return
    for t in spec.pmid_marked:
        for v in fields.get(t, ()):
            m = _PMID_MARKED.match(v) if "]" in v else None
            if m:
                rec["pmid"] = m.group(1)
                drop[t] = v
                return
    from_pubmed = False
    for t in spec.pubmed_source_tags:
        for v in fields.get(t, ()):
            if v.lower() in spec.pubmed_sources:
                from_pubmed = True
    if from_pubmed:
        for t in spec.pmid_accession:
            for v in fields.get(t, ()):
                if _DIGITS.match(v):
                    rec["pmid"] = v
                    return
    for t in spec.pmid_url:
        for v in fields.get(t, ()):
            m = _PMID_URL.search(v) if "ubmed" in v or "UBMED" in v else None
            if m:
                rec["pmid"] = m.group(1)
                return


def _label_and_note(
    fields: dict[str, list[str]], rec: dict[str, Any], spec: _Spec, drop: dict[str, str]
) -> dict[str, Any] | None:
    """ASReview's label notes, and synth's own provenance note (see writers.ris)."""
    note: dict[str, Any] | None = None
    if spec.label_re is not None:
        for t in spec.label_tags:
            for v in fields.get(t, ()):
                m = spec.label_re.search(v) if spec.label_hint in v else None
                if m:
                    rec["label_included"] = 1 if m.group(1) in spec.included else 0
    for v in fields.get(spec.note_tag, ()):
        body = _HTML_P.sub("", v).strip() if "<" in v else v
        if body.startswith(spec.note_prefix):
            try:
                parsed = json.loads(body[len(spec.note_prefix) :])
            except ValueError:
                log.debug("unreadable synth note kept as a note: %.80s", v)
                continue
            if isinstance(parsed, dict):
                note = parsed
                drop[spec.note_tag] = v
    return note


def _apply_note(note: dict[str, Any], rec: dict[str, Any], extra: dict[str, Any]) -> None:
    """Put back what writers.ris stored in its note: flags, type, provenance, extras."""
    if note.get("grey") is not None:
        rec["grey"] = bool(note["grey"])
    if "label_included" in note:
        rec["label_included"] = note["label_included"]
    if "pub_type" in note:  # a type TY cannot carry, or none at all (null)
        rec["pub_type_raw"] = note["pub_type"]
    for key in ("record_id", "source_file", "source_format", "position", "line"):
        if note.get(key) is not None:
            extra[f"synth_{key}"] = note[key]
    more = note.get("extra")
    if isinstance(more, dict):
        for key, value in more.items():
            extra.setdefault(key, value)


# -- where the file came from -----------------------------------------------------------


def _rule_hits(
    fields: dict[str, list[str]], rules: tuple[tuple[str, str, str, str], ...]
) -> Iterator[str]:
    for database, tag, how, text in rules:
        for v in fields.get(tag, ()):
            low = v.lower()
            if (
                (how == "contains" and text in low)
                or (how == "equals" and low.strip() == text)
                or (how == "startswith" and low.startswith(text))
            ):
                yield database
                break


def _endnote_order(fields: dict[str, list[str]]) -> bool:
    """EndNote writes tags alphabetically between TY and a final ID."""
    tags = list(fields)
    body = tags[1:-1]
    return len(body) >= 4 and tags[-1] == "ID" and body == sorted(body)


def detect_database(samples: list[dict[str, list[str]]], spec: _Spec | None = None) -> str | None:
    """The database (else the tool) most of the sampled records point to."""
    spec = spec or _spec()
    found: Counter[str] = Counter()
    tools: Counter[str] = Counter()
    for fields in samples:
        found.update(set(_rule_hits(fields, spec.db_rules)))
        hits = set(_rule_hits(fields, spec.tool_rules))
        if not hits and _endnote_order(fields):
            hits = {"EndNote"}
        tools.update(hits)
    if found:
        return found.most_common(1)[0][0]
    if tools:
        return tools.most_common(1)[0][0]
    return None
