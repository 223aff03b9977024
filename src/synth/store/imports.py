"""Import files into a review store: each file seen all or nothing, written in short steps.

A file's rows are written in short transactions (:mod:`synth.store.batches`), so a
reviewer's decision in another kernel never waits long for the write lock. Its ``sources``
row is committed first, marked incomplete, and marked complete last; readers see only the
rows of complete sources (the views of migration 0005), so nobody sees half a file.

Imports of one store take turns writing (a file lock beside it, released by the operating
system when its holder dies): an incomplete source found while holding the turn is what an
import killed midway left, and its rows are removed before the next file is written.

A file whose bytes were imported before is skipped, so re-importing changes nothing.
Parsing happens before the writing, so a long parse never blocks another import.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synth.corpus.dedupe import dedupe_inputs
from synth.corpus.model import WARNING, Failure, ReadError
from synth.corpus.reading import FileResult, failures_frame, iter_files, read_file
from synth.parallel import default_workers
from synth.store.batches import ShortTransactions, delete_in_batches, turn
from synth.store.db import bulk_cache, now, serialised, transaction
from synth.store.duplicates import link_extracts, refresh_duplicates

log = logging.getLogger(__name__)

_RECORD_FIELDS = [
    "record_id", "source_id", "title", "authors", "year", "venue", "volume", "issue", "pages",
    "publisher", "doi", "pmid", "url", "abstract", "keywords", "language", "pub_type", "grey",
    "label_included", "source_key", "source_file", "source_format", "database", "position",
    "line", "extra",
]  # fmt: skip
INSERT_RECORD = (
    f"INSERT OR IGNORE INTO records_all ({', '.join(_RECORD_FIELDS)}) "
    f"VALUES ({', '.join('?' for _ in _RECORD_FIELDS)})"
)


@dataclass
class ImportReport:
    """What an import did, file by file, and the store's totals afterwards."""

    files: pd.DataFrame
    failures: pd.DataFrame
    totals: dict[str, int] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per-file counts plus a total row, for a table on screen."""
        cols = ["read", "failed", "warnings", "new", "already", "extracts", "fulltexts"]
        total = {c: int(self.files[c].sum()) if len(self.files) else 0 for c in cols}
        total.update(file="TOTAL", format="", status="")
        return pd.concat([self.files, pd.DataFrame([total])], ignore_index=True)


def _none(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    return value


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_json_str = json.encoder.encode_basestring  # what _ENCODER writes a str with


def _one_shot(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode``, the same text, with its C encoder made once per thread instead
    of once per value (``JSONEncoder.encode`` makes one per call: half the time of 100,000
    small ``extra`` dicts). It keeps the circular-reference check (its own markers, one
    set per thread, cleared after a failure); a value it cannot encode (circular, of no
    JSON type) is encoded again by ``encoder.encode``, which raises what it always did."""
    make = json.encoder.c_make_encoder
    if make is None or encoder.indent is not None:  # (no C accelerator: as it is)
        return encoder.encode
    local = threading.local()

    def made() -> tuple[dict[int, Any], Callable[[Any, int], Any]]:
        markers: dict[int, Any] = {}
        chunks = make(
            markers, encoder.default, _json_str, encoder.indent, encoder.key_separator,
            encoder.item_separator, encoder.sort_keys, encoder.skipkeys, encoder.allow_nan,
        )  # fmt: skip
        local.made = (markers, chunks)
        return local.made

    def encode(value: Any) -> str:
        markers, chunks = getattr(local, "made", None) or made()
        try:
            return "".join(chunks(value, 0))
        except Exception:
            markers.clear()
            return encoder.encode(value)

    return encode


_to_json = _one_shot(_ENCODER)


def _json_list(value: Any) -> str:
    """:data:`_to_json` of a list of strings (an author or keyword list), without an
    encoder call per list: the same text, ``["a", "b"]``. A value that is not a str
    makes ``_json_str`` raise TypeError, and the list is encoded as any other value."""
    if type(value) is list:
        try:
            return "[" + ", ".join(map(_json_str, value)) + "]"
        except TypeError:
            pass
    return _to_json(value)


def _column(df: pd.DataFrame, name: str) -> list[Any]:
    """A column as plain Python values with None for missing (what sqlite3 binds).

    Integers and flags go through ``Int64`` to a list at once (Python ints, None for
    missing), not cell by cell over the masked array."""
    col = df[name]
    if name in ("authors", "keywords"):
        return [_json_list(v) for v in col]
    if name == "extra":
        return ["{}" if type(v) is dict and not v else _to_json(v) for v in col]
    if name == "grey":
        col = col.astype("boolean")
    if name in ("year", "position", "line", "label_included", "grey"):
        col = col.astype("Int64")
    return col.to_numpy(dtype=object, na_value=None).tolist()


def record_rows(df: pd.DataFrame, source_id: int) -> list[tuple[Any, ...]]:
    """Rows for ``executemany``, built column by column (per-cell pandas access is slow)."""
    columns = [
        [source_id] * len(df) if name == "source_id" else _column(df, name)
        for name in _RECORD_FIELDS
    ]
    return list(zip(*columns, strict=True))


#: Records whose rows :func:`_record_rows_lazily` builds at a time: about what is built
#: in the pause after a commit (:data:`synth.store.batches.PAUSE_SECONDS`, 50 ms).
ROWS_AT_ONCE = 5_000


def _record_rows_lazily(df: pd.DataFrame, source_id: int) -> Iterator[tuple[Any, ...]]:
    """:func:`record_rows`, built :data:`ROWS_AT_ONCE` records at a time as they are
    taken: a short transaction's writer builds them while others may take the lock
    (:meth:`synth.store.batches.ShortTransactions.executemany`), instead of all of them
    before it writes the first."""
    for start in range(0, len(df), ROWS_AT_ONCE):
        yield from record_rows(df.iloc[start : start + ROWS_AT_ONCE], source_id)


#: Where an import writes a file's rows, children first (the order they are removed in).
_FILE_TABLES = (
    "record_sightings_all", "import_failures_all", "extracts_all", "fulltexts_all", "records_all",
)  # fmt: skip


def store_file(con: sqlite3.Connection, result: FileResult) -> dict[str, Any]:
    """Write one read file, seen by readers all at once; returns its row of the report.

    Rows left by an import killed midway are removed first (of every file while this
    import holds the store's import turn; of this same file where no file lock can be
    taken). A file that fails while being written is removed again and the error raised.
    """
    n_warnings = int((result.failures["severity"] == WARNING).sum())
    row: dict[str, Any] = {
        "file": str(result.path),
        "format": result.format,
        "database": result.database,
        "read": len(result.records),
        "failed": len(result.failures) - n_warnings,
        "warnings": n_warnings,
        "new": 0,
        "already": 0,
        "extracts": len(result.extracts),
        "fulltexts": len(result.fulltexts),
        "status": "imported",
    }
    with turn(con, "import", wait=True) as held:
        discard_incomplete(con, sha256=None if held else result.sha256)
        with transaction(con):
            found = con.execute(
                "SELECT complete FROM sources_all WHERE sha256=?", (result.sha256,)
            ).fetchone()
            if found is None:
                source_id = _add_source(con, result, row)
        if found is not None:
            status = "unchanged (imported before)" if found[0] else "being imported by another"
            row.update(status=status, new=0, already=row["read"])
            return row
        try:
            with bulk_cache(con):
                new = _write_rows(con, result, source_id)
        except BaseException:
            _discard_source(con, source_id)
            raise
    row.update(new=new, already=len(result.records) - new)
    return row


def _add_source(con: sqlite3.Connection, result: FileResult, row: dict[str, Any]) -> int:
    """The file's ``sources`` row, incomplete: readers do not see the file yet."""
    cur = con.execute(
        "INSERT INTO sources_all (sha256, name, path, format, database, encoding, encoding_how,"
        " size, n_records, n_failures, n_warnings, n_new, imported_at, complete)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?,0)",
        (
            result.sha256, result.path.name, str(result.path), result.format,
            result.database, result.encoding, result.encoding_how, result.size,
            len(result.records), row["failed"], row["warnings"], now(),
        ),
    )  # fmt: skip
    return int(cur.lastrowid)


#: The rows a file adds beside its records (the cluster import writes them too:
#: :mod:`synth.distributed.importing`).
INSERT_SIGHTING = (
    "INSERT OR IGNORE INTO record_sightings_all (record_id, source_id, position, line)"
    " VALUES (?,?,?,?)"
)
INSERT_FAILURE = (
    "INSERT INTO import_failures_all (source_id, file, line, record, reason, raw, severity)"
    " VALUES (?,?,?,?,?,?,?)"
)
INSERT_EXTRACT = (
    "INSERT OR IGNORE INTO extracts_all (extract_id, source_id, ref, page, kind, section,"
    " text, source_file, line) VALUES (?,?,?,?,?,?,?,?,?)"
)
INSERT_FULLTEXT = (
    "INSERT OR IGNORE INTO fulltexts_all (record_id, source_id, text, chars) VALUES (?,?,?,?)"
)


def _write_rows(con: sqlite3.Connection, result: FileResult, source_id: int) -> int:
    """Records, sightings, failures, extracts and full texts in short transactions; the
    source marked complete in the last. Returns how many records were new."""
    with ShortTransactions(con) as w:
        w.executemany(INSERT_RECORD, _record_rows_lazily(result.records, source_id))
        (new,) = con.execute(  # this import's rows, committed or in its open transaction
            "SELECT count(*) FROM records_all WHERE source_id=?", (source_id,)
        ).fetchone()
        if new < len(result.records):
            # ids already in the store (same file name, key, title and year): keep provenance
            w.executemany(
                INSERT_SIGHTING,
                (
                    (r.record_id, source_id, _none(r.position), _none(r.line))
                    for r in result.records.itertuples()
                ),
            )
        w.executemany(
            INSERT_FAILURE,
            (
                (source_id, f.file, _none(f.line), _none(f.record), f.reason, f.raw, f.severity)
                for f in result.failures.itertuples()
            ),
        )
        w.executemany(
            INSERT_EXTRACT,
            (
                (
                    e["extract_id"], source_id, e["ref"], _none(e.get("page")), e["kind"],
                    _none(e.get("section")), e["text"], e["source_file"], _none(e.get("line")),
                )
                for e in result.extracts.to_dict("records")
            ),
        )  # fmt: skip
        w.executemany(
            INSERT_FULLTEXT,
            (
                (t["record_id"], source_id, t["text"], len(t["text"]))
                for t in result.fulltexts.to_dict("records")
            ),
        )
        w.execute("UPDATE sources_all SET n_new=?, complete=1 WHERE source_id=?", (new, source_id))
    return int(new)


def discard_incomplete(con: sqlite3.Connection, *, sha256: str | None = None) -> int:
    """Remove the rows of imports that never finished (all, or only of the file with
    ``sha256``); returns how many sources were removed.

    Only while holding the store's import turn is every incomplete source a dead one;
    without file locks, only the file about to be imported again is cleaned up.
    """
    sql = "SELECT source_id, name FROM sources_all WHERE complete = 0"
    params: tuple[str, ...] = ()
    if sha256 is not None:
        sql += " AND sha256 = ?"
        params = (sha256,)
    dead = con.execute(sql, params).fetchall()
    for source_id, name in dead:
        log.warning("%s: an earlier import of this file did not finish; removing its rows", name)
        _discard_source(con, source_id)
    return len(dead)


def _discard_source(con: sqlite3.Connection, source_id: int) -> None:
    """Remove an incomplete source and its rows, a few thousand per short transaction.

    Nobody saw these rows, so nothing refers to them: foreign keys are not checked
    meanwhile (checking would scan the tagging tables once per record removed).
    """
    with serialised(con):  # no other thread writes on this connection without the checks
        (checks,) = con.execute("PRAGMA foreign_keys").fetchone()
        con.execute("PRAGMA foreign_keys=OFF")
        try:
            for table in _FILE_TABLES:
                delete_in_batches(con, table, "source_id=?", (source_id,))
            with transaction(con):
                con.execute(
                    "DELETE FROM sources_all WHERE source_id=? AND complete=0", (source_id,)
                )
        except sqlite3.Error as exc:  # the store itself is failing: the rows stay unseen
            log.warning("could not remove the rows of unfinished import %s (%s)", source_id, exc)
        finally:
            con.execute(f"PRAGMA foreign_keys={int(checks)}")


#: How long :meth:`EarlyGroups.take` waits for the grouping process, at most: this many
#: seconds, plus :data:`EARLY_GROUPS_SECONDS_PER_RECORD` per record (about 20 times what
#: grouping takes: 100,000 records in 2.7 s on one core, so 80 s). Past it the process
#: is taken as stuck, stopped, and the records grouped in the caller.
EARLY_GROUPS_SECONDS = 30.0
EARLY_GROUPS_SECONDS_PER_RECORD = 0.0005


class EarlyGroups:
    """An import's duplicate groups, found in another process while it stores the records.

    A first import into an empty store dedupes the records it has just read (not read
    back from the store); they are known before they are written, so the grouping runs
    beside the insert (on a second core) instead of after it. :meth:`take` gives its
    result only for the very frame and cannot-links it was started with (what
    ``refresh_duplicates`` would otherwise pass to ``dedupe``); any other call, or a
    process that failed, gives None and the grouping runs as before, in the caller.
    """

    def __init__(self, con: sqlite3.Connection, records: pd.DataFrame) -> None:
        from synth.parallel import Background
        from synth.store.duplicates import cannot_links

        self.records = records
        self.links = cannot_links(con)
        # only what dedupe reads is sent (where the process does not fork, a thread sends
        # it meanwhile: 0.4 s of 100,000 records' columns)
        self._job = Background(
            _group_elsewhere, dedupe_inputs(records), self.links, preload=["synth.corpus.dedupe"]
        )

    def take(self, records: pd.DataFrame, links: list[tuple[str, str]]) -> Any:
        """The ``DedupeResult`` of ``records`` with ``links``, if that is what runs here."""
        from synth.parallel import BackgroundFailed

        if records is not self.records or links != self.links:
            self.cancel()
            return None
        limit = EARLY_GROUPS_SECONDS + EARLY_GROUPS_SECONDS_PER_RECORD * len(records)
        try:
            return self._job.result(timeout=limit)
        except BackgroundFailed as exc:  # an error, a death (memory, a kill), stuck
            log.warning("grouping beside the insert failed (%s); grouping again here", exc)
            return None

    def cancel(self) -> None:
        """Stop the process (when its result is not wanted, or has been read)."""
        self._job.cancel()


def _group_elsewhere(records: pd.DataFrame, links: list[tuple[str, str]]) -> Any:
    from synth.corpus.dedupe import dedupe

    # no progress bar: it would print over the import's own, which runs meanwhile
    return dedupe(records, cannot_link=links)


def import_paths(
    con: sqlite3.Connection,
    paths: Iterable[Path | str],
    *,
    progress: bool = False,
    dedupe: bool = True,
    client: Any = None,
    chunk_chars: int | None = None,
) -> ImportReport:
    """Read and store every file under ``paths``; then refresh duplicate groups and links.

    A file that cannot be read at all is reported (one failure row naming it) and the
    other files still import. PDFs (a file, or those in a folder) are stored after the
    reference files and then linked to the references (:mod:`synth.fulltext`), so the
    links see the references imported beside them.

    With a Dask ``client`` (:func:`synth.distributed.cluster_client`) the reference files
    are read on its workers, a large RIS/MEDLINE/WoS/EndNote/BibTeX file in chunks of
    ``chunk_chars`` characters, and stored in one transaction with the same rows
    (:mod:`synth.distributed.importing`), and the duplicates are found on its workers too
    (:mod:`synth.distributed.dedupe`, the same groups); PDFs and the links still run in
    this process.
    """
    from synth.corpus.detect import is_pdf
    from synth.fulltext.importing import import_pdfs
    from synth.fulltext.links import link_pdfs

    roots = [Path(p) for p in paths]
    found = iter_files(roots, pdfs=True)
    pdfs = [f for f in found if is_pdf(f)]
    files = [f for f in found if not is_pdf(f)]
    # into an empty store, the records just read are all there is: dedupe them in memory
    # instead of reading them back from the database
    empty_before = con.execute("SELECT count(*) FROM records").fetchone()[0] == 0
    fresh: list[pd.DataFrame] = []
    rows: list[dict[str, Any]] = []
    failures: list[pd.DataFrame] = []
    early: EarlyGroups | None = None
    bar = None
    if progress:
        from synth.progress import progress_bar

        bar = progress_bar(total=len(found), desc="importing", unit="file")
    if client is not None:  # read on the cluster's workers, stored in one transaction
        from synth.distributed.importing import import_on_cluster

        landed = import_on_cluster(client, con, files, bar=bar, chunk_chars=chunk_chars)
        rows, failures = landed.rows, landed.failures
        files, empty_before = [], False  # dedupe reads the records back from the store
    try:
        for path in files:
            if bar is not None:
                bar.set_postfix_str(path.name[:40])
            try:
                result = read_file(path)
            except ReadError as exc:
                fail = Failure(path.name, None, None, exc.reason, "")
                store_unreadable(con, path.name, exc.reason)
                rows.append(
                    {"file": str(path), "format": "?", "database": None, "read": 0,
                     "failed": 1, "warnings": 0, "new": 0, "already": 0, "extracts": 0,
                     "fulltexts": 0, "status": f"not read: {exc.reason}"}
                )  # fmt: skip
                failures.append(failures_frame([fail]))
            else:
                if dedupe and empty_before and path is files[-1] and not pdfs:
                    # the records the groups will be found in, if every file is new: group
                    # them beside the insert (dropped below if some rows were not new)
                    early = _early_groups(con, [*fresh, result.records])
                row = store_file(con, result)
                rows.append(row)
                failures.append(result.failures)
                if row["status"] == "imported" and row["already"] == 0:
                    fresh.append(result.records)
                else:
                    empty_before = False  # some rows were not inserted: read the store
            if bar is not None:
                bar.update(1)
        read_pdfs = import_pdfs(con, pdfs, roots, bar)
        if bar is not None:
            bar.close()
        rows += read_pdfs.rows
        if read_pdfs.failures:
            failures.append(failures_frame(read_pdfs.failures))
        totals: dict[str, int] = link_pdfs(con)
        if totals["pdfs_own_record"]:
            empty_before = False  # records were added from PDFs: read the store instead
        if dedupe:
            in_memory = None
            if empty_before and fresh:
                in_memory = early.records if early is not None else _concat(fresh)
            totals.update(
                refresh_duplicates(
                    con, progress=progress, records=in_memory, client=client, grouped=early
                )
            )
    finally:
        if early is not None:
            early.cancel()
    totals.update(link_extracts(con))
    totals.update(store_totals(con))
    files_df = pd.DataFrame(
        rows,
        columns=["file", "format", "database", "read", "failed", "warnings", "new", "already",
                 "extracts", "fulltexts", "status"],
    )  # fmt: skip
    fails = [f for f in failures if len(f)]
    failures_df = pd.concat(fails, ignore_index=True) if fails else pd.DataFrame()
    return ImportReport(files=files_df, failures=failures_df, totals=totals)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames, ignore_index=True)


#: Below this many records a process started for the grouping gains nothing measurable
#: (20,000 records: the same within noise, with and without).
EARLY_GROUPS_MIN_RECORDS = 50_000


def _early_groups(con: sqlite3.Connection, frames: list[pd.DataFrame]) -> EarlyGroups | None:
    """The grouping of ``frames`` (all an import into an empty store read) started in
    another process, or None where it would not pay or cannot start."""
    if sum(len(f) for f in frames) < EARLY_GROUPS_MIN_RECORDS or default_workers() < 2:
        return None
    try:
        return EarlyGroups(con, _concat(frames))
    except Exception as exc:  # an optimisation: whatever stops it (no
        # processes in a sandbox or a pool's worker, what a fork server cannot pickle), the
        # records are grouped after the insert, as without it
        log.debug("grouping beside the insert not started: %r", exc)
        return None


def store_unreadable(con: sqlite3.Connection, file: str, reason: str) -> None:
    """Keep the failure of a whole file in the store's failures report too (once)."""
    con.execute(
        "INSERT INTO import_failures_all (source_id, file, line, record, reason, raw)"
        " SELECT NULL, ?, NULL, NULL, ?, '' WHERE NOT EXISTS (SELECT 1 FROM import_failures"
        " WHERE source_id IS NULL AND file=? AND reason=?)",
        (file, reason, file, reason),
    )


def store_totals(con: sqlite3.Connection) -> dict[str, int]:
    """Counts over the whole store (not just this import); ``fulltexts`` counts the
    records with a full text (Markdown, or a PDF linked to them), ``pdfs`` the PDFs."""
    from synth.store.fulltexts import FULLTEXT_RECORDS_SQL

    q = {
        "records": "SELECT count(*) FROM records",
        "sources": "SELECT count(*) FROM sources",
        "groups": "SELECT count(DISTINCT group_id) FROM duplicate_groups",
        "duplicates": "SELECT count(*) FROM duplicate_groups WHERE is_kept=0",
        "extracts": "SELECT count(*) FROM extracts",
        "fulltexts": f"SELECT count(*) FROM ({FULLTEXT_RECORDS_SQL})",
        "pdfs": "SELECT count(*) FROM pdf_files",
        "failures": "SELECT count(*) FROM import_failures WHERE severity = 'error'",
        "warnings": "SELECT count(*) FROM import_failures WHERE severity = 'warning'",
    }
    return {k: int(con.execute(sql).fetchone()[0]) for k, sql in q.items()}
