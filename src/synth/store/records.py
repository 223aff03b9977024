"""A store's records read a chunk at a time, in :func:`synth.store.views.load_records`'
order and types: what streams them (``synth tag`` on one machine and on a cluster,
deduplication on a cluster) reads them with, so that no step holds every record.

Here, not beside Dask, so that the single-machine path reads them without importing it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

from synth.corpus.model import LIST_COLUMNS, RECORD_COLUMNS

#: :func:`synth.store.views.load_records`' order (a streamed run stores the whole one's)
RECORD_ORDER = " ORDER BY r.source_id, r.position, r.record_id"


class StoreRecords:
    """A store's records (the ``records`` view) read ``size`` at a time, in order.

    The count and the chunks must be read in one snapshot. :meth:`snapshot` reads them on
    a connection of its own inside one read transaction, so the caller's connection may
    write meanwhile (a tagging run's rows) and other processes may commit (a reviewer's
    decisions) without changing what is read. Constructed on a connection directly,
    hold a transaction on it until the last chunk is read (``refresh_duplicates`` does);
    either way a chunk that is not the size counted is an error, not a silent change.
    """

    def __init__(
        self,
        con: sqlite3.Connection,
        size: int,
        *,
        columns: Sequence[str] = RECORD_COLUMNS,
        presence_only: Sequence[str] = (),
    ) -> None:
        self.con = con
        self.size = max(1, int(size))
        (self.n,) = con.execute("SELECT count(*) FROM records").fetchone()
        self.columns = list(columns)
        #: long text columns read as there (``'x'``) or not (``None``), not their text
        self.presence_only = tuple(presence_only)
        self._cursor: sqlite3.Cursor | None = None
        self._next = 0
        self._own: sqlite3.Connection | None = None

    @classmethod
    def snapshot(
        cls, con: sqlite3.Connection, size: int, *, columns: Sequence[str] = RECORD_COLUMNS
    ) -> StoreRecords:
        """The records of ``con``'s store read on a connection of their own, count and
        chunks in one read transaction (held until :meth:`close`): ``con`` stays free to
        write. :attr:`con` is that connection: read what goes with the records (their
        full texts) on it too, in the same snapshot. A store with no file (in memory) is
        read on ``con`` itself."""
        from synth.store.db import connect

        path = _store_file(con)
        if path is None:
            return cls(con, size, columns=columns)
        own = connect(path, migrate=False)
        try:
            own.execute("BEGIN")  # deferred: the snapshot is taken by the first read
            reader = cls(own, size, columns=columns)
        except BaseException:
            own.close()
            raise
        reader._own = own
        return reader

    def __len__(self) -> int:
        return int(self.n)

    def sizes(self) -> list[int]:
        return [min(self.size, self.n - k) for k in range(0, self.n, self.size)]

    def partition(self, k: int) -> pd.DataFrame:
        """The ``k``-th chunk: chunks are read in order."""
        if k != self._next:
            raise RuntimeError(f"a store's partitions are read in order: {k} after {self._next}")
        if self._cursor is None:
            cols = ", ".join(
                f"CASE WHEN r.{c} IS NULL OR r.{c} = '' THEN NULL ELSE 'x' END"
                if c in self.presence_only
                else f"r.{c}"
                for c in self.columns
            )
            self._cursor = self.con.execute(f"SELECT {cols} FROM records r{RECORD_ORDER}")
        rows = self._cursor.fetchmany(self.size)
        expected = min(self.size, self.n - k * self.size)
        if len(rows) != expected:
            raise RuntimeError(
                f"the store's records changed while read ({len(rows)} rows in partition {k}, "
                f"{expected} expected): read them inside one transaction"
            )
        self._next += 1
        if self._next * self.size >= self.n:
            self._close_cursor()
        return store_frame(rows, self.columns)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """Every chunk, in order."""
        for k in range(len(self.sizes())):
            yield self.partition(k)

    def _close_cursor(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def close(self) -> None:
        """Stop reading (and end the snapshot of :meth:`snapshot`)."""
        self._close_cursor()
        if self._own is not None:
            own, self._own = self._own, None
            try:
                own.execute("ROLLBACK")  # only read: nothing to keep
            finally:
                own.close()

    def __enter__(self) -> StoreRecords:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _store_file(con: sqlite3.Connection) -> str | None:
    """The file of ``con``'s main database (None in memory)."""
    for _, name, file in con.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or None
    return None


def store_frame(rows: list[Any], columns: list[str]) -> pd.DataFrame:
    """Rows of the store's records as :func:`synth.store.views.load_records` types them
    (list columns parsed from JSON, years as nullable integers)."""
    values = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    for name in columns:
        if name in (*LIST_COLUMNS, "extra"):
            values[name] = [json.loads(v) for v in values[name]]
    frame = pd.DataFrame({c: values[c] for c in columns}, columns=columns)
    for name in ("year", "position", "line", "label_included"):
        if name in frame.columns:
            frame[name] = pd.array(values[name], dtype="Int64")
    if "grey" in frame.columns:
        grey = [None if v is None else bool(v) for v in values["grey"]]
        frame["grey"] = pd.array(grey, dtype="boolean")
    return frame
