"""Worker processes for the parts of synth that parse or tag in parallel.

One place decides how workers start, so the BibTeX reader, the chunked tagged-format
reader and the tagger all behave the same in a script, in CI and in a Jupyter kernel.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.context
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)


def default_workers() -> int:
    """Cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def mp_context(preload: Iterable[str] = ()) -> multiprocessing.context.BaseContext:
    """How to start workers: fork in a single-threaded Linux process (fast, and a script
    without a ``__main__`` guard is not re-imported); forkserver where threads run (a
    Jupyter kernel), since forking a threaded process can deadlock; spawn elsewhere."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))  # each worker starts with these imported
        return ctx
    return multiprocessing.get_context("spawn")


def ordered_map(
    fn: Callable[..., Any],
    jobs: Iterable[tuple[Any, ...]],
    *,
    workers: int,
    preload: Iterable[str] = (),
    queued_per_worker: int = 2,
    in_process_fallback: bool = False,
    work_here: bool = False,
    shared: Any = None,
) -> Iterator[Any]:
    """``fn(*job)`` for each job in worker processes, results in job order.

    ``shared`` (when not None) is an input every job reads, passed first:
    ``fn(shared, *job)``. A worker gets it once: inherited when workers fork, pickled once
    per worker otherwise; so jobs can be small (indices into it) and this process does
    not pickle the same data for every job in a thread that competes with its own work.

    At most ``queued_per_worker`` jobs per worker are in flight, so a huge input is never
    all pickled at once. ``workers <= 1`` runs the jobs in this process, with no pool.

    ``work_here=True`` makes this process one of the ``workers``: it starts
    ``workers - 1`` processes and runs jobs itself while they work, so its own jobs cost no
    pickling and it does not sit on a core waiting. (Tagging 30,000 records on two cores,
    the two modes measured within each other's noise, about ±10%.)

    When the workers cannot start or die (a sandbox without processes or ``/dev/shm``, a
    worker killed for memory), ``in_process_fallback=True`` runs the jobs not yet returned
    in this process, in order, with a warning; otherwise the error is raised (callers may
    fall back themselves). Whatever ``fn`` itself raises is raised either way.
    """
    if shared is not None:
        jobs = ((shared, *job) for job in jobs)
    if workers <= 1:
        for job in jobs:
            yield fn(*job)
        return
    pool_size = workers - 1 if work_here else workers
    todo = enumerate(jobs)
    taken: dict[int, tuple[Any, ...]] = {}  # jobs taken from ``jobs``, not yet done
    pending: dict[int, Future[Any]] = {}  # of those, the ones in the pool
    done: dict[int, Any] = {}  # results not yet yielded
    next_out = 0
    here = False  # running a job in this process: what it raises is the job's own error
    switch = sys.getswitchinterval()
    try:
        if work_here:
            # The pool's threads here read each result from a pipe 64 kB at a time, taking
            # the GIL for every read; with this thread busy running a job each read would
            # wait the default 5 ms switch interval and a worker would idle half its time,
            # blocked on a full pipe. A short interval lets them in at once.
            sys.setswitchinterval(min(switch, 0.0002))
        with ProcessPoolExecutor(
            max_workers=pool_size,
            mp_context=mp_context(preload),
            initializer=_start_worker,  # tied to this process; holds ``shared`` once
            initargs=(os.getpid(), shared),
        ) as pool:
            exhausted = False
            while True:
                while not exhausted and len(pending) < queued_per_worker * pool_size:
                    item = next(todo, None)
                    if item is None:
                        exhausted = True
                    else:
                        taken[item[0]] = item[1]
                        pending[item[0]] = (
                            pool.submit(fn, *item[1])
                            if shared is None  # else the worker has the first argument
                            else pool.submit(_with_held, fn, *item[1][1:])
                        )
                item = None
                if work_here and not exhausted:  # between refills, take a job here
                    item = next(todo, None)
                    exhausted = item is None
                if item is not None:
                    taken[item[0]] = item[1]
                    here = True
                    try:
                        done[item[0]] = fn(*item[1])
                    except Exception:
                        _raise_earlier(pending, item[0])  # as a serial run would
                        raise
                    here = False
                    del taken[item[0]]
                elif pending:
                    first = min(pending)  # the one the caller needs next
                    done[first] = pending.pop(first).result()
                    del taken[first]
                else:
                    break
                for i in [i for i, future in pending.items() if future.done()]:
                    done[i] = pending.pop(i).result()
                    del taken[i]
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
    except (OSError, BrokenProcessPool) as exc:
        if here or not in_process_fallback:
            raise
        log.warning("worker processes failed (%r); running the remaining jobs here", exc)
        for i in sorted(taken):
            done[i] = fn(*taken[i])
        for i, job in todo:
            done[i] = fn(*job)
        while next_out in done:
            yield done.pop(next_out)
            next_out += 1
    finally:
        sys.setswitchinterval(switch)


def _raise_earlier(pending: dict[int, Future[Any]], job: int) -> None:
    """Raise the error of the earliest job before ``job`` still in the pool that fails:
    the error a serial run would have raised instead of ``job``'s. A job the pool lost
    (it broke) is not counted: its error is not the job's own."""
    for i in sorted(i for i in pending if i < job):
        error = pending[i].exception()
        if error is not None and not isinstance(error, BrokenProcessPool):
            raise error


class BackgroundFailed(Exception):
    """A :class:`Background` process gave no result: its error, its exit, or a timeout."""


class Background:
    """``fn(given, *args)`` run in another process while this one goes on; its result
    is read once (:meth:`result`), and the process stopped when not wanted (:meth:`cancel`).

    ``given`` (a large input) is inherited where the process forks; otherwise pickled and
    written to it from a thread, so this process goes on meanwhile (the write waits for
    the process to read). The process dies with this one (:func:`die_with_caller`), and
    makes no semaphore for progress bars (tqdm's lock), which would leak if it is stopped
    mid-work. Raises OSError where no process can start: a sandbox, or inside a daemonic
    process (a pool's worker), which may have no children.
    """

    def __init__(
        self, fn: Callable[..., Any], given: Any, *args: Any, preload: Iterable[str] = ()
    ) -> None:
        if multiprocessing.current_process().daemon:
            raise OSError("a daemonic process (a pool's worker) may start no process")
        ctx = mp_context(preload)
        self._recv, send = ctx.Pipe(duplex=False)
        forked = ctx.get_start_method() == "fork"  # the process has ``given`` already
        read, self._give = (None, None) if forked else ctx.Pipe(duplex=False)
        self._proc = ctx.Process(
            target=_run_in_background,
            args=(os.getpid(), fn, given if forked else None, read, args, send),
            daemon=True,
        )
        try:
            self._proc.start()
        finally:
            send.close()
            if read is not None:
                read.close()
        self._sender: threading.Thread | None = None
        if self._give is not None:
            self._sender = threading.Thread(target=self._send, args=(given,), daemon=True)
            self._sender.start()

    def _send(self, given: Any) -> None:
        try:
            self._give.send(given)  # type: ignore[union-attr]
        except (OSError, ValueError):  # the process is gone: result() says so
            pass
        finally:
            self._give.close()  # type: ignore[union-attr]

    def result(self, timeout: float) -> Any:
        """``fn``'s result, waited for at most ``timeout`` seconds; else BackgroundFailed
        (``fn`` raised, the process died, or it is still running: it is then stopped)."""
        from multiprocessing.connection import wait

        try:
            ready = wait([self._recv, self._proc.sentinel], timeout=timeout)
            if not ready:
                raise BackgroundFailed(f"no result in {timeout:.0f} s; stopped")
            try:  # a result, or (the process died) the pipe's end
                status, value = self._recv.recv()
            except (EOFError, OSError):
                self._proc.join(timeout=5)
                raise BackgroundFailed(
                    f"the process ended, exit code {self._proc.exitcode}"
                ) from None
            self._proc.join(timeout=5)  # let it end by itself
            if status != "ok":
                raise BackgroundFailed(value)
            return value
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Stop the process (when its result is not wanted, or has been read)."""
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self._recv.close()
        if self._sender is not None:
            self._sender.join()  # its write fails once the process is gone


def _run_in_background(
    caller: int,
    fn: Callable[..., Any],
    given: Any,
    read: Any,
    args: tuple[Any, ...],
    send: Any,
) -> None:
    from tqdm import tqdm

    die_with_caller(caller)
    tqdm.set_lock(threading.RLock())  # no semaphore (leaked if this process is stopped)
    try:
        if read is not None:
            given = read.recv()
            read.close()
        result = fn(given, *args)
    except Exception as exc:  # the caller sees its repr
        send.send(("error", repr(exc)))
    else:
        send.send(("ok", result))
    send.close()


_HELD: Any = None  # in a worker: ``ordered_map``'s ``shared`` input
#: How often a worker checks that its caller still lives (where no pidfd tells it).
PARENT_POLL_SECONDS = 0.5


def _start_worker(caller: int, shared: Any) -> None:
    """Worker initializer: die with the caller, and hold ``shared`` for every job."""
    global _HELD
    _HELD = shared
    die_with_caller(caller)


def die_with_caller(caller: int) -> None:
    """End this process (a pool's worker, or any process started for ``caller``) when
    ``caller`` dies, even by ``kill -9``.

    An orphaned worker would otherwise wait forever on a queue whose other end it holds
    itself, keeping its memory and the caller's stdout/stderr pipes. On Linux the kernel
    kills a forked or spawned worker with its parent (``PR_SET_PDEATHSIG``); a fork-server
    worker's parent is the fork server, which waits for its workers, so a daemon thread
    watches the caller itself: woken by a pidfd when it exits, else polling its pid and
    whether this worker was re-parented.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no libc prctl
            pass
    threading.Thread(target=_watch, args=(caller, parent), daemon=True).start()


def _watch(caller: int, parent: int) -> None:
    try:
        fd = os.pidfd_open(caller)  # readable once the caller has exited (even unreaped)
    except (AttributeError, OSError):  # not Linux >= 5.3, or the caller is gone already
        fd = None
    if fd is not None:
        select.select([fd], [], [])
    else:
        while os.getppid() == parent and pid_alive(caller, own_only=True):
            time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def pid_alive(pid: int, *, own_only: bool = False) -> bool:
    """Whether process ``pid`` runs. A process of another user answers "permission
    denied": it counts as running unless ``own_only`` (a watcher whose caller's pid was
    reused by someone else's process knows its caller is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process
        return not own_only
    return True


def _with_held(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(_HELD, *args)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects.

    Reference counting still frees everything; the collector would only re-scan the growing
    result lists again and again (a third of RIS parse time and a fifth of tagging, measured).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
