"""A run on a cluster counts the records whose text looks non-English as one on this
machine does (tests/tagging/test_tag_notes.py): each partition's notes come back with
its rows and are counted in the run's summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.tagging.test_tag_chunks import tagged
from tests.tagging.test_tag_notes import notes_store


def test_a_cluster_run_counts_its_non_english_records(threaded: Any, tmp_path: Path) -> None:
    db = notes_store(tmp_path)
    here = tagged(db, chunk_size=10_000)[2]
    run = tagged(db, client=threaded, partition_size=2)[2]
    assert run.partitions is not None and len(run.partitions) == 4
    assert run.summary.notes == here.summary.notes == 2
    assert run.summary == here.summary
