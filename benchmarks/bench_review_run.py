"""Review-run benchmark: every stage of ``run_review`` on the bundled corpus and on a
synthetic 10,000-record review.

    python benchmarks/bench_review_run.py [--quick] [--n 10000] [--workers 1 2]

For the bundled KEI corpus (fresh store each time), per number of notebook workers: the
seconds of each stage (import, tag, notebooks, render, extras, index), each notebook's
seconds and its kernel start-up (papermill's notebook start to first cell), and the share
of the run spent starting kernels. The baseline, measured in the same run: papermill on a
one-cell notebook (kernel start, one cell, shutdown). Then the same for N synthetic records
(``synth.corpus.synthetic.generate_records``) written as RIS files, one per database, into
a temporary corpus folder with a copy of the KEI review.yml.

Sizes: every report page (not counting the shared plotly.min.js), the self-contained
evidence map. Targets: bundled run < 60 s; evidence-map.html < 5 MB; each page < 1 MB.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
KEI = ROOT / "corpus" / "kei-2020"
TARGET_SECONDS = 60.0
MAP_BYTES = 5_000_000
PAGE_BYTES = 1_000_000


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def trivial_notebook(folder: Path) -> float:
    """Seconds papermill takes to run a one-cell notebook (kernel start and stop)."""
    import papermill as pm

    from synth.report.notebooks import KERNEL, KERNEL_ARGS

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1 + 1")]
    nb.metadata["kernelspec"] = {"name": KERNEL, "language": "python", "display_name": "Python 3"}
    src = folder / "trivial.ipynb"
    nbformat.write(nb, src)
    t0 = time.perf_counter()
    pm.execute_notebook(str(src), str(folder / "trivial.out.ipynb"), kernel_name=KERNEL,
                        progress_bar=False, extra_arguments=KERNEL_ARGS)  # fmt: skip
    return time.perf_counter() - t0


def synthetic_corpus(folder: Path, n: int, seed: int = 0) -> Path:
    """N synthetic records as one RIS file per database, plus KEI's review.yml (its
    criteria and questions, without the published decisions: those name KEI's own files)."""
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris

    records, _ = generate_records(n, seed=seed)
    corpus = folder / f"synthetic-{n}"
    corpus.mkdir(parents=True)
    for database, part in records.groupby("database", dropna=False):
        write_ris(part.reset_index(drop=True), corpus / f"{str(database).lower()}.ris")
    review = yaml.safe_load((KEI / "review.yml").read_text("utf-8"))
    review.pop("published_decisions", None)
    (corpus / "review.yml").write_text(yaml.safe_dump(review, sort_keys=False), "utf-8")
    return corpus


def run_once(corpus: Path, folder: Path, workers: int) -> Any:
    from synth.report.run import run_review

    t0 = time.perf_counter()
    result = run_review(corpus=corpus, db=folder / "review.sqlite", out=folder / "reports",
                        progress=False, workers=workers)  # fmt: skip
    result.total = time.perf_counter() - t0
    return result


def report(label: str, result: Any, baseline: float) -> None:
    print(f"\n== {label}: {result.total:.1f} s in all ({_load()})")
    for stage, seconds in result.timings.items():
        print(f"  {stage:<10} {seconds:6.2f} s  {seconds / result.total:5.1%}")
    for r in result.notebooks:
        kernel = f"{r.kernel_seconds:.2f}" if r.kernel_seconds is not None else "?"
        print(f"    {r.spec.name:<24} {r.seconds:6.2f} s  (kernel start {kernel} s,"
              f" {r.seconds / baseline:4.1f}x the trivial notebook)")  # fmt: skip
    share = result.kernel_seconds / result.total
    print(f"  kernel start-up: {result.kernel_seconds:.2f} s summed over notebooks = {share:.1%}"
          " of the run (notebooks overlap when workers > 1)")  # fmt: skip
    plotly = (result.out / "plotly.min.js").stat().st_size
    print(f"  shared plotly.min.js: {plotly / 1e6:.2f} MB (once, beside the pages)")
    for name, size in sorted(result.sizes.items()):
        limit = MAP_BYTES if name == "evidence-map.html" else PAGE_BYTES
        flag = "ok" if size < limit else "OVER"
        print(f"  {name:<28} {size / 1e6:6.3f} MB  (< {limit / 1e6:.0f} MB: {flag})")


def targets(bundled: Any) -> None:
    print("\n== targets (bundled corpus, fastest run)")

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"

    t = bundled.total
    print(f"  regenerate < {TARGET_SECONDS:.0f} s: {t:.1f} s -> {met(t < TARGET_SECONDS)}")
    m = bundled.sizes.get("evidence-map.html", 0)
    print(f"  evidence-map.html < 5 MB: {m / 1e6:.2f} MB -> {met(m < MAP_BYTES)}")
    pages = {k: v for k, v in bundled.sizes.items() if k != "evidence-map.html"}
    worst = max(pages, key=pages.get)
    size = pages[worst]
    print(f"  each page < 1 MB: largest {worst} {size / 1e6:.3f} MB -> {met(size < PAGE_BYTES)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="synthetic records")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--quick", action="store_true", help="bundled corpus only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        tmp_path = Path(tmp)
        trivial_notebook(tmp_path)  # warm the disk cache and imports
        baseline = trivial_notebook(tmp_path)
        print(f"baseline: papermill runs a one-cell notebook in {baseline:.2f} s ({_load()})")
        runs = []
        for workers in args.workers:
            result = run_once(KEI, tmp_path / f"kei-w{workers}", workers)
            report(
                f"bundled corpus (64 references), {workers} notebook worker(s)", result, baseline
            )
            runs.append(result)
        if len(runs) > 1:
            a, b = runs[0], runs[-1]
            ta, tb = a.timings["notebooks"], b.timings["notebooks"]
            print(f"\n  notebooks stage: {ta:.1f} s with {args.workers[0]} worker(s),"
                  f" {tb:.1f} s with {args.workers[-1]} ({ta / tb:.2f}x)")  # fmt: skip
        targets(min(runs, key=lambda r: r.total))
        if not args.quick:
            corpus = synthetic_corpus(tmp_path, args.n)
            workers = args.workers[-1]
            result = run_once(corpus, tmp_path / f"synthetic-w{workers}", workers)
            report(
                f"synthetic review ({args.n} records), {workers} notebook worker(s)",
                result,
                baseline,
            )


if __name__ == "__main__":
    main()
