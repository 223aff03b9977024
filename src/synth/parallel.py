"""Worker processes for the parts of synth that parse or tag in parallel.

One place decides how workers start, so the BibTeX reader, the chunked tagged-format
reader and the tagger all behave the same in a script, in CI and in a Jupyter kernel.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.context
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any


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
) -> Iterator[Any]:
    """``fn(*job)`` for each job in worker processes, results in job order.

    At most ``queued_per_worker`` jobs per worker are in flight, so a huge input is never
    all pickled at once. Raises whatever a job raised (callers may fall back to in-process).
    """
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp_context(preload)) as pool:
        pending: deque[Future[Any]] = deque()
        for job in jobs:
            while len(pending) >= queued_per_worker * workers:
                yield pending.popleft().result()
            pending.append(pool.submit(fn, *job))
        while pending:
            yield pending.popleft().result()


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
