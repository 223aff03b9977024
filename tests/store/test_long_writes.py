"""Long writers (tagging runs, imports of large files) beside a reviewer: nobody is
locked out, nothing half-seen.

The reviewer is a second process (``spawn``: a fresh interpreter, as a second Jupyter
kernel would be) that records a decision every half second with its own connection.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import threading
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth.corpus.reading import read_file
from synth.corpus.synthetic import generate_records
from synth.corpus.writers.ris import write_ris
from synth.screening.prisma import prisma_counts
from synth.store import (
    batches,
    connect,
    import_paths,
    load_extracts,
    load_failures,
    load_fulltexts,
    load_records,
    load_sources,
    store_totals,
)
from synth.store.duplicates import groups_stale, refresh_duplicates
from synth.store.imports import store_file
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
    """A store holding ``n`` minimal records (written directly: the import is not tested),
    titled with random words (no two the same paper) and not grouped yet."""
    con = connect(path)
    ids = [f"rec{i:06d}" for i in range(n)]
    rng = np.random.default_rng(14)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = np.array(["".join(rng.choice(letters, size=k)) for k in rng.integers(4, 10, 5000)])
    titles = [" ".join(ws) for ws in words[rng.integers(0, len(words), size=(n, 9))]]
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
            [(rid, titles[i], i) for i, rid in enumerate(ids)],
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
    # it kept writing all along: every half second, never held up between two decisions
    # (whatever the run's length: a fast machine saves 300,000 rows in about a second)
    starts = [started for started, _ in entries]
    gaps = [b - a for a, b in pairwise(starts) if b >= began and a <= ended]
    assert gaps and max(gaps) < 0.5 + MAX_WAIT + 0.5, f"the reviewer stalled {max(gaps):.2f} s"
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


# --- imports ------------------------------------------------------------------------------

#: Records in the large export: one transaction for its rows held the lock about 2.5 s.
LARGE = 60_000


@pytest.fixture(scope="module")
def large_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A large RIS export of one search (synthetic records with near-duplicates)."""
    records, _ = generate_records(LARGE, dup_rate=0.05, seed=4)
    path = tmp_path_factory.mktemp("large") / "scopus.ris"
    write_ris(records, path)
    return path


def what_readers_see(con: sqlite3.Connection) -> dict[str, object]:
    """Everything a reader of the store gets from an import, as comparable text."""
    frames = {
        "records": load_records(con),
        "sources": load_sources(con).drop(columns="imported_at"),
        "failures": load_failures(con),
        "extracts": load_extracts(con),
        "fulltexts": load_fulltexts(con),
        "sightings": pd.read_sql_query(
            "SELECT * FROM record_sightings ORDER BY record_id, source_id, position", con
        ),
    }
    seen: dict[str, object] = {name: df.to_csv(index=False) for name, df in frames.items()}
    seen["totals"] = store_totals(con)
    seen["prisma"] = prisma_counts(con).to_dict()
    seen["groups_stale"] = groups_stale(con)
    return seen


@pytest.mark.slow
def test_a_reviewer_is_never_locked_out_by_a_large_import(
    tmp_path: Path, large_export: Path
) -> None:
    path = tmp_path / "review.sqlite"
    ids = store_with_records(path, 1)  # the record the reviewer decides on
    result = read_file(large_export)  # parsed beforehand: what is timed is the writing
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
        row = store_file(con, result)
        ended = time.time()
        time.sleep(0.6)  # one more decision after the import
    finally:
        stop.set()
        reviewer.join(30)
    entries = _log(log)
    failed = [e for e in entries if e[1].startswith("FAILED")]
    assert not failed, failed
    during = [float(wait) for started, wait in entries if began <= started <= ended]
    assert during, "the reviewer did not write while the file was being written"
    assert max(during) < MAX_WAIT, f"a decision waited {max(during):.2f} s for the lock"
    assert row["new"] == len(result.records) > LARGE // 2
    assert store_totals(con)["records"] == 1 + row["new"]
    (decisions,) = con.execute("SELECT count(*) FROM decisions").fetchone()
    assert decisions == len(entries)


@pytest.mark.slow
def test_a_reviewer_is_never_locked_out_by_the_first_grouping_of_a_large_import(
    tmp_path: Path,
) -> None:
    """After a large file is stored, grouping its records writes a row per record."""
    path = tmp_path / "review.sqlite"
    ids = store_with_records(path, 250_000)  # one transaction for their groups: ~1.7 s
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
        assert groups_stale(con)
        began = time.time()
        refresh_duplicates(con)
        ended = time.time()
        time.sleep(0.6)  # one more decision after the grouping
    finally:
        stop.set()
        reviewer.join(30)
    entries = _log(log)
    failed = [e for e in entries if e[1].startswith("FAILED")]
    assert not failed, failed
    during = [float(wait) for started, wait in entries if began <= started <= ended]
    assert len(during) >= 3, "the reviewer did not write while the groups were written"
    assert max(during) < MAX_WAIT, f"a decision waited {max(during):.2f} s for the lock"
    assert not groups_stale(con)
    (grouped,) = con.execute("SELECT count(*) FROM duplicate_groups").fetchone()
    assert grouped == len(ids)


def test_a_file_is_seen_only_once_all_of_it_is_written(
    tmp_path: Path, fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At every commit of an import in short transactions, readers see the store as it
    was before: none of the file's records, sightings, failures, extracts, full texts."""
    records, _ = generate_records(400, dup_rate=0.05, seed=9)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_ris(records.iloc[:200], first / "refs.ris")
    write_ris(records.iloc[100:], second / "refs.ris")  # 100 ids again: sightings
    with open(second / "refs.ris", "a", encoding="utf-8") as out:
        out.write("\nTY  - JOUR\nAU  - Nobody, A.\nER  - \n")  # no title, no id: a failure
    for name in ("extracts.md", "fulltext.md"):
        (second / name).write_bytes((fixtures / "markdown" / name).read_bytes())
    path = tmp_path / "review.sqlite"
    con = connect(path)
    import_paths(con, [first])
    reader = connect(path)
    first_seen = what_readers_see(reader)

    # every few rows a transaction of its own, and a reader looking after each commit
    monkeypatch.setattr(batches, "BATCH_SECONDS", 0.0)
    monkeypatch.setattr(batches, "PAUSE_SECONDS", 0.0)
    monkeypatch.setattr(batches, "CHUNK_ROWS", 25)
    commit = batches.ShortTransactions.commit
    looked: list[tuple[str, bool]] = []
    before: dict[str, object] = {}
    file = ""

    def commit_and_look(self: batches.ShortTransactions) -> None:
        commit(self)
        done = "SELECT count(*) = 0 FROM sources_all WHERE complete = 0"
        if not reader.execute(done).fetchone()[0]:  # not the commit that completes the file
            looked.append((file, what_readers_see(reader) == before))

    monkeypatch.setattr(batches.ShortTransactions, "commit", commit_and_look)
    for file in ("refs.ris", "extracts.md", "fulltext.md"):
        before = what_readers_see(reader)
        report = import_paths(con, [second / file])
        assert report.files.status.tolist() == ["imported"]
        assert what_readers_see(reader) != before
    commits = [name for name, _ in looked]
    assert commits.count("refs.ris") >= 10, "the import was not written in short transactions"
    assert {"extracts.md", "fulltext.md"} <= set(commits)
    assert all(same for _, same in looked), f"a reader saw part of a file: {looked}"
    after = what_readers_see(reader)
    new_records = after["totals"]["records"] - first_seen["totals"]["records"]  # type: ignore[index]
    assert new_records >= 200  # the 200 new ids of refs.ris (a full text may add its paper)
    for seen in ("sightings", "failures", "extracts", "fulltexts"):
        assert after[seen] != first_seen[seen], seen


def import_until_killed(path: str, file: str) -> None:
    """Child: import a large file (the test kills it midway)."""
    import_paths(connect(path), [file])


@pytest.mark.slow
def test_an_import_killed_midway_is_unseen_and_the_next_import_of_the_file_is_whole(
    tmp_path: Path, large_export: Path, fixtures: Path
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    write_ris(generate_records(50, seed=3)[0], small / "pubmed.ris")
    path = tmp_path / "review.sqlite"
    con = connect(path)
    import_paths(con, [small])
    before = what_readers_see(con)
    child = mp.get_context("spawn").Process(
        target=import_until_killed, args=(str(path), str(large_export))
    )
    child.start()
    deadline = time.monotonic() + 120
    # kill it once some of the file's rows are committed (written in short transactions)
    written = (
        "SELECT count(*) FROM records_all r JOIN sources_all s USING (source_id)"
        " WHERE s.complete = 0"
    )
    while con.execute(written).fetchone()[0] == 0:
        assert child.is_alive(), "the import ended before it could be killed"
        assert time.monotonic() < deadline, "the import wrote nothing"
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.join(30)
    assert 0 < con.execute(written).fetchone()[0] < LARGE
    assert what_readers_see(con) == before  # nothing of the killed import is seen
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # importing the file again removes what the killed import left and imports it whole
    report = import_paths(con, [large_export])
    assert report.files.status.tolist() == ["imported"]
    clean = connect(tmp_path / "clean.sqlite")
    import_paths(clean, [small])
    import_paths(clean, [large_export])
    got, want = what_readers_see(con), what_readers_see(clean)
    assert got == want
    assert con.execute("SELECT count(*) FROM sources_all WHERE complete = 0").fetchone()[0] == 0
    assert (
        con.execute("SELECT count(*) FROM records_all").fetchone()[0] == want["totals"]["records"]  # type: ignore[index]
    )
    again = import_paths(con, [large_export])  # and importing it once more changes nothing
    assert again.files.status.tolist() == ["unchanged (imported before)"]
    assert what_readers_see(con) == want


def test_a_thread_on_the_importers_connection_gets_in_between_its_transactions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one kernel, a screening widget's callback may write on the connection an import
    is using from another thread: it waits for the current short transaction, not the file,
    and never finds itself inside the import's transaction."""
    from synth.screening.decisions import record_decision

    path = tmp_path / "review.sqlite"
    ids = store_with_records(path, 1)
    export = tmp_path / "scopus.ris"
    write_ris(generate_records(2000, seed=5)[0], export)
    result = read_file(export)
    monkeypatch.setattr(batches, "BATCH_SECONDS", 0.005)
    monkeypatch.setattr(batches, "CHUNK_ROWS", 20)
    con = connect(path)
    importing = threading.Event()
    failures: list[BaseException] = []
    decided = 0

    def screen() -> None:
        nonlocal decided
        importing.wait(30)
        while importing.is_set():
            try:
                record_decision(con, record_id=ids[0], reviewer="ana", decision="include")
            except BaseException as exc:  # the test reports it
                failures.append(exc)
            decided += 1
            time.sleep(0.005)

    screener = threading.Thread(target=screen)
    screener.start()
    transactions = batches.ShortTransactions.__init__

    def begin_screening(self: batches.ShortTransactions, con: sqlite3.Connection) -> None:
        transactions(self, con)
        importing.set()

    monkeypatch.setattr(batches.ShortTransactions, "__init__", begin_screening)
    try:
        row = store_file(con, result)
    finally:
        importing.clear()
        screener.join(30)
    assert not failures, failures[:3]
    assert decided >= 3, "the screening thread did not write during the import"
    assert row["new"] == 2000
    (stored,) = con.execute("SELECT count(*) FROM decisions").fetchone()
    assert stored == decided
