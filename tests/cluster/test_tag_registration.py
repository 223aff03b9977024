"""The thread that registers the workers' plugins (issue 19, review 19c): never left
running after tag_partitions has returned or raised, its own error never lost, and a
registration that failed left registered where its setup succeeded (review 11c N1)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synth.corpus.synthetic import generate_records
from synth.distributed import tagging as dtagging
from synth.distributed.tagging import tag_partitions
from synth.tagging import tagger
from synth.tagging.codebook import load_codebook


def _ctrl_c(after: float) -> threading.Timer:
    """A SIGINT to the main thread ``after`` seconds: a real signal, which interrupts a
    blocked ``Thread.join`` as Ctrl-C does (``_thread.interrupt_main`` would not)."""
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(after, signal.pthread_kill, (main, signal.SIGINT))
    timer.start()
    return timer


def _slow_registration(
    monkeypatch: pytest.MonkeyPatch, seconds: float, error: BaseException | None = None
) -> dict[str, bool]:
    """``_register`` that takes ``seconds`` (then raises ``error``, if given) and says
    when it has ended."""
    state = {"ended": False}
    real = dtagging._register

    def slow(client: Any, plugin: Any) -> None:
        try:
            time.sleep(seconds)
            if error is not None:
                raise error
            real(client, plugin)
        finally:
            state["ended"] = True

    monkeypatch.setattr(dtagging, "_register", slow)
    return state


def test_a_check_that_fails_waits_for_the_registration_and_keeps_its_error(
    threaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _slow_registration(monkeypatch, 1.0, RuntimeError("setup failed on a worker"))
    records, _ = generate_records(10, seed=5)
    bad = pd.DataFrame({"record_id": ["r0000000"]})  # extracts without their text
    with pytest.raises(ValueError, match="extracts need") as raised:
        tag_partitions(threaded, records, load_codebook(), out_dir=tmp_path, extracts=bad)
    assert state["ended"], "tag_partitions raised while its registration went on"
    notes = getattr(raised.value, "__notes__", [])
    assert any("setup failed on a worker" in n for n in notes), notes


def test_a_failure_before_the_loop_leaves_no_registration_running(
    threaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (review of 33e806f F5: the thread was started before the ``try`` that waits for it)
    _slow_registration(monkeypatch, 2.0)

    def no_bar(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no progress bar")

    monkeypatch.setattr(dtagging, "_progress", no_bar)
    records, _ = generate_records(10, seed=5)
    with pytest.raises(RuntimeError, match="no progress bar"):
        tag_partitions(threaded, records, load_codebook(), out_dir=tmp_path)
    running = [t for t in threading.enumerate() if t.name == "synth-register" and t.is_alive()]
    for t in running:
        t.join(10)
    assert not running, "tag_partitions raised while its registration went on"


def test_ctrl_c_while_the_workers_set_up_waits_for_the_registration(
    threaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _slow_registration(monkeypatch, 3.0)
    records, _ = generate_records(30, seed=5)
    timer = _ctrl_c(1.0)  # while it waits for the workers to set up
    try:
        with pytest.raises(KeyboardInterrupt):
            tag_partitions(threaded, records, load_codebook(), out_dir=tmp_path, partition_size=10)
    finally:
        timer.cancel()
    assert state["ended"], "tag_partitions returned while its registration went on"


def test_ctrl_c_stays_prompt_when_the_registration_hangs(
    threaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dtagging, "STOP_WAIT", 0.5)
    state = _slow_registration(monkeypatch, 4.0)
    records, _ = generate_records(30, seed=5)
    timer = _ctrl_c(1.0)
    try:
        with pytest.raises(KeyboardInterrupt):
            tag_partitions(threaded, records, load_codebook(), out_dir=tmp_path, partition_size=10)
    finally:
        timer.cancel()
    assert not state["ended"]  # it gave up waiting: the thread is a daemon
    threads = [t for t in threading.enumerate() if t.name == "synth-register"]
    for t in threads:
        t.join(10)


def test_a_failed_setup_is_not_unregistered_from_the_workers_where_it_succeeded(
    threaded: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(review 11c N1) A registration whose setup raised on one worker was unregistered
    from every worker, tearing the plugin down where its setup had succeeded and another
    run (answered by the scheduler's record) could be tagging with it. Now it stays: the
    failed worker keeps its error, which its partitions raise at once."""
    real, calls = tagger.engine_for, {"n": 0}

    def flaky(codebook: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("spaCy model not found (first try)")
        return real(codebook)

    monkeypatch.setattr(tagger, "engine_for", flaky)
    records, _ = generate_records(20, seed=5)
    codebook = load_codebook()
    with pytest.raises(OSError, match="first try"):
        tag_partitions(threaded, records, codebook, out_dir=tmp_path / "1", partition_size=10)
    name = dtagging.plugin_name(codebook)

    def state(dask_worker: Any) -> str:
        plugin = dask_worker.plugins.get(name)
        if plugin is None:
            return "absent"
        return plugin.setup_error or ("set up" if plugin.lock is not None else "setting up")

    states = sorted(threaded.run(state).values())
    assert states == ["OSError: spaCy model not found (first try)", "set up"], states
    registered = threaded.run_on_scheduler(
        lambda dask_scheduler: list(dask_scheduler.worker_plugins)
    )
    assert name in registered
