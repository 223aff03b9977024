"""Tagging benchmark: ``synth.tagging.tag`` against spaCy's bare tokenizer, same run.

    python benchmarks/bench_tag.py [--quick] [--sizes 10000 100000] [--rounds 2]
                                   [--no-peer | --peer-only]

Generates N synthetic records (``synth.corpus.synthetic.generate_records``: health-services
titles, keywords, venues and ~200-word structured abstracts whose vocabulary is as open as
real abstracts': counts, statistics, instruments and rare terms in every record) and
prints, for each N:

  * the bare ``spacy.blank("en")`` tokenizer over the texts tag() tokenises (title,
    keywords and abstract of each record);
  * the same tokenizer with the cache size tag()'s pipeline gives it
    (``synth.tagging.pipeline.TOKENIZER_CACHE_SIZE``; spaCy's default of 10,000 chunks
    is full after a few hundred abstracts): not the target's baseline, but what tag()
    costs beyond tokenizing the way it tokenizes;
  * ``tag(records)`` in one process: records/s, words/s, and its ratio to the tokenizer
    (target: at least 1/3 of the tokenizer's records/s);
  * on the largest N, ``tag(records, n_process=2)`` against one process (target: 1.6x),
    and the CPU time both processes used against one process's: the cost of sharing the
    work, which the machine's drifting speed hardly moves (wall-clock speed-ups of the
    same code varied 1.5-1.9x between runs here).

Then the same over real titles and abstracts, when ``../shared/peer-data/`` sits beside
the project: the real-abstract gold set's 300 records (``tests/fixtures/abstracts-gold/``,
read from peer-data with synth's readers) and every other record of the peer screening sets
(``screening/*.csv``), several thousand. There the targets are the issue's: ``tag()`` at
least 0.8 of the bare tokenizer's records/s, and two processes at least 1.6x one.

Each arm runs in a fresh process, as ``synth tag`` does, warmed on 2,000 other records
(the tokenizer caches every word it has seen; the tagger builds its pipeline once), and
then times a first pass over the records (**cold**: most of their rare words are new to
it, as in a real run) and, for one process, a second pass (**warm**: every word cached).
The ratio is cold against cold, and warm against warm beside it. The arms run ``--rounds``
times in turn and each keeps its fastest time, since other work on the machine's cores
only ever slows a run down. The load average is printed before and after.

Store mode (``--store``, instead of the above): ``synth tag`` end to end on a store.

    python benchmarks/bench_tag.py --store 50000 200000 [--review corpus/kei-2020/review.yml]
                                   [--out-dir DIR] [--keep] [--n-process N]

For each N, the N generated records (seed 19, as ``bench_scale.py``) are written as RIS and
imported into a store once (kept in ``--out-dir`` for the next run), and ``synth tag --db
COPY --review REVIEW [--n-process N]`` runs on a fresh copy in a process of its own, as a
user runs it (the review's criteria assessed and decisions suggested: the whole
single-machine path; with ``--n-process`` the peak is the largest of its processes').
It prints the wall time, the records/s, the CPU seconds (which other work on the machine
moves less than wall time) and the peak resident memory of that process (sampled every
0.1 s), and a digest of the stored run (its tags, criteria assessments and
suggestions, sorted): two versions of the code that store the same run print the same
digest. Run it with ``PYTHONPATH=<another checkout>/src`` to measure that checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _texts(records: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Per record: title + keywords + abstract (what tag() tokenises), and the abstract."""
    joined, abstracts = [], []
    for title, keywords, abstract in zip(
        records["title"], records["keywords"], records["abstract"], strict=True
    ):
        parts = [title] if isinstance(title, str) else []
        if isinstance(keywords, list):
            parts.extend(k for k in keywords if isinstance(k, str))
        if isinstance(abstract, str):
            parts.append(abstract)
            abstracts.append(abstract)
        joined.append("\n\n".join(parts))
    return joined, abstracts


def _cpu() -> float:
    """CPU seconds of this process and its finished children (a pool's joined workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


# -- one arm, in a fresh process ---------------------------------------------------------


def child(arm: str, folder: Path) -> dict[str, float]:
    """Time ``arm`` (tokenize, tokenize_cached, tag or tag2) over ``folder``'s records
    after warming up on its warm-up records; a cold pass, then (one process only) a warm
    one."""
    records = pd.read_pickle(folder / "records.pkl")
    warm = pd.read_pickle(folder / "warm.pkl")
    out: dict[str, float] = {}
    if arm in ("tokenize", "tokenize_cached"):
        import spacy

        nlp = spacy.blank("en")
        if arm == "tokenize_cached":
            from synth.tagging.pipeline import TOKENIZER_CACHE_SIZE

            nlp.tokenizer.max_cache_size = TOKENIZER_CACHE_SIZE
        texts = _texts(records)[0]
        for _ in nlp.tokenizer.pipe(_texts(warm)[0]):
            pass
        for name in ("cold", "warm"):
            gc.collect()
            t0 = time.perf_counter()
            for _ in nlp.tokenizer.pipe(texts):
                pass
            out[name] = time.perf_counter() - t0
        return out
    from synth.tagging import load_codebook, tag

    codebook = load_codebook()
    tag(warm, codebook=codebook)
    n_process = 2 if arm == "tag2" else 1
    for name in ("cold", "warm") if n_process == 1 else ("cold",):
        gc.collect()
        c0, t0 = _cpu(), time.perf_counter()
        tags = tag(records, codebook=codebook, n_process=n_process)
        out[name] = time.perf_counter() - t0
        out[f"{name}_cpu"] = _cpu() - c0
        out["rows"] = len(tags)
        del tags
    return out


def _run_child(arm: str, folder: Path) -> dict[str, float]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", arm, str(folder)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{arm} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- store mode: synth tag end to end ------------------------------------------------------

_SYNTH = "import sys; from synth.cli import app; sys.argv[0] = 'synth'; app()"


def store_of(n: int, folder: Path) -> Path:
    """N generated records imported into a store in ``folder`` (made once, then reused)."""
    db = folder / f"store_{n}.sqlite"
    if db.exists():
        return db
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris
    from synth.store import connect, import_paths

    records, _ = generate_records(n, seed=19)
    ris = folder / f"records_{n}.ris"
    write_ris(records, ris)
    del records
    part = folder / f"store_{n}.partial.sqlite"
    part.unlink(missing_ok=True)
    con = connect(part)
    try:
        import_paths(con, [ris])
    finally:
        con.close()
    part.rename(db)
    return db


def _peak_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    """The peak resident memory of process ``pid`` (and any children) until ``stop``."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.Error:
        return
    while not stop.is_set():
        with contextlib.suppress(psutil.Error):
            rss = root.memory_info().rss
            for kid in root.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    rss = max(rss, kid.memory_info().rss)
            peak[0] = max(peak[0], rss)
        stop.wait(0.1)


def run_digest(db: Path) -> str:
    """sha256 of the latest tagging run's tables, sorted (the run's ids left out)."""
    from synth.store import connect
    from synth.store.tags import RUN_TABLES, latest_run

    con = connect(db)
    try:
        run_id = latest_run(con)
        h = hashlib.sha256()
        for table, sql in RUN_TABLES.items():
            h.update(table.encode())
            for row in con.execute(sql, (run_id,)):
                h.update(repr(tuple(row)).encode())  # the store's rows are sqlite3.Row
    finally:
        con.close()
    return h.hexdigest()[:16]


def bench_store(n: int, folder: Path, review: Path | None, keep: bool, n_process: int = 1) -> None:
    """``synth tag`` on a copy of the N-record store: wall time, peak RSS, the run's digest."""
    source = store_of(n, folder)
    db = folder / f"tagged_{n}.sqlite"
    shutil.copyfile(source, db)
    extra = ["--review", str(review)] if review else []
    extra += ["--n-process", str(n_process)] if n_process != 1 else []
    cmd = [sys.executable, "-c", _SYNTH, "tag", "--db", str(db), "--no-progress", *extra]
    stop, peak = threading.Event(), [0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    watcher = threading.Thread(target=_peak_rss, args=(proc.pid, stop, peak), daemon=True)
    watcher.start()
    _, errors = proc.communicate()
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    stop.set()
    watcher.join()
    if proc.returncode:
        raise SystemExit(f"synth tag failed ({proc.returncode}):\n{errors[-3000:]}")
    digest = run_digest(db)
    if not keep:
        db.unlink()
    print(
        f"synth tag{f' --n-process {n_process}' if n_process != 1 else ''}, {n:,} records:"
        f" {seconds:.1f} s wall ({n / seconds:,.0f} records/s), "
        f"{cpu:.1f} s CPU, peak RSS {peak[0] / 2**20:,.0f} MiB; run digest {digest}",
        flush=True,
    )


# -- the comparison ----------------------------------------------------------------------


def compare(
    records: pd.DataFrame,
    warm: pd.DataFrame,
    name: str,
    parallel: bool,
    rounds: int,
    target: float = 1 / 3,
) -> dict[str, float]:
    """Tokenizer, tag() and (``parallel``) tag(n_process=2) over ``records``, each in a
    fresh process warmed on ``warm``, ``rounds`` times in turn; the fastest of each."""
    n = len(records)
    texts, abstracts = _texts(records)
    words = sum(len(t.split()) for t in texts)
    distinct = len({w.lower() for t in texts for w in t.split()})
    print(
        f"\n== {name} ({len(abstracts):,} with abstracts), {words / n:.0f} words each, "
        f"{distinct / n:.1f} distinct words per record =="
    )
    arms = ["tokenize", "tokenize_cached", "tag", *(["tag2"] if parallel else [])]
    best: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-tag-") as tmp:
        folder = Path(tmp)
        records.to_pickle(folder / "records.pkl")
        warm.to_pickle(folder / "warm.pkl")
        for _ in range(rounds):
            for arm in arms:
                got = _run_child(arm, folder)
                kept = best.setdefault(arm, got)
                for key, value in got.items():
                    if key != "rows":
                        kept[key] = min(kept[key], value)
    tok, cached, one = best["tokenize"], best["tokenize_cached"], best["tag"]

    def rate(seconds: float) -> str:
        return f"{n / seconds:9,.0f} records/s {words / seconds:12,.0f} words/s"

    print(f"bare tokenizer, cold pass  : {rate(tok['cold'])}")
    print(f"bare tokenizer, warm pass  : {rate(tok['warm'])}")
    print(f"tokenizer, tag()'s cache   : {rate(cached['cold'])} cold")
    print(f"                             {rate(cached['warm'])} warm")
    print(f"tag(), 1 process, cold     : {rate(one['cold'])}")
    print(f"tag(), 1 process, warm     : {rate(one['warm'])}")
    print(f"  {one['rows']:,.0f} tag rows ({one['rows'] / n:.1f} per record)")
    ratio = tok["cold"] / one["cold"]
    verdict = "meets" if ratio >= target else "misses"
    print(f"  tag() / bare tokenizer   : {ratio:.2f} cold ({verdict} the {target:.2g} target), "
          f"{tok['warm'] / one['warm']:.2f} warm")  # fmt: skip
    own = cached["cold"] / one["cold"]
    print(f"  tag() / tokenizer with tag()'s cache: {own:.2f} cold, "
          f"{cached['warm'] / one['warm']:.2f} warm (the pipeline's own cost)")  # fmt: skip
    out = {"records": n, "ratio": ratio, "ratio_warm": tok["warm"] / one["warm"], "own": own}
    if parallel:
        speedup = one["cold"] / best["tag2"]["cold"]
        verdict = "meets" if speedup >= 1.6 else "misses"
        print(f"tag(), 2 processes, cold   : {rate(best['tag2']['cold'])}")
        print(f"  speed-up over 1 process  : {speedup:.2f}x ({verdict} the 1.6x target)")
        cpu1, cpu2 = one["cold_cpu"], best["tag2"]["cold_cpu"]
        print(f"  CPU time, both processes : {cpu2:.1f} s against {cpu1:.1f} s in one "
              f"({cpu2 / cpu1 - 1:+.0%}: what sharing the work costs, whatever the "
              "machine's speed)")  # fmt: skip
        out["speedup"] = speedup
    return out


def bench(n: int, seed: int, parallel: bool, rounds: int) -> dict[str, float]:
    from synth.corpus.synthetic import generate_records

    records, _ = generate_records(n, dup_rate=0.0, hard_rate=0.0, seed=seed)
    warm, _ = generate_records(2000, dup_rate=0.0, hard_rate=0.0, seed=seed + 1)
    return compare(records, warm, f"{n:,} synthetic records", parallel, rounds)


#: The real-abstract target: tag() at least this share of the bare tokenizer's records/s.
REAL_TARGET = 0.8


def bench_peer(rounds: int) -> dict[str, float] | None:
    """The same comparison on real titles and abstracts: the real-abstract gold set's
    records and the other records of the peer screening sets (read in place), when
    ``../shared/peer-data`` is present. Most are far from co-production (drug classes,
    software engineering, PTSD), so fewer cues fire than in the synthetic records."""
    from synth.corpus.reading import read_file
    from synth.tagging.abstract_gold import load_gold_long, load_records

    peer = ROOT.parent / "shared" / "peer-data"
    files = sorted((peer / "screening").glob("*.csv"))
    if not files:
        print(f"\n(no peer screening sets at {peer / 'screening'}: real-abstract run skipped)")
        return None
    gold = load_records(load_gold_long(ROOT / "tests/fixtures/abstracts-gold"), peer)
    in_gold = {(d, str(k)) for d, k in zip(gold["dataset"], gold["key"], strict=True)}
    frames = [gold.drop(columns=["dataset", "key"])]
    for f in files:
        records = read_file(f).records
        dataset = f"screening/{f.name}"
        keep = [(dataset, str(k)) not in in_gold for k in records["source_key"]]
        frames.append(records[keep])
    records = pd.concat(frames, ignore_index=True)
    records["record_id"] = range(len(records))
    records = records.sample(frac=1.0, random_state=0).reset_index(drop=True)  # mix the sets
    cut = len(records) // 5  # warm on a fifth, time on the rest
    warm, timed = records.iloc[:cut], records.iloc[cut:].reset_index(drop=True)
    name = (
        f"{len(timed):,} real records (the gold set's {len(gold)} and the rest of "
        f"{len(files)} peer screening sets, less a fifth to warm up)"
    )
    return compare(timed, warm, name, True, rounds, target=REAL_TARGET)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 records only")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each arm (fastest kept)")
    parser.add_argument("--no-peer", action="store_true", help="skip the real-abstract run")
    parser.add_argument(
        "--peer-only", action="store_true", help="only the real-abstract run (no synthetic)"
    )
    parser.add_argument(
        "--store", type=int, nargs="+", metavar="N", help="synth tag end to end on N records"
    )
    parser.add_argument("--review", type=Path, default=ROOT / "corpus/kei-2020/review.yml")
    parser.add_argument("--no-review", action="store_true", help="store mode: no criteria")
    parser.add_argument("--out-dir", type=Path, help="store mode: keep the stores here")
    parser.add_argument("--keep", action="store_true", help="store mode: keep tagged copies")
    parser.add_argument("--n-process", type=int, default=1, help="store mode: synth tag's")
    parser.add_argument("--child", nargs=2, metavar=("ARM", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    if args.store:
        print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; {_load()}")
        with contextlib.ExitStack() as stack:
            folder = args.out_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
            folder.mkdir(parents=True, exist_ok=True)
            for n in args.store:
                review = None if args.no_review else args.review
                bench_store(n, folder, review, args.keep, args.n_process)
                print(_load(), flush=True)
        return
    sizes = [10_000] if args.quick else sorted(args.sizes)
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; {_load()}")
    for i, n in enumerate([] if args.peer_only else sizes):
        bench(n, args.seed, parallel=i == len(sizes) - 1, rounds=max(1, args.rounds))
    if not args.no_peer:
        bench_peer(max(1, args.rounds))
    print(f"\n{_load()}")


if __name__ == "__main__":
    main()
