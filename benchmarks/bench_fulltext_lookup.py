"""One record's full text, as the screening app reads it per record at the full-text stage.

    python benchmarks/bench_fulltext_lookup.py [--sizes 10000 100000] [--pdfs 2000]
        [--lookups 200]

For each N, imports N generated records (``synth.corpus.synthetic.generate_records``, with
its planted duplicates, as ``bench_scale.py`` does: every record has a
``duplicate_groups`` row), stores ``--pdfs`` small PDFs' texts (read documents, no files)
and links each to a record, some to a removed duplicate. Then times
``load_fulltexts(con, record_ids=[rid])`` (what ``ScreeningApp.fulltext`` calls for the
record it shows) for ``--lookups`` kept records, half with a full text, and prints the
median and 95th percentile in ms, with the store's duplicate_groups rows.

Before the lookup went by key (the whole duplicate_groups join and every current PDF link
read, then filtered in Python), the reviewer measured 90-170 ms per record at 100,000
group rows. Target: a few ms, independent of N.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def make_store(n: int, pdfs: int, folder: Path):  # type: ignore[no-untyped-def]
    """A store of N generated records with ``pdfs`` linked PDFs (an open connection)."""
    from synth.corpus.synthetic import generate_records
    from synth.corpus.writers.ris import write_ris
    from synth.fulltext.pdf import PdfDocument, Section
    from synth.store import connect, import_paths, load_records
    from synth.store import fulltexts as ft

    records, _ = generate_records(n, seed=19)
    ris = folder / f"records_{n}.ris"
    write_ris(records, ris)
    con = connect(folder / f"store_{n}.sqlite")
    import_paths(con, [ris])
    stored = load_records(con, with_groups=True)
    rng = np.random.default_rng(3)
    linked = rng.choice(stored["record_id"].to_numpy(), size=min(pdfs, len(stored)), replace=False)
    for i, rid in enumerate(linked):
        pages = (f"Paper {i}: abstract.", f"Methods of paper {i}.", "Discussion.")
        doc = PdfDocument(
            path=Path(f"p{i}.pdf"), sha256=f"{i:064x}", pages=pages, title=f"Paper {i}",
            authors=(), doi=None, year=None, abstract=None,
            sections=(Section("methods", 2, pages[1]),),
        )  # fmt: skip
        pdf_id, _ = ft.store_pdf(con, doc, f"p{i}.pdf", 1)
        ft.link(con, pdf_id, str(rid), reviewer="bench")
    return con, stored


def main(argv: list[str] | None = None) -> None:
    from synth.store.views import load_fulltexts

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--pdfs", type=int, default=2000)
    ap.add_argument("--lookups", type=int, default=200)
    args = ap.parse_args(argv)
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            con, stored = make_store(n, args.pdfs, Path(tmp))
            try:
                (groups,) = con.execute("SELECT count(*) FROM duplicate_groups").fetchone()
                kept = stored.loc[stored["is_kept"].astype(bool), "record_id"].astype(str)
                with_text = set(load_fulltexts(con)["record_id"])
                have = [r for r in kept if r in with_text][: args.lookups // 2]
                lacking = [r for r in kept if r not in with_text][: args.lookups - len(have)]
                times = []
                for rid in have + lacking:
                    t0 = time.perf_counter()
                    load_fulltexts(con, record_ids=[rid])
                    times.append((time.perf_counter() - t0) * 1000)
            finally:
                con.close()
        p95 = float(np.percentile(times, 95))
        print(
            f"{n:>7,} records, {groups:,} duplicate_groups rows: one record's full text"
            f" median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms"
            f" ({len(times)} lookups, {len(have)} with a full text)"
        )


if __name__ == "__main__":
    main()
