"""``tag_store`` with a cluster streams (issue 19): the store's records go to the workers a
partition at a time as read, each partition's rows come back, are judged and written to
the run in partition order; the run stored is the single machine's, row for row, and a
run that fails midway is never the current one."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.store import connect
from synth.store.tags import current_tags, latest_run
from synth.tagging import workflow
from synth.tagging.workflow import tag_store
from tests.tagging.test_tag_chunks import TABLES, _generated_store, stored_run, tagged

pytestmark = pytest.mark.slow


def test_several_partitions_with_criteria_store_the_single_machine_run(
    client: object, tmp_path: Path
) -> None:
    """2,000 generated records in four partitions (the last one short), the review's
    criteria by cues and one by similarity (its word weights from every record)."""
    db = _generated_store(tmp_path, 2_000)
    review = tmp_path / "review.yml"
    shutil.copyfile(db, tmp_path / "cluster.sqlite")
    single, _, _ = tagged(db, review_path=review)
    cluster, _, run = tagged(
        tmp_path / "cluster.sqlite", review_path=review, client=client, partition_size=600
    )
    assert [p["records"] for p in run.partitions] == [600, 600, 600, 200]
    assessment = single["criteria_assessments"]
    by_similarity = assessment[assessment["criterion"] == "patient-reported"]
    assert (by_similarity["status"] == "met").any()  # the similarity criterion is judged
    for name, frame in single.items():
        assert len(frame), name
        pd.testing.assert_frame_equal(frame, cluster[name], obj=name)
    # no rows held in memory (the store has them): their counts
    assert run.tags is None and run.assessment is None and run.suggestions is None
    assert run.summary.tags == len(single["tags"])
    assert sum(run.summary.decisions.values()) == len(single["suggestions"])


def test_the_cluster_run_reads_the_store_a_partition_at_a_time(
    client: object,
    kei_imported_db: Path,
    kei_tagged_db: Path,
    copy_db: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No step loads every record (the review's criteria all have cues): the run is the
    single machine's all the same."""

    def whole(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the store's records were loaded whole")

    monkeypatch.setattr(workflow, "load_records", whole)
    db = copy_db(kei_imported_db)
    cluster, _, run = tagged(db, client=client, partition_size=20)
    assert [p["records"] for p in run.partitions] == [20, 20, 20, 8]
    con = connect(kei_tagged_db)
    try:
        single = stored_run(con, latest_run(con))
    finally:
        con.close()
    for name, frame in single.items():
        assert len(frame), name
        pd.testing.assert_frame_equal(frame, cluster[name], obj=name)


def test_a_cluster_run_that_fails_between_partitions_leaves_the_previous_one_current(
    client: object,
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from synth.store.tags import TaggingWriter

    con = connect(copy_db(kei_imported_db))
    try:
        first = tag_store(con, client=client, partition_size=20).run_id
        before = current_tags(con)
        real, calls = TaggingWriter.add, []

        def failing_second_partition(self: TaggingWriter, *args: Any, **kwargs: Any) -> None:
            # the partitions are judged on the workers: the command only writes them
            calls.append(1)
            if len(calls) == 2:  # the first partition is written by now
                raise RuntimeError("the store's disk is full")
            real(self, *args, **kwargs)

        monkeypatch.setattr(TaggingWriter, "add", failing_second_partition)
        with pytest.raises(RuntimeError, match="disk is full"):
            tag_store(con, client=client, partition_size=20)
        assert latest_run(con) == first
        pd.testing.assert_frame_equal(current_tags(con), before)
        for table in TABLES:  # what the failed run wrote is removed again
            sql = f"SELECT count(*) FROM {table} WHERE run_id > ?"
            assert con.execute(sql, (first,)).fetchone()[0] == 0, table
    finally:
        con.close()
