"""Import benchmark: read + normalise + dedupe + store, against the bare parsers, same run.

    python benchmarks/bench_import.py [--n 100000] [--out-dir /tmp/x] [--repeat 3]
                                      [--formats ris bibtex dedupe]

Generates N realistic records (with planted near-duplicates) as RIS and as BibTeX, then
times, each in a fresh process so peak memory is its own:
  * bare ``rispy.load`` and bare ``bibtexparser.parse_string`` of the same files (baselines);
  * synth's RIS parser alone (``readers.ris.parse`` of the file's text: no sniffing, no
    normalisation), the like of bare ``rispy.load``;
  * synth's reader (decode + sniff + parse + normalise) of each file;
  * synth's deduplication of the N records (recall/precision on the planted pairs);
  * the end-to-end ``import_paths`` into a fresh SQLite store, with the seconds of its
    stages (read, the store's insert, the duplicate groups).
Prints records/s, ratios to the baselines and peak RSS (process tree). Each step's
imports (pandas for synth: over a second) run before its clock starts; their time is
printed on its own line. ``benchmarks/bench_ris_dialects.py`` compares the RIS readers
on real exports.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import multiprocessing as mp
import tempfile
import threading
import time
from collections.abc import Callable
from itertools import combinations
from pathlib import Path
from typing import Any

import psutil


def _peak_rss_tree(stop: threading.Event, out: list[int]) -> None:
    me = psutil.Process()
    peak = 0
    while not stop.is_set():
        try:
            procs = [me, *me.children(recursive=True)]
            rss = 0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
            peak = max(peak, rss)
        except psutil.Error:
            pass
        stop.wait(0.05)
    out.append(peak)


#: modules a step imports, loaded before its clock starts (a one-off cost, not per record)
IMPORTS: dict[str, tuple[str, ...]] = {
    "bare_rispy": ("rispy",),
    "bare_bibtexparser": ("bibtexparser",),
    "synth_parse_ris": ("synth.corpus.readers.ris",),
    "synth_read": ("synth.corpus",),
    "synth_dedupe": ("synth.corpus.dedupe",),
    "synth_import": ("synth.store",),
}


def import_seconds(modules: tuple[str, ...]) -> float:
    """Time to import ``modules`` in a fresh process (what the steps no longer pay)."""
    t0 = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    return time.perf_counter() - t0


def _child(fn_name: str, args: tuple[Any, ...], conn: Any) -> None:
    for name in IMPORTS.get(fn_name, ()):
        importlib.import_module(name)
    stop = threading.Event()
    peaks: list[int] = []
    watcher = threading.Thread(target=_peak_rss_tree, args=(stop, peaks), daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    info = globals()[fn_name](*args)
    seconds = time.perf_counter() - t0
    stop.set()
    watcher.join()
    conn.send((seconds, peaks[0] if peaks else 0, info))


def measure(fn: Callable[..., Any], *args: Any) -> tuple[float, int, Any]:
    """Run ``fn(*args)`` in a fresh process: (seconds, peak RSS bytes, what fn returned)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(fn.__name__, args, child))
    proc.start()
    result = parent.recv()
    proc.join()
    return result


# -- the measured steps (module-level so spawned processes can find them) -------------


def bare_rispy(path: str) -> dict[str, Any]:
    import rispy

    with open(path, encoding="utf-8") as fh:
        return {"records": len(rispy.load(fh))}


def synth_parse_ris(path: str) -> dict[str, Any]:
    from synth.corpus.readers import ris

    with open(path, encoding="utf-8") as fh:
        parsed = ris.parse(fh.read(), Path(path).name)
    return {"records": len(parsed.records)}


def bare_bibtexparser(path: str) -> dict[str, Any]:
    import bibtexparser

    lib = bibtexparser.parse_string(Path(path).read_text("utf-8"))
    return {"records": len(lib.entries), "failed": len(lib.failed_blocks)}


def synth_read(path: str) -> dict[str, Any]:
    from synth.corpus import read_file

    result = read_file(path)
    return {"records": len(result.records), "failed": len(result.failures)}


def synth_dedupe(pickle_path: str) -> dict[str, Any]:
    import pickle

    from synth.corpus.dedupe import dedupe

    with open(pickle_path, "rb") as fh:
        records, planted = pickle.load(fh)
    t0 = time.perf_counter()
    result = dedupe(records)
    seconds = time.perf_counter() - t0
    found: set[frozenset[str]] = set()
    for _, members in result.groups.groupby("group_id")["record_id"]:
        found.update(frozenset(p) for p in combinations(sorted(members), 2))
    hits = len(found & planted)
    return {
        "seconds_in": seconds,
        "planted": len(planted),
        "found_pairs": len(found),
        "recall": hits / len(planted) if planted else 1.0,
        "precision": hits / len(found) if found else 1.0,
    }


def synth_import(path: str, db: str) -> dict[str, Any]:
    from synth.store import connect, import_paths

    for suffix in ("", "-wal", "-shm"):  # a fresh store on every repeat
        Path(db + suffix).unlink(missing_ok=True)
    con = connect(db)
    stages = _timed_stages()
    report = import_paths(con, [path])
    con.close()
    return {
        "records": report.totals["records"],
        "duplicates": report.totals["duplicates"],
        "stages": stages,
    }


def _timed_stages() -> dict[str, float]:
    """Seconds spent in each stage of ``import_paths`` (filled in as it runs): the read
    (decode, parse, normalise), the store's insert, and the duplicate groups."""
    import synth.store.imports as imports

    stages: dict[str, float] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                stages[name] = stages.get(name, 0.0) + time.perf_counter() - t0

        return run

    imports.read_file = timed("read", imports.read_file)
    imports.store_file = timed("insert", imports.store_file)
    imports.refresh_duplicates = timed("duplicates", imports.refresh_duplicates)
    return stages


# -- driver ------------------------------------------------------------------------------


def generate(n: int, out: Path) -> tuple[Path, Path, Path, int]:
    import pickle

    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.bibtex import write_bibtex
    from synth.corpus.writers.ris import write_ris

    records, planted = generate_records(n, seed=42)
    ris, bib, pkl = out / f"records_{n}.ris", out / f"records_{n}.bib", out / f"records_{n}.pkl"
    write_ris(records, ris)
    write_bibtex(records, bib)
    with open(pkl, "wb") as fh:
        pickle.dump((records, planted), fh)
    return ris, bib, pkl, len(planted)


def _generated(n: int, out: Path) -> tuple[Path, Path, Path, int]:
    """The files of an earlier run in ``out`` (same ``n``, same seed), else new ones."""
    ris, bib, pkl = out / f"records_{n}.ris", out / f"records_{n}.bib", out / f"records_{n}.pkl"
    if ris.exists() and bib.exists() and pkl.exists():
        import pickle

        with open(pkl, "rb") as fh:
            _, planted = pickle.load(fh)
        print(f"reusing the {n:,} records generated in {out}")
        return ris, bib, pkl, len(planted)
    t0 = time.perf_counter()
    ris, bib, pkl, planted = generate(n, out)
    print(
        f"generated {n:,} records ({planted:,} planted duplicate pairs) "
        f"in {time.perf_counter() - t0:.1f}s: RIS {ris.stat().st_size / 1e6:.0f} MB, "
        f"BibTeX {bib.stat().st_size / 1e6:.0f} MB"
    )
    return ris, bib, pkl, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument(
        "--repeat", type=int, default=1, help="run each step this many times (best is used)"
    )
    parser.add_argument(
        "--formats", nargs="+", choices=["ris", "bibtex", "dedupe"],
        default=["ris", "bibtex", "dedupe"], help="which parts to run",
    )  # fmt: skip
    args = parser.parse_args()
    out = args.out_dir or Path(tempfile.mkdtemp(prefix="synth-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    ris, bib, pkl, _ = _generated(args.n, out)

    def best(fn: Callable[..., Any], *fn_args: Any) -> tuple[float, int, Any]:
        """The fastest of ``--repeat`` fresh-process runs (all of them printed if several)."""
        runs = [measure(fn, *fn_args) for _ in range(args.repeat)]
        if len(runs) > 1:
            print(f"    ({fn.__name__}: {', '.join(f'{r[0]:.2f}' for r in runs)} s)")
        return min(runs, key=lambda r: r[0])

    def line(name: str, secs: float, peak: int, base: float | None = None) -> None:
        ratio = f"  {secs / base:5.2f}x baseline" if base else ""
        print(
            f"  {name:<40} {secs:7.2f} s  {args.n / secs:9,.0f} rec/s  "
            f"peak {peak / 2**20:6,.0f} MiB{ratio}"
        )

    def stages(info: dict[str, Any]) -> None:
        parts = info.get("stages") or {}
        print("    stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in parts.items()))

    s, _, _ = measure(import_seconds, ("synth.corpus", "synth.store"))
    print(f"imports (before each step's clock): synth.corpus + synth.store {s:.2f} s")
    if "ris" in args.formats:
        print("RIS")
        base_s, base_m, _ = best(bare_rispy, str(ris))
        line("bare rispy.load", base_s, base_m)
        s, m, info = best(synth_parse_ris, str(ris))
        line("synth parse only (readers.ris.parse)", s, m, base_s)
        s, m, info = best(synth_read, str(ris))
        line(f"synth read ({info['records']:,} records)", s, m, base_s)
        s, m, info = best(synth_import, str(ris), str(out / "ris.sqlite"))
        line("synth end to end (read+dedupe+store)", s, m, base_s)
        stages(info)

    if "bibtex" in args.formats:
        print("BibTeX")
        base_s, base_m, _ = best(bare_bibtexparser, str(bib))
        line("bare bibtexparser.parse_string", base_s, base_m)
        s, m, info = best(synth_read, str(bib))
        line(f"synth read ({info['records']:,} records)", s, m, base_s)
        s, m, info = best(synth_import, str(bib), str(out / "bib.sqlite"))
        line("synth end to end (read+dedupe+store)", s, m, base_s)
        stages(info)

    if "dedupe" not in args.formats:
        return
    print("Deduplication")
    s, m, info = best(synth_dedupe, str(pkl))
    print(
        f"  dedupe {args.n:,} records: {info['seconds_in']:.2f} s, peak {m / 2**20:,.0f} MiB; "
        f"recall {info['recall']:.4f}, precision {info['precision']:.4f} "
        f"({info['planted']:,} planted pairs, {info['found_pairs']:,} pairs grouped)"
    )


if __name__ == "__main__":
    main()
