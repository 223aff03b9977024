"""Work folders (``<store>.work/run-<pid>-...``, issue 19): a run holds the store's lock
for its folder while it lives, and another run removes a folder only when that lock can be
taken, not by its pid (which says nothing across PID namespaces or after pid reuse)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synth.distributed.cluster import WORK_LOCK, WORK_PREFIX, work_folder
from synth.parallel import pid_alive
from synth.store.batches import turn

ROOT = Path(__file__).resolve().parents[2]
#: a pid that runs nowhere here: a run in another container, or one long gone
GONE_PID = 99_999_999

#: A run in another PID namespace: makes its work folder (named with ``GONE_PID``), holds
#: its lock, says so, and waits until killed.
_OWNER = """
import sqlite3, sys
from pathlib import Path
from synth.distributed.cluster import WORK_LOCK
from synth.store.batches import turn
db, name = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db)
with turn(con, WORK_LOCK + name, wait=False) as held:
    (Path(db + ".work") / name).mkdir(parents=True)
    print("held" if held else "not held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def con(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = sqlite3.connect(tmp_path / "store.sqlite")
    yield c
    c.close()


def _left(db: Path, name: str) -> Path:
    folder = db.parent / (db.name + ".work") / name
    folder.mkdir(parents=True)
    (folder / "tags-00000.parquet").write_bytes(b"partition")
    return folder


def _lock_file(db: Path, name: str) -> Path:
    return db.parent / f"{db.name}-{WORK_LOCK}{name}.lock"


def _a_run(con: sqlite3.Connection) -> Path:
    with work_folder(con) as folder:
        assert folder.is_dir()
        return folder


def test_a_folder_whose_owner_holds_its_lock_is_kept_whatever_its_pid(
    con: sqlite3.Connection, tmp_path: Path
) -> None:
    db = tmp_path / "store.sqlite"
    name = f"{WORK_PREFIX}{GONE_PID}-20260101T000000-000001"
    assert not pid_alive(GONE_PID)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, str(db), name],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "held"
        folder = db.parent / (db.name + ".work") / name
        _a_run(con)
        assert folder.is_dir(), "a live run's work folder was removed (its pid is not here)"
        assert _lock_file(db, name).exists()
    finally:
        owner.send_signal(signal.SIGKILL)  # as a killed run dies: its lock released
        owner.wait()
    _a_run(con)
    assert not folder.exists(), "a killed run's work folder was kept"
    assert not _lock_file(db, name).exists()


def test_a_folder_held_by_another_open_handle_is_kept(
    con: sqlite3.Connection, tmp_path: Path
) -> None:
    db = tmp_path / "store.sqlite"
    name = f"{WORK_PREFIX}{GONE_PID}-20260101T000000-000002"
    folder = _left(db, name)
    other = sqlite3.connect(db)
    try:
        with turn(other, f"{WORK_LOCK}{name}", wait=False) as held:
            assert held
            _a_run(con)
            assert (folder / "tags-00000.parquet").exists()
        _a_run(con)  # released: its owner has gone
        assert not folder.exists()
        assert not _lock_file(db, name).exists()
    finally:
        other.close()


def test_a_run_removes_its_folder_and_lock_on_leaving_and_keeps_them_meanwhile(
    con: sqlite3.Connection, tmp_path: Path
) -> None:
    db = tmp_path / "store.sqlite"
    with work_folder(con) as folder:
        assert _lock_file(db, folder.name).exists()
        (folder / "tags-00000.parquet").write_bytes(b"partition")
        second = _a_run(con)  # another run of this process meanwhile
        assert folder.is_dir()
        assert second != folder and not second.exists()
    assert not folder.exists()
    assert not _lock_file(db, folder.name).exists()


def test_a_run_that_raises_removes_its_folder_and_lock(
    con: sqlite3.Connection, tmp_path: Path
) -> None:
    db = tmp_path / "store.sqlite"
    with pytest.raises(RuntimeError, match="partition failed"), work_folder(con) as folder:
        raise RuntimeError("partition failed")
    assert not folder.exists()
    assert not _lock_file(db, folder.name).exists()


def test_a_folder_without_a_lock_file_falls_back_on_its_pid(
    con: sqlite3.Connection, tmp_path: Path
) -> None:
    # (folders left by runs from before work folders had locks)
    db = tmp_path / "store.sqlite"
    gone = _left(db, f"{WORK_PREFIX}{GONE_PID}-20260101T000000-000003")
    alive = _left(db, f"{WORK_PREFIX}{os.getpid()}-20260101T000000-000004")
    _a_run(con)
    assert not gone.exists()
    assert alive.is_dir()
    assert not _lock_file(db, gone.name).exists()


def test_a_store_in_memory_gets_a_temporary_folder_removed_on_leaving() -> None:
    mem = sqlite3.connect(":memory:")
    try:
        with work_folder(mem) as folder:
            assert folder.is_dir()
        assert not folder.exists()
    finally:
        mem.close()


def test_a_lock_file_whose_folder_is_gone_is_swept_once_its_lock_is_free(
    con: sqlite3.Connection, tmp_path: Path
) -> None:
    # (review 11a F7: a run killed between taking its lock and making its folder, or
    # between removing its folder and its lock file, left the lock file for good)
    db = tmp_path / "store.sqlite"
    left = f"{WORK_PREFIX}{GONE_PID}-20260101T000000-000005"
    held_name = f"{WORK_PREFIX}{GONE_PID}-20260101T000000-000006"
    _lock_file(db, left).write_bytes(b"")
    other = sqlite3.connect(db)
    try:
        with turn(other, f"{WORK_LOCK}{held_name}", wait=False) as held:
            assert held  # a live run about to make its folder
            _a_run(con)
            assert not _lock_file(db, left).exists(), "a lock file with no folder was kept"
            assert _lock_file(db, held_name).exists(), "a live run's lock file was removed"
        _a_run(con)
        assert not _lock_file(db, held_name).exists()
    finally:
        other.close()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".lock")]


def test_a_new_folders_lock_found_held_gives_another_name_not_an_unlocked_run(
    con: sqlite3.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(review 11c N2) A sweeping run can hold a starting run's new lock file the moment
    before it removes it: the starting run found its lock held (False) and carried on
    without one, its folder then removable by any run whose pid test it failed."""
    from contextlib import contextmanager

    from synth.distributed import cluster

    fcntl = pytest.importorskip("fcntl")

    real, names = cluster.turn, []

    @contextmanager
    def held_first(c: sqlite3.Connection, name: str, *, wait: bool) -> Iterator[Any]:
        names.append(name)
        if len(names) == 1:  # the sweeper has it, and removes its file
            yield False
            return
        with real(c, name, wait=wait) as held:
            yield held

    monkeypatch.setattr(cluster, "turn", held_first)
    db = tmp_path / "store.sqlite"
    with work_folder(con) as folder:
        lock = _lock_file(db, folder.name)
        assert lock.exists(), "the run went on with no lock file"
        with open(lock, "ab") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by this run
    assert len(names) == 2 and names[0] != names[1]
    assert not lock.exists() and not folder.exists()
