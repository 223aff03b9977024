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
from synth.store.db import id_chunks, in_marks

#: :func:`synth.store.views.load_records`' order (a streamed run stores the whole one's)
RECORD_ORDER = " ORDER BY r.source_id, r.position, r.record_id"


class StoreRecords:
    """A store's records (the ``records`` view) read ``size`` at a time, in order.

    Constructed on a connection directly, the count and the chunks (one statement's
    cursor) must be read in one snapshot: hold a transaction on it until the last chunk
    is read (``refresh_duplicates`` does). :meth:`listed` instead lists the records' ids
    once and reads each chunk by key in a short read of its own, so that the connection
    may write between chunks (a tagging run's rows) while others commit. Either way a
    chunk that is not the size counted is an error, not a silent change.
    """

    def __init__(
        self,
        con: sqlite3.Connection,
        size: int,
        *,
        columns: Sequence[str] = RECORD_COLUMNS,
        presence_only: Sequence[str] = (),
        by_key: bool = False,
    ) -> None:
        self.con = con
        self.size = max(1, int(size))
        self.columns = list(columns)
        #: long text columns read as there (``'x'``) or not (``None``), not their text
        self.presence_only = tuple(presence_only)
        self._cursor: sqlite3.Cursor | None = None
        self._next = 0
        #: the records' ids in order (:meth:`listed`), their count with them
        self._ids: list[str] | None = None
        if by_key:
            sql = f"SELECT r.record_id FROM records r{RECORD_ORDER}"
            self._ids = [row[0] for row in con.execute(sql).fetchall()]
            self.n = len(self._ids)
        else:
            (self.n,) = con.execute("SELECT count(*) FROM records").fetchone()

    @classmethod
    def listed(
        cls, con: sqlite3.Connection, size: int, *, columns: Sequence[str] = RECORD_COLUMNS
    ) -> StoreRecords:
        """The store's records as they are now: their ids listed once, in order (the
        count with them, in one read), each chunk then read by key in a short read of its
        own. No read is held open between chunks, so ``con`` may write meanwhile and
        others commit: a read held over a run's writes kept SQLite from reusing its
        write-ahead log, which grew past 3.6 GB while 200,000 records were tagged. Records
        committed since are not read; a listed record gone when its chunk is read is an
        error."""
        return cls(con, size, columns=columns, by_key=True)

    def __len__(self) -> int:
        return int(self.n)

    def sizes(self) -> list[int]:
        return [min(self.size, self.n - k) for k in range(0, self.n, self.size)]

    def partition(self, k: int) -> pd.DataFrame:
        """The ``k``-th chunk: chunks are read in order."""
        if k != self._next:
            raise RuntimeError(f"a store's partitions are read in order: {k} after {self._next}")
        if self._ids is not None:
            self._next += 1
            return self._by_key(self._ids[k * self.size : (k + 1) * self.size], k)
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

    def _by_key(self, ids: list[str], k: int) -> pd.DataFrame:
        """The records ``ids``, in that order, read by key."""
        sql = f"SELECT r.record_id, {', '.join(f'r.{c}' for c in self.columns)} FROM records r"
        found: dict[str, Any] = {}
        for batch in id_chunks(ids):
            where = f" WHERE r.record_id IN ({in_marks(batch)})"
            rows = self.con.execute(sql + where, batch).fetchall()
            found.update((row[0], row[1:]) for row in rows)
        if len(found) != len(ids):
            gone = [i for i in ids if i not in found]
            raise RuntimeError(
                f"the store's records changed while read: {len(gone)} of chunk {k}'s "
                f"{len(ids)} records were removed meanwhile ({', '.join(map(str, gone[:5]))}"
                f"{', ...' if len(gone) > 5 else ''}); run the command again"
            )
        return store_frame([found[i] for i in ids], self.columns)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        """Every chunk, in order."""
        for k in range(len(self.sizes())):
            yield self.partition(k)

    def _close_cursor(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
            self._cursor = None

    def close(self) -> None:
        """Stop reading."""
        self._close_cursor()

    def __enter__(self) -> StoreRecords:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


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
