"""CSV, TSV and XLSX exports (Scopus, Web of Science, Embase, ASReview, Rayyan, Covidence, Zotero).

Every tool spells its columns differently, so the spellings live in an alias table
(``synth/data/column_aliases.yml``) and this module only applies it: headers are matched
ignoring case, spaces, underscores and punctuation; the table also says how a list column
is split and which database a set of headers comes from. Columns without a canonical field
go to the record's ``extra`` so an export can be written back.

Rows are read with the :mod:`csv` module rather than pandas because a row with the wrong
number of fields must become a :class:`~synth.corpus.model.Failure` with its physical line
(pandas drops or shifts such rows), and quoted fields may hold newlines, so ``line`` is
counted from the lines each row really spans. Rows whose fields are all empty are
skipped and not counted in ``position``.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache, partial
from importlib import resources
from itertools import islice
from typing import Any

import yaml

from synth.corpus.model import RECORD_COLUMNS, Failure, Parsed, ReadError
from synth.corpus.writers.csv import restore_formula

log = logging.getLogger(__name__)

_DELIMITERS = ",;\t|"
_NON_ALNUM = re.compile(r"[\W_]+")
#: "Adler D.G.", "Smith JA", "Kim Y.-S." -> family name and initials
_INITIALS = re.compile(r"^(?P<family>\S.*?)\s+(?P<init>(?:[A-Z]\.?-?\s?){1,4})$")
_SPLITS = {"auto", "initials", ";", ",", "|"}
#: fields the alias table may fill: the record columns a reader sets, plus helpers
_INTERNAL = {"record_id", "source_file", "source_format", "position", "line", "extra", "pub_type"}
_FIELDS = (set(RECORD_COLUMNS) - _INTERNAL) | {"pub_type_raw", "page_start", "page_end"}
_LIST_FIELDS = {"authors", "keywords"}
_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_SAMPLE_LINES = 200
_FIELD_LIMIT = 2**31 - 1
_NEWLINE = re.compile(r"\r\n|\r|\n")
_ROW_BREAK = re.compile("\u0085|\u2028|\u2029")


def normalise_header(name: object) -> str:
    """``"Page start"``, ``"page_start"`` and ``"PAGE-START"`` all become ``"pagestart"``."""
    return _NON_ALNUM.sub("", str(name).casefold())


# --------------------------------------------------------------------------- alias table


@dataclass(frozen=True, slots=True)
class Spelling:
    """One way a column may be spelled, and how its values are read."""

    name: str  # normalised header
    split: str | None = None
    strip: re.Pattern[str] | None = None
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class FieldRule:
    field: str
    spellings: tuple[Spelling, ...]
    fallback: bool = True  # may a later column fill rows where the first is empty?


@dataclass(frozen=True, slots=True)
class LabelRule:
    """Inclusion decisions kept inside a text column (Rayyan's ``notes``)."""

    column: str
    pattern: re.Pattern[str]
    decision: re.Pattern[str]
    include: frozenset[str]
    exclude: frozenset[str]


@dataclass(frozen=True, slots=True)
class DatabaseRule:
    name: str
    when: tuple[frozenset[str], ...]
    when_value: tuple[str, str] | None = None
    fields: tuple[FieldRule, ...] = ()
    quoting: str = "minimal"
    labels_from: LabelRule | None = None
    restore_formulas: bool = False
    extra_from: str | None = None  # normalised header of a JSON ``extra`` column
    names_database: bool = True


@dataclass(frozen=True, slots=True)
class AliasTable:
    fields: tuple[FieldRule, ...]
    databases: tuple[DatabaseRule, ...]


def _spelling(entry: Any, field_name: str) -> Spelling:
    if isinstance(entry, str):
        return Spelling(normalise_header(entry))
    if not isinstance(entry, dict) or "column" not in entry:
        raise ValueError(f"column_aliases.yml: {field_name}: bad entry {entry!r}")
    split = entry.get("split")
    if split is not None and split not in _SPLITS:
        raise ValueError(f"column_aliases.yml: {field_name}: unknown split {split!r}")
    pattern = re.compile(entry["pattern"]) if entry.get("pattern") else None
    if pattern is not None:
        unknown = set(pattern.groupindex) - _FIELDS
        if unknown:
            raise ValueError(f"column_aliases.yml: {field_name}: pattern fills {unknown}")
    return Spelling(
        name=normalise_header(entry["column"]),
        split=split,
        strip=re.compile(entry["strip"]) if entry.get("strip") else None,
        pattern=pattern,
    )


def _field_rules(raw: dict[str, Any]) -> tuple[FieldRule, ...]:
    rules = []
    for name, spec in raw.items():
        if name not in _FIELDS:
            raise ValueError(f"column_aliases.yml: {name!r} is not a record field")
        spec = {"columns": spec} if isinstance(spec, list) else spec
        spellings = tuple(_spelling(e, name) for e in spec["columns"])
        rules.append(FieldRule(name, spellings, bool(spec.get("fallback", True))))
    return tuple(rules)


def _label_rule(raw: dict[str, Any] | None) -> LabelRule | None:
    if not raw:
        return None
    return LabelRule(
        column=normalise_header(raw["column"]),
        pattern=re.compile(raw["pattern"]),
        decision=re.compile(raw["decision"]),
        include=frozenset(s.casefold() for s in raw["include"]),
        exclude=frozenset(s.casefold() for s in raw["exclude"]),
    )


@cache
def alias_table() -> AliasTable:
    """The column alias table (package data), validated and compiled once."""
    text = resources.files("synth.data").joinpath("column_aliases.yml").read_text("utf-8")
    raw = yaml.safe_load(text)
    databases = []
    for db in raw.get("databases", []):
        value = db.get("when_value")
        databases.append(
            DatabaseRule(
                name=db["name"],
                when=tuple(frozenset(map(normalise_header, cols)) for cols in db["when"]),
                when_value=(normalise_header(value["column"]), value["contains"])
                if value
                else None,
                fields=_field_rules(db.get("fields") or {}),
                quoting=db.get("quoting", "minimal"),
                labels_from=_label_rule(db.get("labels_from")),
                restore_formulas=bool(db.get("restore_formulas", False)),
                extra_from=normalise_header(db["extra_from"]) if db.get("extra_from") else None,
                names_database=bool(db.get("names_database", True)),
            )
        )
    return AliasTable(_field_rules(raw["fields"]), tuple(databases))


# --------------------------------------------------------------------------- column plan

_Converter = Callable[[str], Any] | None


@dataclass
class _Plan:
    """How one file's columns map to record fields (built once per file from its header)."""

    headers: list[str]
    #: fields filled from one column: (field, index, converter)
    single: list[tuple[str, int, _Converter]] = field(default_factory=list)
    #: fields with several candidate columns: (field, [(index, header, converter)], fallback)
    multi: list[tuple[str, list[tuple[int, str, _Converter]], bool]] = field(default_factory=list)
    patterns: list[tuple[int, str, re.Pattern[str]]] = field(default_factory=list)
    unmapped: list[tuple[int, str]] = field(default_factory=list)
    page_columns: list[tuple[int, str]] = field(default_factory=list)
    database: DatabaseRule | None = None
    label_column: int | None = None
    extra_column: int | None = None
    restore: bool = False

    @property
    def quoting(self) -> str:
        return self.database.quoting if self.database else "minimal"

    @property
    def database_name(self) -> str | None:
        """The file's database: the tool's name, unless its rows carry their own."""
        return self.database.name if self.database and self.database.names_database else None

    def record(self, row: Sequence[str | None]) -> dict[str, Any]:
        """A reader dict for one row (``row`` has exactly one value per header)."""
        rec: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        if self.restore:  # synth's own export: cells as they were before neutralising
            row = [restore_formula(v) if v else v for v in row]
        if self.extra_column is not None:
            extra.update(_json_object(row[self.extra_column]))
        for name, index, convert in self.single:
            value = row[index]
            if value and not value.isspace():
                rec[name] = convert(value) if convert else value
        for name, columns, fallback in self.multi:
            used = False
            for i, (index, header, convert) in enumerate(columns):
                value = row[index]
                if not value or value.isspace():
                    continue
                if not used and (fallback or i == 0):
                    rec[name] = convert(value) if convert else value
                    used = True
                else:
                    extra[header] = value
        for index, header, pattern in self.patterns:
            value = row[index]
            if not value or value.isspace():
                continue
            extra[header] = value  # the raw value: the pattern keeps only parts of it
            m = pattern.search(value)
            if m:
                for key, part in m.groupdict().items():
                    if part and not part.isspace() and key not in rec:
                        rec[key] = part.strip()
        for index, header in self.unmapped:
            value = row[index]
            if value and not value.isspace():
                extra[header] = value
        if self.page_columns:
            _join_pages(rec, extra, row, self.page_columns)
        if "label_included" not in rec and self.label_column is not None:
            rule = self.database.labels_from  # type: ignore[union-attr]
            label = _label_from_notes(row[self.label_column], rule)  # type: ignore[arg-type]
            if label is not None:
                rec["label_included"] = label
        rec["extra"] = extra
        return rec


def _join_pages(
    rec: dict[str, Any],
    extra: dict[str, Any],
    row: Sequence[str | None],
    columns: list[tuple[int, str]],
) -> None:
    """Scopus/WoS give first and last page apart; ``pages`` holds ``"152-160"``."""
    start = rec.pop("page_start", None)
    end = rec.pop("page_end", None)
    if start is None and end is None:
        return
    for index, header in columns:  # the raw halves stay in extra for round trips
        value = row[index]
        if value and not value.isspace():
            extra.setdefault(header, value)
    if "pages" not in rec:
        rec["pages"] = f"{start}-{end}" if start and end and start != end else start or end


@cache
def _title_spellings() -> frozenset[str]:
    table = alias_table()
    rules = [*table.fields, *(r for db in table.databases for r in db.fields)]
    return frozenset(sp.name for r in rules if r.field == "title" for sp in r.spellings)


def header_delimiter(line: str) -> str | None:
    """The delimiter that makes ``line`` a table header naming a title column, if any.

    Format detection asks this first: a header like ``Title,Authors,Year`` is strong
    evidence of a table, whatever a cell further down looks like.
    """
    titles = _title_spellings()
    best: tuple[int, str | None] = (1, None)
    for delimiter in _DELIMITERS:
        if delimiter not in line:
            continue
        try:
            fields = next(csv.reader([line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        if len(fields) > best[0] and any(normalise_header(f) in titles for f in fields):
            best = (len(fields), delimiter)  # the one giving most columns, as sniff_delimiter
    return best[1]


def _detect_database(normalised: set[str], sample: str) -> DatabaseRule | None:
    for db in alias_table().databases:
        if any(cols <= normalised for cols in db.when):
            return db
        if db.when_value and db.when_value[0] in normalised and db.when_value[1] in sample:
            return db
    return None


def _extra_names(header: Sequence[str]) -> list[str]:
    """Header names made unique and non-empty, for use as ``extra`` keys."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(header, start=1):
        name = name or f"column {i}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _plan(header: Sequence[str], source: str, sample: str) -> _Plan:
    """Match a header against the alias table; no title column makes the file unreadable."""
    names = _extra_names(header)
    normalised = [normalise_header(h) for h in header]
    db = _detect_database(set(normalised), sample)
    taken: set[int] = set()
    by_field: dict[str, tuple[list[tuple[int, Spelling]], bool]] = {}
    rule_sets = [db.fields] if db else []
    for rules in [*rule_sets, alias_table().fields]:
        for rule in rules:
            columns, fallback = by_field.get(rule.field, ([], rule.fallback))
            for spelling in rule.spellings:
                for i, norm in enumerate(normalised):
                    if norm == spelling.name and norm and i not in taken:
                        columns.append((i, spelling))
                        taken.add(i)
            if columns:
                by_field[rule.field] = (columns, fallback)
    if "title" not in by_field:
        shown = ", ".join(repr(h) for h in header[:40]) + (" ..." if len(header) > 40 else "")
        raise ReadError(source, f"has no title column (columns found: {shown})")
    plan = _Plan(headers=names, database=db)
    for name, (columns, fallback) in by_field.items():
        plain = [(i, names[i], _converter(name, sp)) for i, sp in columns if sp.pattern is None]
        plan.patterns += [(i, names[i], sp.pattern) for i, sp in columns if sp.pattern is not None]
        if len(plain) == 1:
            plan.single.append((name, plain[0][0], plain[0][2]))
        elif plain:
            plan.multi.append((name, plain, fallback))
        if name in ("page_start", "page_end"):
            plan.page_columns += [(i, names[i]) for i, _ in columns]
    plan.unmapped = [(i, names[i]) for i in range(len(header)) if i not in taken]
    if db and db.labels_from and db.labels_from.column in normalised:
        plan.label_column = normalised.index(db.labels_from.column)
    if db and db.extra_from in normalised:
        plan.extra_column = normalised.index(db.extra_from)  # type: ignore[arg-type]
        plan.unmapped = [(i, h) for i, h in plan.unmapped if i != plan.extra_column]
    plan.restore = bool(db and db.restore_formulas)
    return plan


def _json_object(text: str | None) -> dict[str, Any]:
    """The ``extra`` a synth export wrote as JSON; anything else stays in extra as text."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"extra": text}
    return value if isinstance(value, dict) else {"extra": text}


# --------------------------------------------------------------------------- values


@cache
def _outside_parens(sep: str) -> re.Pattern[str]:
    # a separator not followed by ")" before any "(": not inside (non-nested) parentheses
    return re.compile(re.escape(sep) + r"(?![^()]*\))")


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` except inside parentheses: Emtree's "cyst (diagnosis, surgery)"."""
    return _outside_parens(sep).split(text) if "(" in text else text.split(sep)


def _family_first(name: str) -> str:
    """``"Adler D.G."`` -> ``"Adler, D.G."`` (Scopus/Embase abbreviated names)."""
    name = name.strip()
    m = _INITIALS.match(name)
    if not m or "," in name:
        return name
    return f"{m.group('family')}, {m.group('init').strip()}"


def _list_literal(text: str) -> list[str] | None:
    """ASReview writes list columns as Python literals: ``"['Marx, Karl', 'Lindgren, A']"``."""
    if not (text.startswith("[") and text.endswith("]")):
        return None
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return [str(v) for v in value] if isinstance(value, list | tuple) else None


def _flag(value: str) -> bool | None:
    """``True``/``False`` (as synth writes them), yes/no, 1/0; anything else unknown."""
    return _FLAGS.get(value.strip().casefold())


def _converter(name: str, spelling: Spelling) -> _Converter:
    if name == "grey":
        return _flag
    if name not in _LIST_FIELDS or spelling.split is None:
        return None
    return partial(_convert, name=name, spelling=spelling)


def _convert(value: str, name: str, spelling: Spelling) -> Any:
    """Split a list column as its alias entry says; an unsplittable value stays a string."""
    text = value.strip()
    items: list[str] | None = _list_literal(text)
    if items is None:
        split = spelling.split
        if split == "auto":
            if ";" in text:
                items = _split(text, ";")
            elif name == "authors":
                parts = text.split(",")
                if len(parts) > 1 and all(_INITIALS.match(p.strip()) for p in parts):
                    items = [_family_first(p) for p in parts]
            elif "," in text:
                items = _split(text, ",")
        elif split == "initials":
            items = [_family_first(p) for p in text.split(";" if ";" in text else ",")]
        else:
            items = _split(text, split)  # type: ignore[arg-type]
    if items is None:
        return value  # the normaliser splits on ";", " and " and newlines
    if spelling.strip is not None:
        items = [spelling.strip.sub("", item) for item in items]
    return [s for s in (item.strip() for item in items) if s]


def _label_from_notes(notes: str | None, rule: LabelRule) -> int | None:
    """1 or 0 when every reviewer's decision agrees; ``None`` for conflicts and maybes."""
    if not notes:
        return None
    m = rule.pattern.search(notes)
    if not m:
        return None
    found = rule.decision.finditer(m.group("decisions"))
    decisions = {d.group("decision").strip().casefold() for d in found}
    if not decisions:
        return None
    if decisions <= rule.include:
        return 1
    if decisions <= rule.exclude:
        return 0
    return None


# --------------------------------------------------------------------------- delimited text


class _Text:
    """The file as one seekable stream, plus line offsets built only when a failure needs them.

    ``io.StringIO`` positions are character offsets, so a read can restart at any line
    after a broken row without copying the text.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.stream = io.StringIO(text, newline="")
        self._starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0, *(m.end() for m in _NEWLINE.finditer(self.text))]
        return self._starts

    @property
    def n_lines(self) -> int:
        starts = self.starts
        return len(starts) - (starts[-1] == len(self.text))

    def raw(self, first: int, last: int) -> str:
        """Physical lines ``first`` to ``last`` (1-based, inclusive)."""
        starts = self.starts
        end = starts[last] if last < len(starts) else len(self.text)
        return self.text[starts[first - 1] : end]

    def reader(self, after_line: int, delimiter: str, quoting: str, *, seek: bool = True) -> Any:
        """A csv reader starting at the line after ``after_line`` (or where the stream is)."""
        if seek:
            self.stream.seek(self.starts[after_line] if after_line else 0)
        if quoting == "none":
            return csv.reader(self.stream, delimiter=delimiter, quoting=csv.QUOTE_NONE)
        return csv.reader(self.stream, delimiter=delimiter)


def _blank(row: list[str]) -> bool:
    return not any(f and not f.isspace() for f in row)


def _first_rows(lines: Iterable[str], delimiter: str, n: int = 30) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        for row in csv.reader(lines, delimiter=delimiter):
            if row and not _blank(row):
                rows.append(row)
            if len(rows) > n:
                break
    except csv.Error:
        return []
    return rows


def sniff_delimiter(text: str, candidates: str = _DELIMITERS) -> str:
    """The delimiter that splits the header into the most columns the rows agree with.

    :class:`csv.Sniffer` alone is fooled by abstracts full of commas in a semicolon file,
    so its guess only breaks ties between candidates scored by how consistently the
    first rows have the header's number of fields.
    """
    sample = list(islice(io.StringIO(text[:262144], newline=""), _SAMPLE_LINES))
    try:
        preferred: str | None = csv.Sniffer().sniff("".join(sample)[:20000], candidates).delimiter
    except csv.Error:
        preferred = None
    best: tuple[Any, ...] = ()
    choice = preferred or ","
    for delimiter in candidates:
        rows = _first_rows(sample, delimiter)
        if not rows:
            continue
        width = len(rows[0])
        body = rows[1:-1] if len(rows) > 2 else rows[1:]  # the last may be cut off
        agree = sum(_fit(r, width) is not None for r in body)
        score = (width > 1, agree / len(body) if body else 1.0, delimiter == preferred, width)
        if score > best:
            best, choice = score, delimiter
    return choice


def _fit(row: list[str], width: int) -> list[str] | None:
    if len(row) == width:
        return row
    if len(row) > width and _blank(row[width:]):
        return row[:width]  # Web of Science rows end with a stray tab
    return None


def _resumes(src: _Text, after_line: int, delimiter: str, quoting: str, width: int) -> bool:
    """Do the rows after ``after_line`` read cleanly, so the bad row was one line, not many?

    Cleanly means the right number of fields and an even number of quote characters: a
    restart in the middle of a legitimately quoted multi-line field leaves an odd one.
    """
    if after_line >= src.n_lines:
        return True
    seen = 0
    reader = src.reader(after_line, delimiter, quoting)
    consumed = 0
    try:
        for row in islice(reader, 5):
            first, consumed = after_line + consumed + 1, reader.line_num
            if not row or _blank(row):
                continue
            if _fit(row, width) is None or src.raw(first, after_line + consumed).count('"') % 2:
                return False
            seen += 1
    except csv.Error:
        return False
    return seen > 0


def _iter_rows(
    src: _Text, header_end: int, delimiter: str, quoting: str, width: int, source: str
) -> Iterator[tuple[int, int, list[str] | Failure]]:
    """Yield ``(position, line, row or failure)`` for each data row after the header.

    A row with the wrong number of fields that ran over several lines usually holds an
    unmatched quote that swallowed the rows below it; when the lines after its first one
    read cleanly, only that line is the failure and reading resumes below it.
    """
    position = 0
    base = header_end  # lines before the current reader's start
    seek = False  # the stream already stands just below the header
    while True:
        reader = src.reader(base, delimiter, quoting, seek=seek)
        seek = True
        consumed = 0
        restart: int | None = None
        while True:
            first = base + consumed + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                position += 1
                where = f"record {position} (line {first})"
                yield (
                    position,
                    first,
                    Failure(source, first, position, f"{where}: {exc}", src.raw(first, first)),
                )
                restart = first
                break
            consumed = reader.line_num
            if not row or _blank(row):
                continue
            position += 1
            fitted = _fit(row, width)
            if fitted is not None:
                yield position, first, fitted
                continue
            last = base + consumed
            where = (
                f"record {position} (line {first}): {len(row)} fields where the header has {width}"
            )
            if last > first and _resumes(src, first, delimiter, quoting, width):
                reason = (
                    f"{where}; it ran on to line {last}, probably an unmatched quote; "
                    f"reading resumed at line {first + 1}"
                )
                yield (
                    position,
                    first,
                    Failure(source, first, position, reason, src.raw(first, first)),
                )
                restart = first
                break
            # _resumes moved the stream: put it back below this row for the current reader
            src.stream.seek(src.starts[last] if last < len(src.starts) else len(src.text))
            yield position, first, Failure(source, first, position, where, src.raw(first, last))
        base = restart


def unusual_row_breaks(text: str) -> str:
    """Rows separated by NEL (U+0085), LINE or PARAGRAPH SEPARATOR get ``\\n`` between them.

    The csv module breaks rows only at CR and LF, so a file written with such breaks
    (some Unicode-aware tools and old mainframe exports do) reads as one header row with
    no data at all. The breaks count as row breaks only when the header line holds one
    outside quotes; inside quoted fields, or in a file whose rows end with LF, they are
    text (a title may hold a U+2028) and stay.
    """
    if not _ROW_BREAK.search(text):
        return text
    pieces = text.split('"')  # quotes pair up: even pieces lie outside quoted fields
    for piece in pieces[::2]:
        head, newline, _ = piece.partition("\n")
        if _ROW_BREAK.search(head):
            break
        if newline:  # the header line ended without one
            return text
    else:
        return text
    pieces[::2] = [_ROW_BREAK.sub("\n", p) for p in pieces[::2]]
    return '"'.join(pieces)


def _parse_delimited(text: str, source: str, delimiter: str | None) -> Parsed:
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)  # a 5,000-author list is a long field
    text = unusual_row_breaks(text)
    if delimiter is None:
        delimiter = sniff_delimiter(text)
    src = _Text(text)
    header: list[str] | None = None
    reader = csv.reader(src.stream, delimiter=delimiter)
    try:
        for row in reader:
            if row and not _blank(row):
                header = [h.strip().lstrip("\ufeff").strip() for h in row]
                break
    except csv.Error as exc:
        raise ReadError(source, f"header row cannot be read ({exc})") from exc
    if header is None:
        raise ReadError(source, "has no header row")
    header_end = reader.line_num
    while header and not header[-1]:
        header.pop()  # a trailing delimiter on the header line only
    plan = _plan(header, source, text[:65536])
    parsed = Parsed(database=plan.database_name)
    width = len(header)
    for position, line, item in _iter_rows(src, header_end, delimiter, plan.quoting, width, source):
        if isinstance(item, Failure):
            parsed.failures.append(item)
            continue
        rec = plan.record(item)
        rec["position"] = position
        rec["line"] = line
        parsed.records.append(rec)
    if not parsed.records and not parsed.failures:
        reason = f"has a header row (line {header_end}) but no data rows below it"
        parsed.failures.append(Failure(source, header_end, None, reason, ""))
    log.debug(
        "%s: %d rows, %d failures, delimiter %r, database %s",
        source,
        len(parsed.records),
        len(parsed.failures),
        delimiter,
        parsed.database,
    )
    return parsed


def parse_csv(text: str, source: str) -> Parsed:
    """Read a CSV export (comma, semicolon, tab or pipe separated; detected).

    Parameters
    ----------
    text : str
        The decoded file.
    source : str
        File name, used in failures and errors.

    Returns
    -------
    Parsed
        One record per data row; rows with the wrong number of fields are failures.

    Raises
    ------
    ReadError
        When there is no header or no column that can hold a title.
    """
    return _parse_delimited(text, source, None)


def parse_tsv(text: str, source: str) -> Parsed:
    """Read a tab-delimited export (Web of Science, ASReview); see :func:`parse_csv`."""
    head = text.lstrip("\r\n").split("\n", 1)[0]
    return _parse_delimited(text, source, "\t" if "\t" in head else None)


# --------------------------------------------------------------------------- spreadsheets


def _cell_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _sheet_rows(ws: Any) -> Iterator[tuple[int, list[str | None]]]:
    for number, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
        yield number, [_cell_text(v) for v in values]


def _xlsx_records(rows: Iterable[tuple[int, list[str | None]]], plan: _Plan) -> Parsed:
    parsed = Parsed(database=plan.database_name)
    width = len(plan.headers)
    position = 0
    for number, values in rows:
        if not any(v is not None and v.strip() for v in values):
            continue
        position += 1
        row = values[:width] + [None] * (width - len(values))
        rec = plan.record(row)
        for i, value in enumerate(values[width:], start=width + 1):
            if value is not None and value.strip():
                rec["extra"][f"column {i}"] = value  # a cell right of the header
        rec["position"] = position
        rec["line"] = number  # the spreadsheet row number
        parsed.records.append(rec)
    return parsed


def parse_xlsx(data: bytes, source: str) -> Parsed:
    """Read the first worksheet with a title column of an ``.xlsx`` export.

    ``line`` is the spreadsheet row number (the header is usually row 1). Other sheets
    that also have a title column are not read; each is reported as a failure.
    """
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged zip/xml
        raise ReadError(source, f"is not a readable Excel workbook ({exc})") from exc
    try:
        chosen: Parsed | None = None
        skipped: list[str] = []
        first_error: ReadError | None = None
        for ws in wb.worksheets:
            rows = _sheet_rows(ws)
            header: list[str] | None = None
            for _number, values in rows:
                if any(v is not None and v.strip() for v in values):
                    header = [(v or "").strip() for v in values]
                    break
            if header is None:
                continue
            while header and not header[-1]:
                header.pop()
            sample = list(islice(rows, _SAMPLE_LINES))
            text = "\n".join("\t".join(v or "" for v in vals) for _, vals in sample)
            try:
                plan = _plan(header, source, text)
            except ReadError as exc:
                first_error = first_error or ReadError(source, f"sheet {ws.title!r} {exc.reason}")
                continue
            if chosen is not None:
                skipped.append(ws.title)
                continue
            chosen = _xlsx_records([*sample, *rows], plan)
        if chosen is None:
            raise first_error or ReadError(source, "has no worksheet with a header row")
        for title in skipped:
            chosen.failures.append(
                Failure(
                    source,
                    None,
                    None,
                    f"sheet {title!r} was not read (only the first sheet with a title column is)",
                    "",
                )
            )
        return chosen
    finally:
        wb.close()
