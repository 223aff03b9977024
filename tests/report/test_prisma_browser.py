"""The bundled review's PRISMA diagram in headless chromium: what the review does not report
is drawn as "not reported" in grey italics (not as 0), its search among it (its reference
list is what it included, not what it identified), the included box as 64, and every line
of text sits inside the figure."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

#: text content, computed fill and style, and right/bottom edges of every <text>
_TEXTS = """
const svg = document.querySelector('svg');
return [svg.getBoundingClientRect().width, svg.getBoundingClientRect().height,
  Array.from(document.querySelectorAll('text')).map(t => {
    const s = getComputedStyle(t), b = t.getBoundingClientRect();
    return [t.textContent, s.fill, s.fontStyle, b.right, b.bottom];
  })];
"""
#: every box (rect), whether it is dashed, and the text drawn inside it, line by line
_BOXES = """
const texts = Array.from(document.querySelectorAll('text'));
return Array.from(document.querySelectorAll('rect')).map(r => {
  const b = r.getBoundingClientRect();
  const inside = texts.filter(t => {
    const c = t.getBoundingClientRect();
    const x = (c.left + c.right) / 2, y = (c.top + c.bottom) / 2;
    return x > b.left && x < b.right && y > b.top && y < b.bottom;
  });
  return [getComputedStyle(r).strokeDasharray, inside.map(t => t.textContent).join(' ')];
});
"""


def test_bundled_review_not_reported_in_chromium(
    browser: Any, tmp_path: Path, kei_imported_db: Path, copy_db: Callable[..., Path]
) -> None:
    from synth.report.prisma_figure import write_prisma
    from synth.review import load_review
    from synth.screening.prisma import prisma_counts
    from synth.screening.published import record_published_decisions
    from synth.store import connect
    from tests.screening import KEI

    con = connect(copy_db(kei_imported_db))
    try:
        record_published_decisions(con, load_review(KEI / "review.yml"))
        svg = write_prisma(prisma_counts(con), tmp_path / "fig", png=False)["svg"]
    finally:
        con.close()
    browser.get(svg.resolve().as_uri())
    width, height, texts = browser.execute_script(_TEXTS)
    by_text = {t[0]: t for t in texts}
    unreported = [t for t in texts if t[0].endswith("(not reported)")]
    assert {t[0] for t in unreported} >= {
        "Records screened (not reported)",
        "Records excluded (not reported)",
        "Reports assessed for eligibility (not reported)",
        "Reports excluded (not reported)",
    }
    included = by_text["Studies included in review (n = 64)"]
    assert all(t[2] == "italic" and t[1] != included[1] for t in unreported)  # greyed
    assert included[2] == "normal"
    assert not [t[0] for t in texts if "(n = 0)" in t[0] and "screen" in t[0].lower()]
    assert not [t[0] for t in texts if t[3] > width + 0.5 or t[4] > height + 0.5]
    # the identification box: the search is not reported (dashed, grey), never 64
    boxes = browser.execute_script(_BOXES)
    (ident,) = [b for b in boxes if b[1].startswith("Records identified from databases")]
    assert ident[1].startswith("Records identified from databases and registers (not reported)")
    assert "references.bib (n = 64): the review's list of its included studies" in ident[1]
    assert ident[0] not in ("", "none")  # dashed: its own number is not reported
    assert "Total" not in ident[1]
    (other,) = [b for b in boxes if b[1].startswith("Records identified from other methods")]
    assert other[1] == "Records identified from other methods (not reported)"
    (removed,) = [b for b in boxes if b[1].startswith("Records removed before screening")]
    assert "Duplicate records removed (not reported)" in removed[1]
    shown = " ".join(t[0] for t in texts)
    assert "references.bib is the review's list of its 64 included studies, not its search" in shown
