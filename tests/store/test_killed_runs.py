"""A tagging run killed midway (its process gone) leaves unfinished rows; the next run
removes them, in one transaction, and never those of a run still going in another live
process (issue 19, review 19c F4)."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from synth.store import connect, import_paths
from synth.store.tags import OWNER, discard_killed_runs, latest_run, run_params, save_tagging
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
