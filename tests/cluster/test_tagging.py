"""The rule tagger on a Dask LocalCluster gives the single-machine path's tags, and a run
killed midway leaves the store as it was.

One two-worker cluster serves the module (starting one and building each worker's
pipeline takes a few seconds); the killed run starts its own, in a process of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from synth.distributed import (
    TAG_SCHEMA,
    read_tag_partitions,
    tag_partitions,
)
from synth.distributed.cluster import WORK_PREFIX
from synth.store import connect, load_records
from synth.store.tags import (
    current_tags,
    latest_run,
    load_assessment,
    load_run_tags,
    load_suggestions,
)
from synth.tagging.codebook import load_codebook
from synth.tagging.tagger import tag
from synth.tagging.workflow import tag_store
from tests.cluster.processes import children

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEI_REVIEW = ROOT / "corpus" / "kei-2020" / "review.yml"
#: a few thousand real records: two of the peer screening sets
PEER_SETS = ("cohen2006_BetaBlockers.csv", "Nagtegaal_2019.csv")


def _stored(db: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The latest run's tags (every source), criteria assessment and suggestions."""
    con = connect(db)
    try:
        return load_run_tags(con), load_assessment(con), load_suggestions(con)
    finally:
        con.close()


def _sorted(tags: pd.DataFrame) -> pd.DataFrame:
    key = ["record_id", "facet", "label", "source"]
    return tags.sort_values(key, kind="stable").reset_index(drop=True)


def _assert_same_run(single: Path, cluster: Path) -> None:
    (tags_a, assess_a, sugg_a), (tags_b, assess_b, sugg_b) = _stored(single), _stored(cluster)
    assert len(tags_a) > 0
    assert_frame_equal(_sorted(tags_a), _sorted(tags_b))  # evidence included
    assert_frame_equal(tags_a, tags_b)  # and in the same order
    assert_frame_equal(assess_a, assess_b)
    assert_frame_equal(sugg_a, sugg_b)


def test_cluster_tags_equal_the_single_machine_tags_on_the_bundled_corpus(
    client: object, kei_imported_db: Path, kei_tagged_db: Path, copy_db: Callable[..., Path]
) -> None:
    db = copy_db(kei_imported_db)
    con = connect(db)
    try:
        run = tag_store(con, client=client, partition_size=20)
    finally:
        con.close()
    _assert_same_run(kei_tagged_db, db)
    # 68 records in partitions of at most 20, spread over both workers, and each worker
    # tagged its partitions with the one engine its plugin built
    parts = run.partitions
    assert [p["records"] for p in parts] == [20, 20, 20, 8]
    workers = {p["worker"] for p in parts}
    assert len(workers) == 2
    for w in workers:
        assert len({p["engine"] for p in parts if p["worker"] == w}) == 1
    # the work folder beside the store is gone once the run is stored
    assert not list((db.parent / (db.name + ".work")).glob(f"{WORK_PREFIX}*"))


def test_each_worker_builds_the_pipeline_once(
    client: object, kei_imported_db: Path, tmp_path: Path
) -> None:
    from synth.distributed.tagging import plugin_name

    con = connect(kei_imported_db)
    try:
        records = load_records(con)
    finally:
        con.close()
    codebook = load_codebook()
    name = plugin_name(codebook)

    def engines(dask_worker: object) -> tuple[int, int, bool]:
        from synth.tagging import tagger

        plugin = dask_worker.plugins[name]  # type: ignore[attr-defined]
        return (
            len(tagger._ENGINES),
            id(plugin.engine),
            plugin.engine is tagger.engine_for(plugin.codebook),
        )

    first: dict[str, tuple[int, int, bool]] = {}
    for round_ in range(2):  # a second run reuses what the first built
        run = tag_partitions(
            client,  # type: ignore[arg-type]
            records,
            codebook,
            out_dir=tmp_path / f"run-{round_}",
            partition_size=10,
        )
        assert len(run.partitions) == 7
        seen = client.run(engines)  # type: ignore[attr-defined]
        if round_ == 0:
            first = seen
        assert seen == first
        assert all(built is True for _, _, built in seen.values())
        # one engine per worker even though each tagged several partitions
        for address in seen:
            ids = {p["engine"] for p in run.partitions if p["worker"] == address}
            assert ids <= {seen[address][1]}


def test_a_parquet_folder_of_records_gives_the_rows_tag_gives(
    client: object, kei_imported_db: Path, tmp_path: Path
) -> None:
    con = connect(kei_imported_db)
    try:
        records = load_records(con)
    finally:
        con.close()
    folder = tmp_path / "records"
    folder.mkdir()
    # two files, the second holding a partition and a bit: partitions never cross files
    records.iloc[:30].to_parquet(folder / "part-0.parquet", index=False)
    records.iloc[30:].to_parquet(folder / "part-1.parquet", index=False)
    codebook = load_codebook()
    run = tag_partitions(
        client,  # type: ignore[arg-type]
        folder,
        codebook,
        out_dir=tmp_path / "tags",
        partition_size=25,
    )
    assert [p["records"] for p in run.partitions] == [25, 5, 25, 13]
    assert run.records == len(records)
    for f in run.files:
        assert pq.read_schema(f).remove_metadata() == TAG_SCHEMA
    got = read_tag_partitions(run.files)
    expected = tag(records, codebook=codebook)
    assert run.rows == len(expected) > 0
    assert_frame_equal(got, expected)


def test_records_need_text_ids(client: object, tmp_path: Path) -> None:
    records = pd.DataFrame({"record_id": ["a", 7], "title": ["One", "Two"]})
    with pytest.raises(ValueError, match=r"partition 0, row 1 has 7"):
        tag_partitions(client, records, load_codebook(), out_dir=tmp_path)  # type: ignore[arg-type]


@pytest.mark.peer
def test_cluster_tags_equal_the_single_machine_tags_on_thousands_of_peer_records(
    client: object, peer_data: Path, tmp_path: Path
) -> None:
    from synth.store import import_paths

    single = tmp_path / "single.sqlite"
    con = connect(single)
    try:
        import_paths(con, [peer_data / "screening" / name for name in PEER_SETS])
        assert len(load_records(con)) > 4_000
    finally:
        con.close()
    cluster = tmp_path / "cluster.sqlite"
    shutil.copyfile(single, cluster)
    for db, kwargs in ((single, {}), (cluster, {"client": client, "partition_size": 700})):
        con = connect(db)
        try:
            tag_store(con, review_path=KEI_REVIEW, **kwargs)  # the criteria assessed too
        finally:
            con.close()
    _assert_same_run(single, cluster)


_KILLED_TAGGER = """
import sys
from synth.cli import app
sys.argv = ["synth", "tag", "--db", sys.argv[1], "--cluster", "local:2",
            "--partition-size", "8", "--no-progress"]
app()
"""


def test_a_killed_cluster_run_leaves_the_store_as_it_was(
    client: object, kei_tagged_db: Path, copy_db: Callable[..., Path]
) -> None:
    db = copy_db(kei_tagged_db)
    con = connect(db)
    try:
        run_before, tags_before = latest_run(con), current_tags(con)
        finished_before = con.execute(
            "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL"
        ).fetchone()[0]
        rows_before = _rows(con)
    finally:
        con.close()
    work = db.parent / (db.name + ".work")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src")])}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_TAGGER, str(db)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not _unfinished_rows(db):  # a partition written, partitions still to come
            assert proc.poll() is None, "the tagging run ended on its own"
            assert time.monotonic() < deadline, "no partition landed"
            time.sleep(0.01)
        workers = children(proc.pid)
        proc.send_signal(signal.SIGKILL)  # the client, mid-run: partitions still to come
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        for pid in workers:  # the cluster's worker processes we started, if any remain
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    con = connect(db)
    try:
        assert latest_run(con) == run_before
        assert (
            con.execute("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL").fetchone()[0]
            == finished_before
        )
        assert_frame_equal(current_tags(con), tags_before)
        # the killed run's rows are in the store, unfinished, and its work folder is left
        # (streamed, its partitions' rows went to the store, not to files); the next run
        # (here on the module's cluster) removes those rows (their process is gone),
        # clears the folder and is stored as usual
        assert _unfinished_rows(db)
        assert _rows(con) != rows_before
        assert list(work.glob(f"{WORK_PREFIX}*"))
        run = tag_store(con, client=client, partition_size=30)
        assert latest_run(con) == run.run_id != run_before
        assert _unfinished_rows(db) == 0
        assert _rows(con, but=run.run_id) == rows_before  # what it held before the kill
    finally:
        con.close()
    assert not list(work.glob(f"{WORK_PREFIX}*"))


def _rows(con: sqlite3.Connection, but: int = 0) -> dict[str, int]:
    """Rows of each table a tagging run writes, those of run ``but`` left out."""
    return {
        table: con.execute(f"SELECT count(*) FROM {table} WHERE run_id != ?", (but,)).fetchone()[0]
        for table in ("tags", "criteria_assessments", "suggestions")
    }


def _unfinished_rows(db: Path) -> int:
    """Tag rows of the store's unfinished tagging runs (committed: another connection's)."""
    try:
        con = sqlite3.connect(db, timeout=0.5)
        try:
            return con.execute(
                "SELECT count(*) FROM tags WHERE run_id IN"
                " (SELECT run_id FROM runs WHERE kind = 'tag' AND finished_at IS NULL)"
            ).fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # locked a moment, or the run's tables not there yet
        return 0


def test_a_worker_killed_mid_run_is_replaced_and_the_tags_are_the_same(
    client: object, kei_imported_db: Path, kei_tagged_db: Path, copy_db: Callable[..., Path]
) -> None:
    import threading

    db = copy_db(kei_imported_db)
    pids = client.run(os.getpid)  # type: ignore[attr-defined]
    outcome: dict[str, object] = {}

    def run() -> None:
        con = connect(db)
        try:
            outcome["run"] = tag_store(con, client=client, partition_size=4)
        except BaseException as exc:  # reported to the test below
            outcome["error"] = exc
        finally:
            con.close()

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 120
    while not _unfinished_rows(db):  # a partition written, partitions still to come
        assert thread.is_alive(), outcome
        assert time.monotonic() < deadline, "no partition landed"
        time.sleep(0.005)
    # a worker the scheduler has given a partition to tag, with partitions still to come:
    # an idle victim would show nothing
    victim = 0
    while not victim:
        assert thread.is_alive(), outcome
        assert time.monotonic() < deadline, "no worker held a partition"
        busy = client.processing()  # type: ignore[attr-defined]
        for address, keys in busy.items():
            held = [k for k in keys if str(k).startswith("synth-tag-")]
            if held and address in pids:
                victim = pids[address]
                break
        else:
            time.sleep(0.005)
    os.kill(victim, signal.SIGKILL)
    thread.join(180)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome.get("error")
    _assert_same_run(kei_tagged_db, db)
    # the nanny started a new worker in its place, which tags with an engine of its own
    client.wait_for_workers(2, timeout=60)  # type: ignore[attr-defined]
    assert victim not in client.run(os.getpid).values()  # type: ignore[attr-defined]


def test_an_existing_cluster_started_with_dask_s_own_commands(
    kei_imported_db: Path,
    kei_tagged_db: Path,
    copy_db: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The README's commands: ``dask scheduler``, ``dask worker ADDRESS``, then
    ``synth tag --scheduler ADDRESS`` (here on loopback, with a scheduler file)."""
    import json

    from typer.testing import CliRunner

    from synth.cli import app

    dask = Path(sys.executable).parent / "dask"
    info = tmp_path / "scheduler.json"
    started: list[subprocess.Popen[bytes]] = []
    try:
        started.append(
            subprocess.Popen(
                [str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0",
                 "--no-dashboard", "--scheduler-file", str(info)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not info.exists() or not info.read_text().strip():
            assert started[0].poll() is None, "dask scheduler ended on its own"
            assert time.monotonic() < deadline, "dask scheduler never started"
            time.sleep(0.05)
        address = json.loads(info.read_text())["address"]
        db = copy_db(kei_imported_db)
        # no worker yet: one clear error naming the scheduler, nothing tagged
        from synth.distributed import cluster as cluster_module

        monkeypatch.setattr(cluster_module, "WORKER_WAIT", 1.0)
        alone = CliRunner().invoke(
            app, ["tag", "--db", str(db), "--no-progress", "--scheduler", address]
        )
        assert alone.exit_code == 2, alone.output
        assert f"the Dask scheduler at {address} has no workers" in alone.output
        monkeypatch.undo()  # the run below waits for its workers as a user's does
        started.append(
            subprocess.Popen(
                [str(dask), "worker", address, "--nthreads", "1", "--nworkers", "2",
                 "--no-dashboard", "--host", "127.0.0.1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        result = CliRunner().invoke(
            app,
            ["tag", "--db", str(db), "--no-progress", "--scheduler", address,
             "--partition-size", "20"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        _assert_same_run(kei_tagged_db, db)
        con = connect(db)
        try:  # the run records where it was tagged
            row = con.execute("SELECT params FROM runs ORDER BY run_id DESC LIMIT 1").fetchone()
            assert json.loads(row[0])["scheduler"] == address
        finally:
            con.close()
    finally:
        for proc in reversed(started):  # the workers first, then the scheduler
            spawned = children(proc.pid)
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)
            for pid in spawned:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
