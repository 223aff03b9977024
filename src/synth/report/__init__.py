"""Reports: evidence maps, PRISMA flow, and the papermill review run.

Names are imported lazily (plotly is only loaded when a figure is asked for).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "evidence_matrix": "synth.report.maps_data",
    "evidence_map_figure": "synth.report.maps",
    "design_by_setting_figure": "synth.report.maps",
    "countries_figure": "synth.report.maps",
    "years_figure": "synth.report.maps",
    "publication_figure": "synth.report.maps",
    "paper_table_html": "synth.report.maps",
    "write_evidence_map": "synth.report.standalone",
    "prisma_svg": "synth.report.prisma_figure",
    "write_prisma": "synth.report.prisma_figure",
    "load_palette": "synth.report.palette",
    "run_review": "synth.report.run",
    "RunResult": "synth.report.run",
    "ReviewRunError": "synth.report.run",
    "show_figure": "synth.report.display",
    "show_table": "synth.report.display",
    "show_html": "synth.report.display",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synth.report' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
