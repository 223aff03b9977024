"""Read files and folders of references into canonical DataFrames plus a failures report."""

from __future__ import annotations

import bisect
import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from synth.corpus import chunked, detect
from synth.corpus.encoding import decode_bytes
from synth.corpus.model import (
    EXTRACT_COLUMNS,
    FAILURE_COLUMNS,
    FULLTEXT_COLUMNS,
    WARNING,
    Failure,
    Parsed,
    ReadError,
)
from synth.corpus.normalise import normalise_records, records_frame
from synth.corpus.readers import byte_reader, text_reader
from synth.parallel import gc_paused

log = logging.getLogger(__name__)


@dataclass
class FileResult:
    """One file read: its canonical records, failures and what was decided about it."""

    path: Path
    format: str
    encoding: str | None
    encoding_how: str | None
    sha256: str
    size: int
    records: pd.DataFrame
    failures: pd.DataFrame
    extracts: pd.DataFrame
    fulltexts: pd.DataFrame
    database: str | None = None


@dataclass
class ReadResult:
    """Records and failures from one or more files; unpacks as ``records, failures``."""

    records: pd.DataFrame
    failures: pd.DataFrame
    extracts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EXTRACT_COLUMNS))
    fulltexts: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FULLTEXT_COLUMNS))
    files: list[FileResult] = field(default_factory=list)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        yield self.records
        yield self.failures


def universal_newlines(text: str) -> str:
    """Line ends as Python's text mode reads them: old Mac exports end lines with CR
    alone, Windows ones with CR LF."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def failures_frame(failures: Iterable[Failure]) -> pd.DataFrame:
    df = pd.DataFrame([f.as_dict() for f in failures], columns=FAILURE_COLUMNS)
    df["line"] = pd.array(df["line"].tolist(), dtype="Int64")
    df["record"] = pd.array(df["record"].tolist(), dtype="Int64")
    return df


def iter_files(paths: Iterable[Path | str], *, pdfs: bool = False) -> list[Path]:
    """Expand folders (recursively, sorted) into the importable files they hold (with
    ``pdfs``, their PDFs too: a review store takes them as full texts)."""
    suffixes = detect.IMPORTABLE_SUFFIXES | ({detect.PDF_SUFFIX} if pdfs else set())
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if (
                    child.is_file()
                    and not any(part.startswith(".") for part in child.relative_to(p).parts)
                    and child.suffix.lower() in suffixes
                    and child.name.lower() != "readme.md"
                ):
                    out.append(child)
        else:
            out.append(p)
    return out


def read_file(path: Path | str, fmt: str | None = None) -> FileResult:
    """Read one file. Raises :class:`ReadError` (naming the file) if it cannot be read at all."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ReadError(path, "no such file") from exc
    except IsADirectoryError as exc:
        raise ReadError(path, "is a folder; pass it to read() to import the files inside") from exc
    except OSError as exc:
        raise ReadError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if detect.looks_like_pdf(data) or path.suffix.lower() == detect.PDF_SUFFIX:
        raise ReadError(
            path,
            "a PDF: full texts are imported into a review store (`synth import`), where "
            "they are linked to their references; they hold no references to read",
        )
    sha = hashlib.sha256(data).hexdigest()
    name = path.name
    encoding = how = text = None
    records: pd.DataFrame | None = None
    if fmt == "xlsx" or (fmt is None and detect.is_xlsx(data)):
        fmt = "xlsx"
        parsed = _run(byte_reader(fmt), data, name, path)
    else:
        decoded = decode_bytes(data, path)
        encoding, how = decoded.encoding, decoded.how
        text = universal_newlines(decoded.text)
        if how == "guessed":
            log.warning("%s: not UTF-8; decoded as %s (best guess)", path, encoding)
        if not text or text.isspace():  # (not a stripped copy of a 200 MB text)
            fmt = fmt or detect.format_from_extension(path) or "unknown"
            parsed = Parsed(failures=[Failure(name, None, None, "file is empty", "")])
        else:
            fmt = fmt or detect.sniff(text, path.suffix)
            if fmt is None:
                raise ReadError(
                    path,
                    "format not recognised (expected BibTeX, RIS, PubMed/MEDLINE, Web of "
                    "Science, EndNote, CSV/TSV/XLSX or Markdown extracts)",
                )
            if chunked.supports(fmt, text):
                records, parsed = _read_chunked(text, fmt, name, path)
            else:
                parsed = _run(text_reader(fmt), text, name, path)
    if records is None:
        with gc_paused():  # many small objects: full collections cost a fifth of it
            records = normalise_records(
                parsed.records, source_file=name, source_format=fmt, database=parsed.database
            )
    parsed.failures += detect.shortfall(text, fmt, name, len(records) + len(parsed.failures))
    records, untitled = check_titles(records, parsed.failures, text, name)
    extracts = pd.DataFrame(parsed.extracts, columns=EXTRACT_COLUMNS)
    fulltexts = pd.DataFrame(parsed.fulltexts, columns=FULLTEXT_COLUMNS)
    if not fulltexts.empty:
        # full texts arrive keyed by their position in the file; give them the record id
        by_pos = dict(zip(records["position"], records["record_id"], strict=True))
        fulltexts = fulltexts[fulltexts["record_id"].isin(by_pos)].copy()
        fulltexts["record_id"] = [by_pos[p] for p in fulltexts["record_id"]]
        fulltexts["chars"] = fulltexts["text"].str.len()
    return FileResult(
        path=path,
        format=fmt,
        encoding=encoding,
        encoding_how=how,
        sha256=sha,
        size=len(data),
        records=records,
        failures=failures_frame(_in_file_order([*parsed.failures, *untitled])),
        extracts=extracts,
        fulltexts=fulltexts,
        database=parsed.database,
    )


def check_titles(
    records: pd.DataFrame, failures: list[Failure], text: str | None, name: str
) -> tuple[pd.DataFrame, list[Failure]]:
    """Apply the one rule for records without a title, whatever format they came from.

    Without a title and without a DOI or PMID a record can neither be screened nor found
    again: it becomes a failure row. With an identifier it is kept, and a warning row
    says so. Returns the records kept and the rows to add to the failures report.
    """
    untitled = records["title"].isna()
    if not untitled.any():
        return records, []
    has_id = records["doi"].notna() | records["pmid"].notna()
    raw = _RawText(text, records["line"], failures)
    rows: list[Failure] = []
    for rec in records[untitled].itertuples():
        line = None if pd.isna(rec.line) else int(rec.line)
        position = None if pd.isna(rec.position) else int(rec.position)
        where = f"record {position} (line {line})" if line is not None else f"record {position}"
        ident = rec.doi if isinstance(rec.doi, str) else f"PMID {rec.pmid}"
        if isinstance(rec.doi, str) or isinstance(rec.pmid, str):
            reason = f"{where}: no title; kept because it has an identifier ({ident})"
            rows.append(Failure(name, line, position, reason, raw.of(line, rec), WARNING))
        else:
            reason = f"{where}: no title and no DOI/PMID"
            rows.append(Failure(name, line, position, reason, raw.of(line, rec)))
    dropped = untitled & ~has_id
    # every column filtered (a copy of each) only when some record is dropped
    kept = records[~dropped] if dropped.any() else records
    return kept.reset_index(drop=True), rows


class _RawText:
    """A record's text in its file: from its first line to the next record's (or failure's)."""

    def __init__(self, text: str | None, lines: pd.Series, failures: list[Failure]) -> None:
        self.lines = text.split("\n") if text is not None else None
        starts = {int(v) for v in lines.dropna()} | {f.line for f in failures if f.line}
        self.starts = sorted(starts)

    def of(self, line: int | None, rec: tuple) -> str:  # type: ignore[type-arg]
        if self.lines is None or line is None:  # a spreadsheet: show the fields it had
            return _field_summary(rec)
        nxt = bisect.bisect_right(self.starts, line)
        end = self.starts[nxt] - 1 if nxt < len(self.starts) else len(self.lines)
        return "\n".join(self.lines[line - 1 : end]).strip()


def _field_summary(rec: tuple) -> str:  # type: ignore[type-arg]
    """The non-empty canonical fields of a record, for a failure row without file text."""
    parts = []
    for name in ("source_key", "authors", "year", "venue", "doi", "pmid", "abstract"):
        value = getattr(rec, name)
        if isinstance(value, list):
            value = "; ".join(value)
        if value is not None and value is not pd.NA and value == value and value != "":
            parts.append(f"{name}: {value}")
    return " | ".join(parts)


def _in_file_order(failures: list[Failure]) -> list[Failure]:
    """Whole-file failures first, then by line, as a reader would go through the file."""
    return sorted(failures, key=lambda f: (f.line is not None, f.line or 0))


def _run(reader, payload, name: str, path: Path) -> Parsed:  # type: ignore[no-untyped-def]
    try:
        return reader(payload, name)
    except ReadError:
        raise
    except Exception as exc:  # a reader bug or hopeless file: one clear error, not a traceback
        log.debug("reader failed on %s", path, exc_info=True)
        raise ReadError(path, f"could not be parsed ({type(exc).__name__}: {exc})") from exc


def _read_chunked(text: str, fmt: str, name: str, path: Path) -> tuple[pd.DataFrame, Parsed]:
    try:
        return chunked.read_chunked(text, fmt, name)
    except ReadError:
        raise
    except Exception as exc:  # no worker processes here: read it in one piece instead
        log.warning("%s: parallel reading failed (%r); reading in one process", path, exc)
        parsed = _run(text_reader(fmt), text, name, path)
        frame = normalise_records(
            parsed.records, source_file=name, source_format=fmt, database=parsed.database
        )
        return frame, parsed


def read(
    path: Path | str | Iterable[Path | str], *, progress: bool = False, strict: bool = False
) -> ReadResult:
    """Read files or folders into canonical records plus a failures report.

    A file that cannot be read at all becomes one failure row naming it (or, with
    ``strict=True``, raises :class:`ReadError`); one bad record never drops the others.
    """
    paths = [path] if isinstance(path, str | Path) else list(path)
    files = iter_files(paths)
    results: list[FileResult] = []
    file_failures: list[Failure] = []
    iterator: Iterable[Path] = files
    if progress:
        from synth.progress import progress_bar

        iterator = progress_bar(files, desc="reading", unit="file")
    for f in iterator:
        try:
            results.append(read_file(f))
        except ReadError as exc:
            if strict:
                raise
            file_failures.append(Failure(f.name, None, None, exc.reason, ""))
    return combine(results, file_failures)


def combine(results: list[FileResult], extra_failures: list[Failure] | None = None) -> ReadResult:
    frames = [r.records for r in results]
    records = pd.concat(frames, ignore_index=True) if frames else records_frame([])
    failures = pd.concat(
        [r.failures for r in results] + [failures_frame(extra_failures or [])], ignore_index=True
    )
    failures = failures if len(failures) else failures_frame([])
    extracts = pd.concat([r.extracts for r in results] or [pd.DataFrame(columns=EXTRACT_COLUMNS)])
    fulltexts = pd.concat(
        [r.fulltexts for r in results] or [pd.DataFrame(columns=FULLTEXT_COLUMNS)]
    )
    return ReadResult(
        records=records,
        failures=failures,
        extracts=extracts.reset_index(drop=True),
        fulltexts=fulltexts.reset_index(drop=True),
        files=results,
    )
