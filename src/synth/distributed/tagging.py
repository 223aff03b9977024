"""The rule tagger on a Dask cluster: records in partitions, tag rows back as Parquet.

Each worker builds the tagging pipeline once (:class:`TaggerPlugin`, given the codebook's
pickled bytes once, also on workers that join later) and tags partitions of
``partition_size`` records with :func:`synth.tagging.tagger.tag`, the same function the
single-machine path calls, so the rows are the same. This process sends the partitions
(at most two per worker in flight: it never holds more than that of the input beyond what
it was given; a partition whose worker dies runs again on another; the first ones read
while the workers build their engines) and writes each partition's rows, as they come
back, to ``tags-NNNNN.parquet`` in a work folder with the store's tag columns (evidence as
the JSON text the store keeps), or, streamed, gives them to the caller as they are. The
workers need no shared file system, only synth installed.

Given a review's criteria (:class:`Judging`, sent once to each worker by
:class:`JudgePlugin`), a worker also judges each partition it tagged
(:func:`synth.tagging.criteria.judge_chunk`, what one machine runs per chunk), adds the
pages of its PDF texts to the evidence, and sends back the partition's assessment and
suggestions with their evidence as JSON text: the command only writes them.

:func:`tag_on_cluster` is the step :func:`synth.tagging.workflow.tag_store` runs with a
``client``, the work folder removed afterwards. With no facet refined it streams: the
store's records sent a partition at a time as read, each partition's rows (judged on its
worker) given back (``each``) in partition order as they land and written to the run while
later partitions are tagged. With a facet refined the rows are read back whole, in record
order, and the store takes them as one tagging run (:func:`synth.store.tags.save_tagging`).
Either way a run killed midway leaves the previous run the current one; a partition that
raises on its worker (its tagging, or judging: :class:`JudgingError`) stops the run with a
:class:`~synth.distributed.cluster.ClusterError` naming the partition and the error.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import logging
import pickle
import sqlite3
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from distributed import KilledWorker, WorkerPlugin

from synth.distributed.cluster import (
    IN_FLIGHT_PER_WORKER,
    ClusterError,
    ready_workers,
    work_folder,
)
from synth.tagging.codebook import Codebook
from synth.tagging.criteria import _TEXT_FIELDS
from synth.tagging.tagger import TAG_COLUMNS, extracts_by_record

if TYPE_CHECKING:
    from distributed import Client, Worker

    from synth.review import Review
    from synth.tagging.criteria import SimilarityCounts, SimilarityCriteria, SimilarityWeights

log = logging.getLogger(__name__)

#: Records per partition: what one task tags and one worker holds at a time.
PARTITION_SIZE = 5_000
#: The Parquet schema of the tag rows: the store's ``tags`` columns.
TAG_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("facet", pa.string()),
        ("label", pa.string()),
        ("score", pa.float64()),
        ("evidence", pa.string()),
        ("source", pa.string()),
        ("version", pa.string()),
    ]
)
_evidence_json = json.JSONEncoder(ensure_ascii=False, default=str).encode


class JudgingError(RuntimeError):
    """A partition's criteria could not be judged on its worker: the message names what
    raised there (:func:`tag_partitions` stops the run with it), ``worker_traceback`` its
    traceback there as text (logged by the command: ``synth -v``)."""

    worker_traceback: str = ""


class TaggerPlugin(WorkerPlugin):
    """Builds the tagger's pipeline for one codebook once per worker process.

    The codebook travels once, as pickled bytes, to the scheduler and from there to each
    worker (a worker that joins later gets it too); partitions then reuse the engine that
    :func:`synth.tagging.tagger.tag` keeps per process and codebook.

    Registered ``idempotent``: the scheduler records it only if it has no plugin of that
    name (:func:`_register`); ``setup_error`` is what its setup raised on this worker (a
    partition waiting for it says so: :func:`_set_up`).
    """

    idempotent = True

    def __init__(self, codebook: Codebook) -> None:
        self.name = plugin_name(codebook)
        self.codebook_bytes = pickle.dumps(codebook, protocol=pickle.HIGHEST_PROTOCOL)
        self.codebook: Codebook | None = None
        self.engine: Any = None
        self.lock: threading.RLock | None = None
        self.setup_error: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "codebook_bytes": self.codebook_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self.codebook_bytes = state["codebook_bytes"]
        self.codebook = self.engine = self.lock = self.setup_error = None

    def setup(self, worker: Worker) -> None:
        try:  # all of it: a partition waiting for the setup learns of any failure at once
            from synth.tagging.tagger import engine_for  # the per-process engine tag() reuses

            self.codebook = pickle.loads(self.codebook_bytes)
            self.engine = engine_for(self.codebook)
            # a worker started with several threads must not run one engine in two at
            # once, nor may workers in one process (a LocalCluster without processes)
            # share theirs (a chunk's memory zone forgets the words others tag with)
            self.lock = _engine_lock(self.engine)  # last: what says it is set up
        except Exception as exc:
            self.setup_error = f"{type(exc).__name__}: {exc}"
            raise

    def teardown(self, worker: Worker) -> None:
        self.codebook = self.engine = None


def _engine_lock(engine: Any) -> threading.RLock:
    """The one lock of ``engine`` in this process, whichever worker's plugin asks: the
    engine's own, which every caller that runs it holds (this process's ``tag()`` too)."""
    return engine.lock


def plugin_name(codebook: Codebook) -> str:
    """One plugin per codebook (a review's criteria change its hash)."""
    return f"synth-tagger-{codebook.sha256[:16]}"


@dataclass(frozen=True)
class Judging:
    """What a worker judges a partition's tags against the review's criteria by
    (:func:`synth.tagging.criteria.judge_chunk`): the review, the review with only the
    criteria not judged by similarity (``by_cues``:
    :func:`~synth.tagging.criteria.without_similarity`) and the criteria rules, sent to
    each worker once (:class:`JudgePlugin`), with the word weights of the criteria judged
    by similarity (``similarity``, None: no such criterion): their words' inverse document
    frequency over every record, counted first on the workers
    (:func:`similarity_counts_on_cluster`), a number per word, with which each partition's
    records are scored on its worker."""

    review: Review
    by_cues: Review
    rules: dict[str, Any]
    similarity: SimilarityWeights | None = None


class JudgePlugin(WorkerPlugin):
    """A review's criteria and the criteria rules (:class:`Judging`), sent once to each
    worker process (one that joins later gets them too), as :class:`TaggerPlugin` sends
    the codebook (and registered as it is): the partitions then carry only their own
    records' inputs."""

    idempotent = True

    def __init__(self, judging: Judging) -> None:
        self.judging_bytes = pickle.dumps(judging, protocol=pickle.HIGHEST_PROTOCOL)
        self.name = f"synth-judge-{hashlib.sha256(self.judging_bytes).hexdigest()[:16]}"
        self.judging: Judging | None = None
        self.setup_error: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "judging_bytes": self.judging_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.name = state["name"]
        self.judging_bytes = state["judging_bytes"]
        self.judging = self.setup_error = None

    def setup(self, worker: Worker) -> None:
        try:
            self.judging = pickle.loads(self.judging_bytes)
        except Exception as exc:
            self.setup_error = f"{type(exc).__name__}: {exc}"
            raise

    def teardown(self, worker: Worker) -> None:
        self.judging = None


@dataclass
class PartitionRun:
    """What :func:`tag_partitions` wrote."""

    folder: Path
    #: the Parquet files of tag rows, in record order
    files: list[Path]
    records: int
    rows: int
    #: records whose text looks non-English, and records that raised (``record_id``, ``error``)
    notes: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: per partition: index, records, rows, the worker that tagged it (``worker``, and
    #: ``engine``, the id of its engine there), its seconds tagging (``seconds``) and
    #: judging the review's criteria there (``judging_seconds``, 0 without ``judging``)
    partitions: list[dict[str, Any]] = field(default_factory=list)


#: One partition as given with its own texts: ``(records, extracts, fulltexts)``, or, to
#: be judged on the worker (``judging``), ``(records, extracts, fulltexts, stored)``: its
#: full texts as stored when one is a PDF (their pages are added to the evidence there;
#: None: none).
Partition = (
    tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]
    | tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, Any]
)


def tag_partitions(
    client: Client,
    records: Iterable[pd.DataFrame | Partition] | pd.DataFrame | Path,
    codebook: Codebook,
    *,
    out_dir: Path,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    partition_size: int = PARTITION_SIZE,
    progress: bool = False,
    each: Callable[[dict[str, Any]], None] | None = None,
    judging: Judging | None = None,
) -> PartitionRun:
    """Tag ``records`` on ``client``'s workers; their rows as Parquet files in ``out_dir``
    (with ``each``, given to it instead).

    Parameters
    ----------
    records
        A frame, frames (each cut into partitions of at most ``partition_size`` records),
        or a folder of Parquet files with the records' columns (read in sorted order,
        ``partition_size`` rows at a time). ``record_id`` must be text, as in the store.
        An item may be a :data:`Partition`: one partition (not cut again) with its own
        extracts and full texts (those known only by ``ref`` matched among its records),
        in place of ``extracts`` and ``fulltexts``.
    codebook
        The rules, as :func:`synth.tagging.tag` takes them (a review's cues included).
    extracts, fulltexts
        ``record_id`` and ``text`` per row (as the store's loaders give; an extract known
        only by ``ref`` is matched first, see :func:`tag_on_cluster`). Each partition is
        sent with its own records' texts.
    each
        Called with each partition's result (``index``, ``table``: its rows as the
        worker sent them, an Arrow table in :data:`TAG_SCHEMA` (:func:`tag_frame`),
        ``records``, ``rows``, ``notes``, ``failures``, ...) in partition order, as soon
        as it and those before it are back: what the caller writes a partition's rows by
        while later ones are tagged (no Parquet file is written: ``files`` is empty).
        Partitions sent and not yet passed to it are at most
        :data:`~synth.distributed.cluster.IN_FLIGHT_PER_WORKER` per worker, so neither
        the caller nor this function holds more than that many at once.
    judging
        The review's criteria (:class:`Judging`), sent to each worker once: each partition
        is judged there after it is tagged (:func:`synth.tagging.criteria.judge_chunk`)
        and its result carries ``assessment`` and ``suggestions``, evidence as the JSON
        text the store keeps (given to ``each``, then dropped here), and
        ``similarity_counts``, what the criteria judged by similarity read there
        (:meth:`~synth.tagging.criteria.SimilarityWeights.scored`; None: no such
        criterion). Without it, they are None.
    """
    if partition_size < 1:
        raise ValueError(f"partition_size must be at least 1, not {partition_size}")
    from distributed import as_completed

    out_dir.mkdir(parents=True, exist_ok=True)
    plugin = TaggerPlugin(codebook)
    plugins: list[WorkerPlugin] = [plugin]
    judge_name = None
    if judging is not None:
        judge_plugin = JudgePlugin(judging)
        plugins.append(judge_plugin)
        judge_name = judge_plugin.name
    # started as the ``try`` below's first statement, whose ``finally`` waits for it
    setting_up: _Registering | None = None
    limit = 0  # set in the ``try`` below
    run = PartitionRun(folder=out_dir, files=[], records=0, rows=0)
    results: dict[int, dict[str, Any]] = {}
    bar = _progress(progress, len(records) if isinstance(records, pd.DataFrame) else None)
    pending = as_completed()
    key = f"synth-tag-{uuid.uuid4().hex[:12]}"
    #: what each future in flight tags: (partition index, its first and last record)
    flying: dict[Any, tuple[int, str, str]] = {}
    #: partitions sent and not yet given to ``each``, in order
    unread: deque[int] = deque()

    def land(future: Any) -> None:
        index, first, last = flying.pop(future)
        result = _landed(future, f"partition {index} (records {first} to {last})", "tried it")
        future.release()
        if each is None:  # read back whole afterwards: kept on disk meanwhile
            path = out_dir / f"tags-{result['index']:05d}.parquet"
            pq.write_table(result.pop("table"), path)
            result["path"] = path
        results[result["index"]] = result
        if bar is not None:
            bar.update(result["records"])
        if each is None:
            _drop_judged(results[result["index"]])
        while each is not None and unread and unread[0] in results:
            given = results[unread.popleft()]
            each(given)
            _drop_judged(given)  # written by now: what stays is the partition's summary
            given["table"] = None

    #: partitions read while the workers set up, sent once they have
    waiting: list[tuple[int, tuple[Any, ...], tuple[int, str, str], int]] = []

    def send(index: int, payload: tuple[Any, ...], named: tuple[int, str, str], n: int) -> None:
        # the partition travels inside its task, not scattered to one worker ahead: the
        # scheduler keeps it until the task is done, so when a worker dies its partitions
        # run again elsewhere (a scattered one would die with it); pickled here, once, so
        # the scheduler passes bytes on instead of unpickling and pickling the frames
        packed = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        with dask.config.set({"distributed.admin.large-graph-warning-threshold": "2GB"}):
            future = client.submit(
                _tag_partition, plugin.name, index, packed, judge_name, SETUP_WAIT,
                pure=False, key=f"{key}-{index:05d}",
            )  # fmt: skip
        flying[future] = named
        pending.add(future)
        unread.append(index)
        run.records += n

    try:
        # the workers build their engines while this process reads the first partitions
        setting_up = _Registering(client, plugins)
        extract_texts = _texts_by_record(extracts, "extracts")
        full_texts = _texts_by_record(fulltexts, "fulltexts")
        limit = IN_FLIGHT_PER_WORKER * ready_workers(client)
        for index, item in enumerate(_partitions(records, partition_size)):
            part, own_ext, own_full, *judged = (
                item if isinstance(item, tuple) else (item, None, None)
            )
            _check_ids(part, index)
            if not len(part):
                continue
            if isinstance(item, tuple):
                if own_ext is not None and len(own_ext):
                    own_ext = _matched_extracts(part, own_ext)
                payload = (
                    part,
                    _texts_frame(part, _texts_by_record(own_ext, "extracts")),
                    _texts_frame(part, _texts_by_record(own_full, "fulltexts")),
                    *judged,
                )
            else:
                payload = (part, _texts_frame(part, extract_texts), _texts_frame(part, full_texts))
            ids = part["record_id"]
            waiting.append((index, payload, (index, ids.iloc[0], ids.iloc[-1]), len(part)))
            del item, part, own_ext, own_full, judged, payload, ids
            if setting_up is not None and not setting_up.done() and len(waiting) < limit:
                continue  # another partition read while the engines are built
            if setting_up is not None:
                setting_up.wait()
                setting_up = None
            while waiting:
                send(*waiting.pop(0))
            while (len(unread) if each is not None else len(flying)) >= limit:
                land(next(pending))
        if setting_up is not None:
            setting_up.wait()
            setting_up = None
        while waiting:
            send(*waiting.pop(0))
        for future in pending:
            land(future)
    except BaseException as exc:
        waiting.clear()
        client.cancel(list(flying))  # nothing of a failed run goes on tagging
        if setting_up is not None:
            setting_up.stop()  # bounded, and through a Ctrl-C: the caller stays prompt
            if setting_up.error is not None and setting_up.error is not exc:
                exc.add_note(f"registering the workers' plugins failed too: {setting_up.error!r}")
            setting_up = None
        raise
    finally:
        if setting_up is not None:
            setting_up.stop()
        if bar is not None:
            bar.close()
    for index in sorted(results):
        result = results[index]
        if "path" in result:  # none with ``each``: each partition's rows were given to it
            run.files.append(result["path"])
        run.rows += result["rows"]
        run.notes.extend(result["notes"])
        run.failures.extend(result["failures"])
        run.partitions.append(
            {k: result[k] for k in ("index", "records", "rows", "worker", "engine", "seconds")}
            | {"judging_seconds": result.get("judging_seconds", 0.0)}
        )
    return run


def read_tag_partitions(files: Iterable[Path]) -> pd.DataFrame:
    """The tag rows of Parquet files written by :func:`tag_partitions`, in their order,
    as :func:`synth.tagging.tag` returns them (evidence parsed)."""
    frames = [read_tag_partition(f) for f in files]  # each file's JSON text freed as parsed
    if not frames:
        out = pd.DataFrame([], columns=TAG_COLUMNS)
        out["score"] = out["score"].astype(float)
        return out
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return out[TAG_COLUMNS]


def read_tag_partition(path: Path, *, parse_evidence: bool = True) -> pd.DataFrame:
    """One partition's tag rows (a file :func:`tag_partitions` wrote), evidence parsed (or,
    with ``parse_evidence=False``, the JSON text the store keeps, as the worker wrote it:
    parsing every row's evidence only to write it again took most of the streamed run's
    time in this process; :func:`synth.store.tags.parsed_evidence` parses what is needed)."""
    return tag_frame(pq.read_table(path, schema=TAG_SCHEMA), parse_evidence=parse_evidence)


def tag_frame(table: pa.Table, *, parse_evidence: bool = True) -> pd.DataFrame:
    """A partition's tag rows as an Arrow table in :data:`TAG_SCHEMA` (what a worker sends
    back, or :func:`read_tag_partition` reads) as a frame: see there."""
    if not parse_evidence:  # an empty cell is no evidence, as parsed below
        where = table.schema.get_field_index("evidence")
        filled = pc.if_else(pc.equal(table["evidence"], ""), "[]", table["evidence"])
        return table.set_column(where, "evidence", pc.fill_null(filled, "[]")).to_pandas()
    frame = table.to_pandas()
    frame["evidence"] = [json.loads(e) if e else [] for e in frame["evidence"]]
    return frame


def tag_on_cluster(
    client: Client,
    con: sqlite3.Connection,
    records: pd.DataFrame | Iterable[Partition],
    codebook: Codebook,
    *,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    partition_size: int | None = None,
    progress: bool = False,
    each: Callable[[dict[str, Any], pd.DataFrame], None] | None = None,
    judging: Judging | None = None,
) -> pd.DataFrame:
    """:func:`synth.tagging.tag` on ``client``'s cluster: the same rows (and ``attrs``),
    through Parquet partitions in a work folder beside ``con``'s store, removed afterwards
    (a run killed midway leaves its folder; the next run removes it).

    With ``each``, ``records`` are :data:`Partition` s (read as they are sent) and each
    partition's rows are given to ``each`` with its result (:func:`tag_partitions`) in
    partition order as they come back, not read back whole (their evidence as the JSON
    text the store keeps, not parsed: :func:`tag_frame`; no file between): the frame
    returned has no rows, only the ``attrs``. With ``judging`` too, each partition is judged against
    the review's criteria on its worker and its result carries its ``assessment`` and
    ``suggestions`` (:func:`tag_partitions`)."""
    landed = None
    if each is not None:

        def landed(result: dict[str, Any]) -> None:
            each(result, tag_frame(result["table"], parse_evidence=False))

    with work_folder(con) as folder:  # removed on leaving
        if extracts is not None and len(extracts) and isinstance(records, pd.DataFrame):
            extracts = _matched_extracts(records, extracts)
        run = tag_partitions(
            client,
            records,
            codebook,
            out_dir=folder,
            extracts=extracts,
            fulltexts=fulltexts,
            partition_size=partition_size or PARTITION_SIZE,
            progress=progress,
            each=landed,
            judging=judging if each is not None else None,
        )
        tags = read_tag_partitions(run.files if each is None else [])
    tags.attrs["notes"] = run.notes
    tags.attrs["failures"] = run.failures
    tags.attrs["partitions"] = run.partitions
    for failure in run.failures:
        log.warning(
            "record %s could not be tagged (%s); every other record was",
            failure["record_id"],
            failure["error"],
        )
    return tags


def similarity_counts_on_cluster(
    client: Client,
    partitions: Iterable[tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]],
    wanted: SimilarityCriteria,
    *,
    progress: bool = False,
    total: int | None = None,
) -> SimilarityCounts:
    """Pass 1 of the criteria judged by similarity (``wanted``) on ``client``'s workers:
    each partition (records, extracts, full texts, as the tagger reads them) counted on a
    worker (:meth:`~synth.tagging.criteria.SimilarityCriteria.count`), its counts back
    (a number per criterion word) and summed here: the counts of the whole corpus, whose
    word weights (:meth:`~synth.tagging.criteria.SimilarityCriteria.weigh`) then travel
    to each worker once, in :class:`Judging`. A partition is sent with only the texts
    counted (no other column), read as sent: at most
    :data:`~synth.distributed.cluster.IN_FLIGHT_PER_WORKER` per worker in flight. With
    ``progress``, a bar over the ``total`` records; a partition that raises on its worker
    stops it with a :class:`~synth.distributed.cluster.ClusterError` naming it."""
    from distributed import as_completed

    from synth.tagging.criteria import SimilarityCounts, unmatched_extracts_quiet

    limit = IN_FLIGHT_PER_WORKER * ready_workers(client)
    key = f"synth-similarity-{uuid.uuid4().hex[:12]}"
    pending = as_completed()
    #: what each future in flight counts: (partition index, first and last record, records)
    flying: dict[Any, tuple[int, str, str, int]] = {}
    counted = SimilarityCounts()
    log.info("counting the words of %d criteria judged by similarity", len(wanted.ids))
    bar = _progress(progress, total, "counting criteria words")

    def land(future: Any) -> None:
        nonlocal counted
        index, first, last, n = flying.pop(future)
        counts = _landed(
            future, f"partition {index} (records {first} to {last})", "counted its words",
            doing=" while counting the criteria's words",
        )  # fmt: skip
        future.release()
        counted += counts
        if bar is not None:
            bar.update(n)

    try:
        for index, (part, ext, full) in enumerate(partitions):
            if not len(part):
                continue
            if ext is not None and len(ext):
                with unmatched_extracts_quiet():  # the tagging of the partition says so
                    ext = _matched_extracts(part, ext)
            payload = (
                part[[c for c in _COUNTED_COLUMNS if c in part.columns]],
                ext,
                full[["record_id", "text"]] if full is not None and len(full) else None,
            )
            future = client.submit(
                _count_partition, payload, wanted, pure=False, key=f"{key}-{index:05d}"
            )
            ids = part["record_id"]
            flying[future] = (index, ids.iloc[0], ids.iloc[-1], len(part))
            pending.add(future)
            del part, ext, full, payload, ids
            while len(flying) >= limit:
                land(next(pending))
        for future in pending:
            land(future)
    except BaseException:
        client.cancel(list(flying))
        raise
    finally:
        if bar is not None:
            bar.close()
    return counted


#: The record columns :meth:`~synth.tagging.criteria.SimilarityCriteria.count` reads
#: (its text fields, named once there).
_COUNTED_COLUMNS = ("record_id", *_TEXT_FIELDS)


# --------------------------------------------------------------------------- in the workers


def _tag_partition(
    name: str,
    index: int,
    payload: tuple[Any, ...] | bytes,
    judge_name: str | None = None,
    setup_wait: float | None = None,
) -> dict[str, Any]:
    """Worker side: tag one partition with the worker's engine; its rows as an Arrow table
    in :data:`TAG_SCHEMA` (so this process only writes them). A partition given its PDF
    texts as stored has their pages added to its evidence; it is tagged under
    :func:`synth.tagging.pipeline.chunk_words`, so that the worker's vocabulary stops
    growing with the partitions it tags; with ``judge_name`` (a
    :class:`JudgePlugin`) it is judged against the review's criteria too, and its
    ``assessment`` and ``suggestions`` come back ready for the store's writer (evidence as
    the JSON text the store keeps), with the counts of what similarity scored.

    A plugin still being set up on this worker (another run registered it and its workers
    are building their engines: :func:`_register`) is waited for, at most ``setup_wait``
    (:data:`SETUP_WAIT`) seconds."""
    from distributed import get_worker

    from synth.tagging.tagger import tag_with_engine

    worker = get_worker()
    wait = SETUP_WAIT if setup_wait is None else setup_wait
    deadline = time.monotonic() + wait
    plugin = _set_up(worker, name, lambda p: p.lock is not None, deadline, wait)
    judge = None
    if judge_name is not None:
        judge = _set_up(worker, judge_name, lambda p: p.judging is not None, deadline, wait)
    if isinstance(payload, bytes):  # as sent by tag_partitions
        payload = pickle.loads(payload)
    records, extracts, fulltexts, *more = payload
    stored = more[0] if more else None
    start = time.perf_counter()
    # the plugin's own engine (tag() would look it up again, in a cache emptied at a
    # sixth codebook), under its lock, the partition's new words forgotten once the
    # worker has learned enough of them
    tags = tag_with_engine(
        plugin.engine, records, extracts=extracts, fulltexts=fulltexts, zone=True
    )
    seconds = time.perf_counter() - start
    notes = list(tags.attrs.get("notes") or [])
    failures = list(tags.attrs.get("failures") or [])
    if stored is not None and len(stored):
        from synth.fulltext.passages import add_pages

        tags = add_pages(tags, stored)  # evidence found in a PDF names its page
    assessment = suggestions = None
    judging_seconds = 0.0
    seen: list[SimilarityCounts] = []  # what similarity scored, to compare with pass 1
    if judge is not None:
        from synth.tagging.criteria import judge_chunk

        start = time.perf_counter()
        judging: Judging = judge.judging
        try:
            assessment, suggestions = judge_chunk(
                records, tags, judging.review, plugin.codebook, by_cues=judging.by_cues,
                similarity=judging.similarity, extracts=extracts, fulltexts=fulltexts,
                rules=judging.rules, seen=seen.append,
            )  # fmt: skip
        except Exception as exc:
            what = f"judging the review's criteria raised {type(exc).__name__}: {exc}"
            error = JudgingError(what)
            # the cause does not travel back with it: its traceback as text does
            error.worker_traceback = traceback.format_exc()
            raise error from exc
        assessment["evidence"] = [_evidence_json(e) for e in assessment["evidence"]]
        judging_seconds = time.perf_counter() - start
    table = pa.Table.from_pandas(
        pd.DataFrame(
            {
                "record_id": tags["record_id"],
                "facet": tags["facet"],
                "label": tags["label"],
                "score": tags["score"].astype(float),
                "evidence": [_evidence_json(e) for e in tags["evidence"]],
                "source": tags["source"],
                "version": tags["version"],
            }
        ),
        schema=TAG_SCHEMA,
        preserve_index=False,
    )
    return {
        "index": index,
        "table": table,
        "records": len(records),
        "rows": len(tags),
        "notes": notes,
        "failures": failures,
        "worker": worker.address,
        "engine": id(plugin.engine),
        "seconds": seconds,
        "judging_seconds": judging_seconds,
        "assessment": assessment,
        "suggestions": suggestions,
        "similarity_counts": seen[0] if seen else None,
    }


def _set_up(
    worker: Worker, name: str, ready: Callable[[Any], bool], deadline: float, wait: float
) -> Any:
    """Worker plugin ``name`` once set up on ``worker`` (``ready``), waited for until
    ``deadline`` (``wait`` seconds from the start). Dask adds a plugin to the worker
    before its setup runs, and the scheduler answers a registration of a plugin it knows
    at once, so a run may send partitions while another run's registration is still
    setting it up here; a setup that raised here raises at once with its error. Not set
    up by the deadline, a RuntimeError says what was seen: the plugin absent from the
    worker (synth missing there?) or present with its setup still under way."""
    pause = threading.Event()
    while True:
        plugin = worker.plugins.get(name)
        if plugin is not None:
            if ready(plugin):
                return plugin
            error = getattr(plugin, "setup_error", None)
            if error is not None:
                raise RuntimeError(
                    f"worker plugin {name} could not be set up on Dask worker"
                    f" {worker.address}: {error}"
                )
        if time.monotonic() >= deadline:
            break
        pause.wait(0.05)
    if plugin is None:
        raise RuntimeError(
            f"the tagger's plugin {name} is not on Dask worker {worker.address} (waited"
            f" {wait:g} s for it): is synth installed in that worker's environment (the"
            " same version as here)?"
        )
    raise RuntimeError(
        f"another run's set-up of {name} on Dask worker {worker.address} has not"
        f" finished in {wait:g} s"
    )


def _count_partition(payload: tuple[Any, ...], wanted: SimilarityCriteria) -> SimilarityCounts:
    """Worker side: pass 1 of the criteria judged by similarity over one partition's texts
    (:meth:`synth.tagging.criteria.SimilarityCriteria.count`): a number per criterion
    word back, whatever the partition's size."""
    records, extracts, fulltexts = payload
    return wanted.count(records, extracts, fulltexts)


def _drop_judged(result: dict[str, Any]) -> None:
    """A partition's assessment and suggestions, once given to the caller, let go."""
    result["assessment"] = result["suggestions"] = None


# --------------------------------------------------------------------------- helpers


#: How long a failed or interrupted run waits for its registration thread to end (Ctrl-C
#: stays prompt); a registration still going then is cut (:class:`_Gate`): the thread
#: can no longer reach the cluster. What it was registering is not withdrawn: another
#: run may rely on the scheduler's record of it (``idempotent``: :func:`_register`).
STOP_WAIT = 5.0
#: How long a partition waits on its worker for the tagger's plugin to be set up there
#: (by another run's registration, still under way: :func:`_register`) before it fails
#: "not set up".
SETUP_WAIT = 120.0


class _Abandoned(Exception):
    """The run has ended: its registration thread may no longer use the client."""


class _Gate:
    """The client as the registration thread uses it (:func:`_register`).

    Each call (a :class:`~distributed.Client` method) runs as a task on the client's own
    event loop, which the thread waits for; :meth:`close` (the run has ended) cancels the
    call under way, which frees the thread at once, and any later call raises
    :class:`_Abandoned` instead of reaching the cluster. A blocking
    ``Client.register_plugin`` in the thread itself could not be cut: a thread that
    outlived :data:`STOP_WAIT` went on registering after the run had ended, into a client
    the command was closing or a cluster a later run was using.
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._guard = threading.Lock()
        self._closed = False
        self._calls: set[concurrent.futures.Future[Any]] = set()
        #: the plugin whose registration is under way (what a cut says it cut)
        self.registering: WorkerPlugin | None = None

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``method(*args, **kwargs)`` awaited on the client's loop (where Dask's sync
        methods give their coroutine); :class:`_Abandoned` once the gate is closed."""

        async def on_loop() -> Any:
            return await method(*args, **kwargs)

        with self._guard:
            if self._closed:
                raise _Abandoned
            future = asyncio.run_coroutine_threadsafe(on_loop(), self.client.loop.asyncio_loop)
            self._calls.add(future)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise _Abandoned from None
        finally:
            with self._guard:
                self._calls.discard(future)

    def close(self) -> str:
        """Cut the thread off the cluster: the call under way cancelled, no further one.
        A registration cut midway is not withdrawn: the scheduler may have recorded it,
        and another run answered by that record (``idempotent``) relies on it, as does a
        worker that joins later. What was cut, in words."""
        with self._guard:
            if self._closed:
                return "it had been cut already"
            self._closed = True
            calls = list(self._calls)
        for future in calls:
            future.cancel()
        plugin = self.registering
        if plugin is None:
            return "no registration was under way"
        return (
            f"the registration of {plugin.name} was cut; it may still finish on the"
            " workers, and if the scheduler recorded it, it stays registered (later runs"
            " and joining workers use it)"
        )


class _Registering:
    """Worker plugins registered (:func:`_register`, in order) in a thread of their own,
    so that the caller reads partitions while the workers build their engines; ``wait``
    before sending a task that needs them (it raises what registering raised), ``stop``
    when the run ends otherwise.

    The thread's end is an Event, not ``Thread.join``: a join interrupted by Ctrl-C marks
    the thread stopped while it still runs (CPython 3.11, bpo-45274), and later joins
    return at once. The thread reaches the cluster only through a :class:`_Gate`, which
    ``stop`` closes: after the run, the thread has ended or can no longer touch it.
    """

    def __init__(self, client: Client, plugins: list[WorkerPlugin]) -> None:
        self.error: BaseException | None = None
        self.ended = threading.Event()
        self.gate = _Gate(client)
        self.thread = threading.Thread(
            target=self._run, args=(self.gate, plugins), name="synth-register", daemon=True
        )
        self.thread.start()

    def _run(self, gate: _Gate, plugins: list[WorkerPlugin]) -> None:
        try:
            for plugin in plugins:
                _register(gate, plugin)
        except _Abandoned:  # the run ended (stop): nothing more is registered for it
            pass
        except BaseException as exc:  # raised in the caller's thread by wait()
            self.error = exc
        finally:
            self.ended.set()

    def done(self) -> bool:
        return self.ended.is_set()

    def wait(self) -> None:
        self.ended.wait()
        if self.error is not None:
            raise self.error

    def stop(self, timeout: float | None = None) -> None:
        """Wait at most ``timeout`` (:data:`STOP_WAIT`) seconds for the thread to end,
        through further Ctrl-Cs, then close its gate: a registration still going is cut
        (not withdrawn: :meth:`_Gate.close`), and the thread can reach the cluster no
        more."""
        limit = STOP_WAIT if timeout is None else timeout
        deadline = time.monotonic() + limit
        while not self.ended.is_set() and time.monotonic() < deadline:
            try:
                self.ended.wait(min(0.1, max(0.0, deadline - time.monotonic())))
            except KeyboardInterrupt:  # already ending: the wait stays bounded
                continue
        if self.ended.is_set():
            return
        done = self.gate.close()
        log.warning(
            "the workers' plugins were still being registered %g s after the run ended;"
            " the registration thread reaches the cluster no more: %s",
            limit,
            done,
        )


def _register(gate: _Gate, plugin: WorkerPlugin) -> None:
    """Register ``plugin`` unless the scheduler has it (registering again rebuilds engines).

    The plugin is registered ``idempotent``: the scheduler's ``register_worker_plugin``
    checks its registry and records the plugin in one step on its event loop, so two runs
    on one long-lived scheduler cannot both register it (the second one's replacing the
    first's on each worker, tearing down the engine the first run's partitions use). The
    second run's call returns at once, maybe while the first run's workers are still
    setting the plugin up (the scheduler records a plugin before its workers have it): its
    partitions then wait on their workers for the setup (:func:`_set_up`, at most
    :data:`SETUP_WAIT` seconds). No lock is taken: a run stopped, or killed, while
    registering leaves nothing that later runs wait for.

    Nothing is ever unregistered, neither a registration cut by the run's end nor one
    whose ``setup`` raised on a worker: another run answered by the scheduler's record
    may be tagging with the plugin where its setup succeeded, and unregistering tears it
    down there (and a joining worker would never get it). Where the setup raised, the
    worker keeps its error (``setup_error``), and every partition sent there fails at once
    with it (:func:`_set_up`) until that worker restarts.
    """
    gate.registering = plugin
    gate.call(gate.client.register_plugin, plugin)
    gate.registering = None


def _partitions(
    records: Iterable[pd.DataFrame | Partition] | pd.DataFrame | Path, size: int
) -> Iterator[pd.DataFrame | Partition]:
    if isinstance(records, pd.DataFrame):
        records = [records]
    if isinstance(records, Path):
        yield from _parquet_partitions(records, size)
        return
    for frame in records:
        if isinstance(frame, tuple):  # one partition with its texts, as given
            yield (frame[0].reset_index(drop=True), *frame[1:])
            continue
        for start in range(0, len(frame), size):
            yield frame.iloc[start : start + size].reset_index(drop=True)


def _parquet_partitions(folder: Path, size: int) -> Iterator[pd.DataFrame]:
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"{folder}: no Parquet files of records found there")
    for path in files:
        try:
            reader = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
        for batch in reader.iter_batches(batch_size=size):
            yield batch.to_pandas()


def _check_ids(part: pd.DataFrame, index: int) -> None:
    if "record_id" not in part.columns:
        raise ValueError(
            "records need a record_id column (as synth.corpus.read() and load_records() give)"
        )
    for row, rid in enumerate(part["record_id"].tolist()):
        if not isinstance(rid, str) or not rid:
            raise ValueError(
                f"record_id must be non-empty text (as in the store): partition {index}, "
                f"row {row} has {rid!r}"
            )


def _texts_by_record(frame: pd.DataFrame | None, what: str) -> dict[str, list[str]]:
    """``record_id -> [text, ...]`` in the frame's order (non-empty texts only)."""
    if frame is None or not len(frame):
        return {}
    if "record_id" not in frame.columns or "text" not in frame.columns:
        raise ValueError(f"{what} need record_id and text columns")
    out: dict[str, list[str]] = {}
    for rid, text in zip(frame["record_id"].tolist(), frame["text"].tolist(), strict=True):
        if isinstance(text, str) and text.strip() and isinstance(rid, str):
            out.setdefault(rid, []).append(text)
    return out


def _texts_frame(part: pd.DataFrame, texts: dict[str, list[str]]) -> pd.DataFrame | None:
    """The texts of ``part``'s records, as a ``record_id, text`` frame (None: none)."""
    if not texts:
        return None
    rows = [(rid, t) for rid in part["record_id"].tolist() for t in texts.get(rid, ())]
    return pd.DataFrame(rows, columns=["record_id", "text"]) if rows else None


def _matched_extracts(records: pd.DataFrame, extracts: pd.DataFrame) -> pd.DataFrame:
    """Extracts keyed by ``record_id``, those known by ``ref`` matched to the records as
    :func:`synth.tagging.tagger.extracts_by_record` matches them for a single machine."""
    by_record = extracts_by_record(records, extracts)
    rows = [(rid, t) for rid, texts in by_record.items() for t in texts]
    return pd.DataFrame(rows, columns=["record_id", "text"])


def _progress(show: bool, total: int | None, desc: str = "tagging on the cluster") -> Any:
    if not show:
        return None
    from synth.progress import progress_bar

    return progress_bar(total=total, unit="rec", desc=desc)


def _landed(future: Any, partition: str, lost: str, *, doing: str = "") -> Any:
    """The result of a task on ``partition`` (named so in a message) that is done.

    A task that raised on its worker (its status ``error``) stops the run with a
    :class:`~synth.distributed.cluster.ClusterError` naming the partition, what it was
    ``doing`` and the error, the worker's traceback logged first (shown with ``synth
    -v``); one lost with every worker that ``lost`` (tried) it says so. Any other error
    (the task cancelled, its result not read here) is raised as it is: not the worker's.
    """
    try:
        return future.result()
    except KilledWorker as exc:
        raise ClusterError(
            f"{partition} was lost with every worker that {lost} ({exc}); a worker that runs "
            "out of memory dies so: try a smaller --partition-size"
        ) from None
    except Exception as exc:
        if future.status != "error":  # cancelled, or its result unreadable here
            raise
        why = str(exc) if isinstance(exc, JudgingError) else f"{type(exc).__name__}: {exc}"
        there = getattr(exc, "worker_traceback", None)  # a JudgingError's, of what raised
        if there:
            log.info("%s failed on its worker%s:\n%s", partition, doing, there.rstrip())
        else:
            log.info("%s failed on its worker%s:", partition, doing, exc_info=exc)
        raise ClusterError(f"{partition} failed on its worker{doing}: {why}") from exc
