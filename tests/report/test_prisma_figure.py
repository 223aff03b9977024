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


UNREPORTED_BOXES = (
    "screened", "excluded_screening", "awaiting_screening", "conflicts_screening",
    "sought_full_text", "not_retrieved", "assessed_full_text", "excluded_full_text",
    "awaiting_full_text", "conflicts_full_text", "maybe_full_text",
)  # fmt: skip
NOT_REPORTED_COUNTS = {
    **COUNTS,
    "identified_by_source": {"references.bib": 64},
    "identified_other_methods": {"citation chasing.ris": 5},
    "not_identified": {"willsonnd.md": 1, "robert2022.md": 1},
    "identified": 69,
    "read_failures": 0,
    "duplicates_removed": 0,
    **dict.fromkeys(UNREPORTED_BOXES),
    "included": 64,
    "notes": {"reported_stages": ["full_text"], "published_only": ["full_text"]},
}


def test_not_reported_is_drawn_as_such_never_as_zero():
    svg = prisma_svg(NOT_REPORTED_COUNTS)
    joined = " ".join(texts(svg))
    for box in ("Records screened", "Records excluded", "Reports sought for retrieval",
                "Reports not retrieved", "Reports assessed for eligibility",
                "Reports excluded"):  # fmt: skip
        assert f"{box} (not reported)" in joined, box
    assert "(n = 0)" not in joined.replace("removed (n = 0)", "").replace("read (n = 0)", "")
    assert "Not yet screened" not in joined  # no stage invented for unscreened records
    assert "Studies included in review (n = 64)" in joined
    # greyed: every "not reported" text is in the muted colour and italic, its box dashed
    root = ET.fromstring(svg.split("?>", 1)[1])
    unreported = [t for t in root.iter(f"{SVG}text") if "not reported)" in (t.text or "")]
    assert len(unreported) == 6
    assert all(t.get("font-style") == "italic" and t.get("fill") for t in unreported)
    included = next(t for t in root.iter(f"{SVG}text") if "Studies included" in (t.text or ""))
    assert included.get("font-style") is None
    dashed = [r for r in root.iter(f"{SVG}rect") if r.get("stroke-dasharray")]
    assert len(dashed) == 6
    # the footnotes say why, and name the files that are not identified records
    assert "does not report title/abstract screening" in joined
    assert "published review lists the papers it included" in joined
    assert "robert2022.md, willsonnd.md" in joined


def test_two_identification_columns():
    svg = prisma_svg(NOT_REPORTED_COUNTS)
    lines = texts(svg)
    joined = " ".join(lines)
    assert "Identification of studies via databases and registers" in lines
    assert "Identification of studies via other methods" in lines
    assert "Records identified from other methods:" in lines
    assert "citation chasing.ris (n = 5)" in joined
    assert "Total (n = 69)" in joined
    # the other-methods column joins the flow before screening
    assert svg.count("<polyline ") == 1
    # no other methods: the column says none were imported, it does not draw a 0
    alone = " ".join(texts(prisma_svg({"identified_by_source": {"x.bib": 3}})))
    assert "(none imported" in alone


def test_bundled_review_diagram(kei_imported_db, copy_db):
    """The bundled review as it reports itself: 64 included after full text; everything
    else it does not report marked so; its background texts not identified records."""
    from synth.review import load_review
    from synth.screening.prisma import prisma_counts
    from synth.screening.published import record_published_decisions
    from synth.store import connect
    from tests.screening import KEI

    con = connect(copy_db(kei_imported_db))
    try:
        record_published_decisions(con, load_review(KEI / "review.yml"))
        svg = prisma_svg(prisma_counts(con))
    finally:
        con.close()
    joined = " ".join(texts(svg))
    assert "Studies included in review (n = 64)" in joined
    # references.bib is the review's list of its included studies, not search results:
    # the search is not reported (never "64 identified"), nor are duplicates removed by it
    assert "Records identified from databases and registers (not reported)" in joined
    assert "Records identified from other methods (not reported)" in joined
    assert "(n = 64): the review's list of its included studies, in the flow" in joined
    assert "Total (n = 64)" not in joined and "Records (n = 64)" not in joined
    assert "Duplicate records removed (not reported)" in joined
    assert (
        "references.bib is the review's list of its 64 included studies, not its search results"
        in joined
    )
    assert "The review does not report how it searched" in joined
    assert "Records screened (not reported)" in joined
    assert "Reports assessed for eligibility (not reported)" in joined
    assert "Not yet screened" not in joined and "Not yet assessed" not in joined
    names = sorted(p.name for p in (KEI / "fulltexts").glob("*.md"))
    assert all(f"{n} (n = " not in joined for n in names)  # not listed as identified
    assert ", ".join(names) in joined  # named as not identified


def test_included_list_beside_identified_sources():
    """Search results beside the published review's list of its included studies: the
    total counts only the search; the list is drawn as its own line and named below."""
    counts = {
        "identified_by_source": {"Scopus": 9},
        "included_list": {"included.ris": 5},
        "identified": 9,
        "read_failures": 1,
        "duplicates_removed": 2,
        "screened": 5,
        "excluded_screening": {"E1": 1},
        "included": 6,
    }
    joined = " ".join(texts(prisma_svg(counts)))
    assert "Scopus (n = 9)" in joined and "Total (n = 9)" in joined
    assert "included.ris (n = 5): the review's list of its included studies" in joined
    assert "Duplicate records removed (n = 2)" in joined
    assert "included.ris is the review's list of its 5 included studies" in joined
    assert "identified from databases and registers (not reported)" not in joined
    # a dict without "identified" still totals its sources, never the included list
    counts.pop("identified")
    assert "Total (n = 9)" in " ".join(texts(prisma_svg(counts)))
