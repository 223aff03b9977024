"""Deduplication on a Dask cluster: the groups, pairs and reasons of the single path.

:func:`dedupe_on_cluster` gives the :class:`~synth.corpus.dedupe.DedupeResult` that
:func:`synth.corpus.dedupe.dedupe` gives on the same records in the same order (groups,
kept records, pair rows with their scores and notes, rejected pairs, counts), computed
so that no worker holds more than a partition of records or a bucket of keys or pairs,
and a record's features leave its partition only for the pairs worth scoring:

1. **Features per partition** (workers): each partition of records (a slice of a frame,
   or a Parquet file) gets the single path's per-record features (:func:`_features`,
   :func:`_completeness`), written once to the worker's disk, and its blocking keys:
   DOI and PMID, and 64-bit hashes of the compact title and main title, of the title's
   token groups and of its first and last characters (what :func:`_candidates` and
   :func:`_identifier_pairs` block on), and the sort keys of the two sorted
   neighbourhoods. Records are numbered by their place in the whole input. The client
   gets a few numbers per record back (year, title lengths, the first author's place
   among every partition's sorted first authors), sent once to each worker.
2. **Shuffle of keys** (no features): each (key, record) row goes to the bucket its key
   hashes to; the neighbourhood rows go to buckets by range (splitters sampled from
   every partition), so each bucket holds a contiguous run of the sort. The rows are
   written to the local disk of the worker that made them and read by the task of their
   bucket from its own worker's disk where the file is there (a LocalCluster's workers
   share one), else, from the first file missing on then, by a task on the worker that
   holds them; with two tasks in flight per worker, a worker holds a partition or a
   bucket at a time, never its share of the whole shuffle.
3. **Candidate pairs** (workers): a key bucket runs :func:`_keyed_pairs` per block (big
   blocks walked in first author and year order, as the single path walks them) and
   keeps the identifiers two or more records share; a range bucket pairs its run of each
   neighbourhood; the few neighbourhood pairs that straddle two runs are found on the
   client. Every pair goes to the pair bucket its code hashes to (all its copies in one).
4. **Selection** (workers): a pair bucket counts its distinct candidates, keeps those
   :func:`~synth.corpus.dedupe._worth_scoring` keeps (from the years and lengths alone),
   and asks each partition for the features of just the records of those pairs and of
   its identifier blocks; each partition reads its features once and cuts them so.
5. **Scoring** (workers): a pair bucket runs :func:`_title_pairs` on its pairs and
   :func:`_identifier_pairs` on its identifier blocks, on those records' features.
6. **Groups on the client**: the scored pairs (matches and near misses only) come back,
   in the single path's order, and :func:`_join` (the single path's union-find) and
   :func:`_result_frames` make the groups, so provenance and kept records are the same.

The workers need no shared file system; a worker that leaves mid-run takes its files
with it, and the run fails with an error saying so (nothing is written to a store before
the result is complete: :func:`synth.store.duplicates.refresh_duplicates`).

Two small differences in how blocks are formed, both immaterial on real records: a title
block is keyed by a 64-bit hash of its key (the single path hashes token groups so too,
and keys the others by their text). Two different titles or affixes sharing a hash
(vanishingly rare) would merge their two blocks into one: more candidate pairs and other
blocking counts, and, were the merged block bigger than its window, a true pair possibly
pushed out of the window it is walked in; never a false group, as every candidate is
scored on its records' features as the single path scores it. A big block is walked in
first author then year order (the single path sorts by ``rank(first author) * 10000 +
year + 1``: the same order for every year from 0 to 9998, which
:func:`synth.corpus.normalise.normalise_year` guarantees). Identifiers are compared as
text, as the single path compares them.
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
from collections.abc import Callable, Iterable, Iterator, Sequence
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
    _identifier_pairs,
    _join,
    _keyed_pairs,
    _objects,
    _Pairs,
    _result_frames,
    _sort_bytes,
    _sorted_unique,
    _title_pairs,
    _token_groups,
    _worth_scoring_by_length,
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
#: The columns :func:`_features` reads (the others only the groups' tie-breaker, read
#: from the records themselves when asked).
_FEATURE_COLUMNS = tuple(c for c in _SCORED_COLUMNS if c != "venue")
_COMPLETENESS = "__completeness"
#: Seconds before a read that ran off the worker holding its files (paused) is sent
#: again; doubled at each try, at most 5 s.
RETRY_PAUSE = 0.2
#: Seconds a worker holding files may stay paused, from its first read sent elsewhere,
#: before the run stops: its memory is not coming back, and waiting longer would only
#: hang the command.
RETRY_SECONDS = 120.0
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
    x.name for x in fields(_Features) if x.name not in ("tok_id", "owner", "ids", "vocab")
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
        Rows per partition of a frame at most (the partitions are of even sizes, as
        many for every worker).
    buckets
        How many buckets the blocking keys, and then the candidate pairs, are shuffled
        into (default: one per partition, at least two per worker, a multiple of the
        workers); more buckets, less memory per task.

    Only the ids, completeness and DOIs of the records (one value each, what the groups
    need), a few numbers per record (years, title lengths, first authors' ranks: sent
    once to each worker), the records each pair bucket needs (numbers), and the matched
    or nearly matched pairs come back to this process (and, from a
    :class:`DedupeRecords`, one partition of records at a time on its way out).
    """
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = round(now - clock, 4)
        clock = now

    known = len(client.scheduler_info().get("workers", {}))  # a frame's cut (0: none yet)
    sources, sizes = _sources(records, client, partition_size, max(1, known))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(offsets[-1])
    if n == 0:
        return dedupe(pd.DataFrame({"record_id": pd.Series([], dtype=object)}))

    def partition(k: int, source: Any) -> Any:
        """A store's partition read, a frame's slimmed (:func:`_slim`), when it is sent:
        while the workers featurise the partitions sent before it."""
        if isinstance(source, DedupeRecords):
            return source.partition(k)
        return _slim(source) if isinstance(source, pd.DataFrame) else source

    _check_count(n)
    workers = ready_workers(client)
    n_buckets = buckets or _round_up(max(len(sources), 2 * workers), workers)
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
        ids = _objects([x for p in prepared for x in p.pop("ids")])
        ids_list = ids.tolist()
        if len(set(ids_list)) != n:
            repeated = sorted(k for k, v in Counter(ids_list).items() if v > 1)
            raise ValueError(f"record ids must be unique; repeated: {', '.join(repeated[:5])}")
        completeness = np.concatenate([p.pop("completeness") for p in prepared])
        doi = np.concatenate([p.pop("doi") for p in prepared])
        preprint = np.concatenate([p.pop("preprint") for p in prepared])
        cannot, constrained = _cannot_links(ids_list, cannot_link)
        # what blocking and the first filter read of every record, a few numbers each:
        # sent once to each worker
        # (a list of one: a dict would be scattered as a mapping of its names, under the
        # scheduler-wide keys "year", "length"... that another run on this scheduler
        # would overwrite)
        with _lost_as_cluster_error():  # a worker that left while the arrays went to it
            cheap = client.scatter([_cheap_columns(prepared)], broadcast=True, hash=False)[0]
        for p in prepared:  # used: only the partitions' files are kept
            for name in _CHEAP_INPUTS:
                del p[name]
        lap("features")

        # the neighbourhood buckets: splitters from every partition's sample of sort keys
        samples = sorted(x for p in prepared for x in p.pop("samples"))
        step = len(samples) / n_buckets
        splitters = [samples[int(step * k)] for k in range(1, n_buckets)] if samples else []
        # as many runs as _range_split cuts (one where no record has a title: no samples)
        n_range = len(splitters) + 1
        # one round: the neighbourhood rows split, the key buckets, and the neighbourhood
        # buckets as soon as the splits are done
        n_parts = len(prepared)
        split = range(n_parts)
        keyed = run.each(
            [
                *(
                    lambda p=p: (_range_split, p["neighbourhoods"], splitters, run.name)
                    for p in prepared
                ),
                *(
                    lambda b=b: (
                        _hash_bucket,
                        [p["hashed"][b] for p in prepared],
                        cheap,
                        n_buckets,
                        run.name,
                    )
                    for b in range(n_buckets)
                ),
                *(
                    _Later(
                        split,
                        lambda done, b=b: (
                            _range_bucket,
                            [done[k][b] for k in split],
                            n_buckets,
                            run.name,
                        ),
                    )
                    for b in range(n_range)
                ),
            ]
        )
        hashed = keyed[n_parts : n_parts + n_buckets]
        in_range = keyed[n_parts + n_buckets :]
        crossing, cross_counts = _crossing_pairs([r.pop("edges") for r in in_range])
        crossing_parts = _hash_split(crossing, n_buckets)
        blocked = [*hashed, *in_range]
        # each candidate pair in one bucket: counted and filtered once, and the records of
        # the pairs worth scoring asked of their partitions
        selected = run.each(
            [
                lambda s=s: (
                    _select,
                    [r["pairs"][s] for r in blocked if r["pairs"][s]],
                    crossing_parts[s],
                    cheap,
                    threshold,
                    offsets,
                    run.name,
                )
                for s in range(n_buckets)
            ]
        )
        cut = run.each(
            [
                lambda k=k, p=p: (
                    _cut,
                    p["features"],
                    [sel["needs"][k] for sel in selected],
                    run.name,
                )
                for k, p in enumerate(prepared)
            ]
        )
        where = np.flatnonzero(constrained)
        results = run.each(
            [
                lambda s=s: (
                    _score_bucket,
                    selected[s]["work"],
                    [c[s] for c in cut if c[s]],
                    where,
                    threshold,
                )
                for s in range(n_buckets)
            ]
        )
    finally:
        run.close()
        if isinstance(records, DedupeRecords):
            records.close()
    lap("pairs")

    counts: dict[str, int] = {"records": n}
    for name in [*_TITLE_KINDS.values(), *_NEIGHBOURHOODS]:
        counts[f"blocking_{name}"] = sum(r["counts"].get(name, 0) for r in blocked)
    for name in _NEIGHBOURHOODS:
        counts[f"blocking_{name}"] += cross_counts[name]
    counts["candidates"] = sum(s["candidates"] for s in selected)
    counts["scored"] = sum(s["scored"] for s in selected)
    doi_ok, doi_bad = _identifier_parts(results, "doi")
    pmid_ok, pmid_bad = _identifier_parts(results, "pmid")
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
    workers: int = 1,
) -> tuple[list[Any], list[int]]:
    """The partitions and their sizes: slices of a frame (slimmed and sent with the task
    that reads them: as many as it takes to hold at most ``partition_size`` rows each, rounded up to
    a multiple of ``workers``, so that every worker gets as many), a store's (read when
    sent), or Parquet paths (read by the workers)."""
    if isinstance(records, DedupeRecords):
        sizes = records.sizes()
        return [records] * len(sizes), sizes
    if isinstance(records, pd.DataFrame):
        if "record_id" not in records.columns:
            raise KeyError("records need a record_id column")
        count = _round_up(-(-len(records) // max(1, int(partition_size))), workers)
        size = max(1, -(-len(records) // max(1, count)))
        chunks = [records.iloc[k : k + size] for k in range(0, len(records), size)] or [records]
        return chunks, [len(c) for c in chunks]
    paths = [str(p) for p in records]
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"no Parquet file of records at {', '.join(missing[:3])}")
    return paths, client.gather([client.submit(_size, p, pure=False) for p in paths])


def _slim(records: pd.DataFrame) -> pd.DataFrame:
    """Only the columns the features read (a list of authors cut to its first name, all
    :func:`_features` reads of it), and each record's completeness (the only use of the
    other fields): a fraction of the records to send."""
    slim = records[[c for c in _FEATURE_COLUMNS if c in records.columns]].copy()
    if "authors" in slim.columns:
        slim["authors"] = [_first_name(v) for v in slim["authors"].tolist()]
    slim[_COMPLETENESS] = _completeness(records)
    return slim


def _first_name(authors: Any) -> Any:
    """What :func:`_features` reads of a record's authors: a list's first name as text
    (read as the first name of a text of names cut at ';', which it then is) or, with a
    ';' in it, in a list of its own; anything else as it is. No new list per record: a
    list is an object Python's garbage collector tracks, and the client holds every
    record's lists (a full collection walks them all)."""
    if type(authors) is list and authors and type(authors[0]) is str:
        first = authors[0]
        return first if ";" not in first else [first]
    return authors


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
    """One partition's features (written once to the worker's disk), its blocking keys by
    hash bucket and its neighbourhood rows sorted (written there too, without features),
    with a sample of their sort keys, the few numbers per record blocking and the first
    filter read (years, title lengths, first authors), and what the client keeps."""
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

    title, ident = _block_entries(f, idx)
    title_parts = _by_bucket(title, _bucket_of(title["key"], n_buckets), n_buckets)
    ident_parts = _by_bucket(ident, _bucket_of(ident["hash"], n_buckets), n_buckets)
    out: dict[str, Any] = {
        "hashed": [_spill(run, parts) for parts in zip(title_parts, ident_parts, strict=True)]
    }

    nb = _neighbourhood_entries(f, idx)
    nb = _in_sort_order(nb)
    rows = len(nb["idx"])
    every = max(1, rows // max(1, n_samples))
    out["samples"] = [
        (int(nb["kind"][k]), bytes(nb["key"][k]), int(nb["idx"][k])) for k in range(0, rows, every)
    ]
    out["neighbourhoods"] = _spill(run, nb)
    out["features"] = _spill(run, _packed(feats))
    family_code, family_names = pd.factorize(f.family, sort=True)
    out.update(
        ids=f.ids,
        completeness=feats["completeness"],
        doi=f.doi,
        preprint=f.preprint,
        year=f.year,
        length=np.fromiter((len(t) for t in f.norm), np.int64, n),
        main_len=np.fromiter((len(t) for t in f.main), np.int64, n),
        family_code=family_code.astype(np.int64),
        family_names=_objects(list(family_names)),
    )
    return out


#: What :func:`_cheap_columns` reads of each partition's numbers (dropped once read).
_CHEAP_INPUTS = ("year", "length", "main_len", "family_code", "family_names")


def _cheap_columns(prepared: list[dict[str, Any]]) -> _Cols:
    """Every record's year, title and main title lengths and the order it takes inside a
    big block (first author's family, then year: the single path's ``secondary``), from
    each partition's: a global rank of the families from each partition's sorted ones."""
    names = np.unique(np.concatenate([p["family_names"] for p in prepared]))
    rank = np.concatenate(
        [np.searchsorted(names, p["family_names"])[p["family_code"]] for p in prepared]
    ).astype(np.int64)
    year = np.concatenate([p["year"] for p in prepared]).astype(np.int64)
    return {
        "secondary": rank * 10_000 + (year + 1),
        "year": year,
        "length": np.concatenate([p["length"] for p in prepared]),
        "main_len": np.concatenate([p["main_len"] for p in prepared]),
    }


#: The most records a run takes: a pair is coded ``a << 32 | b`` in an int64, so record
#: numbers must stay below its sign bit (2**31).
MAX_RECORDS = 2**31


def _check_count(n: int) -> None:
    if n > MAX_RECORDS:
        raise ValueError(
            f"{n:,} records: the cluster's pair codes hold at most 2**31 "
            f"({MAX_RECORDS:,}) records in one deduplication"
        )


def _pair_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairs of record numbers (each below :data:`MAX_RECORDS`) coded ``a << 32 | b``, as
    given (``a`` the lower of each pair where it matters: nothing is swapped or dropped,
    unlike :func:`synth.corpus.dedupe._codes`): non-negative int64s, :func:`_pair_of`
    undoes it."""
    return (np.asarray(a, dtype=np.int64) << 32) | np.asarray(b, dtype=np.int64)


def _pair_of(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return codes >> 32, codes & 0xFFFFFFFF


def _round_up(value: int, step: int) -> int:
    return -(-value // max(1, step)) * max(1, step)


def _bucket_of(hashes: np.ndarray, n: int) -> np.ndarray:
    """The bucket of each 64-bit hash (its high bits: the low ones carry a salt)."""
    h = (hashes.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    return (h % np.uint64(n)).astype(np.int64)


def _range_split(nb: _Cols, splitters: list[tuple[int, bytes, int]], run: str) -> list[_Spilled]:
    """A partition's neighbourhood rows cut by the splitters."""
    # the rows are sorted: each bucket is the run between two splitters
    keys = list(zip(nb["kind"].tolist(), nb["key"].tolist(), nb["idx"].tolist(), strict=True))
    cuts = [0, *(bisect.bisect_left(keys, s) for s in splitters), len(keys)]
    return [_spill(run, _take(nb, slice(cuts[b], cuts[b + 1]))) for b in range(len(splitters) + 1)]


def _take(cols: _Cols, sel: np.ndarray | slice) -> _Cols:
    return {k: v[sel] for k, v in cols.items()}


def _by_bucket(cols: _Cols, bucket: np.ndarray, n: int) -> list[_Cols]:
    """The rows of each bucket, in their order (one sort, then slices: not a mask per
    bucket)."""
    order = np.argsort(bucket, kind="stable")
    cuts = np.searchsorted(bucket[order], np.arange(n + 1))
    rows = _take(cols, order)
    return [_take(rows, slice(cuts[b], cuts[b + 1])) for b in range(n)]


def _packed(cols: _Cols) -> dict[str, Any]:
    """Columns to spill: each array of strings as an Arrow array (its buffers are written
    and read as they are, and rows taken from it in C), where pickling an object array
    builds and reads every string one by one. :func:`_unpacked` undoes it."""
    import pyarrow as pa

    out: dict[str, Any] = {}
    for name, values in cols.items():
        if values.dtype == object:
            # else kept as is (a lone surrogate: UnicodeEncodeError)
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
                values = pa.array(values, type=pa.large_string())
        out[name] = values
    return out


def _take_packed(cols: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """Rows of packed columns (:func:`_packed`), still packed."""
    return {k: v[rows] if isinstance(v, np.ndarray) else v.take(rows) for k, v in cols.items()}


def _unpacked(cols: dict[str, Any]) -> _Cols:
    """Packed columns (:func:`_packed`) as numpy arrays again (strings as object arrays)."""
    return {
        k: v if isinstance(v, np.ndarray) else v.to_numpy(zero_copy_only=False)
        for k, v in cols.items()
    }


def _concat(parts: list[_Cols]) -> _Cols:
    parts = [p for p in parts if p]
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _hash_strings(values: list[str], salt: int) -> np.ndarray:
    """64-bit hashes of strings (the same in every process), salted by kind."""
    if not values:
        return np.zeros(0, dtype=np.uint64)
    h = _hash_texts(values)
    return h * np.uint64(0x100000001B3) + np.uint64(salt)


def _hash_texts(values: list[str]) -> np.ndarray:
    """Pandas' 64-bit hashes of strings (UTF-8); a string with a lone surrogate (text
    decoded with ``surrogateescape``, which UTF-8 cannot encode) is hashed as its
    ``surrogatepass`` bytes read as Latin-1: the same hash for it in every process."""
    try:
        return pd.util.hash_array(_objects(values), categorize=False)
    except UnicodeEncodeError:
        return pd.util.hash_array(_objects([_encodable(v) for v in values]), categorize=False)


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("latin-1")
    return value


def _block_entries(f: _Features, idx: np.ndarray) -> tuple[_Cols, _Cols]:
    """The rows of the keys :func:`_candidates` blocks on, (kind, key, order, record),
    and of the identifiers :func:`_identifier_pairs` blocks on, (kind, key, hash,
    record). Title keys are 64-bit hashes (of the compact title, main title, their first
    and last characters, and of each token group's token hashes as the single path
    hashes its token ids). ``order`` and the record's number give the place the single
    path's arrays give a row within a block (full titles before main titles, token groups
    in the order they are dealt)."""
    b = dedupe_rules()["blocking"]
    affix, parts = int(b["affix_chars"]), int(b["token_groups"])
    norm, main = f.norm.tolist(), f.main.tolist()
    titled = [k for k, t in enumerate(norm) if t]
    with_main = [k for k, t in enumerate(main) if t]
    compact = [norm[k].replace(" ", "") for k in titled]
    main_compact = [main[k].replace(" ", "") for k in with_main]
    rows: list[np.ndarray] = []
    keys: list[np.ndarray] = []
    kinds: list[int] = []
    orders: list[int] = []

    def add(kind: int, order: int, where: list[int] | np.ndarray, key: np.ndarray) -> None:
        rows.append(np.asarray(where, dtype=np.int64))
        keys.append(key)
        kinds.append(kind)
        orders.append(order)

    add(_EXACT, 0, titled, _hash_strings(compact, _EXACT))
    add(_EXACT, 1, with_main, _hash_strings(main_compact, _EXACT))
    add(_START, 0, titled, _hash_strings([t[:affix] for t in compact], _START))
    add(_START, 1, with_main, _hash_strings([t[:affix] for t in main_compact], _START))
    add(_END, 0, titled, _hash_strings([t[-affix:] for t in compact], _END))
    add(_END, 1, with_main, _hash_strings([t[-affix:] for t in main_compact], _END))
    if len(f.tok_id):
        # each token's hash stands for its id: the single path's group hash, the same in
        # every partition
        tok = _hash_texts(list(f.vocab))[f.tok_id]
        for slot, owner, key in _token_groups(f, parts, tok):
            add(_TOKENS, slot, owner, key)
    title = {
        "kind": np.concatenate(
            [np.full(len(r), k, dtype=np.int8) for k, r in zip(kinds, rows, strict=True)]
        ),
        "key": np.concatenate(keys).astype(np.uint64),
        "order": np.concatenate(
            [np.full(len(r), o, dtype=np.int8) for o, r in zip(orders, rows, strict=True)]
        ),
        "idx": idx[np.concatenate(rows)],
    }
    doi, pmid = f.doi.tolist(), f.pmid.tolist()
    with_doi = [k for k, d in enumerate(doi) if d]
    with_pmid = [k for k, x in enumerate(pmid) if x]
    dois, pmids = [doi[k] for k in with_doi], [pmid[k] for k in with_pmid]
    ident = {
        "kind": np.r_[np.full(len(dois), _DOI, np.int8), np.full(len(pmids), _PMID, np.int8)],
        "key": _objects(dois + pmids),
        "hash": np.r_[_hash_strings(dois, _DOI), _hash_strings(pmids, _PMID)].astype(np.uint64),
        "idx": idx[np.array(with_doi + with_pmid, dtype=np.int64)],
    }
    return title, ident


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


#: Runs closed in this process (their folders removed: a task still running after its
#: run failed writes nothing more). Names only, the last few hundred.
_CLOSED_RUNS: dict[str, None] = {}
_CLOSED_KEPT = 512


def _this_worker() -> Any:
    from distributed import get_worker

    try:
        return get_worker()
    except ValueError:  # not in a worker's task
        return None


def _spill(run: str, value: Any) -> _Spilled:
    """``value`` pickled into this worker's folder for the run (nothing, once the run is
    closed: a task that outlives its failed run leaves no file behind)."""
    worker = _this_worker()
    folder = _run_folder(run, worker)
    path = folder / f"{uuid.uuid4().hex}.pkl"
    spilled = _Spilled(worker.address if worker is not None else "", str(path))
    if run in _CLOSED_RUNS:
        return spilled
    folder.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
    if run in _CLOSED_RUNS:  # closed while writing: its removal may have come first
        shutil.rmtree(folder, ignore_errors=True)
    return spilled


def _read_spilled(path: str) -> bytes:
    """One spilled file's bytes, from this worker's disk."""
    with open(path, "rb") as fh:
        return fh.read()


def _read_files(spilled: list[_Spilled]) -> list[bytes]:
    """Spilled values' pickled bytes (on this worker, or on one whose disk this one
    shares: a LocalCluster's): they travel to the task that needs them as they are, and
    are unpickled only there (:func:`_call`). Run by the scheduler on a worker of another
    host (the holder paused, its memory full) where the file is not, it raises
    :class:`_Elsewhere`, and the task is sent again."""
    return _read_here(spilled, _Elsewhere)


#: marks an argument read from workers' files: (marker, one value or a list, places, bytes)
_GATHERED = "synth-dedupe-gathered"
#: marks an argument the task reads itself: (marker, one value or a list, spilled values)
_IN_PLACE = "synth-dedupe-in-place"


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
        if isinstance(arg, tuple) and len(arg) == 3 and arg[0] == _IN_PLACE:
            _, one, spilled = arg
            values = [pickle.loads(blob) for blob in _read_in_place(spilled)]
            return values[0] if one else values
        return arg

    try:
        values = [unpickled(arg) for arg in args]
    except _NotHere as exc:  # answered, not raised: a raised error is logged by its worker
        return _Redirect(exc.args[0])
    return fn(*values)


@dataclass(frozen=True)
class _Redirect:
    """What a task answers when another worker's file is not on its disk (workers on
    several machines, :class:`_NotHere`): the run reads through the holders from then on.
    An answer rather than an error, so each worker's log does not show a "Compute Failed"
    block for a read that goes on as planned."""

    holder: str


def _read_in_place(spilled: list[_Spilled]) -> list[bytes]:
    """Spilled values' bytes read by the task that needs them, from the disk of the worker
    running it (on a LocalCluster, or workers sharing a machine, every worker's files are
    there). A file of another worker that is not here raises :class:`_NotHere`: the
    run reads its files through the workers holding them from then on
    (:func:`_read_files`)."""
    return _read_here(spilled, _NotHere)


def _read_here(spilled: list[_Spilled], elsewhere: type[Exception]) -> list[bytes]:
    """Spilled values' bytes from this worker's disk. A file that is not there: a closed
    run's (:class:`_Closed`), another worker's on another disk (``elsewhere``, with that
    worker's address: the caller reads it through its holder), or one whose worker left
    the cluster (:class:`_Gone`)."""
    worker = _this_worker()
    here = worker.address if worker is not None else ""
    out = []
    for item in spilled:
        try:
            out.append(_read_spilled(item.path))
        except FileNotFoundError:
            run = Path(item.path).parent.name.removeprefix("synth-dedupe-")
            if run in _CLOSED_RUNS:
                raise _Closed(f"dedupe: run {run} is closed: its files are removed") from None
            if item.address and here != item.address:
                raise elsewhere(item.address) from None
            raise _Gone(
                f"dedupe: {item.path} of worker {item.address} is gone: the worker that "
                "wrote it left the cluster; run the deduplication again"
            ) from None
    return out


def _remove_run_folder(run: str, dask_worker: Any = None) -> None:
    """Remove the run's folder (``Client.run`` passes each worker as ``dask_worker``)."""
    shutil.rmtree(_run_folder(run, dask_worker), ignore_errors=True)


def _close_run(run: str, dask_worker: Any = None) -> None:
    """Mark the run closed in this process (its tasks still running write no more), then
    remove its folder."""
    _CLOSED_RUNS[run] = None
    while len(_CLOSED_RUNS) > _CLOSED_KEPT:
        del _CLOSED_RUNS[next(iter(_CLOSED_RUNS))]
    _remove_run_folder(run, dask_worker)


class _Gone(RuntimeError):
    """A worker's shuffle file is gone with the worker that wrote it."""


class _Closed(RuntimeError):
    """A task of a closed run (it failed) asked for files already removed."""


class _NotHere(RuntimeError):
    """A task found another worker's spilled file missing from its own disk (workers on
    several machines): read through the holder instead. ``args[0]`` is the holder. Never
    leaves the task: :func:`_call` answers it as a :class:`_Redirect`."""


class _Elsewhere(RuntimeError):
    """Spilled files asked of a worker other than the one holding them (the holder was
    paused, or busy, and the scheduler sent the read elsewhere): worth sending again
    while the holder is in the cluster. ``args[0]`` is the holder's address."""


_LOST = (
    "deduplication stopped: a Dask worker was lost ({exc}); nothing was written: run it "
    "again (a worker that runs out of memory dies so: try smaller partitions)"
)
_PAUSED = (
    "deduplication stopped: the Dask worker {worker}, which holds part of the run's "
    "shuffle files, stayed paused for over {seconds:g} s (its memory full); nothing was "
    "written: run it again with smaller partitions or more memory per worker"
)


def _lost_errors() -> tuple[type[BaseException], ...]:
    """What a task's result raises when a worker left with what the task needed: killed,
    its data forgotten (a cancelled future), its connection closed, its files gone."""
    from concurrent.futures import CancelledError

    from distributed import KilledWorker
    from distributed.comm import CommClosedError

    return (KilledWorker, _Gone, CancelledError, CommClosedError)


def _lost_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def _lost_as_cluster_error() -> Iterator[None]:
    try:
        yield
    except _lost_errors() as exc:
        raise ClusterError(_LOST.format(exc=_lost_text(exc))) from None


@dataclass(frozen=True)
class _Later:
    """A call of :meth:`_Run.each` that waits for others of the same round (by place):
    ``build`` gives its function and arguments from the round's results."""

    waits: range
    build: Callable[[list[Any]], tuple[Any, ...]]


class _Run:
    """One deduplication's tasks: at most ``limit`` in flight (so a worker holds a bucket
    or two at a time, not the shuffle), each :class:`_Spilled` argument read by the task
    from its own worker's disk (or, once a file was not there, by a task on the worker
    that wrote it), each partition of a frame sent when its task is; the files removed
    by :meth:`close`."""

    def __init__(self, client: Client, name: str, limit: int) -> None:
        self.client, self.name, self.limit = client, name, max(1, limit)
        self.in_flight: dict[str, Future] = {}
        #: whether a task reads spilled files itself (True until one is not on its
        #: worker's disk), not through a read task on the worker holding them
        self.in_place = True

    def each(self, calls: Sequence[Callable[[], tuple[Any, ...]] | _Later]) -> list[Any]:
        """The results of ``calls`` (each gives a function and its arguments), in order;
        a :class:`_Later` call is sent, in its turn, once the calls it waits for are done
        (no barrier between it and the others)."""
        from distributed import as_completed

        for k, call in enumerate(calls):  # sent in order: a call waits only for earlier ones
            if isinstance(call, _Later) and not (
                len(call.waits) == 0 or (call.waits.start >= 0 and max(call.waits) < k)
            ):
                raise ValueError(f"call {k} waits for {call.waits}: only earlier calls")
        results: list[Any] = [None] * len(calls)
        finished: set[int] = set()
        queue = 0  # the next call to send
        pending: dict[str, tuple[int, Any, list[Any]]] = {}
        tries: Counter[int] = Counter()
        paused_since: dict[str, float] = {}  # holder -> its first read sent elsewhere
        done = as_completed()

        def send(k: int, fn: Any, args: list[Any]) -> None:
            with _lost_as_cluster_error():  # a partition scattered to a worker that left
                sent = list(map(self._read, args))
                future = self.client.submit(_call, fn, *sent, pure=False)
            pending[future.key] = (k, fn, args)
            self.in_flight[future.key] = future
            done.add(future)

        def top_up() -> None:
            nonlocal queue
            while len(pending) < self.limit and queue < len(calls):
                call = calls[queue]
                if isinstance(call, _Later):
                    if not finished.issuperset(call.waits):
                        return  # sent when they are done (they are in flight)
                    fn, *args = call.build(results)
                else:
                    fn, *args = call()
                send(queue, fn, args)
                queue += 1

        top_up()
        for future in done:
            k, fn, args = pending.pop(future.key)
            del self.in_flight[future.key]
            # the error read as a value, not raised here: a raised error's traceback
            # would hold this frame (the calls, their arguments, the futures of the
            # run) for as long as the client keeps the failed task's error
            with _lost_as_cluster_error():
                error = future.exception()
            if error is None:
                with _lost_as_cluster_error():
                    result = future.result()
                del future
                if isinstance(result, _Redirect):  # workers on several machines
                    log.info("dedupe: %s's files are not on every worker's disk", result.holder)
                    self.in_place = False
                    send(k, fn, args)
                    continue
                results[k] = result
                finished.add(k)
                top_up()
                continue
            if not isinstance(error, (_Elsewhere, *_lost_errors())):
                future.result()  # the task's own error, raised with its worker's traceback
            del future
            if isinstance(error, _Elsewhere):  # a read ran off its holder: again, if here
                holder = error.args[0]
                error.__traceback__ = None
                del error
                since = paused_since.setdefault(holder, time.monotonic())
                if time.monotonic() - since > RETRY_SECONDS:
                    raise ClusterError(_PAUSED.format(worker=holder, seconds=RETRY_SECONDS))
                if not self._retry(holder, tries[k]):
                    raise ClusterError(_LOST.format(exc=f"{holder} left"))
                tries[k] += 1
                send(k, fn, args)
                continue
            # the run stops; the store is not touched
            raise ClusterError(_LOST.format(exc=_lost_text(error))) from None
        if len(finished) < len(calls):  # a _Later never sent: a bug, never a short result
            raise RuntimeError(f"dedupe: calls {sorted(set(range(len(calls))) - finished)} not run")
        return results

    def _retry(self, holder: str, tries: int) -> bool:
        """Whether a read that ran off ``holder`` is worth sending again (the holder is
        still in the cluster), after a pause growing with ``tries`` (a paused worker
        takes its reads again once it has room)."""
        workers = self.client.scheduler_info().get("workers", {})
        if holder not in workers:
            return False
        log.info("dedupe: a read ran off %s, which holds its files (paused?): sent again", holder)
        time.sleep(min(RETRY_PAUSE * 2**tries, 5.0))
        return True

    def _read(self, arg: Any) -> Any:
        """A task's argument as it is sent: spilled values (alone or a list of them) read
        by the task itself (:func:`_read_in_place`) or, once a file was not where the
        task ran, by one task per worker holding some; partitions of a frame scattered."""
        if isinstance(arg, _Spilled):
            if self.in_place:
                return (_IN_PLACE, True, [arg])
            return (_GATHERED, True, *self._gather([arg]))
        if isinstance(arg, list) and arg and all(isinstance(x, _Spilled) for x in arg):
            if self.in_place:
                return (_IN_PLACE, False, arg)
            return (_GATHERED, False, *self._gather(arg))
        if isinstance(arg, pd.DataFrame):  # a partition: sent to a worker, not in the graph
            # not hashed: Dask would name it by a token of its contents, pickling a frame
            # of lists (authors) twice to check the pickle is stable (about 1 s of the
            # client's CPU at 100,000 records)
            return self.client.scatter(arg, hash=False)
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
        """Cancel the tasks still in flight (after a failure), mark the run closed on
        every worker (a task still running writes no more) and remove its files."""
        if self.in_flight:
            with contextlib.suppress(Exception):
                self.client.cancel(list(self.in_flight.values()))
            self.in_flight.clear()
        try:
            self.client.run(_close_run, self.name)
        except Exception as exc:  # a worker gone: its folder went with it, or stays
            log.warning("dedupe: could not remove every worker's shuffle files (%s)", exc)
        _close_run(self.name)


# -- buckets (workers) -----------------------------------------------------------------------


def _local_features(feats: _Cols) -> _Features:
    """The single path's features for a bucket's records (sorted by their number)."""
    empty = np.zeros(0, dtype=np.int64)
    # a record's number stands for its id: scoring never reads the ids
    arrays = {name: feats[name] for name in _RECORD_FIELDS}
    return _Features(ids=feats["idx"], **arrays, tok_id=empty, owner=empty)


def _hash_bucket(
    pieces: list[tuple[_Cols, _Cols]], cheap: _Cols, n_select: int, run: str
) -> dict[str, Any]:
    """The title pairs of the blocks whose keys hashed to this bucket, and its
    identifiers held by two or more records, by the bucket that selects them."""
    title = _concat([p[0] for p in pieces])
    ident = _concat([p[1] for p in pieces])
    rules = dedupe_rules()["blocking"]
    codes, counts = [], {}
    for kind, name in _TITLE_KINDS.items():
        if not title:
            counts[name] = 0
            continue
        sel = title["kind"] == kind
        ent, keys, order = title["idx"][sel], title["key"][sel], title["order"][sel]
        place = np.lexsort((ent, order))  # the single path's order of rows within a block
        ent, keys = ent[place], keys[place]
        window = int(rules["window"] if kind == _EXACT else rules["token_window"])
        found = _keyed_pairs(ent, keys, cheap["secondary"][ent], window)
        counts[name] = len(found)
        codes.append(found)
    pairs = _hash_split(np.concatenate(codes) if codes else _NO_CODES, n_select)
    blocks = _identifier_blocks(ident, n_select)
    return {"counts": counts, "pairs": _spill_parts(run, pairs, blocks)}


_NO_CODES = np.zeros(0, dtype=np.int64)


def _identifier_blocks(ident: _Cols, n: int) -> list[_Cols]:
    """The identifier rows of keys two or more records hold, by the bucket their key
    goes to (all of a key's rows in one)."""
    if not ident or not len(ident["idx"]):
        return [{} for _ in range(n)]
    shared = np.zeros(len(ident["idx"]), dtype=bool)
    for kind in (_DOI, _PMID):
        sel = np.flatnonzero(ident["kind"] == kind)
        if len(sel):
            code = pd.factorize(ident["key"][sel])[0]
            shared[sel] = np.bincount(code)[code] > 1
    ident = _take(ident, shared)
    return _by_bucket(ident, _bucket_of(ident["hash"] + np.uint64(1), n), n)


def _spill_parts(run: str, pairs: list[np.ndarray], blocks: list[_Cols] | None = None) -> list:
    """Each selecting bucket's share (None: nothing for it)."""
    out: list[_Spilled | None] = []
    for s, codes in enumerate(pairs):
        block = blocks[s] if blocks else {}
        has_block = bool(block) and len(block["idx"]) > 0
        out.append(_spill(run, (codes, block)) if len(codes) or has_block else None)
    return out


def _range_bucket(pieces: list[_Cols], n_select: int, run: str) -> dict[str, Any]:
    """Title pairs of a run of both sorted neighbourhoods, and the run's first and last
    rows (for the pairs across runs)."""
    entries = _concat(pieces)
    window = int(dedupe_rules()["blocking"]["neighbourhood_window"])
    if not entries:
        return {"counts": {}, "pairs": [None] * n_select, "edges": {"runs": {}}}
    entries = _in_sort_order(entries)
    codes, counts, runs = [], {}, {}
    for kind, name in enumerate(_NEIGHBOURHOODS):
        ent = entries["idx"][entries["kind"] == kind]
        found = _keyed_pairs(ent, np.zeros(len(ent), dtype=np.int64), np.arange(len(ent)), window)
        counts[name] = len(found)
        codes.append(found)
        runs[name] = (len(ent), ent[: window - 1], ent[-(window - 1) :] if len(ent) else ent)
    pairs = _hash_split(np.concatenate(codes), n_select)
    return {"counts": counts, "pairs": _spill_parts(run, pairs), "edges": {"runs": runs}}


def _crossing_pairs(edges: list[dict[str, Any]]) -> tuple[np.ndarray, dict[str, int]]:
    """The neighbourhood pairs whose records fall in two runs (client: a few rows per run)."""
    window = int(dedupe_rules()["blocking"]["neighbourhood_window"])
    lo: list[int] = []
    hi: list[int] = []
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
                    lo.append(min(x, y))
                    hi.append(max(x, y))
                    found += 1
        counts[name] = found
    return _pair_codes(np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)), counts


def _select(
    pieces: list[tuple[np.ndarray, _Cols]],
    crossing: np.ndarray,
    cheap: _Cols,
    threshold: float,
    offsets: np.ndarray,
    run: str,
) -> dict[str, Any]:
    """One bucket of candidate pairs (every copy of a pair comes here): the distinct
    candidates and those worth scoring counted, and the records those and the bucket's
    identifier blocks need, by partition (rows within it)."""
    codes = _sorted_unique(np.concatenate([*(p[0] for p in pieces), crossing]).astype(np.int64))
    a, b = _pair_of(codes)
    keep = _worth_scoring_by_length(
        cheap["year"], cheap["length"], cheap["main_len"], a, b, threshold
    )[0]
    scored = codes[keep]
    blocks = _concat([p[1] for p in pieces])
    members = blocks["idx"] if blocks else _NO_CODES
    needed = _sorted_unique(np.concatenate([a[keep], b[keep], members]))
    cuts = np.searchsorted(needed, offsets)
    needs = [
        (needed[cuts[k] : cuts[k + 1]] - offsets[k]).astype(np.int64)
        for k in range(len(offsets) - 1)
    ]
    return {
        "candidates": len(codes),
        "scored": len(scored),
        "needs": needs,
        "work": _spill(run, (scored, blocks)),
    }


def _cut(feats: _Cols, needs: list[np.ndarray], run: str) -> list[_Spilled | None]:
    """A partition's features (:func:`_packed`) of the records each selecting bucket
    needs, packed as they came."""
    return [_spill(run, _take_packed(feats, rows)) if len(rows) else None for rows in needs]


def _score_bucket(
    work: tuple[np.ndarray, _Cols], pieces: list[_Cols], constrained: np.ndarray, threshold: float
) -> dict[str, Any]:
    """The bucket's pairs worth scoring, scored (:func:`_title_pairs`), and its
    identifier blocks' pairs (:func:`_identifier_pairs`), on the features of their
    records only (partitions in order: sorted by number)."""
    scored, blocks = work
    feats = _concat([_unpacked(p) for p in pieces])
    out: dict[str, Any] = {}
    empty = _pair_cols(_Pairs.empty(""), _NO_CODES)
    out["title"] = {"accepted": empty, "rejected": empty}
    for rule in ("doi", "pmid"):
        out[rule] = [dict(empty, group_first=_NO_CODES)] * 2
    if not feats:
        return out
    f = _local_features(feats)
    number = feats["idx"]
    if blocks and len(blocks["idx"]):
        completeness = feats["completeness"]
        local_constrained = np.isin(number, constrained)
        for kind, rule in ((_DOI, "doi"), (_PMID, "pmid")):
            sel = blocks["kind"] == kind
            key = _objects([""] * len(f))
            key[np.searchsorted(number, blocks["idx"][sel])] = blocks["key"][sel]
            ok, bad = _identifier_pairs(f, key, rule, completeness, local_constrained)
            first: dict[str, int] = {}
            for k in np.flatnonzero(key != "").tolist():
                first.setdefault(key[k], int(number[k]))
            out[rule] = [
                _pair_cols(
                    p,
                    number,
                    group_first=np.array([first[key[a]] for a in p.a.tolist()], dtype=np.int64),
                )
                for p in (ok, bad)
            ]
    if len(scored):
        a, b = _pair_of(scored)
        ok, bad = _title_pairs(
            f, _pair_codes(np.searchsorted(number, a), np.searchsorted(number, b)), threshold, {}
        )
        out["title"] = {"accepted": _pair_cols(ok, number), "rejected": _pair_cols(bad, number)}
    return out


def _hash_split(codes: np.ndarray, n: int) -> list[np.ndarray]:
    """Pair codes by the bucket they hash to (every copy of a pair in one)."""
    return [part["code"] for part in _by_bucket({"code": codes}, _bucket_of(codes, n), n)]


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
    code = _pair_codes(cols["a"], cols["b"])
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
