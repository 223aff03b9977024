"""Long writes in short transactions, so a reviewer's decision never waits long for the lock.

SQLite has one writer at a time. A tagging run over a large review writes millions of
rows; in one transaction it held the lock for over a minute and reviewers' decisions
failed with "database is locked". A long writer commits every :data:`BATCH_SECONDS`
instead and then pauses :data:`PAUSE_SECONDS`: a waiting writer polls the lock at most
every 100 ms (SQLite's busy handler) and, up to about a quarter second into its wait,
at most every 50 ms, so it gets in at the first pause.

What a long writer writes must therefore not be read before it is complete: a tagging run
is visible only once its ``runs`` row is marked finished, in the last transaction, and an
imported file once its ``sources`` row is marked complete. Writers of one kind that must
not overlap (groupings; imports, which tell a killed import's rows from a live one's by
holding their turn) take turns through a file lock beside the store (:func:`turn`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from itertools import islice
from types import TracebackType
from typing import Any

from synth.store.db import serialised

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Longest a long writer holds the write lock at a time.
BATCH_SECONDS = 0.2
#: How long it then leaves the lock free for a waiting reviewer.
PAUSE_SECONDS = 0.05
#: Rows per ``executemany`` call (the time is checked between calls).
CHUNK_ROWS = 500


class ShortTransactions:
    """Run statements in ``BEGIN IMMEDIATE`` transactions of at most about
    :data:`BATCH_SECONDS` each; the caller makes its writes safe to see half done.

    Use as a context manager: leaving it commits the open transaction, an error rolls
    back only that transaction (earlier ones are committed). The connection's lock
    (:func:`synth.store.db.serialised`) is held for each transaction only, so another
    thread using the same connection (a screening widget's callback) gets in between too.
    """

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.started: float | None = None  # when the open transaction began
        self.committed: float | None = None  # when :meth:`commit` last let others in
        self.transactions = 0
        self._held: AbstractContextManager[object] | None = None

    def __enter__(self) -> ShortTransactions:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.started is None:
            return
        self.started = None
        try:
            self.con.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            self._release()

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        self._begin()
        cur = self.con.execute(sql, params)
        self._maybe_commit()
        return cur

    def executemany(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
        """Insert ``rows`` (any iterable, consumed lazily); returns how many were given.

        While the pause after a commit lasts, the next rows are taken from ``rows``
        (built then, where ``rows`` builds them lazily): the lock is free meanwhile, so
        building them is the pause instead of time spent with the lock or asleep."""
        n = 0
        chunks = _chunks(rows, CHUNK_ROWS)
        ready: deque[list[tuple[Any, ...]]] = deque()
        while True:
            while self._pausing():
                chunk = next(chunks, None)
                if chunk is None:
                    break
                ready.append(chunk)
            chunk = ready.popleft() if ready else next(chunks, None)
            if chunk is None:
                return n
            self._begin()
            self.con.executemany(sql, chunk)
            n += len(chunk)
            self._maybe_commit()

    def commit(self) -> None:
        """Commit now and let a waiting writer in (e.g. before a slow step): the next
        transaction begins :data:`PAUSE_SECONDS` after this commit at the earliest (work
        done meanwhile without the lock counts)."""
        if self.started is not None:
            self.started = None
            try:
                self.con.execute("COMMIT")
            finally:
                self._release()
            self.committed = time.monotonic()

    def _pausing(self) -> bool:
        """Whether the pause after the last commit still lasts."""
        return self.committed is not None and time.monotonic() < self.committed + PAUSE_SECONDS

    def _begin(self) -> None:
        if self.started is None:
            if self.committed is not None:
                left = self.committed + PAUSE_SECONDS - time.monotonic()
                if left > 0:
                    time.sleep(left)  # (a waiting writer gets in meanwhile)
            self._held = serialised(self.con)
            self._held.__enter__()
            try:
                self.con.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._release()
                raise
            self.started = time.monotonic()
            self.transactions += 1

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.__exit__(None, None, None)

    def _maybe_commit(self) -> None:
        if self.started is not None and time.monotonic() - self.started >= BATCH_SECONDS:
            self.commit()


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def delete_in_batches(con: sqlite3.Connection, table: str, where: str, params: tuple) -> int:
    """``DELETE FROM table WHERE where`` a few thousand rows per short transaction."""
    removed = 0
    with ShortTransactions(con) as w:
        while True:
            cur = w.execute(
                f"DELETE FROM {table} WHERE rowid IN"
                f" (SELECT rowid FROM {table} WHERE {where} LIMIT 5000)",
                params,
            )
            removed += cur.rowcount
            if cur.rowcount < 5000:
                return removed


@contextmanager
def turn(con: sqlite3.Connection, name: str, *, wait: bool) -> Iterator[bool | None]:
    """Hold the store's ``name`` lock (a file beside it, ``<store>-<name>.lock``).

    Yields True once held (``wait=True`` waits for it), False if another holder has it.
    The operating system releases it when its holder dies, even by ``kill -9``, so a held
    lock means that work really is under way. It is per open file: two connections of one
    process take turns too. Where no file lock can be taken (an in-memory store, a
    read-only folder, no ``fcntl``), yields None: nobody takes turns.

    A lock file may be removed by whoever holds its lock (a work folder's, by the run
    that sweeps it: :mod:`synth.distributed.cluster`), also between this call's open and
    its flock: the lock (taken or found held) counts only if the path still names the
    file, else the file is opened again (at most 20 times).
    """
    path = store_file_path(con)
    if fcntl is None or path is None:
        yield None
        return
    lock, tries = lock_path(path, name), 20
    for _ in range(tries):
        try:
            handle = open(lock, "ab")  # noqa: SIM115 - held across the yield
        except OSError:
            yield None
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                taken = True
            except BlockingIOError:
                taken = False
            try:
                named = os.stat(lock).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                named = False
            if named:
                yield taken  # closing the file releases the lock
                return
        # removed (or replaced) by its holder before this flock: not the lock others take
    raise OSError(f"{lock}: removed {tries} times as its lock was taken")


def lock_path(store: str, name: str) -> str:
    """The file of the store's ``name`` lock (:func:`turn`): ``<store>-<name>.lock``."""
    return f"{store}-{name}.lock"


def store_file_path(con: sqlite3.Connection) -> str | None:
    """The file of ``con``'s main database (None in memory)."""
    for row in con.execute("PRAGMA database_list"):
        if row[1] == "main":
            return row[2] or None
    return None
