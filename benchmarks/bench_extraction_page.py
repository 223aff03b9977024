"""The extraction-and-appraisal report page at 500 included papers: its size and the time
its parts take.

    python benchmarks/bench_extraction_page.py [--papers 500] [--seed 3] [--rounds 3]

Builds a store of N synthetic records (``synth.corpus.synthetic``, no duplicates), every
one extracted (the form's key fields) and appraised by two reviewers with one of the three
tools (some answers in conflict), as at the end of a review. Then times, in this process,
what the page's notebook does (gathering the page's data, the characteristics table, the
figures, rendering the page HTML without a kernel) and prints the rendered page's size.
Target: the page under 1 MB (``tests/report/test_extraction_page.py`` asserts it through
papermill); the times are for comparison between versions, not a target.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

TARGET_BYTES = 1_000_000


def build_store(folder: Path, n: int, seed: int) -> Path:
    """A store of ``n`` synthetic papers, all extracted and appraised by two reviewers."""
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris
    from synth.extraction.forms import appraisal_tools, default_form
    from synth.store import connect, import_paths, load_records

    records, _ = generate_records(n, dup_rate=0.0, hard_rate=0.0, seed=seed)
    write_ris(records, folder / "records.ris")
    db = folder / "review.sqlite"
    con = connect(db)
    try:
        import_paths(con, [folder / "records.ris"])
        ids = [str(r) for r in load_records(con)["record_id"]]
        form, tools = default_form(), list(appraisal_tools().values())
        rows = []
        for k, rid in enumerate(ids):
            for f in form.key_fields:
                if f.type in ("choice", "choices"):
                    value = f.choices[k % len(f.choices)]
                    value = [value] if f.type == "choices" else value
                else:
                    value = f"value {k} of {f.id}, a sentence as a reviewer writes it"
                rows.append((rid, form.id, f.id, json.dumps(value), "ana"))
            tool = tools[k % len(tools)]
            for j, item in enumerate(tool.fields):
                answer = ("yes", "no", "can't tell")[(k + j) % 3]
                rows.append((rid, tool.id, item, json.dumps(answer), "ana"))
                rows.append((rid, tool.id, item, json.dumps(answer if (k + j) % 7 else "yes"),
                             "ben"))  # fmt: skip
        with con:  # set-up data in one transaction (the app commits each value)
            con.executemany(
                "INSERT INTO extraction_events (record_id, form_id, field_id, value, reviewer,"
                " created_at) VALUES (?, ?, ?, ?, ?, '2026-01-01T00:00:00')",
                rows,
            )
    finally:
        con.close()
    return db


def page_once(db: Path) -> tuple[dict[str, float], int]:
    """Each stage's seconds, and the rendered page's bytes."""
    import nbformat

    from synth.report.display import figure_bundle, table_html
    from synth.report.extraction_page import (
        appraisal_figures,
        extraction_view,
        progress_tables,
        render_characteristics,
        render_status,
    )  # fmt: skip
    from synth.report.notebooks import render_body
    from synth.report.overview import select_records
    from synth.report.pages import new_nonce, page_html
    from synth.store import connect

    times: dict[str, float] = {}
    con = connect(db)
    try:
        t = time.perf_counter()
        view = extraction_view(con, select_records(con))
        times["data"] = time.perf_counter() - t
        t = time.perf_counter()
        html = [render_status(view), render_characteristics(view)]
        times["characteristics"] = time.perf_counter() - t
        t = time.perf_counter()
        figs = [figure_bundle(f) for f in appraisal_figures(view)]
        times["figures"] = time.perf_counter() - t
        summary, begun = progress_tables(view)
        html += [table_html(summary), table_html(begun, max_rows=200)]
    finally:
        con.close()
    t = time.perf_counter()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": h}) for h in html] + [
        nbformat.v4.new_output("display_data", data=b) for b in figs
    ]
    nb.cells.append(cell)
    nonce = new_nonce()
    page = page_html(render_body(nb, nonce), title="06", review_title="bench", nonce=nonce)
    times["render"] = time.perf_counter() - t
    return times, len(page.encode("utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=500)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    one, five, _ = os.getloadavg()
    print(f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="synth-bench-page-") as tmp:
        db = build_store(Path(tmp), args.papers, args.seed)
        runs = [page_once(db) for _ in range(args.rounds)]
    size = runs[-1][1]
    for stage in runs[0][0]:
        values = [r[0][stage] for r in runs]
        print(f"{stage:>16}: median {statistics.median(values):.2f} s, min {min(values):.2f} s")
    total = [sum(r[0].values()) for r in runs]
    print(f"{'total':>16}: median {statistics.median(total):.2f} s")
    verdict = "under" if size < TARGET_BYTES else "OVER"
    print(f"page: {size:,} bytes at {args.papers} papers ({verdict} the 1 MB target)")


if __name__ == "__main__":
    main()
