"""What ``synth tag --cluster`` does in the command's own process (issue 19): a partition's
evidence, back from a worker as the JSON text the store keeps, is written as it is (not
parsed and encoded again) unless something here reads it; a store without full texts is
not asked for each chunk's; the run stored is the single machine's all the same."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.distributed.tagging import _evidence_json
from synth.store import connect
from synth.store.tags import TaggingWriter
from synth.tagging.workflow import tag_store
from tests.tagging.test_tag_chunks import _generated_store, stored_run, tagged

EVIDENCE = [
    [{"sentence": "A trial in « Île-de-France » of 40 wards.", "field": "abstract", "w": 0.5}],
    [],
    [{"sentence": "Nurses' views", "field": "title", "start": 0, "score": 1e-07}],
]


def _tags(ids: list[str], evidence: list[Any]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": ids,
            "facet": ["design", "setting", "population"],
            "label": ["trial", "hospital", "nurses"],
            "score": [0.9, 0.5, 1.0],
            "evidence": evidence,
            "source": ["rule"] * 3,
            "version": ["rules:1:abc"] * 3,
        }
    )


def _written(db: Path, evidence: list[Any]) -> pd.DataFrame:
    con = connect(db)
    try:
        ids = [r for (r,) in con.execute("SELECT record_id FROM records LIMIT 3")]
        with TaggingWriter(con, {"records": 3}) as writer:
            writer.add(_tags(ids, evidence))
        return stored_run(con, writer.run_id)["tags"]
    finally:
        con.close()


def test_evidence_given_as_json_text_is_stored_as_given(tmp_path: Path) -> None:
    """The rows a worker sends back (evidence encoded there) store what the same rows with
    their evidence as lists store."""
    db = _generated_store(tmp_path, 5, review=False)
    as_lists = _written(db, EVIDENCE)
    # encoded as a worker encodes a partition's evidence for its Parquet file
    as_text = _written(db, [_evidence_json(e) for e in EVIDENCE])
    assert sorted(as_lists["evidence"]) == sorted(_evidence_json(e) for e in EVIDENCE)
    pd.testing.assert_frame_equal(as_lists, as_text)


def test_a_store_without_full_texts_is_not_asked_for_each_chunks(tmp_path: Path) -> None:
    """Most large stores have no full text: their chunks do not look any up by record."""
    db = _generated_store(tmp_path, 120, review=False)
    con = connect(db)
    asked: list[str] = []
    con.set_trace_callback(lambda sql: asked.append(sql) if "fulltexts" in sql else None)
    try:
        tag_store(con, chunk_size=30)
    finally:
        con.set_trace_callback(None)
        con.close()
    by_record = [sql for sql in asked if "WHERE record_id IN" in sql]
    assert by_record == ["SELECT record_id, text, chars FROM fulltexts WHERE record_id IN ()"]


@pytest.mark.slow
def test_a_run_without_criteria_on_the_cluster_stores_the_single_machine_run(
    client: object, tmp_path: Path
) -> None:
    """No review: the partitions' evidence goes from the workers' Parquet to the store
    unparsed; the rows are the single machine's, and one partition's rows in memory have
    their evidence as lists, as on one machine."""
    db = _generated_store(tmp_path, 900, review=False)
    copies = {}
    for name in ("single", "many", "one"):
        copies[name] = tmp_path / f"{name}.sqlite"
        copies[name].write_bytes(db.read_bytes())
    single, _, one_chunk = tagged(copies["single"])
    many, _, run = tagged(copies["many"], client=client, partition_size=250)
    one, _, whole = tagged(copies["one"], client=client, partition_size=5_000)
    assert [p["records"] for p in run.partitions] == [250, 250, 250, 150]
    assert run.assessment is None and run.summary.decisions is None  # no review, no criteria
    assert len(single["tags"])
    for name, frame in single.items():
        pd.testing.assert_frame_equal(frame, many[name], obj=name)
        pd.testing.assert_frame_equal(frame, one[name], obj=name)
    assert run.tags is None  # several partitions: no rows held (the store has them)
    assert run.summary == one_chunk.summary
    assert whole.tags["evidence"].tolist() == one_chunk.tags["evidence"].tolist()
    assert all(isinstance(e, list) for e in whole.tags["evidence"])
    con = sqlite3.connect(copies["many"])
    try:
        (bad,) = con.execute("SELECT count(*) FROM tags WHERE evidence LIKE '\"%'").fetchone()
    finally:
        con.close()
    assert bad == 0  # no evidence stored as a JSON string of JSON
