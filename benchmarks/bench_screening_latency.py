"""Screening latency: from a decision to the next record being ready.

    python benchmarks/bench_screening_latency.py [--sizes 10000 100000] [--decisions 150]
        [--labelled 0 1000 5000] [--seed 0]

For each corpus size N (synthetic records from ``synth.corpus.synthetic``: realistic
titles, ~200-word abstracts, keywords), builds the feature matrix once (timed
separately: it happens when the queue opens, not per decision), then replays screening
decisions; each decision is timed from the label arriving to the next record being
known: refit the model on all labels so far, rescore every record, order the
unscreened ones (``Prioritiser.rank``). Runs start from a given number of labelled
records (``--labelled``: 0 = just one include and one exclude; larger numbers show the
cost late in a review) and make ``--decisions`` decisions each.

Prints median and 95th percentile per model: our default and, measured in the same run,
the naive Bayes baseline. Targets for the default: median < 100 ms at 10,000 records,
< 500 ms at 100,000.
"""

from __future__ import annotations

import argparse
import gc
import os
import time

import numpy as np

from synth.corpus.synthetic import generate_records
from synth.screening.features import build_features
from synth.screening.learner import Prioritiser, settings_for

MODELS = ("default", "nb")


def _labels(n: int, rng: np.random.Generator, share: float = 0.05) -> np.ndarray:
    """Hidden labels: about ``share`` includes (which ones does not matter for timing)."""
    return (rng.random(n) < share).astype(int)


def time_decisions(
    X, y: np.ndarray, model: str, *, start: int, decisions: int, seed: int
) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds per decision over ``decisions`` consecutive decisions."""
    rng = np.random.default_rng(seed)
    labelled = np.zeros(len(y), dtype=bool)
    labelled[rng.choice(np.flatnonzero(y == 1), 1)] = True
    labelled[rng.choice(np.flatnonzero(y == 0), 1)] = True
    if start > 2:
        labelled[rng.choice(np.flatnonzero(~labelled), start - 2, replace=False)] = True
    p = Prioritiser(settings_for(model, seed=seed))
    order, _ = p.rank(X, labelled, y)  # warm-up: first fit also imports and allocates
    times = []
    for _ in range(decisions):
        labelled[order[0]] = True  # the reviewer's decision on the record shown
        gc.disable()
        t0 = time.perf_counter()
        order, _ = p.rank(X, labelled, y)
        times.append(time.perf_counter() - t0)
        gc.enable()
    return times


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--decisions", type=int, default=150)
    ap.add_argument("--labelled", type=int, nargs="+", default=[0, 1000])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(f"\n## Latency (decision -> next record ready); load average {os.getloadavg()[0]:.2f}\n")
    print("| records | model | labelled at start | decisions | median ms | p95 ms |")
    print("|---|---|---|---|---|---|")
    summary = []
    for n in args.sizes:
        records, _ = generate_records(n, dup_rate=0.0, hard_rate=0.0, seed=args.seed)
        y = _labels(len(records), np.random.default_rng(args.seed))
        for model in MODELS:
            t0 = time.perf_counter()
            X = build_features(records, settings_for(model, seed=args.seed))
            build = time.perf_counter() - t0
            all_times: list[float] = []
            for start in args.labelled:
                t = time_decisions(
                    X, y, model, start=start, decisions=args.decisions, seed=args.seed
                )
                all_times += t
                print(
                    f"| {len(records):,} | {model} | {max(start, 2)} | {len(t)} | "
                    f"{np.median(t) * 1000:.1f} | {np.percentile(t, 95) * 1000:.1f} |",
                    flush=True,
                )
            summary.append((len(records), model, build, X.shape, X.nnz, all_times))
    print("\n| records | model | features (one-off) | median ms | p95 ms | target median |")
    print("|---|---|---|---|---|---|")
    for n, model, build, shape, nnz, times in summary:
        target = "< 100 ms" if n <= 10_000 else "< 500 ms"
        print(
            f"| {n:,} | {model} | {build:.1f} s ({shape[1]:,} terms, {nnz / 1e6:.1f} M nonzeros) | "
            f"{np.median(times) * 1000:.1f} | {np.percentile(times, 95) * 1000:.1f} | "
            f"{target if model == 'default' else ''} |"
        )
    for n in args.sizes:
        rows = {m: t for k, m, _, _, _, t in summary if k == n}
        if set(rows) == set(MODELS):
            ratio = np.median(rows["default"]) / np.median(rows["nb"])
            print(f"\n{n:,} records: default / nb median latency x{ratio:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
