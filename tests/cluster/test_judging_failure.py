"""``synth tag --scheduler`` when judging the review's criteria fails on a worker (issue 19):
the command stops with one clear message naming the partition and the error, and the store
is as it was: what the run wrote before the failure is removed again, the previous run
stays the current one, and the run's work folder is gone.

The cluster is an in-process LocalCluster (its workers are threads of this process), so
patching :func:`synth.tagging.criteria.judge_chunk` here reaches the workers; the patch
raises only inside a worker's task, never in the command's own process.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from synth.cli import app
from synth.store import connect
from synth.store.tags import TaggingWriter, latest_run
from synth.tagging import criteria

pytestmark = pytest.mark.slow

runner = CliRunner()

#: The store's tables a tagging run writes, every run's rows.
TABLES = ("runs", "tags", "criteria_assessments", "suggestions")
#: The judging call (counted across the workers' threads) that raises.
FAILING_CALL = 10


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[str]:
    """An in-process LocalCluster of two workers, reachable by its tcp:// address."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
        local_directory=str(tmp_path / "dask"),
        memory_limit=0,
    ) as local:
        yield local.scheduler_address


def _tables(db: Path) -> dict[str, pd.DataFrame]:
    con = sqlite3.connect(db)
    try:
        return {t: pd.read_sql_query(f"SELECT * FROM {t} ORDER BY rowid", con) for t in TABLES}
    finally:
        con.close()


def _latest(db: Path) -> int | None:
    con = connect(db)
    try:
        return latest_run(con)
    finally:
        con.close()


def _failing_on_the_workers(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """``judge_chunk`` raises on the workers' :data:`FAILING_CALL` th call (the partitions
    before it judged as usual), and anywhere outside a worker's task."""
    from distributed import get_worker

    real = criteria.judge_chunk
    calls = {"worker": 0, "here": 0}
    lock = threading.Lock()

    def judge_chunk(*args: Any, **kwargs: Any) -> Any:
        try:
            get_worker()
        except ValueError:  # not in a worker's task: the command's process
            calls["here"] += 1
            raise AssertionError("judge_chunk ran in the command's process") from None
        with lock:
            calls["worker"] += 1
            n = calls["worker"]
        if n == FAILING_CALL:
            raise RuntimeError("the criteria rules have no met_threshold")
        return real(*args, **kwargs)

    monkeypatch.setattr(criteria, "judge_chunk", judge_chunk)
    return calls


def test_judging_that_fails_on_a_worker_leaves_the_store_as_it_was(
    scheduler: str,
    kei_tagged_db: Path,
    copy_db: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = copy_db(kei_tagged_db)  # tagged once, on one machine, with the review's criteria
    before = _tables(db)
    first = _latest(db)
    assert first is not None and len(before["criteria_assessments"])
    calls = _failing_on_the_workers(monkeypatch)
    written: list[int] = []
    real_add = TaggingWriter.add

    def add(self: TaggingWriter, tags: pd.DataFrame, **kwargs: Any) -> None:
        written.append(len(tags))
        real_add(self, tags, **kwargs)

    monkeypatch.setattr(TaggingWriter, "add", add)
    # 68 records in partitions of 5: by the time the failing partition is sent, at least
    # six before it were written to the new run (at most four are in flight unwritten)
    result = runner.invoke(
        app,
        ["tag", "--db", str(db), "--no-progress", "--scheduler", scheduler,
         "--partition-size", "5"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert calls["here"] == 0 and calls["worker"] >= FAILING_CALL
    assert len(written) >= 6 and sum(written) > 0  # the run had written rows to remove
    out = " ".join(result.output.split())  # the message as one line, however wrapped
    assert "error:" in out and "Traceback" not in out
    assert "judging the review's criteria" in out
    assert "RuntimeError: the criteria rules have no met_threshold" in out
    assert "partition " in out and "records " in out
    after = _tables(db)
    for table in ("tags", "criteria_assessments", "suggestions"):  # no partial rows
        pd.testing.assert_frame_equal(after[table], before[table], obj=table)
    # the failed run's row stays unfinished, as a record (synth.store.tags.TaggingWriter):
    # every run before it as it was, and none finished since
    runs = after["runs"]
    pd.testing.assert_frame_equal(runs.iloc[: len(before["runs"])], before["runs"], obj="runs")
    assert runs.iloc[len(before["runs"]) :]["finished_at"].isna().all()
    assert _latest(db) == first
    work = Path(f"{db}.work")  # the run's work folder removed
    assert not work.exists() or not any(work.iterdir())


def test_the_worker_traceback_of_failed_judging_is_logged_for_synth_v(
    scheduler: str,
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The command's message is one line; the worker's traceback of what raised (the
    judging's own frames, not only the wrapper's) is logged at INFO, which ``synth -v``
    shows."""
    from distributed import Client

    from synth.distributed.cluster import ClusterError
    from synth.tagging.workflow import tag_store

    db = copy_db(kei_imported_db)
    _failing_on_the_workers(monkeypatch)
    caplog.set_level("INFO", logger="synth.distributed.tagging")
    con = connect(db)
    try:
        with Client(scheduler) as client, pytest.raises(ClusterError) as raised:
            tag_store(con, client=client, partition_size=5)
    finally:
        con.close()
    assert "\n" not in str(raised.value)
    logged = [r for r in caplog.records if "failed on its worker" in r.getMessage()]
    assert len(logged) == 1 and logged[0].levelname == "INFO"
    text = logged[0].getMessage()
    assert "Traceback" in text and "judge_chunk" in text
    assert 'raise RuntimeError("the criteria rules have no met_threshold")' in text


def _uncued_review(folder: Path) -> Path:
    """The bundled review with criteria judged by similarity (their cues removed)."""
    from tests.tagging.test_similarity_streamed import _review

    return _review(folder).path


def test_counting_that_fails_on_a_worker_stops_the_command_with_one_line(
    scheduler: str,
    kei_imported_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Pass 1 of the criteria judged by similarity raising on a worker: the command ends
    with one message naming the partition and what it was doing (exit 2, no traceback;
    before, the worker's exception came back raw: a traceback, exit 1), the worker's
    traceback logged for ``synth -v``, and no run written."""
    from distributed import get_worker

    from synth.tagging.criteria import SimilarityCriteria

    db = copy_db(kei_imported_db)
    review = _uncued_review(tmp_path)
    before = _tables(db)
    real = SimilarityCriteria.count

    def count(self: SimilarityCriteria, records: pd.DataFrame, *args: Any) -> Any:
        get_worker()  # raises ValueError outside a worker's task
        if len(records):
            raise RuntimeError("no such vocabulary")
        return real(self, records, *args)

    monkeypatch.setattr(SimilarityCriteria, "count", count)
    caplog.set_level("INFO", logger="synth.distributed.tagging")
    result = runner.invoke(
        app,
        ["tag", "--db", str(db), "--no-progress", "--scheduler", scheduler,
         "--partition-size", "9", "--review", str(review)],
    )  # fmt: skip
    assert result.exit_code == 2, (result.output, result.exception)
    out = " ".join(result.output.split())
    assert "error:" in out and "Traceback" not in out
    assert "failed on its worker while counting the criteria's words" in out
    assert "RuntimeError: no such vocabulary" in out and "(records r" in out
    logged = [r for r in caplog.records if "failed on its worker" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert 'raise RuntimeError("no such vocabulary")' in caplog.text  # the worker's frame
    after = _tables(db)
    for table in TABLES:
        pd.testing.assert_frame_equal(after[table], before[table], obj=table)


def test_a_cancelled_partition_is_not_called_a_failure_on_its_worker(
    scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition's task cancelled (not raised on its worker: another client, the
    cluster closing) comes back as the cancellation it is, not as the ClusterError of a
    partition that "failed on its worker" (what every exception became before)."""
    from concurrent.futures import CancelledError

    from distributed import Client

    from synth.corpus.synthetic import generate_records
    from synth.distributed import tagging as dtagging
    from synth.distributed.cluster import ClusterError
    from synth.tagging.codebook import load_codebook

    records, _ = generate_records(20, seed=3)
    with Client(scheduler) as client:
        submit = client.submit

        def cancelled(*args: Any, **kwargs: Any) -> Any:
            future = submit(*args, **kwargs)
            future.cancel()
            return future

        monkeypatch.setattr(client, "submit", cancelled)
        with pytest.raises(CancelledError) as raised:
            dtagging.tag_partitions(
                client, records, load_codebook(), out_dir=tmp_path / "parts", partition_size=5
            )
    assert not isinstance(raised.value, ClusterError)
