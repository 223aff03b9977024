"""PDF reading benchmark: synth's ``read_pdf`` against PDFium's own text extraction, same run.

    python benchmarks/bench_pdf.py [--repeat 5] [--pages 500] [--out-dir DIR] [--clock cpu]

On the same files, times (best of ``--repeat``, the two taken in turn so that a change in
the machine's load falls on both; ``--clock cpu`` counts the process's CPU time instead of
the wall clock, steadier on a shared machine):
  * bare pypdfium2: open, and for each page its text page's ``get_text_range()`` (the
    library's own extraction, stream order, nothing cleaned);
  * ``synth.fulltext.read_pdf``: reading order, cleaning, running headers, front matter,
    sections.
Files: the readable real PDFs in ``../shared/peer-data/pdf`` (when present), a generated
long two-column paper typeset by chromium (when present), and a generated ``--pages``-page
PDF. Prints pages per second for each and the ratio (target >= 0.8 of bare).

Then peak memory (peak RSS of a fresh process) of reading a generated ``--pages``-page PDF
and a ~50 MB one (the same with a large random image on every page), against a process that
only imports the reader and one that reads them bare.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pypdfium2 as pdfium  # noqa: E402
from tests.pdf_fixtures import (  # noqa: E402
    chromium,
    long_pdf,
    render_html,
    synthetic_paper,
)

from synth.fulltext import PdfError, read_pdf  # noqa: E402

PEER_PDF = ROOT.parent / "shared" / "peer-data" / "pdf"


def bare(path: Path) -> int:
    """PDFium's own extraction of every page; returns the characters read."""
    doc = pdfium.PdfDocument(str(path))
    chars = 0
    try:
        for index in range(len(doc)):
            page = doc[index]
            textpage = page.get_textpage()
            chars += len(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        doc.close()
    return chars


def synth(path: Path) -> int:
    return len(read_pdf(path).text)


def best_of(fns: tuple, files: list[Path], repeat: int, clock=time.perf_counter) -> list[float]:
    """The best time of each of ``fns`` over all ``files``, the runs taken in turn (bare,
    synth, bare, synth, ...) so that a change in the machine's load falls on both."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = clock()
            for file in files:
                fn(file)
            best[i] = min(best[i], clock() - start)
    return best


def page_count(path: Path) -> int:
    doc = pdfium.PdfDocument(str(path))
    try:
        return len(doc)
    finally:
        doc.close()


def peak_rss_mb(code: str) -> float:
    """Peak RSS (VmHWM: per address space, so unlike ru_maxrss not inherited from this
    process through fork) of a fresh Python process running ``code``, in MB."""
    probe = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}\n"
        "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return int(out.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
        out = args.out_dir or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        sets: dict[str, list[Path]] = {}
        if PEER_PDF.is_dir():
            real = []
            for file in sorted(PEER_PDF.glob("*.pdf")):
                try:
                    read_pdf(file)
                    real.append(file)
                except PdfError:
                    pass
            sets["real PDFs (peer-data/pdf)"] = real
        binary = chromium()
        if binary:
            paper = synthetic_paper(columns=2, sections=60)
            sets["chromium two-column paper"] = [
                render_html(paper.html, out / "chromium-long.pdf", binary)
            ]
        big = long_pdf(out / "long.pdf", args.pages)
        sets[f"generated {args.pages}-page PDF"] = [big]
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
        print(
            f"pypdfium2 {version('pypdfium2')}, best of {args.repeat}, {args.clock} clock, "
            f"load average {load} (1, 5, 15 min; other work on the machine makes the figures noisy)"
        )
        print(f"{'files':34} {'pages':>6} {'bare p/s':>10} {'synth p/s':>10} {'ratio':>6}")
        for name, files in sets.items():
            pages = sum(page_count(f) for f in files)
            for file in files:  # warm the OS cache and the imports
                bare(file)
                synth(file)
            clock = time.process_time if args.clock == "cpu" else time.perf_counter
            t_bare, t_synth = best_of((bare, synth), files, args.repeat, clock)
            print(
                f"{name:34} {pages:6d} {pages / t_bare:10.0f} {pages / t_synth:10.0f} "
                f"{t_bare / t_synth:6.2f}"
            )
        heavy = long_pdf(out / "heavy.pdf", args.pages, image_bytes=100_000)
        print()
        print(f"peak memory (peak RSS of a fresh process), {args.pages} pages:")
        base = peak_rss_mb("import pypdfium2, synth.fulltext")
        print(f"  import only                         {base:8.1f} MB")
        for label, file in (("text only", big), ("with an image per page", heavy)):
            size = file.stat().st_size / 1e6
            bare_mb = peak_rss_mb(
                f"sys.path.insert(0, {str(ROOT / 'benchmarks')!r})\n"
                f"from bench_pdf import bare; bare(__import__('pathlib').Path({str(file)!r}))"
            )
            synth_mb = peak_rss_mb(f"from synth.fulltext import read_pdf; read_pdf({str(file)!r})")
            print(
                f"  {label:22} {size:6.1f} MB file: "
                f"bare {bare_mb:7.1f} MB, synth {synth_mb:7.1f} MB"
            )


if __name__ == "__main__":
    main()
