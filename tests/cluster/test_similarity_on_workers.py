"""``synth tag --cluster`` with criteria judged by similarity to their wording (issue 19):
the workers count each partition's sentences (a number per criterion word back), the
command sums the counts into the words' weights and sends them once, with the review
(:class:`synth.distributed.tagging.Judging`), and each worker scores its own partition.
The command reads no record whole and scores nothing, and the stored run is the single
machine's, table for table."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.distributed import tagging as dtagging
from synth.review import review_for
from synth.store import connect
from synth.tagging import criteria, workflow
from synth.tagging.criteria import SimilarityCounts, SimilarityCriteria, SimilarityWeights
from synth.tagging.workflow import tag_store
from tests.cluster.test_tag_judging import _never_here
from tests.tagging.test_similarity_streamed import _edited_after
from tests.tagging.test_tag_chunks import _generated_store, stored_run

pytestmark = pytest.mark.slow


def _chunks(db: Path, size: int) -> list[tuple[Any, Any, Any]]:
    """The store's chunks as the command reads them (records, extracts, full texts)."""
    from synth.store.records import StoreRecords
    from synth.store.views import load_extracts

    con = connect(db)
    try:
        with StoreRecords.listed(con, size) as reader:
            extracts = load_extracts(con)
            return [(p, e, f) for p, e, f, _ in workflow._store_chunks(reader, extracts)]
    finally:
        con.close()


def test_the_workers_count_and_score_and_the_command_sends_only_the_weights(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,000 generated records in partitions of 600 with a criterion judged by similarity:
    with every loader of the whole store, every similarity step and every judging step
    raising in the command's process, the run stores the single machine's tables; the
    workers were sent the word weights of the whole corpus (the single machine's, counted
    in chunks of 600 here) in the review's Judging, and the partitions nothing else of
    similarity."""
    db = _generated_store(tmp_path, 2_000)
    review = review_for(tmp_path / "review.yml")
    shutil.copyfile(db, tmp_path / "cluster.sqlite")
    con = connect(db)
    try:
        single = stored_run(con, tag_store(con, review_path=review.path).run_id)
    finally:
        con.close()
    wanted = SimilarityCriteria.of(review)
    total = SimilarityCounts()
    for part, ext, full in _chunks(db, 600):
        total += wanted.count(part, ext, full)
    expected = wanted.weigh(total)

    def refuse(name: str) -> Any:
        def raising(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"{name} ran in the command's process")

        return raising

    _never_here(monkeypatch)
    monkeypatch.setattr(criteria, "similarity_tags", refuse("similarity_tags"))
    monkeypatch.setattr(SimilarityCriteria, "count", refuse("count"))
    monkeypatch.setattr(SimilarityWeights, "rows", refuse("rows"))
    monkeypatch.setattr(workflow, "load_records", refuse("load_records"))
    sent: list[dtagging.Judging] = []
    plugin = dtagging.JudgePlugin.__init__

    def judging(self: dtagging.JudgePlugin, what: dtagging.Judging) -> None:
        sent.append(what)
        plugin(self, what)

    monkeypatch.setattr(dtagging.JudgePlugin, "__init__", judging)
    submitted: list[tuple[str, tuple[Any, ...]]] = []
    submit = client.submit

    def spy(func: Any, *args: Any, **kwargs: Any) -> Any:
        payload = args[0] if func is dtagging._count_partition else args[2]
        if isinstance(payload, bytes):  # a partition to tag, pickled once by the command
            payload = pickle.loads(payload)
        submitted.append((func.__name__, payload))
        return submit(func, *args, **kwargs)

    monkeypatch.setattr(client, "submit", spy)
    con = connect(tmp_path / "cluster.sqlite")
    try:
        run = tag_store(con, review_path=review.path, client=client, partition_size=600)
        cluster = stored_run(con, run.run_id)
    finally:
        con.close()
    assert len(sent) == 1 and sent[0].similarity == expected
    counted = [p for name, p in submitted if name == "_count_partition"]
    tagged = [p for name, p in submitted if name == "_tag_partition"]
    assert [len(p[0]) for p in counted] == [600, 600, 600, 200]  # pass 1: a task a partition
    assert list(counted[0][0].columns) == ["record_id", "title", "keywords", "abstract"]
    assert [len(p[0]) for p in tagged] == [600, 600, 600, 200]
    assert all(len(p) == 4 for p in tagged)  # records, extracts, full texts, PDF pages
    assessment = single["criteria_assessments"]
    assert (assessment[assessment["criterion"] == "patient-reported"]["status"] == "met").any()
    for name, frame in single.items():
        pd.testing.assert_frame_equal(frame, cluster[name], obj=name)


def test_a_partition_counted_on_a_worker_sends_back_its_criteria_words_alone(
    client: Any, tmp_path: Path
) -> None:
    """Pass 1 on the workers sums to the counts of the store in one piece, and a
    partition's counts hold no word but the criteria's."""
    db = _generated_store(tmp_path, 700)
    wanted = SimilarityCriteria.of(review_for(tmp_path / "review.yml"))
    chunks = _chunks(db, 150)
    on_workers = dtagging.similarity_counts_on_cluster(client, iter(chunks), wanted)
    whole = _chunks(db, 10_000)
    assert len(whole) == 1 and on_workers == wanted.count(*whole[0])
    assert on_workers.units > 700 and set(on_workers.words) <= set(wanted.vocabulary)
    one = client.submit(dtagging._count_partition, chunks[0], wanted).result()
    assert isinstance(one, SimilarityCounts) and set(one.words) <= set(wanted.vocabulary)
    assert dtagging.similarity_counts_on_cluster(client, iter(()), wanted) == SimilarityCounts()


def test_a_record_edited_between_the_passes_on_the_cluster_is_told_and_recorded(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A record's abstract edited after the workers counted the store (pass 1) and before
    they scored it (pass 2): each worker sends back what it scored with its partition,
    and the run says the weights are not those of the texts judged (a warning, and
    ``similarity_recounted`` false with both passes' totals in its parameters)."""
    from synth.store.tags import run_params

    db = _generated_store(tmp_path, 700)
    review = review_for(tmp_path / "review.yml")
    counted_then_edited = _edited_after(
        dtagging.similarity_counts_on_cluster,
        db,
        " Patient-reported outcomes were measured in hospital care.",
    )
    monkeypatch.setattr(dtagging, "similarity_counts_on_cluster", counted_then_edited)
    caplog.set_level("WARNING", logger="synth.tagging.workflow")
    con = connect(db)
    try:
        run = tag_store(con, review_path=review.path, client=client, partition_size=300)
        params = run_params(con, run.run_id)
    finally:
        con.close()
    told = [r for r in caplog.records if "pass 1 counted" in r.getMessage()]
    assert len(told) == 1
    assert params["similarity_recounted"] is False
    first, second = params["similarity_counts"]["pass_1"], params["similarity_counts"]["pass_2"]
    assert second["sentences"] == first["sentences"] + 1
    assert second["criterion_words"] >= first["criterion_words"] + 4  # its four words
