"""Read a large tagged export (RIS, MEDLINE, Web of Science, EndNote) on several cores.

The text is cut only where a record starts, each chunk is parsed *and normalised* in a
worker (sending back a DataFrame, not per-record dicts), and positions, line numbers and
failure messages are shifted back to whole-file terms, so the result is the same as
reading the file in one piece. BibTeX has its own parallel path (macros must be shared).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

import pandas as pd

from synth.corpus.model import Failure, Parsed
from synth.corpus.normalise import disambiguate_ids, normalise_records
from synth.corpus.readers import text_reader
from synth.parallel import default_workers, mp_context, ordered_map

log = logging.getLogger(__name__)

#: where a chunk may be cut, per format: the match ends where the next chunk starts. A
#: cut sits only between a record's end (its ER line, or the blank line MEDLINE and
#: EndNote put after a record) and the next record's start, so every record lies whole in
#: one chunk and a record missing its ER is closed the same way as in a one-piece read.
CUT: dict[str, re.Pattern[str]] = {
    "ris": re.compile(r"^ER {1,2}-[^\n]*\n(?:[ \t]*\n)*(?=TY {1,2}- )", re.M),
    "medline": re.compile(r"^[ \t]*\n(?=PMID- )", re.M),
    "wos": re.compile(r"^ER[ \t]*\n(?:[ \t]*\n)*(?=PT [A-Z][ \t]*$)", re.M),
    "endnote": re.compile(r"^[ \t]*\n(?=%0 )", re.M),
}

#: below this size one process is faster than starting workers
PARALLEL_MIN_CHARS = 4_000_000
CHUNK_CHARS = 8_000_000

_REASON_PREFIX = re.compile(r"^record (\d+) \(line (\d+)\)")
_LINE_REF = re.compile(r"\(line (\d+)\)")


def supports(fmt: str, text: str, workers: int | None = None) -> bool:
    """Whether reading ``text`` in chunks is both possible and worthwhile."""
    workers = workers or default_workers()
    return fmt in CUT and workers > 1 and len(text) >= PARALLEL_MIN_CHARS


def chunk_bounds(text: str, fmt: str, size: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets covering ``text``, each cut between two records (see ``CUT``)."""
    size = size or CHUNK_CHARS
    pattern = CUT[fmt]
    bounds: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        target = start + size
        if target >= len(text):
            bounds.append((start, len(text)))
            break
        m = pattern.search(text, target)
        end = m.end() if m else len(text)
        bounds.append((start, end))
        start = end
    return bounds


def _parse_chunk(fmt: str, chunk: str, source: str) -> tuple[pd.DataFrame, list[Failure], Any]:
    parsed = text_reader(fmt)(chunk, source)
    # every block (record or failure) has a position; the chunk's count is the largest
    seen = max(
        [r.get("position") or 0 for r in parsed.records]
        + [f.record or 0 for f in parsed.failures]
        + [0]
    )
    # repeats keep their own ids here: read_chunked numbers them over the whole file (a
    # chunk's own numbering, renumbered, gave a record seen three times, twice in one
    # chunk, the id of another)
    frame = normalise_records(
        parsed.records,
        source_file=source,
        source_format=fmt,
        database=parsed.database,
        disambiguate=False,
    )
    # the rows whose extra holds a reader's warning (its lines are shifted by the caller)
    warned = [i for i, e in enumerate(frame["extra"]) if e and _has_warning(e)]
    return frame, parsed.failures, (parsed.database, seen, warned)


def _parse_span(
    text: str, fmt: str, start: int, end: int, source: str
) -> tuple[pd.DataFrame, list[Failure], Any]:
    return _parse_chunk(fmt, text[start:end], source)


def _has_warning(extra: dict[str, Any]) -> bool:
    return any(k.endswith("_warning") for k in extra)


def _shift_text(text: str, positions: int, lines: int) -> str:
    """A reader's message in whole-file terms: its ``record N`` and every ``(line N)``."""
    m = _REASON_PREFIX.match(text)
    if m:
        text = f"record {int(m.group(1)) + positions}" + text[len(f"record {m.group(1)}") :]
    return _LINE_REF.sub(lambda n: f"(line {int(n.group(1)) + lines})", text)


def _shift(failure: Failure, positions: int, lines: int) -> Failure:
    record = failure.record + positions if failure.record is not None else None
    line = failure.line + lines if failure.line is not None else None
    reason = _shift_text(failure.reason, positions, lines)
    return replace(failure, record=record, line=line, reason=reason)


def _shift_warnings(extra: dict[str, Any], positions: int, lines: int) -> dict[str, Any]:
    """Readers' warnings kept in a record's extra (``wos_warning``, ...) name lines too."""
    if not _has_warning(extra):
        return extra
    return {
        k: _shift_text(v, positions, lines) if k.endswith("_warning") and isinstance(v, str) else v
        for k, v in extra.items()
    }


def read_chunked(
    text: str, fmt: str, source: str, *, workers: int | None = None
) -> tuple[pd.DataFrame, Parsed]:
    """Records (already normalised) and a ``Parsed`` holding failures and the database."""
    workers = workers or default_workers()
    bounds = chunk_bounds(text, fmt)
    # this process reads chunks too (``work_here``): it starts at once, while its workers
    # start (a fork server's start and imports took ~1.5 s: more than reading a
    # 20,000-record file in one process), and its own chunks' frames are not pickled
    if workers > 1 and mp_context().get_start_method() == "fork":
        # forked workers have the text already: send each only where its chunk lies
        # (a 190 MB file's chunks were otherwise pickled through the pipes)
        spans = ((fmt, a, b, source) for a, b in bounds)
        mapped = ordered_map(_parse_span, spans, workers=workers, shared=text, work_here=True)
    else:
        jobs = ((fmt, text[a:b], source) for a, b in bounds)
        mapped = ordered_map(
            _parse_chunk, jobs, workers=workers, preload=[__name__], work_here=True
        )
    results = list(mapped)
    frames: list[pd.DataFrame] = []
    failures: list[Failure] = []
    database = None
    positions = 0
    lines = 0  # lines before the chunk's start, counted chunk by chunk (not from 0 each time)
    counted = 0
    for (start, _), (frame, chunk_failures, info) in zip(bounds, results, strict=True):
        chunk_db, seen, warned = info
        lines += text.count("\n", counted, start)
        counted = start
        if len(frame):
            frame["position"] = frame["position"] + positions
            frame["line"] = frame["line"] + lines
            if start and warned:
                extra = frame["extra"].tolist()
                for i in warned:
                    extra[i] = _shift_warnings(extra[i], positions, lines)
                frame["extra"] = extra
        frames.append(frame)
        failures += [_shift(f, positions, lines) for f in chunk_failures]
        database = database or chunk_db
        positions += seen
    records = pd.concat(frames, ignore_index=True)
    if database is not None:  # detected in one chunk: true of the whole file
        records["database"] = records["database"].fillna(database)
    log.info("%s: read in %d chunks on %d workers", source, len(bounds), workers)
    return disambiguate_ids(records), Parsed(failures=failures, database=database)
