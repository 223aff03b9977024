"""A long ``synth tag`` run on one machine does not keep every word of the corpus (issue 19):
once the tagger's pipeline has learned :data:`synth.tagging.pipeline.VOCAB_GROWTH` words
beyond those it was built with, each chunk it tags forgets the words new to it, and the
run it stores is the same."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from synth.tagging import pipeline, tagger
from synth.tagging.codebook import load_codebook
from synth.tagging.pipeline import SEGMENTS_KEY, TEXT_KEY, build_nlp, chunk_words, hit_dicts
from tests.tagging.test_tag_chunks import assert_same_run, tagged

TEXTS = [
    "A co-design study with patients in primary care in Kenya. Zorblatt scores rose.",
    "Qualitative interviews (n=37) on the Quixotine-7 scale; no co-production reported.",
    "We did not use co-design. Frobnitzal outcomes in Norway's hospitals.",
]


def _hits(nlp: object, texts: list[str]) -> list[list[dict[str, object]]]:
    out = []
    for text in texts:
        doc = nlp.make_doc(text)  # type: ignore[attr-defined]
        doc.user_data[TEXT_KEY] = text
        doc.user_data[SEGMENTS_KEY] = [(0, len(text), "abstract")]
        for _, proc in nlp.pipeline:  # type: ignore[attr-defined]
            doc = proc(doc)
        out.append(hit_dicts(doc))
    return out


def test_a_chunk_forgets_its_new_words_once_the_pipeline_has_learned_enough() -> None:
    nlp = build_nlp(load_codebook(), write_spans=False)
    kept = _hits(build_nlp(load_codebook(), write_spans=False), TEXTS)
    words = len(nlp.vocab.strings)
    with chunk_words(nlp):  # few words learned yet: they are kept
        assert _hits(nlp, TEXTS[:1]) == kept[:1]
    assert "Zorblatt" in nlp.vocab.strings
    learned = len(nlp.vocab.strings)
    assert learned > words
    for _ in range(2):  # enough learned: a chunk's new words are gone after it
        with chunk_words(nlp, growth=1):
            assert _hits(nlp, TEXTS) == kept
        assert len(nlp.vocab.strings) == learned
        assert "Quixotine" not in nlp.vocab.strings and "Frobnitzal" not in nlp.vocab.strings
    assert "Zorblatt" in nlp.vocab.strings  # learned before: kept


def test_a_chunk_inside_another_is_the_outer_ones() -> None:
    """spaCy's memory zones do not nest: inside one, :func:`chunk_words` opens none, and
    the outer zone forgets what was tagged inside."""
    nlp = build_nlp(load_codebook(), write_spans=False)
    words = len(nlp.vocab.strings)
    with chunk_words(nlp, growth=0):
        inner = chunk_words(nlp, growth=0)
        with inner:
            assert _hits(nlp, TEXTS)
        assert isinstance(inner, contextlib.nullcontext)
        assert nlp.vocab.in_memory_zone  # the outer zone still open
    assert len(nlp.vocab.strings) == words
    assert not nlp.vocab.in_memory_zone


def test_chunks_that_forget_their_words_store_the_same_run(
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bundled corpus in chunks of 9 records, each forgetting its new words (the
    pipeline built for the run), against one chunk: the same run, and the pipeline's
    vocabulary after the run is the one it was built with."""
    whole = tagged(copy_db(kei_imported_db, tmp_path / "whole.sqlite"), chunk_size=10_000)
    monkeypatch.setattr(pipeline, "VOCAB_GROWTH", 0)
    monkeypatch.setattr(tagger, "_ENGINES", {})
    chunked = tagged(copy_db(kei_imported_db, tmp_path / "chunked.sqlite"), chunk_size=9)
    assert whole[1]["records"] > 5 * 9
    assert_same_run(whole, chunked)
    (engine,) = tagger._ENGINES.values()
    built = build_nlp(engine.cb, write_spans=False)
    assert len(engine.nlp.vocab.strings) == len(built.vocab.strings)


#: Where :func:`_spied_span` writes, per span a worker process tagged: its pid and the
#: strings its pipeline holds after the span (set by the test; forked workers inherit it).
_SPANS: Path | None = None
_TAG_SPAN = tagger._tag_span


def _spied_span(cb: object, recs: object, batch_size: int) -> object:
    """:func:`synth.tagging.tagger._tag_span` that says what the process holds after it."""
    out = _TAG_SPAN(cb, recs, batch_size)  # type: ignore[arg-type]
    assert _SPANS is not None
    strings = len(tagger._engine(cb).nlp.vocab.strings)  # type: ignore[arg-type]
    with _SPANS.open("a", encoding="utf-8") as f:
        f.write(f"{os.getpid()} {strings}\n")
    return out


def _generated_chunks(n: int, size: int) -> list[tuple[pd.DataFrame, None, None]]:
    """``n`` generated records (rare words in every one) as chunks of ``size``."""
    from synth.corpus.synthetic import generate_records

    records, _ = generate_records(n, seed=3)
    return [
        (records.iloc[i : i + size].reset_index(drop=True), None, None) for i in range(0, n, size)
    ]


def test_each_worker_process_forgets_the_new_words_of_every_span_it_tags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--n-process 2`` over a stream of chunks (the pool: this process and one forked
    worker, each tagging spans of the chunks): with a growth of 0, every span's new words
    are gone after it in both processes, whose pipelines then hold the strings they were
    built with, span after span; and the rows are those of a run that keeps every word."""
    import multiprocessing

    from synth import parallel

    chunks = _generated_chunks(1_200, 400)  # three chunks, four spans of 100 each
    cb = load_codebook()
    monkeypatch.setattr(tagger, "_ENGINES", {})
    kept = list(tagger.tag_chunks(iter(chunks), codebook=cb, n_process=2, total=1_200))
    grown = len(tagger._engine(cb).nlp.vocab.strings)

    context = multiprocessing.get_context("fork")  # the worker inherits the patches
    monkeypatch.setattr(parallel, "mp_context", lambda preload=(): context)
    monkeypatch.setattr(tagger, "_ENGINES", {})
    monkeypatch.setattr(tagger, "_tag_span", _spied_span)
    monkeypatch.setattr(sys.modules[__name__], "_SPANS", tmp_path / "spans.txt")
    monkeypatch.setattr(pipeline, "VOCAB_GROWTH", 0)
    forgot = list(tagger.tag_chunks(iter(chunks), codebook=cb, n_process=2, total=1_200))

    assert len(forgot) == len(kept) == 3
    for a, b in zip(kept, forgot, strict=True):
        pd.testing.assert_frame_equal(a, b)
    built = len(build_nlp(cb, write_spans=False).vocab.strings)
    assert grown > built + 10_000  # the words a run keeps without forgetting them
    spans = [
        tuple(map(int, line.split()))
        for line in (tmp_path / "spans.txt").read_text().split("\n")
        if line
    ]
    assert len(spans) == 12
    assert {pid for pid, _ in spans} >= {os.getpid()} and len({pid for pid, _ in spans}) == 2
    assert {strings for _, strings in spans} == {built}


#: Words no pipeline has met (a thread's document made while another's zone is open).
UNSEEN = "Zorblattic quuxification of Frobnitzia patients in Wxyzland"


def test_a_thread_that_tags_waits_for_anothers_memory_zone_to_close(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two threads of one process share its engine (Dask workers of a LocalCluster
    without processes, and this process's own ``tag()``). Thread A tags a chunk in a
    memory zone (growth 0) and, still inside it, lets thread B in; B's ``tag()`` makes a
    document of words new to the pipeline and reads it once A is done. B must not make
    it inside A's zone: A's exit would free its words (spaCy's E018) or, with B's own
    zone a no-op while A's is open, keep them in B's rows' stead. B waits for the
    engine's lock (held by A for the zone and the run), so its document is made after
    A's zone closed, and both threads' rows are those of a run alone."""
    import threading

    (chunk, _, _), *_ = _generated_chunks(100, 100)
    cb = load_codebook()
    monkeypatch.setattr(tagger, "_ENGINES", {})
    alone_a = tagger.tag(chunk, codebook=cb)
    alone_b = tagger.tag(chunk.iloc[:10], codebook=cb)
    monkeypatch.setattr(tagger, "_ENGINES", {})
    monkeypatch.setattr(pipeline, "VOCAB_GROWTH", 0)
    engine = tagger.engine_for(cb)
    a_zoned, b_here, a_done = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    class _Watched:
        """The engine's lock, saying when B comes to take it."""

        def __init__(self, lock: object) -> None:
            self.lock = lock

        def __enter__(self) -> object:
            if threading.current_thread().name == "B":
                b_here.set()
            return self.lock.__enter__()  # type: ignore[attr-defined]

        def __exit__(self, *exc: object) -> object:
            return self.lock.__exit__(*exc)  # type: ignore[attr-defined]

    run = engine.run

    def spied_run(recs: object, **kwargs: object) -> object:
        if threading.current_thread().name == "A":
            result = run(recs, **kwargs)  # type: ignore[arg-type]
            seen["a_zone"] = engine.nlp.vocab.in_memory_zone
            a_zoned.set()
            b_here.wait(60)  # B in its run, or at the lock
            return result
        doc = engine.nlp.make_doc(UNSEEN)  # B, mid-document when A's zone ends
        b_here.set()
        a_done.wait(60)
        try:
            seen["b_words"] = [t.lower_ for t in doc]
        except KeyError as exc:  # E018: the string was freed
            seen["b_words"] = repr(exc)
        return run(recs, **kwargs)  # type: ignore[arg-type]

    lock = _Watched(getattr(engine, "lock", threading.RLock()))
    monkeypatch.setattr(engine, "lock", lock, raising=False)  # before: no lock
    monkeypatch.setattr(engine, "run", spied_run)

    def a() -> None:
        seen["a"] = list(tagger.tag_chunks([(chunk, None, None)], codebook=cb))
        a_done.set()

    def b() -> None:
        seen["b"] = tagger.tag(chunk.iloc[:10], codebook=cb)

    threads = [threading.Thread(target=a, name="A"), threading.Thread(target=b, name="B")]
    threads[0].start()
    a_zoned.wait(60)  # B starts once A is inside its zone
    threads[1].start()
    for t in threads:
        t.join()
    assert seen["a_zone"] is True
    assert seen["b_words"] == UNSEEN.lower().split()
    (rows_a,) = seen["a"]  # type: ignore[misc]
    pd.testing.assert_frame_equal(rows_a, alone_a)
    pd.testing.assert_frame_equal(seen["b"], alone_b)  # type: ignore[arg-type]
