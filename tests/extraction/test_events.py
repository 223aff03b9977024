"""Extraction values as events in the review store: append-only, committed before
``record_value`` returns, and nothing lost to a killed writer or a second writer.

Writers are children started with ``spawn`` (a fresh interpreter, as a second Jupyter
kernel would be), each opening its own connection, as in tests/screening/test_concurrency.py.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from synth.store import connect
from synth.store.extraction import (
    current_consensus,
    current_values,
    load_events,
    record_value,
)
from tests.crash import kill_writer_mid_stream
from tests.screening import group_pair, ids

FORM = "coproduction-extraction"
N_EACH = 200


@pytest.fixture
def store(kei_imported_db: Path, copy_db: Callable[..., Path]) -> Path:
    return copy_db(kei_imported_db)


def expected(reviewer: str, i: int) -> dict[str, object]:
    """The i-th value a writer saves: fields and values vary so every event is distinct."""
    return {"field": f"f{i % 7}", "value": {"by": reviewer, "i": i, "tags": ["a", i]}}


def write_values(path: str, reviewer: str, records: list[str], start, out: str) -> None:
    """Child: save N_EACH values as ``reviewer``, then write the event ids it got."""
    con = connect(path)
    start.wait(60)
    got = []
    for i in range(N_EACH):
        e = expected(reviewer, i)
        rid = records[i % len(records)]
        got.append(record_value(con, rid, FORM, e["field"], e["value"], reviewer))
    Path(out).write_text(json.dumps(got), "utf-8")
    con.close()


def stream_values(path: str, reviewer: str, records: list[str], log: str) -> None:
    """Child: save values until killed; report each event id only once record_value returned."""
    con = connect(path)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    i = 0
    while True:
        rid = records[i % len(records)]
        event = record_value(con, rid, FORM, f"f{i % 5}", i, reviewer)
        os.write(fd, f"{event} {rid} {i}\n".encode())
        i += 1


def save_one_then_wait(path: str, record: str, log: str) -> None:
    """Child: save one value, say so, and wait to be killed (a kernel killed after 'saved')."""
    con = connect(path)
    event = record_value(con, record, FORM, "aims", "To co-design a discharge plan", "ana")
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{event}\n".encode())
    time.sleep(600)


# ---------------------------------------------------------------- the log itself


def test_events_are_append_only(store: Path) -> None:
    con = connect(store)
    rec = ids(con, 1)[0]
    event = record_value(con, rec, FORM, "aims", "first aim", "ana")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE extraction_events SET value = '1' WHERE event_id = ?", (event,))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM extraction_events WHERE event_id = ?", (event,))
    # a plain connection (any tool) is refused too, and the value is unchanged
    raw = sqlite3.connect(store)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM extraction_events")
    raw.close()
    assert load_events(con)["value"].tolist() == ["first aim"]
    con.close()


def test_value_is_committed_before_record_value_returns(store: Path) -> None:
    con = connect(store)
    rec = ids(con, 1)[0]
    event = record_value(con, rec, FORM, "country", "United Kingdom", "ana")
    assert not con.in_transaction
    other = sqlite3.connect(store)  # another process's view: only committed data
    row = other.execute(
        "SELECT record_id, form_id, field_id, value, reviewer, kind, source FROM"
        " extraction_events WHERE event_id = ?",
        (event,),
    ).fetchone()
    assert row == (rec, FORM, "country", '"United Kingdom"', "ana", "value", "reviewer")
    other.close()
    con.close()


def test_values_round_trip_as_json(store: Path) -> None:
    con = connect(store)
    rec = ids(con, 1)[0]
    saved = {
        "aims": "Improve discharge — co-designed with carers",
        "participants": 42,
        "effect": 0.5,
        "stages": ["design", "evaluation"],
        "year": np.int64(2019),  # from a pandas column
        "quote": {"text": "we co-designed", "location": "p. 4"},
    }
    for field, value in saved.items():
        record_value(con, rec, FORM, field, value, "ana", source="accepted-suggestion")
    got = dict(zip(*(current_values(con, FORM)[c] for c in ("field_id", "value")), strict=True))
    assert got == {**saved, "year": 2019}
    assert type(got["participants"]) is int and type(got["year"]) is int
    assert set(current_values(con)["source"]) == {"accepted-suggestion"}
    con.close()


def test_bad_writes_are_refused_and_write_nothing(store: Path) -> None:
    con = connect(store)
    rec = ids(con, 1)[0]
    with pytest.raises(ValueError, match="unknown kind 'final'"):
        record_value(con, rec, FORM, "aims", "x", "ana", kind="final")
    with pytest.raises(ValueError, match="unknown source 'model'"):
        record_value(con, rec, FORM, "aims", "x", "ana", source="model")
    with pytest.raises(ValueError, match="unknown record 'no-such-paper'"):
        record_value(con, "no-such-paper", FORM, "aims", "x", "ana")
    with pytest.raises(ValueError, match="reviewer"):
        record_value(con, rec, FORM, "aims", "x", "  ")
    with pytest.raises(ValueError, match="field"):
        record_value(con, rec, FORM, "", "x", "ana")
    with pytest.raises(ValueError, match="cannot store inf"):
        record_value(con, rec, FORM, "participants", float("inf"), "ana")
    with pytest.raises(ValueError, match="cannot store"):
        record_value(con, rec, FORM, "aims", object(), "ana")
    # and the store refuses a kind the code would not write
    with pytest.raises(sqlite3.IntegrityError):
        con.execute(
            "INSERT INTO extraction_events (record_id, form_id, field_id, value, reviewer, kind,"
            " source, created_at) VALUES (?, ?, 'aims', NULL, 'ana', 'final', 'reviewer', 'now')",
            (rec, FORM),
        )
    assert not con.in_transaction
    assert load_events(con).empty
    con.close()


# ---------------------------------------------------------------- current values


def test_current_values_are_each_reviewers_latest(store: Path) -> None:
    con = connect(store)
    a, b = ids(con, 2)
    record_value(con, a, FORM, "country", "Wales", "ana")
    record_value(con, a, FORM, "country", "United Kingdom", "ana")  # a change of mind
    record_value(con, a, FORM, "country", "Wales", "ben")
    record_value(con, a, FORM, "setting", "acute care", "ana")
    record_value(con, a, FORM, "setting", None, "ana")  # cleared: looked, left empty
    record_value(con, b, FORM, "country", "Canada", "ana")
    record_value(con, b, "appraisal-mmat", "s1", "yes", "ana")
    record_value(con, a, FORM, "country", "United Kingdom", "cy", kind="consensus")

    cur = current_values(con, FORM)
    got = {(r.record_id, r.field_id, r.reviewer): r.value for r in cur.itertuples()}
    assert got == {
        (a, "country", "ana"): "United Kingdom",
        (a, "country", "ben"): "Wales",
        (a, "setting", "ana"): None,
        (b, "country", "ana"): "Canada",
    }  # a consensus is not anybody's own value; the other form is not shown
    assert set(current_values(con)["form_id"]) == {FORM, "appraisal-mmat"}
    # the log keeps every event, in order
    events = load_events(con, FORM)
    assert events["value"].tolist()[:3] == ["Wales", "United Kingdom", "Wales"]
    assert len(load_events(con)) == 8
    cons = current_consensus(con, FORM)
    assert cons[["record_id", "field_id", "value", "reviewer"]].values.tolist() == [
        [a, "country", "United Kingdom", "cy"]
    ]
    con.close()


def test_a_value_on_a_duplicate_counts_for_the_kept_record(store: Path) -> None:
    con = connect(store)
    kept, removed = group_pair(con)
    record_value(con, kept, FORM, "aims", "first", "ana")
    record_value(con, removed, FORM, "aims", "second", "ana")  # the same paper's other copy
    other = next(r for r in ids(con, 5) if r not in (kept, removed))
    record_value(con, other, FORM, "aims", "another paper", "ana")
    cur = current_values(con)
    assert cur[["record_id", "value"]].values.tolist() == [
        [kept, "second"],
        [other, "another paper"],
    ]
    # one paper's values, asked for by either copy
    for rid in (kept, removed):
        one = current_values(con, FORM, record_id=rid)
        assert one[["record_id", "value"]].values.tolist() == [[kept, "second"]]
    assert current_values(con, "appraisal-mmat", record_id=kept).empty
    events = load_events(con)
    assert events["record_id"].tolist() == [kept, removed, other]
    assert events["kept_record_id"].tolist() == [kept, kept, other]
    con.close()


# ---------------------------------------------------------------- crashes and concurrency


@pytest.mark.slow
def test_a_value_survives_kill_9_right_after_it_is_saved(store: Path, tmp_path: Path) -> None:
    con = connect(store)
    rec = ids(con, 1)[0]
    con.close()
    log = tmp_path / "saved.log"
    ctx = mp.get_context("spawn")
    proc = ctx.Process(target=save_one_then_wait, args=(str(store), rec, str(log)))
    proc.start()
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text("utf-8").endswith("\n")):
        assert proc.is_alive(), "the writer died on its own"
        assert time.monotonic() < deadline, "the writer never saved"
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)  # the kernel dies holding its connection open
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    event = int(log.read_text("utf-8"))
    raw = sqlite3.connect(store)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert raw.execute(
        "SELECT record_id, field_id, value FROM extraction_events WHERE event_id = ?", (event,)
    ).fetchone() == (rec, "aims", '"To co-design a discharge plan"')
    raw.close()


@pytest.mark.slow
def test_writer_killed_mid_stream_keeps_every_saved_value(store: Path, tmp_path: Path) -> None:
    con = connect(store)
    records = ids(con, 10)
    con.close()
    log = tmp_path / "committed.log"
    reported = kill_writer_mid_stream(stream_values, (str(store), "ana", records), log, seed=17)
    assert len(reported) >= 120
    raw = sqlite3.connect(store)
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = raw.execute("SELECT event_id, record_id, value FROM extraction_events").fetchall()
    stored = {str(r[0]): (r[1], r[2]) for r in rows}
    raw.close()
    for event, rid, value in reported:
        assert stored.get(event) == (rid, value), f"saved value {event} lost"
    # at most one value per round committed but not yet reported when the kill came
    assert len(reported) <= len(stored) <= len(reported) + 3
    con = connect(store)  # and the store is still usable
    assert record_value(con, records[0], FORM, "aims", "after", "ben") > max(
        int(e) for e, _, _ in reported
    )
    con.close()


@pytest.mark.slow
def test_two_writer_processes_lose_nothing(store: Path, tmp_path: Path) -> None:
    con = connect(store)
    records = ids(con, 15)
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    outs = {r: tmp_path / f"{r}.json" for r in ("ana", "ben")}
    procs = [
        ctx.Process(target=write_values, args=(str(store), r, records, start, str(out)))
        for r, out in outs.items()
    ]
    for p in procs:
        p.start()
    start.set()
    seen = 0
    while any(p.is_alive() for p in procs):  # a reader meanwhile: the log only grows
        n = len(load_events(con))
        assert n >= seen
        seen = n
        current_values(con)
        time.sleep(0.01)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0

    got = {r: json.loads(out.read_text("utf-8")) for r, out in outs.items()}
    events = load_events(con)
    assert len(events) == 2 * N_EACH
    assert events["event_id"].is_unique
    assert set(events["event_id"]) == set(got["ana"]) | set(got["ben"])
    for reviewer in ("ana", "ben"):
        mine = events[events["reviewer"] == reviewer]
        # each writer's values are all there, once each, in the order it saved them
        assert mine["event_id"].tolist() == got[reviewer]
        wanted = [expected(reviewer, i) for i in range(N_EACH)]
        assert [(r.record_id, r.field_id, r.value) for r in mine.itertuples()] == [
            (records[i % len(records)], e["field"], e["value"]) for i, e in enumerate(wanted)
        ]
    # the derived values are each writer's last per (paper, field)
    last = {}
    for reviewer in ("ana", "ben"):
        for i in range(N_EACH):
            e = expected(reviewer, i)
            last[(records[i % len(records)], e["field"], reviewer)] = e["value"]
    cur = current_values(con)
    assert {(r.record_id, r.field_id, r.reviewer): r.value for r in cur.itertuples()} == last
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
