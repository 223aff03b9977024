"""``synth import`` on a Dask cluster: readers in the workers, one load into the store.

Each reference file is read by one task (``read_file`` itself, so the record ids,
positions, lines, failures and provenance are the single-machine path's), and a large
tagged export (RIS, MEDLINE, Web of Science, EndNote) or BibTeX file by one task per chunk:
the chunk bounds, and the shifting of lines and positions back to whole-file terms, are
:mod:`synth.corpus.chunked`'s and the BibTeX reader's own, and every BibTeX chunk gets the
file's ``@string`` macros, collected once here as the reader collects them. Workers parse
*and normalise*; a task's records come back in the store's record columns (Arrow, the
types the store binds) as a Parquet file the worker encodes, which this process saves as a
partition in the run's work folder (:func:`synth.distributed.cluster.work_folder`), its
failures beside them. The workers need no shared file system: a task carries its file's
bytes, or its chunk's bytes (decoded, and its record marks counted, in the worker) or
text. This process competes with the workers for the cores, so it only cuts, sends, saves
and loads.

What spans chunks is settled in this process while loading, in file order: positions
(each chunk's count is known once the chunks before it are read), the ids of a record
seen twice in one file (:func:`synth.corpus.normalise.disambiguate_ids`' rule), the
database named in one chunk, a BibTeX key used in two chunks, the shortfall warning and
the order of the failures. A BibTeX file with ``crossref`` entries is read whole, by one
task (a child inherits from a parent anywhere in the file).

Then the partitions are loaded into SQLite in one transaction, holding the store's import
turn, in file order, with the rows :func:`synth.store.imports.store_file` writes; a run
that fails or is killed before that transaction commits leaves the store as it was (its
work folder is removed on an error; one left by a killed process is removed by the next
run). Deduplication, the extract links and PDFs then run in this process as they do
without a cluster: :func:`synth.store.imports.import_paths` hands only the reference
files here, and PDFs are read and linked on the client.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from distributed import KilledWorker

from synth.corpus import chunked, detect
from synth.corpus.encoding import decode_bytes, piecewise_encoding
from synth.corpus.model import WARNING, Failure, ReadError
from synth.corpus.normalise import normalise_records, record_id
from synth.corpus.readers import bibtex, text_reader
from synth.corpus.reading import (
    _in_file_order,
    check_titles,
    failures_frame,
    read_file,
    universal_newlines,
)
from synth.distributed.cluster import ClusterError
from synth.store.batches import turn
from synth.store.db import bulk_cache, transaction
from synth.store.imports import (
    _RECORD_FIELDS,
    INSERT_EXTRACT,
    INSERT_FAILURE,
    INSERT_FULLTEXT,
    INSERT_RECORD,
    INSERT_SIGHTING,
    _add_source,
    _column,
    _none,
    _to_json,
    discard_incomplete,
    store_unreadable,
)

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

#: Characters of text per chunk task (a file shorter than this is one task).
CHUNK_CHARS = chunked.CHUNK_CHARS
_INT_FIELDS = {"year", "position", "line", "label_included", "grey"}
#: A partition's records: the store's ``records_all`` columns but ``source_id``, which
#: the load gives; lists and ``extra`` as the JSON text the store keeps.
RECORD_SCHEMA = pa.schema(
    [
        (n, pa.int64() if n in _INT_FIELDS else pa.string())
        for n in _RECORD_FIELDS
        if n != "source_id"
    ]
)
#: A partition's failures: the store's failure columns; ``titles`` marks the rows of the
#: one rule for records without a title (they follow the reader's rows in a file's order).
FAILURE_SCHEMA = pa.schema(
    [
        ("file", pa.string()),
        ("line", pa.int64()),
        ("record", pa.int64()),
        ("reason", pa.string()),
        ("raw", pa.string()),
        ("severity", pa.string()),
        ("titles", pa.bool_()),
    ]
)
_COLUMNS = RECORD_SCHEMA.names


@dataclass
class ClusterImport:
    """What :func:`import_on_cluster` stored: a report row and the failures per file."""

    rows: list[dict[str, Any]]
    failures: list[pd.DataFrame]


def import_on_cluster(
    client: Client,
    con: sqlite3.Connection,
    files: list[Path],
    *,
    bar: Any = None,
    chunk_chars: int | None = None,
) -> ClusterImport:
    """Read ``files`` (reference exports, not PDFs) on ``client``'s workers and store them
    as :func:`synth.store.imports.store_file` does, all in one transaction.

    ``chunk_chars`` (default :data:`CHUNK_CHARS`) is how much text of a large RIS, MEDLINE,
    Web of Science, EndNote or BibTeX file one task reads. ``bar`` is updated once per
    file read. Raises :class:`ClusterError` when a task was lost with every worker that
    tried it (the store is then unchanged), and whatever a task raised other than a
    file's own reading error (which is a failures row, as without a cluster).
    """
    # the tagger's module, for its work folder: here only, so a worker reading files does
    # not import the tagging pipeline (spaCy) to unpickle its task
    from synth.distributed.cluster import work_folder

    size = chunk_chars or CHUNK_CHARS
    if size < 1:
        raise ValueError(f"chunk_chars must be at least 1, not {size}")
    with work_folder(con) as folder:  # removed on leaving
        plans = _read_all(client, files, folder, size, bar)
        return _load_all(con, plans)


# --------------------------------------------------------------------------- planning


@dataclass
class _Part:
    """One task's output, once landed: its Parquet files and what the load needs."""

    records: Path
    failures: Path
    meta: dict[str, Any]


@dataclass
class _Plan:
    """One file: read whole by one task, or in chunks (``chunks`` > 0), or not at all."""

    index: int
    path: Path
    error: str | None = None  # why the file could not be read (a ReadError's reason)
    chunks: int = 0
    fmt: str | None = None
    encoding: str | None = None
    encoding_how: str | None = None
    sha256: str = ""
    size: int = 0
    database: str | None = None
    #: BibTeX: the failed ``@string`` definitions (whole-file rows, read here once)
    macro_failures: list[Failure] = field(default_factory=list)
    #: records the text suggests (:func:`synth.corpus.detect.expected_records`)
    expected: tuple[int, str] | None = None
    parts: dict[int, _Part] = field(default_factory=dict)
    #: a chunk's reader raised: the file is read again, whole, by one task
    fallback: bool = False
    #: the record marks are counted by the chunks' tasks (chunks cut from bytes)
    marks_in_parts: bool = False
    extras: dict[str, Path] = field(default_factory=dict)
    counted: bool = False  # on the progress bar

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def done(self) -> bool:
        return self.error is not None or len(self.parts) == (1 if not self.chunks else self.chunks)


@dataclass(frozen=True)
class _ChunkSpec:
    """What a chunk task needs besides its text."""

    name: str
    fmt: str
    #: lines of the file before the chunk
    line0: int
    macros: dict[str, str] | None = None
    targets: frozenset[str] = frozenset()
    database: str | None = None
    #: failure rows of the whole file that mark where a record's text ends (BibTeX
    #: ``@string`` failures), for the raw text of an untitled record
    marks: tuple[Failure, ...] = ()
    #: a chunk sent as the file's bytes: how the worker decodes it (and counts its record
    #: marks, for the file's shortfall warning), so the client only cuts and sends
    way: _Bytes | None = None


def _decoded(data: bytes, path: Path) -> tuple[str, str, str]:
    """The text :func:`synth.corpus.reading.read_file` reads (universal newlines), its
    encoding and how that was decided."""
    decoded = decode_bytes(data, path)
    return universal_newlines(decoded.text), decoded.encoding, decoded.how


def _plan(index: int, path: Path, size: int) -> tuple[_Plan, Iterator[tuple[Any, ...]]]:
    """The file's plan and its tasks' arguments (made lazily: one chunk's text at a time)."""
    plan = _Plan(index, path)
    lean = _lean_plan(plan, path, size)
    if lean is not None:
        return plan, lean
    try:
        data = path.read_bytes()
    except OSError as exc:
        try:  # the single-machine path's reason for it
            read_file(path)
        except ReadError as err:
            plan.error = err.reason
            return plan, iter(())
        raise exc from None
    if len(data) < size or detect.looks_like_pdf(data) or detect.is_xlsx(data):
        # (fewer bytes than characters per chunk: one chunk)
        return plan, iter([(_read_whole, plan.name, data)])
    sha256, n_bytes = hashlib.sha256(data).hexdigest(), len(data)
    text, encoding, how = _decoded(data, path)
    del data  # a large file: its text is enough to cut it
    fmt = detect.sniff(text, path.suffix) if text.strip() else None
    if fmt == "bibtex":
        tasks = _bibtex_chunks(plan, text, size)
    elif fmt in chunked.CUT:
        tasks = _tagged_chunks(plan, text, fmt, size)
    else:
        tasks = None
    if tasks is None:  # read whole by one task (a large CSV, BibTeX with crossrefs)
        del text
        return plan, iter([(_read_whole, plan.name, path.read_bytes())])
    if how == "guessed":
        log.warning("%s: not UTF-8; decoded as %s (best guess)", path, encoding)
    plan.fmt, plan.encoding, plan.encoding_how = fmt, encoding, how
    plan.sha256, plan.size = sha256, n_bytes
    plan.expected = detect.expected_records(text, fmt)
    return plan, tasks


#: Bytes read at a time while a large file is cut without being held whole.
BLOCK_BYTES = 32 * 2**20
#: Bytes of a file's beginning its format is sniffed from (65,536 characters of text,
#: four bytes at most each).
_HEAD_BYTES = 4 * 65536 + 8


def _crlf(pattern: str) -> str:
    """A cut's pattern that also finds it where lines end in CR LF: ``\\r?`` before each
    line feed and line end outside a character class (``[^\\n]`` takes a CR already)."""

    def one(m: re.Match[str]) -> str:
        token = m.group()
        return {"\\n": "\\r?\\n", "$": "\\r?$"}.get(token, token)

    return re.sub(r"\[(?:\\.|[^\]])*\]|\\.|\$", one, pattern)


#: The records' cuts of :data:`synth.corpus.chunked.CUT`, on a file's bytes, per kind of
#: line end (False: LF; True: CR LF, or both in one file).
_CUT_BYTES = {
    crlf: {
        fmt: re.compile(
            (_crlf(rx.pattern) if crlf else rx.pattern).encode("ascii"), rx.flags & ~re.UNICODE
        )
        for fmt, rx in chunked.CUT.items()
    }
    for crlf in (False, True)
}


def _blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes, :data:`BLOCK_BYTES` at a time."""
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK_BYTES):
            yield block


@dataclass(frozen=True)
class _Bytes:
    """How a file's bytes are cut and decoded piece by piece."""

    encoding: str
    #: bytes of a byte-order mark at the start, left out of the first chunk
    skip: int = 0
    #: some lines end in CR LF (none in CR alone)
    crlf: bool = False

    def text(self, data: bytes) -> str:
        """A piece cut after a line feed, as the whole file's text holds it."""
        text = data.decode(self.encoding)
        return text.replace("\r\n", "\n") if self.crlf else text


def _lean_plan(plan: _Plan, path: Path, size: int) -> Iterator[tuple[Any, ...]] | None:
    """A large tagged export (RIS, MEDLINE, Web of Science, EndNote) cut from its bytes as
    they are read, never held whole (its text would be twice its size, or four times, in
    a Python string: 1 GB of RIS, 4 GB of memory; issue 19's bound), each chunk decoded
    when its task is sent: in UTF-8 (a byte-order mark left out of the first chunk) or in
    a single-byte encoding guessed as :func:`synth.corpus.encoding.decode_bytes` guesses
    it for the whole file (any byte offset is a character's start), lines ending in LF
    or CR LF (the cuts found with either; a chunk ends after a line feed, so no CR LF is
    split). None where the file is read as before: small, another format, an encoding
    :func:`synth.corpus.encoding.piecewise_encoding` leaves whole (UTF-16 and UTF-32
    stay whole: two or four bytes a character, a cut found in bytes may split one; a
    declared encoding; GB18030 or charset-normalizer's guess), a line ending in CR alone
    (old Mac exports; rare), or no cut between two records."""
    try:
        n_bytes = path.stat().st_size
        if n_bytes < size:
            return None
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError:
        return None
    if detect.looks_like_pdf(head) or detect.is_xlsx(head):
        return None
    # a first look (UTF-8 or not), so a file of another format is not read through here
    if _sniffed(head.decode("utf-8", "replace"), path) not in chunked.CUT:
        return None
    try:
        found = piecewise_encoding(lambda: _blocks(path))
        sha = hashlib.sha256()
        crlf = found is not None and _crlf_only(path, sha)
    except OSError:
        return None
    if found is None or crlf is None:
        return None
    encoding, how, skip = found
    way = _Bytes(encoding, skip, crlf)
    fmt = _sniffed(head[skip:].decode(encoding, "ignore"), path)
    if fmt not in chunked.CUT:
        return None
    chunks = _byte_chunks(path, fmt, size, way)
    first = next(chunks, None)
    if first is None or first[1] == n_bytes:  # one chunk: read whole, as before
        return None
    if how == "guessed":  # the whole file's warning, once
        log.warning("%s: not UTF-8; decoded as %s (best guess)", path, encoding)
    plan.fmt, plan.encoding, plan.encoding_how = fmt, encoding, how
    plan.sha256, plan.size = sha.hexdigest(), n_bytes
    plan.chunks = sys.maxsize  # known once the last chunk is cut
    if fmt == "ris":
        plan.database = _ris_database_of(path, plan.name, n_bytes, way)
    return _lean_tasks(plan, fmt, way, itertools.chain([first], chunks))


def _sniffed(head: str, path: Path) -> str | None:
    """The format of a file whose text begins with ``head`` (decoded from
    :data:`_HEAD_BYTES`), as :func:`synth.corpus.reading.read_file` sniffs the whole."""
    text = universal_newlines(head)[:65536]
    return detect.sniff(text, path.suffix) if text.strip() else None


def _crlf_only(path: Path, sha: Any = None) -> bool | None:
    """Whether some of the file's lines end in CR LF; None when a CR stands alone (a line
    end of its own in universal newlines, which a cut in bytes does not see). ``sha`` (a
    :mod:`hashlib` hash) is updated with the bytes read, on the way."""
    crlf = pending = False  # pending: the last block ended in a CR
    for block in _blocks(path):
        if sha is not None:
            sha.update(block)
        if pending and not block.startswith(b"\n"):
            return None
        n_cr = block.count(b"\r")
        pending = block.endswith(b"\r")
        if n_cr:
            crlf = True
            if block.count(b"\r\n") + pending != n_cr:
                return None
    return None if pending else crlf


def _byte_chunks(path: Path, fmt: str, size: int, way: _Bytes) -> Iterator[tuple[bytes, int]]:
    """The file's bytes (past a byte-order mark) cut between two records
    (:data:`_CUT_BYTES`) after every ``size`` bytes, each with the offset it ends at; as
    :func:`synth.corpus.chunked.chunk_bounds` cuts text. A cut found in what was read is
    the file's: the pattern's look-ahead and its blank lines end inside it.

    The buffer is a :class:`bytearray`: a block is added to its end and a chunk's bytes
    dropped from its front in place, so a chunk's bytes are copied once (into the task)
    and the rest of the buffer not at all: the client cuts a gigabyte without copying it
    over and over."""
    cut = _CUT_BYTES[way.crlf][fmt]
    buf, start = bytearray(), way.skip
    with open(path, "rb") as fh:
        fh.seek(way.skip)
        eof = False
        while not eof or buf:
            if not eof and len(buf) < size + BLOCK_BYTES:
                block = fh.read(BLOCK_BYTES)
                eof = not block
                buf += block
                continue
            m = cut.search(buf, size) if len(buf) > size else None
            if m is None and not eof:
                block = fh.read(BLOCK_BYTES)
                eof = not block
                buf += block
                continue
            end = m.end() if m is not None else len(buf)
            start += end
            with memoryview(buf) as view:
                chunk = bytes(view[:end])
            del buf[:end]  # (CPython moves a bytearray's start: nothing is copied)
            yield chunk, start


def _lean_tasks(
    plan: _Plan, fmt: str, way: _Bytes, chunks: Iterator[tuple[bytes, int]]
) -> Iterator[tuple[Any, ...]]:
    """A task per chunk, sent as its bytes: the worker decodes it and counts its record
    marks (:func:`synth.corpus.detect.mark_counts`, summed per file when loading), so the
    client, which competes with the workers for the cores, only cuts; the plan's chunk
    count set after the last. A chunk's lines are counted in its bytes (a line feed byte
    is a line end in UTF-8 and Windows-1252, and CR LF becomes one)."""
    plan.marks_in_parts = True
    line0 = i = 0
    for i, (data, _) in enumerate(chunks):
        spec = _ChunkSpec(plan.name, fmt, line0, database=plan.database, way=way)
        line0 += data.count(b"\n")
        yield (_read_chunk, i, spec, data)
        del data
    if not plan.fallback:  # (read whole instead: no chunks)
        plan.chunks = i + 1


def _ris_database_of(path: Path, name: str, n_bytes: int, way: _Bytes) -> str | None:
    """:func:`_ris_database` of the whole file from as little of its beginning as gives
    the same answer (cut after a line)."""
    n = BLOCK_BYTES
    while True:
        with open(path, "rb") as fh:
            fh.seek(way.skip)
            data = fh.read(n)
        whole = len(data) >= n_bytes - way.skip
        if not whole:
            data = data[: data.rfind(b"\n") + 1]
        database, final = _ris_database_upto(way.text(data), name)
        if final or whole:
            return database
        n *= 4


def _tagged_chunks(plan: _Plan, text: str, fmt: str, size: int) -> Iterator[tuple[Any, ...]] | None:
    bounds = chunked.chunk_bounds(text, fmt, size)
    if len(bounds) < 2:
        return None
    plan.chunks = len(bounds)
    if fmt == "ris":
        plan.database = _ris_database(text, plan.name)

    def tasks() -> Iterator[tuple[Any, ...]]:
        line0 = 0
        for i, (a, b) in enumerate(bounds):
            spec = _ChunkSpec(plan.name, fmt, line0, database=plan.database)
            yield (_read_chunk, i, spec, text[a:b])
            line0 += text.count("\n", a, b)

    return tasks()


def _ris_database(text: str, name: str) -> str | None:
    """The database the RIS reader recognises in the whole file: it looks at the first
    records only, so the text up to a cut after enough of them tells."""
    return _ris_database_upto(text, name)[0]


def _ris_database_upto(text: str, name: str) -> tuple[str | None, bool]:
    """:func:`_ris_database` of a file beginning with ``text``, and whether that is the
    answer for any file that does (False: it read ``text`` to its end)."""
    from synth.corpus.readers import ris

    cuts = 2 * ris._SAMPLE
    reader = logging.getLogger(ris.__name__)
    level = reader.level
    reader.setLevel(logging.ERROR)  # its warnings come again from the chunk that has them
    try:
        while True:
            end = len(text)
            for i, m in enumerate(chunked.CUT["ris"].finditer(text), start=1):
                if i == cuts:
                    end = m.end()
                    break
            parsed = ris.parse(text[:end], name)
            if end == len(text) or len(parsed.records) >= ris._SAMPLE:
                return parsed.database, end < len(text)
            cuts *= 2
    finally:
        reader.setLevel(level)


def _bibtex_chunks(plan: _Plan, text: str, size: int) -> Iterator[tuple[Any, ...]] | None:
    """As :func:`synth.corpus.readers.bibtex.parse_bibtex` cuts a large file; None where
    it is read whole (crossrefs, NUL characters, a single chunk)."""
    if "\x00" in text[:65536]:
        return None  # the task reports it as the reader does
    blanked = bibtex._blank_commented_blocks(text)
    targets = bibtex._crossref_targets(blanked)
    if targets:
        return None
    starts = bibtex._block_starts(blanked)
    n_chunks = -(-len(text) // size)
    if n_chunks < 2 or len(starts) < 2:
        return None
    bounds = bibtex._chunk_bounds(blanked, starts, n_chunks)
    if len(bounds) < 2:
        return None
    macros, plan.macro_failures = bibtex._collect_macros(blanked, plan.name)
    head = blanked[:65536]
    plan.database = next((n for n, rx in bibtex._rules().databases if rx.search(head)), None)
    plan.chunks = len(bounds)
    marks = tuple(plan.macro_failures)
    del blanked

    def tasks() -> Iterator[tuple[Any, ...]]:
        for i, (a, b, line0) in enumerate(bounds):
            spec = _ChunkSpec(plan.name, "bibtex", line0, macros, targets, plan.database, marks)
            yield (_read_chunk, i, spec, text[a:b])  # as in the file: blanked in the task

    return tasks()


# --------------------------------------------------------------------------- reading


def _read_all(client: Client, files: list[Path], folder: Path, size: int, bar: Any) -> list[_Plan]:
    """Every file read on the cluster, its partitions written to ``folder``, in order."""
    from distributed import as_completed

    from synth.distributed.cluster import IN_FLIGHT_PER_WORKER, ready_workers

    limit = IN_FLIGHT_PER_WORKER * ready_workers(client)
    pending = as_completed()
    flying: dict[Any, tuple[_Plan, int]] = {}
    plans: list[_Plan] = []
    key = f"synth-import-{uuid.uuid4().hex[:12]}"

    def submit(plan: _Plan, part: int, fn: Callable[..., Any], *args: Any) -> None:
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "2GB"}):
            future = client.submit(
                fn,
                *args,
                pure=False,
                key=f"{key}-{plan.index:05d}-{'whole' if part < 0 else f'{part:05d}'}",
            )
        flying[future] = (plan, part)
        pending.add(future)
        while len(flying) >= limit:
            land(next(pending))

    def land(future: Any) -> None:
        plan, part = flying.pop(future)
        try:
            result = future.result()
        except KilledWorker as exc:
            raise ClusterError(
                f"{plan.path}: its reading task was lost with every worker that tried it "
                f"({exc}); a worker that runs out of memory dies so: try smaller chunks"
            ) from None
        future.release()
        if plan.fallback and part >= 0:
            return  # a chunk of a file now read whole
        if "error" in result:
            plan.error = result["error"]
        elif "chunk_error" in result:
            log.warning(
                "%s: reading it in chunks failed (%s); reading it in one task",
                plan.path,
                result["chunk_error"],
            )
            plan.fallback, plan.chunks = True, 0
            plan.parts.clear()
            submit(plan, -1, _read_whole, plan.name, plan.path.read_bytes())
            return
        else:
            stem = folder / f"{plan.index:05d}-{max(part, 0):05d}"
            records, failures = result.pop("records"), result.pop("failures")
            Path(f"{stem}.records.parquet").write_bytes(records)
            Path(f"{stem}.failures.parquet").write_bytes(failures)
            for kind in ("extracts", "fulltexts"):
                frame = result.pop(kind, None)
                if frame is not None:
                    plan.extras[kind] = Path(f"{stem}.{kind}.pickle")
                    frame.to_pickle(plan.extras[kind])
            plan.parts[max(part, 0)] = _Part(
                Path(f"{stem}.records.parquet"), Path(f"{stem}.failures.parquet"), result
            )
        if plan.done and not plan.counted:
            plan.counted = True
            if bar is not None:
                bar.update(1)

    try:
        for index, path in enumerate(files):
            if bar is not None:
                bar.set_postfix_str(path.name[:40])
            plan, tasks = _plan(index, path, size)
            plans.append(plan)
            if plan.error is not None:
                plan.counted = True
                if bar is not None:
                    bar.update(1)
            for task in tasks:
                if task[0] is _read_whole:
                    submit(plan, -1, *task)
                else:
                    fn, part, *args = task
                    submit(plan, part, fn, *args)
            if plan.done and not plan.counted:  # landed before its chunks were counted
                plan.counted = True
                if bar is not None:
                    bar.update(1)
        for future in pending:
            land(future)
        for plan in plans:
            if plan.chunks:
                log.info("%s: read in %d chunks on the cluster", plan.name, plan.chunks)
    except BaseException:
        client.cancel(list(flying))  # nothing of a failed run goes on reading
        raise
    return plans


# --------------------------------------------------------------------------- in the workers


def _read_whole(name: str, data: bytes) -> dict[str, Any]:
    """Worker side: one file read by :func:`synth.corpus.reading.read_file`, from its bytes
    (under its own name in a folder of the task's own, so no file system is shared)."""
    with tempfile.TemporaryDirectory(prefix="synth-import-") as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        del data
        try:
            result = read_file(path)
        except ReadError as exc:
            return {"error": exc.reason}
    out: dict[str, Any] = {
        "records": _parquet(_records_table(result.records)),
        "failures": _parquet(_failures_table(_failures(result.failures), False)),
        "fmt": result.format,
        "encoding": result.encoding,
        "encoding_how": result.encoding_how,
        "sha256": result.sha256,
        "size": result.size,
        "database": result.database,
    }
    if len(result.extracts):
        out["extracts"] = result.extracts
    if len(result.fulltexts):
        out["fulltexts"] = result.fulltexts
    return out


def _read_chunk(spec: _ChunkSpec, chunk: str | bytes) -> dict[str, Any]:
    """Worker side: one chunk parsed and normalised; lines in whole-file terms, positions
    and ids still the chunk's own (the client settles them). A chunk of bytes is decoded
    here, and its record marks counted."""
    marks = None
    try:
        if isinstance(chunk, bytes):
            assert spec.way is not None
            chunk = spec.way.text(chunk)
            marks = detect.mark_counts(chunk, spec.fmt)
        if spec.fmt == "bibtex":
            records, failures, seen, keys = _bibtex_chunk(spec, chunk)
            database = spec.database
        else:
            records, failures, database, seen = _tagged_chunk(spec, chunk)
            keys = []
            if spec.line0:
                records["line"] = records["line"] + spec.line0
                records["extra"] = [
                    chunked._shift_warnings(e, 0, spec.line0) for e in records["extra"]
                ]
                failures = [chunked._shift(f, 0, spec.line0) for f in failures]
    except ReadError as exc:  # the whole file cannot be read, as without a cluster
        return {"error": exc.reason}
    except Exception as exc:  # a reader bug: the client reads the file whole, as chunked does
        return {"chunk_error": f"{type(exc).__name__}: {exc}"}
    n_read = len(records)
    # a record's own id, before disambiguation: the client numbers repeats file-wide
    records["record_id"] = [
        record_id(spec.name, k if isinstance(k, str) else None, t if isinstance(t, str) else None,
                  None if pd.isna(y) else int(y))
        for k, t, y in zip(records["source_key"], records["title"], records["year"], strict=True)
    ]  # fmt: skip
    dropped: list[tuple[int, str]] = []
    untitled: list[Failure] = []
    if records["title"].isna().any():
        text = "\n" * spec.line0 + chunk  # the chunk at its own lines of the file
        kept, untitled = check_titles(records, [*spec.marks, *failures], text, spec.name)
        keep = set(kept["position"].tolist())
        dropped = [
            (int(p), rid)
            for p, rid in zip(records["position"], records["record_id"], strict=True)
            if int(p) not in keep
        ]
        records = kept
    table = pa.concat_tables([_failures_table(failures, False), _failures_table(untitled, True)])
    return {
        "records": _parquet(_records_table(records)),
        "failures": _parquet(table),
        "seen": seen,
        "database": database,
        "read": n_read,
        "parsed_failures": len(failures),
        "dropped": dropped,
        "keys": keys,
        "marks": marks,
    }


def _tagged_chunk(spec: _ChunkSpec, chunk: str) -> tuple[pd.DataFrame, list[Failure], Any, int]:
    """A chunk of a tagged export as :func:`synth.corpus.chunked.read_chunked` reads one,
    but a RIS record without a database of its own takes the file's (given: the reader
    recognises it from the file's first records), as in a one-piece read."""
    parsed = text_reader(spec.fmt)(chunk, spec.name)
    seen = max(
        [r.get("position") or 0 for r in parsed.records]
        + [f.record or 0 for f in parsed.failures]
        + [0]
    )
    database = spec.database if spec.fmt == "ris" else parsed.database
    frame = normalise_records(
        parsed.records, source_file=spec.name, source_format=spec.fmt, database=database
    )
    return frame, parsed.failures, database, seen


def _bibtex_chunk(
    spec: _ChunkSpec, chunk: str
) -> tuple[pd.DataFrame, list[Failure], int, list[tuple[int, str, str, int]]]:
    """A BibTeX chunk as the reader parses it, positions from 1 in the chunk; and each
    keyed record's (position, folded key, key, line) for the keys used in two chunks."""
    rules = bibtex._rules()
    items = bibtex._parse_chunk(
        bibtex._blank_commented_blocks(chunk), spec.line0, spec.macros or {}, spec.targets
    )
    parsed = bibtex._merge([items], spec.name, [], rules)
    seen = max(
        [r["position"] for r in parsed.records] + [f.record or 0 for f in parsed.failures] + [0]
    )
    keys = [
        (r["position"], r["source_key"].casefold(), r["source_key"], r["line"])
        for r in parsed.records
        if r.get("source_key")
    ]
    records = normalise_records(
        parsed.records, source_file=spec.name, source_format="bibtex", database=spec.database
    )
    return records, parsed.failures, seen, keys


def _records_table(records: pd.DataFrame) -> pa.Table:
    """Records in :data:`RECORD_SCHEMA`: the values the store binds."""
    return pa.table({n: _column(records, n) for n in _COLUMNS}, schema=RECORD_SCHEMA)


def _parquet(table: pa.Table) -> bytes:
    """A partition's Parquet file, written in the worker: the client saves the bytes
    as they come (encoding them there took its CPU from the workers)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def _failures(frame: pd.DataFrame) -> list[Failure]:
    return [
        Failure(f.file, _int_or_none(f.line), _int_or_none(f.record), f.reason, f.raw, f.severity)
        for f in frame.itertuples()
    ]


def _failures_table(failures: list[Failure], titles: bool) -> pa.Table:
    rows = [{**f.as_dict(), "titles": titles} for f in failures]
    return pa.Table.from_pylist(rows, schema=FAILURE_SCHEMA)


def _int_or_none(value: Any) -> int | None:
    return None if value is None or value is pd.NA or pd.isna(value) else int(value)


# --------------------------------------------------------------------------- loading


@dataclass
class _Facts:
    """What :func:`synth.store.imports._add_source` reads of a file's result."""

    path: Path
    sha256: str
    format: str
    database: str | None
    encoding: str | None
    encoding_how: str | None
    size: int
    records: Sized


def _load_all(con: sqlite3.Connection, plans: list[_Plan]) -> ClusterImport:
    """Every file's rows into the store, in one transaction holding the import turn."""
    out = ClusterImport(rows=[], failures=[])
    with turn(con, "import", wait=True) as held:
        if held:
            discard_incomplete(con)
        else:
            for plan in plans:
                sha = plan.sha256 or (plan.parts[0].meta["sha256"] if plan.parts else "")
                if sha:
                    discard_incomplete(con, sha256=sha)
        with bulk_cache(con), transaction(con):
            for plan in plans:
                row, failures = _load_file(con, plan)
                out.rows.append(row)
                out.failures.append(failures)
    return out


def _load_file(con: sqlite3.Connection, plan: _Plan) -> tuple[dict[str, Any], pd.DataFrame]:
    if plan.error is not None:
        store_unreadable(con, plan.name, plan.error)
        fail = Failure(plan.name, None, None, plan.error, "")
        row = {
            "file": str(plan.path), "format": "?", "database": None, "read": 0, "failed": 1,
            "warnings": 0, "new": 0, "already": 0, "extracts": 0, "fulltexts": 0,
            "status": f"not read: {plan.error}",
        }  # fmt: skip
        return row, failures_frame([fail])
    if plan.chunks:
        facts, failures, rows = _chunked_file(plan)
    else:
        facts, failures, rows = _whole_file(plan)
    extracts = pd.read_pickle(plan.extras["extracts"]) if "extracts" in plan.extras else None
    fulltexts = pd.read_pickle(plan.extras["fulltexts"]) if "fulltexts" in plan.extras else None
    n_warnings = sum(f.severity == WARNING for f in failures)
    row: dict[str, Any] = {
        "file": str(plan.path),
        "format": facts.format,
        "database": facts.database,
        "read": len(facts.records),
        "failed": len(failures) - n_warnings,
        "warnings": n_warnings,
        "new": 0,
        "already": 0,
        "extracts": 0 if extracts is None else len(extracts),
        "fulltexts": 0 if fulltexts is None else len(fulltexts),
        "status": "imported",
    }
    found = con.execute(
        "SELECT complete FROM sources_all WHERE sha256=?", (facts.sha256,)
    ).fetchone()
    if found is not None:
        status = "unchanged (imported before)" if found[0] else "being imported by another"
        row.update(status=status, new=0, already=row["read"])
        return row, failures_frame(failures)
    source_id = _add_source(con, facts, row)  # type: ignore[arg-type]
    for cols in rows():  # a batch's columns: sqlite3 binds the tuples zip makes
        ids = [source_id] * len(cols[0])
        con.executemany(INSERT_RECORD, zip(cols[0], ids, *cols[1:], strict=True))
    (new,) = con.execute(
        "SELECT count(*) FROM records_all WHERE source_id=?", (source_id,)
    ).fetchone()
    if new < row["read"]:
        # ids already in the store (same file name, key, title and year): keep provenance
        at = _COLUMNS.index("position"), _COLUMNS.index("line")
        for cols in rows():
            ids = [source_id] * len(cols[0])
            rows_ = zip(cols[0], ids, cols[at[0]], cols[at[1]], strict=True)
            con.executemany(INSERT_SIGHTING, rows_)
    con.executemany(
        INSERT_FAILURE,
        ((source_id, f.file, f.line, f.record, f.reason, f.raw, f.severity) for f in failures),
    )
    if extracts is not None:
        con.executemany(
            INSERT_EXTRACT,
            (
                (
                    e["extract_id"], source_id, e["ref"], _none(e.get("page")), e["kind"],
                    _none(e.get("section")), e["text"], e["source_file"], _none(e.get("line")),
                )
                for e in extracts.to_dict("records")
            ),
        )  # fmt: skip
    if fulltexts is not None:
        con.executemany(
            INSERT_FULLTEXT,
            (
                (t["record_id"], source_id, t["text"], len(t["text"]))
                for t in fulltexts.to_dict("records")
            ),
        )
    con.execute("UPDATE sources_all SET n_new=?, complete=1 WHERE source_id=?", (new, source_id))
    row.update(new=int(new), already=row["read"] - int(new))
    return row, failures_frame(failures)


#: Rows read from a partition at a time while loading.
LOAD_BATCH = 20_000


#: A batch of a partition's rows as columns (:data:`_COLUMNS` order) of the store's
#: binding values: built column by column from Arrow, never row by row.
Columns = list[list[Any]]


def _rows_of(path: Path) -> Iterator[Columns]:
    """A partition's rows, :data:`LOAD_BATCH` at a time, as columns."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=LOAD_BATCH):
        batch = batch.cast(RECORD_SCHEMA) if batch.schema != RECORD_SCHEMA else batch
        yield [batch.column(n).to_pylist() for n in _COLUMNS]


def _columns_of(path: Path) -> Columns:
    """A chunk's partition whole, as columns (a chunk is a few megabytes of text)."""
    table = pq.read_table(path)
    table = table.cast(RECORD_SCHEMA) if table.schema != RECORD_SCHEMA else table
    return [table.column(n).to_pylist() for n in _COLUMNS]


def _read_failures(path: Path) -> list[tuple[Failure, bool]]:
    rows = pq.read_table(path, schema=FAILURE_SCHEMA).to_pylist()
    return [
        (
            Failure(r["file"], r["line"], r["record"], r["reason"], r["raw"], r["severity"]),
            bool(r["titles"]),
        )
        for r in rows
    ]


def _whole_file(plan: _Plan) -> tuple[_Facts, list[Failure], Callable[[], Iterator[Columns]]]:
    part = plan.parts[0]
    meta = part.meta
    n = pq.read_metadata(part.records).num_rows
    facts = _Facts(
        plan.path, meta["sha256"], meta["fmt"], meta["database"], meta["encoding"],
        meta["encoding_how"], meta["size"], range(n),
    )  # fmt: skip
    failures = [f for f, _ in _read_failures(part.failures)]

    def rows() -> Iterator[Columns]:
        yield from _rows_of(part.records)

    return facts, failures, rows


_ID, _KEY, _TITLE, _YEAR, _POS, _DB, _EXTRA, _FILE = (
    _COLUMNS.index(c)
    for c in ("record_id", "source_key", "title", "year", "position", "database", "extra",
              "source_file")
)  # fmt: skip


def _chunked_file(plan: _Plan) -> tuple[_Facts, list[Failure], Callable[[], Iterator[Columns]]]:
    """A file read in chunks, put together as :func:`synth.corpus.reading.read_file` does:
    its failures in file order, its record count, and its rows (a generator: twice when
    the store already held some of its records)."""
    parts = [plan.parts[i] for i in range(plan.chunks)]
    offsets = list(itertools.accumulate([0] + [p.meta["seen"] for p in parts[:-1]]))
    database = plan.database
    if plan.fmt != "bibtex":  # detected in one chunk: true of the whole file
        database = next((p.meta["database"] for p in parts if p.meta["database"]), None)
    parsed: list[Failure] = list(plan.macro_failures)
    untitled: list[Failure] = []
    for part, offset in zip(parts, offsets, strict=True):
        for failure, titles in _read_failures(part.failures):
            (untitled if titles else parsed).append(chunked._shift(failure, offset, 0))
    if plan.fmt == "bibtex":  # the reader sorts its rows by line once the chunks merge
        parsed.sort(key=lambda f: f.line or 0)
    read = sum(p.meta["read"] for p in parts)
    found = read + sum(p.meta["parsed_failures"] for p in parts) + len(plan.macro_failures)
    if plan.fmt == "bibtex" and found == 0:
        text = bibtex._blank_commented_blocks(_decoded(plan.path.read_bytes(), plan.path)[0])
        parsed.append(
            Failure(plan.name, None, None,
                    "no BibTeX entries found (only comments, @string or @preamble blocks)",
                    text[:500])
        )  # fmt: skip
        found = 1
    # the reader's warning, from the marks counted while cutting (the text is not read again)
    expected = plan.expected
    if plan.marks_in_parts:
        counts = [p.meta["marks"] for p in parts if p.meta.get("marks") is not None]
        if counts:
            expected = detect.expected_count(
                plan.fmt or "", sum(c[0] for c in counts), sum(c[1] for c in counts)
            )
    parsed += detect.shortfall_of(expected, plan.fmt or "", plan.name, found)
    failures = _in_file_order([*parsed, *untitled])
    n_kept = sum(pq.read_metadata(p.records).num_rows for p in parts)
    facts = _Facts(
        plan.path, plan.sha256, plan.fmt or "", database, plan.encoding, plan.encoding_how,
        plan.size, range(n_kept),
    )  # fmt: skip

    def rows() -> Iterator[Columns]:
        seen_ids: dict[str, int] = {}
        first_keys: dict[str, int] = {}
        for part, offset in zip(parts, offsets, strict=True):
            yield _settled(plan, part, offset, database, seen_ids, first_keys)

    return facts, failures, rows


def _settled(
    plan: _Plan,
    part: _Part,
    offset: int,
    database: str | None,
    seen_ids: dict[str, int],
    first_keys: dict[str, int],
) -> Columns:
    """One chunk's rows in whole-file terms: positions shifted, repeated ids numbered,
    the database filled in, a BibTeX key used in an earlier chunk flagged; as columns,
    a row touched only where it changes."""
    cols = _columns_of(part.records)
    meta = part.meta
    positions = cols[_POS]
    dropped = sorted(meta["dropped"])
    ids = cols[_ID]
    dropped_ids = [rid for _, rid in dropped]
    fresh = [*ids, *dropped_ids]
    if len(set(fresh)) == len(fresh) and seen_ids.keys().isdisjoint(fresh):
        seen_ids.update(dict.fromkeys(fresh, 1))  # no id repeated: none renumbered
    else:
        # ids in position order, the dropped records counted too (as disambiguate_ids
        # counts them before the rule for untitled records drops them)
        order = sorted(
            [(p, 0, i) for i, p in enumerate(positions)] + [(p, 1, rid) for p, rid in dropped]
        )
        for _, is_dropped, what in order:
            rid = what if is_dropped else ids[what]
            n = seen_ids.get(rid, 0)
            seen_ids[rid] = n + 1
            if n and not is_dropped:
                key = cols[_KEY][what]
                key = key if isinstance(key, str) else ""
                ids[what] = record_id(
                    cols[_FILE][what], f"{key}#{n + 1}", cols[_TITLE][what], cols[_YEAR][what]
                )
    extras = cols[_EXTRA]
    if plan.fmt == "bibtex":
        fixes = _key_fixes(meta["keys"], first_keys)
        for i, local in enumerate(positions):
            if local in fixes:
                extras[i] = _flag_key(extras[i], fixes[local])
    if offset:
        cols[_POS] = [p + offset for p in positions]
        if plan.fmt != "bibtex":
            for i, extra in enumerate(extras):
                if '_warning"' in extra:
                    extras[i] = _to_json(chunked._shift_warnings(json.loads(extra), offset, 0))
    if database is not None:
        cols[_DB] = [database if d is None else d for d in cols[_DB]]
    return cols


def _key_fixes(
    keys: list[tuple[int, str, str, int]], first_keys: dict[str, int]
) -> dict[int, tuple[str, int, int | None]]:
    """BibTeX keys of this chunk also used in an earlier one: per position, the key, the
    line of its first use in the file, and the line the chunk's reader named instead
    (None: it named none, this being the chunk's first use)."""
    fixes: dict[int, tuple[str, int, int | None]] = {}
    in_chunk: dict[str, int] = {}
    for position, folded, key, line in keys:
        if folded in first_keys:
            fixes[position] = (key, first_keys[folded], in_chunk.get(folded))
        in_chunk.setdefault(folded, line)
    for folded, line in in_chunk.items():
        first_keys.setdefault(folded, line)
    return fixes


def _duplicate_key_warning(key: str, line: int) -> str:
    """The reader's own warning for a key used before at ``line``."""
    later: dict[str, Any] = {"source_key": key, "line": 0}
    bibtex._flag_duplicate_keys([{"source_key": key, "line": line}, later])
    return str(later["extra"]["_warnings"][0])


def _flag_key(extra_json: str, fix: tuple[str, int, int | None]) -> str:
    """``extra`` with the duplicate-key warning the whole file's reading gives."""
    key, first, named = fix
    extra = json.loads(extra_json)
    warning = _duplicate_key_warning(key, first)
    if named is not None:  # the chunk named its own first use: the file's is earlier
        wrong = _duplicate_key_warning(key, named)
        extra["_warnings"] = [warning if w == wrong else w for w in extra["_warnings"]]
    elif "_warnings" in extra:
        extra["_warnings"].append(warning)
    else:  # the reader adds the list last; normalisation may add pub_type_raw after it
        items = list(extra.items())
        at = len(items) - 1 if items and items[-1][0] == "pub_type_raw" else len(items)
        items.insert(at, ("_warnings", [warning]))
        extra = dict(items)
    return _to_json(extra)
