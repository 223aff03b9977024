"""``synth import`` on a Dask LocalCluster stores what the single-machine path stores (the
store's tables compared row for row), and a failed or killed run leaves the store as it was.

One two-worker cluster serves the module; the runs that kill a worker or the client start
their own. Large files are read in chunks of :data:`CHUNK` characters here (8 MB by
default), so a generated corpus of a few thousand records spans dozens of tasks.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import dask
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from synth.distributed import ClusterError, cluster_client
from synth.store import connect, import_paths
from synth.store.imports import ImportReport
from tests.cluster.processes import children

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEI = ROOT / "corpus" / "kei-2020"
CHUNK = 100_000


def _when(column: str) -> bool:
    """A column that says when, not what (``imported_at``, ``started_at``, ...)."""
    return column == "at" or column.endswith("_at")


def _tables(db: Path) -> dict[str, pd.DataFrame]:
    """Every table of the store, in rowid order, but the columns of timestamps."""
    con = sqlite3.connect(db)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        out = {}
        for name in names:
            frame = pd.read_sql(f"SELECT * FROM {name} ORDER BY rowid", con)
            out[name] = frame.drop(columns=[c for c in frame.columns if _when(c)])
        return out
    finally:
        con.close()


def _assert_same_store(single: Path, cluster: Path) -> None:
    a, b = _tables(single), _tables(cluster)
    assert a.keys() == b.keys()
    for name in a:
        assert_frame_equal(a[name], b[name], obj=name)
    assert len(a["records_all"]) > 0


def _import(db: Path, paths: list[Path], **kwargs: object) -> ImportReport:
    con = connect(db)
    try:
        return import_paths(con, paths, **kwargs)  # type: ignore[arg-type]
    finally:
        con.close()


def _both(
    tmp_path: Path, paths: list[Path], client: object, chunk_chars: int = CHUNK
) -> tuple[ImportReport, ImportReport]:
    single = _import(tmp_path / "single.sqlite", paths)
    cluster = _import(tmp_path / "cluster.sqlite", paths, client=client, chunk_chars=chunk_chars)
    _assert_same_store(tmp_path / "single.sqlite", tmp_path / "cluster.sqlite")
    assert_frame_equal(single.files, cluster.files)
    assert_frame_equal(single.failures, cluster.failures)
    assert single.totals == cluster.totals
    # the work folder beside the store is gone once the run is stored
    assert not list((tmp_path / "cluster.sqlite.work").glob("*"))
    return single, cluster


# --------------------------------------------------------------------------- a generated corpus


def _entries(text: str, end: str) -> list[str]:
    return [e + end for e in text.split(end) if e.strip()]


def generated_corpus(folder: Path, n: int = 3_000) -> list[Path]:
    """A RIS and a BibTeX export of ``n`` generated records (planted near-duplicates), with
    what spans chunks planted across the file: the same entry twice (a repeated id), a
    BibTeX key used again in another chunk (in another case too), ``@string`` macros
    defined once at the top and used everywhere, a broken ``@string``, untitled records
    with and without a DOI, a record without its ER, an unparseable BibTeX entry and a
    commented-out one."""
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.bibtex import write_bibtex
    from synth.corpus.writers.ris import write_ris

    records, _ = generate_records(n, seed=23)
    half = n // 2
    buf = io.StringIO()
    write_ris(records.iloc[:half], buf)
    ris = _entries(buf.getvalue(), "ER  - \n")
    copies = [ris[5], ris[5], ris[40]]
    untitled = [
        "TY  - JOUR\nAU  - Nobody, A\nPY  - 2001\nER  - \n",
        "TY  - JOUR\nAU  - Nobody, A\nPY  - 2001\nDO  - 10.9999/untitled.1\nER  - \n",
        "TY  - JOUR\nAU  - Nobody, A\nPY  - 2001\nER  - \n",
    ]
    no_er = ris[77].replace("ER  - \n", "")
    ris = [
        *ris[:100], *untitled[:1], *ris[100:300], no_er, *ris[300:600], *copies[:1],
        *untitled[1:], *ris[600:], *copies[1:],
    ]  # fmt: skip
    ris_path = folder / "generated.ris"
    ris_path.write_text("".join(e if e.endswith("\n") else e + "\n" for e in ris), "utf-8")

    buf = io.StringIO()
    write_bibtex(records.iloc[half:], buf)
    head, _, body = buf.getvalue().partition("\n@")
    entries = ["@" + e for e in body.split("\n@")]
    journals = sorted({line for e in entries for line in e.split("\n") if "journal = {" in line})
    macros = {line: f"jnl{i}" for i, line in enumerate(journals[:20])}
    strings = "".join(
        f"@string{{{name} = {line.split('=', 1)[1].strip().rstrip(',')}}}\n"
        for line, name in macros.items()
    )
    strings += "@string{broken = {never {closed}\n\n"
    used = []
    for i, entry in enumerate(entries):
        for line, name in macros.items():
            if line in entry:
                tail = f"{name} # {{, Supplement}}" if i % 7 == 0 else name
                entry = entry.replace(line, f"  journal = {tail},")
        used.append(entry)
    key10 = used[10].split("{", 1)[1].split(",", 1)[0]
    recased = used[10].replace(key10, key10.upper(), 1)  # the key again, in another case
    extra = [
        "@article{untitled-bib,\n  author = {Nobody, A},\n  year = {2003}\n}\n",
        "@article{untitled-doi,\n  author = {Nobody, A},\n  year = {2003},\n"
        "  doi = {10.9999/untitled.2}\n}\n",
        "@article{broken-entry,\n  title = {Never closed,\n  year = {2004}\n\n",
        "% @article{commented-out, title = {Not an entry}}\n",
    ]
    used = [
        *used[:50], extra[0], *used[50:400], extra[2], extra[3], *used[400:900], used[3],
        recased, extra[1], *used[900:], used[3], used[3],
    ]  # fmt: skip
    bib_path = folder / "generated.bib"
    bib_path.write_text(head + "\n" + strings + "".join(e.rstrip("\n") + "\n\n" for e in used))
    return [ris_path, bib_path]


def test_a_generated_corpus_read_in_chunks_is_stored_as_the_single_machine_stores_it(
    client: object,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import synth.distributed.importing as importing

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    files = generated_corpus(corpus)
    decoded: list[str] = []  # the files whose whole text this process held
    real = importing._decoded

    def whole_text(data: bytes, path: Path) -> tuple[str, str, str]:
        decoded.append(path.name)
        return real(data, path)

    monkeypatch.setattr(importing, "_decoded", whole_text)
    with caplog.at_level(logging.INFO, logger="synth.distributed.importing"):
        _, cluster = _both(tmp_path, [corpus], client)
    chunks = {r.args[0]: r.args[1] for r in caplog.records if "chunks on the cluster" in r.msg}
    assert set(chunks) == {f.name for f in files}
    assert all(n >= 10 for n in chunks.values()), chunks
    # the RIS (UTF-8) was cut from its bytes as read; the BibTeX (its @string macros and
    # crossrefs are the whole file's) still decoded whole
    assert decoded == ["generated.bib"]
    report = cluster.files.set_index(cluster.files["file"].map(lambda f: Path(f).name))
    assert report.loc["generated.ris", "read"] >= 1_500
    assert report.loc["generated.bib", "read"] >= 1_500
    con = connect(tmp_path / "cluster.sqlite")
    try:
        # what spans chunks came out as in one piece: repeated ids numbered file-wide,
        # the later key flagged with the first use's line, macros resolved, duplicates found
        ids = [r[0] for r in con.execute("SELECT record_id FROM records_all")]
        assert len(ids) == len(set(ids))
        warned = con.execute(
            "SELECT count(*) FROM records_all WHERE extra LIKE '%duplicate key%'"
        ).fetchone()[0]
        assert warned >= 3
        macro = con.execute(
            "SELECT count(*) FROM records_all WHERE venue LIKE '%, Supplement'"
        ).fetchone()[0]
        assert macro > 0
        reasons = [r[0] for r in con.execute("SELECT reason FROM import_failures_all")]
        assert any("no title and no DOI/PMID" in r for r in reasons)
        assert any("@string" in r for r in reasons)
        assert cluster.totals["duplicates"] > 50
    finally:
        con.close()


def test_the_bundled_corpus_on_the_cluster(client: object, tmp_path: Path) -> None:
    single, _ = _both(tmp_path, [KEI], client)
    assert single.totals["extracts"] > 0 and single.totals["fulltexts"] > 0


def test_synth_import_cluster_on_the_command_line(tmp_path: Path) -> None:
    """``synth import PATHS --db X --cluster local:2`` stores what ``synth import`` does;
    both switches at once is one clear error, nothing imported."""
    from typer.testing import CliRunner

    from synth.cli import app

    runner = CliRunner()
    single, cluster, both = (tmp_path / f"{n}.sqlite" for n in ("single", "cluster", "both"))
    ran = runner.invoke(app, ["import", str(KEI), "--db", str(single), "--no-progress"])
    assert ran.exit_code == 0, ran.output
    args = ["import", str(KEI), "--db", str(cluster), "--no-progress", "--cluster", "local:2"]
    ran = runner.invoke(app, args)
    assert ran.exit_code == 0, ran.output
    assert "68 records from 22 files" in " ".join(ran.output.split())
    _assert_same_store(single, cluster)
    args = ["import", str(KEI), "--db", str(both), "--no-progress", "--cluster", "local:2",
            "--scheduler", "tcp://127.0.0.1:8786"]  # fmt: skip
    ran = runner.invoke(app, args)
    assert ran.exit_code == 2
    assert "--cluster and --scheduler are exclusive" in " ".join(ran.output.split())


@pytest.mark.peer
def test_real_peer_exports_on_the_cluster(
    client: object, peer_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """RIS, BibTeX (with @string, crossrefs, broken entries), PubMed, WoS, EndNote and
    CSV exports from other projects' test suites: the same rows, failures included; the
    larger RIS (Zotero, Scopus) and Web of Science exports read in chunks."""
    formats = peer_data / "formats"
    with caplog.at_level(logging.INFO, logger="synth.distributed.importing"):
        single, _ = _both(tmp_path, [formats], client, chunk_chars=20_000)
    chunked = {r.args[0] for r in caplog.records if "chunks on the cluster" in r.msg}
    assert {"web_of_science.txt", "scopus.ris", "baseline_zotero.ris"} <= chunked
    assert single.totals["failures"] > 0 and single.totals["duplicates"] > 0
    assert set(single.files["format"]) >= {"ris", "bibtex", "medline", "wos", "csv"}


def test_into_a_store_that_holds_records_already(client: object, tmp_path: Path) -> None:
    """A second import: files seen before are unchanged, records already stored get
    sightings, and the groups are refreshed over both imports."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    ris, bib = generated_corpus(corpus, n=1_200)
    renamed = corpus / "again"
    renamed.mkdir()
    # the same file name and records, other bytes: its ids are in the store already
    (renamed / ris.name).write_text(ris.read_text("utf-8") + "\n", "utf-8")
    for db, kwargs in (("single.sqlite", {}), ("cluster.sqlite", {"client": client})):
        _import(tmp_path / db, [ris])
        _import(tmp_path / db, [ris, bib, renamed], chunk_chars=CHUNK, **kwargs)
    _assert_same_store(tmp_path / "single.sqlite", tmp_path / "cluster.sqlite")
    con = connect(tmp_path / "cluster.sqlite")
    try:
        assert con.execute("SELECT count(*) FROM record_sightings_all").fetchone()[0] > 500
    finally:
        con.close()


# --------------------------------------------------------------------------- failed runs


@pytest.fixture
def half_imported(tmp_path: Path) -> tuple[Path, list[Path]]:
    """A store holding the bundled corpus, and a generated corpus to import into it."""
    db = tmp_path / "store.sqlite"
    _import(db, [KEI])
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return db, generated_corpus(corpus, n=4_000)


def _wait_for_a_partition(work: Path, alive: object) -> None:
    deadline = time.monotonic() + 120
    while not list(work.glob("*/*.records.parquet")):
        assert alive(), "the import ended before a partition landed"  # type: ignore[operator]
        assert time.monotonic() < deadline, "no partition landed"
        time.sleep(0.005)


def _planted_failure() -> None:
    """In a worker: every task fails after reading (a worker that cannot hand back)."""
    from synth.distributed import importing

    def boom(records: object) -> object:
        raise RuntimeError("planted failure after reading")

    importing._records_table_saved = importing._records_table  # type: ignore[attr-defined]
    importing._records_table = boom  # type: ignore[assignment]


def _undo_planted_failure() -> None:
    from synth.distributed import importing

    importing._records_table = importing._records_table_saved  # type: ignore[attr-defined]


def test_a_task_that_raises_leaves_the_store_as_it_was(
    client: object, half_imported: tuple[Path, list[Path]]
) -> None:
    db, files = half_imported
    before = _tables(db)
    client.run(_planted_failure)  # type: ignore[attr-defined]
    try:
        with pytest.raises(RuntimeError, match="planted failure after reading"):
            _import(db, files, client=client, chunk_chars=CHUNK)
    finally:
        client.run(_undo_planted_failure)  # type: ignore[attr-defined]
    after = _tables(db)
    for name in before:
        assert_frame_equal(before[name], after[name], obj=name)
    assert not list((db.parent / (db.name + ".work")).glob("*"))


def test_a_worker_killed_mid_import_fails_the_run_and_leaves_the_store_as_it_was(
    half_imported: tuple[Path, list[Path]],
) -> None:
    """With no retries allowed, the task on a killed worker fails the run: nothing of it
    reaches the store."""
    db, files = half_imported
    before = _tables(db)
    work = db.parent / (db.name + ".work")
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        cluster_client("local:2") as own,
    ):
        outcome, _ = _import_killing_a_worker(db, files, own, work)  # tasks queue on both
    assert isinstance(outcome.get("error"), ClusterError), outcome
    assert "was lost with every worker that tried it" in str(outcome["error"])
    after = _tables(db)
    for name in before:
        assert_frame_equal(before[name], after[name], obj=name)


def _import_killing_a_worker(
    db: Path, files: list[Path], client: Any, work: Path
) -> tuple[dict[str, BaseException], int]:
    """Import ``files`` on ``client`` in a thread, kill a worker once the first partition
    is written, wait for the import to end: what it raised (``outcome["error"]``) and the
    killed worker's pid."""
    pids = client.run(os.getpid)
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            _import(db, files, client=client, chunk_chars=CHUNK // 2)
        except BaseException as exc:  # reported to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    _wait_for_a_partition(work, thread.is_alive)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    thread.join(180)
    assert not thread.is_alive()
    return outcome, victim


def test_a_worker_killed_mid_import_is_replaced_and_the_store_is_the_same(
    client: object, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    files = generated_corpus(corpus, n=4_000)
    _import(tmp_path / "single.sqlite", files)
    db = tmp_path / "cluster.sqlite"
    work = tmp_path / "cluster.sqlite.work"
    outcome, victim = _import_killing_a_worker(db, files, client, work)  # chunks still to read
    assert "error" not in outcome, outcome.get("error")
    _assert_same_store(tmp_path / "single.sqlite", db)
    client.wait_for_workers(2, timeout=60)  # type: ignore[attr-defined]
    assert victim not in client.run(os.getpid).values()  # type: ignore[attr-defined]


_KILLED_IMPORT = """
import sys
from synth.cli import app
sys.argv = ["synth", "import", *sys.argv[2:], "--db", sys.argv[1], "--cluster", "local:2",
            "--no-progress"]
app()
"""


def test_a_killed_client_leaves_the_store_as_it_was(
    client: object, half_imported: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    """``synth import --cluster local:2`` killed while its workers read: the store is as
    before; the next import clears the work folder the killed one left."""
    db, _ = half_imported
    before = _tables(db)
    # many files: the run is still reading when its first partition lands
    many = tmp_path / "many"
    many.mkdir()
    for i in range(60):
        shutil.copyfile(KEI / "references.bib", many / f"copy-{i:02d}.bib")
        with (many / f"copy-{i:02d}.bib").open("a", encoding="utf-8") as f:
            f.write(f"\n% copy {i}\n")  # other bytes: each file is imported
    work = db.parent / (db.name + ".work")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src")])}
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_IMPORT, str(db), str(many)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        _wait_for_a_partition(work, lambda: proc.poll() is None)
        workers = children(proc.pid)
        proc.send_signal(signal.SIGKILL)  # the client, mid-run
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        for pid in workers:  # the cluster's worker processes it started, if any remain
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    after = _tables(db)
    for name in before:
        assert_frame_equal(before[name], after[name], obj=name)
    assert list(work.glob("*/*.records.parquet"))  # left by the killed run
    report = _import(db, [many], client=client)
    assert set(report.files["status"]) == {"imported"}
    assert not list(work.glob("*"))
