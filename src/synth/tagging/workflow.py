"""Tag a review store end to end: the one function the CLI and the notebooks call.

Reads records, extracts and full texts from the store, runs the rule tagger, refines its
output with the learnable layer (model rows beside the rule rows, trained on reviewers'
verdicts and the rules' confident output), assesses the review's criteria, suggests
decisions, and stores all of it as one tagging run.

When no facet is refined (the default: ``synth/data/refine.yml``), the run streams: the
store's records (and their full texts) are read a chunk at a time by key, listed once up
front (:class:`synth.store.records.StoreRecords`), on one machine :data:`CHUNK_RECORDS` at a
time as the tagger's workers take them, on a cluster a partition at a time as sent to the
workers, each chunk's rows taken as they come back, in order; a chunk is judged against the
review's criteria where it was tagged (here on one machine, on its worker on a cluster:
:func:`synth.tagging.criteria.judge_chunk`) and written to the run (:class:`_Chunks`,
:class:`synth.store.tags.TaggingWriter`), then dropped, so no step holds every record or
every record's tags (200,000 records' tags and evidence took 8 GB). What the criteria
need from the whole corpus (a criterion judged by similarity to its wording weighs its
words by their inverse document frequency over every record's sentences) is counted
first, only when a criterion has no cues, a chunk at a time as the tagging reads them
(on a cluster on the workers, a small count back per partition), the counts summed into
the words' weights, and each chunk scored with them where it is judged
(:class:`synth.tagging.criteria.SimilarityCriteria`); the stored run is the one the
whole path stores, row for row.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import sqlite3
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from synth.fulltext.passages import add_pages, tagger_inputs
from synth.review import NO_REVIEW_NOTE, find_review, review_for
from synth.store.db import id_chunks
from synth.store.tags import TaggingWriter, load_overrides, save_tagging
from synth.store.views import load_extracts, load_fulltexts, load_records

log = logging.getLogger(__name__)


#: Records read, tagged, judged and written at a time on the streaming path
#: (:func:`tag_store`): enough for the tagger's batches and worker processes (started
#: once for the run) to run at full speed, few enough that a chunk's records, tags and
#: evidence (about 80,000 rows) stay small.
CHUNK_RECORDS = 10_000


@dataclass
class TagSummary:
    """What ``synth tag`` prints of a run, counted as its rows are written (a chunk at a
    time when it streams), whatever the number of records: rule rows per facet and label
    (a row per record and label), rule rows and the records they are on, the records
    whose text looks non-English (the tagger's ``notes``: tagged all the same), and the
    decisions suggested (None: no criteria judged)."""

    labels: dict[tuple[str, str], int] = field(default_factory=dict)
    tags: int = 0
    records: int = 0
    decisions: dict[str, int] | None = None
    #: records whose text looks non-English (``tags.attrs["notes"]`` of each chunk)
    notes: int = 0

    @classmethod
    def of(cls, tags: pd.DataFrame, suggestions: pd.DataFrame | None) -> TagSummary:
        """The summary of a run's rule rows and suggestions."""
        out = cls(decisions=None if suggestions is None else {})
        out.add(tags, suggestions)
        return out

    def add(self, tags: pd.DataFrame, suggestions: pd.DataFrame | None) -> None:
        """Count one chunk's rule rows, its notes (``tags.attrs["notes"]``: records
        whose text looks non-English) and suggestions (a chunk's records are no other
        chunk's)."""
        self.notes += len(tags.attrs.get("notes") or ())
        if len(tags):
            sizes = tags.groupby(["facet", "label"], observed=True, sort=False).size()
            for (facet, label), n in sizes.items():
                key = (str(facet), str(label))
                self.labels[key] = self.labels.get(key, 0) + int(n)
            self.tags += len(tags)
            self.records += int(tags["record_id"].nunique())
        if suggestions is not None:
            self.decisions = self.decisions if self.decisions is not None else {}
            for decision, n in suggestions["decision"].value_counts().items():
                self.decisions[decision] = self.decisions.get(decision, 0) + int(n)

    def per_label(self) -> pd.DataFrame:
        """``facet, label, records``, by facet and label."""
        rows = [(f, lab, n) for (f, lab), n in sorted(self.labels.items())]
        return pd.DataFrame(rows, columns=["facet", "label", "records"])


@dataclass
class TagRun:
    """What a tagging run stored."""

    run_id: int
    #: the rule rows (``source="rule"``); None when the run streamed over several chunks
    #: of records (:func:`tag_store`): the store has them
    #: (:func:`synth.store.tags.load_run_tags`), and no step holds every record's rows
    tags: pd.DataFrame | None
    #: the criteria's assessment and the decisions suggested: None when no criteria were
    #: judged, or when the run streamed over several chunks
    #: (:func:`synth.store.tags.load_assessment`, :func:`~synth.store.tags.load_suggestions`)
    assessment: pd.DataFrame | None
    suggestions: pd.DataFrame | None
    review_path: Path | None
    #: the learnable layer's rows (``source="model"``), None when not refined
    model_tags: pd.DataFrame | None = None
    #: per refined facet: model version, labels fitted and skipped, training counts
    model_info: dict[str, Any] | None = None
    #: records that raised while being tagged (``record_id``, ``error``); the rest were
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: what ``synth tag`` prints of the run, however it ran
    summary: TagSummary = field(default_factory=TagSummary)
    #: on a cluster: per partition, its records, rows and the worker that tagged it
    #: (:attr:`synth.distributed.tagging.PartitionRun.partitions`); None on one machine
    partitions: list[dict[str, Any]] | None = None


def tag_store(
    con: sqlite3.Connection,
    *,
    codebook_path: Path | None = None,
    review_path: Path | None = None,
    n_process: int = 1,
    progress: bool = False,
    refine: bool = True,
    refine_facets: tuple[str, ...] | None = None,
    client: Any = None,
    partition_size: int | None = None,
    chunk_size: int | None = None,
) -> TagRun:
    """Tag every record in the store and save the run; returns what was stored.

    With ``refine`` (the default) a :class:`~synth.tagging.learn.TagRefiner` per facet in
    ``refine_facets`` (default :data:`~synth.tagging.refine.REFINE_FACETS`) learns from
    the reviewers' verdicts so far (and the rules' confident output while those are few)
    and its rows are stored beside the rule rows, in the same run. The criteria are
    assessed on the rule rows, whose evidence they quote.

    With a Dask ``client`` (:func:`synth.distributed.cluster_client`) the rule tagger runs
    on its cluster in partitions of ``partition_size`` records (default
    :data:`synth.distributed.PARTITION_SIZE`; the same rows), and the store takes the run
    as without one. With no facet to refine it streams as on one machine, a partition for
    a chunk: the store's records read a partition at a time as sent, each partition judged
    against the review's criteria on its worker too, and its rows, assessment and
    suggestions written here as they come back, in order. With a facet to refine, the
    refiner and the criteria run here, on every record's rows.

    Without a client and with no facet to refine, the run streams in chunks of
    ``chunk_size`` records (default :data:`CHUNK_RECORDS`): each is read from the store,
    tagged, its criteria assessed and decisions suggested, and written to the run, which
    is marked finished after the last (the records listed once up front: records others
    commit meanwhile are not read). The run stored is the same;
    when there was more than one chunk (or partition), :attr:`TagRun.tags`,
    :attr:`TagRun.assessment` and :attr:`TagRun.suggestions` are None (the store has
    them: :func:`synth.store.tags.load_run_tags`, :func:`~synth.store.tags.load_assessment`,
    :func:`~synth.store.tags.load_suggestions`) and only their counts are kept
    (:attr:`TagRun.summary`): what is held does not grow with the records.
    A failure midway removes what the run wrote; a kill leaves it unfinished: either way
    the previous run stays the current one.
    """
    from synth.tagging.codebook import load_codebook
    from synth.tagging.criteria import (
        assess,
        criterion_rows,
        records_with_text,
        suggest,
        with_review_cues,
    )
    from synth.tagging.refine import REFINE_FACETS, RefineParams, model_tags
    from synth.tagging.tagger import tag

    review_path = review_path or find_review(con)
    review = review_for(review_path)
    codebook = with_review_cues(load_codebook(codebook_path), review)
    facets = tuple(refine_facets or REFINE_FACETS) if refine else ()
    if client is not None and not facets:
        return _streamed_on_cluster(
            con, client, codebook, review, review_path, n_process=n_process, progress=progress,
            refine=refine, partition_size=partition_size,
        )  # fmt: skip
    if client is None and (not facets or _empty_store(con)):  # an empty one: nothing to refine
        return _streamed(
            con, codebook, review, review_path, n_process=n_process, progress=progress,
            refine=refine, chunk_size=chunk_size or CHUNK_RECORDS,
        )  # fmt: skip
    records = load_records(con)
    extracts = _run_extracts(con)
    # a PDF full text is read by its sections: its abstract and methods first, the rest
    # at the full-text weight (synth.fulltext.passages); records without one as stored
    stored_texts = load_fulltexts(con)
    records, extracts, fulltexts = tagger_inputs(records, extracts, stored_texts)
    if client is None:
        tags = tag(
            records,
            extracts=extracts,
            fulltexts=fulltexts,
            codebook=codebook,
            n_process=n_process,
            progress=progress,
        )
    else:
        from synth.distributed import tag_on_cluster

        tags = tag_on_cluster(
            client, con, records, codebook, extracts=extracts, fulltexts=fulltexts,
            partition_size=partition_size, progress=progress,
        )  # fmt: skip
    tags = add_pages(tags, stored_texts)  # evidence found in a PDF names its page
    failures = list(tags.attrs.get("failures") or [])
    assessment = suggestions = None
    if review.path is not None:
        # the criterion rows with negation read on both sides of each cue, rows for
        # criteria whose cues are only negated, similarity for criteria without cues
        judged = criterion_rows(
            records, tags, review, codebook, extracts=extracts, fulltexts=fulltexts
        )
        with_text = records_with_text(records, extracts, fulltexts)
        assessment = assess(records, judged, review, with_text=with_text)
        suggestions = suggest(assessment)
    else:
        log.warning(NO_REVIEW_NOTE)
    params = _run_params(codebook, review, review_path, n_process, client, len(records))
    params["failures"] = failures
    model = info = None
    stored = tags
    if refine and len(records):
        refine_params = RefineParams()
        model, info = model_tags(
            records,
            tags,
            load_overrides(con),
            codebook,
            facets=refine_facets or REFINE_FACETS,
            extracts=extracts,
            params=refine_params,
        )
        params["model"] = {"params": refine_params.as_dict(), "facets": info}
        stored = pd.concat([tags, model], ignore_index=True) if len(model) else tags
    run_id = save_tagging(
        con, stored, params=params, assessment=assessment, suggestions=suggestions
    )
    summary = TagSummary.of(tags, suggestions)
    return TagRun(
        run_id, tags, assessment, suggestions, review_path, model, info, failures, summary
    )


def _run_params(
    codebook: Any, review: Any, review_path: Path | None, n_process: int, client: Any, n: int
) -> dict[str, Any]:
    """The run's parameters (``failures`` are added once known)."""
    from synth.tagging.criteria import criterion_method, review_criteria

    return {
        "codebook_version": codebook.version,
        "codebook_sha256": codebook.sha256,
        "rule_version": codebook.tag_version,
        "review": str(review_path) if review_path else None,
        "n_process": n_process,
        **({"scheduler": client.scheduler.address} if client is not None else {}),
        "records": n,
        "failures": [],
        # how each criterion was judged (cues / similarity / year): the criteria export
        "criteria_methods": {c.id: criterion_method(c) for c in review_criteria(review)},
    }


def _streamed(
    con: sqlite3.Connection,
    codebook: Any,
    review: Any,
    review_path: Path | None,
    *,
    n_process: int,
    progress: bool,
    refine: bool,
    chunk_size: int,
) -> TagRun:
    """:func:`tag_store` a chunk of records at a time, read from the store as tagged
    (:meth:`synth.store.records.StoreRecords.listed`: the records' ids listed once, each
    chunk's records and full texts read by key between the run's writes) and written to
    one run as it goes; the tagger's worker processes started once for every chunk
    (:func:`synth.tagging.tagger.tag_chunks`), one progress bar over the records."""
    from synth.store.records import StoreRecords
    from synth.tagging.tagger import tag_chunks

    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    with StoreRecords.listed(con, chunk_size) as reader:
        n = len(reader)
        # a reviewer's passages: few beside the records, read once (by record or by ref)
        extracts = _run_extracts(con)
        params = _run_params(codebook, review, review_path, n_process, None, n)
        judge = _Chunks(
            con, codebook, review, review_path, params, refine=refine, n=n,
            many=len(reader.sizes()) > 1,
            count=lambda wanted: _counted(
                wanted, _store_chunks(copy.copy(reader), extracts), progress=progress, total=n
            ),
        )  # fmt: skip
        #: each chunk as read, judged once its tags are back (in order)
        read: deque[tuple[pd.DataFrame, Any, Any, Any]] = deque()

        def chunks() -> Iterator[tuple[pd.DataFrame, Any, Any]]:
            for part, ext, full, stored in _store_chunks(reader, extracts):
                read.append((part, ext, full, stored))
                yield part, ext, full

        with judge:
            tagged = tag_chunks(
                chunks(), codebook=codebook, n_process=n_process, progress=progress, total=n
            )
            with contextlib.closing(tagged):
                for tags in tagged:
                    part, ext, full, stored = read.popleft()
                    judge.add(part, tags, ext, full, stored)
                    del tags, part, ext, full, stored
    return judge.result()


def _run_extracts(con: sqlite3.Connection) -> pd.DataFrame:
    """The store's extracts as a run reads them, each with the ``record_id`` it is about:
    one known only by its ``ref`` (a source key or DOI no record had when it was imported)
    matched once against every record of the store, as the tagger matches a ref among the
    records it is given (:class:`synth.tagging.tagger.RefIndex`), a row per record named,
    so that each chunk of a streamed run gets the extracts of its own records and no
    chunk takes another's for naming no record. Those naming no record of the store are
    warned of once, by ref, file and line, and left out."""
    from synth.tagging.tagger import RefIndex

    extracts = load_extracts(con)
    known = extracts["record_id"].notna()
    if known.all():
        return extracts
    refs = [r if isinstance(r, str) and r.strip() else None for r in extracts["ref"]]
    texts = [isinstance(t, str) and bool(t.strip()) for t in extracts["text"]]
    wanted = {
        i for i, (k, r, t) in enumerate(zip(known, refs, texts, strict=True)) if not k and r and t
    }
    keys = [RefIndex.keys(refs[i]) for i in sorted(wanted)]
    dois, names = {d for d, _ in keys if d}, {k for _, k in keys}
    index = RefIndex()  # only the records a ref may name: a few, however large the store
    for rid, key, doi in con.execute("SELECT record_id, source_key, doi FROM records"):
        named = (isinstance(key, str) and key.strip().casefold() in names) or (
            isinstance(doi, str) and doi.lower() in dois
        )
        if named:
            index.add(rid, key, doi)
    rows: list[int] = []
    ids: list[Any] = []
    unmatched: list[str] = []
    for i, rid in enumerate(extracts["record_id"]):
        if known.iat[i]:
            rows.append(i)
            ids.append(rid)
        elif i in wanted:
            targets = list(dict.fromkeys(index.targets(refs[i])))  # type: ignore[arg-type]
            rows.extend([i] * len(targets))
            ids.extend(targets)
            if not targets:
                at = extracts.iloc[i]
                unmatched.append(f"{refs[i]} ({at['source_file']}, line {at['line']})")
    if unmatched:
        log.warning(
            "%d extract(s) name no record (ref not a source_key or DOI of any record in the "
            "store): %s%s",
            len(unmatched), "; ".join(unmatched[:5]), "; ..." if len(unmatched) > 5 else "",
        )  # fmt: skip
    out = extracts.iloc[rows].reset_index(drop=True)
    out["record_id"] = pd.Series(ids, dtype=object)
    return out


def _counted(
    wanted: Any, chunks: Iterator[tuple[Any, ...]], *, progress: bool = False, total: int = 0
) -> Any:
    """Pass 1 of the criteria judged by similarity (``wanted``:
    :class:`synth.tagging.criteria.SimilarityCriteria`) on one machine: the counts of each
    chunk (records, extracts, full texts as the tagger reads them), summed; with
    ``progress``, a bar of its own over the ``total`` records, before the tagging's."""
    from synth.progress import progress_bar
    from synth.tagging.criteria import SimilarityCounts

    log.info("counting the words of %d criteria judged by similarity", len(wanted.ids))
    counted = SimilarityCounts()
    bar = None
    if progress:
        bar = progress_bar(total=total, unit="rec", desc="counting criteria words")
    try:
        for part, ext, full, _ in chunks:
            counted += wanted.count(part, ext, full)
            if bar is not None:
                bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()
    return counted


def _store_chunks(reader: Any, extracts: pd.DataFrame | None) -> Iterator[tuple[Any, ...]]:
    """Per chunk of ``reader`` (:class:`synth.store.records.StoreRecords`): its records,
    extracts and full texts as the tagger reads them (:func:`tagger_inputs`: a PDF's
    abstract and methods first), and its full texts as stored (their pages), the texts
    read by record on the reader's connection; an empty store gives one empty chunk."""
    if not len(reader):
        records = _empty()[0]
        yield records, _of(extracts, set()), None, None
        return
    # a store without any full text (most large ones): none looked up by record
    none = None if _has_fulltexts(reader.con) else load_fulltexts(reader.con, record_ids=())
    for raw in reader:
        ids = set(raw["record_id"])
        stored = _fulltexts_of(reader.con, ids) if none is None else none
        part, ext, full = tagger_inputs(raw, _of(extracts, ids), stored)
        yield part, ext, full, stored


#: Records whose full texts are read in one :func:`load_fulltexts` call: under its
#: 500 records looked up by key (more read every text and keep theirs), with room for the
#: members of their duplicate groups.
_TEXTS_AT_ONCE = 250


def _empty_store(con: sqlite3.Connection) -> bool:
    """Whether the store holds no record."""
    return con.execute("SELECT NOT EXISTS (SELECT 1 FROM records)").fetchone()[0] == 1


def _has_fulltexts(con: sqlite3.Connection) -> bool:
    """Whether the store holds any full text (Markdown, or a PDF linked to a record)."""
    row = con.execute(
        "SELECT EXISTS (SELECT 1 FROM fulltexts) OR EXISTS (SELECT 1 FROM fulltext_link_events)"
    ).fetchone()
    return bool(row[0])


def _fulltexts_of(con: sqlite3.Connection, ids: set[Any]) -> pd.DataFrame:
    """The stored full texts of the records ``ids`` (a kept record's from its group when
    it has none), as :func:`load_fulltexts` gives every record's, looked up by key."""
    parts = [load_fulltexts(con, record_ids=batch) for batch in id_chunks(ids, _TEXTS_AT_ONCE)]
    found = [p for p in parts if len(p)]
    if len(found) > 1:
        return pd.concat(found, ignore_index=True)
    return found[0] if found else load_fulltexts(con, record_ids=())


def _streamed_on_cluster(
    con: sqlite3.Connection,
    client: Any,
    codebook: Any,
    review: Any,
    review_path: Path | None,
    *,
    n_process: int,
    progress: bool,
    refine: bool,
    partition_size: int | None,
) -> TagRun:
    """:func:`tag_store` on ``client``'s cluster, streamed: the store's records read a
    partition at a time as each is sent to a worker, as on one machine
    (:meth:`synth.store.records.StoreRecords.listed`, :func:`_store_chunks`), each tagged
    and judged there against the review's criteria (shipped to each worker once, with the
    rules, and the word weights of the criteria judged by similarity, counted on the
    workers first, a partition at a time: :class:`synth.distributed.tagging.Judging`,
    :func:`~synth.distributed.tagging.similarity_counts_on_cluster`; a partition carries
    its PDF texts for their pages), and each partition's tags, assessment and suggestions,
    back with their evidence as the JSON text the store keeps, written to the run in
    partition order (:meth:`_Chunks.add_judged`), then dropped: this process reads and
    writes."""
    from synth.distributed import PARTITION_SIZE, tag_on_cluster
    from synth.distributed.tagging import Judging, similarity_counts_on_cluster
    from synth.fulltext.passages import PAGE_COLUMNS, pdf_rows
    from synth.store.records import StoreRecords
    from synth.tagging.criteria import load_rules

    size = partition_size or PARTITION_SIZE
    with StoreRecords.listed(con, size) as reader:
        extracts = _run_extracts(con)
        params = _run_params(codebook, review, review_path, n_process, client, len(reader))
        judge = _Chunks(
            con, codebook, review, review_path, params, refine=refine, n=len(reader),
            many=len(reader.sizes()) > 1,
            count=lambda wanted: similarity_counts_on_cluster(
                client, _text_chunks(copy.copy(reader), extracts), wanted, progress=progress,
                total=len(reader),
            ),
        )  # fmt: skip

        def partitions() -> Any:
            if not len(reader):  # an empty store: no partition sent
                return
            for part, ext, full, stored in _store_chunks(reader, extracts):
                # only the PDF texts, only the columns that place evidence on its page
                pdfs = pdf_rows(stored)
                pages = pdfs[list(PAGE_COLUMNS)] if len(pdfs) else None
                yield part, ext, full, pages

        def each(result: dict[str, Any], tags: pd.DataFrame) -> None:
            tags.attrs["failures"] = result["failures"]
            tags.attrs["notes"] = result["notes"]  # counted in the run's summary
            judge.add_judged(
                tags, result["assessment"], result["suggestions"],
                seen=result.get("similarity_counts"),
            )  # fmt: skip

        with judge:
            judging = None
            if judge.judged:
                judging = Judging(review, judge.by_cues, load_rules(), judge.similarity)
            attrs = tag_on_cluster(
                client, con, partitions(), codebook, partition_size=size, progress=progress,
                each=each, judging=judging,
            ).attrs  # fmt: skip
            if not len(reader):  # an empty store: one empty chunk, as on one machine
                judge.add(*_empty(), None, None, None)
    out = judge.result()
    out.partitions = attrs["partitions"]
    return out


def _text_chunks(reader: Any, extracts: pd.DataFrame | None) -> Iterator[tuple[Any, ...]]:
    """The store's chunks of ``reader`` as the tagger reads them (records, extracts, full
    texts): what the criteria judged by similarity count (an empty store: none)."""
    if len(reader):
        for part, ext, full, _ in _store_chunks(reader, extracts):
            yield part, ext, full


class _Chunks:
    """A run written a chunk of records at a time (one machine's chunks, a cluster's
    partitions): each chunk's tags judged against the review's criteria, decisions
    suggested, written (:class:`~synth.store.tags.TaggingWriter`) and dropped.

    Similarity to a criterion's wording weighs words by their frequency in every record's
    sentences, so on entering, when a criterion is judged so, ``count(wanted)`` counts
    them over every record (pass 1: :meth:`synth.tagging.criteria.SimilarityCriteria.count`
    summed over the chunks, here or on a cluster's workers) and the counts give the words'
    weights (:attr:`similarity`), with which each chunk's records are scored where the
    chunk is judged (pass 2): no step holds every record's sentences or rows. Pass 2
    counts what it scored as pass 1 did (:attr:`recounted`): the store read twice, a
    record edited, a PDF linked or groups rebuilt between the passes make the sums
    differ, and the run then says so (:meth:`_recount_checked`).
    """

    def __init__(
        self,
        con: sqlite3.Connection,
        codebook: Any,
        review: Any,
        review_path: Path | None,
        params: dict[str, Any],
        *,
        refine: bool,
        n: int,
        many: bool,
        count: Any,
    ) -> None:
        from synth.tagging.criteria import without_similarity
        from synth.tagging.refine import RefineParams
        from synth.tagging.tagger import TAG_COLUMNS

        self.codebook, self.review, self.review_path = codebook, review, review_path
        self.many = many
        self.judged = review.path is not None
        if not self.judged:
            log.warning(NO_REVIEW_NOTE)
        self.model = self.info = None
        if refine and n:  # no facet to refine: the refiner's settings recorded
            self.model, self.info = pd.DataFrame(columns=TAG_COLUMNS), {}
            params["model"] = {"params": RefineParams().as_dict(), "facets": self.info}
        self.writer = TaggingWriter(con, params)
        self._count = count
        #: the word weights of the criteria judged by similarity (None: no such criterion)
        self.similarity: Any = None
        #: pass 1's counts the weights are of, and pass 2's of the chunks judged so far
        self.counted: Any = None
        self.recounted: Any = None
        self.by_cues = without_similarity(review)
        self.failures: list[dict[str, Any]] = []
        self.summary = TagSummary(decisions={} if self.judged else None)
        #: a run of one chunk: its rows, assessment and suggestions (several: none kept)
        self.kept: tuple[pd.DataFrame, Any, Any] | None = None

    def __enter__(self) -> _Chunks:
        from synth.tagging.criteria import SimilarityCriteria

        if self.judged:
            wanted = SimilarityCriteria.of(self.review)
            if wanted is not None:  # a criterion without cues: pass 1 over every record
                from synth.tagging.criteria import SimilarityCounts

                self.counted, self.recounted = self._count(wanted), SimilarityCounts()
                self.similarity = wanted.weigh(self.counted)
        self._count = None
        self.writer.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is None:
            self.writer.finish_params(failures=self.failures)
            self._recount_checked()
        self.writer.__exit__(*exc)

    def _seen(self, counts: Any) -> None:
        """Pass 2's counts of a chunk: :meth:`synth.tagging.criteria.SimilarityWeights.scored`."""
        if counts is not None and self.recounted is not None:
            self.recounted += counts

    def _recount_checked(self) -> None:
        """Pass 2's counts against pass 1's: when the texts judged were not those
        weighed, a warning and the run's parameters say so (``similarity_recounted``
        false, the totals of both passes)."""
        if self.counted is None or self.recounted == self.counted:
            return
        first, second = self.counted.totals(), self.recounted.totals()
        log.warning(
            "the store changed while the criteria judged by similarity were read: pass 1 "
            "counted %d sentences (%d criterion words), pass 2 scored %d (%d); records "
            "edited, full texts linked or duplicate groups rebuilt meanwhile? Their scores "
            "use the words' weights of the store as first read: tag again to weigh them on "
            "the texts judged",
            first["sentences"], first["criterion_words"],
            second["sentences"], second["criterion_words"],
        )  # fmt: skip
        self.writer.finish_params(
            similarity_recounted=False, similarity_counts={"pass_1": first, "pass_2": second}
        )

    def add(
        self,
        part: pd.DataFrame,
        tags: pd.DataFrame,
        ext: pd.DataFrame | None,
        full: pd.DataFrame | None,
        stored: pd.DataFrame | None,
    ) -> None:
        """Judge and write one chunk: its records, their tags as the tagger gave them
        (evidence as lists: :func:`synth.tagging.tagger.tag_chunks`), and the chunk's
        extracts, full texts (as the tagger read them) and stored full texts."""
        from synth.tagging.criteria import judge_chunk

        tags = add_pages(tags, stored)  # evidence found in a PDF names its page
        assessment = suggested = None
        if self.judged:
            assessment, suggested = judge_chunk(
                part, tags, self.review, self.codebook, by_cues=self.by_cues,
                similarity=self.similarity, extracts=ext, fulltexts=full, seen=self._seen,
            )  # fmt: skip
        self._write(tags, assessment, suggested)

    def add_judged(
        self,
        tags: pd.DataFrame,
        assessment: pd.DataFrame | None,
        suggested: pd.DataFrame | None,
        *,
        seen: Any = None,
    ) -> None:
        """Write one chunk a cluster's worker tagged and judged
        (:func:`synth.distributed.tagging.tag_on_cluster` with ``judging``): its tags, PDF
        pages added, and its assessment and suggestions, evidence as the JSON text the
        store keeps, written as they are (parsed only in a run of one chunk, whose rows
        :class:`TagRun` keeps whole); ``seen``, what its similarity scoring read."""
        self._seen(seen)
        if not self.many:
            tags = _parsed(tags)
            if assessment is not None:
                assessment = _parsed(assessment)
        self._write(tags, assessment, suggested)

    def _write(
        self, tags: pd.DataFrame, assessment: pd.DataFrame | None, suggested: pd.DataFrame | None
    ) -> None:
        self.failures.extend(tags.attrs.get("failures") or [])
        self.writer.add(tags, assessment=assessment, suggestions=suggested)
        self.summary.add(tags, suggested if self.judged else None)
        if not self.many:
            self.kept = (tags, assessment, suggested)

    def result(self) -> TagRun:
        """What the run stored: its summary, and its rows when there was one chunk."""
        tags, assessment, suggested = self.kept if self.kept is not None else (None,) * 3
        if tags is not None:
            tags.attrs["failures"] = self.failures
        return TagRun(
            self.writer.run_id,
            tags,
            assessment if self.judged else None,
            suggested if self.judged else None,
            self.review_path,
            self.model,
            self.info,
            self.failures,
            self.summary,
        )


def _parsed(tags: pd.DataFrame) -> pd.DataFrame:
    """``tags`` with their evidence as lists (JSON text parsed; lists as they are)."""
    from synth.store.tags import parsed_evidence

    if not len(tags) or not isinstance(tags["evidence"].iat[0], str):
        return tags
    return tags.assign(evidence=parsed_evidence(tags["evidence"]))


def _empty() -> tuple[pd.DataFrame, pd.DataFrame]:
    """No records and no tags, with their columns (an empty store's one chunk)."""
    from synth.corpus.model import RECORD_COLUMNS
    from synth.tagging.tagger import TAG_COLUMNS

    return pd.DataFrame(columns=RECORD_COLUMNS), pd.DataFrame(columns=TAG_COLUMNS)


def _of(frame: pd.DataFrame | None, ids: set[Any]) -> pd.DataFrame | None:
    """The rows of ``frame`` for the records ``ids`` (the run's extracts each name their
    record: :func:`_run_extracts`)."""
    if frame is None or "record_id" not in frame.columns:
        return frame
    return frame[frame["record_id"].isin(ids)]
