"""Thematic synthesis: the review's framework of themes as a codebook in data, passages
assigned to themes by cues and text similarity, per-theme summaries with cited quotes, the
papers each theme covers and each review question's themes, what the evidence does not
cover, and emergent topics that show what the codebook leaves out.

Importing :mod:`synth` does not import this package; the names below load their module (and
scikit-learn, and spaCy when sentences are split) on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Theme": "synth.themes.codebook",
    "ThemeCodebook": "synth.themes.codebook",
    "ThemeCodebookError": "synth.themes.codebook",
    "load_theme_codebook": "synth.themes.codebook",
    "parse_theme_codebook": "synth.themes.codebook",
    "assign_themes": "synth.themes.assign",
    "ASSIGN_COLUMNS": "synth.themes.assign",
    "summarise_themes": "synth.themes.summarise",
    "SUMMARY_COLUMNS": "synth.themes.summarise",
    "emergent_topics": "synth.themes.topics",
    "TOPIC_COLUMNS": "synth.themes.topics",
    "render_theme_summary": "synth.themes.render",
    "render_topics": "synth.themes.render",
    "render_coverage": "synth.themes.render",
    "render_questions": "synth.themes.render",
    "render_gaps": "synth.themes.render",
    "render_fit": "synth.themes.render",
    "coverage_table": "synth.themes.coverage",
    "codebook_fit": "synth.themes.coverage",
    "findings_by_question": "synth.themes.coverage",
    "evidence_gaps": "synth.themes.coverage",
    "COVERAGE_COLUMNS": "synth.themes.coverage",
    "QUESTION_COLUMNS": "synth.themes.coverage",
    "cited_pairs": "synth.themes.evaluate",
    "agreement": "synth.themes.evaluate",
    "theme_rows": "synth.themes.export",
    "THEME_EXPORT_COLUMNS": "synth.themes.export",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'synth.themes' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
