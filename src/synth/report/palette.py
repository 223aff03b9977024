"""Colours, fill patterns and display names for figures, read from ``synth/data/palette.yml``.

Keeping them as data means one place decides how every figure looks in colour-blind eyes
and on a black-and-white printout, and a reviewer can rename "ppi" for a paper without
touching code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Palette:
    """The loaded palette; see ``palette.yml`` for what each part is for."""

    categorical: tuple[str, ...]
    patterns: tuple[str, ...]
    pattern_style: dict[str, Any]
    fixed: dict[str, dict[str, tuple[str, str | None]]]  # facet -> label -> (colour, pattern)
    sequential: tuple[tuple[float, str], ...]
    neutral: dict[str, str]
    font_family: str
    font_size: int
    label_names: dict[str, dict[str, str]]
    facet_names: dict[str, str]
    year_bands: tuple[tuple[int | None, int | None, str], ...]
    #: appraisal answer -> {name, colour, symbol, marker, pattern} (palette.yml judgements)
    judgements: dict[str, dict[str, str]] = field(default_factory=dict)

    def colour(self, i: int) -> str:
        """The ``i``-th categorical colour (cycling)."""
        return self.categorical[i % len(self.categorical)]

    def pattern(self, i: int) -> str:
        """The ``i``-th fill pattern (cycling), paired with :meth:`colour`."""
        return self.patterns[i % len(self.patterns)]

    def series_colour(self, facet: str, label: str, i: int) -> str:
        """A label's fixed colour if the palette gives one, else the ``i``-th colour."""
        fixed = self.fixed.get(facet, {}).get(label)
        return fixed[0] if fixed else self.colour(i)

    def series_pattern(self, facet: str, label: str, i: int) -> str:
        """A label's fixed pattern if the palette gives one, else the ``i``-th pattern."""
        fixed = self.fixed.get(facet, {}).get(label)
        return fixed[1] if fixed and fixed[1] is not None else self.pattern(i)

    def series_marker(self, facet: str, label: str, i: int, *, empty: bool = False) -> dict:
        """A series' whole bar fill (colour, outline, pattern drawn over the colour): the
        one place a figure gets it, so a label looks the same in every figure. ``empty``:
        the neutral fill of papers without a label (no pattern)."""
        colour = self.neutral["empty"] if empty else self.series_colour(facet, label, i)
        shape = "" if empty else self.series_pattern(facet, label, i)
        return {
            "color": colour,
            "line": {"color": self.neutral["outline"], "width": 1},
            "pattern": {**self.pattern_style, "shape": shape},
        }

    def colorscale(self) -> list[list[Any]]:
        """The sequential scale in plotly's ``[[position, colour], ...]`` form."""
        return [[pos, col] for pos, col in self.sequential]

    def label_name(self, facet: str, label: str) -> str:
        """How a tag label reads in a figure: "acute-care" -> "Acute care"."""
        named = self.label_names.get(facet, {}).get(label)
        if named:
            return named
        text = str(label).replace("-", " ").strip()
        return text[:1].upper() + text[1:]

    def facet_name(self, facet: str) -> str:
        return self.facet_names.get(facet) or facet.replace("-", " ").capitalize()

    def year_band(self, year: Any) -> str | None:
        """The name of the band a year falls in, or None (no year, or outside every band)."""
        try:
            y = int(year)
        except (TypeError, ValueError):
            return None
        for lo, hi, name in self.year_bands:
            if (lo is None or y >= lo) and (hi is None or y <= hi):
                return name
        return None


@cache
def load_palette() -> Palette:
    """The package palette (cached: figures ask for it often)."""
    text = resources.files("synth.data").joinpath("palette.yml").read_text("utf-8")
    return _parse(yaml.safe_load(text))


def _parse(doc: dict[str, Any]) -> Palette:
    font = doc.get("font") or {}
    return Palette(
        categorical=tuple(doc["categorical"]),
        patterns=tuple(doc.get("patterns") or [""]),
        pattern_style={"fillmode": "overlay", **(doc.get("pattern_style") or {})},
        fixed={
            str(facet): {str(lab): _fixed(spec) for lab, spec in (labels or {}).items()}
            for facet, labels in (doc.get("fixed") or {}).items()
        },
        sequential=tuple((float(p), str(c)) for p, c in doc["sequential"]),
        neutral=dict(doc["neutral"]),
        font_family=str(font.get("family", "sans-serif")),
        font_size=int(font.get("size", 13)),
        label_names={k: {str(a): str(b) for a, b in v.items()} for k, v in doc["labels"].items()},
        facet_names={str(k): str(v) for k, v in (doc.get("facets") or {}).items()},
        year_bands=tuple(
            (None if lo is None else int(lo), None if hi is None else int(hi), str(name))
            for lo, hi, name in doc.get("year_bands") or []
        ),
        judgements={
            str(k): {a: str(b) for a, b in v.items()}
            for k, v in (doc.get("judgements") or {}).items()
        },
    )


def _fixed(spec: Any) -> tuple[str, str | None]:
    """A fixed entry: a colour, or ``{colour, pattern}`` (pattern None: the series' own)."""
    if isinstance(spec, dict):
        pattern = spec.get("pattern")
        return str(spec["colour"]), None if pattern is None else str(pattern)
    return str(spec), None
