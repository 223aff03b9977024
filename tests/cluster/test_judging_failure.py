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
