"""The PRISMA 2020 flow diagram: every count in its box, text escaped, valid SVG, PNG when
headless chromium is there."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import pytest

from synth.report import prisma_figure
from synth.report.prisma_figure import prisma_svg, svg_size, write_prisma

SVG = "{http://www.w3.org/2000/svg}"

COUNTS = {
    "identified_by_source": {"Scopus <export>.ris": 120, "references.bib": 64},
    "identified": 184,
    "read_failures": 2,
    "duplicates_removed": 18,
    "screened": 160,
    "excluded_screening": {"E1": 80, "E2": 12},
    "awaiting_screening": 6,
    "conflicts_screening": 1,
    "sought_full_text": 67,
    "not_retrieved": 3,
    "assessed_full_text": 64,
    "excluded_full_text": {"individual benefit only & <b>not</b> collective": 4},
    "awaiting_full_text": 0,
    "included": 60,
    "reason_texts": {"E1": "Not about co-production in health care", "E2": "Research only"},
}


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg.split("?>", 1)[1])
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_every_box_and_count_is_drawn():
    svg = prisma_svg(COUNTS)
    lines = texts(svg)
    joined = " ".join(lines)  # wrapped lines read on
    for phase in ("Identification", "Screening", "Included"):
        assert phase in lines
    for expected in [
        "Scopus <export>.ris (n = 120)",
        "references.bib (n = 64)",
        "Total (n = 184)",
        "Duplicate records removed (n = 18)",
        "Records that could not be read (n = 2)",
        "Records screened (n = 160)",
        "Not yet screened (n = 6)",
        "Reviewers disagree, unresolved (n = 1)",
        "Records excluded (n = 92)",
        "E1: Not about co-production in health care (n = 80)",
        "E2: Research only (n = 12)",
        "Reports sought for retrieval (n = 67)",
        "Reports not retrieved (n = 3)",
        "Reports assessed for eligibility (n = 64)",
        "Reports excluded (n = 4)",
        "Studies included in review (n = 60)",
    ]:
        assert expected in joined, expected
    # reasons: most frequent first
    assert joined.index("E1:") < joined.index("E2:")
    # 4 rows of arrows down + 4 arrows to the side boxes
    assert svg.count("<line ") == 8


def test_text_is_escaped_and_svg_is_inert():
    svg = prisma_svg(COUNTS)
    assert "<b>" not in svg and "<export>" not in svg
    assert "&lt;b&gt;not&lt;/b&gt;" in svg and "&amp;" in svg
    root = ET.fromstring(svg.split("?>", 1)[1])  # well-formed XML
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert not re.search(r"\son\w+=", svg)
    assert "href=" not in svg.replace('marker-end="url(#prisma-arrow)"', "")
    w, h = svg_size(svg)
    assert root.get("viewBox") == f"0 0 {w} {h}"


@dataclass
class FakeCounts:
    """Stands in for synth.screening.prisma.PrismaCounts (its to_dict is what we read)."""

    identified_by_source: dict[str, int] = field(default_factory=lambda: {"a.ris": 5})
    identified: int = 5
    read_failures: int = 0
    duplicates_removed: int = 1
    screened: int = 4
    excluded_screening: dict[str, int] = field(default_factory=lambda: {"E1": 2})
    awaiting_screening: int = 0
    conflicts_screening: int = 0
    sought_full_text: int = 2
    not_retrieved: int = 0
    assessed_full_text: int = 2
    excluded_full_text: dict[str, int] = field(default_factory=dict)
    awaiting_full_text: int = 0
    included: int = 2
    maybe_full_text: int = 0

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def test_accepts_dataclass_and_missing_keys():
    assert "Studies included in review (n = 2)" in texts(prisma_svg(FakeCounts()))
    minimal = texts(prisma_svg({"identified_by_source": {"x.bib": 3}}))
    assert "Total (n = 3)" in "\n".join(minimal)  # identified defaults to the source sum
    with pytest.raises(TypeError):
        prisma_svg(42)


def test_real_prisma_counts_if_present():
    prisma = pytest.importorskip("synth.screening.prisma")
    counts = prisma.PrismaCounts(
        identified_by_source={"a.ris": 3}, identified=3, read_failures=0,
        duplicates_removed=0, screened=3, excluded_screening={"E1": 1},
        awaiting_screening=0, conflicts_screening=0, sought_full_text=2, not_retrieved=0,
        assessed_full_text=2, excluded_full_text={}, awaiting_full_text=0, included=2,
    )  # fmt: skip
    joined = "\n".join(texts(prisma_svg(counts)))
    assert "Records excluded (n = 1)" in joined
    assert "Studies included in review (n = 2)" in joined


def test_write_prisma_without_chromium_writes_svg_only(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(prisma_figure, "find_chromium", lambda: None)
    caplog.set_level("INFO", logger="synth.report.prisma_figure")
    out = write_prisma(COUNTS, tmp_path / "fig")
    assert set(out) == {"svg"}
    assert out["svg"].read_text(encoding="utf-8").startswith("<?xml")
    assert "no chromium" in caplog.text


@pytest.mark.browser
def test_write_prisma_renders_png(tmp_path):
    from tests.browser import unavailable

    if prisma_figure.find_chromium() is None:
        unavailable("chromium not found: prisma.png cannot be rendered")
    out = write_prisma(COUNTS, tmp_path)
    assert set(out) == {"svg", "png"}
    data = out["png"].read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    w, h = svg_size(out["svg"].read_text(encoding="utf-8"))
    assert (width, height) == (2 * w, 2 * h)  # rendered at twice the SVG's size
