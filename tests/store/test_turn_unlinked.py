"""The store's file locks (:func:`synth.store.batches.turn`) when a lock file is removed
by the holder of its lock while another caller has opened it but not yet locked it (the
work-folder sweep, ``synth.distributed.cluster``, removes a free lock file whose folder
does not exist yet: review 11c N2). The caller then locked a file no longer on disk, or
found the lock taken by the sweeper and ran without one; now it opens the file again."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from synth.store import batches
from synth.store.batches import turn

fcntl = pytest.importorskip("fcntl")


def _sweep_before_flock(monkeypatch: pytest.MonkeyPatch, lock: Path, times: int) -> list[int]:
    """``flock`` as if a sweeper took the lock file and removed it between the caller's
    open and its flock, the first ``times`` calls; the inodes of the files locked."""
    real = fcntl.flock
    locked: list[int] = []

    def swept_first(handle: Any, how: int) -> None:
        if len(locked) < times:
            with open(lock, "ab") as sweeper:  # the sweeper's turn: held, then removed
                real(sweeper, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.unlink(lock)
        locked.append(os.fstat(handle.fileno()).st_ino)
        real(handle, how)

    monkeypatch.setattr(batches.fcntl, "flock", swept_first)
    return locked


@pytest.mark.parametrize("wait", [False, True])
def test_a_lock_file_removed_before_its_flock_is_opened_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wait: bool
) -> None:
    db = tmp_path / "st.sqlite"
    con = sqlite3.connect(db)
    lock = Path(f"{db}-work-run-1.lock")
    locked = _sweep_before_flock(monkeypatch, lock, times=1)
    with turn(con, "work-run-1", wait=wait) as held:
        assert held is True
        assert lock.exists(), "the lock held is of a file no longer on disk"
        assert locked[-1] == lock.stat().st_ino  # the file others open is the one held
        monkeypatch.undo()
        with open(lock, "ab") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody takes it meanwhile
    assert len(locked) == 2
    con.close()


def test_a_lock_found_held_on_a_removed_file_is_taken_on_the_file_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweeper still holds the removed file's lock at the caller's flock: that is no
    other run's lock (nobody else can open that file), so the caller did not get False."""
    db = tmp_path / "st.sqlite"
    con = sqlite3.connect(db)
    lock = Path(f"{db}-work-run-2.lock")
    real, calls = fcntl.flock, []

    def swept_while_held(handle: Any, how: int) -> None:
        calls.append(how)
        if len(calls) > 1:
            return real(handle, how)
        with open(lock, "ab") as sweeper:
            real(sweeper, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(lock)
            return real(handle, how)  # BlockingIOError: the sweeper holds it

    monkeypatch.setattr(batches.fcntl, "flock", swept_while_held)
    with turn(con, "work-run-2", wait=False) as held:
        assert held is True
        assert lock.exists()
    assert len(calls) == 2
    con.close()


def test_a_lock_file_removed_every_time_is_an_error_not_a_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "st.sqlite"
    con = sqlite3.connect(db)
    _sweep_before_flock(monkeypatch, Path(f"{db}-x.lock"), times=10**6)
    with pytest.raises(OSError, match="removed 20 times"), turn(con, "x", wait=False):
        pass
    con.close()
