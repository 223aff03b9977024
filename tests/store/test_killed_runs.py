"""A tagging run killed midway (its process gone) leaves unfinished rows; the next run
removes them, in short transactions, and never those of a run still going in another live
process, whatever its pid looks like: liveness is the run's lock file (issue 19, review 19c
F4; review of 3f6e5c3 F1, F2, F4)."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import synth.parallel
import synth.store.batches
from synth.store import connect, import_paths
from synth.store.tags import (
    OWNER,
    TaggingWriter,
    discard_killed_runs,
    latest_run,
    run_params,
    save_tagging,
)
from tests.store.test_tags import RIS, _ids, _tags

ROOT = Path(__file__).resolve().parents[2]

#: a tagging run that writes one tag row, then is killed or waits for its stdin to close
_WRITER = """
import os, signal, sys
import pandas as pd
from synth.store import connect
from synth.store.tags import TaggingWriter
con = connect(sys.argv[1])
rid = con.execute("SELECT record_id FROM records ORDER BY position").fetchone()[0]
tags = pd.DataFrame([{"record_id": rid, "facet": "approach", "label": sys.argv[2],
                      "score": 0.5, "evidence": [], "source": "rule", "version": "rules:1:x"}])
with TaggingWriter(con, {"codebook": "x"}) as writer:
    writer.add(tags)
    print("written", flush=True)
    if sys.argv[3] == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.read()
"""


@pytest.fixture
def db(tmp_path: Path) -> Path:
    (tmp_path / "a.ris").write_text(RIS, encoding="utf-8")
    path = tmp_path / "r.sqlite"
    con = connect(path)
    try:
        import_paths(con, [tmp_path / "a.ris"])
        save_tagging(con, _tags(_ids(con)), params={"codebook": "abc"})
    finally:
        con.close()
    return path


def _writer(db: Path, label: str, how: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(db), label, how],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "written"
    return proc


def _labels(con: sqlite3.Connection) -> list[str]:
    return sorted(r[0] for r in con.execute("SELECT label FROM tags"))


def test_the_next_run_removes_a_killed_run_s_rows(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    con = connect(db)
    try:
        before = _labels(con)
        killed = _writer(db, "killed", "kill")
        assert killed.wait(30) == -signal.SIGKILL
        assert _labels(con) == sorted([*before, "killed"])  # left behind, unfinished
        with caplog.at_level(logging.INFO, logger="synth.store.tags"):
            run = save_tagging(con, _tags(_ids(con)), params={"codebook": "abc"})
        assert "removed 1 rows of 1 tagging run(s) killed midway" in caplog.text
        assert _labels(con) == sorted(before * 2)  # what it held, and the new run
        assert latest_run(con) == run
        gone = con.execute(
            "SELECT run_id FROM runs WHERE kind='tag' AND finished_at IS NULL"
        ).fetchone()[0]
        params = run_params(con, gone)
        assert OWNER not in params and "discarded" in params
        assert OWNER not in run_params(con, run)  # a finished run is nobody's
        assert _lock_files(db) == []  # the killed run's, and the finished one's, removed
    finally:
        con.close()


def _lock_files(db: Path) -> list[Path]:
    return sorted(db.parent.glob(f"{db.name}-tagrun-*.lock"))


def test_a_live_run_whose_pid_looks_dead_is_left_alone(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another PID namespace (a container) on the same host: its pid means nothing here
    monkeypatch.setattr(synth.parallel, "pid_alive", lambda pid: False)
    con = connect(db)
    live = _writer(db, "live", "wait")
    try:
        before = _labels(con)
        assert "live" in before
        assert discard_killed_runs(con) == 0
        assert _labels(con) == before
    finally:
        assert live.stdin is not None
        live.stdin.close()
        assert live.wait(30) == 0
    try:
        run = latest_run(con) or 0
        assert run_params(con, run) == {"codebook": "x"}
        assert "live" in {
            r[0] for r in con.execute("SELECT label FROM tags WHERE run_id=?", (run,))
        }
        assert _lock_files(db) == []
    finally:
        con.close()


def test_a_run_discarded_while_written_does_not_finish(db: Path) -> None:
    con = connect(db)
    try:
        latest = latest_run(con)
        with (
            pytest.raises(RuntimeError, match="discarded"),
            TaggingWriter(con, {"codebook": "x"}) as writer,
        ):
            writer.add(_tags(_ids(con)))
            with con:  # as another run that took this one for killed would
                con.execute(
                    "UPDATE runs SET params=json_set(params, '$.discarded', 'now') WHERE run_id=?",
                    (writer.run_id,),
                )
        row = con.execute("SELECT finished_at FROM runs WHERE run_id=?", (writer.run_id,))
        assert row.fetchone()[0] is None
        assert latest_run(con) == latest
    finally:
        con.close()


def test_a_killed_run_s_rows_go_in_short_transactions(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = connect(db)
    try:
        killed = _writer(db, "killed", "kill")
        assert killed.wait(30) == -signal.SIGKILL
        run, rid = con.execute("SELECT run_id, record_id FROM tags WHERE label='killed'").fetchone()
        with con:
            con.executemany(
                "INSERT INTO tags (run_id, record_id, facet, label, score, source, version)"
                " VALUES (?,?,'approach',?,0.5,'rule','rules:1:x')",
                [(run, rid, f"k{i}") for i in range(12_000)],
            )
        monkeypatch.setattr(synth.store.batches, "BATCH_SECONDS", 0.0)  # commit each batch
        monkeypatch.setattr(synth.store.batches, "PAUSE_SECONDS", 0.0)
        seen: list[str] = []
        con.set_trace_callback(seen.append)
        try:
            assert discard_killed_runs(con) == 12_001
        finally:
            con.set_trace_callback(None)
        deletes = [i for i, sql in enumerate(seen) if sql.startswith("DELETE FROM tags")]
        assert len(deletes) >= 3  # 5,000 rows at a time
        assert any(sql == "COMMIT" for sql in seen[deletes[0] : deletes[-1]])
        left = con.execute("SELECT count(*) FROM tags WHERE run_id=?", (run,)).fetchone()[0]
        assert left == 0
    finally:
        con.close()


def test_a_failed_run_is_not_later_taken_for_killed(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    con = connect(db)
    try:
        with (
            pytest.raises(ValueError, match="boom"),
            TaggingWriter(con, {"codebook": "x"}) as writer,
        ):
            writer.add(_tags(_ids(con)))
            raise ValueError("boom")
        assert OWNER not in run_params(con, writer.run_id)
        assert _lock_files(db) == []
        with caplog.at_level(logging.INFO, logger="synth.store.tags"):
            assert discard_killed_runs(con) == 0
        assert "killed midway" not in caplog.text
    finally:
        con.close()


def test_an_in_memory_store_has_no_cleanup() -> None:
    con = connect(":memory:")
    try:
        assert discard_killed_runs(con) == 0
        with TaggingWriter(con, {"codebook": "x"}) as writer:
            pass
        assert latest_run(con) == writer.run_id
    finally:
        con.close()


def test_a_run_still_going_in_another_process_is_left_alone(db: Path) -> None:
    con = connect(db)
    live = _writer(db, "live", "wait")
    try:
        before = _labels(con)
        killed = _writer(db, "killed", "kill")
        assert killed.wait(30) == -signal.SIGKILL
        assert discard_killed_runs(con) == 1
        assert _labels(con) == before  # the live run's row kept, the killed one's gone
        assert "live" in before
        assert discard_killed_runs(con) == 0  # once
    finally:
        assert live.stdin is not None
        live.stdin.close()
        assert live.wait(30) == 0
    try:
        assert run_params(con, latest_run(con) or 0) == {"codebook": "x"}  # finished
        assert "live" in _labels(con)
    finally:
        con.close()


def test_the_run_behind_the_tags_is_the_latest_finished_one(db: Path) -> None:
    # notebook 05's "Tagging run behind the tags" (review of 3f6e5c3 F3): it took the
    # newest tag run, finished or not
    from synth.store.tags import latest_run_summary

    con = connect(db)
    live = _writer(db, "live", "wait")  # a run in progress, newer than the finished one
    try:
        killed = _writer(db, "killed", "kill")
        assert killed.wait(30) == -signal.SIGKILL
        summary = latest_run_summary(con)
        assert summary["run_id"].tolist() == [latest_run(con)]
        assert summary.columns.tolist() == ["run_id", "kind", "started_at", "version"]
    finally:
        assert live.stdin is not None
        live.stdin.close()
        assert live.wait(30) == 0
    try:
        assert latest_run_summary(con)["run_id"].tolist() == [latest_run(con)]
        assert latest_run_summary(con, "nothing").empty
    finally:
        con.close()
