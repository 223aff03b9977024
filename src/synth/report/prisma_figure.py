"""The PRISMA 2020 flow diagram (new systematic reviews, databases and registers) as SVG.

Drawn from the store's counts (``synth.screening.prisma.PrismaCounts`` or its
``to_dict()``), so every number in the diagram is one the store can reproduce. Plain SVG
with presentation attributes (no CSS, no scripts, no external fonts), so it drops into a
paper, a slide or a report page as is; a PNG is rendered with headless chromium when one
is installed.

Layout follows the PRISMA 2020 template (Page et al. 2021): identification, screening
(records screened, reports sought, reports assessed) and included, with the excluded /
removed boxes to the right of each step, and the two identification columns: databases
and registers, and other methods (hand search, citation chasing, websites,
organisations), whose records are screened with the rest. A number the review does not
report (None) is drawn as "not reported" in grey italics in a dashed box, never as 0.
The published review's list of its included studies is in the flow but is not a search
result: when it is all there is, identification reads "not reported" and a footnote says
what the list is.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import os
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from synth.report.palette import load_palette

log = logging.getLogger(__name__)

_COUNT_KEYS = (
    "identified",
    "read_failures",
    "duplicates_removed",
    "screened",
    "awaiting_screening",
    "conflicts_screening",
    "sought_full_text",
    "not_retrieved",
    "assessed_full_text",
    "awaiting_full_text",
    "included",
    "conflicts_full_text",
    "maybe_full_text",
)
_DICT_KEYS = ("identified_by_source", "excluded_screening", "excluded_full_text")
_SOURCE_KEYS = ("identified_other_methods", "not_identified", "included_list")
#: How a number the review does not report is written (never 0).
NOT_REPORTED = "not reported"
_STAGE_NAMES = {"title_abstract": "title/abstract", "full_text": "full text"}

# geometry (px)
_FONT = 13
_LINE = 17
_CHAR = 6.9  # average glyph width of the sans-serif face at 13 px
_PAD = 10
_PHASE_W = 34
_GAP = 40  # between columns, and between the phase bar and the boxes
_LEFT_W = 350
_RIGHT_W = 370
_ROW_GAP = 34
_MARGIN = 12


def _as_dict(counts: Any) -> dict[str, Any]:
    """PrismaCounts (anything with ``to_dict``), a dataclass or a mapping -> plain dict."""
    if hasattr(counts, "to_dict"):
        data = counts.to_dict()
    elif dataclasses.is_dataclass(counts) and not isinstance(counts, type):
        data = dataclasses.asdict(counts)
    elif isinstance(counts, Mapping):
        data = dict(counts)
    else:
        raise TypeError(f"expected PrismaCounts or a dict of counts, got {type(counts).__name__}")
    out: dict[str, Any] = {}
    for key in _COUNT_KEYS:  # a missing key counts 0; None is "not reported"
        value = data.get(key, 0)
        out[key] = int(value) if value is not None else None
    for key in _DICT_KEYS + _SOURCE_KEYS:
        value = data.get(key, {})
        if value is None and key in _DICT_KEYS[1:]:
            out[key] = None
            continue
        if not isinstance(value, Mapping):
            raise TypeError(f"{key} must be a mapping of name -> count")
        out[key] = {str(k): int(v) for k, v in value.items()}
    texts = data.get("reason_texts") or {}
    out["reason_texts"] = (
        {str(k): str(v) for k, v in texts.items()} if isinstance(texts, Mapping) else {}
    )
    if not out["identified"] and out["identified"] is not None:  # missing: the sources' sum
        found = sum(out["identified_by_source"].values()) + sum(
            out["identified_other_methods"].values()
        )  # none, beside the review's list of its included studies: search not reported
        out["identified"] = None if not found and out["included_list"] else found
    notes = data.get("notes", getattr(counts, "notes", None)) or {}
    out["notes"] = dict(notes) if isinstance(notes, Mapping) else {}
    return out


def _n(value: int | None) -> str:
    return f"({NOT_REPORTED})" if value is None else f"(n = {value:,})"


def _sum(counts: Mapping[str, int] | None) -> int | None:
    return None if counts is None else sum(counts.values())


class _Box:
    """A box of wrapped lines; ``bold`` marks the first line as the heading."""

    def __init__(self, lines: list[str], width: int, *, indent_from: int = 1) -> None:
        self.width = width
        chars = max(int((width - 2 * _PAD) / _CHAR), 12)
        self.lines: list[tuple[str, bool, bool]] = []  # (text, indented, not reported)
        #: the box's own number is not reported: drawn dashed, its text greyed
        self.unreported = bool(lines) and lines[0].endswith(f"({NOT_REPORTED})")
        for i, line in enumerate(lines):
            indented = i >= indent_from and line.startswith("  ")
            muted = line.endswith(f"({NOT_REPORTED})") or line.startswith("  (")
            w = chars - (2 if indented else 0)
            for j, part in enumerate(textwrap.wrap(line.strip(), w) or [""]):
                self.lines.append((part, indented or (j > 0 and i > 0), muted))

    @property
    def height(self) -> int:
        return 2 * _PAD + _LINE * len(self.lines)

    def svg(self, x: float, y: float, h: float, pal: Any) -> str:
        dash = ' stroke-dasharray="5 4"' if self.unreported else ""
        stroke = pal.neutral["muted"] if self.unreported else pal.neutral["outline"]
        parts = [
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{self.width}" height="{h:.0f}" '
            f'fill="#FFFFFF" stroke="{stroke}" stroke-width="1.2"{dash}/>'
        ]
        ty = y + (h - self.height) / 2 + _PAD + _LINE - 4  # text centred in the box
        for i, (text, indented, muted) in enumerate(self.lines):
            tx = x + _PAD + (14 if indented else 0)
            weight = ' font-weight="bold"' if i == 0 else ""
            if muted:
                weight += f' fill="{pal.neutral["muted"]}" font-style="italic"'
            parts.append(
                f'<text x="{tx:.0f}" y="{ty:.0f}"{weight}>{html.escape(text, quote=True)}</text>'
            )
            ty += _LINE
        return "\n".join(parts)


def _reason_lines(reasons: dict[str, int] | None, texts: dict[str, str]) -> list[str]:
    """One line per exclusion reason, most frequent first; criterion ids get their text."""
    if reasons is None:
        return []
    items = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    out = []
    for key, n in items:
        text = texts.get(key)
        name = f"{key}: {text}" if text and text != key else key
        out.append(f"  {name} {_n(n)}")
    return out


def _identification_boxes(c: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(databases and registers, removed before screening, other methods) box lines; a
    search the review does not report (``identified`` None) reads "not reported"."""
    sources = c["identified_by_source"]
    other_sources = c["identified_other_methods"]
    if c["identified"] is None:
        ident = [f"Records identified from databases and registers {_n(None)}"]
        other = [f"Records identified from other methods {_n(None)}"]
    else:
        ident = ["Records identified from databases and registers:"]
        ident += [f"  {name} {_n(n)}" for name, n in sources.items()]
        if not sources:
            ident.append("  (none imported)")
        total = "Total" if sources or other_sources else "Records"
        ident.append(f"  {total} {_n(c['identified'])}")
        other = ["Records identified from other methods:"]
        other += [f"  {name} {_n(n)}" for name, n in other_sources.items()]
        if not other_sources:
            other.append(
                "  (none imported: hand search, citation chasing, websites, organisations)"
            )
        else:
            other.append("  (screened with the records from databases and registers)")
    for name, n in c["included_list"].items():  # in the flow, not identified
        ident.append(f"  {name} {_n(n)}: the review's list of its included studies, in the flow")
    removed = [
        "Records removed before screening:",
        f"  Duplicate records removed {_n(c['duplicates_removed'])}",
        f"  Records that could not be read {_n(c['read_failures'])}",
    ]
    return ident, removed, other


def _flow_rows(c: dict[str, Any]) -> list[tuple[str, list[str], list[str] | None]]:
    """(phase, left box lines, right box lines) from screening to included."""
    screened = [f"Records screened {_n(c['screened'])}"]
    if c["awaiting_screening"]:
        screened.append(f"  Not yet screened {_n(c['awaiting_screening'])}")
    if c["conflicts_screening"]:
        screened.append(f"  Reviewers disagree, unresolved {_n(c['conflicts_screening'])}")
    excl_s = [f"Records excluded {_n(_sum(c['excluded_screening']))}"]
    excl_s += _reason_lines(c["excluded_screening"], c["reason_texts"])
    assessed = [f"Reports assessed for eligibility {_n(c['assessed_full_text'])}"]
    if c["awaiting_full_text"]:
        assessed.append(f"  Not yet assessed {_n(c['awaiting_full_text'])}")
    if c["maybe_full_text"]:
        assessed.append(f"  Marked maybe {_n(c['maybe_full_text'])}")
    if c["conflicts_full_text"]:
        assessed.append(f"  Reviewers disagree, unresolved {_n(c['conflicts_full_text'])}")
    excl_f = [f"Reports excluded {_n(_sum(c['excluded_full_text']))}"]
    excl_f += _reason_lines(c["excluded_full_text"], c["reason_texts"])
    return [
        ("Screening", screened, excl_s),
        ("Screening", [f"Reports sought for retrieval {_n(c['sought_full_text'])}"],
         [f"Reports not retrieved {_n(c['not_retrieved'])}"]),
        ("Screening", assessed, excl_f),
        ("Included", [f"Studies included in review {_n(c['included'])}"], None),
    ]  # fmt: skip


def _footnotes(c: dict[str, Any]) -> list[str]:
    """What the diagram says in words under the boxes: stages not reported or not yet
    decided, files that are not identified records, how the review says it searched."""
    notes = c["notes"]
    out = []
    reported = notes.get("reported_stages")
    if reported is not None:
        missing = [_STAGE_NAMES.get(s, s) for s in _STAGE_NAMES if s not in reported]
        if missing:
            out.append(
                f"The review does not report {' or '.join(missing)} screening: its numbers are "
                f"{NOT_REPORTED}."
            )
    for stage in notes.get("published_only") or []:
        out.append(
            f"At {_STAGE_NAMES.get(stage, stage)} the published review lists the papers it "
            f"included, not how many it sought, assessed or excluded: those are {NOT_REPORTED}."
        )
    for stage in notes.get("stages_without_decisions") or []:
        out.append(f"No {_STAGE_NAMES.get(stage, stage)} decisions are recorded in the store yet.")
    for name, n in c["included_list"].items():
        out.append(
            f"{name} is the review's list of its {n:,} included studies, not its search "
            "results: its records are in the flow but are not identified records."
        )
    background = c["not_identified"]
    if background:
        names = ", ".join(sorted(background))
        out.append(
            f"Not identified records (background documents and full texts attached to a "
            f"reference; not counted, not duplicates): {names}."
        )
    if notes.get("search_note"):
        out.append(str(notes["search_note"]))
    return out


def prisma_svg(counts: Any) -> str:
    """The PRISMA 2020 flow diagram as an SVG document (text escaped).

    Parameters
    ----------
    counts
        A ``PrismaCounts`` or its ``to_dict()``: ``identified_by_source`` (databases and
        registers: source -> n), ``identified_other_methods`` (source -> n),
        ``not_identified`` (file -> n, named in a footnote), ``included_list`` (the
        published review's list of its included studies: file -> n, in the flow, not
        identified; named in the identification box and a footnote), ``identified``,
        ``read_failures``, ``duplicates_removed``, ``screened``, ``excluded_screening``
        (reason -> n), ``awaiting_screening``, ``conflicts_screening``,
        ``sought_full_text``, ``not_retrieved``, ``assessed_full_text``,
        ``excluded_full_text`` (reason -> n), ``awaiting_full_text``, ``included``
        (optional: ``conflicts_full_text``, ``maybe_full_text``, ``reason_texts``:
        criterion id -> its text; ``notes``: ``reported_stages``,
        ``stages_without_decisions``, ``search_note``). Missing keys count as 0; a None
        is drawn as "not reported".
    """
    c = _as_dict(counts)
    pal = load_palette()
    ident, removed, other = _identification_boxes(c)
    rows = [("Identification", ident, removed), *_flow_rows(c)]

    x_phase = _MARGIN
    x_left = x_phase + _PHASE_W + _GAP // 2
    x_right = x_left + _LEFT_W + _GAP
    x_other = x_right + _RIGHT_W + _GAP
    width = x_other + _RIGHT_W + _MARGIN
    heading_h = 30
    y = _MARGIN + heading_h
    body: list[str] = []
    arrows: list[str] = []
    phase_spans: dict[str, list[float]] = {}
    prev_bottom: float | None = None
    alone = {p for p in {r[0] for r in rows} if sum(r[0] == p for r in rows) == 1}
    other_box = _Box(other, _RIGHT_W)
    for i, (phase, left_lines, right_lines) in enumerate(rows):
        left = _Box(left_lines, _LEFT_W)
        right = _Box(right_lines, _RIGHT_W) if right_lines else None
        h = max(left.height, right.height if right else 0, other_box.height if i == 0 else 0)
        if phase in alone:  # room for the phase name, written sideways in its bar
            h = max(h, int(len(phase) * _CHAR * 1.15) + 2 * _PAD)
        body.append(left.svg(x_left, y, h, pal))
        if right is not None:
            body.append(right.svg(x_right, y, h, pal))
            mid = y + h / 2
            arrows.append(_arrow(x_left + _LEFT_W, mid, x_right, mid))
        if i == 0:  # other methods: their records join the flow before screening
            body.append(other_box.svg(x_other, y, h, pal))
            ox, join = x_other + _RIGHT_W / 2, y + h + _ROW_GAP / 2
            arrows.append(
                f'<polyline points="{ox:.0f},{y + h:.0f} {ox:.0f},{join:.0f} '
                f'{x_left + _LEFT_W / 2 + 3:.0f},{join:.0f}" fill="none" stroke="#333333" '
                'stroke-width="1.4" marker-end="url(#prisma-arrow)"/>'
            )
        if prev_bottom is not None:
            cx = x_left + _LEFT_W / 2
            arrows.append(_arrow(cx, prev_bottom, cx, y))
        span = phase_spans.setdefault(phase, [y, y + h])
        span[1] = y + h
        prev_bottom = y + h
        y += h + _ROW_GAP
    y -= _ROW_GAP
    notes = []
    chars = int((width - x_left - _MARGIN) / _CHAR)
    for note in _footnotes(c):
        for part in textwrap.wrap(note, chars):
            y += _LINE
            notes.append(
                f'<text x="{x_left}" y="{y + 4:.0f}" fill="{pal.neutral["muted"]}">'
                f"{html.escape(part, quote=True)}</text>"
            )
    height = int(y + _MARGIN + (_LINE // 2 if notes else 0))

    phases = []
    for phase, (top, bottom) in phase_spans.items():
        cy = (top + bottom) / 2
        cx = x_phase + _PHASE_W / 2
        phases.append(
            f'<rect x="{x_phase}" y="{top:.0f}" width="{_PHASE_W}" height="{bottom - top:.0f}" '
            f'rx="6" fill="{pal.neutral["phase"]}" stroke="{pal.neutral["outline"]}" '
            f'stroke-width="0.8"/>\n'
            f'<text x="{cx:.0f}" y="{cy:.0f}" transform="rotate(-90 {cx:.0f} {cy:.0f})" '
            f'text-anchor="middle" dominant-baseline="central" font-weight="bold">'
            f"{html.escape(phase)}</text>"
        )
    heading = (
        f'<text x="{x_left}" y="{_MARGIN + 16}" font-size="15" font-weight="bold">'
        "Identification of studies via databases and registers</text>\n"
        f'<text x="{x_other}" y="{_MARGIN + 16}" font-size="15" font-weight="bold">'
        "Identification of studies via other methods</text>"
    )
    colour = pal.neutral["outline"]
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{html.escape(pal.font_family)}" '
            f'font-size="{_FONT}" fill="{pal.neutral["text"]}" role="img" '
            'aria-labelledby="prisma-title">',
            '<title id="prisma-title">PRISMA 2020 flow diagram</title>',
            "<defs>",
            f'<marker id="prisma-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
            f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            f'fill="{colour}"/></marker>',
            "</defs>",
            f'<rect width="{width}" height="{height}" fill="{pal.neutral["background"]}"/>',
            heading,
            *phases,
            *body,
            *arrows,
            *notes,
            "</svg>",
            "",
        ]
    )


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    return (
        f'<line x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" y2="{y2 - (2 if y2 > y1 else 0):.0f}" '
        'stroke="#333333" stroke-width="1.4" marker-end="url(#prisma-arrow)"/>'
    )


def svg_size(svg: str) -> tuple[int, int]:
    """(width, height) of an SVG written by :func:`prisma_svg`."""
    import re

    m = re.search(r'<svg[^>]*\bwidth="(\d+)"[^>]*\bheight="(\d+)"', svg)
    if not m:
        raise ValueError("no width/height on the <svg> element")
    return int(m.group(1)), int(m.group(2))


def find_chromium() -> str | None:
    """Headless-capable chromium: env ``SYNTH_CHROMIUM``, else chromium on the PATH."""
    given = os.environ.get("SYNTH_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_screenshot(
    page: Path,
    png_path: Path,
    *,
    width: int,
    height: int,
    scale: int = 1,
    wait_ms: int = 0,
    timeout: float = 90,
) -> bool:
    """Screenshot a local file with headless chromium (``--screenshot``); False (logged)
    when there is no chromium or it fails. ``wait_ms`` gives scripts virtual time to draw."""
    chromium = find_chromium()
    if chromium is None:
        log.info("no chromium found: %s not rendered", png_path.name)
        return False
    with tempfile.TemporaryDirectory(prefix="synth-png-") as profile:
        cmd = [
            chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--user-data-dir={profile}", f"--force-device-scale-factor={scale}",
            f"--window-size={width},{height}", f"--screenshot={png_path.resolve()}",
        ]  # fmt: skip
        if wait_ms:
            cmd.append(f"--virtual-time-budget={wait_ms}")
        cmd.append(page.resolve().as_uri())
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("chromium could not render %s: %s", png_path.name, exc)
            return False
    if proc.returncode != 0 or not png_path.exists():
        log.warning("chromium could not render %s: %s", png_path.name, proc.stderr[-500:])
        return False
    return True


def svg_to_png(svg_path: Path, png_path: Path, *, scale: int = 2) -> bool:
    """Render an SVG written by :func:`prisma_svg` to PNG at its own size (x ``scale``)."""
    w, h = svg_size(svg_path.read_text(encoding="utf-8"))
    return chromium_screenshot(svg_path, png_path, width=w, height=h, scale=scale)


def write_prisma(counts: Any, out_dir: Path | str, *, png: bool = True) -> dict[str, Path]:
    """Write ``prisma.svg`` (and ``prisma.png`` when headless chromium is available).

    Returns
    -------
    dict
        ``{"svg": path}`` plus ``"png"`` when the PNG was rendered.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    svg_path = out / "prisma.svg"
    svg_path.write_text(prisma_svg(counts), encoding="utf-8")
    written = {"svg": svg_path}
    if png and svg_to_png(svg_path, out / "prisma.png"):
        written["png"] = out / "prisma.png"
    return written
