"""Which Dask cluster a command runs on: one this process starts, an existing one, or none.

``--cluster local[:N]`` starts a :class:`distributed.LocalCluster` of ``N`` worker
processes (one thread each: the tagger's pipeline is one process's), ``--scheduler
tcp://HOST:PORT`` connects to a cluster started with Dask's own ``dask scheduler`` and
``dask worker`` commands; with neither, :func:`cluster_client` gives None and the caller
runs today's single-machine path.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from synth.parallel import default_workers, pid_alive
from synth.store.batches import lock_path, store_file_path, turn

if TYPE_CHECKING:
    from distributed import Client

log = logging.getLogger(__name__)

#: Seconds to wait for an existing scheduler to answer before giving up on it.
CONNECT_TIMEOUT = 10.0
#: Seconds to wait for a LocalCluster's workers to start.
START_TIMEOUT = 120.0
#: Seconds to wait for a first worker on a cluster that has none yet.
WORKER_WAIT = 60.0
#: Tasks in flight per worker (one running, one waiting): a worker holds one partition,
#: chunk or bucket at a time and has the next at hand.
IN_FLIGHT_PER_WORKER = 2
#: Work folders (``<store>.work/run-<pid>-...``) hold one run's Parquet partitions.
WORK_PREFIX = "run-"

_LOCAL = re.compile(r"local(?::(?P<n>\d+))?")
_ADDRESS = re.compile(r"(?P<scheme>tcp|tls)://(?P<host>[^\s:/]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d+)")


class ClusterError(ValueError):
    """A cluster that cannot be used; the message names the value or address and why."""


def local_workers(cluster: str) -> int:
    """The worker count of a ``local[:N]`` value (``local``: one per available core)."""
    m = _LOCAL.fullmatch(cluster.strip())
    if m is None:
        raise ClusterError(
            f"--cluster {cluster!r}: expected 'local' or 'local:N' (N worker processes); "
            "for a cluster started elsewhere use --scheduler tcp://HOST:PORT"
        )
    n = int(m["n"]) if m["n"] is not None else default_workers()
    if n < 1:
        raise ClusterError(f"--cluster {cluster!r}: the number of workers must be at least 1")
    return n


def scheduler_address(scheduler: str) -> str:
    """A checked ``tcp://HOST:PORT`` (or ``tls://``) scheduler address."""
    value = scheduler.strip()
    m = _ADDRESS.fullmatch(value)
    if m is None or not 0 < int(m["port"]) < 65536:
        raise ClusterError(
            f"--scheduler {scheduler!r}: expected a Dask scheduler address such as "
            "tcp://HOST:8786 (what 'dask scheduler' prints)"
        )
    return value


@contextmanager
def cluster_client(
    cluster: str | None = None, scheduler: str | None = None
) -> Iterator[Client | None]:
    """A Dask client for ``cluster`` (``local[:N]``) or ``scheduler`` (``tcp://HOST:PORT``),
    closed (and a local cluster shut down) on leaving; None when both are None.

    Raises :class:`ClusterError` for both given, a malformed value, or a scheduler that does
    not answer within :data:`CONNECT_TIMEOUT` seconds.
    """
    if cluster is not None and scheduler is not None:
        raise ClusterError(
            "--cluster and --scheduler are exclusive: start a local cluster or use an existing one"
        )
    if cluster is None and scheduler is None:
        yield None
        return
    with _quiet_dask():
        yield from _client(cluster, scheduler)


def _client(cluster: str | None, scheduler: str | None) -> Iterator[Client]:
    from distributed import Client, LocalCluster

    if cluster is not None:
        n = local_workers(cluster)
        log.info("starting a local Dask cluster of %d worker process(es)", n)
        with (
            LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                timeout=START_TIMEOUT,
            ) as local,
            Client(local) as client,
        ):
            yield client
        return
    assert scheduler is not None
    address = scheduler_address(scheduler)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"--scheduler {address}: no Dask scheduler answered within "
            f"{CONNECT_TIMEOUT:g} s ({exc}); start one with 'dask scheduler' and "
            "'dask worker ADDRESS'"
        ) from None
    with client:
        yield client


@contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own INFO lines (every worker started, every connection) only with synth's
    ``--verbose``: a command's output stays its own."""
    import distributed  # noqa: F401  (its import sets its loggers' levels: first)

    logger = logging.getLogger("distributed")
    level = logger.level
    if not logging.getLogger("synth").isEnabledFor(logging.INFO):
        logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def ready_workers(client: Client) -> int:
    """The cluster's workers, waiting up to :data:`WORKER_WAIT` seconds for a first one;
    a :class:`ClusterError` naming the scheduler when none joins."""
    n = len(client.scheduler_info().get("workers", {}))
    if n:
        return n
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except TimeoutError:
        raise ClusterError(
            f"the Dask scheduler at {client.scheduler.address} has no workers (none joined "
            f"within {WORKER_WAIT:g} s): start some with 'dask worker "
            f"{client.scheduler.address}'"
        ) from None
    return max(1, len(client.scheduler_info().get("workers", {})))


@contextmanager
def work_folder(con: sqlite3.Connection) -> Iterator[Path]:
    """A new folder for one run's partitions (import, tagging), in ``<store>.work/``
    beside the store (a temporary folder for a store in memory), removed on leaving.

    The run holds the store's lock ``work-<folder name>`` (:func:`synth.store.batches.turn`:
    a file beside the store, ``<store>-work-run-....lock``) from before its folder is made
    until after it is removed: the operating system releases it when the run dies, even by
    ``kill -9``, whatever PID namespace or container it ran in. Folders left by other runs
    are removed first, but only those whose lock can be taken without waiting (their run is
    gone); a folder with no lock file (made before these locks were) is removed when the
    process its name gives is not running here, as before. A lock file whose folder is gone
    (a run killed just before making its folder, or just after removing it) is removed too
    when its lock can be taken; a folder that could not be removed keeps its lock file.
    """
    store = store_file_path(con)
    if store is None:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix=WORK_PREFIX))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    root = Path(store + ".work")
    root.mkdir(exist_ok=True)
    for old in root.glob(f"{WORK_PREFIX}*"):
        if old.is_dir():
            _remove_if_left(con, old)
    _sweep_lock_files(con, store, root)
    for _ in range(NAME_TRIES):
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        folder = root / f"{WORK_PREFIX}{os.getpid()}-{stamp}-{time.monotonic_ns() % 10**6:06d}"
        # the lock first: a folder is never seen without its lock file while its run lives
        with turn(con, _lock_name(folder), wait=False) as held:
            if held is False:  # a new name's lock held: another run sweeps it (or has it)
                continue
            try:
                folder.mkdir()
                yield folder
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                if held and not folder.exists():  # a folder not removed keeps its lock file
                    _unlink(_lock_path(store, folder))
            return
    raise OSError(f"{root}: no work folder name whose lock was free in {NAME_TRIES} tries")


#: How many new names :func:`work_folder` tries when the lock of one is held (another
#: run, sweeping lock files, holds it the moment before it removes the file).
NAME_TRIES = 5


#: The store's lock (:func:`synth.store.batches.turn`) a run holds for its work folder,
#: before the folder's name.
WORK_LOCK = "work-"


def _lock_name(folder: Path) -> str:
    return f"{WORK_LOCK}{folder.name}"


def _lock_path(store: str, folder: Path) -> str:
    """Where ``folder``'s lock file is (as :func:`synth.store.batches.turn` names it)."""
    return lock_path(store, _lock_name(folder))


def _remove_if_left(con: sqlite3.Connection, folder: Path) -> None:
    """Remove work folder ``folder`` if the run that made it is gone: its lock taken
    without waiting (held meanwhile, so that its file is removed by whoever removes the
    folder), or, with no lock file, its process not running here."""
    store = store_file_path(con)
    assert store is not None
    if not os.path.exists(_lock_path(store, folder)):
        if not _alive(folder.name):  # made before work folders had locks
            shutil.rmtree(folder, ignore_errors=True)
        return
    with turn(con, _lock_name(folder), wait=False) as held:
        if held:
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                _unlink(_lock_path(store, folder))


def _sweep_lock_files(con: sqlite3.Connection, store: str, root: Path) -> None:
    """Remove the lock files of work folders that are gone, left by a run killed between
    taking its lock and making its folder, or between removing its folder and its lock
    file: only those whose lock can be taken without waiting (a live run holds its lock
    from before its folder is made until after its lock file is removed)."""
    head = f"{os.path.basename(store)}-{WORK_LOCK}"
    for path in Path(store).parent.glob(f"{glob.escape(head)}{WORK_PREFIX}*.lock"):
        folder = root / path.name[len(head) : -len(".lock")]
        if folder.exists():
            continue  # its folder's own check (_remove_if_left) decides
        with turn(con, _lock_name(folder), wait=False) as held:
            if held and not folder.exists():
                _unlink(str(path))


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _alive(name: str) -> bool:
    """Whether the process that made work folder ``name`` (``run-<pid>-...``) still runs
    (only for folders with no lock file: a pid says nothing across PID namespaces)."""
    try:
        pid = int(name[len(WORK_PREFIX) :].split("-", 1)[0])
    except ValueError:
        return False
    return pid_alive(pid)
