"""Tag records with the codebook's rules: one row per (record, facet, label), with evidence.

:func:`tag` is the first pass a reviewer checks: it suggests each paper's setting,
approach, design, country, publication type and which review criteria its text speaks to,
and shows the sentence behind every suggestion. Scores are a monotone squash of weighted
evidence, so they rank and threshold, and a reviewer can see why a score is what it is.

How the text is fed to spaCy (the choices that keep it fast and bounded):

- one Doc per record for title, keywords, abstract and extracts, each a segment with its
  field, so per-Doc overhead is paid once per record; sentences never cross segments;
- venue and publisher strings repeat across records, so each distinct one is tagged once;
- full texts are cleaned (line-break hyphens, whitespace) and cut into chunks well under
  spaCy's ``max_length``, each chunk a Doc; a 300,000-word text is a few dozen Docs; a
  title, abstract and extracts longer than a chunk are cut the same way (at sentence
  ends, each piece keeping its fields), so no record is too long to tag;
- records go through the pipeline in groups; when a group raises, its records are tagged
  one by one and a record that still raises is reported by id (``attrs["failures"]``)
  while every other record is tagged;
- the pipeline's components label a whole batch of Docs before handing it on (better for
  the CPU caches than one Doc through every stage at a time); hits stay compact tuples
  and become evidence dicts only for the rows reported;
- ``n_process > 1`` splits the records into spans; this process tags some of them
  itself, and each worker gets the records once (inherited when it forks), tags its
  spans and sends back tag rows it has pickled itself, never Docs.
"""

from __future__ import annotations

import contextlib
import logging
import math
import multiprocessing
import operator
import pickle
import re
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, NamedTuple

import pandas as pd

from synth.corpus.normalise import normalise_doi
from synth.parallel import default_workers, gc_paused, ordered_map
from synth.tagging.abbreviations import expansions, without_other_meanings
from synth.tagging.codebook import FIELDS, Codebook, MetadataRule, load_codebook
from synth.tagging.conditions import apply_conditions
from synth.tagging.fallbacks import OWN_WEAKLY, WEAKER, Fallback
from synth.tagging.pipeline import HITS_KEY, SEGMENTS_KEY, TEXT_KEY, build_nlp, chunk_words
from synth.tagging.sentence_roles import ALWAYS_COUNT_FIELDS

log = logging.getLogger(__name__)

#: The output columns (the contract every later stage codes against).
TAG_COLUMNS: list[str] = ["record_id", "facet", "label", "score", "evidence", "source", "version"]
EVIDENCE_KEYS: tuple[str, ...] = ("field", "sentence", "match", "cue", "negated", "weight")

#: Full texts are cut into chunks of at most this many characters (spaCy's default
#: ``max_length`` is 1,000,000; smaller chunks keep memory flat and batches even).
MAX_CHUNK_CHARS = 100_000
#: Records go through the pipeline in groups of this many batches (``batch_size``
#: records each); a group that raises is tagged again record by record.
RUN_GROUP = 8
_VENUE_CACHE_MAX = 100_000
_FIELD_ORDER = {f: i for i, f in enumerate(FIELDS)}
_ENGLISH_CODES = {"en", "eng", "english", "en-gb", "en-us", "en_gb", "en_us"}

_HYPHENS = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u00ad": None})
_ODD_HYPHEN_CHARS = ("\u2010", "\u2011", "\u2012", "\u00ad")
_BROKEN_WORD = re.compile(r"([A-Za-z]+)-[ \t]*\r?\n\s*(?=[A-Za-z])")


class _Rec(NamedTuple):
    """What a worker needs of one record (plain values: cheap to pickle)."""

    record_id: Any
    title: Any
    keywords: Any
    abstract: Any
    venue: Any
    publisher: Any
    pub_type: Any
    grey: Any
    url: Any
    language: Any
    extracts: tuple[str, ...]
    fulltexts: tuple[str, ...]


def tag(
    records: pd.DataFrame,
    *,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    codebook: Codebook | None = None,
    n_process: int = 1,
    progress: bool = False,
    batch_size: int = 256,
) -> pd.DataFrame:
    """Tag records with the codebook's rules.

    Parameters
    ----------
    records
        Canonical records (``record_id`` required; title, keywords, abstract, venue,
        publisher, pub_type, grey, url and language are used when present).
    extracts
        Passages from the papers: a ``text`` column and either ``record_id`` (as the
        store's ``load_extracts`` gives) or ``ref``, a record's ``source_key`` (BibTeX key)
        or DOI (as ``synth.corpus.read(...).extracts`` gives).
    fulltexts
        Full texts: ``record_id`` and ``text``. Any length; long texts are chunked.
    codebook
        The rules (default: the package's ``codebook.yml``).
    n_process
        Worker processes (``-1``: one per available core). Results are identical for any
        value.
    progress
        Show a progress bar over records.
    batch_size
        Docs per ``nlp.pipe`` batch.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TAG_COLUMNS`: ``record_id``, ``facet``, ``label``, ``score`` (0-1),
        ``evidence`` (list of dicts with ``field, sentence, match, cue, negated, weight``;
        ``weight`` is negative when a hit counts against the label), ``source`` ("rule"),
        ``version`` (``rules:<codebook version>:<sha256[:12]>``). One row per (record,
        facet, label) whose score reaches the codebook's ``min_score``, in record order,
        facets in codebook order, best label first. Single-label facets (``multi: false``)
        keep only their best label, and a label the codebook says ``outranks`` another
        (EBCD over co-design) drops it when it scores at least as high.
        ``attrs["notes"]`` lists records whose text looks non-English (tagged all the same);
        ``attrs["failures"]`` lists records that raised while being tagged
        (``record_id``, ``error``): they have no rows, every other record is tagged.

    Notes
    -----
    A hit weighs its cue's weight times its field's weight (title 3, abstract 2, ... full
    text 0.5, from the codebook), negative when negated or a ``negative`` cue. Per field
    the hits add up as ``w * log2(1 + sum / w)`` (capped per field: a long full text's
    mentions saturate), the fields add up to ``E``, and ``score = 1 - exp(-E / scale)``.
    """
    cb = codebook or load_codebook()
    recs = _payloads(records, extracts, fulltexts)
    workers = _workers(n_process, len(recs))
    if workers > 1:
        cols, notes, failures = _run_parallel(cb, recs, workers, batch_size, progress)
    else:
        cols, notes, failures = _engine(cb).run_locked(
            recs, zone=False, batch_size=batch_size, progress=progress
        )
    return _output(cb, cols, notes, failures)


def tag_with_engine(
    engine: _Engine,
    records: pd.DataFrame,
    *,
    extracts: pd.DataFrame | None = None,
    fulltexts: pd.DataFrame | None = None,
    batch_size: int = 256,
    zone: bool = False,
) -> pd.DataFrame:
    """:func:`tag` in this process with ``engine`` itself (:func:`engine_for`'s, kept
    by its holder: a Dask worker's :class:`synth.distributed.tagging.TaggerPlugin`), not
    the one :func:`tag` would look up for its codebook (this process's cache of engines
    is emptied when a sixth codebook's is built). Tagged under the engine's lock, and
    with ``zone`` under :func:`synth.tagging.pipeline.chunk_words` (a partition of a
    long run); the rows as :func:`tag` gives them."""
    recs = _payloads(records, extracts, fulltexts)
    return _output(engine.cb, *engine.run_locked(recs, zone=zone, batch_size=batch_size))


def tag_chunks(
    chunks: Iterable[tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]],
    *,
    codebook: Codebook | None = None,
    n_process: int = 1,
    progress: bool = False,
    total: int | None = None,
    batch_size: int = 256,
) -> Iterator[pd.DataFrame]:
    """:func:`tag` over a stream of chunks ``(records, extracts, fulltexts)``: each
    chunk's rows, as :func:`tag` gives them for that chunk, yielded in order as it is
    done (a run that streams the store: ``synth.tagging.workflow.tag_store``).

    With ``n_process > 1`` the worker processes start once for the whole stream and tag
    every chunk (each chunk's records sent to them), their tokenizer caches warm from one
    chunk to the next; a chunk is read from ``chunks`` only when the workers have room for
    it, so about two chunks are in hand at a time. One progress bar over ``total``
    records (the stream's length, when known) for the whole stream.

    Each process tags its share under :func:`synth.tagging.pipeline.chunk_words`: this
    one each chunk (or, with workers, each span of one it tags itself), each worker each
    span it is sent, so that no process's vocabulary grows with the stream."""
    cb = codebook or load_codebook()
    workers = _workers(n_process, total)
    bar = _progress(total, progress)
    try:
        if workers > 1:
            yield from _stream_parallel(cb, chunks, workers, batch_size, bar)
            return
        engine = _engine(cb)
        for records, extracts, fulltexts in chunks:
            recs = _payloads(records, extracts, fulltexts)
            # its new words forgotten once enough are learned
            result = engine.run_locked(recs, zone=True, batch_size=batch_size, bar=bar)
            yield _output(cb, *result)
            del recs, result
    finally:
        if bar is not None:
            bar.close()


def _output(
    cb: Codebook, cols: _Cols, notes: list[dict[str, Any]], failures: list[dict[str, Any]]
) -> pd.DataFrame:
    """The rows as :func:`tag` returns them, its notes and failures in ``attrs`` (logged)."""
    with gc_paused():
        out = cols.frame(cb.tag_version)
    out.attrs["notes"] = notes
    out.attrs["failures"] = failures
    if notes:
        log.info("%d record(s) look non-English; tagged all the same", len(notes))
    for failure in failures:
        log.warning(
            "record %s could not be tagged (%s); every other record was",
            failure["record_id"],
            failure["error"],
        )
    return out


# --------------------------------------------------------------------------- inputs


def _column(df: pd.DataFrame, name: str) -> list[Any]:
    if name not in df.columns:
        return [None] * len(df)
    return df[name].tolist()


def _payloads(
    records: pd.DataFrame, extracts: pd.DataFrame | None, fulltexts: pd.DataFrame | None
) -> list[_Rec]:
    if "record_id" not in records.columns:
        raise ValueError(
            "records need a record_id column (as synth.corpus.read() and load_records() give)"
        )
    ids = _column(records, "record_id")
    ext = extracts_by_record(records, extracts)
    full: dict[Any, list[str]] = {}
    if fulltexts is not None and len(fulltexts):
        for rid, text in zip(
            _column(fulltexts, "record_id"), _column(fulltexts, "text"), strict=True
        ):
            if isinstance(text, str) and text.strip():
                full.setdefault(rid, []).append(text)
    cols = [
        _column(records, c)
        for c in (
            "title",
            "keywords",
            "abstract",
            "venue",
            "publisher",
            "pub_type",
            "grey",
            "url",
            "language",
        )
    ]
    return [
        _Rec(rid, *vals, tuple(ext.get(rid, ())), tuple(full.get(rid, ())))
        for rid, *vals in zip(ids, *cols, strict=True)
    ]


class RefIndex:
    """Records by what an extract's ``ref`` may name: a DOI, else a source key (BibTeX
    key), as :func:`extracts_by_record` matches them; built from the records given."""

    def __init__(self) -> None:
        self.by_key: dict[str, list[Any]] = {}
        self.by_doi: dict[str, list[Any]] = {}

    @staticmethod
    def keys(ref: str) -> tuple[str | None, str]:
        """The DOI (normalised; None: none in it) and the source key ``ref`` may name,
        as the records' are held (:meth:`add`)."""
        return (normalise_doi(ref) if "10." in ref else None), ref.strip().casefold()

    def add(self, record_id: Any, source_key: Any, doi: Any) -> None:
        if isinstance(source_key, str) and source_key:
            self.by_key.setdefault(source_key.strip().casefold(), []).append(record_id)
        if isinstance(doi, str) and doi:
            self.by_doi.setdefault(doi.lower(), []).append(record_id)

    def targets(self, ref: str) -> list[Any]:
        """The records ``ref`` names: those of its DOI, else of its source key (none:
        an empty list)."""
        doi, key = self.keys(ref)
        targets = self.by_doi.get(doi, []) if doi else []
        return targets or self.by_key.get(key, [])


def extracts_by_record(
    records: pd.DataFrame, extracts: pd.DataFrame | None
) -> dict[Any, list[str]]:
    """Extract texts per record id: by ``record_id`` if given, else ``ref`` -> source_key/DOI.
    Public: the criteria read the same extracts the tags came from."""
    if extracts is None or not len(extracts):
        return {}
    texts = _column(extracts, "text")
    rids = _column(extracts, "record_id")
    refs = _column(extracts, "ref")
    index = RefIndex()
    for rid, key, doi in zip(
        _column(records, "record_id"),
        _column(records, "source_key"),
        _column(records, "doi"),
        strict=True,
    ):
        index.add(rid, key, doi)
    out: dict[Any, list[str]] = {}
    unmatched: list[str] = []
    for text, rid, ref in zip(texts, rids, refs, strict=True):
        if not isinstance(text, str) or not text.strip():
            continue
        if rid is not None and not (isinstance(rid, float) and rid != rid):
            targets = [rid]
        elif isinstance(ref, str) and ref.strip():
            targets = index.targets(ref)
            if not targets:
                unmatched.append(ref)
        else:
            targets = []
        for t in dict.fromkeys(targets):
            out.setdefault(t, []).append(text)
    if unmatched:
        log.warning(
            "%d extract(s) name no record (ref not a source_key or DOI of these records): %s",
            len(unmatched),
            ", ".join(sorted(set(unmatched))[:5]),
        )
    return out


# --------------------------------------------------------------------------- output


class _Cols:
    """Tag rows column by column (``source`` and ``version`` are the same in every row);
    ``evidence`` holds per row a list of dicts."""

    __slots__ = ("evidence", "facet", "label", "record_id", "score")

    def __init__(self) -> None:
        self.record_id: list[Any] = []
        self.facet: list[str] = []
        self.label: list[str] = []
        self.score: list[float] = []
        self.evidence: list[list[dict[str, Any]]] = []

    def __len__(self) -> int:
        return len(self.record_id)

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.record_id, self.facet, self.label, self.score, self.evidence)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.record_id, self.facet, self.label, self.score, self.evidence = state

    def truncate(self, n: int) -> None:
        """Drop every row after the first ``n`` (a group that failed part-way)."""
        for column in (self.record_id, self.facet, self.label, self.score, self.evidence):
            del column[n:]

    def extend(self, other: _Cols) -> None:
        """Append ``other``'s rows."""
        self.record_id.extend(other.record_id)
        self.facet.extend(other.facet)
        self.label.extend(other.label)
        self.score.extend(other.score)
        self.evidence.extend(other.evidence)

    def frame(self, version: str) -> pd.DataFrame:
        """The rows as the :data:`TAG_COLUMNS` frame."""
        n = len(self.record_id)
        if not n:
            out = pd.DataFrame([], columns=TAG_COLUMNS)
            out["score"] = out["score"].astype(float)
            return out
        data = {
            "record_id": self.record_id,
            "facet": self.facet,
            "label": self.label,
            "score": self.score,
            "evidence": self.evidence,
            "source": ["rule"] * n,
            "version": [version] * n,
        }
        out = pd.DataFrame(data, columns=TAG_COLUMNS)
        out["score"] = out["score"].astype(float)
        return out


# --------------------------------------------------------------------------- parallel


def _chunks(recs: Sequence[_Rec], workers: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` spans of ``recs`` that shrink as the work runs out (a quarter of
    what is left per worker, 100 to 2,000 records), so that at the end no process waits
    long for another's last chunk; and bounded in text, so a run of long full texts does
    not make one huge job."""
    start = 0
    chars = 0
    left = len(recs)
    size = _chunk_size(left, workers)
    for i, rec in enumerate(recs):
        chars += sum(len(t) for t in rec.fulltexts) + sum(len(t) for t in rec.extracts)
        if i + 1 - start >= size or chars > 4_000_000:
            yield start, i + 1
            left -= i + 1 - start
            size = _chunk_size(left, workers)
            start, chars = i + 1, 0
    if start < len(recs):
        yield start, len(recs)


def _chunk_size(left: int, workers: int) -> int:
    return max(100, min(2000, math.ceil(left / (workers * 4))))


_Result = tuple[_Cols, list[dict[str, Any]], list[dict[str, Any]]]


def _tag_chunk(
    shared: tuple[Codebook, Sequence[_Rec]], start: int, stop: int, batch_size: int
) -> _Result | bytes:
    """Worker entry point: tag ``recs[start:stop]`` of ``shared = (codebook, recs)``, which
    a worker receives once (:func:`synth.parallel.ordered_map`), not with every chunk.
    The pipeline is built once per process and codebook.

    A worker process returns its rows pickled by itself, and the caller's main thread
    unpickles them between its own chunks (:func:`_run_parallel`): left to the executor,
    its result thread would unpickle them while the main thread tags, the two trading
    the GIL every switch interval. A chunk the caller tags itself is never pickled."""
    cb, recs = shared
    return _tag_span(cb, recs[start:stop], batch_size)


def _run_parallel(
    cb: Codebook, recs: list[_Rec], workers: int, batch_size: int, progress: bool
) -> _Result:
    rows = _Cols()
    notes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    spans = list(_chunks(recs, workers))
    bar = _progress(len(recs), progress)
    _engine(cb)  # built before the workers fork, so that they inherit it
    results = ordered_map(
        _tag_chunk,
        ((start, stop, batch_size) for start, stop in spans),
        workers=workers,
        shared=(cb, recs),
        preload=["synth.tagging.tagger"],
        in_process_fallback=True,  # no worker processes here: tag the rest in this one
        work_here=True,  # this process tags too: its share is never pickled
    )
    with gc_paused():  # unpickling the rows makes as many objects as tagging them did
        for (start, stop), result in zip(spans, results, strict=True):
            _merge(result, rows, notes, failures)
            if bar is not None:
                bar.update(stop - start)
    if bar is not None:
        bar.close()
    return rows, notes, failures


def _tag_span(cb: Codebook, recs: Sequence[_Rec], batch_size: int) -> _Result | bytes:
    """Worker entry point of :func:`tag_chunks` (``recs`` sent with the job: the workers
    started before their chunk was read) and the body of :func:`_tag_chunk`: tag
    ``recs``, the result pickled when in a worker process. The span is tagged under
    :func:`synth.tagging.pipeline.chunk_words`: a worker's vocabulary stops growing
    with the run once it has learned enough words."""
    result = _engine(cb).run_locked(recs, zone=True, batch_size=batch_size)
    if multiprocessing.parent_process() is None:
        return result
    return pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)


def _stream_parallel(
    cb: Codebook,
    chunks: Iterable[tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]],
    workers: int,
    batch_size: int,
    bar: Any,
) -> Iterator[pd.DataFrame]:
    """:func:`tag_chunks` on ``workers`` processes (this one among them), one pool for
    every chunk: each chunk cut into spans (:func:`_chunks`), the spans' results taken in
    order and a chunk's rows yielded once its last span is back."""
    #: per job sent, in order: its records and whether it is its chunk's last
    sent: deque[tuple[int, bool]] = deque()

    def jobs() -> Iterator[tuple[Sequence[_Rec], int]]:
        for records, extracts, fulltexts in chunks:
            recs = _payloads(records, extracts, fulltexts)
            spans = list(_chunks(recs, workers)) or [(0, 0)]  # an empty chunk: no rows
            for i, (start, stop) in enumerate(spans):
                sent.append((stop - start, i == len(spans) - 1))
                yield recs[start:stop], batch_size
            del recs

    _engine(cb)  # built before the workers fork, so that they inherit it
    results = ordered_map(
        _tag_span,
        jobs(),
        workers=workers,
        shared=cb,
        preload=["synth.tagging.tagger"],
        in_process_fallback=True,  # no worker processes here: tag the rest in this one
        work_here=True,  # this process tags too: its share is never pickled
    )
    rows, notes, failures = _Cols(), [], []
    for result in results:
        with gc_paused():  # unpickling the rows makes as many objects as tagging them did
            _merge(result, rows, notes, failures)
        done, last = sent.popleft()
        if bar is not None:
            bar.update(done)
        if last:
            yield _output(cb, rows, notes, failures)
            rows, notes, failures = _Cols(), [], []


def _merge(
    result: _Result | bytes,
    rows: _Cols,
    notes: list[dict[str, Any]],
    failures: list[dict[str, Any]],
) -> None:
    """Add a span's result (pickled when a worker process made it) to the run's."""
    part_rows, part_notes, part_failures = (
        pickle.loads(result) if isinstance(result, bytes) else result
    )
    rows.extend(part_rows)
    notes.extend(part_notes)
    failures.extend(part_failures)


def _workers(n_process: int, n: int | None) -> int:
    """Processes for ``n`` records (None: not known): ``n_process`` (0 or -1: the
    machine's), at most one per 50 records."""
    workers = default_workers() if n_process in (0, -1) else max(1, int(n_process))
    return workers if n is None else min(workers, max(1, n // 50))


def _progress(total: int | None, show: bool) -> Any:
    if not show:
        return None
    from synth.progress import progress_bar

    return progress_bar(total=total, unit="rec", desc="tagging")


# --------------------------------------------------------------------------- the engine

_ENGINES: dict[str, _Engine] = {}


def _engine(cb: Codebook) -> _Engine:
    """One engine (pipeline, caches) per codebook per process."""
    key = _engine_key(cb)
    eng = _ENGINES.get(key)
    if eng is None:
        if len(_ENGINES) > 4:
            _ENGINES.clear()
        eng = _ENGINES[key] = _Engine(cb)
    return eng


def engine_for(cb: Codebook) -> _Engine:
    """The process's tagging engine for ``cb`` (built once, then reused by :func:`tag`):
    a worker process that tags many partitions builds its pipeline once. Keep it to tag
    with it (:func:`tag_with_engine`): :func:`tag` looks it up again, and this process's
    cache of engines is emptied when a sixth codebook's is built."""
    return _engine(cb)


def _engine_key(cb: Codebook) -> str:
    return f"{cb.sha256}:{cb.path}"


def _sharing_a_sentence(
    found: list[tuple], need: int, roles: frozenset[str] | None = None
) -> list[tuple]:
    """Of scored entries ``found``, those with positive evidence in the first sentence
    (in text order, of one of ``roles`` if given) where at least ``need`` of them have
    some, each cut to its hits in that sentence; ``[]`` when no sentence has that many."""
    per_sentence: dict[str, list[int]] = {}
    first: dict[str, int] = {}
    for i, s in enumerate(found):
        for h in s[4]:
            if h[3] <= 0 or (roles is not None and h[9] not in roles):
                continue
            members = per_sentence.setdefault(h[8], [])
            if not members or members[-1] != i:
                members.append(i)
            first[h[8]] = min(first.get(h[8], h[6]), h[6])
    for sentence in sorted(per_sentence, key=first.__getitem__):
        members = per_sentence[sentence]
        if len(members) >= need:
            return [
                (*found[i][:4], [h for h in found[i][4] if h[8] == sentence], *found[i][5:])
                for i in members
            ]
    return []


class _Engine:
    def __init__(self, cb: Codebook) -> None:
        self.cb = cb
        self.nlp = build_nlp(cb, write_spans=False)
        #: held by whoever runs the pipeline (:meth:`run_locked`), for the whole run and
        #: any memory zone around it: a zone open on the pipeline takes every thread's new
        #: words (another thread's would be freed mid-document at its exit), and another
        #: thread's chunk_words is nothing while it is open. Reentrant: a holder may tag.
        self.lock = threading.RLock()
        self.procs = [proc for _, proc in self.nlp.pipeline]
        self.version = cb.tag_version
        self.meta_rules: dict[str, list[MetadataRule]] = {}
        for rule in cb.metadata_rules():
            if "metadata" in cb.facets[rule.facet].fields:
                self.meta_rules.setdefault(rule.column, []).append(rule)
        self.rank = {
            (f, lab): (i, j)
            for i, (f, facet) in enumerate(cb.facets.items())
            for j, lab in enumerate(facet.labels)
        }
        self.multi = {f: facet.multi for f, facet in cb.facets.items()}
        #: facet -> the sentence roles its cues count in (facets that limit them only)
        #: every facet's cross-facet conditions (synth.tagging.conditions)
        self.conditions = tuple(c for f in cb.facets.values() for c in f.conditions)
        self.counts_in = {
            f: facet.counts_in for f, facet in cb.facets.items() if facet.counts_in is not None
        }
        #: (facet, label) -> ((outranked label, score from which it is replaced, or None:
        #: when this one scores at least as high), ...)
        self.outranks = {
            (f, lab.id): tuple((o, dict(lab.outranks_from).get(o)) for o in lab.outranks)
            for f, facet in cb.facets.items()
            for lab in facet.labels.values()
            if lab.outranks
        }
        #: (facet, label) -> ((outranked label, fields where this one's own hit replaces
        #: it), ...): read before the scores' outranking (:meth:`_outrank_in`)
        self.outranks_in = {
            (f, lab.id): lab.outranks_in
            for f, facet in cb.facets.items()
            for lab in facet.labels.values()
            if lab.outranks_in
        }
        #: labels made of others' evidence (a label's ``combines``), codebook order
        self.combinations = tuple(
            (
                (f, lab.id),
                tuple((f, p) for p in lab.combines),
                lab.combines_min,
                lab.combines_at_least or len(lab.combines),
                lab.combines_same_sentence,
                lab.combines_roles,
            )
            for f, facet in cb.facets.items()
            for lab in facet.labels.values()
            if lab.combines
        )
        #: facet -> cue phrases that only name a label when nothing else does
        self.yielding = {
            f: (facet.yielding, facet.yielding_fields)
            for f, facet in cb.facets.items()
            if facet.yielding or facet.yielding_fields
        }
        #: (facet, label, phrase) -> the fields whose text silences the cue (its ``unless``)
        self.unless = {(c.facet, c.label, c.phrase): c.unless for c in cb.cues() if c.unless}
        #: (facet, label, abbreviation) -> what the codebook's spelled-out cues say it means
        #: (synth.tagging.abbreviations): a record defining it otherwise drops its hits
        self.abbreviations = expansions(
            (c.facet, c.label, c.phrase) for c in cb.cues() if c.kind == "cue"
        )
        #: facets the publisher speaks for only when the record has no venue (issuer_only)
        self.issuer_only = frozenset(f for f, facet in cb.facets.items() if facet.issuer_only)
        self.rights_notices = cb.rights_notices
        #: facets' fallback labels (synth.tagging.fallbacks), codebook order
        self.fallbacks = tuple(fb for facet in cb.facets.values() for fb in facet.fallbacks)
        self.field_weights = cb.field_weights
        self.caps = cb.scoring.field_caps
        self.scale = cb.scoring.scale
        self.min_score = cb.scoring.min_score
        self.max_evidence = max(1, cb.scoring.max_evidence)
        self._single: dict[tuple[str, float], float] = {}
        self._profiles: dict[tuple[tuple[str, float], ...], float] = {}
        self._english = [f" {w} " for w in sorted(cb.language.english_words)]
        self._english_set = frozenset(w for w in cb.language.english_words if " " not in w)
        if len(self._english_set) != len(cb.language.english_words):  # phrases: count them
            self._english_count = lambda sample: sum(sample.count(w) for w in self._english)
        self.venue_cache: dict[tuple[str, str], list[tuple]] = {}
        self.meta_cache: dict[tuple[str, type, Any], list[tuple]] = {}
        keep = cb.keep_hyphen_after
        self._join = lambda m: m.group(1) + ("-" if m.group(1).lower() in keep else "")

    # -- text -----------------------------------------------------------------------------

    def clean(self, text: Any, *, broken_lines: bool = False) -> str:
        if not isinstance(text, str):
            if text is None or (isinstance(text, float) and text != text):
                return ""
            text = str(text)
        if not text.isascii() and any(c in text for c in _ODD_HYPHEN_CHARS):
            text = text.translate(_HYPHENS)
        if broken_lines and ("-\n" in text or "- \n" in text):
            text = _BROKEN_WORD.sub(self._join, text)
        # str methods, not a regex: this runs on every field of every record
        if "  " in text or "\n" in text or "\t" in text or "\r" in text or "\xa0" in text:
            return " ".join(text.split())
        return text.strip()

    def main_docs(self, rec: _Rec) -> Iterator[Any]:
        """Title, keywords, abstract and extracts as one Doc with a segment per part; when
        they exceed :data:`MAX_CHUNK_CHARS` together (spaCy refuses a text over its
        ``max_length``), as several Docs of whole sentences, each segment keeping its
        field, so every hit still names its field and sentence."""
        parts = self.main_parts(rec)
        if sum(len(part) + 2 for _, part in parts) <= MAX_CHUNK_CHARS:
            yield self.segmented_doc(parts)
            return
        log.info("record %s: title, abstract and extracts tagged in pieces", rec.record_id)
        piece: list[tuple[str, str]] = []
        size = 0
        for field, part in parts:
            for chunk in _split(part, MAX_CHUNK_CHARS):
                if piece and size + len(chunk) > MAX_CHUNK_CHARS:
                    yield self.segmented_doc(piece)
                    piece, size = [], 0
                piece.append((field, chunk))
                size += len(chunk) + 2
        if piece:
            yield self.segmented_doc(piece)

    def without_notice(self, text: Any) -> Any:
        """``text`` without its closing rights notice ("© 2010 by the American Burn
        Association.", "Published by Oxford University Press on behalf of ..."): from the
        first notice marker (``matching.rights_notices``) in the text's second half that
        opens a sentence or a bracket, to the end. The notice names a publisher, not the
        study; a marker earlier in the text is the text's own."""
        if not isinstance(text, str) or not self.rights_notices:
            return text
        half = len(text) // 2
        cut = len(text)
        for marker in self.rights_notices:
            at = text.find(marker, half)
            while 0 < at < cut:
                before = text[:at].rstrip()
                if before and before[-1] in ".;:()[]":
                    cut = len(before) - 1 if before[-1] in "([" else at
                    break
                at = text.find(marker, at + 1)
        return text[:cut].rstrip() if cut < len(text) else text

    def main_parts(self, rec: _Rec) -> list[tuple[str, str]]:
        """``(field, cleaned text)`` of the title, keywords, abstract and extracts."""
        parts: list[tuple[str, str]] = [("title", self.clean(rec.title))]
        kw = rec.keywords
        if isinstance(kw, str):
            kw = [k for k in re.split(r"\s*[;\n]\s*", kw)]
        if isinstance(kw, list | tuple):
            parts.extend(("keywords", self.clean(k)) for k in kw)
        parts.append(("abstract", self.clean(self.without_notice(rec.abstract))))
        parts.extend(("extract", self.clean(e, broken_lines=True)) for e in rec.extracts)
        return parts

    def segmented_doc(self, parts: list[tuple[str, str]]) -> Any:
        """One Doc of ``parts`` joined by blank lines, a segment per non-empty part."""
        text = ""
        segments = []
        for field, part in parts:
            if not part:
                continue
            if text:
                text += "\n\n"
            start = len(text)
            text += part
            segments.append((start, len(text), field))
        doc = self.nlp.make_doc(text)
        doc.user_data[TEXT_KEY] = text
        doc.user_data[SEGMENTS_KEY] = segments
        return doc

    def fulltext_docs(self, rec: _Rec) -> Iterator[Any]:
        for raw in rec.fulltexts:
            text = self.clean(raw, broken_lines=True)
            for chunk in _split(text, MAX_CHUNK_CHARS):
                doc = self.nlp.make_doc(chunk)
                doc.user_data[TEXT_KEY] = chunk
                doc.user_data[SEGMENTS_KEY] = [(0, len(chunk), "fulltext")]
                yield doc

    def short_hits(self, text: Any, field: str) -> list[tuple]:
        """Hits in a venue or publisher string, cached: they repeat across records."""
        if not isinstance(text, str) or not text:
            return []
        key = (field, text)
        hits = self.venue_cache.get(key)
        if hits is None:
            clean = self.clean(text)
            doc = self.nlp.make_doc(clean)
            doc.user_data[TEXT_KEY] = clean
            doc.user_data[SEGMENTS_KEY] = [(0, len(clean), field)]
            for proc in self.procs:
                doc = proc(doc)
            hits = doc.user_data.get(HITS_KEY) or []
            if len(self.venue_cache) >= _VENUE_CACHE_MAX:
                self.venue_cache.clear()
            self.venue_cache[key] = hits
        return hits

    def meta_hits(self, rec: _Rec) -> list[tuple]:
        """Hits of the codebook's metadata rules (publication type, grey flag, URL domain,
        ...); values repeat across records (``journal-article``), so each distinct
        (column, value) is judged once."""
        hits: list[tuple] = []
        cache = self.meta_cache
        for column, rules in self.meta_rules.items():
            value = getattr(rec, column)
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                continue
            key = (column, type(value), value)
            try:
                found = cache.get(key)
            except TypeError:  # unhashable (a list): judge it each time
                hits.extend(self._meta_column(column, rules, value))
                continue
            if found is None:
                if len(cache) >= _VENUE_CACHE_MAX:
                    cache.clear()
                found = cache[key] = self._meta_column(column, rules, value)
            if found:
                hits.extend(found)
        return hits

    def _meta_column(self, column: str, rules: list[MetadataRule], value: Any) -> list[tuple]:
        if column == "url" and isinstance(value, str) and not self.cb.url_names_the_record(value):
            return []  # a library's link resolver: its host is the reader's, not the record's
        w = self.field_weights.get("metadata", 1.0)
        hits = []
        for rule in rules:
            matched = rule.match(value)
            if matched is None:
                continue
            sentence = f"{column}: {value}"
            hits.append(
                (rule.facet, rule.label, "metadata", rule.weight * w, False,
                 rule.description, -1, matched, sentence, None)
            )  # fmt: skip
        return hits

    # -- running --------------------------------------------------------------------------

    def docs(self, recs: Sequence[_Rec]) -> Iterator[tuple[Any, int]]:
        for i, rec in enumerate(recs):
            for doc in self.main_docs(rec):
                yield doc, i
            for doc in self.fulltext_docs(rec):
                yield doc, i

    def run_locked(self, recs: Sequence[_Rec], *, zone: bool, **kwargs: Any) -> _Result:
        """:meth:`run` under the engine's :attr:`lock` (one thread of this process at a
        time: Dask workers of a LocalCluster without processes and this process's own
        :func:`tag` share the engine), and with ``zone`` inside
        :func:`synth.tagging.pipeline.chunk_words` (its new words forgotten at the end,
        once the pipeline has learned enough), entered under the lock."""
        with self.lock, chunk_words(self.nlp) if zone else contextlib.nullcontext():
            return self.run(recs, **kwargs)

    def run(
        self,
        recs: Sequence[_Rec],
        *,
        batch_size: int = 256,
        progress: bool = False,
        bar: Any = None,
    ) -> _Result:
        """Tag ``recs``: rows, language notes, and the records that raised (by id).

        Records go through the pipeline in groups of ``RUN_GROUP`` batches; a group that
        raises is undone and tagged again record by record, so one bad record costs its
        group a second pass and is the only one left out. ``bar``: a longer run's
        progress bar to advance by ``recs`` (left open), instead of one of their own."""
        rows = _Cols()
        notes: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        own = bar is None
        if own:
            bar = _progress(len(recs), progress)
        end = (bar.n if bar is not None else 0) + len(recs)
        group = max(1, batch_size * RUN_GROUP)
        with gc_paused():
            for start in range(0, len(recs), group):
                span = recs[start : start + group]
                n_rows, n_notes = len(rows), len(notes)
                try:
                    self.run_group(span, batch_size, rows, notes, bar)
                except Exception:  # one record must not stop the run
                    rows.truncate(n_rows)
                    del notes[n_notes:]
                    self.run_singly(span, batch_size, rows, notes, failures)
        if bar is not None:
            bar.update(end - bar.n)
            if own:
                bar.close()
        return rows, notes, failures

    def run_singly(
        self,
        recs: Sequence[_Rec],
        batch_size: int,
        rows: _Cols,
        notes: list[dict[str, Any]],
        failures: list[dict[str, Any]],
    ) -> None:
        """Tag ``recs`` one at a time; a record that raises leaves no rows and is listed in
        ``failures`` with its id and the error."""
        for rec in recs:
            n_rows, n_notes = len(rows), len(notes)
            try:
                self.run_group([rec], batch_size, rows, notes, None)
            except Exception as exc:
                rows.truncate(n_rows)
                del notes[n_notes:]
                error = f"{type(exc).__name__}: {exc}"
                failures.append({"record_id": rec.record_id, "error": error})

    def run_group(
        self,
        recs: Sequence[_Rec],
        batch_size: int,
        rows: _Cols,
        notes: list[dict[str, Any]],
        bar: Any,
    ) -> None:
        """Tag ``recs`` in one pass through the pipeline, appending to ``rows``/``notes``."""
        current = -1
        hits: list[tuple] = []
        for doc, i in self.labelled(recs, batch_size):
            if i != current:
                if current >= 0:
                    self.finish(recs[current], hits, rows, notes)
                    if bar is not None:
                        bar.update(1)
                current, hits = i, []
            found = doc.user_data.get(HITS_KEY)
            if found:
                hits.extend(found)
        if current >= 0:
            self.finish(recs[current], hits, rows, notes)
            if bar is not None:
                bar.update(1)

    def labelled(self, recs: Sequence[_Rec], batch_size: int) -> Iterator[tuple[Any, int]]:
        """``(doc, index of its record)`` through the pipeline's components, a batch at a
        time: each component labels the whole batch before the next one runs, as
        ``nlp.pipe`` does with the components' batching ``pipe``, without its generator
        per component and per batch around every doc."""
        procs = self.procs
        docs = self.docs(recs)
        size = max(1, batch_size)
        while batch := list(islice(docs, size)):
            for proc in procs:
                batch = [(proc(doc), i) for doc, i in batch]
            yield from batch

    def finish(
        self,
        rec: _Rec,
        hits: list[tuple],
        rows: _Cols,
        notes: list[dict[str, Any]],
    ) -> None:
        hits.extend(self.short_hits(rec.venue, "venue"))
        published = self.short_hits(rec.publisher, "metadata")
        if published and self.issuer_only and isinstance(rec.venue, str) and rec.venue.strip():
            published = [h for h in published if h[0] not in self.issuer_only]
        hits.extend(published)
        hits.extend(self.meta_hits(rec))
        note = self.language_note(rec)
        if note:
            notes.append({"record_id": rec.record_id, "note": note})
        if self.unless and hits:
            hits = self.without_silenced(rec, hits)
        if hits and self.abbreviations:  # "proton pump inhibitors (PPIs)": not involvement
            hits = without_other_meanings(hits, lambda: _texts(rec), self.abbreviations)
        start = len(rows)
        if hits:
            self.rows(rec.record_id, hits, rows)
        if self.fallbacks:
            self.fall_back(rec, rows, start)

    def without_silenced(self, rec: _Rec, hits: list[tuple]) -> list[tuple]:
        """``hits`` without those of cues whose ``unless`` names a field the record has text
        in: a title's generic words say nothing when an abstract is there to say where."""
        present = set()
        if isinstance(rec.abstract, str) and rec.abstract.strip():
            present.add("abstract")
        if rec.extracts:
            present.add("extract")
        if rec.fulltexts:
            present.add("fulltext")
        if not present:
            return hits
        unless = self.unless
        kept = []
        for h in hits:
            silenced_by = unless.get((h[0], h[1], h[5]))
            if silenced_by is None or not silenced_by & present:
                kept.append(h)
        return kept

    def fall_back(self, rec: _Rec, rows: _Cols, start: int) -> None:
        """Add a facet's fallback label (:mod:`synth.tagging.fallbacks`) to a record that
        has no row of that facet, or only weak ones the fallback may be read over (its
        rows are ``rows`` from ``start``)."""
        found = set(rows.facet[start:])
        fell_back: set[str] = set()
        for fb in self.fallbacks:
            if fb.facet in fell_back:
                continue
            weak = None
            if fb.facet in found:
                if self.all_weaker(rows, start, fb):
                    weak = WEAKER
                elif self.only_own_weaker(rows, start, fb):
                    weak = OWN_WEAKLY
                else:
                    continue
            reason = fb.applies(self.without_notice(rec.abstract), weak=weak)
            if reason is None:
                continue
            fell_back.add(fb.facet)  # the first fallback of a facet that holds
            if weak and not self.multi.get(fb.facet, True):  # other weak labels give way
                self.drop_facet_rows(rows, start, fb.facet, but=fb.label)
            if weak and self.raise_own_row(rows, start, fb, reason):
                continue  # the fallback's label was found weakly: raised, its cues kept
            rows.record_id.append(rec.record_id)
            rows.facet.append(fb.facet)
            rows.label.append(fb.label)
            rows.score.append(fb.score)
            rows.evidence.append(fb.evidence(reason))

    @staticmethod
    def all_weaker(rows: _Cols, start: int, fb: Fallback) -> bool:
        """Whether every row of ``fb``'s facet from ``start`` scores below its
        ``over_weaker_than`` (False when it has none)."""
        below = fb.over_weaker_than
        if below is None:
            return False
        return all(
            score < below
            for facet, score in zip(rows.facet[start:], rows.score[start:], strict=True)
            if facet == fb.facet
        )

    @staticmethod
    def only_own_weaker(rows: _Cols, start: int, fb: Fallback) -> bool:
        """Whether the only rows of ``fb``'s facet from ``start`` are of its own label,
        scoring below its score: the weak cue agrees with the fallback ("In this paper we
        propose ..." in an abstract with no method and no figure is a position paper)."""
        return all(
            label == fb.label and score < fb.score
            for facet, label, score in zip(
                rows.facet[start:], rows.label[start:], rows.score[start:], strict=True
            )
            if facet == fb.facet
        )

    @staticmethod
    def drop_facet_rows(rows: _Cols, start: int, facet: str, but: str | None = None) -> None:
        """Drop the rows of ``facet`` from ``start`` (a record's own rows), except the
        row of label ``but``."""
        keep = [
            i for i in range(start, len(rows)) if rows.facet[i] != facet or rows.label[i] == but
        ]
        for column in (rows.record_id, rows.facet, rows.label, rows.score, rows.evidence):
            column[start:] = [column[i] for i in keep]

    @staticmethod
    def raise_own_row(rows: _Cols, start: int, fb: Fallback, reason: str) -> bool:
        """Raise the record's weak row of ``fb``'s own label to the fallback's score, its
        evidence the fallback's reason followed by the cues that found it weakly (one
        row per label, and a reviewer still sees those cues). False when there is none."""
        for i in range(start, len(rows)):
            if rows.facet[i] == fb.facet and rows.label[i] == fb.label:
                rows.score[i] = max(rows.score[i], fb.score)
                rows.evidence[i] = fb.evidence(reason) + list(rows.evidence[i])
                return True
        return False

    def language_note(self, rec: _Rec) -> str | None:
        lang = rec.language
        if isinstance(lang, str) and lang.strip() and lang.strip().lower() not in _ENGLISH_CODES:
            return f"language is {lang.strip()!r}"
        text = rec.abstract if isinstance(rec.abstract, str) else ""
        if not text and rec.fulltexts:
            text = rec.fulltexts[0][:20_000]
        if not text:
            return None
        check = self.cb.language
        sample = text[:1000].lower()  # a sample is enough
        if "\n" in sample or "\t" in sample or "  " in sample:
            sample = " ".join(sample.split())
        sample = f" {sample} "
        n_words = sample.count(" ") - 1
        if n_words < check.min_words:
            return None
        # English text shows itself early: when the sample's first words already hold
        # enough common words the whole sample does too (its count can only be higher)
        cut = sample.rfind(" ", 0, 400)
        if cut > 0 and self._english_count(sample[: cut + 1]) / n_words >= check.min_ratio:
            return None
        ratio = self._english_count(sample) / n_words
        if ratio < check.min_ratio:
            return f"text looks non-English ({ratio:.0%} common English words)"
        return None

    def _english_count(self, sample: str) -> int:
        """How often the common English words stand in ``sample`` (space-delimited, as
        ``str.count(" the ")`` counts them: a run of the same word counts every other one).

        One set lookup per word; the ``str.count`` per word is kept for the rare sample
        where a word follows itself, so the count is exactly what it always was."""
        words = sample.split(" ")
        if any(map(operator.eq, words, islice(words, 1, None))):
            return sum(sample.count(w) for w in self._english)
        return sum(map(self._english_set.__contains__, words))

    # -- scoring --------------------------------------------------------------------------

    def rows(self, record_id: Any, hits: list[tuple], out: _Cols) -> None:
        """Append the record's tag rows to ``out``: facets in codebook order, labels by
        score (ties in codebook order); a single-label facet keeps only its best label.

        This runs once per record over every hit, so it is written flat: grouping,
        scoring (cached per sequence of (field, weight) of a group's hits: the score is a
        function of that sequence) and the evidence of small groups inline."""
        groups: dict[tuple[str, str], list[tuple]] = {}
        counts_in = self.counts_in
        for h in hits:
            if counts_in:  # a facet that counts only some sentence roles
                allowed = counts_in.get(h[0])
                if (
                    allowed is not None
                    and h[9] not in allowed
                    and h[9] is not None
                    and h[2] not in ALWAYS_COUNT_FIELDS
                ):
                    continue
            key = (h[0], h[1])
            g = groups.get(key)
            if g is None:
                groups[key] = [h]
            else:
                g.append(h)
        scored = []
        min_score = self.min_score
        rank = self.rank
        single = self._single
        profiles = self._profiles
        for key, group in groups.items():
            if len(group) == 1:  # the common case: a score that depends on field and weight
                h = group[0]
                pkey = (h[2], h[3])
                score = single.get(pkey)
                if score is None:
                    score = single[pkey] = self.score([h])
            else:
                pkey = tuple([(h[2], h[3]) for h in group])
                score = profiles.get(pkey)
                if score is None:
                    if len(profiles) >= _PROFILE_CACHE_MAX:
                        profiles.clear()
                    score = profiles[pkey] = self.score(group)
            if score >= min_score and score > 0:
                r = rank.get(key, _LAST)
                scored.append((r[0], -score, r[1], key, group, score))
        if not scored:
            return
        if self.combinations:
            scored = self._combine(scored)
        if self.yielding and len(scored) > 1:
            scored = self._yield(scored)
        ranked = bool(self.outranks or self.outranks_in)
        if self.conditions:  # cross-facet conditions (codebook), read after outranking
            scored = apply_conditions(self.conditions, scored, self._outrank if ranked else None)
        if ranked and len(scored) > 1:
            scored = self._outrank(scored)
        scored.sort()  # facet rank, best score, label rank (keys are unique: groups unseen)
        single_done: set[str] = set()
        multi = self.multi
        max_ev = self.max_evidence
        for _, _, _, (facet, label), group, score in scored:
            if not multi.get(facet, True):
                if facet in single_done:
                    continue
                single_done.add(facet)
            if len(group) > 1 and (
                len(group) > max_ev
                or len({(h[8], h[5]) for h in group}) != len(group)
                or min([h[3] for h in group]) < 0
            ):
                group = self._choose_evidence(group)
            ev = [
                {"field": h[2], "sentence": h[8], "match": h[7], "cue": h[5],
                 "negated": h[4], "weight": h[3]}
                for h in group
            ]  # fmt: skip
            out.record_id.append(record_id)
            out.facet.append(facet)
            out.label.append(label)
            out.score.append(score)  # the cached object: shared rows pickle as references
            out.evidence.append(ev)

    def _outrank(self, scored: list[tuple]) -> list[tuple]:
        """Drop labels that a label of the same facet outranks: it scores at least as high,
        or at least its own ``min_score`` for that label (an ``outranks`` mapping)."""
        if self.outranks_in:
            scored = self._outrank_in(scored)
        outranks = self.outranks
        if not any(s[3] in outranks for s in scored):
            return scored
        scores = {s[3]: -s[1] for s in scored}
        dropped = set()
        for (facet, label), score in scores.items():
            for other, from_score in outranks.get((facet, label), ()):
                # from its own score on, or when it scores at least as high
                at_least = scores.get((facet, other), 2.0) <= score
                if at_least or (from_score is not None and score >= from_score):
                    dropped.add((facet, other))
        return [s for s in scored if s[3] not in dropped] if dropped else scored

    def _outrank_in(self, scored: list[tuple]) -> list[tuple]:
        """Drop labels that a label of the same facet outranks by where it is named (an
        ``outranks`` entry with ``fields``): it has a hit of its own in those fields. Read
        best score first and before the scores' outranking: a label dropped outranks
        nothing, so of two that name each other in a title the stronger stays."""
        dropped: set[tuple[str, str]] = set()
        for s in sorted(scored, key=lambda e: e[:3]):  # facet, best score, label rank
            if s[3] in dropped:
                continue
            for other, fields in self.outranks_in.get(s[3], ()):
                if _own_hit_in(s, fields):
                    dropped.add((s[3][0], other))
        return [s for s in scored if s[3] not in dropped] if dropped else scored

    def _yield(self, scored: list[tuple]) -> list[tuple]:
        """Drop a yielding facet's labels whose positive evidence is all yielding cues
        (demonyms) or hits in yielding fields (a journal's name) when another label of that
        facet has evidence of another kind (a place in the text): "Hong Kong Chinese women"
        were studied in Hong Kong, not in China; a US cohort in the "British Journal of
        Psychiatry" in the US; "patients with depression in primary care" are in primary
        care. A label does not give way to one it ``outranks``: "hospitalized patients with
        schizophrenia" are on a psychiatric ward, not in acute care."""
        dropped = set()
        for facet, (weak, weak_fields) in self.yielding.items():
            mine = [s for s in scored if s[3][0] == facet]
            if len(mine) < 2:
                continue
            only_weak = {
                s[3]
                for s in mine
                if all(h[5] in weak or h[2] in weak_fields for h in s[4] if h[3] > 0)
            }
            strong = [s[3][1] for s in mine if s[3] not in only_weak]
            for key in only_weak:
                over = {o for o, _ in self.outranks.get(key, ())}
                if any(label not in over for label in strong):
                    dropped.add(key)
        return [s for s in scored if s[3] not in dropped] if dropped else scored

    def _combine(self, scored: list[tuple]) -> list[tuple]:
        """Add the labels made of others (``combines``) when enough of their parts (all,
        or ``at_least``) score at least the label's minimum: its score is those parts' best
        (or its own, if higher), its evidence theirs and its own. With ``same_sentence``
        the parts must have positive evidence in one sentence, only that sentence's hits
        are kept, and the label replaces those parts."""
        by_key = {s[3]: s for s in scored}
        for key, parts, least, need, same, roles in self.combinations:
            found = [s for s in (by_key.get(p) for p in parts) if s is not None and s[5] >= least]
            if len(found) < need:
                continue
            if same:
                found = _sharing_a_sentence(found, need, roles)
                if not found:
                    continue
            own = by_key.get(key)
            score = max([s[5] for s in found] + ([own[5]] if own else []))
            group = [h for s in ([own] if own else []) + found for h in s[4]]
            r = self.rank.get(key, _LAST)
            entry = (r[0], -score, r[1], key, group, score)
            gone = {key, *(s[3] for s in found)} if same else {key}
            scored = [s for s in scored if s[3] not in gone] + [entry]
            by_key = {s[3]: s for s in scored}
        return scored

    def score(self, group: list[tuple]) -> float:
        """Sum over fields of ``w * log2(1 + net/w)`` (capped per field), squashed to 0-1;
        0 when nothing in the group counts for the label. (:meth:`rows` caches it.)"""
        per_field: dict[str, float] = {}
        positive = False
        for h in group:
            w = h[3]
            if w > 0:
                positive = True
            per_field[h[2]] = per_field.get(h[2], 0.0) + w
        return self._squash(per_field) if positive else 0.0

    def _squash(self, per_field: dict[str, float]) -> float:
        total = 0.0
        for field, net in per_field.items():
            w = self.field_weights.get(field, 1.0)
            if w <= 0 or net == 0:
                continue
            part = math.copysign(w * math.log2(1.0 + abs(net) / w), net)
            cap = self.caps.get(field)
            if cap is not None:
                part = max(-cap, min(cap, part))
            total += part
        if total <= 0:
            return 0.0
        return round(1.0 - math.exp(-total / self.scale), 4)

    def _choose_evidence(self, group: list[tuple]) -> list[tuple]:
        """The strongest hits (one per sentence and cue), and the strongest against, if any;
        a group that fits whole keeps field order (title first)."""
        if len(group) <= 1:
            return group
        if len(group) > self.max_evidence or min([h[3] for h in group]) < 0:
            group = sorted(group, key=_evidence_order)
        chosen: list[tuple] = []
        seen = set()
        against = None
        for h in group:
            key = (h[8], h[5])
            if key in seen:
                continue
            seen.add(key)
            if against is None and h[3] < 0:
                against = h
            if len(chosen) < self.max_evidence:
                chosen.append(h)
            elif against is not None:
                break
        if against is not None and against not in chosen:
            chosen[-1] = against
        return chosen


_LAST = (1_000_000, 1_000_000)
_PROFILE_CACHE_MAX = 200_000


def _texts(rec: _Rec) -> list[str]:
    """The record's own text fields, where it may define an abbreviation."""
    parts = [rec.title, rec.keywords, rec.abstract, *rec.extracts, *rec.fulltexts]
    return [p for p in parts if isinstance(p, str) and p]


def _own_hit_in(entry: tuple, fields: frozenset[str]) -> bool:
    """Whether a scored label has a positive hit of its own cues (not one of the labels
    it combines) in one of ``fields``."""
    label = entry[3][1]
    return any(h[1] == label and h[2] in fields and h[3] > 0 for h in entry[4])


def _evidence_order(h: tuple) -> tuple[float, int, int]:
    return (-abs(h[3]), _FIELD_ORDER.get(h[2], 99), h[6])


def _split(text: str, limit: int) -> Iterable[str]:
    """Cut text into pieces of at most ``limit`` chars, at a sentence end where possible."""
    start = 0
    n = len(text)
    while n - start > limit:
        end = start + limit
        cut = text.rfind(". ", start + limit // 2, end)
        if cut < 0:
            cut = text.rfind(" ", start + limit // 2, end)
        cut = end if cut < 0 else cut + 1
        yield text[start:cut].strip()
        start = cut
    if start < n:
        piece = text[start:].strip()
        if piece:
            yield piece
