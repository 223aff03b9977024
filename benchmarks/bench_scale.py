"""Scale-out benchmark: ``synth tag`` in one process against ``--cluster local:2``, same run.

    python benchmarks/bench_scale.py [--sizes 20000 100000] [--workers 2]
                                     [--partition-size 5000] [--out-dir DIR] [--no-pool]
                                     [--review corpus/kei-2020/review.yml] [--repeat 1]
                                     [--arms single pool cluster]

For each N, generates N synthetic records (``synth.corpus.synthetic.generate_records``, as
``bench_import.py`` and ``bench_tag.py`` do), imports them into a store once, and runs
``synth tag --db COPY`` on a fresh copy of it, each arm a command of its own as a user runs
it:

  * ``single``: today's path, one process;
  * ``pool``: ``--n-process W``, synth's own worker pool on this machine (``--no-pool``
    skips it);
  * ``cluster``: ``--cluster local:W``, a Dask LocalCluster of W worker processes
    (``synth.distributed``), partitions of ``--partition-size`` records;
  * ``cluster1`` (only when ``--arms`` names it): ``--cluster local:1``, one worker, so
    that with ``cluster`` the run prints how much faster W workers are than one.

``--arms`` runs some of them (the ratios are against ``single`` when it runs). A store
``store_N.sqlite`` already in ``--out-dir`` is used as it is (made once: keep one to
compare two checkouts on the same records, ``PYTHONPATH=<checkout>/src``), and each arm
prints a digest of the run it stored (its tags, criteria assessments and suggestions,
sorted: two versions of the code that store the same run print the same digest).

With ``--review`` every arm runs ``synth tag --review FILE``: the review's criteria are
judged and the stores carry their assessments and suggestions (without it, generated
records have no review.yml beside them and nothing is judged). ``--repeat R`` runs the arms
R times in turn (single, pool, cluster, single, ...) and prints each run.

It prints, per arm: wall time (start-up included), records/s, CPU seconds (the command's
and its worker processes': the cost of sharing the work, which other load on the machine
moves less than wall time; and the command's own, apart), the peak resident memory of
the command's own process and of its largest worker process (sampled every 0.1 s over the
process tree), and the ratios against ``single`` in the same run; and checks that every arm
stored the same tags (with ``--review``, the same assessments and suggestions too).

What runs on the cluster is the rule tagger and the judging of the review's criteria (with
no facet refined, as by default); the store's bulk load, and the refiner when a facet is
refined, run in the command's process on every arm. Each cluster worker is a fresh
process that imports synth and builds its pipeline (a few CPU seconds each, paid once per
run), where the pool's workers fork from a process that has both. The load average is
printed before and after (the machine's cores may be shared).

Deduplication (``--dedupe``, instead of tagging):

    python benchmarks/bench_scale.py --dedupe [--sizes 20000 100000] [--workers 2]
                                     [--dedupe-partition-size 20000]

For each N, the same generated records (with their planted duplicate pairs) deduplicated
in a fresh process per arm: ``single`` (``synth.corpus.dedupe.dedupe``), and
``synth.distributed.dedupe.dedupe_on_cluster`` on a LocalCluster of 1 and of W workers
(partitions of ``--dedupe-partition-size`` records, by default
``synth.distributed.dedupe.PARTITION_SIZE``). Per arm: the dedupe's wall time (the
cluster's start-up apart), records/s, CPU seconds, the peak memory of the process and of
its largest worker, recall and precision on the planted pairs, and whether the groups and
pairs are the single path's; then how much faster W workers are than one (with and
without the cluster's start).

Import (``--import``, instead of tagging):

    python benchmarks/bench_scale.py --import [--sizes 20000 100000] [--workers 2]
                                     [--formats ris bibtex] [--line-ends crlf]
                                     [--encoding cp1252]

For each N and format, the N generated records written as one file and imported into a new
store by ``synth import FILE --db NEW``, each arm a command of its own: ``single`` (today's
path: a large file read in chunks by synth's own pool) and ``cluster local:W``
(``synth.distributed.importing``: a task per 8 MB chunk, the store loaded in one
transaction). Deduplication runs in the command's process on the single arm, on the
cluster on the other. Per arm: wall time (the cluster's start-up included), records/s, CPU
seconds, the peak memory of the command and of its largest worker, and whether both stores
hold the same records, sources, sightings, failures and duplicate groups. ``--line-ends
crlf`` writes the file with Windows line ends and ``--encoding cp1252`` in Windows-1252
(as EndNote, Scopus and Web of Science exports saved on Windows often are).

The whole path on a cluster (``--pipeline``, instead of tagging):

    python benchmarks/bench_scale.py --pipeline [--sizes 1000000] [--workers 2]
                                     [--partition-size 5000] [--steps import dedupe tag]

For each N, the generated records written as one RIS file (in a process of its own, so
this one holds no records; a ``records_N.ris`` already in ``--out-dir`` is used as it
is, with its ``planted_N.pkl`` if there), then three commands on one store, as a user
runs them, each with ``--cluster local:W``: ``synth import FILE`` (its deduplication
included), ``synth duplicates refresh`` (the deduplication alone, again) and ``synth
tag`` (``--steps`` runs some of them, in that order). Per command: wall time,
records/s, CPU seconds, and the peak resident memory of every process of its tree (the
command's and each worker's); then the total wall time, the largest process of the whole
path against the 4 GiB target of issue 19, and the groups' recall and precision on the
planted pairs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

_SYNTH = "import sys; from synth.cli import app; sys.argv[0] = 'synth'; app()"


@dataclass
class Arm:
    name: str
    seconds: float = 0.0
    #: CPU seconds (user + system) of the command and every process it waited for
    cpu: float = 0.0
    #: peak RSS per process of the command's tree, by pid
    peaks: dict[int, int] = field(default_factory=dict)
    root: int = 0
    #: CPU seconds of the command's own process (its last sample before it ended)
    own_cpu: float = 0.0

    @property
    def own_peak(self) -> int:
        return self.peaks.get(self.root, 0)

    @property
    def worker_peak(self) -> int:
        others = [v for pid, v in self.peaks.items() if pid != self.root]
        return max(others, default=0)


def _speed(ratio: float) -> str:
    """A speed ratio (old time over new) in words: "1.36x faster", "0.60x (1.67x slower)"."""
    if ratio >= 1:
        return f"{ratio:.2f}x faster"
    return f"{ratio:.2f}x ({1 / ratio:.2f}x slower)"


def _watch(
    pid: int, stop: threading.Event, peaks: dict[int, int], own: list[float] | None = None
) -> None:
    """Per-process peak RSS of ``pid`` and its descendants until ``stop`` (and in ``own``,
    the CPU seconds of ``pid`` itself, sampled as often)."""
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        if own is not None:
            with contextlib.suppress(psutil.Error):
                times = root.cpu_times()
                own[:] = [times.user + times.system]
        with contextlib.suppress(psutil.Error):
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    rss = p.memory_info().rss
                    # small helpers (resource tracker, forkserver) never reach 100 MiB
                    if p.pid == pid or rss > 100 * 2**20:
                        peaks[p.pid] = max(peaks.get(p.pid, 0), rss)
        stop.wait(0.1)


def run_arm(name: str, db: Path, extra: list[str], command: str = "tag") -> Arm:
    """``synth COMMAND --db db *extra`` in a fresh process: wall time and memory peaks."""
    arm = Arm(name)
    stop = threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SYNTH, *command.split(), "--db", str(db), "--no-progress",
         *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    arm.root = proc.pid
    own: list[float] = []
    watcher = threading.Thread(target=_watch, args=(proc.pid, stop, arm.peaks, own), daemon=True)
    watcher.start()
    _, errors = proc.communicate()
    arm.seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    arm.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stop.set()
    watcher.join()
    arm.own_cpu = own[0] if own else 0.0
    if proc.returncode != 0:
        raise SystemExit(f"{name}: synth {command} failed ({proc.returncode}):\n{errors}")
    return arm


def make_store(n: int, folder: Path) -> tuple[Path, float]:
    """N generated records imported into a store (the seconds the import took; 0 for a
    store of N already in ``folder``, reused)."""
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris
    from synth.store import connect, import_paths

    db = folder / f"store_{n}.sqlite"
    if db.exists():
        return db, 0.0
    records, _ = generate_records(n, seed=19)
    ris = folder / f"records_{n}.ris"
    write_ris(records, ris)
    t0 = time.perf_counter()
    con = connect(db)
    try:
        import_paths(con, [ris])
    finally:
        con.close()
    return db, time.perf_counter() - t0


def same_tags(stores: list[Path], *, judged: bool = False) -> bool:
    """Whether every store's latest run has the same tags (with ``judged``, every table of
    the run: tags, criteria assessments and suggestions, sorted)."""
    import pandas as pd
    from pandas.testing import assert_frame_equal

    from synth.store import connect
    from synth.store.tags import RUN_TABLES, latest_run, load_run_tags

    frames = []
    for db in stores:
        con = connect(db)
        try:
            if judged:
                run = latest_run(con)
                tables = [pd.read_sql_query(q, con, params=(run,)) for q in RUN_TABLES.values()]
                if not len(tables[1]):
                    return False  # nothing judged
                frames.append(pd.concat(tables, keys=list(RUN_TABLES)))
            else:
                frames.append(load_run_tags(con))
        finally:
            con.close()
    try:
        for other in frames[1:]:
            assert_frame_equal(frames[0], other)
    except AssertionError:
        return False
    return True


_DEDUPE_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); from bench_scale import dedupe_child; "
    "dedupe_child(*sys.argv[2:])"
)


def _run_digest(db: Path) -> str:
    """:func:`bench_tag.run_digest` (this folder is the script's: importable as such)."""
    from bench_tag import run_digest

    return run_digest(db)


def dedupe_child(pkl: str, out: str, workers: str, partition_size: str) -> None:
    """One dedupe arm, in its own process: ``workers`` 0 is the single path."""
    import json
    import pickle
    from itertools import combinations

    import pandas as pd

    from synth.corpus.dedupe import dedupe
    from synth.distributed import cluster_client, dedupe_on_cluster

    with open(pkl, "rb") as fh:
        records, planted = pickle.load(fh)
    start = 0.0
    if int(workers) == 0:
        t0 = time.perf_counter()
        result = dedupe(records)
        seconds = time.perf_counter() - t0
    else:
        t0 = time.perf_counter()
        with cluster_client(f"local:{workers}") as client:
            start = time.perf_counter() - t0
            t0 = time.perf_counter()
            result = dedupe_on_cluster(records, client, partition_size=int(partition_size))
            seconds = time.perf_counter() - t0
    found: set[frozenset[str]] = set()
    for _, members in result.groups.groupby("group_id")["record_id"]:
        found.update(frozenset(p) for p in combinations(sorted(members), 2))
    hits = len(found & planted)
    digest = [
        int(pd.util.hash_pandas_object(frame, index=False).sum())
        for frame in (result.groups, result.pairs, result.rejected)
    ]
    with open(out, "w") as fh:
        json.dump(
            {
                "seconds": seconds,
                "start": start,
                "recall": hits / len(planted) if planted else 1.0,
                "precision": hits / len(found) if found else 1.0,
                "digest": digest,
                "counts": result.counts,
            },
            fh,
        )


def dedupe_figure(sizes: list[int], workers: int, partition_size: int, out: Path) -> None:
    """The ``--dedupe`` figure: single against a LocalCluster of 1 and W workers."""
    import pickle

    from synth.corpus.synthetic import generate_records

    for n in sizes:
        records, planted = generate_records(n, seed=19)
        pkl = out / f"records_{n}.pkl"
        with open(pkl, "wb") as fh:
            pickle.dump((records, planted), fh)
        del records
        print(f"\n{n:,} records, {len(planted):,} planted duplicate pairs: dedupe")
        arms = [("single", 0), ("cluster local:1", 1), (f"cluster local:{workers}", workers)]
        base: tuple[Arm, dict] | None = None
        clusters: dict[int, tuple[Arm, dict]] = {}
        for name, w in arms:
            arm, info = _dedupe_arm(name, pkl, out / f"dedupe_{n}_{w}.json", w, partition_size)
            clusters[w] = (arm, info)
            same = "" if base is None else (
                "  same groups and pairs as single: "
                + ("yes" if info["digest"] == base[1]["digest"] else "NO")
            )  # fmt: skip
            start = f" (+{info['start']:.1f} s start)" if info["start"] else ""
            print(
                f"  {name:<16} {arm.seconds:7.2f} s{start:<14} {n / arm.seconds:7,.0f} rec/s  "
                f"CPU {arm.cpu:6.1f} s  command {_mib(arm.own_peak)}  largest worker "
                f"{_mib(arm.worker_peak) if arm.worker_peak else '      -    '}  "
                f"recall {info['recall']:.4f} precision {info['precision']:.4f}{same}",
                flush=True,
            )
            if base is None:
                base = (arm, info)
            else:
                largest = max(arm.own_peak, arm.worker_peak) / base[0].own_peak
                print(
                    f"  {name} / single: time {arm.seconds / base[0].seconds:.2f}x, "
                    f"largest process {largest:.2f}x of single's"
                )
        if workers != 1:
            (one, a), (many, b) = clusters[1], clusters[workers]
            print(
                f"  local:{workers} over local:1: {_speed(one.seconds / many.seconds)} "
                f"({_speed((one.seconds + a['start']) / (many.seconds + b['start']))} with "
                "the cluster's start)"
            )
        pkl.unlink()


def _dedupe_arm(
    name: str, pkl: Path, result: Path, workers: int, partition_size: int
) -> tuple[Arm, dict]:
    """:func:`dedupe_child` in a fresh process: its figures, CPU time and memory peaks."""
    import json

    here = str(Path(__file__).resolve().parent)
    arm = Arm(name)
    stop = threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(
        [sys.executable, "-c", _DEDUPE_CHILD, here, str(pkl), str(result), str(workers),
         str(partition_size)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    arm.root = proc.pid
    watcher = threading.Thread(target=_watch, args=(proc.pid, stop, arm.peaks), daemon=True)
    watcher.start()
    _, errors = proc.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    arm.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{name}: dedupe failed ({proc.returncode}):\n{errors}")
    info = json.loads(result.read_text())
    arm.seconds = info["seconds"]
    return arm, info


_GENERATE_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); from bench_scale import generate_child; "
    "generate_child(*sys.argv[2:])"
)


def generate_child(n: str, ris: str, planted_out: str) -> None:
    """N generated records as one RIS file and their planted pairs (pickled), in a
    process of its own: the benchmark's own process never holds the records."""
    import pickle

    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris

    records, planted = generate_records(int(n), seed=19)
    write_ris(records, Path(ris))
    # the store names records its own way: a planted pair as the records' places in the
    # file (the store's position, from 1)
    place = {rid: k + 1 for k, rid in enumerate(records["record_id"].tolist())}
    with open(planted_out, "wb") as fh:
        pickle.dump({frozenset(place[r] for r in pair) for pair in planted}, fh)


def planted_scores(db: Path, planted: set[frozenset[int]]) -> tuple[float, float]:
    """Recall and precision of a store's duplicate groups on the planted pairs (of the
    records' places in the one file imported)."""
    import sqlite3
    from itertools import combinations

    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT g.group_id, r.position FROM duplicate_groups g JOIN records_all r"
            " ON r.record_id = g.record_id WHERE g.group_id IN (SELECT group_id FROM"
            " duplicate_groups GROUP BY group_id HAVING count(*) > 1) ORDER BY g.group_id"
        ).fetchall()
    finally:
        con.close()
    groups: dict[str, list[int]] = {}
    for gid, place in rows:
        groups.setdefault(gid, []).append(place)
    found = {frozenset(p) for m in groups.values() for p in combinations(sorted(m), 2)}
    hits = len(found & planted)
    return (hits / len(planted) if planted else 1.0, hits / len(found) if found else 1.0)


def pipeline_figure(
    sizes: list[int], workers: int, partition_size: int, out: Path, names: list[str]
) -> None:
    """The ``--pipeline`` figure: import, dedupe and tag of N records on local:W."""
    import pickle

    here = str(Path(__file__).resolve().parent)
    cluster = ["--cluster", f"local:{workers}"]
    for n in sizes:
        ris, planted_pkl = out / f"records_{n}.ris", out / f"planted_{n}.pkl"
        t0 = time.perf_counter()
        generated = not ris.exists()  # a file of an earlier run in --out-dir is used again
        if generated:
            subprocess.run(
                [sys.executable, "-c", _GENERATE_CHILD, here, str(n), str(ris), str(planted_pkl)],
                check=True,
            )
        planted: set[frozenset[int]] | None = None
        if planted_pkl.exists():
            with open(planted_pkl, "rb") as fh:
                planted = pickle.load(fh)
        how = f"generated in {time.perf_counter() - t0:.0f} s" if generated else "given"
        pairs = f"{len(planted):,}" if planted is not None else "no file of"
        print(
            f"\n{n:,} records ({ris.stat().st_size / 2**20:,.0f} MiB of RIS, {how}), "
            f"{pairs} planted duplicate pairs: {', '.join(names)} on local:{workers}",
            flush=True,
        )
        db = out / f"pipeline_{n}.sqlite"
        steps = [
            ("import", "import", [str(ris), *cluster]),
            ("dedupe", "duplicates refresh", cluster),
            ("tag", "tag", [*cluster, "--partition-size", str(partition_size)]),
        ]
        steps = [s for s in steps if s[0] in names]
        arms: list[Arm] = []
        for name, command, extra in steps:
            arm = run_arm(name, db, extra, command=command)
            arms.append(arm)
            every = "  ".join(
                ("command " if pid == arm.root else "worker ") + _mib(v).strip()
                for pid, v in sorted(arm.peaks.items(), key=lambda x: x[0] != arm.root)
            )
            print(
                f"  {name:<8} {arm.seconds:7.1f} s  {n / arm.seconds:7,.0f} rec/s  "
                f"CPU {arm.cpu:7.1f} s  peaks: {every}",
                flush=True,
            )
        total = sum(a.seconds for a in arms)
        largest = max(v for a in arms for v in a.peaks.values())
        scores = "dedupe recall and precision not measured (no planted pairs)"
        if planted is not None:
            recall, precision = planted_scores(db, planted)
            scores = f"dedupe recall {recall:.4f} precision {precision:.4f}"
        print(
            f"  whole path: {total:,.0f} s ({total / 60:.1f} min, target 30 min), "
            f"{n / total:,.0f} rec/s; largest process {_mib(largest).strip()} "
            f"({'within' if largest <= 4 * 2**30 else 'ABOVE'} the 4 GiB target); {scores}",
            flush=True,
        )
        for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            f.unlink(missing_ok=True)
        if generated:
            ris.unlink(missing_ok=True)
            planted_pkl.unlink(missing_ok=True)
        shutil.rmtree(Path(f"{db}.work"), ignore_errors=True)


def import_figure(
    sizes: list[int],
    workers: int,
    formats: list[str],
    out: Path,
    line_ends: str = "lf",
    encoding: str = "utf-8",
) -> None:
    """The ``--import`` figure: ``synth import`` of one file, single against the cluster."""
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.bibtex import write_bibtex
    from synth.corpus.writers.ris import write_ris

    writers = {"ris": (write_ris, "ris"), "bibtex": (write_bibtex, "bib")}
    for n in sizes:
        records, _ = generate_records(n, seed=19)
        for fmt in formats:
            write, suffix = writers[fmt]
            path = out / f"records_{n}.{suffix}"
            write(records, path)
            if line_ends != "lf" or encoding != "utf-8":
                _rewrite(path, "\r\n" if line_ends == "crlf" else "\n", encoding)
            size = path.stat().st_size
            print(
                f"\n{n:,} records, {fmt} ({size / 2**20:,.0f} MiB, {encoding}, "
                f"{line_ends.upper()}): import"
            )
            arms = [("single", []), (f"cluster local:{workers}", ["--cluster", f"local:{workers}"])]
            results: list[Arm] = []
            stores: list[Path] = []
            for name, extra in arms:
                db = out / f"import_{n}_{fmt}_{name.split()[0]}.sqlite"
                arm = run_arm(name, db, [str(path), *extra], command="import")
                results.append(arm)
                stores.append(db)
                print(
                    f"  {name:<16} {arm.seconds:7.1f} s  {n / arm.seconds:7,.0f} rec/s  "
                    f"CPU {arm.cpu:6.1f} s  command {_mib(arm.own_peak)}  largest worker "
                    f"{_mib(arm.worker_peak) if arm.worker_peak else '      -    '}",
                    flush=True,
                )
            base, arm = results
            print(
                f"  {arm.name} / single: time {arm.seconds / base.seconds:.2f}x, "
                f"CPU {arm.cpu / base.cpu:.2f}x, command's memory "
                f"{arm.own_peak / base.own_peak:.2f}x, largest process "
                f"{max(arm.own_peak, arm.worker_peak) / max(base.own_peak, base.worker_peak):.2f}x"
            )
            same = same_store(stores[0], stores[1])
            print(f"  same records, sources, failures and groups: {'yes' if same else 'NO'}")
            for db in stores:
                for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
                    f.unlink(missing_ok=True)
            path.unlink()


def _rewrite(path: Path, newline: str, encoding: str) -> None:
    """The UTF-8 file at ``path`` again with ``newline`` line ends in ``encoding`` (a line
    at a time; a character the encoding lacks becomes ``?``)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with (
        path.open(encoding="utf-8", newline="") as src,
        tmp.open("w", encoding=encoding, errors="replace", newline=newline) as dst,
    ):
        for line in src:
            dst.write(line)
    tmp.replace(path)


def same_store(a: Path, b: Path) -> bool:
    """Whether two stores hold the same import: the tables it writes, timestamps aside."""
    import sqlite3

    import pandas as pd
    from pandas.testing import assert_frame_equal

    tables = ("sources_all", "records_all", "record_sightings_all", "import_failures_all",
              "duplicate_groups", "duplicate_pairs")  # fmt: skip
    frames = []
    for db in (a, b):
        con = sqlite3.connect(db)
        try:
            frames.append([pd.read_sql(f"SELECT * FROM {t} ORDER BY rowid", con) for t in tables])
        finally:
            con.close()
    try:
        for x, y in zip(*frames, strict=True):
            when = [c for c in x.columns if c.endswith("_at")]
            assert_frame_equal(x.drop(columns=when), y.drop(columns=when))
    except AssertionError:
        return False
    return True


def _mib(b: int) -> str:
    return f"{b / 2**20:7,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partition-size", type=int, default=5_000)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--no-pool", action="store_true", help="skip the --n-process arm")
    parser.add_argument(
        "--arms", nargs="+", choices=["single", "pool", "cluster1", "cluster"],
        default=["single", "pool", "cluster"],
        help="tag: the arms to run (cluster1: --cluster local:1, beside local:W)",
    )  # fmt: skip
    parser.add_argument(
        "--review", type=Path, default=None, help="tag with this review.yml's criteria judged"
    )
    parser.add_argument("--repeat", type=int, default=1, help="tag: run the arms R times")
    parser.add_argument(
        "--dedupe", action="store_true", help="the deduplication figure instead of tagging"
    )
    parser.add_argument("--dedupe-partition-size", type=int, default=None)
    parser.add_argument(
        "--import", dest="import_", action="store_true", help="the import figure instead"
    )
    parser.add_argument("--formats", nargs="+", default=["ris", "bibtex"])
    parser.add_argument(
        "--line-ends", choices=["lf", "crlf"], default="lf", help="--import: the file's line ends"
    )
    parser.add_argument(
        "--encoding", default="utf-8", help="--import: the file's encoding (e.g. cp1252)"
    )
    parser.add_argument(
        "--pipeline",
        action="store_true",
        help="import, dedupe and tag on a LocalCluster instead (peak memory per process)",
    )
    parser.add_argument(
        "--steps",
        nargs="+",
        choices=["import", "dedupe", "tag"],
        default=["import", "dedupe", "tag"],
        help="--pipeline: the commands to run (import first: it makes the store)",
    )
    args = parser.parse_args()
    out = args.out_dir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    out.mkdir(parents=True, exist_ok=True)
    w = args.workers
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"cores available: {len(os.sched_getaffinity(0))}; work folder: {out}")
    if args.dedupe or args.import_ or args.pipeline:
        if args.pipeline:
            pipeline_figure(args.sizes, w, args.partition_size, out, args.steps)
        elif args.dedupe:
            from synth.distributed.dedupe import PARTITION_SIZE

            dedupe_figure(args.sizes, w, args.dedupe_partition_size or PARTITION_SIZE, out)
        else:
            import_figure(args.sizes, w, args.formats, out, args.line_ends, args.encoding)
        print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.out_dir is None:
            shutil.rmtree(out, ignore_errors=True)
        return
    for n in args.sizes:
        db, import_s = make_store(n, out)
        made = f"imported in {import_s:.1f} s" if import_s else "the store in --out-dir"
        print(f"\n{n:,} records ({made})")
        review = ["--review", str(args.review.resolve())] if args.review else []
        arms = [("single", [])] if "single" in args.arms else []
        if not args.no_pool and "pool" in args.arms:
            arms.append((f"pool {w}", ["--n-process", str(w)]))
        if "cluster1" in args.arms:
            arms.append(
                ("cluster1 local:1", ["--cluster", "local:1", "--partition-size",
                                      str(args.partition_size)])
            )  # fmt: skip
        if "cluster" in args.arms:
            arms.append(
                (f"cluster local:{w}", ["--cluster", f"local:{w}", "--partition-size",
                                        str(args.partition_size)])
            )  # fmt: skip
        for repeat in range(args.repeat):
            if args.repeat > 1:
                print(f" run {repeat + 1} of {args.repeat}")
            results: list[Arm] = []
            stores: list[Path] = []
            for name, extra in arms:
                copy = out / f"{n}-{name.split()[0]}.sqlite"
                shutil.copyfile(db, copy)
                arm = run_arm(name, copy, [*extra, *review])
                results.append(arm)
                stores.append(copy)
                print(
                    f"  {name:<16} {arm.seconds:7.1f} s  {n / arm.seconds:7,.0f} rec/s  "
                    f"CPU {arm.cpu:6.1f} s (command {arm.own_cpu:6.1f} s)  "
                    f"command {_mib(arm.own_peak)}  largest worker "
                    f"{_mib(arm.worker_peak) if arm.worker_peak else '      -    '}  "
                    f"run digest {_run_digest(copy)}",
                    flush=True,
                )
            base = results[0]
            for arm in results[1:] if base.name == "single" else []:
                mem = arm.worker_peak or arm.own_peak
                print(
                    f"  {arm.name} / single: speed {base.seconds / arm.seconds:.2f}x, "
                    f"CPU {arm.cpu / base.cpu:.2f}x (command's {arm.own_cpu / base.own_cpu:.2f}x), "
                    f"largest process {max(mem, arm.own_peak) / base.own_peak:.2f}x of single's"
                )
            one = [a for a in results if a.name.startswith("cluster1 ")]
            many = [a for a in results if a.name.startswith("cluster ")]
            if one and many:
                print(
                    f"  {many[0].name} over local:1: "
                    f"{_speed(one[0].seconds / many[0].seconds)} "
                    f"(CPU {many[0].cpu / one[0].cpu:.2f}x)"
                )
            same = same_tags(stores, judged=bool(review))
            what = "tags, assessments and suggestions" if review else "tags"
            print(f"  same {what} on every arm: {'yes' if same else 'NO'}", flush=True)
            for copy in stores:
                copy.unlink()
                shutil.rmtree(Path(f"{copy}.work"), ignore_errors=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.out_dir is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
