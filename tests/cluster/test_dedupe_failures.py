"""The cluster dedupe when things go wrong: a failed run leaves no shuffle files behind,
even from tasks still running when it failed; a read the scheduler sends off the worker
holding its files (that worker paused, its memory full) is sent again to the holder, not
taken for a lost worker; and a run too big for the pair codes is refused.

The first tests run their own in-process LocalCluster (its workers' functions patched
from here); the last call the helpers in this process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import synth.distributed.dedupe as dd
from synth.corpus.synthetic import generate_records
from synth.distributed import ClusterError, dedupe_on_cluster

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            processes=False,
            dashboard_address=None,
            local_directory=str(tmp_path),
            memory_limit=0,
        ) as local,
        Client(local) as client,
    ):
        yield local, client


def _run_folders(client: Any) -> list[Path]:
    places = client.run(lambda dask_worker: dask_worker.local_directory)
    return [f for place in places.values() for f in Path(place).glob("synth-dedupe-*")]


def _until(condition: Any, seconds: float = 30.0) -> None:
    """Poll ``condition`` (no timing asserted: a bound against hangs)."""
    end = time.monotonic() + seconds
    while not condition() and time.monotonic() < end:
        time.sleep(0.05)


#: the patched selection's state (module-level: the tasks pickle it by reference)
_HOLD = {"release": threading.Event(), "lock": threading.Lock(), "started": 0, "finished": 0}
_SELECT = dd._select


def _fail_first_hold_others(*args: Any) -> Any:
    with _HOLD["lock"]:
        _HOLD["started"] += 1
        first = _HOLD["started"] == 1
    if first:
        raise RuntimeError("one bucket failed")
    try:
        _HOLD["release"].wait(30)  # until the failed call has returned
        return _SELECT(*args)
    finally:
        with _HOLD["lock"]:
            _HOLD["finished"] += 1


def test_tasks_still_running_when_a_run_fails_leave_no_files(
    cluster: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One bucket's selection raises while the others are still running: they finish
    after the call has returned (and its files were removed), and write nothing."""
    _, client = cluster
    records, _ = generate_records(1500, seed=5)
    _HOLD.update(started=0, finished=0)
    _HOLD["release"].clear()
    monkeypatch.setattr(dd, "_select", _fail_first_hold_others)
    # the code before this test waited CLOSE_TIMEOUT for running tasks: short, it fails there
    monkeypatch.setattr(dd, "CLOSE_TIMEOUT", 0.5, raising=False)
    try:
        with pytest.raises(RuntimeError, match="one bucket failed"):
            dedupe_on_cluster(records, client, partition_size=300, buckets=8)
        assert _HOLD["started"] > 1  # others were running when the run failed
    finally:
        _HOLD["release"].set()
    _until(lambda: _HOLD["finished"] == _HOLD["started"] - 1)
    assert _HOLD["finished"] == _HOLD["started"] - 1
    time.sleep(0.2)  # their last writes, if any
    assert _run_folders(client) == []


def _pause(local: Any, address: str, paused: bool) -> None:
    from distributed.core import Status

    worker = next(w for w in local.workers.values() if w.address == address)
    worker.status = Status.paused if paused else Status.running  # as the memory monitor does


def _where(value: Any) -> Any:
    return value


_READ = dd._read_spilled


def _own_disk_only(path: str) -> bytes:
    """A worker reads only files under its own folder, as on a cluster of several
    machines (a LocalCluster's workers share one disk)."""
    worker = dd._this_worker()
    if worker is not None and not path.startswith(str(worker.local_directory)):
        raise FileNotFoundError(path)
    return _READ(path)


@pytest.fixture
def separate_disks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dd, "_read_spilled", _own_disk_only)


def test_a_read_off_the_holder_reads_a_shared_disk_and_says_so_on_another_machine(
    cluster: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On one machine a read the scheduler runs on another worker reads the holder's
    file; on a cluster of several machines the file is not there, and that must not
    look like a lost worker."""
    _, client = cluster
    a, b = sorted(client.scheduler_info()["workers"])
    run = "test-elsewhere"
    try:
        spilled = client.submit(dd._spill, run, [1, 2, 3], workers=[a], pure=False).result()
        assert spilled.address == a
        here = client.submit(dd._read_files, [spilled], workers=[a], pure=False).result()
        shared = client.submit(dd._read_files, [spilled], workers=[b], pure=False).result()
        assert shared == here and len(here) == 1
        monkeypatch.setattr(dd, "_read_spilled", _own_disk_only)
        off = client.submit(dd._read_files, [spilled], workers=[b], pure=False)
        with pytest.raises(dd._Elsewhere) as err:
            off.result()
        assert err.value.args[0] == a
    finally:
        client.run(dd._remove_run_folder, run)


def test_a_paused_holders_reads_wait_for_it_and_a_lost_ones_stop_the_run(
    cluster: tuple[Any, Any], caplog: pytest.LogCaptureFixture, separate_disks: None
) -> None:
    caplog.set_level(logging.INFO, logger=dd.__name__)
    local, client = cluster
    a, _ = sorted(client.scheduler_info()["workers"])
    run = dd._Run(client, "test-paused", 2)
    try:
        spilled = client.submit(dd._spill, "test-paused", {"x": 7}, workers=[a], pure=False)
        spilled = spilled.result()
        _pause(local, a, True)
        time.sleep(0.5)  # the scheduler hears of it
        timer = threading.Timer(1.0, _pause, (local, a, False))
        timer.start()
        try:
            assert run.each([lambda: (_where, spilled)]) == [{"x": 7}]
        finally:
            timer.join()
        assert f"a read ran off {a}" in caplog.text  # sent elsewhere, then again
        # the holder gone (an address no worker has): the run stops, saying so
        gone = dd._Spilled("tcp://127.0.0.1:1", spilled.path + ".gone")
        with pytest.raises(ClusterError, match="a Dask worker was lost"):
            run.each([lambda: (_where, gone)])
    finally:
        run.close()
    assert _run_folders(client) == []


def test_a_holder_that_stays_paused_stops_the_run_instead_of_hanging(
    cluster: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch, separate_disks: None
) -> None:
    monkeypatch.setattr(dd, "RETRY_SECONDS", 0.5)
    monkeypatch.setattr(dd, "RETRY_PAUSE", 0.05)
    local, client = cluster
    a, _ = sorted(client.scheduler_info()["workers"])
    run = dd._Run(client, "test-stays-paused", 2)
    try:
        spilled = client.submit(
            dd._spill, "test-stays-paused", {"x": 7}, workers=[a], pure=False
        ).result()
        _pause(local, a, True)
        time.sleep(0.5)  # the scheduler hears of it
        try:
            with pytest.raises(ClusterError, match=r"stayed paused for over 0\.5 s"):
                run.each([lambda: (_where, spilled)])
        finally:
            _pause(local, a, False)
    finally:
        run.close()
    assert _run_folders(client) == []


def test_a_run_is_refused_past_the_pair_codes_bit_and_codes_stay_positive() -> None:
    dd._check_count(2**31)
    with pytest.raises(ValueError, match=r"at most 2\*\*31"):
        dd._check_count(2**31 + 1)
    a = np.array([0, 2**31 - 2, 5], dtype=np.int64)
    b = np.array([1, 2**31 - 1, 2**31 - 1], dtype=np.int64)
    codes = dd._pair_codes(a, b)
    assert (codes >= 0).all()
    back_a, back_b = dd._pair_of(codes)
    assert back_a.tolist() == a.tolist() and back_b.tolist() == b.tolist()
    # one record more and the code's sign bit is set: what the limit keeps out
    assert dd._pair_codes(np.array([2**31]), np.array([2**31 + 1]))[0] < 0
