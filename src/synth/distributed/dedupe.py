"""Deduplication on a Dask cluster: the groups, pairs and reasons of the single path.

:func:`dedupe_on_cluster` gives the :class:`~synth.corpus.dedupe.DedupeResult` that
:func:`synth.corpus.dedupe.dedupe` gives on the same records in the same order (groups,
kept records, pair rows with their scores and notes, rejected pairs, counts), computed
so that no worker holds more than a partition of records or a bucket of blocking keys:

1. **Features per partition** (workers): each partition of records (a slice of a frame,
   or a Parquet file) gets the single path's per-record features (:func:`_features`,
   :func:`_completeness`) and its blocking keys: DOI, PMID, the compact title and main
   title, the title's token groups, its first and last characters (what
   :func:`_candidates` and :func:`_identifier_pairs` block on), and the sort keys of the
   two sorted neighbourhoods. Records are numbered by their place in the whole input.
2. **Shuffle by key**: each (key, record) row, with the record's features, goes to the
   bucket its key hashes to; the neighbourhood keys go to buckets by range (splitters
   sampled from every partition), so each bucket holds a contiguous run of the sort.
   The rows are written to the local disk of the worker that made them and read back by
   a task on that worker when their bucket runs; with two tasks in flight per worker, a
   worker holds a partition or a bucket at a time, never its share of the whole shuffle.
   There are enough buckets for each to hold the features of at most about
   :data:`BUCKET_RECORDS` records (a record has about 11 keys, each in the bucket its key
   hashes to), with the blocks whose keys hashed to it.
3. **Pairs within the buckets** (workers): a bucket runs the single path's functions on
   its records: :func:`_identifier_pairs` per DOI or PMID, :func:`_keyed_pairs` per
   block, :func:`_title_pairs` on the bucket's candidates. The few neighbourhood pairs
   that straddle two range buckets are scored in one more task.
4. **Groups on the client**: the scored pairs (matches and near misses only) come back,
   in the single path's order, and :func:`_join` (the single path's union-find) and
   :func:`_result_frames` make the groups, so provenance and kept records are the same.

The counts of candidate and scored pairs are counted by hashing the pairs' codes into
buckets too, so :attr:`DedupeResult.counts` match the single path's as well. A pair whose
records share keys in several buckets is scored in each (the same score every time): the
price of scoring without a join.

The workers need no shared file system; a worker that leaves mid-run takes its files
with it, and the run fails with an error saying so (nothing is written to a store before
the result is complete: :func:`synth.store.duplicates.refresh_duplicates`).

Two small differences in how blocks are formed, both immaterial on real records: a
token-group block is keyed by its tokens (the single path by a 64-bit hash of them, whose
collisions are vanishingly rare), and a big block is walked in first author then year
order (the single path sorts by ``rank(first author) * 10000 + year + 1``: the same
order for every year from 0 to 9998, which :func:`synth.corpus.normalise.normalise_year`
guarantees).
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import pickle
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synth.corpus.dedupe import (
    COMPLETENESS_FIELDS,
    DedupeResult,
    _affinity,
    _cannot_links,
    _completeness,
    _Features,
    _features,
    _hash_powers,
    _identifier_pairs,
    _join,
    _keyed_pairs,
    _objects,
    _Pairs,
    _result_frames,
    _sort_bytes,
    _sorted_unique,
    _title_pairs,
    _worth_scoring,
    dedupe,
    dedupe_rules,
)
from synth.distributed.cluster import IN_FLIGHT_PER_WORKER, ClusterError, ready_workers
from synth.store.records import StoreRecords
from synth.store.records import store_frame as _store_frame

if TYPE_CHECKING:
    from distributed import Client, Future

log = logging.getLogger(__name__)

#: Records per partition when a frame is given: what one task featurises at a time.
PARTITION_SIZE = 20_000
#: The columns :func:`_features` and :func:`_affinity` read.
_SCORED_COLUMNS = (
    "record_id", "title", "authors", "year", "venue", "volume", "pages", "doi", "pmid"
)  # fmt: skip
_COMPLETENESS = "__completeness"
#: About how many records' features a bucket holds at most (the default bucket count).
BUCKET_RECORDS = 100_000
#: Blocking keys per record (DOI, PMID, titles, token groups, first and last characters),
#: about: 10.9 on generated records.
KEYS_PER_RECORD = 11
#: Seconds a failed run waits for its tasks still running before removing its files.
CLOSE_TIMEOUT = 60.0
#: Sort keys each partition offers for choosing the neighbourhood buckets' splitters,
#: per bucket.
SAMPLES_PER_BUCKET = 32

_Cols = dict[str, np.ndarray]

# blocking kinds: identifier blocks first, then the title blocks of _candidates
_DOI, _PMID, _EXACT, _TOKENS, _START, _END = range(6)
_TITLE_KINDS = {
    _EXACT: "exact_title",
    _TOKENS: "token_groups",
    _START: "title_start",
    _END: "title_end",
}
_NEIGHBOURHOODS = ("neighbourhood_title", "neighbourhood_reversed")
#: the per-record arrays of _Features that pairs are scored on (not the ids; tok_id and
#: owner are per token)
_RECORD_FIELDS = tuple(
    x.name for x in fields(_Features) if x.name not in ("tok_id", "owner", "ids")
)


def dedupe_on_cluster(
    records: pd.DataFrame | DedupeRecords | Sequence[str | Path],
    client: Client,
    *,
    threshold: float | None = None,
    cannot_link: Iterable[tuple[str, str]] = (),
    partition_size: int = PARTITION_SIZE,
    buckets: int | None = None,
) -> DedupeResult:
    """:func:`synth.corpus.dedupe.dedupe` on the workers of ``client``: the same result.

    Parameters
    ----------
    records
        Canonical records (a frame, cut into partitions of ``partition_size`` rows), a
        store's records read a partition at a time (:class:`DedupeRecords`), or Parquet
        files of records (one partition each; records in file order, files in the order
        given). Record ids must be unique across all of them.
    client
        A :class:`distributed.Client` (see :func:`synth.distributed.cluster_client`).
    threshold, cannot_link
        As for :func:`~synth.corpus.dedupe.dedupe`.
    partition_size
        Rows per partition of a frame.
    buckets
        How many buckets the blocking keys are shuffled into (default: one per
        partition, at least two per worker, and enough to hold about
        :data:`BUCKET_RECORDS` records each); more buckets, less memory per task, more
        copies of a record's features (one per bucket its keys go to).

    Only the ids, completeness and DOIs of the records (one value each, what the groups
    need) and the matched or nearly matched pairs come back to this process (and, from a
    :class:`DedupeRecords`, one partition of records at a time on its way out).
    """
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 4)
        clock = now

    sources, sizes = _sources(records, client, partition_size)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(offsets[-1])
    if n == 0:
        return dedupe(pd.DataFrame({"record_id": pd.Series([], dtype=object)}))

    def partition(k: int, source: Any) -> Any:  # a store's partition read when it is sent
        return source.partition(k) if isinstance(source, DedupeRecords) else source

    if n >= 2**32:
        raise ValueError(f"{n:,} records: the pair codes hold at most 2**32 records")
    workers = ready_workers(client)
    n_buckets = buckets or max(len(sources), 2 * workers, -(-KEYS_PER_RECORD * n // BUCKET_RECORDS))
    # counting the distinct pairs takes fewer buckets (codes are small)
    n_count = min(n_buckets, max(2 * workers, n_buckets // 4))
    n_samples = -(-SAMPLES_PER_BUCKET * n_buckets // len(sources))
    rules = dedupe_rules()
    threshold = float(rules["matching"]["title_threshold"] if threshold is None else threshold)
    run = _Run(client, uuid.uuid4().hex[:12], IN_FLIGHT_PER_WORKER * workers)
    try:
        prepared = run.each(
            [
                lambda k=k, s=s: (
                    _prepare,
                    partition(k, s),
                    int(offsets[k]),
                    n_buckets,
                    n_samples,
                    run.name,
                )
                for k, s in enumerate(sources)
            ]
        )
        ids = _objects([x for p in prepared for x in p["ids"]])
        ids_list = ids.tolist()
        if len(set(ids_list)) != n:
            repeated = sorted(k for k, v in Counter(ids_list).items() if v > 1)
            raise ValueError(f"record ids must be unique; repeated: {', '.join(repeated[:5])}")
        completeness = np.concatenate([p["completeness"] for p in prepared])
        doi = np.concatenate([p["doi"] for p in prepared])
        preprint = np.concatenate([p["preprint"] for p in prepared])
        cannot, constrained = _cannot_links(ids_list, cannot_link)
        lap("features")

        # the neighbourhood buckets: splitters from every partition's sample of sort keys
        samples = sorted(x for p in prepared for x in p["samples"])
        step = len(samples) / n_buckets
        splitters = [samples[int(step * k)] for k in range(1, n_buckets)] if samples else []
        ranged = run.each(
            [lambda p=p: (_range_split, p["neighbourhoods"], splitters, run.name) for p in prepared]
        )
        where = np.flatnonzero(constrained)
        hashed = run.each(
            [
                lambda b=b: (
                    _hash_bucket,
                    [p["hashed"][b] for p in prepared],
                    where,
                    threshold,
                    n_count,
                    run.name,
                )
                for b in range(n_buckets)
            ]
        )
        in_range = run.each(
            [
                lambda b=b: (_range_bucket, [r[b] for r in ranged], threshold, n_count, run.name)
                for b in range(n_buckets)
            ]
        )
        codes, cross_counts, edge_feats = _crossing_pairs([r.pop("edges") for r in in_range])
        results = [*hashed, *in_range]
        results += run.each(
            [lambda: (_score_codes, edge_feats, codes, threshold, n_count, run.name)]
        )
        counted = run.each(
            [
                lambda c=c: (_count_unique, [r.pop(f"codes-{c}") for r in results])
                for c in range(n_count)
            ]
        )
    finally:
        run.close()
        if isinstance(records, DedupeRecords):
            records.close()
    lap("pairs")

    counts: dict[str, int] = {"records": n}
    for name in [*_TITLE_KINDS.values(), *_NEIGHBOURHOODS]:
        counts[f"blocking_{name}"] = sum(r["counts"].get(name, 0) for r in results)
    for name in _NEIGHBOURHOODS:
        counts[f"blocking_{name}"] += cross_counts[name]
    counts["candidates"] = sum(c[0] for c in counted)
    counts["scored"] = sum(c[1] for c in counted)
    doi_ok, doi_bad = _identifier_parts([r for r in results if "doi" in r], "doi")
    pmid_ok, pmid_bad = _identifier_parts([r for r in results if "pmid" in r], "pmid")
    title_ok, title_bad = _title_parts([r["title"] for r in results])
    counts["title_matches"] = len(title_ok)

    dois = {k: d for k, d in enumerate(doi.tolist()) if d and not preprint[k]}
    if isinstance(records, pd.DataFrame):
        frame = records

        def affinity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return _affinity(frame, a, b)

    elif isinstance(records, DedupeRecords):
        affinity = records.affinity(ids)
    else:
        affinity = _Affinity(client, sources, offsets)
    roots, accepted, refused = _join(
        n, dois, cannot, constrained, [doi_ok, pmid_ok, title_ok], affinity
    )
    groups, pairs, rejected = _result_frames(
        ids, roots, completeness, accepted, [*refused, doi_bad, pmid_bad, title_bad], counts
    )
    lap("grouping")
    timings["total"] = round(sum(timings.values()), 4)
    log.info(
        "dedupe on the cluster: %d records in %d partitions, %d buckets, %d duplicates in %.2f s",
        n,
        len(sources),
        n_buckets,
        counts["duplicates"],
        timings["total"],
    )
    return DedupeResult(groups, pairs, rejected, timings, counts)


# -- partitions (workers) -------------------------------------------------------------------


def _sources(
    records: pd.DataFrame | DedupeRecords | Sequence[str | Path],
    client: Client,
    partition_size: int,
) -> tuple[list[Any], list[int]]:
    """The partitions and their sizes: slices of a frame (sent with the task that reads
    them), a store's (read when sent), or Parquet paths (read by the workers)."""
    if isinstance(records, DedupeRecords):
        sizes = records.sizes()
        return [records] * len(sizes), sizes
    if isinstance(records, pd.DataFrame):
        if "record_id" not in records.columns:
            raise KeyError("records need a record_id column")
        slim = _slim(records)
        size = max(1, int(partition_size))
        chunks = [slim.iloc[k : k + size] for k in range(0, len(slim), size)] or [slim]
        return chunks, [len(c) for c in chunks]
    paths = [str(p) for p in records]
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"no Parquet file of records at {', '.join(missing[:3])}")
    return paths, client.gather([client.submit(_size, p, pure=False) for p in paths])


def _slim(records: pd.DataFrame) -> pd.DataFrame:
    """Only the columns pairs are scored on, and each record's completeness (the only use
    of the other fields): a fraction of the records to send."""
    slim = records[[c for c in _SCORED_COLUMNS if c in records.columns]].copy()
    slim[_COMPLETENESS] = _completeness(records)
    return slim


#: The store's columns a record's completeness is weighed on (:func:`_completeness`)
#: besides those scored; with those, all a partition of a store's records is read for.
_WEIGHED = tuple(c for c in COMPLETENESS_FIELDS if c not in _SCORED_COLUMNS)
#: long text columns read as there or not (all :func:`_completeness` asks of them)
_PRESENCE_ONLY = ("abstract",)


class DedupeRecords(StoreRecords):
    """A store's records read on the client a partition at a time, as each partition's
    task is sent (:class:`synth.store.records.StoreRecords`, which holds the snapshot's
    rules), and only the columns deduplication weighs, slim (:func:`_slim`): the client
    never holds the whole store's records (a frame of a million records is about 9 GiB;
    the 4 GB a process may take at that size in issue 19). Construct it inside a
    transaction held until :func:`dedupe_on_cluster` returns (``refresh_duplicates``
    does).
    """

    def __init__(self, con: sqlite3.Connection, partition_size: int = PARTITION_SIZE) -> None:
        super().__init__(
            con,
            partition_size,
            columns=[*_SCORED_COLUMNS, *_WEIGHED],
            presence_only=_PRESENCE_ONLY,
        )

    def partition(self, k: int) -> pd.DataFrame:
        """The ``k``-th partition, slim (:func:`_slim`): partitions are read in order."""
        return _slim(super().partition(k))

    def affinity(self, ids: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """:func:`_affinity` of pairs of record numbers (``ids`` names them), their raw
        fields read from the store when asked (rarely: pairs under a cannot-link)."""

        def affinity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            wanted = _sorted_unique(np.concatenate([a, b]))
            names = ids[wanted].tolist()
            cols = ["record_id", "title", "authors", "venue", "year"]
            found: dict[str, Any] = {}
            for k in range(0, len(names), 500):
                batch = names[k : k + 500]
                marks = ",".join("?" * len(batch))
                sql = f"SELECT {', '.join(cols)} FROM records WHERE record_id IN ({marks})"
                found.update((r[0], tuple(r)) for r in self.con.execute(sql, batch))
            sub = _store_frame([found[x] for x in names], cols)
            return _affinity(sub, np.searchsorted(wanted, a), np.searchsorted(wanted, b))

        return affinity


def _read(source: Any) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source
    frame = pd.read_parquet(source)
    if "record_id" not in frame.columns:
        raise KeyError(f"{source}: records need a record_id column")
    return frame


def _size(source: Any) -> int:
    if isinstance(source, pd.DataFrame):
        return len(source)
    import pyarrow.parquet as pq

    return int(pq.read_metadata(source).num_rows)


def _prepare(source: Any, offset: int, n_buckets: int, n_samples: int, run: str) -> dict[str, Any]:
    """One partition's features, its (key, record) rows by hash bucket, and its
    neighbourhood rows sorted (written to the worker's disk), with a sample of their sort
    keys and what the client keeps of each record."""
    records = _read(source)
    f = _features(records)
    n = len(f)
    idx = np.arange(offset, offset + n, dtype=np.int64)
    feats: _Cols = {name: getattr(f, name) for name in _RECORD_FIELDS}
    feats["idx"] = idx
    feats["completeness"] = (
        records[_COMPLETENESS].to_numpy(dtype=np.int64)
        if _COMPLETENESS in records.columns
        else _completeness(records)
    )

    entries = _block_entries(f, idx)
    kind_salt = entries["kind"].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    hashes = pd.util.hash_array(entries["key"]) + kind_salt
    bucket = (hashes % np.uint64(n_buckets)).astype(np.int64)
    out: dict[str, Any] = {
        "hashed": [
            _spill(run, _with_features(_take(entries, bucket == b), feats, offset))
            for b in range(n_buckets)
        ]
    }

    nb = _neighbourhood_entries(f, idx)
    nb = _in_sort_order(nb)
    rows = len(nb["idx"])
    every = max(1, rows // max(1, n_samples))
    out["samples"] = [
        (int(nb["kind"][k]), bytes(nb["key"][k]), int(nb["idx"][k])) for k in range(0, rows, every)
    ]
    out["neighbourhoods"] = _spill(run, (nb, feats))
    out.update(ids=f.ids, completeness=feats["completeness"], doi=f.doi, preprint=f.preprint)
    return out


def _range_split(
    prepared: tuple[_Cols, _Cols], splitters: list[tuple[int, bytes, int]], run: str
) -> list[_Spilled]:
    """A partition's neighbourhood rows (with features) cut by the splitters."""
    nb, feats = prepared
    offset = int(feats["idx"][0]) if len(feats["idx"]) else 0
    # the rows are sorted: each bucket is the run between two splitters
    keys = list(zip(nb["kind"].tolist(), nb["key"].tolist(), nb["idx"].tolist(), strict=True))
    cuts = [0, *(bisect.bisect_left(keys, s) for s in splitters), len(keys)]
    return [
        _spill(run, _with_features(_take(nb, slice(cuts[b], cuts[b + 1])), feats, offset))
        for b in range(len(splitters) + 1)
    ]


def _take(cols: _Cols, sel: np.ndarray | slice) -> _Cols:
    return {k: v[sel] for k, v in cols.items()}


def _concat(parts: list[_Cols]) -> _Cols:
    parts = [p for p in parts if p]
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _with_features(entries: _Cols, feats: _Cols, offset: int) -> tuple[_Cols, _Cols]:
    """Rows and the features of the records they name (each record once)."""
    rows = _sorted_unique(entries["idx"]) - offset
    return entries, _take(feats, rows)


def _block_entries(f: _Features, idx: np.ndarray) -> _Cols:
    """The (kind, key, order, record) rows of the keys :func:`_identifier_pairs` and
    :func:`_candidates` block on. ``order`` and the record's number give the place the
    single path's arrays give a row within a block (full titles before main titles,
    token groups in the order they are dealt)."""
    b = dedupe_rules()["blocking"]
    affix, parts = int(b["affix_chars"]), int(b["token_groups"])
    cut = len(_hash_powers()) - 1  # token places past this share one hash multiplier
    norm, main = f.norm.tolist(), f.main.tolist()
    titled = [k for k, t in enumerate(norm) if t]
    with_main = [k for k, t in enumerate(main) if t]
    compact = [norm[k].replace(" ", "") for k in titled]
    main_compact = [main[k].replace(" ", "") for k in with_main]
    doi, pmid = f.doi.tolist(), f.pmid.tolist()
    with_doi = [k for k, d in enumerate(doi) if d]
    with_pmid = [k for k, x in enumerate(pmid) if x]
    blocks: list[tuple[int, int, list[int], list[str]]] = [
        (_DOI, 0, with_doi, [doi[k] for k in with_doi]),
        (_PMID, 0, with_pmid, [pmid[k] for k in with_pmid]),
        (_EXACT, 0, titled, compact),
        (_EXACT, 1, with_main, main_compact),
        (_START, 0, titled, [t[:affix] for t in compact]),
        (_START, 1, with_main, [t[:affix] for t in main_compact]),
        (_END, 0, titled, [t[-affix:] for t in compact]),
        (_END, 1, with_main, [t[-affix:] for t in main_compact]),
    ]
    token_rows: list[list[int]] = [[] for _ in range(2 * parts)]
    token_keys: list[list[str]] = [[] for _ in range(2 * parts)]
    main_ntok = f.main_ntok.tolist()
    for k in titled:
        tokens = norm[k].split(" ")
        for use_main in (0, 1):
            head = tokens[: main_ntok[k]] if use_main else tokens
            for g in range(min(parts, len(head))):
                group = head[g::parts]
                key = f"{g}\x1f" + " ".join(group[:cut])
                if len(group) > cut:
                    key += "\x1e" + " ".join(sorted(group[cut:]))
                token_rows[use_main * parts + g].append(k)
                token_keys[use_main * parts + g].append(key)
    blocks += [(_TOKENS, o, token_rows[o], token_keys[o]) for o in range(2 * parts)]
    return {
        "kind": np.concatenate([np.full(len(r), kind, dtype=np.int8) for kind, _, r, _ in blocks]),
        "key": _objects([key for *_, keys in blocks for key in keys]),
        "order": np.concatenate([np.full(len(r), o, dtype=np.int8) for _, o, r, _ in blocks]),
        "idx": idx[np.array([k for _, _, r, _ in blocks for k in r], dtype=np.int64)],
    }


def _neighbourhood_entries(f: _Features, idx: np.ndarray) -> _Cols:
    """(kind, sort key, record) of every titled record in both sorted neighbourhoods; the
    keys are :func:`_sort_bytes` arrays, which numpy sorts as :func:`_rank` does."""
    titled = np.flatnonzero(f.norm != "")
    compact = [f.norm[k].replace(" ", "") for k in titled]
    return {
        "kind": np.repeat(np.array([0, 1], dtype=np.int8), len(titled)),
        "key": np.concatenate([_sort_bytes(compact), _sort_bytes([t[::-1] for t in compact])]),
        "idx": np.concatenate([idx[titled], idx[titled]]).astype(np.int64),
    }


def _in_sort_order(nb: _Cols) -> _Cols:
    """Neighbourhood rows sorted by kind, sort key, then record (ties as :func:`_rank`)."""
    return _take(nb, np.lexsort((nb["idx"], nb["key"], nb["kind"])))


# -- the shuffle's files ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Spilled:
    """A task's output written to its worker's disk: read back by a task on that worker."""

    address: str
    path: str


def _run_folder(run: str, worker: Any = None) -> Path:
    """The run's folder in the worker's local directory (``worker``, else the one running
    this task; a temporary folder outside a worker)."""
    if worker is None:
        try:
            from distributed import get_worker

            worker = get_worker()
        except ValueError:  # not in a worker's task
            return Path(tempfile.gettempdir()) / f"synth-dedupe-{run}"
    return Path(worker.local_directory) / f"synth-dedupe-{run}"


def _spill(run: str, value: Any) -> _Spilled:
    """``value`` pickled into this worker's folder for the run."""
    from distributed import get_worker

    folder = _run_folder(run)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.pkl"
    with open(path, "wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        address = get_worker().address
    except ValueError:
        address = ""
    return _Spilled(address, str(path))


def _read_files(spilled: list[_Spilled]) -> list[bytes]:
    """Spilled values' pickled bytes (all on this worker): they travel to the task that
    needs them as they are, and are unpickled only there (:func:`_call`)."""
    out = []
    for item in spilled:
        try:
            with open(item.path, "rb") as fh:
                out.append(fh.read())
        except FileNotFoundError:
            raise _Gone(
                f"dedupe: {item.path} of worker {item.address} is gone: the worker that "
                "wrote it left the cluster; run the deduplication again"
            ) from None
    return out


#: marks an argument read from workers' files: (marker, one value or a list, places, bytes)
_GATHERED = "synth-dedupe-gathered"


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn`` on its arguments, spilled values unpickled first (in their list's order)."""

    def unpickled(arg: Any) -> Any:
        if isinstance(arg, tuple) and len(arg) == 4 and arg[0] == _GATHERED:
            _, one, places, blobs = arg
            out: list[Any] = [None] * sum(len(p) for p in places)
            for where, found in zip(places, blobs, strict=True):
                for k, blob in zip(where, found, strict=True):
                    out[k] = pickle.loads(blob)
            return out[0] if one else out
        return arg

    return fn(*map(unpickled, args))


def _remove_run_folder(run: str, dask_worker: Any = None) -> None:
    """Remove the run's folder (``Client.run`` passes each worker as ``dask_worker``)."""
    shutil.rmtree(_run_folder(run, dask_worker), ignore_errors=True)


class _Gone(RuntimeError):
    """A worker's shuffle file is gone with the worker that wrote it."""


class _Run:
    """One deduplication's tasks: at most ``limit`` in flight (so a worker holds a bucket
    or two at a time, not the shuffle), each :class:`_Spilled` argument read back by a
    task on the worker that wrote it, each partition of a frame sent when its task is;
    the files removed by :meth:`close`."""

    def __init__(self, client: Client, name: str, limit: int) -> None:
        self.client, self.name, self.limit = client, name, max(1, limit)
        self.in_flight: dict[str, Future] = {}

    def each(self, calls: list[Callable[[], tuple[Any, ...]]]) -> list[Any]:
        """The results of ``calls`` (each gives a function and its arguments), in order."""
        from distributed import KilledWorker, as_completed

        results: list[Any] = [None] * len(calls)
        queue = iter(enumerate(calls))
        pending: dict[str, int] = {}
        done = as_completed()

        def top_up() -> None:
            while len(pending) < self.limit:
                item = next(queue, None)
                if item is None:
                    return
                k, call = item
                fn, *args = call()
                future = self.client.submit(_call, fn, *map(self._read, args), pure=False)
                pending[future.key] = k
                self.in_flight[future.key] = future
                done.add(future)

        top_up()
        for future in done:
            try:
                results[pending.pop(future.key)] = future.result()
            except (KilledWorker, _Gone) as exc:  # the run stops; the store is not touched
                raise ClusterError(
                    f"deduplication stopped: a Dask worker was lost ({exc}); nothing was "
                    "written: run it again (a worker that runs out of memory dies so: try "
                    "smaller partitions)"
                ) from None
            del self.in_flight[future.key], future
            top_up()
        return results

    def _read(self, arg: Any) -> Any:
        """A task's argument as it is sent: spilled values (alone or a list of them) read
        by one task per worker holding some, partitions of a frame scattered."""
        if isinstance(arg, _Spilled):
            return (_GATHERED, True, *self._gather([arg]))
        if isinstance(arg, list) and arg and all(isinstance(x, _Spilled) for x in arg):
            return (_GATHERED, False, *self._gather(arg))
        if isinstance(arg, pd.DataFrame):  # a partition: sent to a worker, not in the graph
            return self.client.scatter(arg)
        return arg

    def _gather(self, spilled: list[_Spilled]) -> tuple[list[list[int]], list[Future]]:
        by_worker: dict[str, list[int]] = {}
        for k, item in enumerate(spilled):
            by_worker.setdefault(item.address, []).append(k)
        places = list(by_worker.values())
        futures = [
            self.client.submit(
                _read_files,
                [spilled[k] for k in where],
                workers=[address] if address else None,
                allow_other_workers=True,
                pure=False,
            )
            for address, where in by_worker.items()
        ]
        return places, futures

    def close(self) -> None:
        """Remove the run's files, once the tasks still running (after a failure) end."""
        from distributed import wait

        if self.in_flight:
            futures = list(self.in_flight.values())  # a few: let them end, then remove
            with contextlib.suppress(Exception):
                wait(futures, timeout=CLOSE_TIMEOUT)
            self.in_flight.clear()
        try:
            self.client.run(_remove_run_folder, self.name)
        except Exception as exc:  # a worker gone: its folder went with it, or stays
            log.warning("dedupe: could not remove every worker's shuffle files (%s)", exc)
        _remove_run_folder(self.name)


# -- buckets (workers) -----------------------------------------------------------------------


def _local_features(feats: _Cols) -> _Features:
    """The single path's features for a bucket's records (sorted by their number)."""
    empty = np.zeros(0, dtype=np.int64)
    # a record's number stands for its id: scoring never reads the ids
    arrays = {name: feats[name] for name in _RECORD_FIELDS}
    return _Features(ids=feats["idx"], **arrays, tok_id=empty, owner=empty)


def _gather_bucket(pieces: list[tuple[_Cols, _Cols]]) -> tuple[_Cols, _Cols]:
    entries = _concat([p[0] for p in pieces])
    feats = _concat([p[1] for p in pieces])
    if feats:
        feats = _take(feats, np.argsort(feats["idx"], kind="stable"))
    return entries, feats


def _hash_bucket(
    pieces: list[tuple[_Cols, _Cols]],
    constrained: np.ndarray,
    threshold: float,
    n_count: int,
    run: str,
) -> dict[str, Any]:
    """Identifier pairs and title pairs of the blocks whose keys hashed to this bucket."""
    entries, feats = _gather_bucket(pieces)
    if not feats:
        return _score_codes({}, np.zeros(0, dtype=np.int64), threshold, n_count, run)
    f = _local_features(feats)
    number = feats["idx"]
    completeness = feats["completeness"]
    local_constrained = np.isin(number, constrained)
    ident = {}
    for kind, rule in ((_DOI, "doi"), (_PMID, "pmid")):
        sel = entries["kind"] == kind
        key = _objects([""] * len(f))
        key[np.searchsorted(number, entries["idx"][sel])] = entries["key"][sel]
        ok, bad = _identifier_pairs(f, key, rule, completeness, local_constrained)
        first: dict[str, int] = {}
        for k in np.flatnonzero(key != "").tolist():
            first.setdefault(key[k], int(number[k]))
        ident[rule] = [
            _pair_cols(
                p,
                number,
                group_first=np.array([first[key[a]] for a in p.a.tolist()], dtype=np.int64),
            )
            for p in (ok, bad)
        ]

    rules = dedupe_rules()["blocking"]
    codes, counts = [], {}
    for kind, name in _TITLE_KINDS.items():
        sel = entries["kind"] == kind
        ent, keys, order = entries["idx"][sel], entries["key"][sel], entries["order"][sel]
        place = np.lexsort((ent, order))  # the single path's order of rows within a block
        ent, keys = ent[place], keys[place]
        at = np.searchsorted(number, ent)
        fam_rank = pd.factorize(f.family[at], sort=True)[0]
        secondary = fam_rank * 10_000 + (f.year[at] + 1)
        window = int(rules["window"] if kind == _EXACT else rules["token_window"])
        found = _keyed_pairs(ent, pd.factorize(keys)[0], secondary, window)
        counts[name] = len(found)
        codes.append(found)
    out = _score_codes(feats, np.concatenate(codes), threshold, n_count, run)
    out.update(ident)
    out["counts"] = counts
    return out


def _range_bucket(
    pieces: list[tuple[_Cols, _Cols]], threshold: float, n_count: int, run: str
) -> dict[str, Any]:
    """Title pairs of a run of both sorted neighbourhoods, and the run's first and last
    rows (for the pairs across runs)."""
    entries, feats = _gather_bucket(pieces)
    window = int(dedupe_rules()["blocking"]["neighbourhood_window"])
    if not feats:
        out = _score_codes({}, np.zeros(0, dtype=np.int64), threshold, n_count, run)
        out["edges"] = {"runs": {}, "feats": {}}
        return out
    entries = _in_sort_order(entries)
    codes, counts, runs, edge = [], {}, {}, []
    for kind, name in enumerate(_NEIGHBOURHOODS):
        ent = entries["idx"][entries["kind"] == kind]
        found = _keyed_pairs(ent, np.zeros(len(ent), dtype=np.int64), np.arange(len(ent)), window)
        counts[name] = len(found)
        codes.append(found)
        runs[name] = (len(ent), ent[: window - 1], ent[-(window - 1) :] if len(ent) else ent)
        edge += [ent[: window - 1], ent[-(window - 1) :]]
    out = _score_codes(feats, np.concatenate(codes), threshold, n_count, run)
    at = np.searchsorted(feats["idx"], _sorted_unique(np.concatenate(edge)))
    out["edges"] = {"runs": runs, "feats": _take(feats, at)}
    out["counts"] = counts
    return out


def _crossing_pairs(edges: list[dict[str, Any]]) -> tuple[np.ndarray, dict[str, int], _Cols]:
    """The neighbourhood pairs whose records fall in two runs (client: a few rows per run)."""
    window = int(dedupe_rules()["blocking"]["neighbourhood_window"])
    codes: list[int] = []
    counts = {}
    for name in _NEIGHBOURHOODS:
        rows: dict[int, tuple[int, int]] = {}  # place in the whole sort -> (run, record)
        start = 0
        for run, e in enumerate(edges):
            size, head, tail = e["runs"].get(name, (0, [], []))
            for k, x in enumerate(np.asarray(head).tolist()):
                rows[start + k] = (run, x)
            tail = np.asarray(tail).tolist()
            for k, x in enumerate(tail):
                rows[start + size - len(tail) + k] = (run, x)
            start += size
        places = sorted(rows)
        found = 0
        for i, p in enumerate(places):
            for q in places[i + 1 :]:
                if q - p >= window:
                    break
                if rows[p][0] != rows[q][0]:
                    x, y = rows[p][1], rows[q][1]
                    codes.append((min(x, y) << 32) | max(x, y))
                    found += 1
        counts[name] = found
    feats = _concat([e["feats"] for e in edges])
    if feats:
        _, first = np.unique(feats["idx"], return_index=True)
        feats = _take(feats, first)
    return np.array(codes, dtype=np.int64), counts, feats


def _score_codes(
    feats: _Cols, codes: np.ndarray, threshold: float, n_count: int, run: str
) -> dict[str, Any]:
    """:func:`_title_pairs` on candidate pairs (codes of record numbers); the matches and
    near misses, and the candidates and scored pairs hashed for counting (on disk)."""
    codes = _sorted_unique(codes.astype(np.int64))
    scored = codes[:0]
    title = {"accepted": _pair_cols(_Pairs.empty(""), np.zeros(0, dtype=np.int64))}
    title["rejected"] = title["accepted"]
    if len(codes):
        number = feats["idx"]
        f = _local_features(feats)
        a = np.searchsorted(number, codes >> 32)
        b = np.searchsorted(number, codes & 0xFFFFFFFF)
        keep = _worth_scoring(f, a, b, threshold)[0]
        scored = codes[keep]
        ok, bad = _title_pairs(f, (a << 32) | b, threshold, {})
        title = {"accepted": _pair_cols(ok, number), "rejected": _pair_cols(bad, number)}
    out: dict[str, Any] = {"title": title, "counts": {}}
    for c, (cand, sc) in enumerate(
        zip(_hash_split(codes, n_count), _hash_split(scored, n_count), strict=True)
    ):
        out[f"codes-{c}"] = _spill(run, (cand, sc))
    return out


def _hash_split(codes: np.ndarray, n: int) -> list[np.ndarray]:
    h = (codes.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    bucket = (h % np.uint64(n)).astype(np.int64)
    return [codes[bucket == c] for c in range(n)]


def _count_unique(pieces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[int, int]:
    """Distinct candidate pairs and distinct scored pairs among one hash bucket's codes."""
    cand = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, dtype=np.int64)
    sc = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, dtype=np.int64)
    return len(_sorted_unique(cand)), len(_sorted_unique(sc))


def _pair_cols(p: _Pairs, number: np.ndarray, **extra: np.ndarray) -> _Cols:
    """A bucket's pairs as columns, with record numbers instead of bucket positions."""
    cols = {
        "a": number[p.a].astype(np.int64),
        "b": number[p.b].astype(np.int64),
        "score": p.score,
        "title_score": p.title_score,
        "author": p.author,
        "year_diff": p.year_diff,
        "note": p.note,
    }
    cols.update(extra)
    return cols


# -- the client ------------------------------------------------------------------------------


def _to_pairs(cols: _Cols, rule: str) -> _Pairs:
    if not cols or not len(cols["a"]):
        return _Pairs.empty(rule)
    return _Pairs(
        cols["a"].astype(np.int64),
        cols["b"].astype(np.int64),
        rule,
        cols["score"].astype(np.float64),
        cols["title_score"].astype(np.float64),
        cols["author"].astype(np.int64),
        cols["year_diff"].astype(np.int64),
        _objects(list(cols["note"])),
    )


def _identifier_parts(results: list[dict[str, Any]], rule: str) -> tuple[_Pairs, _Pairs]:
    """The buckets' identifier pairs in the single path's order: identifiers by the first
    record holding them, each one's pairs in the order its bucket gave."""
    out = []
    for which in (0, 1):
        cols = _concat([r[rule][which] for r in results])
        if cols:
            cols = _take(cols, np.argsort(cols["group_first"], kind="stable"))
        out.append(_to_pairs(cols, rule))
    return out[0], out[1]


def _title_parts(results: list[dict[str, _Cols]]) -> tuple[_Pairs, _Pairs]:
    """The buckets' title pairs, each pair once, in the single path's order (most alike
    first, then by record numbers)."""
    parts = []
    for r in results:
        for which, accepted in (("accepted", True), ("rejected", False)):
            cols = dict(r[which])
            cols["accepted"] = np.full(len(cols["a"]), accepted)
            parts.append(cols)
    cols = _concat(parts)
    rule = "title+year+author"
    if not cols or not len(cols["a"]):
        return _Pairs.empty(rule), _Pairs.empty(rule)
    code = (cols["a"] << 32) | cols["b"]
    _, first = np.unique(code, return_index=True)
    cols, code = _take(cols, first), code[first]
    cols = _take(cols, np.lexsort((code, -cols["score"])))
    ok = cols["accepted"]
    return _to_pairs(_take(cols, ok), rule), _to_pairs(_take(cols, ~ok), rule)


class _Affinity:
    """:func:`_affinity` of pairs under a reviewer's cannot-link: their records' raw
    title, authors, venue and year fetched from the partitions when asked (rarely)."""

    def __init__(self, client: Client, sources: list[Any], offsets: np.ndarray) -> None:
        self.client, self.sources, self.offsets = client, sources, offsets

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        wanted = _sorted_unique(np.concatenate([a, b]))
        part = np.searchsorted(self.offsets, wanted, side="right") - 1
        futures: list[Future] = []
        for p in np.unique(part).tolist():
            rows = wanted[part == p] - self.offsets[p]
            futures.append(self.client.submit(_raw_rows, self.sources[p], rows, pure=False))
        frames = self.client.gather(futures)
        sub = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        return _affinity(sub, np.searchsorted(wanted, a), np.searchsorted(wanted, b))


def _raw_rows(source: Any, rows: np.ndarray) -> pd.DataFrame:
    records = _read(source)
    cols = [c for c in ("title", "authors", "venue", "year") if c in records.columns]
    return records[cols].iloc[rows].reset_index(drop=True)
