"""One process pool (synth.parallel.ordered_map) for the tagger: order, inline runs, fallback."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest

from synth import parallel
from synth.parallel import ordered_map
from synth.tagging import tag


def _square_or_die(x: int, parent: int) -> tuple[int, int]:
    """In a worker, the third job kills its process (as the OOM killer would)."""
    if x == 3 and os.getpid() != parent:
        os._exit(1)
    return x, x * x


def test_results_come_back_in_job_order() -> None:
    jobs = [(x, os.getpid()) for x in range(20)]
    assert list(ordered_map(pow, [(x, 2) for x in range(20)], workers=2)) == [
        x * x for x in range(20)
    ]
    assert list(ordered_map(_square_or_die, jobs, workers=1)) == [(x, x * x) for x in range(20)]


def test_a_dead_worker_raises_unless_asked_to_fall_back(caplog) -> None:
    jobs = [(x, os.getpid()) for x in range(10)]
    with pytest.raises(parallel.BrokenProcessPool):
        list(ordered_map(_square_or_die, jobs, workers=2))
    with caplog.at_level(logging.WARNING, logger="synth.parallel"):
        out = list(ordered_map(_square_or_die, jobs, workers=2, in_process_fallback=True))
    assert out == [(x, x * x) for x in range(10)]
    assert "running the remaining jobs here" in caplog.text


def _square_where(x: int) -> tuple[int, int, int]:
    return x, x * x, os.getpid()


def _die_in_a_worker(x: int, parent: int) -> tuple[int, int]:
    """Every job that lands in a worker process kills it."""
    if os.getpid() != parent:
        os._exit(1)
    return x, x * x


def test_working_here_shares_the_jobs_and_keeps_their_order() -> None:
    out = list(ordered_map(_square_where, [(x,) for x in range(40)], workers=2, work_here=True))
    assert [(x, sq) for x, sq, _ in out] == [(x, x * x) for x in range(40)]
    pids = {pid for _, _, pid in out}
    assert os.getpid() in pids  # this process ran some jobs
    assert len(pids) == 2  # and the one worker the rest


def test_working_here_falls_back_when_the_worker_dies(caplog) -> None:
    jobs = [(x, os.getpid()) for x in range(12)]
    switch = sys.getswitchinterval()
    with pytest.raises(parallel.BrokenProcessPool):
        list(ordered_map(_die_in_a_worker, jobs, workers=2, work_here=True))
    with caplog.at_level(logging.WARNING, logger="synth.parallel"):
        out = list(
            ordered_map(_die_in_a_worker, jobs, workers=2, work_here=True, in_process_fallback=True)
        )
    assert out == [(x, x * x) for x in range(12)]
    assert "running the remaining jobs here" in caplog.text
    assert sys.getswitchinterval() == switch  # restored


def test_errors_of_the_job_itself_are_raised() -> None:
    with pytest.raises(ZeroDivisionError):
        list(ordered_map(divmod, [(1, 1), (1, 0)], workers=2, in_process_fallback=True))


def test_tagging_without_worker_processes_tags_in_this_one(monkeypatch, caplog) -> None:
    from synth.corpus.synthetic import generate_records

    recs, _ = generate_records(150, seed=5)
    expected = tag(recs)

    def refuse(*args, **kwargs):
        raise OSError("no processes in this sandbox")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", refuse)
    with caplog.at_level(logging.WARNING, logger="synth.parallel"):
        got = tag(recs, n_process=2)
    pd.testing.assert_frame_equal(got, expected)
    assert "running the remaining jobs here" in caplog.text


class _PoolThatBreaks:
    """A process pool whose second ``submit`` finds its workers gone."""

    def __init__(self, *args, **kwargs) -> None:
        self.calls = 0

    def __enter__(self) -> _PoolThatBreaks:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def submit(self, fn, *args):
        self.calls += 1
        if self.calls == 2:
            raise parallel.BrokenProcessPool("the workers went away")
        future: parallel.Future = parallel.Future()
        future.set_result(fn(*args))
        return future


def test_working_here_loses_no_job_when_submitting_fails(monkeypatch, caplog) -> None:
    monkeypatch.setattr(parallel, "ProcessPoolExecutor", _PoolThatBreaks)
    with caplog.at_level(logging.WARNING, logger="synth.parallel"):
        out = list(
            ordered_map(
                pow, [(x, 2) for x in range(9)], workers=3, work_here=True, in_process_fallback=True
            )
        )
    assert out == [x * x for x in range(9)]
    assert "running the remaining jobs here" in caplog.text


def _raise_os_error(x: int) -> int:
    raise OSError(f"job {x} could not read its file")


def test_a_job_failing_here_is_its_own_error_not_a_pool_failure(caplog) -> None:
    with pytest.raises(OSError, match="could not read its file"):
        list(
            ordered_map(
                _raise_os_error, [(x,) for x in range(6)], workers=2, work_here=True,
                in_process_fallback=True,
            )
        )  # fmt: skip
    assert "running the remaining jobs here" not in caplog.text


def _fail_jobs_1_and_2(x: int, parent: int) -> int:
    if x in (1, 2):
        raise ValueError(f"job {x} failed {'here' if os.getpid() == parent else 'in a worker'}")
    return x


def test_the_earliest_failing_job_is_raised_as_in_a_serial_run() -> None:
    """Job 1 goes to the worker, job 2 runs here: both fail, and job 1's error is raised
    (a serial run would never have reached job 2)."""
    jobs = [(x, os.getpid()) for x in range(10)]
    with pytest.raises(ValueError, match="job 1 failed"):
        [_fail_jobs_1_and_2(*job) for job in jobs]
    for work_here in (False, True):
        with pytest.raises(ValueError, match="job 1 failed in a worker"):
            list(ordered_map(_fail_jobs_1_and_2, jobs, workers=2, work_here=work_here))


def test_chunks_shrink_towards_the_end_and_keep_every_record_in_order() -> None:
    """Guided sizes: big chunks first, small ones last, so no process waits long at the end."""
    from synth.tagging.tagger import _chunks, _payloads

    recs = _payloads(pd.DataFrame({"record_id": range(30_000), "title": "t"}), None, None)
    spans = list(_chunks(recs, 2))
    sizes = [stop - start for start, stop in spans]
    flat = [r.record_id for start, stop in spans for r in recs[start:stop]]
    assert flat == list(range(30_000))
    assert sizes[0] == 2000 and max(sizes[-3:]) <= 100
    assert all(a >= b for a, b in pairwise(sizes))


class _CountedPickles:
    """A shared input that counts how often this process pickles it."""

    pickled = 0

    def __init__(self, values: list[int]) -> None:
        self.values = values

    def __getstate__(self) -> dict:
        type(self).pickled += 1
        return self.__dict__


def _pick(shared: _CountedPickles, i: int) -> tuple[int, int]:
    return shared.values[i], os.getpid()


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_shared_input_reaches_each_worker_once_not_with_every_job(method, monkeypatch) -> None:
    import multiprocessing

    context = multiprocessing.get_context(method)
    monkeypatch.setattr(parallel, "mp_context", lambda preload=(): context)
    _CountedPickles.pickled = 0
    shared = _CountedPickles([x * 3 for x in range(60)])
    jobs = [(i,) for i in range(60)]
    out = list(ordered_map(_pick, jobs, workers=2, work_here=True, shared=shared))
    assert [v for v, _ in out] == shared.values
    assert len({pid for _, pid in out}) == 2  # both processes read it
    # forked workers inherit it; a forkserver worker gets it pickled, once
    assert _CountedPickles.pickled == (0 if method == "fork" else 1)
    alone = list(ordered_map(_pick, jobs, workers=1, shared=shared))
    assert [v for v, _ in alone] == shared.values


def _report_and_wait(folder: str) -> None:
    """A busy job: say which worker runs it, then work for a minute."""
    Path(folder, f"{os.getpid()}.pid").write_text("", "utf-8")
    end = time.monotonic() + 60
    while time.monotonic() < end:
        time.sleep(0.05)


_KILLED_CALLER = """
import sys, threading
from synth.parallel import ordered_map
from tests.tagging.test_parallel import _report_and_wait
if sys.argv[2] == "threaded":  # a kernel's threads: the workers come from a fork server
    threading.Thread(target=threading.Event().wait, daemon=True).start()
list(ordered_map(_report_and_wait, [(sys.argv[1],)] * 6, workers=3))
"""


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for init, which may not reap)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("mode", ["single", "threaded"])
def test_workers_die_with_a_caller_killed_by_sigkill(mode, tmp_path: Path) -> None:
    """kill -9 of a command mid-run must not leave its pool's workers behind."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")])}
    caller = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CALLER, str(tmp_path), mode],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("*.pid"))) < 3:
        assert caller.poll() is None, "the caller died on its own"
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.05)
    workers = [int(p.stem) for p in tmp_path.glob("*.pid")]
    assert all(_running(pid) for pid in workers)
    caller.send_signal(signal.SIGKILL)
    caller.wait(30)
    deadline = time.monotonic() + 10  # generous: a behavioural bound, not a speed test
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _running(pid)]
    for pid in left:  # do not leave them to the next test either
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers outlived their killed caller: {left}"


def _bar_then_wait(folder: str, seconds: float) -> int:
    """Makes a (disabled) progress bar, as ``dedupe`` does, says so, and works on."""
    from synth.progress import progress_bar

    progress_bar(total=1, disable=True).close()
    Path(folder, "started").write_text("")
    time.sleep(seconds)
    return 1


def _fails(given: int) -> int:
    raise ValueError(f"no result for {given}")


def test_a_background_result_or_why_there_is_none(tmp_path: Path) -> None:
    assert parallel.Background(_bar_then_wait, str(tmp_path), 0).result(timeout=60) == 1
    with pytest.raises(parallel.BackgroundFailed, match=r"ValueError.*no result for 7"):
        parallel.Background(_fails, 7).result(timeout=60)
    with pytest.raises(parallel.BackgroundFailed, match="no result in 0 s; stopped"):
        parallel.Background(_bar_then_wait, str(tmp_path), 600).result(timeout=0.2)


_STOPPED_MIDWAY = """
import sys, threading, time
from pathlib import Path
from synth import parallel
from tests.tagging.test_parallel import _bar_then_wait
threading.Thread(target=time.sleep, args=(600,), daemon=True).start()  # so: forkserver
job = parallel.Background(_bar_then_wait, sys.argv[1], 600)
while not Path(sys.argv[1], "started").exists():
    time.sleep(0.05)
job.cancel()
print(parallel.mp_context().get_start_method())
"""


def test_a_background_process_stopped_midway_leaks_no_semaphore(tmp_path: Path) -> None:
    """tqdm's lock (a semaphore a progress bar creates, even disabled) would be left to
    the resource tracker, which warns at exit, by a fork-server process terminated."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "src")])}
    done = subprocess.run(
        [sys.executable, "-c", _STOPPED_MIDWAY, str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "forkserver"
    assert "leaked semaphore" not in done.stderr, done.stderr
