"""The decision log under real concurrency: two writer processes, and a writer killed -9.

Children are started with ``spawn`` (a fresh interpreter, as a second Jupyter kernel
would be) and open their own connection to the store.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from synth.screening.decisions import DECISIONS, current_decisions, record_decision
from synth.store import connect
from tests.crash import kill_writer_mid_stream
from tests.screening import ids

N_EACH = 300


def expected_decision(i: int, n_records: int) -> str:
    return DECISIONS[(i // n_records) % len(DECISIONS)]


def write_decisions(path: str, reviewer: str, records: list[str], start, out: str) -> None:
    """Child: record N_EACH decisions as ``reviewer``, then write the event ids it got."""
    con = connect(path)
    start.wait(60)
    got = []
    for i in range(N_EACH):
        rid = records[i % len(records)]
        decision = expected_decision(i, len(records))
        event = record_decision(
            con, record_id=rid, reviewer=reviewer, decision=decision, note=f"{reviewer}-{i}"
        )
        got.append(event)
    Path(out).write_text(json.dumps(got), "utf-8")
    con.close()


def stream_decisions(path: str, reviewer: str, records: list[str], log: str) -> None:
    """Child: record decisions until killed; report each event id only after its commit."""
    con = connect(path)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    i = 0
    while True:
        rid = records[i % len(records)]
        decision = DECISIONS[i % len(DECISIONS)]
        event = record_decision(con, record_id=rid, reviewer=reviewer, decision=decision)
        os.write(fd, f"{event} {rid} {decision}\n".encode())
        i += 1


@pytest.fixture
def store(kei_imported_db: Path, copy_db: Callable[..., Path]) -> Path:
    return copy_db(kei_imported_db)


@pytest.mark.slow
def test_two_writer_processes_lose_nothing_and_duplicate_nothing(
    store: Path, tmp_path: Path
) -> None:
    con = connect(store)
    records = ids(con, 40)
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    outs = {r: tmp_path / f"{r}.json" for r in ("ana", "ben")}
    procs = [
        ctx.Process(target=write_decisions, args=(str(store), r, records, start, str(out)))
        for r, out in outs.items()
    ]
    for p in procs:
        p.start()
    start.set()
    # a third connection reads while they write: the count only ever grows
    seen = [0]
    while any(p.is_alive() for p in procs):
        (n,) = con.execute("SELECT count(*) FROM decisions").fetchone()
        assert n >= seen[-1]
        seen.append(n)
        current_decisions(con)  # reading the derived state never fails mid-write
        time.sleep(0.01)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0

    got = {r: json.loads(out.read_text("utf-8")) for r, out in outs.items()}
    assert all(len(v) == N_EACH for v in got.values())
    rows = con.execute("SELECT event_id, reviewer, record_id, decision, note FROM decisions")
    rows = rows.fetchall()
    assert len(rows) == 2 * N_EACH
    event_ids = [r[0] for r in rows]
    assert len(set(event_ids)) == len(event_ids)
    assert set(event_ids) == set(got["ana"]) | set(got["ben"])
    assert not set(got["ana"]) & set(got["ben"])
    for reviewer in ("ana", "ben"):
        mine = sorted((r for r in rows if r[1] == reviewer), key=lambda r: r[0])
        # each reviewer's events are all there, once each, in the order they were made
        assert [r[4] for r in mine] == [f"{reviewer}-{i}" for i in range(N_EACH)]
        assert [r[0] for r in mine] == got[reviewer]
        assert [(r[2], r[3]) for r in mine] == [
            (records[i % len(records)], expected_decision(i, len(records))) for i in range(N_EACH)
        ]
    # the derived state is each reviewer's last decision per record
    cur = current_decisions(con)
    assert len(cur) == 2 * len(records)
    last = {records[i % len(records)]: expected_decision(i, len(records)) for i in range(N_EACH)}
    for row in cur.itertuples():
        assert row.decision == last[row.record_id]
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


@pytest.mark.slow
def test_writer_killed_mid_stream_keeps_every_committed_decision(
    store: Path, tmp_path: Path
) -> None:
    con = connect(store)
    records = ids(con, 20)
    con.close()
    log = tmp_path / "committed.log"
    reported = kill_writer_mid_stream(stream_decisions, (str(store), "ana", records), log, seed=11)
    assert len(reported) >= 120
    raw = sqlite3.connect(store)  # a plain connection: what any tool would see
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {
        str(r[0]): (r[1], r[2])
        for r in raw.execute("SELECT event_id, record_id, decision FROM decisions")
    }
    for event, rid, decision in reported:
        assert stored.get(event) == (rid, decision), f"committed event {event} lost"
    # at most one decision per round committed but not yet reported when the kill came
    assert len(reported) <= len(stored) <= len(reported) + 3
    raw.close()
    con = connect(store)  # and the store is still usable
    assert record_decision(con, record_id=records[0], reviewer="ben", decision="include") > max(
        int(e) for e, _, _ in reported
    )
    con.close()
