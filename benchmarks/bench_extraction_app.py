"""Extraction app latency: from "next paper" to the paper shown, at 500 included papers.

    python benchmarks/bench_extraction_app.py [--papers 500] [--extracted 0.5] [--seed 0]

Builds a review store of N synthetic records (``synth.corpus.synthetic``: realistic titles,
~200-word abstracts, keywords; no duplicates), tags it as ``synth tag`` does, includes every
record at title-abstract screening (so N papers are to be extracted) and saves a reviewer's
values on a share of them (``--extracted``), as late in an extraction. Then opens the app
(timed apart: it reads the store once) and clicks *Next* through every paper and *Previous*
back, each click timed from the click to the paper and its pre-filled form set in the
widgets (the callback runs synchronously; sending the widget state to the browser is not
included). Prints median, 95th percentile and maximum. Target: within 200 ms. Then times
``--saves`` Save clicks (the event committed, the progress line recounted), for reference.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 0.2


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def build_store(folder: Path, n: int, extracted: float, seed: int) -> Path:
    """A tagged store of ``n`` synthetic records, all included, some extracted."""
    import numpy as np

    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris
    from synth.extraction.forms import default_form
    from synth.screening.decisions import record_decision
    from synth.store import connect, import_paths, load_records
    from synth.store.extraction import record_value
    from synth.tagging.workflow import tag_store

    records, _ = generate_records(n, dup_rate=0.0, hard_rate=0.0, seed=seed)
    ris = folder / "records.ris"
    write_ris(records, ris)
    db = folder / "review.sqlite"
    con = connect(db)
    try:
        t0 = time.perf_counter()
        import_paths(con, [ris])
        tag_store(con)
        print(f"store: {n} records imported and tagged in {time.perf_counter() - t0:.1f} s")
        ids = [str(r) for r in load_records(con)["record_id"]]
        for rid in ids:
            record_decision(con, record_id=rid, reviewer="screener", decision="include")
        form = default_form()
        text = [f for f in form.fields.values() if f.type == "text"]
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(ids), int(extracted * len(ids)), replace=False)
        for i in chosen:
            for field in text:
                record_value(con, ids[i], form.id, field.id, f"{field.label} of {ids[i]}", "ann")
        print(f"values: {len(chosen) * len(text)} saved on {len(chosen)} papers")
    finally:
        con.close()
    return db


def time_clicks(db: Path, saves: int) -> tuple[float, list[float], list[float]]:
    """Seconds to open the app, per Next / Previous click over every paper, and per Save
    (the event committed, the field and the progress line updated) on ``saves`` papers."""
    from synth.extraction.app import ExtractionApp

    t0 = time.perf_counter()
    app = ExtractionApp.open(db, reviewer="ann")
    opened = time.perf_counter() - t0
    times = []
    try:
        for button in [app.next] * (len(app.ids) - 1) + [app.prev] * (len(app.ids) - 1):
            gc.disable()
            t0 = time.perf_counter()
            button.click()
            times.append(time.perf_counter() - t0)
            gc.enable()
        assert app.index == 0, "Previous walked back to the first paper"
        print(f"app: {len(app.ids)} included papers")
        saved = []
        aims = app.row("aims")
        for i in range(min(saves, len(app.ids))):
            app.show(i)
            aims.input.value = f"aims typed on paper {i}"
            t0 = time.perf_counter()
            aims.save.click()
            saved.append(time.perf_counter() - t0)
            assert app.status.value.count("saved ✓"), app.status.value
    finally:
        app.con.close()
    return opened, times, saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=500)
    parser.add_argument("--extracted", type=float, default=0.5,
                        help="share of papers with saved values")  # fmt: skip
    parser.add_argument("--saves", type=int, default=50, help="Save clicks to time")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(_load())
    with tempfile.TemporaryDirectory(prefix="bench-extraction-") as tmp:
        db = build_store(Path(tmp), args.papers, args.extracted, args.seed)
        opened, times, saved = time_clicks(db, args.saves)
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(f"open the app: {opened:.2f} s")
    print(f"next/previous paper shown ({len(ms)} clicks): median {statistics.median(ms):.1f} ms,"
          f" p95 {p95:.1f} ms, max {ms[-1]:.1f} ms")  # fmt: skip
    if saved:
        sv = sorted(t * 1000 for t in saved)
        print(f"save a field until 'saved' ({len(sv)} clicks): median {statistics.median(sv):.1f}"
              f" ms, max {sv[-1]:.1f} ms")  # fmt: skip
    met = "met" if p95 <= TARGET_SECONDS * 1000 else "NOT met"
    print(f"target: p95 within {TARGET_SECONDS * 1000:.0f} ms: {met}")
    print(_load())


if __name__ == "__main__":
    main()
