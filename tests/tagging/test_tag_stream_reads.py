"""``tag_store`` on one machine reads the store a chunk at a time (issue 19): no step loads
every record, the tagger's worker processes start once for the run, one progress bar
counts every record, and what others commit meanwhile neither changes what is read nor
stops the run."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.store import connect
from synth.store.records import StoreRecords
from synth.store.tags import latest_run
from synth.tagging import tagger, workflow
from synth.tagging.workflow import tag_store
from tests.tagging.test_tag_chunks import _generated_store, stored_run


def _kei_run(kei_tagged_db: Path) -> dict[str, pd.DataFrame]:
    con = connect(kei_tagged_db)
    try:
        return stored_run(con, latest_run(con))
    finally:
        con.close()


def _assert_same(expected: dict[str, pd.DataFrame], got: dict[str, pd.DataFrame]) -> None:
    for name, frame in expected.items():
        assert len(frame), name  # the comparison compares something
        pd.testing.assert_frame_equal(frame, got[name], obj=name)


def test_the_single_machine_run_reads_the_store_a_chunk_at_a_time(
    kei_imported_db: Path,
    kei_tagged_db: Path,
    copy_db: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No step loads every record or builds the tagger's inputs for all of them (the
    review's criteria all have cues): the run is the one tagged in one chunk."""

    def whole(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the store's records were loaded whole")

    real_inputs, real_partition = workflow.tagger_inputs, StoreRecords.partition
    inputs: list[int] = []
    read: list[int] = []

    def tagger_inputs(records: pd.DataFrame, *args: Any) -> Any:
        inputs.append(len(records))
        return real_inputs(records, *args)

    def partition(self: StoreRecords, k: int) -> pd.DataFrame:
        part = real_partition(self, k)
        read.append(len(part))
        return part

    monkeypatch.setattr(workflow, "load_records", whole)
    monkeypatch.setattr(workflow, "tagger_inputs", tagger_inputs)
    monkeypatch.setattr(StoreRecords, "partition", partition)
    con = connect(copy_db(kei_imported_db))
    try:
        run = tag_store(con, chunk_size=20)
        assert latest_run(con) == run.run_id
        got = stored_run(con, run.run_id)
    finally:
        con.close()
    assert read == [20, 20, 20, 8]
    assert inputs == read  # each chunk's inputs built alone
    _assert_same(_kei_run(kei_tagged_db), got)


def test_one_progress_bar_counts_every_record_of_the_run(
    kei_imported_db: Path, copy_db: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real, bars = tagger._progress, []

    def progress(total: int | None, show: bool) -> Any:
        bar = real(total, show)
        bars.append(bar)
        return bar

    monkeypatch.setattr(tagger, "_progress", progress)
    con = connect(copy_db(kei_imported_db))
    try:
        tag_store(con, chunk_size=20, progress=True)
        (records,) = con.execute("SELECT count(*) FROM records").fetchone()
    finally:
        con.close()
    assert len(bars) == 1
    assert bars[0].total == bars[0].n == records == 68


@pytest.mark.slow
def test_the_tagger_s_workers_start_once_for_every_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three chunks tagged on two processes: one pool (``ordered_map``) for the run, and
    the run stored is the one of one process in one chunk."""
    db = _generated_store(tmp_path, 600)
    review = tmp_path / "review.yml"
    whole = tmp_path / "whole.sqlite"
    whole.write_bytes(db.read_bytes())
    real, pools = tagger.ordered_map, []

    def ordered_map(*args: Any, **kwargs: Any) -> Any:
        pools.append(kwargs["workers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(tagger, "ordered_map", ordered_map)
    runs = []
    for path, chunk, n_process in ((whole, 10_000, 1), (db, 200, 2)):
        con = connect(path)
        try:
            runs.append(
                stored_run(
                    con,
                    tag_store(
                        con, review_path=review, chunk_size=chunk, n_process=n_process
                    ).run_id,
                )
            )
        finally:
            con.close()
    assert pools == [2]
    _assert_same(*runs)


def test_what_others_commit_meanwhile_neither_changes_nor_stops_the_run(
    kei_imported_db: Path,
    kei_tagged_db: Path,
    copy_db: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A record committed by another connection while the run streams: the run reads the
    records listed when it started, and writes through; no read is held open between
    chunks (one held kept SQLite from reusing its log: 3.6 GB over 200,000 records)."""
    path = copy_db(kei_imported_db)
    real_add, added, checkpoints = workflow._Chunks.add, [], []

    def add(self: Any, part: pd.DataFrame, *args: Any) -> None:
        real_add(self, part, *args)
        if not added:  # after the first chunk is written: another process commits
            other = sqlite3.connect(path, timeout=30)
            try:
                row = other.execute("SELECT * FROM records_all LIMIT 1").fetchone()
                marks = ",".join("?" * len(row))
                names = [d[1] for d in other.execute("PRAGMA table_info(records_all)")]
                copy = dict(zip(names, row, strict=True), record_id="added-meanwhile")
                other.execute(f"INSERT INTO records_all VALUES ({marks})", list(copy.values()))
                other.commit()
                checkpoints.append(other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
            finally:
                other.close()
            added.append(copy["record_id"])

    monkeypatch.setattr(workflow._Chunks, "add", add)
    con = connect(path)
    try:
        run = tag_store(con, chunk_size=20)
        assert latest_run(con) == run.run_id
        got = stored_run(con, run.run_id)
        (now,) = con.execute("SELECT count(*) FROM records").fetchone()
    finally:
        con.close()
    assert added and now == 69  # the record is there, committed midway
    assert checkpoints == [(0, 0, 0)]  # the log emptied: nothing held it
    assert "added-meanwhile" not in set(got["suggestions"]["record_id"])
    _assert_same(_kei_run(kei_tagged_db), got)


def test_tag_chunks_on_one_pool_gives_each_chunk_s_rows_as_tag_does() -> None:
    """Three chunks through two processes' one pool: each chunk's rows, notes and failures
    are those :func:`synth.tagging.tag` gives that chunk alone, in order."""
    from synth.corpus.synthetic import generate_records
    from synth.tagging.tagger import tag, tag_chunks

    records, _ = generate_records(300, seed=3)
    parts = [records.iloc[k : k + 120] for k in range(0, len(records), 120)]
    got = list(tag_chunks(((p, None, None) for p in parts), n_process=2, total=len(records)))
    assert len(got) == len(parts) == 3
    for part, rows in zip(parts, got, strict=True):
        alone = tag(part)
        assert len(rows) and set(rows["record_id"]) <= set(part["record_id"])
        pd.testing.assert_frame_equal(rows, alone)
        assert rows.attrs == alone.attrs


def test_a_record_removed_before_its_chunk_is_read_is_named(tmp_path: Path) -> None:
    db = _generated_store(tmp_path, 30)
    con = connect(db)
    try:
        reader = StoreRecords.listed(con, 10)
        first = next(iter(reader))
        gone = reader._ids[25]  # a record of the last chunk
        with con:
            con.execute("PRAGMA foreign_keys = OFF")
            con.execute("DELETE FROM records_all WHERE record_id = ?", (gone,))
        assert len(first) == 10 and len(reader.partition(1)) == 10
        with pytest.raises(RuntimeError, match=rf"1 of chunk 2's 10 records .*\({gone}\)"):
            reader.partition(2)
    finally:
        con.close()
