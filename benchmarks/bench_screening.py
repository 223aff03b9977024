"""Screening prioritisation benchmark: our default model against ASReview LAB and NB.

    python benchmarks/bench_screening.py [--quick] [--sets ADHD NSAIDS] [--seeds 3]
        [--data DIR] [--no-asreview] [--no-latency] [--fresh]

Over the labelled sets in ``../shared/peer-data/screening/`` (read in place), with the
same priors for every model (one random include and one random exclude, drawn from the
seed), in the same run:

  * **ours**: ``synth.screening`` with its default settings (``data/screening.yml``);
  * **nb**: the classic TF-IDF + multinomial naive Bayes with ASReview 1's "double"
    balance (``--model nb``);
  * **asreview**: ASReview LAB's own ``asreview simulate`` with its default model
    (ELAS u4), installed by this script into ``.bench/asreview-venv`` (gitignored; never a
    synth dependency). The priors are passed as ``--prior-idx`` and the seed as
    ``--seed``; the labelling order is read back from the project file and scored with
    OUR metric code (``synth.screening.metrics``), so the numbers are comparable.
    Project files are kept in ``.bench/asreview-runs`` and reused when the same set, seed,
    priors and ASReview version were run before (``--fresh`` re-runs them).

Prints per set and seed WSS@95, recall@10 % and the records needed to find all
includes, then the mean over sets per model and the ratios ours / asreview and
ours / nb. Then the latency part (``bench_screening_latency.py``) unless
``--no-latency``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from synth.corpus.reading import read_file
from synth.screening import metrics
from synth.screening.learner import settings_for
from synth.screening.simulate import choose_priors, simulate

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT.parent / "shared" / "peer-data" / "screening"
BENCH = ROOT / ".bench"
VENV = BENCH / "asreview-venv"
RUNS = BENCH / "asreview-runs"
QUICK_SETS = ["Antihistamines", "Estrogens", "ADHD"]
METRICS = ("wss@95", "recall@10%", "n_to_last_include")


def asreview_exe() -> Path:
    """``asreview`` in the benchmark's own venv, installing it there on first use."""
    exe = VENV / "bin" / "asreview"
    if not exe.exists():
        print(f"installing asreview into {VENV.relative_to(ROOT)} (a few minutes) ...", flush=True)
        venv.create(VENV, with_pip=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "asreview"], check=True)
    return exe


def asreview_version() -> str:
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import asreview; print(asreview.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def run_asreview(
    path: Path, priors: np.ndarray, seed: int, *, version: str, fresh: bool
) -> tuple[list[int], float]:
    """ASReview's labelling order (row indices, priors first) for one set and seed."""
    key = hashlib.sha256(
        f"{path.name}|{sorted(int(p) for p in priors)}|{seed}|{version}".encode()
    ).hexdigest()[:12]
    RUNS.mkdir(parents=True, exist_ok=True)
    project = RUNS / f"{path.stem}-s{seed}-{key}.asreview"
    seconds = float("nan")
    if fresh or not project.exists():
        project.unlink(missing_ok=True)
        # a run killed midway leaves ASReview's working copy behind; it would refuse to start
        tmp = project.with_name(project.name + ".tmp")
        if tmp.is_dir():
            shutil.rmtree(tmp)
        tmp.unlink(missing_ok=True)
        cmd = [
            str(asreview_exe()),
            "simulate",
            str(path),
            "--prior-idx",
            *[str(int(p)) for p in priors],
            "--seed",
            str(seed),
            "-o",
            str(project),
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return read_asreview_order(project), seconds


def read_asreview_order(project: Path) -> list[int]:
    """Dataset rows (0-based) in the order ASReview labelled them, from its project file."""
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(project) as z:
            z.extract("results.db", tmp)
        con = sqlite3.connect(Path(tmp) / "results.db")
        rows = con.execute(
            "SELECT rec.dataset_row FROM results r JOIN record rec USING (record_id)"
            " ORDER BY r.rowid"
        ).fetchall()
        con.close()
    return [int(r[0]) for r in rows]


def labels_after_priors(order_rows: list[int], y: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Labels in screening order, priors left out, unscreened rows (all excludes) last."""
    prior_set = {int(p) for p in priors}
    seen = [r for r in order_rows if r not in prior_set]
    rest = np.setdiff1d(np.arange(len(y)), np.asarray(order_rows + sorted(prior_set), dtype=int))
    return np.concatenate([y[seen], y[rest]]).astype(int)


def bench_quality(
    paths: list[Path],
    seeds: list[int],
    *,
    use_asreview: bool,
    fresh: bool,
    json_out: Path | None = None,
) -> pd.DataFrame:
    rows = []
    version = ""
    if use_asreview:
        asreview_exe()
        version = asreview_version()
        print(f"ASReview LAB {version}, default model (elas_u4)", flush=True)
    for path in paths:
        records = read_file(path).records
        y = records["label_included"].astype(int).to_numpy()
        for seed in seeds:
            priors = choose_priors(y, 1, 1, np.random.default_rng(seed))
            for model in ("default", "nb"):
                res = simulate(
                    records, settings_for(model, seed=seed), seed=seed, dataset=path.stem
                )
                rows.append(
                    {
                        "set": path.stem,
                        "seed": seed,
                        "model": "ours" if model == "default" else "nb",
                        "seconds": res.seconds,
                        **res.metrics,
                    }
                )
            if use_asreview:
                order, secs = run_asreview(path, priors, seed, version=version, fresh=fresh)
                labels = labels_after_priors(order, y, priors)
                rows.append(
                    {
                        "set": path.stem,
                        "seed": seed,
                        "model": "asreview",
                        "seconds": secs,
                        **metrics.screening_metrics(labels),
                    }
                )
            if json_out is not None:  # after every run, so a crash keeps what was measured
                json_out.write_text(json.dumps(rows, indent=1))
            last = [r for r in rows if r["set"] == path.stem and r["seed"] == seed]
            print(
                "  "
                + path.stem
                + f" seed {seed}: "
                + "; ".join(
                    f"{r['model']} WSS@95 {r['wss@95']:.3f} R@10 {r['recall@10%']:.3f}"
                    for r in last
                ),
                flush=True,
            )
    return pd.DataFrame(rows)


def report(df: pd.DataFrame) -> str:
    per_set = df.groupby(["set", "model"])[list(METRICS)].mean().unstack("model")
    models = [m for m in ("ours", "asreview", "nb") if m in df["model"].unique()]
    lines = ["", "## Mean over seeds, per set", ""]
    head = (
        "| set | "
        + " | ".join(f"WSS@95 {m}" for m in models)
        + " | "
        + " | ".join(f"R@10% {m}" for m in models)
        + " | "
        + " | ".join(f"n→all {m}" for m in models)
        + " |"
    )
    lines += [head, "|" + "---|" * (1 + 3 * len(models))]
    for s in per_set.index:
        cells = [f"{per_set.loc[s, ('wss@95', m)]:.3f}" for m in models]
        cells += [f"{per_set.loc[s, ('recall@10%', m)]:.3f}" for m in models]
        cells += [f"{per_set.loc[s, ('n_to_last_include', m)]:.0f}" for m in models]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    means = per_set.mean()
    lines += [
        "",
        "## Mean over sets",
        "",
        "| model | WSS@95 | recall@10% | records to find all |",
        "|---|---|---|---|",
    ]
    for m in models:
        lines.append(
            f"| {m} | {means[('wss@95', m)]:.3f} | {means[('recall@10%', m)]:.3f} | "
            f"{means[('n_to_last_include', m)]:.0f} |"
        )
    for other in ("asreview", "nb"):
        if other in models:
            w = means[("wss@95", "ours")] / means[("wss@95", other)]
            r = means[("recall@10%", "ours")] / means[("recall@10%", other)]
            wins = int((per_set[("wss@95", "ours")] >= per_set[("wss@95", other)] - 1e-12).sum())
            rwins = int(
                (per_set[("recall@10%", "ours")] >= per_set[("recall@10%", other)] - 1e-12).sum()
            )
            lines.append(
                f"\nours / {other}: WSS@95 x{w:.3f}, recall@10% x{r:.3f}; ours at least as good on "
                f"WSS@95 in {wins}/{len(per_set)} sets, on recall@10% in {rwins}/{len(per_set)}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=PEER, help="folder of labelled CSV sets")
    ap.add_argument("--sets", nargs="*", help="substrings of the set names to run")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per set (0..N-1)")
    ap.add_argument("--quick", action="store_true", help="3 small sets, 1 seed, 10k latency only")
    ap.add_argument("--no-asreview", action="store_true")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument(
        "--fresh", action="store_true", help="re-run ASReview even if a project file exists"
    )
    ap.add_argument("--json", type=Path, help="write the per-run rows here")
    ap.add_argument(
        "--from-json",
        type=Path,
        nargs="+",
        help="only report: merge rows saved by earlier --json runs (e.g. sets run in parallel)",
    )
    args = ap.parse_args(argv)
    if args.from_json:
        rows = [r for p in args.from_json for r in json.loads(p.read_text())]
        print(report(pd.DataFrame(rows)))
        return
    if not args.data.is_dir():
        sys.exit(f"no labelled sets at {args.data}")
    paths = sorted(args.data.glob("*.csv"))
    wanted = args.sets or (QUICK_SETS if args.quick else None)
    if wanted:
        paths = [p for p in paths if any(w.lower() in p.name.lower() for w in wanted)]
    seeds = list(range(1 if args.quick else args.seeds))
    print(f"{len(paths)} set(s), seeds {seeds}; load average {os.getloadavg()[0]:.2f}", flush=True)
    df = bench_quality(
        paths, seeds, use_asreview=not args.no_asreview, fresh=args.fresh, json_out=args.json
    )
    print(report(df), flush=True)
    if not args.no_latency:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_screening_latency

        bench_screening_latency.main(["--sizes", "10000"] if args.quick else [])


if __name__ == "__main__":
    main()
