"""A long writer's pause after each commit: kept whole for a waiting writer, and used to
build the next rows (no lock is held meanwhile) instead of sleeping through it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synth.store import batches, connect
from synth.store.db import bulk_cache


class Clock:
    """``batches``' clock: ``sleep`` and row building move it on; both are recorded."""

    def __init__(self, events: list[tuple[str, float]]) -> None:
        self.now = 1000.0
        self.events = events

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.events.append(("sleep", self.now))
        self.now += seconds


def _write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build_seconds: float
) -> list[tuple[str, float]]:
    """Write 60 rows in transactions of 10 (one each), each 10 rows taking
    ``build_seconds`` to build; the events: BEGIN, COMMIT, rows built, sleeps."""
    events: list[tuple[str, float]] = []
    clock = Clock(events)
    monkeypatch.setattr(batches, "time", clock)
    monkeypatch.setattr(batches, "BATCH_SECONDS", 0.0)  # commit after every 10 rows
    monkeypatch.setattr(batches, "PAUSE_SECONDS", 0.05)
    monkeypatch.setattr(batches, "CHUNK_ROWS", 10)
    con = connect(tmp_path / "review.sqlite")
    con.execute("CREATE TABLE t (x INTEGER)")

    def trace(sql: str) -> None:
        if sql.startswith(("BEGIN", "COMMIT")):
            events.append((sql.split()[0], clock.now))

    def rows() -> Iterator[tuple[Any, ...]]:
        for i in range(60):
            if i % 10 == 0:
                clock.now += build_seconds
                events.append(("rows", clock.now))
            yield (i,)

    con.set_trace_callback(trace)
    with batches.ShortTransactions(con) as w:
        assert w.executemany("INSERT INTO t VALUES (?)", rows()) == 60
    con.set_trace_callback(None)
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 60
    con.close()
    return events


def _gaps(events: list[tuple[str, float]]) -> list[list[tuple[str, float]]]:
    """The events between each COMMIT and the next BEGIN, the two included."""
    out, current = [], None
    for name, at in events:
        if name == "COMMIT":
            current = [(name, at)]
        elif current is not None:
            current.append((name, at))
            if name == "BEGIN":
                out.append(current)
                current = None
    return out


def test_the_next_rows_are_built_in_the_pause_after_a_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows that take 20 ms per 10 to build: after a commit the next rows are built
    first, for as long as the pause lasts; the writer sleeps only once none are left to
    build, and the lock stays free at least the whole pause every time."""
    events = _write(tmp_path, monkeypatch, build_seconds=0.02)
    last_built = max(at for name, at in events if name == "rows")
    gaps = _gaps(events)
    assert len(gaps) == 5
    built_in_a_pause = 0
    for gap in gaps:
        names = [name for name, _ in gap]
        if "rows" in names:
            built_in_a_pause += 1
            assert names[1] == "rows", gap  # built right after the commit
        for name, at in gap:
            assert name != "sleep" or at >= last_built, f"slept with rows to build: {gap}"
        assert gap[-1][1] - gap[0][1] >= 0.05 - 1e-9, gap
    assert built_in_a_pause >= 2


def test_a_writer_with_nothing_to_build_still_leaves_the_whole_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gaps = _gaps(_write(tmp_path, monkeypatch, build_seconds=0.0))
    assert len(gaps) == 5
    for gap in gaps:
        assert gap[-1][1] - gap[0][1] >= 0.05 - 1e-9, gap
        assert "sleep" in [name for name, _ in gap], gap


def test_a_bulk_load_keeps_checkpointing_as_sqlite_does(tmp_path: Path) -> None:
    # each commit's checkpoint runs after the lock is released and widens the pause in
    # which a reviewer's write gets in: a bulk load must not put it off
    con = connect(tmp_path / "review.sqlite")
    (pages,) = con.execute("PRAGMA wal_autocheckpoint").fetchone()
    with bulk_cache(con):
        assert con.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == pages <= 1000
    con.close()


def test_a_failing_bulk_load_restores_the_connection_too(tmp_path: Path) -> None:
    con = connect(tmp_path / "review.sqlite")
    (cache,) = con.execute("PRAGMA cache_size").fetchone()
    with pytest.raises(sqlite3.OperationalError), bulk_cache(con):
        con.execute("SELECT * FROM no_such_table")
    assert con.execute("PRAGMA cache_size").fetchone()[0] == cache
    con.close()
