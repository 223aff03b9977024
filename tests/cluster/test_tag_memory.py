"""A Dask worker's vocabulary does not grow with the partitions it tags (issue 19): once its
pipeline has learned :data:`synth.tagging.pipeline.VOCAB_GROWTH` words beyond those it was
built with, each partition it tags forgets the words new to it
(:func:`synth.tagging.pipeline.chunk_words`), and the rows are the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.distributed.tagging import plugin_name, read_tag_partitions, tag_partitions
from synth.tagging import pipeline, tagger
from synth.tagging.codebook import load_codebook
from synth.tagging.pipeline import build_nlp
from tests.tagging.test_tag_memory import _generated_chunks

#: Generated records (rare words in every one) and the partition size: six partitions.
RECORDS, PARTITION = 600, 100


def _records_and_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The records and their rows tagged here by a pipeline that keeps every word."""
    (records, _, _), *_ = _generated_chunks(RECORDS, RECORDS)
    return records, tagger.tag(records, codebook=load_codebook())


def test_in_process_workers_forget_each_partitions_new_words_one_at_a_time(
    threaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers in this process (``threaded``) share its one engine: each partition is
    tagged under the engine's one lock, in a memory zone (growth 0: from the first), so
    the pipeline holds the strings it was built with after every partition, and the rows
    are those of a pipeline that keeps every word."""
    monkeypatch.setattr(tagger, "_ENGINES", {})
    records, expected = _records_and_rows()
    monkeypatch.setattr(tagger, "_ENGINES", {})
    monkeypatch.setattr(pipeline, "VOCAB_GROWTH", 0)
    codebook = load_codebook()
    run = tag_partitions(
        threaded, records, codebook, out_dir=tmp_path / "run", partition_size=PARTITION
    )
    assert len(run.partitions) == RECORDS // PARTITION
    assert len({p["worker"] for p in run.partitions}) == 2
    pd.testing.assert_frame_equal(read_tag_partitions(run.files), expected)
    (engine,) = tagger._ENGINES.values()  # the one both workers' plugins took
    built = build_nlp(codebook, write_spans=False)
    assert len(engine.nlp.vocab.strings) == len(built.vocab.strings)
    name = plugin_name(codebook)

    def lock(dask_worker: Any) -> int:
        return id(dask_worker.plugins[name].lock)

    assert len(set(threaded.run(lock).values())) == 1  # one engine, one lock


class _Forgetful(dict):  # type: ignore[type-arg]
    """A cache of engines that keeps none: as if emptied (a sixth codebook's engine
    built) after every engine built."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def test_partitions_are_tagged_by_the_plugins_engine_whatever_the_cache(
    threaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each partition is tagged with its worker plugin's engine, the one whose lock it
    holds and whose memory zone it tags in, not one looked up again in this process's
    cache of engines (emptied when a sixth codebook's is built: here, never kept): no
    engine is built but the plugins', and each holds the strings it was built with."""
    monkeypatch.setattr(tagger, "_ENGINES", {})
    records, expected = _records_and_rows()
    built: list[Any] = []

    class _Recorded(tagger._Engine):
        def __init__(self, cb: Any) -> None:
            super().__init__(cb)
            built.append(self)

    monkeypatch.setattr(tagger, "_Engine", _Recorded)
    monkeypatch.setattr(tagger, "_ENGINES", _Forgetful())
    monkeypatch.setattr(pipeline, "VOCAB_GROWTH", 0)
    codebook = load_codebook()
    run = tag_partitions(
        threaded, records, codebook, out_dir=tmp_path / "run", partition_size=PARTITION
    )
    assert len(run.partitions) == RECORDS // PARTITION
    pd.testing.assert_frame_equal(read_tag_partitions(run.files), expected)
    name = plugin_name(codebook)

    def engine(dask_worker: Any) -> int:
        return id(dask_worker.plugins[name].engine)

    plugins = set(threaded.run(engine).values())
    assert len(plugins) == 2  # each worker's plugin built its own (none kept)
    assert {id(e) for e in built} == plugins  # and no partition built another
    assert {p["engine"] for p in run.partitions} <= plugins
    words = len(build_nlp(codebook, write_spans=False).vocab.strings)
    assert [len(e.nlp.vocab.strings) for e in built] == [words, words]


def test_worker_processes_forget_each_partitions_new_words(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A LocalCluster's worker processes, told a growth of 0: after six partitions each
    worker's pipeline holds the strings a pipeline just built holds, and the rows are
    those of a pipeline that keeps every word."""
    monkeypatch.setattr(tagger, "_ENGINES", {})
    records, expected = _records_and_rows()
    codebook = load_codebook()
    name = plugin_name(codebook)

    def growth(value: int | None) -> int:
        from synth.tagging import pipeline

        was = pipeline.VOCAB_GROWTH
        pipeline.VOCAB_GROWTH = value if value is not None else pipeline.TOKENIZER_CACHE_SIZE
        return was

    def strings(dask_worker: Any) -> tuple[int, int]:
        from synth.tagging.pipeline import build_nlp

        plugin = dask_worker.plugins[name]
        built = build_nlp(plugin.codebook, write_spans=False)
        return len(plugin.engine.nlp.vocab.strings), len(built.vocab.strings)

    client.run(growth, 0)
    try:
        run = tag_partitions(
            client, records, codebook, out_dir=tmp_path / "run", partition_size=PARTITION
        )
    finally:
        client.run(growth, None)
    assert len({p["worker"] for p in run.partitions}) == 2
    pd.testing.assert_frame_equal(read_tag_partitions(run.files), expected)
    held = client.run(strings)
    assert len(held) == 2
    for now, built in held.values():
        assert now == built
