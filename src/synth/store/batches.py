"""Long writes in short transactions, so a reviewer's decision never waits long for the lock.

SQLite has one writer at a time. A tagging run over a large review writes millions of
rows; in one transaction it held the lock for over a minute and reviewers' decisions
failed with "database is locked". A long writer commits every :data:`BATCH_SECONDS`
instead and then pauses :data:`PAUSE_SECONDS`: a waiting writer polls the lock at most
every 100 ms (SQLite's busy handler) and, up to about a quarter second into its wait,
at most every 50 ms, so it gets in at the first pause.

What a long writer writes must therefore not be read before it is complete: a tagging run
is visible only once its ``runs`` row is marked finished, in the last transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from types import TracebackType
from typing import Any

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
    back only that transaction (earlier ones are committed).
    """

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con
        self.started: float | None = None  # when the open transaction began
        self.transactions = 0

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
        self.con.execute("COMMIT" if kind is None else "ROLLBACK")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        self._begin()
        cur = self.con.execute(sql, params)
        self._maybe_commit()
        return cur

    def executemany(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> int:
        """Insert ``rows`` (any iterable, consumed lazily); returns how many were given."""
        n = 0
        for chunk in _chunks(rows, CHUNK_ROWS):
            self._begin()
            self.con.executemany(sql, chunk)
            n += len(chunk)
            self._maybe_commit()
        return n

    def commit(self) -> None:
        """Commit now and let a waiting writer in (e.g. before a slow step)."""
        if self.started is not None:
            self.started = None
            self.con.execute("COMMIT")
            time.sleep(PAUSE_SECONDS)

    def _begin(self) -> None:
        if self.started is None:
            self.con.execute("BEGIN IMMEDIATE")
            self.started = time.monotonic()
            self.transactions += 1

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
