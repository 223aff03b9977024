"""Registering the tagger's worker plugins (issue 19): one registration at a time per
plugin for every client of a scheduler (the check and the registration one step), and a
registration cut when its run ends, so that nothing of the run registers afterwards."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from distributed import Client, WorkerPlugin

from synth.corpus.synthetic import generate_records
from synth.distributed import tagging as dtagging
from synth.distributed.tagging import TaggerPlugin, _Registering, tag_partitions
from synth.tagging.codebook import load_codebook


class _Setups:
    """What the workers' :class:`Blocking` plugins did (the workers run in this process)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started: list[str] = []
        self.finished: list[str] = []
        self.lock = threading.Lock()


STATE = _Setups()


class Blocking(WorkerPlugin):
    """A plugin whose setup on each worker waits until the test releases it."""

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


def test_a_second_run_waits_for_the_first_runs_registration(threaded: Any, setups: _Setups) -> None:
    """Another client of the scheduler finding the plugin registered while its workers
    still set it up waits for them (it sent partitions to workers without it before), and
    the plugin is set up once per worker, not once per run."""
    n = _workers(threaded)
    first = _Registering(threaded, [Blocking("synth-test-once")])
    _wait_until(lambda: len(setups.started) == n, "the workers started setting up")
    with Client(threaded.scheduler.address) as other:
        second = _Registering(other, [Blocking("synth-test-once")])
        try:
            assert not second.ended.wait(1.0), (
                "the second run went on while the workers were still setting the plugin up"
            )
        finally:
            setups.release.set()
        first.wait()
        second.wait()
    assert len(setups.started) == n, setups.started  # not registered twice
    assert len(setups.finished) == n
    assert "synth-test-once" in _registered(threaded)


def test_a_registration_cut_by_the_runs_end_registers_nothing_afterwards(
    threaded: Any, setups: _Setups
) -> None:
    n = _workers(threaded)
    running = _Registering(threaded, [Blocking("synth-test-cut"), Blocking("synth-test-next")])
    _wait_until(lambda: len(setups.started) == n, "the workers started setting up")
    running.stop(timeout=0.2)
    setups.release.set()  # the cut registration's setups end on the workers
    _wait_until(lambda: len(setups.finished) >= n, "the blocked setups ended")
    running.thread.join(30)
    threaded.run(lambda: None)  # the scheduler and workers have handled what was sent
    known = _registered(threaded)
    assert "synth-test-cut" not in known, "a registration went on after the run ended"
    assert "synth-test-next" not in known
    assert not [s for s in setups.started if s.startswith("synth-test-next")]
    assert not running.thread.is_alive()
    assert running.error is None


def test_a_failed_command_returns_and_its_registration_is_withdrawn(
    threaded: Any, setups: _Setups, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``tag_partitions`` failing while the tagger's plugin is being set up returns (after
    STOP_WAIT), its registration thread over, and the plugin it was registering is not
    registered afterwards: the next run registers it again."""
    monkeypatch.setattr(dtagging, "STOP_WAIT", 0.2)
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
    assert dtagging.plugin_name(codebook) not in _registered(threaded)
