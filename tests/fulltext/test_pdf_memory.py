"""A 500-page, 50 MB PDF loads within bounded memory (a fresh process's peak RSS)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.pdf_fixtures import long_pdf

pytestmark = pytest.mark.slow


def _peak_mb(code: str) -> float:
    """Peak RSS (VmHWM, per address space) of a fresh interpreter running ``code``."""
    probe = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n{code}\n"
        "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=300
    ).stdout
    return int(out.split()[-1]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_500_page_50_mb_pdf_reads_in_bounded_memory(tmp_path: Path) -> None:
    big = long_pdf(tmp_path / "big.pdf", 500, image_bytes=100_000)
    size_mb = big.stat().st_size / 2**20
    assert size_mb > 45
    base = _peak_mb("import synth.fulltext")
    code = (
        "from synth.fulltext import read_pdf\n"
        f"doc = read_pdf({str(big)!r})\n"
        "assert len(doc.pages) == 500 and 'co-production' in doc.pages[-1], doc.pages[-1]"
    )
    grown = _peak_mb(code) - base
    # the images are never decoded and PDFium's parsed objects are let go every 50 pages:
    # the reader's peak grows by well under the file's size
    assert grown < size_mb / 2, f"peak grew {grown:.0f} MB reading a {size_mb:.0f} MB PDF"
