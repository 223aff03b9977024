"""Scale-out benchmark: ``synth tag`` in one process against ``--cluster local:2``, same run.

    python benchmarks/bench_scale.py [--sizes 20000 100000] [--workers 2]
                                     [--partition-size 5000] [--out-dir DIR] [--no-pool]

For each N, generates N synthetic records (``synth.corpus.synthetic.generate_records``, as
``bench_import.py`` and ``bench_tag.py`` do), imports them into a store once, and runs
``synth tag --db COPY`` on a fresh copy of it, each arm a command of its own as a user runs
it:

  * ``single``: today's path, one process;
  * ``pool``: ``--n-process W``, synth's own worker pool on this machine (``--no-pool``
    skips it);
  * ``cluster``: ``--cluster local:W``, a Dask LocalCluster of W worker processes
    (``synth.distributed``), partitions of ``--partition-size`` records.

It prints, per arm: wall time (start-up included), records/s, CPU seconds (the command's
and its worker processes': the cost of sharing the work, which other load on the machine
moves less than wall time), the peak resident memory of the command's own process and of
its largest worker process (sampled every 0.1 s over the process tree), and the ratios
against ``single`` in the same run; and checks that every arm stored the same tags.

What runs on the cluster so far is the rule tagger; the refiner, criteria and the store's
bulk load run in the command's process on every arm. Each cluster worker is a fresh
process that imports synth and builds its pipeline (a few CPU seconds each, paid once per
run), where the pool's workers fork from a process that has both. The load average is
printed before and after (the machine's cores may be shared).
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

    @property
    def own_peak(self) -> int:
        return self.peaks.get(self.root, 0)

    @property
    def worker_peak(self) -> int:
        others = [v for pid, v in self.peaks.items() if pid != self.root]
        return max(others, default=0)


def _watch(pid: int, stop: threading.Event, peaks: dict[int, int]) -> None:
    """Per-process peak RSS of ``pid`` and its descendants until ``stop``."""
    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    rss = p.memory_info().rss
                    # small helpers (resource tracker, forkserver) never reach 100 MiB
                    if p.pid == pid or rss > 100 * 2**20:
                        peaks[p.pid] = max(peaks.get(p.pid, 0), rss)
        stop.wait(0.1)


def run_arm(name: str, db: Path, extra: list[str]) -> Arm:
    """``synth tag --db db *extra`` in a fresh process: wall time and memory peaks."""
    arm = Arm(name)
    stop = threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SYNTH, "tag", "--db", str(db), "--no-progress", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    arm.root = proc.pid
    watcher = threading.Thread(target=_watch, args=(proc.pid, stop, arm.peaks), daemon=True)
    watcher.start()
    _, errors = proc.communicate()
    arm.seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    arm.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{name}: synth tag failed ({proc.returncode}):\n{errors}")
    return arm


def make_store(n: int, folder: Path) -> tuple[Path, float]:
    """N generated records imported into a store (the seconds the import took)."""
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris
    from synth.store import connect, import_paths

    records, _ = generate_records(n, seed=19)
    ris = folder / f"records_{n}.ris"
    write_ris(records, ris)
    db = folder / f"store_{n}.sqlite"
    t0 = time.perf_counter()
    con = connect(db)
    try:
        import_paths(con, [ris])
    finally:
        con.close()
    return db, time.perf_counter() - t0


def same_tags(stores: list[Path]) -> bool:
    from pandas.testing import assert_frame_equal

    from synth.store import connect
    from synth.store.tags import load_run_tags

    frames = []
    for db in stores:
        con = connect(db)
        try:
            frames.append(load_run_tags(con))
        finally:
            con.close()
    try:
        for other in frames[1:]:
            assert_frame_equal(frames[0], other)
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
    args = parser.parse_args()
    out = args.out_dir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    out.mkdir(parents=True, exist_ok=True)
    w = args.workers
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"cores available: {len(os.sched_getaffinity(0))}; work folder: {out}")
    for n in args.sizes:
        db, import_s = make_store(n, out)
        print(f"\n{n:,} records (imported in {import_s:.1f} s)")
        arms = [("single", [])]
        if not args.no_pool:
            arms.append((f"pool {w}", ["--n-process", str(w)]))
        arms.append(
            (f"cluster local:{w}", ["--cluster", f"local:{w}", "--partition-size",
                                    str(args.partition_size)])
        )  # fmt: skip
        results: list[Arm] = []
        stores: list[Path] = []
        for name, extra in arms:
            copy = out / f"{n}-{name.split()[0]}.sqlite"
            shutil.copyfile(db, copy)
            arm = run_arm(name, copy, extra)
            results.append(arm)
            stores.append(copy)
            print(
                f"  {name:<16} {arm.seconds:7.1f} s  {n / arm.seconds:7,.0f} rec/s  "
                f"CPU {arm.cpu:6.1f} s  "
                f"command {_mib(arm.own_peak)}  largest worker "
                f"{_mib(arm.worker_peak) if arm.worker_peak else '      -    '}",
                flush=True,
            )
        base = results[0]
        for arm in results[1:]:
            mem = arm.worker_peak or arm.own_peak
            print(
                f"  {arm.name} / single: speed {base.seconds / arm.seconds:.2f}x, "
                f"CPU {arm.cpu / base.cpu:.2f}x, "
                f"largest process {max(mem, arm.own_peak) / base.own_peak:.2f}x of single's"
            )
        print(f"  same tags on every arm: {'yes' if same_tags(stores) else 'NO'}")
        for copy in stores:
            copy.unlink()
            shutil.rmtree(Path(f"{copy}.work"), ignore_errors=True)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.out_dir is None:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
