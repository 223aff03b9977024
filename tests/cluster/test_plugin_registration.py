"""Registering the tagger's worker plugins (issue 19): registered once for every client
of a scheduler (``idempotent``: the scheduler checks and records in one step), a run's
partitions waiting on their workers for a setup another run's registration has under
way, and a registration cut when its run ends, so that nothing of the run registers
afterwards, but never withdrawn (another run may rely on the scheduler's record of it:
review 11c N1); no lock is taken that a stopped run could leave behind (review 11a)."""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from distributed import Client, LocalCluster, WorkerPlugin
from distributed.scheduler import DEFAULT_EXTENSIONS
from pandas.testing import assert_frame_equal

from synth.corpus.synthetic import generate_records
from synth.distributed import tagging as dtagging
from synth.distributed.tagging import (
    TaggerPlugin,
    _Registering,
    _set_up,
    read_tag_partitions,
    tag_partitions,
)
from synth.tagging.codebook import load_codebook
from synth.tagging.tagger import tag


class _Setups:
    """What the workers' :class:`Blocking` plugins did (the workers run in this process)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []
        self.finished: list[str] = []
        self.lock = threading.Lock()


STATE = _Setups()


class Blocking(WorkerPlugin):
    """A plugin whose setup on each worker waits until the test releases it (registered
    as synth registers its own: ``idempotent``)."""

    idempotent = True

    def __init__(self, name: str) -> None:
        self.name = name

    async def setup(self, worker: Any) -> None:
        with STATE.lock:
            STATE.started.append(f"{self.name}@{worker.address}")
        while not STATE.release.is_set():  # not blocking the loop the workers share
            await asyncio.sleep(0.01)
        with STATE.lock:
            STATE.finished.append(f"{self.name}@{worker.address}")


@pytest.fixture
def setups() -> Iterator[_Setups]:
    global STATE
    STATE = _Setups()
    yield STATE
    STATE.release.set()


def _registered(client: Any) -> set[str]:
    """The worker plugins the scheduler knows (what later runs and workers get)."""

    def names(dask_scheduler: Any) -> list[str]:
        return list(dask_scheduler.worker_plugins)

    return set(client.run_on_scheduler(names))


def _wait_until(test: Any, what: str) -> None:
    done = threading.Event()
    for _ in range(1000):
        if test():
            return
        done.wait(0.01)
    raise AssertionError(f"never: {what}")


def _workers(client: Any) -> int:
    return len(client.scheduler_info()["workers"])


def _blocked_tagger_setup(monkeypatch: pytest.MonkeyPatch, setups: _Setups) -> None:
    """TaggerPlugin's setup waits (without holding the workers' loop) for the test."""
    real = TaggerPlugin.setup

    async def blocked(self: TaggerPlugin, worker: Any) -> None:
        with setups.lock:
            setups.started.append(f"{self.name}@{worker.address}")
        while not setups.release.is_set():
            await asyncio.sleep(0.01)
        real(self, worker)
        with setups.lock:
            setups.finished.append(f"{self.name}@{worker.address}")

    monkeypatch.setattr(TaggerPlugin, "setup", blocked)


def _waiting_tasks(client: Any) -> int:
    """Tasks executing on the workers (a partition waiting there for its plugin)."""

    def executing(dask_worker: Any) -> int:
        return sum(ts.state == "executing" for ts in dask_worker.state.tasks.values())

    return sum(client.run(executing).values())


def test_a_second_run_waits_on_its_workers_for_the_first_runs_setup(
    threaded: Any, setups: _Setups, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another client of the scheduler registering the plugin while the first run's
    workers still set it up is answered at once (the scheduler has it), sets nothing up
    again, and its partitions wait on their workers for the setup, then are tagged with
    it (without that wait they failed "not set up")."""
    _blocked_tagger_setup(monkeypatch, setups)
    n = _workers(threaded)
    codebook = load_codebook()
    records, _ = generate_records(20, seed=5)
    first = _Registering(threaded, [TaggerPlugin(codebook)])
    _wait_until(lambda: len(setups.started) == n, "the workers started setting up")
    out: dict[str, Any] = {}

    def second_run() -> None:
        try:
            out["run"] = tag_partitions(
                other, records, codebook, out_dir=tmp_path / "second", partition_size=10
            )
        except BaseException as exc:
            out["error"] = exc

    with Client(threaded.scheduler.address) as other:
        second = threading.Thread(target=second_run)
        second.start()
        try:
            _wait_until(lambda: _waiting_tasks(threaded) == n, "its partitions reached workers")
            assert "run" not in out and "error" not in out  # they wait for the setups
        finally:
            setups.release.set()
        second.join(60)
        first.wait()
    assert not second.is_alive()
    assert "error" not in out, out.get("error")
    assert_frame_equal(read_tag_partitions(out["run"].files), tag(records, codebook=codebook))
    assert len(setups.started) == n, setups.started  # set up once per worker, not per run
    assert len(setups.finished) == n


def _leases(client: Any) -> dict[str, int]:
    """The scheduler's distributed.Lock leases and waiters on synth's names, if any."""

    def held(dask_scheduler: Any) -> dict[str, int]:
        ext = dask_scheduler.extensions.get("semaphores")
        if ext is None:
            return {}
        return {str(k): len(v) for k, v in ext.leases.items() if str(k).startswith("synth-") and v}

    return client.run_on_scheduler(held)


def test_a_run_stopped_while_another_registers_leaves_nothing_to_wait_for(
    threaded: Any, setups: _Setups
) -> None:
    """(review 11a F1, F5) A run stopped while another run's registration of the same
    plugin is under way left a lock lease the scheduler later granted to nobody: every
    later run on the scheduler waited for its timeout (about 37 s), silently."""
    n = _workers(threaded)
    first = _Registering(threaded, [Blocking("synth-test-shared")])
    _wait_until(lambda: len(setups.started) == n, "the workers started setting up")
    with Client(threaded.scheduler.address) as other:
        second = _Registering(other, [Blocking("synth-test-shared")])
        second.stop(timeout=0.2)  # its run fails meanwhile
        assert second.error is None
    setups.release.set()
    first.wait()
    assert _leases(threaded) == {}, "a lock lease was left on the scheduler"
    with Client(threaded.scheduler.address) as third:
        later = _Registering(third, [Blocking("synth-test-shared")])
        assert later.ended.wait(60)  # a guard: the plugin is known, nothing to wait for
        later.wait()
    assert len(setups.started) == n, setups.started
    assert "synth-test-shared" in _registered(threaded)


def test_a_scheduler_without_locks_registers(setups: _Setups, tmp_path: Path) -> None:
    """(review 11a F2) A scheduler without the semaphores extension (a trimmed or custom
    one) made every run fail with RuntimeError('Released too often')."""
    setups.release.set()
    ext = {k: v for k, v in DEFAULT_EXTENSIONS.items() if k != "semaphores"}
    with (
        LocalCluster(
            n_workers=1, processes=False, dashboard_address=None, memory_limit=0,
            local_directory=str(tmp_path), scheduler_kwargs={"extensions": ext},
        ) as local,
        Client(local) as client,
    ):  # fmt: skip
        _Registering(client, [Blocking("synth-test-nolock")]).wait()
        assert "synth-test-nolock" in _registered(client)
    assert len(setups.finished) == 1


def test_a_cut_run_does_not_withdraw_another_runs_registration(
    threaded: Any, setups: _Setups
) -> None:
    """A cut run withdraws nothing: the registration of the same plugin another run made,
    which that run's partitions rely on, stands."""
    setups.release.set()
    _Registering(threaded, [Blocking("synth-test-theirs")]).wait()
    gate = dtagging._Gate(threaded)
    gate.registering = Blocking("synth-test-theirs")  # cut as its registration went out
    assert "stays registered" in gate.close()
    assert "synth-test-theirs" in _registered(threaded)


class _Worker:
    def __init__(self, plugins: dict[str, Any]) -> None:
        self.plugins = plugins
        self.address = "tcp://worker:1"


def test_a_partition_waits_for_its_plugins_setup_and_no_longer() -> None:
    plugin = TaggerPlugin.__new__(TaggerPlugin)
    plugin.__setstate__({"name": "t", "codebook_bytes": b""})
    worker = _Worker({})
    ready = threading.Timer(0.2, lambda: worker.plugins.update(t=plugin))
    ready.start()
    setting = threading.Timer(0.4, lambda: setattr(plugin, "lock", threading.RLock()))
    setting.start()
    try:
        got = _set_up(worker, "t", lambda p: p.lock is not None, time.monotonic() + 60, 60)
    finally:
        ready.cancel()
        setting.cancel()
    assert got is plugin
    failed = TaggerPlugin.__new__(TaggerPlugin)
    failed.__setstate__({"name": "t", "codebook_bytes": b""})
    failed.setup_error = "OSError: spaCy model not found"
    with pytest.raises(RuntimeError, match="spaCy model not found"):
        _set_up(
            _Worker({"t": failed}), "t", lambda p: p.lock is not None, time.monotonic() + 60, 60
        )


def test_a_partition_that_gives_up_says_what_it_saw() -> None:
    """(review 11c N3) Past its deadline, a partition blamed synth's install even where
    the plugin was on the worker with another run's setup still under way."""
    with pytest.raises(RuntimeError, match="is synth installed"):
        _set_up(_Worker({}), "t", lambda p: True, time.monotonic(), 120)  # absent
    slow = TaggerPlugin.__new__(TaggerPlugin)
    slow.__setstate__({"name": "t", "codebook_bytes": b""})  # its setup under way
    with pytest.raises(RuntimeError) as raised:
        _set_up(_Worker({"t": slow}), "t", lambda p: p.lock is not None, time.monotonic(), 120)
    said = str(raised.value)
    assert (
        "another run's set-up of t on Dask worker tcp://worker:1 has not finished in 120 s" in said
    )
    assert "installed" not in said


def test_a_setup_that_fails_anywhere_records_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """(review 11c N5) A failure after the engine was built (taking its lock) left
    ``setup_error`` unset: partitions there waited SETUP_WAIT, then blamed the install."""
    from synth.tagging import tagger

    monkeypatch.setattr(tagger, "engine_for", lambda codebook: object())  # no .lock
    plugin = TaggerPlugin.__new__(TaggerPlugin)
    plugin.__setstate__({"name": "t", "codebook_bytes": pickle.dumps("a codebook")})
    with pytest.raises(AttributeError):
        plugin.setup(_Worker({}))
    assert plugin.setup_error is not None and "AttributeError" in plugin.setup_error
    with pytest.raises(RuntimeError, match=r"could not be set up.*AttributeError"):
        _set_up(_Worker({"t": plugin}), "t", lambda p: p.lock is not None, time.monotonic(), 1)


def test_a_registration_cut_by_the_runs_end_registers_nothing_afterwards(
    threaded: Any, setups: _Setups, caplog: Any
) -> None:
    """Nothing after the cut is registered; what was under way is not withdrawn (its
    setups finish on the workers, and the scheduler keeps it), as its warning says."""
    n = _workers(threaded)
    running = _Registering(threaded, [Blocking("synth-test-cut"), Blocking("synth-test-next")])
    _wait_until(lambda: len(setups.started) == n, "the workers started setting up")
    with caplog.at_level(logging.WARNING, logger="synth.distributed.tagging"):
        running.stop(timeout=0.2)
    assert "synth-test-cut was cut; it may still finish on the workers" in caplog.text
    assert "stays registered" in caplog.text
    setups.release.set()  # the cut registration's setups end on the workers
    _wait_until(lambda: len(setups.finished) >= n, "the blocked setups ended")
    running.thread.join(30)
    threaded.run(lambda: None)  # the scheduler and workers have handled what was sent
    known = _registered(threaded)
    assert "synth-test-cut" in known  # not withdrawn: another run may rely on it
    assert "synth-test-next" not in known, "a registration went on after the run ended"
    assert not [s for s in setups.started if s.startswith("synth-test-next")]
    assert not running.thread.is_alive()
    assert running.error is None


def test_a_failed_command_returns_and_its_registration_stays(
    threaded: Any, setups: _Setups, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tag_partitions`` failing while the tagger's plugin is being set up returns (after
    STOP_WAIT), its registration thread over; the plugin it was registering is set up on
    the workers and stays registered (the next run uses it)."""
    monkeypatch.setattr(dtagging, "STOP_WAIT", 0.2)
    _blocked_tagger_setup(monkeypatch, setups)
    n = _workers(threaded)
    records, _ = generate_records(10, seed=5)
    codebook = load_codebook()
    bad = pd.DataFrame({"record_id": ["r0000000"]})  # extracts without their text

    real_texts = dtagging._texts_by_record

    def once_set_up_started(frame: Any, what: str) -> Any:
        _wait_until(lambda: len(setups.started) == n, "the workers started setting up")
        return real_texts(frame, what)

    monkeypatch.setattr(dtagging, "_texts_by_record", once_set_up_started)
    with pytest.raises(ValueError, match="extracts need"):
        tag_partitions(threaded, records, codebook, out_dir=tmp_path, extracts=bad)
    running = [t for t in threading.enumerate() if t.name == "synth-register"]
    for t in running:
        t.join(30)
    assert not [t for t in running if t.is_alive()]
    setups.release.set()
    _wait_until(lambda: len(setups.finished) == n, "the blocked setups ended")
    threaded.run(lambda: None)
    assert dtagging.plugin_name(codebook) in _registered(threaded)


def _plugin_objects(client: Any, name: str) -> dict[str, int]:
    """Each worker's plugin object ``name`` (its id: a replaced plugin has a new one)."""

    def which(dask_worker: Any) -> int:
        return id(dask_worker.plugins.get(name))

    return client.run(which)


def test_a_cut_run_leaves_the_record_another_run_relies_on(
    threaded: Any, setups: _Setups, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(review 11c N1) Run B, answered by run A's record of the plugin (``idempotent``),
    relies on it; A is cut while its workers set it up. A withdrew the record: a worker
    joining during B never got the plugin, and a run C registered it again, replacing
    (tearing down) the plugin B's partitions use on every worker."""
    _blocked_tagger_setup(monkeypatch, setups)
    n = _workers(threaded)
    codebook = load_codebook()
    name = dtagging.plugin_name(codebook)
    records, _ = generate_records(20, seed=5)
    a = _Registering(threaded, [TaggerPlugin(codebook)])
    _wait_until(lambda: len(setups.started) == n, "A's workers started setting up")
    out: dict[str, Any] = {}

    def run_b() -> None:
        try:
            out["run"] = tag_partitions(
                other, records, codebook, out_dir=tmp_path / "b", partition_size=10
            )
        except BaseException as exc:
            out["error"] = exc

    with Client(threaded.scheduler.address) as other:
        b = threading.Thread(target=run_b)
        b.start()
        try:
            _wait_until(lambda: _waiting_tasks(threaded) == n, "B's partitions reached workers")
            a.stop(timeout=0.2)  # A's command fails while its workers set up
            assert name in _registered(threaded), "A's cut withdrew the record B relies on"
        finally:
            setups.release.set()
        _wait_until(lambda: len(setups.finished) == n, "A's setups ended on the workers")
        before = _plugin_objects(threaded, name)
        threaded.cluster.scale(n + 1)  # a worker joins during B's run
        threaded.wait_for_workers(n + 1, timeout=60)
        joined = set(_plugin_objects(threaded, name)) - set(before)
        _wait_until(lambda: len(setups.finished) == n + 1, "the joined worker set it up")
        with Client(threaded.scheduler.address) as third:
            c = _Registering(third, [TaggerPlugin(codebook)])  # run C
            assert c.ended.wait(60)
            c.wait()
        b.join(60)
        after = _plugin_objects(threaded, name)
    assert not b.is_alive()
    assert "error" not in out, out.get("error")
    assert_frame_equal(read_tag_partitions(out["run"].files), tag(records, codebook=codebook))
    assert len(joined) == 1
    assert all(after[w] == before[w] for w in before), "C replaced the plugin under B"
    assert after[next(iter(joined))] != id(None), "the joined worker never got the plugin"
    assert len(setups.started) == n + 1, setups.started  # once per worker, C none


def test_a_second_run_that_gives_up_on_anothers_setup_says_so(
    threaded: Any, setups: _Setups, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(review 11c N3) A second run's partition that gave up waiting for the first run's
    setup (still under way on its worker) said "is synth installed ...?"."""
    _blocked_tagger_setup(monkeypatch, setups)
    monkeypatch.setattr(dtagging, "SETUP_WAIT", 0.5)
    n = _workers(threaded)
    codebook = load_codebook()
    records, _ = generate_records(10, seed=5)
    first = _Registering(threaded, [TaggerPlugin(codebook)])
    _wait_until(lambda: len(setups.started) == n, "the workers started setting up")
    try:
        with Client(threaded.scheduler.address) as other, pytest.raises(Exception) as raised:
            tag_partitions(other, records, codebook, out_dir=tmp_path, partition_size=10)
    finally:
        setups.release.set()
        first.wait()
    said = str(raised.value)
    name = dtagging.plugin_name(codebook)
    assert f"another run's set-up of {name} on Dask worker" in said, said
    assert "has not finished in 0.5 s" in said
    assert "installed" not in said
