"""Long writers (tagging runs) beside a reviewer: nobody is locked out, nothing half-seen.

The reviewer is a second process (``spawn``: a fresh interpreter, as a second Jupyter
kernel would be) that records a decision every half second with its own connection.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from synth.store import connect
from synth.store.tags import current_tags, latest_run, load_run_tags, save_tagging

#: Longest a reviewer's decision may wait while a tagging run writes (a behavioural
#: bound, generous: a run held the lock for minutes before it wrote in short batches).
MAX_WAIT = 1.0
FACETS = ("approach", "setting", "population", "outcome", "design")
EVIDENCE = [
    {
        "field": "abstract",
        "sentence": "Patients and staff co-designed the neonatal unit's discharge plan.",
        "match": "co-designed",
        "cue": "co-design",
    }
]


def store_with_records(path: Path, n: int) -> list[str]:
    """A store holding ``n`` minimal records (written directly: the import is not tested)."""
    con = connect(path)
    ids = [f"rec{i:06d}" for i in range(n)]
    with con:
        con.execute("BEGIN IMMEDIATE")
        con.execute(
            "INSERT INTO sources (sha256, name, format, size, n_records, n_failures, n_new,"
            " imported_at) VALUES ('0', 'big.ris', 'ris', 0, ?, 0, ?, '2024-01-01')",
            (n, n),
        )
        con.executemany(
            "INSERT INTO records (record_id, source_id, title, source_file, source_format,"
            " position) VALUES (?, 1, ?, 'big.ris', 'ris', ?)",
            [(rid, f"Paper {i}", i) for i, rid in enumerate(ids)],
        )
    con.close()
    return ids


def many_tags(ids: list[str], label: str = "a") -> pd.DataFrame:
    """Five tags per record with evidence, like a rule run."""
    n = len(ids)
    return pd.DataFrame(
        {
            "record_id": [rid for rid in ids for _ in FACETS],
            "facet": list(FACETS) * n,
            "label": [f"{facet}-{label}" for facet in FACETS] * n,
            "score": 0.9,
            "evidence": [EVIDENCE] * (n * len(FACETS)),
            "source": "rule",
            "version": "rules:test",
        }
    )


def review_every_half_second(path: str, record_id: str, log: str, stop) -> None:
    """Child: record a decision every 0.5 s until told to stop; log start and duration."""
    from synth.screening.decisions import record_decision

    con = connect(path)
    with open(log, "a", encoding="utf-8") as out:
        while not stop.is_set():
            started = time.time()
            t0 = time.monotonic()
            try:
                record_decision(con, record_id=record_id, reviewer="ana", decision="include")
            except Exception as exc:  # the test reports it
                out.write(f"{started} FAILED {exc!r}\n")
            else:
                out.write(f"{started} {time.monotonic() - t0}\n")
            out.flush()
            stop.wait(0.5)
    con.close()


def _log(log: Path) -> list[tuple[float, str]]:
    if not log.exists():
        return []
    return [(float(a), b) for a, b in (line.split(" ", 1) for line in log.read_text().splitlines())]


@pytest.mark.slow
def test_a_reviewer_is_never_locked_out_by_a_large_tagging_run(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    ids = store_with_records(path, 60_000)
    tags = many_tags(ids)  # 300,000 rows: one transaction held the lock for seconds
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    log = tmp_path / "reviewer.log"
    reviewer = ctx.Process(
        target=review_every_half_second, args=(str(path), ids[0], str(log), stop)
    )
    reviewer.start()
    try:
        deadline = time.monotonic() + 60
        while not _log(log):  # the reviewer is up and has written once
            assert reviewer.is_alive() and time.monotonic() < deadline, "reviewer never wrote"
            time.sleep(0.05)
        con = connect(path)
        began = time.time()
        run_id = save_tagging(con, tags, params={"test": "large"})
        ended = time.time()
        time.sleep(0.6)  # one more decision after the run
    finally:
        stop.set()
        reviewer.join(30)
    entries = _log(log)
    failed = [e for e in entries if e[1].startswith("FAILED")]
    assert not failed, failed
    during = [float(wait) for started, wait in entries if began <= started <= ended]
    assert during, "the reviewer did not write while the run was writing"
    assert max(during) < MAX_WAIT, f"a decision waited {max(during):.2f} s for the lock"
    assert len(during) >= 3  # it kept writing all along
    assert latest_run(con) == run_id
    assert len(load_run_tags(con, parse_evidence=False)) == len(tags)
    (decisions,) = con.execute("SELECT count(*) FROM decisions").fetchone()
    assert decisions == len(entries)


def tag_until_killed(path: str, ids: list[str]) -> None:
    """Child: write a large second tagging run (the test kills it midway)."""
    con = connect(path)
    save_tagging(con, many_tags(ids, label="b"), params={"run": "killed"})


@pytest.mark.slow
def test_a_killed_tagging_run_is_never_the_current_one(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    ids = store_with_records(path, 40_000)
    con = connect(path)
    first = save_tagging(con, many_tags(ids[:10]), params={"run": "first"})
    before = current_tags(con)
    ctx = mp.get_context("spawn")
    child = ctx.Process(target=tag_until_killed, args=(str(path), ids))
    child.start()
    deadline = time.monotonic() + 120
    # kill it once some of its rows are committed (written in short transactions)
    while con.execute("SELECT count(*) FROM tags WHERE run_id > ?", (first,)).fetchone()[0] == 0:
        assert child.is_alive(), "the tagging run ended before it could be killed"
        assert time.monotonic() < deadline, "the tagging run wrote nothing"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    (partial,) = con.execute("SELECT count(*) FROM tags WHERE run_id > ?", (first,)).fetchone()
    assert 0 < partial < len(ids) * len(FACETS)
    assert latest_run(con) == first
    pd.testing.assert_frame_equal(current_tags(con), before)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_failed_tagging_run_leaves_the_previous_one_current(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    ids = store_with_records(path, 3_000)
    con = connect(path)
    first = save_tagging(con, many_tags(ids[:10]), params={"run": "first"})
    before = current_tags(con)
    bad = many_tags([*ids, "no-such-record"], label="b")  # the last rows fail, after batches
    with pytest.raises(sqlite3.IntegrityError):
        save_tagging(con, bad, params={"run": "failed"})
    assert latest_run(con) == first
    pd.testing.assert_frame_equal(current_tags(con), before)
    (left,) = con.execute("SELECT count(*) FROM tags WHERE run_id > ?", (first,)).fetchone()
    assert left == 0  # what the failed run wrote is removed again
